"""kNN with the target bank augmented by SMOTE interpolations between target clips."""

from __future__ import annotations

import warnings

import numpy as np

from sslasd.backends._validation import check_int
from sslasd.backends.bank import Bank, BankScorer, domain_bank
from sslasd.backends.neighbors import knn_search
from sslasd.errors import ConfigError


def smote(
    x: np.ndarray, n_synthetic: int, k: int, seed: int, *, metric: str = "cosine"
) -> tuple[np.ndarray, np.ndarray]:
    """SMOTE points: ``x[i] + u * (x[j] - x[i])``, ``j`` one of the ``k`` nearest rows of ``i``.

    Chawla et al. (2002): ``i`` is drawn uniformly, ``j`` uniformly among its ``k`` nearest
    other rows (by ``metric``), ``u`` uniformly in [0, 1). Written here with numpy so that
    imbalanced-learn is not needed.

    Parameters
    ----------
    x : ndarray of shape (n, d), n >= 2
    n_synthetic : int
    k : int
        Neighbours to choose from, 1 to ``n - 1``.
    seed : int
        Seed of ``numpy.random.default_rng``.
    metric : {"cosine", "euclidean"}
        Distance that defines the neighbours.

    Returns
    -------
    points : ndarray of shape (n_synthetic, d)
    parents : ndarray of shape (n_synthetic, 2)
        Rows ``(i, j)`` of ``x`` each point lies between.

    Raises
    ------
    ConfigError
        ``k`` outside ``1..n - 1``.

    Example
    -------
    >>> pts, parents = smote(np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]]), 4, 1, 0, metric="euclidean")
    >>> bool(np.all(pts[:, 1] == 1.0)), parents.shape
    (True, (4, 2))
    """
    if not 1 <= k <= len(x) - 1:
        raise ConfigError(f"k_smote: {k} for {len(x)} rows; expected 1..{len(x) - 1}")
    rng = np.random.default_rng(seed)
    own = np.arange(len(x))
    _, neighbours = knn_search(x, x, k, metric=metric, exclude=(own, own), use_faiss=False)
    base = rng.integers(len(x), size=n_synthetic)
    other = neighbours[base, rng.integers(k, size=n_synthetic)]
    step = rng.random(n_synthetic)[:, None]
    return x[base] + step * (x[other] - x[base]), np.stack([base, other], axis=1)


class SMOTEScorer(BankScorer):
    """kNN scoring with the ~10-clip target bank filled in by SMOTE interpolations.

    The target domain has too few clips for its kNN distances to be reliable; SMOTE points on
    the segments between each target clip and its nearest target neighbours densify it (a
    back-end of several DCASE 2023 systems). Scoring is then :class:`KNNScorer`'s; **higher =
    more anomalous** (pyod's sign). For the leave-one-out training scores a target clip leaves
    out itself and every SMOTE point it is an end of.

    Parameters
    ----------
    n_synthetic : int or None
        SMOTE points added; ``None`` balances the banks (number of source minus target clips).
    k_smote : int
        Nearest target neighbours to interpolate towards; capped, with a warning, at the number of
        target clips minus one. With fewer than two target clips nothing is added (warning).
    random_state : int
        Seed of the interpolation.
    n_neighbors, metric, standardize, threshold, threshold_q, device, batch_size, use_faiss
        As in :class:`KNNScorer`.

    Attributes
    ----------
    bank_target_ : ndarray of shape (n_target + n_synthetic_, n_features)
        Target clips, then the SMOTE points.
    n_synthetic_ : int
        SMOTE points actually added.
    k_smote_ : int
        Neighbours actually used (0 when nothing was added).
    bank_source_, n_neighbors_, mean_, std_, train_scores_, threshold_, n_features_in_
        As in :class:`KNNScorer`.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(40, 8))
    >>> est = SMOTEScorer(n_synthetic=20).fit(x, domains=["source"] * 34 + ["target"] * 6)
    >>> est.bank_target_.shape
    (26, 8)
    """

    _state_attributes = (*BankScorer._state_attributes, "n_synthetic_", "k_smote_")

    def __init__(
        self,
        n_synthetic: int | None = None,
        k_smote: int = 5,
        random_state: int = 0,
        n_neighbors: int = 1,
        metric: str = "cosine",
        standardize: bool = False,
        threshold: str = "gamma",
        threshold_q: float = 0.9,
        device: str = "cpu",
        batch_size: int = 4096,
        use_faiss: bool | str = "auto",
    ) -> None:
        self.n_synthetic = n_synthetic
        self.k_smote = k_smote
        self.random_state = random_state
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.standardize = standardize
        self.threshold = threshold
        self.threshold_q = threshold_q
        self.device = device
        self.batch_size = batch_size
        self.use_faiss = use_faiss

    def _check_params(self) -> None:
        super()._check_params()
        if self.n_synthetic is not None:
            check_int("n_synthetic", self.n_synthetic, 0)
        check_int("k_smote", self.k_smote, 1)
        check_int("random_state", self.random_state, 0)

    def _make_banks(self, x: np.ndarray, domains: np.ndarray) -> dict[str, Bank]:
        target, parents = domain_bank(x, domains, "target")
        wanted = self.n_synthetic if self.n_synthetic is not None else max(0, len(x) - 2 * len(target))
        self.k_smote_ = max(0, min(self.k_smote, len(target) - 1)) if wanted else 0
        self.n_synthetic_ = wanted if self.k_smote_ >= 1 else 0
        if wanted and self.n_synthetic_ == 0:
            self._warn(f"{len(target)} target clip(s) cannot be interpolated; no SMOTE points added")
        elif self.k_smote_ < self.k_smote and self.n_synthetic_:
            self._warn(
                f"k_smote={self.k_smote} is more than the {len(target)} target clips allow; "
                f"using {self.k_smote_} (see k_smote_)"
            )
        if self.n_synthetic_:
            points, pairs = smote(
                target, self.n_synthetic_, self.k_smote_, self.random_state, metric=self.metric
            )
            target = np.concatenate([target, points])
            parents = np.concatenate([parents, parents[pairs, 0]])
        return {"source": domain_bank(x, domains, "source"), "target": (target, parents)}

    @staticmethod
    def _warn(message: str) -> None:
        warnings.warn(message, UserWarning, stacklevel=5)
