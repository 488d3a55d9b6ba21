"""The numbers the DCASE evaluators compute, computed the same way.

AUC and pAUC are ``sklearn.metrics.roc_auc_score`` (pAUC with ``max_fpr=0.1``, i.e. the McClish-
standardised partial AUC, 0.5 for a random detector and 1 for a perfect one), as every organisers'
evaluator from 2020 to 2025 calls it. Harmonic means floor each value at ``sys.float_info.epsilon``
before ``scipy.stats.hmean``, and precision / recall / F1 divide by ``max(denominator, epsilon)``, as
the 2021-2025 evaluators do, so that a zero never makes a mean undefined.

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
from scipy.stats import hmean

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


def harmonic_mean(values: Sequence[float]) -> float:
    """Harmonic mean with each value floored at machine epsilon, as the 2021-2025 evaluators compute it."""
    return float(hmean(np.maximum(np.asarray(values, dtype=float), EPS)))


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
