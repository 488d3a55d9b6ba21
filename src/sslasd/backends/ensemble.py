"""Score ensembles: several detectors' scores of the same clips, each put on its training scale,
then summed with weights.

Published DCASE systems from 2022 to 2026 all combine detectors, and the members' raw scores live on
unrelated scales (a cosine distance of a fine-tuned embedding, one of log-mel statistics), so each
member's scores are standardised with the mean and standard deviation of its own **training** scores
(the leave-one-out scores of the normal training clips, per machine/section) before the weighted
sum. No test statistic is used, so a clip's score does not depend on which other clips are scored.
The decision threshold is fitted on the combined training scores, i.e. exactly as the test scores
are computed.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ens = ScoreEnsemble().fit([rng.gamma(2, 0.01, 50), rng.gamma(2, 10.0, 50)])
>>> ens.combine([np.array([0.02]), np.array([20.0])]).shape
(1,)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sslasd.backends.threshold import METHODS, fit_threshold
from sslasd.errors import CheckpointError, ConfigError, DataError, NotFittedError


class ScoreEnsemble:
    """Weighted sum of members' scores, each standardised with its own training scores.

    Parameters
    ----------
    weights : sequence of float, optional
        One positive weight per member; default equal weights.
    threshold, threshold_q :
        How ``threshold_`` is fitted on the combined training scores (as the back-ends do).

    Attributes
    ----------
    mean_, std_ : ndarray of shape (n_members,)
        Each member's training-score statistics.
    train_scores_ : ndarray of shape (n_train,)
        Combined training scores; ``threshold_`` is fitted on them.
    threshold_ : float
    """

    def __init__(
        self, weights: Sequence[float] | None = None, threshold: str = "gamma", threshold_q: float = 0.9
    ) -> None:
        self.weights = None if weights is None else [float(w) for w in weights]
        self.threshold = threshold
        self.threshold_q = threshold_q

    def fit(self, train_scores: Sequence[np.ndarray]) -> ScoreEnsemble:
        """Learn each member's training scale from its scores of the same training clips (in order).

        Raises
        ------
        DataError
            Members with different numbers of training scores, or non-finite ones.
        ConfigError
            Weights that do not fit the members, or a bad threshold setting.
        """
        members = [np.asarray(s, dtype=np.float64).ravel() for s in train_scores]
        if not members:
            raise DataError("score ensemble: no members")
        if len({len(m) for m in members}) != 1:
            raise DataError(
                "score ensemble: members scored different training clips "
                f"({[len(m) for m in members]} scores)"
            )
        if any(not np.isfinite(m).all() for m in members):
            raise DataError("score ensemble: a member's training scores are not all finite")
        if self.threshold not in METHODS:
            raise ConfigError(f"threshold: {self.threshold!r} is not one of {', '.join(METHODS)}")
        self.weights_ = self._checked_weights(len(members))
        self.mean_ = np.array([m.mean() for m in members])
        # a member whose training scores are all equal keeps its raw offsets (scale 1)
        self.std_ = np.array([m.std() if m.std() > 0 else 1.0 for m in members])
        self.train_scores_ = self.combine(members)
        self.threshold_ = float(fit_threshold(self.train_scores_, method=self.threshold, q=self.threshold_q))
        return self

    def combine(self, scores: Sequence[np.ndarray]) -> np.ndarray:
        """The ensemble's scores from each member's scores of the same clips (higher = more anomalous)."""
        if not hasattr(self, "weights_"):
            raise NotFittedError("ScoreEnsemble is not fitted yet: call fit(train_scores) first")
        if len(scores) != len(self.weights_):
            raise DataError(f"score ensemble: {len(scores)} members' scores for {len(self.weights_)} members")
        z = [(np.asarray(s, dtype=np.float64) - m) / sd for s, m, sd in zip(scores, self.mean_, self.std_)]
        return np.sum([w * v for w, v in zip(self.weights_, z)], axis=0) / self.weights_.sum()

    def _checked_weights(self, n: int) -> np.ndarray:
        if self.weights is None:
            return np.ones(n)
        weights = np.asarray(self.weights, dtype=np.float64)
        if len(weights) != n or not (np.isfinite(weights).all() and (weights > 0).all()):
            raise ConfigError(f"ensemble weights {self.weights}: need {n} positive numbers, one per member")
        return weights

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as JSON-able values (no pickle)."""
        if not hasattr(self, "weights_"):
            raise NotFittedError("ScoreEnsemble is not fitted yet: call fit(train_scores) first")
        return {
            "weights": self.weights,
            "threshold": self.threshold,
            "threshold_q": self.threshold_q,
            "weights_": self.weights_.tolist(),
            "mean_": self.mean_.tolist(),
            "std_": self.std_.tolist(),
            "train_scores_": self.train_scores_.tolist(),
            "threshold_": self.threshold_,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> ScoreEnsemble:
        """The fitted ensemble that :meth:`to_dict` wrote (CheckpointError when a key is missing)."""
        try:
            out = cls(state["weights"], state["threshold"], state["threshold_q"])
            for name in ("weights_", "mean_", "std_", "train_scores_"):
                setattr(out, name, np.asarray(state[name], dtype=np.float64))
            out.threshold_ = float(state["threshold_"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"score ensemble state: missing or bad {exc}") from None
        return out
