"""Do pseudo-labels find the hidden operating modes? NMI against a data set's ground truth.

Machines whose file names say ``noAttribute`` still run in several operating modes; the VQ
pseudo-labels are meant to find them. Only a synthetic data set knows them: ``sslasd synth`` writes
``synth_truth.csv`` with every clip's true ``condition``. Agreement is the normalised mutual
information (NMI) between a section's pseudo-labels and the true conditions of its training clips,
averaged over sections. The reference is what ASDKit-style systems do instead of VQ: k-means once
on frozen-backbone embeddings (:func:`kmeans_nmi`).
"""

from __future__ import annotations

import csv
import os
import statistics
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score

#: the ground-truth file of a synthetic data set, at its root
TRUTH_FILE = "synth_truth.csv"

Groups = dict[tuple[str, str], dict[str, int]]  # (machine, section) -> file name -> label


def read_mode_truth(data_root: str | os.PathLike) -> dict[tuple[str, str], str] | None:
    """``(machine, file name) -> condition`` from ``TRUTH_FILE``; None for data without one."""
    path = Path(data_root) / TRUTH_FILE
    if not path.is_file():
        return None
    with open(path, newline="") as f:
        return {(r["machine"], Path(r["file_name"]).name): r["condition"] for r in csv.DictReader(f)}


def read_pseudo_labels(path: str | os.PathLike) -> Groups:
    """A run's ``fit/pseudo_labels.csv`` (``file,machine,section,domain,code``) by section."""
    groups: Groups = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            groups.setdefault((row["machine"], row["section"]), {})[row["file"]] = int(row["code"])
    return groups


def section_nmi(groups: Groups, truth: dict[tuple[str, str], str]) -> dict[tuple[str, str], float]:
    """``(machine, section) -> NMI`` between that section's labels and the true conditions."""
    out = {}
    for (machine, section), labels in sorted(groups.items()):
        names = sorted(labels)
        out[(machine, section)] = float(
            normalized_mutual_info_score([truth[(machine, n)] for n in names], [labels[n] for n in names])
        )
    return out


def label_nmi(groups: Groups, truth: dict[tuple[str, str], str]) -> float:
    """Mean over sections of the NMI between their labels and the true conditions."""
    values = section_nmi(groups, truth).values()
    return statistics.mean(values) if values else float("nan")


def kmeans_labels(
    embeddings: np.ndarray, machines: np.ndarray, names: np.ndarray, groups: Groups, k: int
) -> Groups:
    """k-means (``k`` clusters, 10 starts, on L2-normalised rows) of each section of ``groups``
    over the rows of ``embeddings`` named by ``(machines, names)``: the labels a system that
    clusters once before training would use."""
    index = {(str(m), str(n)): i for i, (m, n) in enumerate(zip(machines, names))}
    out: Groups = {}
    for (machine, section), labels in sorted(groups.items()):
        files = sorted(labels)
        x = embeddings[[index[(machine, f)] for f in files]]
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        found = KMeans(n_clusters=min(k, len(files)), n_init=10, random_state=0).fit_predict(x)
        out[(machine, section)] = {f: int(c) for f, c in zip(files, found)}
    return out


def nmi_replicates(
    runs: dict[str, dict[str, list[dict[tuple[str, str], float]]]], n_boot: int, seed: int = 0
) -> dict[str, np.ndarray]:
    """Bootstrap replicates of each key's mean NMI, for paired intervals between keys.

    ``runs`` maps a key (a variant) to ``data set -> [per run: {(machine, section): NMI}]``; every
    key must cover the same data sets and sections. A key's mean is over data sets of the mean over
    its runs and sections. In each replicate every data set's sections are resampled with
    replacement, the same draw for all keys (so differences are paired on sections), and each key's
    runs (training seeds) are resampled too. Sections, not clips, are the unit: NMI of a resampled
    set of clips is biased upwards by the duplicates, and the section is where the modes differ.
    """
    rng = np.random.default_rng(seed)
    first = next(iter(runs.values()))
    names = sorted(first)
    sections = {name: sorted(first[name][0]) for name in names}
    values = {  # key -> data set -> (runs, sections) array
        key: {name: np.array([[run[s] for s in sections[name]] for run in per_data[name]]) for name in names}
        for key, per_data in runs.items()
    }
    out = {key: np.zeros(n_boot) for key in runs}
    for b in range(n_boot):
        for name in names:
            picked = rng.integers(0, len(sections[name]), size=len(sections[name]))
            for key in runs:
                table = values[key][name]
                seeds = rng.integers(0, len(table), size=len(table))
                out[key][b] += table[np.ix_(seeds, picked)].mean() / len(names)
    return out
