"""The per-epoch VQ re-clustering embeds only the clips of VQ groups, and still writes the history
and the final pseudo-labels of every one of them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import sslasd.pipeline.fit as fit_module
from sslasd.data import index_dataset
from sslasd.pipeline.fit import fit
from sslasd.pipeline.rundir import RunDir

FAST = ["train.steps=12", "train.warmup_steps=2", "mga.mode=none", "train.checkpoint_every=6"]


def test_the_vq_pass_embeds_only_clips_of_vq_groups(
    tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = fit_module.embed_clips
    passes: list[list[str]] = []

    def spy(embedder, clips, *args, **kwargs):
        passes.append([c.machine for c in clips])
        return real(embedder, clips, *args, **kwargs)

    monkeypatch.setattr(fit_module, "embed_clips", spy)
    folder = fit(tiny_dataset, tmp_path / "run", config="tiny", set=FAST, floors=False, progress=False)
    run = RunDir.at(folder)
    with open(run.pseudo_labels_path, newline="") as f:
        quantised = {(r["machine"], r["file"]) for r in csv.DictReader(f)}
    assert quantised  # the tiny set has sections without attributes
    vq_machines = {m for m, _ in quantised}
    history = json.loads(run.vq_history_path.read_text())
    train = index_dataset(tiny_dataset).select(split="train")
    vq_passes = [p for p in passes if len(p) == len(quantised)]
    assert len(vq_passes) == len(history) >= 1  # one pass per epoch, of the VQ clips only
    assert all(set(p) == vq_machines for p in vq_passes)
    assert any(len(p) == len(train) for p in passes)  # the memory banks still see every clip
    assert len(quantised) < len(train)
