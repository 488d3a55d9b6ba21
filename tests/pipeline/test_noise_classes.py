"""Noise-only clips as extra classes (``data.noise.as_class``): they train the margin classifier with
their own labels and never reach the banks, thresholds, floors, VQ codebooks or the run's clip counts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sslasd.data import index_dataset
from sslasd.data.synth import PRESETS, SynthPreset
from sslasd.errors import ConfigError
from sslasd.pipeline.fit import fit
from sslasd.pipeline.rundir import RunDir
from sslasd.pipeline.score import score
from sslasd.pipeline.synth import synth
from sslasd.training.system import AsdSystem

pytestmark = pytest.mark.slow  # one short training run shared by the module (about 30 s)

FAST = [
    "train.steps=4",
    "train.warmup_steps=1",
    "train.checkpoint_every=4",
    "train.batch_size=8",
]
NOISE_PER_MACHINE = 3


@pytest.fixture(scope="module")
def supplemented(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DCASE 2025 names, an attributed (fan) and a concealed machine (gearbox, a VQ group), three
    supplementary noise clips each."""
    preset = SynthPreset(
        "micro-noise",
        1.0,
        {"fan": 1, "gearbox": 1},
        source_train=8,
        target_train=4,
        test_per_group=2,
        severity=(1.0, 2.0),
        supplementary_noise=NOISE_PER_MACHINE,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(PRESETS, preset.name, preset)
        root = tmp_path_factory.mktemp("noise") / "set"
        return synth(root, preset=preset.name, seed=0, year_format=2025, supplementary=True)


@pytest.fixture(scope="module")
def noise_run(supplemented: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    """A run trained with the set's own root as the noise folder, and every training batch it saw."""
    seen: list[dict] = []
    step = AsdSystem.training_step

    def recording(self: AsdSystem, batch: dict[str, torch.Tensor], i: int) -> dict[str, torch.Tensor]:
        seen.append(
            {k: batch[k].cpu().clone() for k in ("index", "target", "machine", "section", "vq_group")}
        )
        return step(self, batch, i)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AsdSystem, "training_step", recording)
        run = fit(
            supplemented,
            tmp_path_factory.mktemp("runs") / "noise",
            config="tiny",
            set=[*FAST, f"data.noise.folder={supplemented}", "data.noise.as_class=true"],
            progress=False,
        )
    return run, seen


def test_noise_classes_join_the_vocabulary_per_machine(noise_run: tuple[Path, list[dict]]) -> None:
    info = RunDir.at(noise_run[0]).read_info()
    labels = info["labels"]
    assert labels["noise"] == ["fan", "gearbox"]
    assert labels["classes"][-2:] == ["fan|noise", "gearbox|noise"]
    assert info["machines"] == ["fan", "gearbox"]  # no machine "noise"
    assert info["noise_classes"] == {"fan": NOISE_PER_MACHINE, "gearbox": NOISE_PER_MACHINE}


def test_noise_clips_are_in_the_training_batches_with_their_labels(
    supplemented: Path, noise_run: tuple[Path, list[dict]]
) -> None:
    run, seen = noise_run
    classes = RunDir.at(run).read_info()["labels"]["classes"]
    n_clips = len(index_dataset(supplemented).select(split="train"))
    batch = {k: torch.cat([b[k] for b in seen]) for k in seen[0]}
    noise = batch["index"] >= n_clips  # the noise clips follow the machine clips
    assert 0 < int(noise.sum()) < len(noise)
    assert int(batch["index"].max()) < n_clips + 2 * NOISE_PER_MACHINE
    names = {classes[t] for t in batch["target"][noise].tolist()}
    assert names <= {"fan|noise", "gearbox|noise"} and names
    # the adapter sees the machine the noise belongs to; no section, no VQ group
    owner = [classes[t].split("|")[0] for t in batch["target"][noise].tolist()]
    assert batch["machine"][noise].tolist() == [["fan", "gearbox"].index(o) for o in owner]
    assert (batch["section"][noise] == -1).all() and (batch["vq_group"][noise] == -1).all()
    assert not any("noise" in classes[t] for t in batch["target"][~noise].tolist() if t >= 0)


def test_banks_thresholds_and_floors_hold_machine_clips_only(
    supplemented: Path, noise_run: tuple[Path, list[dict]]
) -> None:
    run = RunDir.at(noise_run[0])
    train = index_dataset(supplemented).select(split="train")
    info = run.read_info()
    assert info["train_data"]["files"] == len(train)
    banks = [run.bank_embeddings_path, *sorted((run.root / "floors").glob("*/banks/embeddings.npz"))]
    assert len(banks) == 3  # the run's and two floors'
    for path in banks:
        with np.load(path) as saved:
            assert len(saved["embeddings"]) == len(train), path
            assert sorted(saved["names"].tolist()) == sorted(c.name for c in train)
    assert json.loads(run.thresholds_path.read_text()).keys() == {"fan", "gearbox"}
    assert all(s == {"00"} for s in map(set, json.loads(run.thresholds_path.read_text()).values()))
    if run.pseudo_labels_path.is_file():
        assert "noise" not in run.pseudo_labels_path.read_text()


def test_as_class_without_a_folder_is_refused_before_any_work(supplemented: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"data\.noise\.as_class=true needs noise clips: set data\.noise\.folder"
    ):
        fit(supplemented, tmp_path / "run", config="tiny", set=[*FAST, "data.noise.as_class=true"])
    assert not (tmp_path / "run").exists()


def test_the_run_scores_the_test_clips_only(supplemented: Path, noise_run: tuple[Path, list[dict]]) -> None:
    scores = score(noise_run[0], supplemented)
    names = {row.split(",")[0] for f in scores.glob("anomaly_score_*.csv") for row in f.read_text().split()}
    assert names == {c.name for c in index_dataset(supplemented).select(split="test")}
