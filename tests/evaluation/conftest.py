"""Fixtures of the evaluation tests: a clip factory and brute-force references for AUC / pAUC.

The references share no code with sslasd or scikit-learn: AUC by counting pairs, pAUC by
integrating the ROC built threshold by threshold, followed by the McClish standardisation.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from types import SimpleNamespace

import numpy as np
import pytest

from sslasd.data.clip import Clip


def brute_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """P(anomaly score > normal score) + 0.5 P(tie), over all anomaly/normal pairs."""
    pos = [s for y, s in zip(labels, scores) if y == 1]
    neg = [s for y, s in zip(labels, scores) if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def brute_pauc(labels: Sequence[int], scores: Sequence[float], max_fpr: float = 0.1) -> float:
    """McClish-standardised area under the ROC from FPR 0 to ``max_fpr``."""
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=float)
    n_pos, n_neg = int(np.sum(y == 1)), int(np.sum(y == 0))
    points = [(0.0, 0.0)]
    for threshold in sorted(set(s.tolist()), reverse=True):
        flagged = s >= threshold
        points.append((np.sum(flagged & (y == 0)) / n_neg, np.sum(flagged & (y == 1)) / n_pos))
    area = 0.0
    for (f0, t0), (f1, t1) in itertools.pairwise(points):
        if f0 >= max_fpr:
            break
        if f1 > max_fpr:  # cut the segment at max_fpr
            t1 = t0 + (t1 - t0) * (max_fpr - f0) / (f1 - f0)
            f1 = max_fpr
        area += (f1 - f0) * (t0 + t1) / 2.0
    low, high = max_fpr**2 / 2.0, max_fpr
    return 0.5 * (1.0 + (area - low) / (high - low))


def brute_hmean(values: Sequence[float]) -> float:
    return len(values) / sum(1.0 / v for v in values)


def make_clips(
    year: int, spec: Mapping[tuple[str, str, str, str], Sequence[float]]
) -> tuple[list[Clip], dict[str, float]]:
    """Test clips and their scores from ``{(machine, section, domain, label): [scores]}``.

    Names follow the year's DCASE grammar, so they repeat across machines; score keys are
    ``"<machine>/<name>"``.
    """
    clips: list[Clip] = []
    scores: dict[str, float] = {}
    for (machine, section, domain, label), values in spec.items():
        for i, value in enumerate(values):
            if year == 2020:
                name = f"{label}_id_{section}_{i:08d}.wav"
            else:
                name = f"section_{section}_{domain}_test_{label}_{i:04d}.wav"
            clips.append(Clip(f"/d/{machine}/test/{name}", year, machine, section, domain, "test", label))
            scores[f"{machine}/{name}"] = float(value)
    return clips, scores


def random_spec(
    rng: np.random.Generator, year: int, machines: Sequence[str], sections: Sequence[str]
) -> dict[tuple[str, str, str, str], list[float]]:
    """Random scores with ties (rounded to 1 decimal) and unequal domain sizes."""
    domains = ("none",) if year == 2020 else ("source", "target")
    spec = {}
    for m in machines:
        for sec in sections:
            for dom in domains:
                for label in ("normal", "anomaly"):
                    n = int(rng.integers(3, 30)) if dom != "target" else int(rng.integers(2, 12))
                    shift = 0.8 if label == "anomaly" else 0.0
                    spec[(m, sec, dom, label)] = np.round(rng.normal(shift, 1.0, n), 1).tolist()
    return spec


@pytest.fixture
def brute() -> SimpleNamespace:
    """Brute-force references: ``auc``, ``pauc``, ``hmean``."""
    return SimpleNamespace(auc=brute_auc, pauc=brute_pauc, hmean=brute_hmean)


@pytest.fixture
def clips_from() -> Callable[..., tuple[list[Clip], dict[str, float]]]:
    """:func:`make_clips`."""
    return make_clips


@pytest.fixture
def random_clips() -> Callable[..., dict]:
    """:func:`random_spec`."""
    return random_spec
