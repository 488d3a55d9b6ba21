"""Pseudo-label NMI against the hidden modes: perfect, permuted and uninformative labels, k-means
once on embeddings, the ground truth read from a synthetic data set, and the paired bootstrap of
NMI differences over sections and seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sslasd.evaluation.bootstrap import percentile_interval
from sslasd.evaluation.pseudo_labels import (
    kmeans_labels,
    label_nmi,
    nmi_replicates,
    read_mode_truth,
    read_pseudo_labels,
    section_nmi,
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


def test_section_nmi_keeps_each_section_apart() -> None:
    other = [f"other_{i:03d}.wav" for i in range(60)]
    truth = {**TRUTH, **{("gearbox", f): f"mode_{i % 2}" for i, f in enumerate(other)}}
    groups = {
        ("gearbox", "00"): {f: i % 3 for i, f in enumerate(FILES)},
        ("gearbox", "01"): {f: i // 30 for i, f in enumerate(other)},  # halves, not the modes
    }
    per_section = section_nmi(groups, truth)
    assert per_section[("gearbox", "00")] == pytest.approx(1.0) and per_section[("gearbox", "01")] < 0.1
    assert label_nmi(groups, truth) == pytest.approx(sum(per_section.values()) / 2)


def _runs(*per_run: list[float]) -> dict[str, list[dict[tuple[str, str], float]]]:
    """One data set whose runs give these NMIs to sections 00, 01, ..."""
    return {"set": [{("m", f"{i:02d}"): v for i, v in enumerate(run)} for run in per_run]}


def test_nmi_differences_are_paired_on_sections_and_widen_with_seeds() -> None:
    full = _runs([0.2, 0.5, 0.8, 0.4])
    reps = nmi_replicates(
        {
            "full": full,
            "same": _runs([0.2, 0.5, 0.8, 0.4]),
            "better": _runs([0.3, 0.6, 0.9, 0.5]),  # +0.1 on every section
            "mixed": _runs([0.5, 0.2, 0.8, 0.4]),  # +0.3 on one section, -0.3 on another
            "seeds": _runs([0.2, 0.5, 0.8, 0.4], [0.4, 0.7, 1.0, 0.6]),  # a second seed 0.2 higher
        },
        n_boot=400,
    )
    # the same draw of sections for every key: a key equal to the reference never differs from it,
    # and one better on every section by 0.1 differs by exactly that in every replicate
    assert np.allclose(reps["same"] - reps["full"], 0.0)
    assert np.allclose(reps["better"] - reps["full"], 0.1)
    assert reps["full"].std() > 0.05  # while each key's own mean moves with the sections drawn
    mixed = percentile_interval(0.0, reps["mixed"] - reps["full"])
    assert mixed.low < 0 < mixed.high
    seeds = percentile_interval(0.1, reps["seeds"] - reps["full"])
    assert seeds.low == pytest.approx(0.0) and seeds.high == pytest.approx(0.2)  # both seeds, resampled
