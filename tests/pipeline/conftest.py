"""A fitted tiny run on the tiny synthetic set, shared by the pipeline and cli tests."""

from __future__ import annotations

from pathlib import Path

import pytest

# Few steps: the pipeline tests check plumbing and formats; test_end_to_end checks quality.
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
