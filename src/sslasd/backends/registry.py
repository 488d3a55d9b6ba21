"""Back-ends by name, so that a config says ``backend: knn`` rather than a dotted import path."""

from __future__ import annotations

from sslasd.backends.base import BaseScorer
from sslasd.backends.kmeans import KMeansScorer
from sslasd.backends.knn import KNNScorer
from sslasd.backends.mahalanobis import MahalanobisScorer
from sslasd.backends.smote import SMOTEScorer
from sslasd.errors import ConfigError

BACKENDS: dict[str, type[BaseScorer]] = {
    "knn": KNNScorer,
    "kmeans": KMeansScorer,
    "smote": SMOTEScorer,
    "mahalanobis": MahalanobisScorer,
}


def make_backend(name: str, **params: object) -> BaseScorer:
    """A new, unfitted back-end ``BACKENDS[name](**params)``.

    Raises
    ------
    ConfigError
        Unknown name or parameter; the message lists the known ones.

    Example
    -------
    >>> make_backend("knn", n_neighbors=3)
    KNNScorer(n_neighbors=3)
    """
    if name not in BACKENDS:
        raise ConfigError(f"backend: {name!r} is not known; known back-ends: {', '.join(BACKENDS)}")
    cls = BACKENDS[name]
    known = cls._get_param_names()
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ConfigError(f"backend {name!r}: unknown parameter(s) {unknown}; known: {', '.join(known)}")
    return cls(**params)


def backend_name(estimator: BaseScorer) -> str:
    """The registry name of ``estimator``'s class (ConfigError if it is not registered)."""
    for name, cls in BACKENDS.items():
        if type(estimator) is cls:
            return name
    raise ConfigError(
        f"{type(estimator).__name__} is not a registered back-end; known: {', '.join(BACKENDS)}"
    )
