"""Session fixtures shared by every test folder; folder-specific ones live in each folder's conftest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores: one thread each, or small convolutions slow down 10-100x.
    torch.set_num_threads(1)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout (real clips, weights, fixtures); skip when absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the real-data tests need ../shared beside the checkout")
    return SHARED


@pytest.fixture(scope="session")
def real_clips_dir(shared_dir: Path) -> Path:
    """The 62 real DCASE 2020 dev clips."""
    path = shared_dir / "data" / "dcase2020-dev-clips"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="session")
def mn04_weights(shared_dir: Path) -> Path:
    """The real EfficientAT mn04 AudioSet weights."""
    path = shared_dir / "weights" / "efficientat_mn04_as_mAP_432.pt"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``tiny`` synthetic DCASE-format data set (2024 naming, seed 0), made once per session."""
    from sslasd.pipeline.synth import synth

    return synth(tmp_path_factory.mktemp("synth") / "tiny", preset="tiny", seed=0)


# A fitted tiny run, shared by the pipeline and cli tests. Few steps: they check plumbing and
# formats; tests/pipeline/test_end_to_end.py checks quality with the pretrained preset.
TINY_SET = ["train.steps=60", "train.checkpoint_every=30"]


@pytest.fixture(scope="session")
def tiny_run(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sslasd.pipeline.fit import fit

    return fit(
        tiny_dataset, tmp_path_factory.mktemp("runs") / "tiny", config="tiny", set=TINY_SET, progress=False
    )


@pytest.fixture(scope="session")
def tiny_scores(tiny_run: Path, tiny_dataset: Path) -> Path:
    from sslasd.pipeline.score import score

    return score(tiny_run, tiny_dataset)
