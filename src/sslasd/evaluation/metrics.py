"""The numbers the DCASE evaluators compute, computed the same way.

AUC and pAUC are ``sklearn.metrics.roc_auc_score`` (pAUC with ``max_fpr=0.1``, i.e. the McClish-
standardised partial AUC, 0.5 for a random detector and 1 for a perfect one), as every organisers'
evaluator from 2020 to 2026 calls it. Harmonic means floor each value at ``sys.float_info.epsilon``
before ``scipy.stats.hmean``, and precision / recall / F1 divide by ``max(denominator, epsilon)``, as
the 2021-2026 evaluators do, so that a zero never makes a mean undefined.

Example
-------
>>> round(auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 6)
0.75
>>> decision_metrics([0, 1, 1, 0], [0, 1, 0, 1]).f1
0.5
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike

from sslasd.errors import DataError

MAX_FPR = 0.1
EPS = sys.float_info.epsilon


def auc(y_true: ArrayLike, y_score: ArrayLike, *, what: str = "AUC") -> float:
    """Area under the ROC curve; ``y_true`` is 1 for anomalies, ``y_score`` higher = more anomalous.

    Raises
    ------
    DataError
        When ``y_true`` does not hold both normals and anomalies (``what`` names the set in the message).
    """
    from sklearn.metrics import roc_auc_score

    y, s = _checked(y_true, y_score, what)
    return float(roc_auc_score(y, s))


def pauc(y_true: ArrayLike, y_score: ArrayLike, *, max_fpr: float = MAX_FPR, what: str = "pAUC") -> float:
    """Standardised partial AUC up to ``max_fpr`` (McClish), as ``roc_auc_score(..., max_fpr=0.1)``.

    Raises
    ------
    DataError
        When ``y_true`` does not hold both normals and anomalies.
    """
    from sklearn.metrics import roc_auc_score

    y, s = _checked(y_true, y_score, what)
    return float(roc_auc_score(y, s, max_fpr=max_fpr))


def weighted_auc(y_true: np.ndarray, y_score: np.ndarray, weight: np.ndarray) -> float:
    """AUC of clips counted ``weight`` times each (ties count half), as ``roc_auc_score(...,
    sample_weight=weight)``.

    Our own numpy code, not scikit-learn's: a bootstrap computes thousands of these, and this is
    about 20 times faster on DCASE-sized sections; equality with scikit-learn is tested. Assumes
    both classes have positive weight (the bootstrap resamples within label strata).
    """
    y = np.asarray(y_true) == 1
    s = np.asarray(y_score, dtype=float)
    w = np.asarray(weight, dtype=float)
    neg_s, neg_w = s[~y], w[~y]
    order = np.argsort(neg_s, kind="stable")
    neg_s, cum = neg_s[order], np.concatenate([[0.0], np.cumsum(neg_w[order])])
    pos_s, pos_w = s[y], w[y]
    below = cum[np.searchsorted(neg_s, pos_s, side="left")]
    not_above = cum[np.searchsorted(neg_s, pos_s, side="right")]
    wins = np.sum(pos_w * (below + not_above)) / 2.0
    return float(wins / (pos_w.sum() * cum[-1]))


def weighted_pauc(
    y_true: np.ndarray, y_score: np.ndarray, weight: np.ndarray, *, max_fpr: float = MAX_FPR
) -> float:
    """McClish-standardised partial AUC of weighted clips, as ``roc_auc_score(..., max_fpr=max_fpr,
    sample_weight=weight)`` (same reason and same assumption as :func:`weighted_auc`)."""
    y = np.asarray(y_true) == 1
    s = np.asarray(y_score, dtype=float)
    w = np.asarray(weight, dtype=float)
    order = np.argsort(-s, kind="stable")
    s, y, w = s[order], y[order], w[order]
    last = np.flatnonzero(np.append(s[1:] != s[:-1], True))  # the last index of each distinct score
    tps = np.cumsum(w * y)[last]
    fps = np.cumsum(w * ~y)[last]
    fpr = np.concatenate(([0.0], fps / fps[-1]))
    tpr = np.concatenate(([0.0], tps / tps[-1]))
    stop = int(np.searchsorted(fpr, max_fpr, side="right"))
    end = np.interp(max_fpr, fpr[stop - 1 : stop + 1], tpr[stop - 1 : stop + 1])
    fpr = np.append(fpr[:stop], max_fpr)
    tpr = np.append(tpr[:stop], end)
    partial = float(np.sum((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1]) / 2.0))
    min_area, max_area = 0.5 * max_fpr**2, max_fpr
    return 0.5 * (1.0 + (partial - min_area) / (max_area - min_area))


def harmonic_mean(values: Sequence[float]) -> float:
    """Harmonic mean with each value floored at machine epsilon, as the 2021-2026 evaluators compute it."""
    floored = np.maximum(np.asarray(values, dtype=float), EPS)
    return float(len(floored) / np.sum(1.0 / floored))  # scipy.stats.hmean's formula, without its overhead


def arithmetic_mean(values: Sequence[float]) -> float:
    """Plain arithmetic mean (``numpy.mean``), named for symmetry with :func:`harmonic_mean`."""
    return float(np.mean(np.asarray(values, dtype=float)))


@dataclass(frozen=True)
class DecisionMetrics:
    """Precision, recall and F1 of binary decisions (1 = anomaly) against the labels.

    Attributes
    ----------
    precision, recall, f1 : float
        ``tp / max(tp + fp, eps)``, ``tp / max(tp + fn, eps)``, ``2 p r / max(p + r, eps)``.
    tp, fp, fn, tn : int
        The confusion counts they come from.
    """

    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    tn: int

    def to_dict(self) -> dict[str, float | int]:
        """The fields as a JSON-able dict."""
        return asdict(self)


def decision_metrics(y_true: ArrayLike, decisions: ArrayLike) -> DecisionMetrics:
    """Precision / recall / F1 of ``decisions`` (0/1) against ``y_true`` (0 normal, 1 anomaly)."""
    y = np.asarray(y_true, dtype=int)
    d = np.asarray(decisions, dtype=int)
    tp = int(np.sum((y == 1) & (d == 1)))
    fp = int(np.sum((y == 0) & (d == 1)))
    fn = int(np.sum((y == 1) & (d == 0)))
    tn = int(np.sum((y == 0) & (d == 0)))
    precision = tp / max(tp + fp, EPS)
    recall = tp / max(tp + fn, EPS)
    f1 = 2.0 * precision * recall / max(precision + recall, EPS)
    return DecisionMetrics(float(precision), float(recall), float(f1), tp, fp, fn, tn)


def _checked(y_true: ArrayLike, y_score: ArrayLike, what: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=int)
    s = np.asarray(y_score, dtype=float)
    n_anomaly = int(np.sum(y == 1))
    n_normal = int(np.sum(y == 0))
    if n_anomaly == 0 or n_normal == 0:
        raise DataError(
            f"{what}: needs normal and anomalous clips, got {n_normal} normal and {n_anomaly} anomalous"
        )
    return y, s
