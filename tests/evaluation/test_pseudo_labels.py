"""Pseudo-label NMI against the hidden modes: perfect, permuted and uninformative labels, k-means
once on embeddings, and the ground truth read from a synthetic data set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sslasd.evaluation.pseudo_labels import (
    kmeans_labels,
    label_nmi,
    read_mode_truth,
    read_pseudo_labels,
)

FILES = [f"clip_{i:03d}.wav" for i in range(60)]
TRUTH = {("gearbox", f): f"mode_{i % 3}" for i, f in enumerate(FILES)}


def test_nmi_is_one_for_the_modes_under_any_code_names_and_low_for_unrelated_labels() -> None:
    same = {("gearbox", "00"): {f: i % 3 for i, f in enumerate(FILES)}}
    renamed = {("gearbox", "00"): {f: [2, 0, 1][i % 3] for i, f in enumerate(FILES)}}
    unrelated = {("gearbox", "00"): {f: (i // 20) for i, f in enumerate(FILES)}}  # blocks, not modes
    assert label_nmi(same, TRUTH) == pytest.approx(1.0)
    assert label_nmi(renamed, TRUTH) == pytest.approx(1.0)
    assert label_nmi(unrelated, TRUTH) < 0.1


def test_kmeans_once_finds_separable_modes() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    emb = np.stack([centres[i % 3] + 0.05 * rng.normal(size=16) for i in range(len(FILES))])
    groups = {("gearbox", "00"): {f: 0 for f in FILES}}
    found = kmeans_labels(emb, np.array(["gearbox"] * len(FILES)), np.array(FILES), groups, k=3)
    assert label_nmi(found, TRUTH) == pytest.approx(1.0)


def test_truth_and_pseudo_labels_are_read_from_their_files(tmp_path: Path) -> None:
    assert read_mode_truth(tmp_path) is None  # real data: no ground truth, no NMI
    (tmp_path / "synth_truth.csv").write_text(
        "file_name,machine,section,domain,label,condition,fault,severity\n"
        "gearbox/train/a.wav,gearbox,00,source,normal,volt_1,,0\n"
    )
    assert read_mode_truth(tmp_path) == {("gearbox", "a.wav"): "volt_1"}
    csv = tmp_path / "pseudo_labels.csv"
    csv.write_text("file,machine,section,domain,code\na.wav,gearbox,00,source,2\n")
    assert read_pseudo_labels(csv) == {("gearbox", "00"): {"a.wav": 2}}
