"""The estimator contract every back-end shares: fit on training embeddings, then score.

Back-ends follow scikit-learn (``BaseEstimator``: ``__init__`` only stores its keyword
arguments, so ``clone``/``get_params``/``set_params`` work; learned state ends in ``_``) and pyod's
sign: **higher score = more anomalous** (the opposite of scikit-learn's ``score_samples``). The
decision threshold is fitted on the training scores as the DCASE baselines do (a gamma fit at
the 0.9 quantile by default, see :mod:`sslasd.backends.threshold`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

from sslasd.backends._validation import check_domains, check_embeddings
from sslasd.backends.threshold import fit_threshold
from sslasd.errors import DataError, NotFittedError


class BackendNotFittedError(NotFittedError, _SklearnNotFittedError):
    """sslasd's NotFittedError that scikit-learn's own code and estimator checks also recognise."""


class BaseScorer(BaseEstimator):
    """Base of the back-ends: validation, threshold, ``predict`` and ``decision_function``.

    Subclasses implement ``_check_params()``, ``_fit(x, domains) -> training scores`` and
    ``_score(x) -> scores``, and list their learned state in ``_state_arrays`` (numpy arrays) and
    ``_state_attributes`` (JSON-able values) for :func:`sslasd.backends.save_backend_state`.

    Attributes
    ----------
    train_scores_ : ndarray of shape (n_train,)
        Scores of the training embeddings (leave-one-out where the back-end allows it).
    threshold_ : float
        Decision threshold fitted on ``train_scores_``.
    n_features_in_ : int
        Embedding width seen in ``fit``.
    """

    _state_arrays: ClassVar[tuple[str, ...]] = ("train_scores_",)
    _state_attributes: ClassVar[tuple[str, ...]] = ("threshold_", "n_features_in_")

    def fit(self, X: object, y: object = None, *, domains: object = None) -> BaseScorer:
        """Learn from the normal training embeddings of one machine/section; returns ``self``.

        Parameters
        ----------
        X : array-like of shape (n_train, n_features)
            Finite embeddings, at least two.
        y : ignored
            Present for scikit-learn's API (pipelines, cross-validation pass labels here); the
            training clips are all normal.
        domains : sequence of {"source", "target"} of length n_train, optional, keyword only
            Domain of each embedding; ``None`` means all source.

        Raises
        ------
        DataError
            Bad embeddings or domains (the message names which row or value).
        ConfigError
            A parameter that cannot be used.
        """
        self._check_params()
        x = check_embeddings(X, name="X", metric=getattr(self, "metric", None))
        if len(x) < 2:
            raise DataError(f"X: n_samples={len(x)} training embedding; a back-end needs at least 2")
        dom = check_domains(domains, len(x))
        scores = self._fit(x, dom)
        self.n_features_in_ = x.shape[1]
        self.train_scores_ = scores
        self.threshold_ = float(fit_threshold(scores, method=self.threshold, q=self.threshold_q))
        return self

    def score_samples(self, X: object) -> np.ndarray:
        """Anomaly score of each embedding: **higher = more anomalous** (pyod's sign).

        Raises
        ------
        NotFittedError
            Before ``fit``.
        DataError
            Bad embeddings, or a width other than the one seen in ``fit``.
        """
        self._check_fitted()
        x = check_embeddings(
            X,
            name="X",
            n_features=self.n_features_in_,
            metric=getattr(self, "metric", None),
            owner=type(self).__name__,
        )
        return self._score(x)

    def decision_function(self, X: object) -> np.ndarray:
        """``score_samples(X) - threshold_``: positive = anomalous (higher = more anomalous)."""
        return self.score_samples(X) - self.threshold_

    def predict(self, X: object) -> np.ndarray:
        """1 for an anomaly (score above ``threshold_``), 0 for normal, as an int64 array."""
        return (self.decision_function(X) > 0).astype(np.int64)

    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise BackendNotFittedError(
                f"{type(self).__name__} is not fitted yet: call fit(embeddings, domains=...) first"
            )

    def _check_params(self) -> None:
        raise NotImplementedError

    def _fit(self, x: np.ndarray, domains: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _score(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError
