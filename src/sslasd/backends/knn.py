"""Cosine kNN with separate source and target memory banks: the default back-end."""

from __future__ import annotations

import numpy as np

from sslasd.backends.bank import Bank, BankScorer, domain_bank


class KNNScorer(BankScorer):
    """kNN distance to the nearer of two memory banks, the training clips of each domain.

    ``score = min over banks b of mean distance to the k nearest rows of b`` (each optionally
    standardised with bank b's leave-one-out training statistics); **higher = more anomalous**
    (pyod's sign, the opposite of scikit-learn's ``score_samples``). This is the back-end of the
    paper's system and of most DCASE 2022-2024 systems (k = 1, cosine).

    Parameters
    ----------
    n_neighbors : int
        ``k``; capped per bank, with a warning, where a bank (less the clip left out) is smaller.
    metric : {"cosine", "euclidean"}
        ``1 - cos`` or the L2 distance.
    standardize : bool
        Standardise each bank's distances with the mean/std of its own training clips'
        leave-one-out distances before taking the minimum.
    threshold : {"gamma", "percentile"}
        How ``threshold_`` is fitted on the leave-one-out training scores.
    threshold_q : float
        Quantile of that fit (0.9 as in the DCASE baselines).
    device : str
        Where the search's matrix products run (``"cpu"``, ``"cuda"``, ``"auto"``).
    batch_size : int
        Queries per matrix product (memory: ``batch_size x bank rows`` float32 values).
    use_faiss : {"auto", True, False}
        Use FAISS for the search when installed (``"auto"``: only on the CPU).

    Attributes
    ----------
    bank_source_, bank_target_ : ndarray of shape (n_rows, n_features)
        Training embeddings of each domain (float64).
    n_neighbors_ : dict[str, int]
        ``k`` used per non-empty bank.
    mean_, std_ : dict[str, float | None]
        Statistics of each bank's leave-one-out training distances (used when ``standardize``).
    train_scores_ : ndarray of shape (n_train,)
        Leave-one-out training scores; ``threshold_`` is fitted on them.
    threshold_ : float
        Scores above it are anomalies (``predict`` = 1).
    n_features_in_ : int
        Embedding width.

    Raises
    ------
    DataError, ConfigError
        From ``fit`` on bad embeddings, domains or parameters; NotFittedError before ``fit``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(30, 8))
    >>> est = KNNScorer(n_neighbors=1).fit(x, domains=["source"] * 25 + ["target"] * 5)
    >>> bool(est.score_samples(-x[:1] * 10)[0] > est.score_samples(x[:1] + 0.01)[0])
    True
    """

    def __init__(
        self,
        n_neighbors: int = 1,
        metric: str = "cosine",
        standardize: bool = False,
        threshold: str = "gamma",
        threshold_q: float = 0.9,
        device: str = "cpu",
        batch_size: int = 4096,
        use_faiss: bool | str = "auto",
    ) -> None:
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.standardize = standardize
        self.threshold = threshold
        self.threshold_q = threshold_q
        self.device = device
        self.batch_size = batch_size
        self.use_faiss = use_faiss

    def _make_banks(self, x: np.ndarray, domains: np.ndarray) -> dict[str, Bank]:
        return {name: domain_bank(x, domains, name) for name in ("source", "target")}
