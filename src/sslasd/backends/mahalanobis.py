"""Mahalanobis distance to per-domain Gaussians with shrunk covariances."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.covariance import LedoitWolf, ShrunkCovariance

from sslasd.backends._validation import DOMAINS, check_choice, check_fraction
from sslasd.backends.base import BaseScorer
from sslasd.backends.threshold import METHODS as THRESHOLD_METHODS
from sslasd.errors import DataError


class MahalanobisScorer(BaseScorer):
    """Mahalanobis distance to the nearer domain Gaussian.

    The DCASE 2022-2023 autoencoder baselines' "selective Mahalanobis" back-end. Per domain (or
    once for all clips) a mean and a shrunk covariance are fitted; the score is
    ``min over domains of sqrt((x - mean)^T precision (x - mean))``; **higher = more anomalous**
    (pyod's sign, the opposite of scikit-learn's ``score_samples``). Shrinkage keeps the
    covariance invertible when a domain has fewer clips than dimensions (10 target clips in 256-d).
    Training scores are in-sample (refitting the covariance without each clip would cost
    ``n_train`` fits), so the threshold is fitted on slightly optimistic scores.

    Parameters
    ----------
    shrinkage : "ledoit_wolf" or float in [0, 1]
        Ledoit-Wolf's data-driven shrinkage (:class:`sklearn.covariance.LedoitWolf`), or a fixed
        one: ``(1 - s) * cov + s * trace(cov) / d * I`` (:class:`sklearn.covariance.ShrunkCovariance`).
    per_domain : bool
        One Gaussian per domain (each needs >= 2 clips), or one for all training clips.
    threshold, threshold_q
        As in :class:`KNNScorer`.

    Attributes
    ----------
    domains_ : list of str
        The Gaussians, ``["source", "target"]`` (those present) or ``["all"]``.
    location_ : ndarray of shape (n_domains, n_features)
    precision_ : ndarray of shape (n_domains, n_features, n_features)
        Inverse of each shrunk covariance.
    train_scores_, threshold_, n_features_in_
        As in :class:`KNNScorer` (training scores in-sample).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(40, 8))
    >>> est = MahalanobisScorer().fit(x, domains=["source"] * 34 + ["target"] * 6)
    >>> est.domains_, est.precision_.shape
    (['source', 'target'], (2, 8, 8))
    """

    _state_arrays: ClassVar[tuple[str, ...]] = ("location_", "precision_", "train_scores_")
    _state_attributes: ClassVar[tuple[str, ...]] = ("domains_", "threshold_", "n_features_in_")

    def __init__(
        self,
        shrinkage: str | float = "ledoit_wolf",
        per_domain: bool = True,
        threshold: str = "gamma",
        threshold_q: float = 0.9,
    ) -> None:
        self.shrinkage = shrinkage
        self.per_domain = per_domain
        self.threshold = threshold
        self.threshold_q = threshold_q

    def _check_params(self) -> None:
        if self.shrinkage != "ledoit_wolf":
            check_fraction("shrinkage", self.shrinkage, closed=True)
        check_choice("per_domain", self.per_domain, (True, False))
        check_choice("threshold", self.threshold, THRESHOLD_METHODS)
        check_fraction("threshold_q", self.threshold_q, closed=False)

    def _fit(self, x: np.ndarray, domains: np.ndarray) -> np.ndarray:
        groups = (
            {d: x[domains == d] for d in DOMAINS if (domains == d).any()} if self.per_domain else {"all": x}
        )
        for name, rows in groups.items():
            if len(rows) < 2:
                raise DataError(
                    f"domains: the {name} domain has {len(rows)} clip; MahalanobisScorer(per_domain=True) "
                    "needs at least 2 per domain (or set per_domain=False)"
                )
        self.domains_ = list(groups)
        fitted = [self._covariance().fit(rows) for rows in groups.values()]
        self.location_ = np.stack([f.location_ for f in fitted])
        self.precision_ = np.stack([f.precision_ for f in fitted])
        return self._score(x)

    def _score(self, x: np.ndarray) -> np.ndarray:
        distances = []
        for location, precision in zip(self.location_, self.precision_):
            diff = x - location
            distances.append(np.sqrt(np.maximum(((diff @ precision) * diff).sum(axis=1), 0.0)))
        return np.min(np.stack(distances), axis=0)

    def _covariance(self) -> LedoitWolf | ShrunkCovariance:
        if self.shrinkage == "ledoit_wolf":
            return LedoitWolf()
        return ShrunkCovariance(shrinkage=float(self.shrinkage))
