"""Back-ends: anomaly scores from embeddings, as scikit-learn/pyod-style estimators.

Every back-end has ``fit(embeddings, y=None, *, domains=None) -> self`` (``y`` ignored, as for
scikit-learn's outlier detectors), ``score_samples`` (**higher = more
anomalous**, pyod's sign), ``decision_function`` (score minus the fitted threshold) and ``predict``
(1 = anomaly). They work on arrays only and know nothing of clips, files or models.

Example
-------
>>> import numpy as np
>>> from sslasd.backends import make_backend
>>> x = np.random.default_rng(0).normal(size=(20, 4))
>>> est = make_backend("knn", n_neighbors=2, metric="euclidean")
>>> est = est.fit(x, domains=["source"] * 16 + ["target"] * 4)
>>> est.predict(np.vstack([x[0] + 0.01, x[0] * 100])).tolist()
[0, 1]
"""

from sslasd.backends.base import BaseScorer
from sslasd.backends.ensemble import ScoreEnsemble
from sslasd.backends.kmeans import KMeansScorer
from sslasd.backends.knn import KNNScorer
from sslasd.backends.mahalanobis import MahalanobisScorer
from sslasd.backends.neighbors import knn_search
from sslasd.backends.registry import BACKENDS, make_backend
from sslasd.backends.smote import SMOTEScorer, smote
from sslasd.backends.state import (
    backend_from_state,
    load_backends,
    pack_states,
    save_backend_state,
    save_backends,
    unpack_states,
)
from sslasd.backends.threshold import fit_threshold

__all__ = [
    "BACKENDS",
    "BaseScorer",
    "KMeansScorer",
    "KNNScorer",
    "MahalanobisScorer",
    "SMOTEScorer",
    "ScoreEnsemble",
    "backend_from_state",
    "fit_threshold",
    "knn_search",
    "load_backends",
    "make_backend",
    "pack_states",
    "save_backend_state",
    "save_backends",
    "smote",
    "unpack_states",
]
