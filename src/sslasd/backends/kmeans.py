"""kNN against k-means centres of the source bank plus all target clips."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.cluster import KMeans

from sslasd.backends._validation import check_int
from sslasd.backends.bank import Bank, BankScorer, domain_bank


class KMeansScorer(BankScorer):
    """kNN scoring with the source bank summarised by ``n_clusters`` k-means centres.

    The ~1000 source clips are replaced by their k-means centres, so that the dense source
    domain no longer outvotes the ~10 target clips, which are all kept (a back-end used by
    several DCASE 2022-2023 systems). Scoring is then :class:`KNNScorer`'s: minimum over the two banks of the
    mean distance to the ``k`` nearest rows; **higher = more anomalous** (pyod's sign).

    For ``metric="cosine"`` the source embeddings are L2-normalised before k-means (spherical
    clustering); k-means is scikit-learn's, seeded with ``random_state``, ``n_init="auto"``.
    Source training clips are scored against the centres as they are (a centre is not a clip);
    target clips leave themselves out.

    Parameters
    ----------
    n_clusters : int
        Number of centres; capped, with a warning, at the number of source clips.
    random_state : int
        Seed of k-means.
    n_neighbors, metric, standardize, threshold, threshold_q, device, batch_size, use_faiss
        As in :class:`KNNScorer`.

    Attributes
    ----------
    bank_source_ : ndarray of shape (n_clusters_, n_features)
        The centres.
    n_clusters_ : int
        Centres actually used.
    bank_target_, n_neighbors_, mean_, std_, train_scores_, threshold_, n_features_in_
        As in :class:`KNNScorer`.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(40, 8))
    >>> est = KMeansScorer(n_clusters=4).fit(x, domains=["source"] * 34 + ["target"] * 6)
    >>> est.bank_source_.shape
    (4, 8)
    """

    _state_attributes = (*BankScorer._state_attributes, "n_clusters_")

    def __init__(
        self,
        n_clusters: int = 16,
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
        self.n_clusters = n_clusters
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
        check_int("n_clusters", self.n_clusters, 1)
        check_int("random_state", self.random_state, 0)

    def _make_banks(self, x: np.ndarray, domains: np.ndarray) -> dict[str, Bank]:
        source = x[domains == "source"]
        if self.metric == "cosine":
            source = source / np.linalg.norm(source, axis=1, keepdims=True)
        self.n_clusters_ = min(self.n_clusters, len(source))
        if self.n_clusters_ < self.n_clusters:
            warnings.warn(
                f"n_clusters={self.n_clusters} is more than the {len(source)} source clips; "
                f"using {self.n_clusters_} (see n_clusters_)",
                UserWarning,
                stacklevel=4,
            )
        if self.n_clusters_:
            kmeans = KMeans(n_clusters=self.n_clusters_, random_state=self.random_state, n_init="auto")
            centres = kmeans.fit(source).cluster_centers_.astype(np.float64)
        else:
            centres = np.empty((0, x.shape[1]))
        return {
            "source": (centres, np.full((len(centres), 2), -1)),
            "target": domain_bank(x, domains, "target"),
        }
