"""AUC, pAUC, means and decision metrics against hand-computed values and brute force."""

from __future__ import annotations

import numpy as np
import pytest

from sslasd.errors import DataError
from sslasd.evaluation.metrics import EPS, auc, decision_metrics, harmonic_mean, pauc


@pytest.mark.parametrize(
    ("labels", "scores", "expected_auc", "expected_pauc"),
    [
        # perfect detector: AUC 1, pAUC 1
        ([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], 1.0, 1.0),
        # inverted detector: partial area 0 -> 0.5 * (1 - 0.005 / 0.095) = 9/19
        ([0, 0, 1, 1], [0.3, 0.4, 0.1, 0.2], 0.0, 9 / 19),
        # all scores tied: the ROC is the diagonal, partial area 0.005 -> 0.5
        ([0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5], 0.5, 0.5),
        # 10 normals 0.0..0.9, anomalies 0.95 and 0.55: half the anomalies above every normal ->
        # TPR 0.5 on FPR [0, 0.1], area 0.05 -> 0.5 * (1 + 0.045 / 0.095) = 14/19; AUC = (10 + 6) / 20
        ([0] * 10 + [1, 1], [i / 10 for i in range(10)] + [0.95, 0.55], 16 / 20, 14 / 19),
        # one tie between an anomaly and a normal counts half
        ([0, 0, 1], [0.1, 0.5, 0.5], 0.75, None),
    ],
)
def test_hand_computed(labels, scores, expected_auc, expected_pauc) -> None:
    assert auc(labels, scores) == pytest.approx(expected_auc, abs=1e-12)
    if expected_pauc is not None:
        assert pauc(labels, scores) == pytest.approx(expected_pauc, abs=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_equal_brute_force_on_random_data(seed: int, brute) -> None:
    rng = np.random.default_rng(seed)
    n_neg, n_pos = int(rng.integers(2, 150)), int(rng.integers(1, 60))
    labels = [0] * n_neg + [1] * n_pos
    decimals = int(rng.integers(0, 3))  # coarse rounding makes many ties, including at FPR 0.1
    scores = np.round(np.concatenate([rng.normal(0, 1, n_neg), rng.normal(0.7, 1, n_pos)]), decimals)
    order = rng.permutation(len(labels))
    labels, scores = list(np.asarray(labels)[order]), list(scores[order])
    assert abs(auc(labels, scores) - brute.auc(labels, scores)) < 1e-9
    assert abs(pauc(labels, scores) - brute.pauc(labels, scores)) < 1e-9


def test_pauc_equals_brute_force_when_fpr_grid_hits_exactly_0_1(brute) -> None:
    """20 normals: FPR steps of 0.05 put a ROC vertex exactly at 0.1."""
    rng = np.random.default_rng(3)
    labels = [0] * 20 + [1] * 7
    scores = list(rng.permutation(27) / 27.0)
    assert abs(pauc(labels, scores) - brute.pauc(labels, scores)) < 1e-12


@pytest.mark.parametrize("labels", [[0, 0, 0], [1, 1], []])
def test_one_class_is_refused(labels) -> None:
    with pytest.raises(DataError, match="my set: needs normal and anomalous clips"):
        auc(labels, [0.1] * len(labels), what="my set")
    with pytest.raises(DataError, match="needs normal and anomalous"):
        pauc(labels, [0.1] * len(labels))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.5, 1.0], 2 / 3),
        ([0.6], 0.6),
        ([0.2, 0.4, 0.8], 3 / (5 + 2.5 + 1.25)),
        ([0.0, 1.0], 2 / (1 / EPS + 1)),
    ],
)
def test_harmonic_mean_floors_at_epsilon(values, expected) -> None:
    assert harmonic_mean(values) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("labels", "decisions", "expected"),
    [
        # tp=1 fp=1 fn=1 tn=1 -> p = r = f1 = 0.5
        ([0, 1, 1, 0], [0, 1, 0, 1], (0.5, 0.5, 0.5, 1, 1, 1, 1)),
        # tp=2 fp=0 fn=1 -> p 1, r 2/3, f1 0.8
        ([1, 1, 1, 0], [1, 1, 0, 0], (1.0, 2 / 3, 0.8, 2, 0, 1, 1)),
        # nothing flagged: denominators floored, all metrics 0
        ([1, 0, 0], [0, 0, 0], (0.0, 0.0, 0.0, 0, 0, 1, 2)),
        # only normals, all flagged: precision 0, recall 0 (no anomalies)
        ([0, 0], [1, 1], (0.0, 0.0, 0.0, 0, 2, 0, 0)),
    ],
)
def test_decision_metrics(labels, decisions, expected) -> None:
    m = decision_metrics(labels, decisions)
    assert (m.precision, m.recall, m.f1) == pytest.approx(expected[:3], abs=1e-12)
    assert (m.tp, m.fp, m.fn, m.tn) == expected[3:]
