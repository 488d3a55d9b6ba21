"""kNN scoring against separate source and target memory banks, the base of the kNN back-ends.

The back-end of DESIGN.md section 3: a test embedding's distance to each bank is the mean
distance to its ``k`` nearest bank rows; the score is the minimum over the banks, so that a clip
close to the ten target clips is normal even if far from the thousand source clips. Each bank's
distances may be standardised (``standardize=True``) by the mean and standard deviation of the
leave-one-out distances of that bank's own training clips (training statistics only, never test
statistics), which puts the sparse target bank and the dense source bank on one scale.

Leave-one-out: a training clip is scored against each bank without itself and without the rows
made from it (SMOTE interpolations); rows that are not training clips (k-means centres) stay. The
threshold is fitted on these training scores.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np

from sslasd._common import resolve_device
from sslasd.backends._validation import DOMAINS, check_choice, check_fraction, check_int
from sslasd.backends.base import BaseScorer
from sslasd.backends.neighbors import METRICS, knn_search
from sslasd.backends.threshold import METHODS as THRESHOLD_METHODS
from sslasd.errors import DataError

# a bank: its rows, and for each row the (up to two) training clips it comes from, -1 = none
Bank = tuple[np.ndarray, np.ndarray]


class BankScorer(BaseScorer):
    """Shared kNN machinery; subclasses define ``__init__`` (the parameters) and ``_make_banks``.

    Subclass parameters always include ``n_neighbors, metric, standardize, threshold,
    threshold_q, device, batch_size, use_faiss`` (documented on :class:`KNNScorer`).

    Attributes
    ----------
    bank_source_, bank_target_ : ndarray of shape (n_rows, n_features)
        The memory banks (float64); a bank with no rows is not used.
    n_neighbors_ : dict[str, int]
        ``k`` used for each non-empty bank: ``n_neighbors``, or less where a bank is too small.
    mean_, std_ : dict[str, float | None]
        Mean and standard deviation (ddof 0) of each bank's leave-one-out training distances;
        ``None`` where fewer than 1 (mean) or 2 (std) such distances exist.
    """

    _state_arrays: ClassVar[tuple[str, ...]] = ("bank_source_", "bank_target_", "train_scores_")
    _state_attributes: ClassVar[tuple[str, ...]] = (
        "n_neighbors_",
        "mean_",
        "std_",
        "threshold_",
        "n_features_in_",
    )

    n_neighbors: int
    metric: str
    standardize: bool
    threshold: str
    threshold_q: float
    device: str
    batch_size: int
    use_faiss: bool | str

    def _make_banks(self, x: np.ndarray, domains: np.ndarray) -> dict[str, Bank]:
        """The ``"source"`` and ``"target"`` banks built from the training embeddings."""
        raise NotImplementedError

    def _check_params(self) -> None:
        check_int("n_neighbors", self.n_neighbors, 1)
        check_choice("metric", self.metric, METRICS)
        check_choice("standardize", self.standardize, (True, False))
        check_choice("threshold", self.threshold, THRESHOLD_METHODS)
        check_fraction("threshold_q", self.threshold_q, closed=False)
        resolve_device(self.device)
        check_int("batch_size", self.batch_size, 1)
        check_choice("use_faiss", self.use_faiss, ("auto", True, False))

    def _fit(self, x: np.ndarray, domains: np.ndarray) -> np.ndarray:
        banks = self._make_banks(x, domains)
        self.bank_source_, self.bank_target_ = banks["source"][0], banks["target"][0]
        self.n_neighbors_, self.mean_, self.std_ = {}, {}, {}
        distances = {}
        for name in DOMAINS:
            rows, parents = banks[name]
            if not len(rows):
                continue
            exclude = _exclusions(parents)
            most_excluded = int(np.bincount(exclude[0]).max()) if exclude[0].size else 0
            self.n_neighbors_[name] = self._effective_k(name, len(rows), most_excluded)
            distances[name] = self._distance(x, rows, self.n_neighbors_[name], exclude)
            own = distances[name][(domains == name) & np.isfinite(distances[name])]
            self.mean_[name] = float(own.mean()) if own.size else None
            self.std_[name] = float(own.std()) if own.size >= 2 else None
        if self.standardize:
            self._check_statistics()
        return self._combine(distances)

    def _score(self, x: np.ndarray) -> np.ndarray:
        distances = {
            name: self._distance(x, getattr(self, f"bank_{name}_"), k, None)
            for name, k in self.n_neighbors_.items()
        }
        return self._combine(distances)

    def _distance(
        self, x: np.ndarray, rows: np.ndarray, k: int, exclude: tuple[np.ndarray, np.ndarray] | None
    ) -> np.ndarray:
        """Mean distance of each embedding to its ``k`` nearest rows (``inf`` if none are left)."""
        distances, _ = knn_search(
            x,
            rows,
            k,
            metric=self.metric,
            exclude=exclude,
            device=self.device,
            batch_size=self.batch_size,
            use_faiss=self.use_faiss,
        )
        return distances.mean(axis=1)

    def _combine(self, distances: dict[str, np.ndarray]) -> np.ndarray:
        """Minimum over the banks of the (optionally standardised) distances."""
        columns = [
            (d - self.mean_[name]) / self.std_[name] if self.standardize else d
            for name, d in distances.items()
        ]
        return np.min(np.stack(columns), axis=0)

    def _effective_k(self, name: str, n_rows: int, most_excluded: int) -> int:
        """``n_neighbors``, capped so that every training clip still has ``k`` rows left out of itself."""
        left = n_rows - most_excluded
        k = min(self.n_neighbors, left if left >= 1 else n_rows)
        if k < self.n_neighbors:
            held = f", {left} once a training clip leaves itself out" if most_excluded else ""
            warnings.warn(
                f"n_neighbors={self.n_neighbors} is more than the {name} bank allows ({n_rows} rows{held}); "
                f"using k={k} for it (see n_neighbors_)",
                UserWarning,
                stacklevel=4,
            )
        return k

    def _check_statistics(self) -> None:
        for name, std in self.std_.items():
            if std is None or std <= 0.0:
                raise DataError(
                    f"domains: the {name} bank's leave-one-out training distances have standard deviation "
                    f"{std}; standardize=True needs at least 2 distinct ones per bank (add {name} clips "
                    "or set standardize=False)"
                )


def _exclusions(parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(training clip, bank row) pairs to leave out: every row that a clip is a parent of."""
    clip, row = [], []
    for column in parents.T:
        has = np.flatnonzero(column >= 0)
        clip.append(column[has])
        row.append(has)
    return np.concatenate(clip).astype(np.int64), np.concatenate(row).astype(np.int64)


def domain_bank(x: np.ndarray, domains: np.ndarray, name: str) -> Bank:
    """The training embeddings of one domain as a bank, each row its own parent."""
    idx = np.flatnonzero(domains == name)
    return x[idx], np.stack([idx, np.full(len(idx), -1)], axis=1)
