"""The per-epoch VQ re-clustering embeds only the clips of VQ groups, and still writes the history
and the final pseudo-labels of every one of them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

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
    assert all(0.0 <= h["nmi"] <= 1.0 for h in history)  # a synthetic set: rated by its hidden modes


def test_the_nmi_judge_rates_labels_by_the_hidden_modes(tiny_dataset: Path) -> None:
    """Labels equal to the hidden modes score 1, one label per section 0; no truth, no judge."""
    from sslasd.evaluation.pseudo_labels import read_mode_truth
    from sslasd.training.labels import LabelVocabulary

    clips = index_dataset(tiny_dataset).select(split="train")
    vocab = LabelVocabulary.build(clips, vq=True, n_codes=3)
    truth = read_mode_truth(tiny_dataset)
    in_vq = [c for c, g in zip(clips, vocab.encode(clips)["vq_group"]) if g >= 0]
    judge = fit_module._nmi_judge(truth, in_vq)
    modes = sorted({truth[(c.machine, c.name)] for c in in_vq})
    exact = torch.tensor([modes.index(truth[(c.machine, c.name)]) for c in in_vq])
    assert len(modes) > 1
    assert judge(exact)["nmi"] == pytest.approx(1.0)
    assert judge(torch.zeros(len(in_vq), dtype=torch.long))["nmi"] == pytest.approx(0.0)
    assert fit_module._nmi_judge(None, in_vq) is None
