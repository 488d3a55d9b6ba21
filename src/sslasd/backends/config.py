"""The ``backend``, ``threshold`` and ``ensemble`` sections of a run's config: the scorer fitted per
machine/section, its decision threshold, and which detectors a run's scores combine."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from sslasd._common.config_section import ConfigSection
from sslasd.backends.base import BaseScorer
from sslasd.backends.registry import make_backend
from sslasd.errors import ConfigError


class BackendConfig(ConfigSection):
    """The scorer fitted per machine/section on the training embeddings."""

    name: str = Field("knn", description="knn, kmeans, smote or mahalanobis.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments of the back-end class (e.g. n_neighbors)."
    )

    @model_validator(mode="after")
    def _check_backend(self) -> BackendConfig:
        """Name and parameters checked against the back-end registry now, not after training."""
        reserved = sorted({"threshold", "threshold_q"} & set(self.params))
        if reserved:
            raise ValueError(f"params {reserved}: set by threshold.method and threshold.q, not here")
        try:
            make_backend(self.name, **self.params)._check_params()
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self

    def build(self, threshold: ThresholdConfig) -> BaseScorer:
        """An unfitted scorer of these settings with ``threshold``'s decision rule."""
        return make_backend(self.name, **self.params, threshold=threshold.method, threshold_q=threshold.q)


class ThresholdConfig(ConfigSection):
    """Decision threshold fitted on leave-one-out training scores."""

    method: Literal["gamma", "percentile"] = "gamma"
    q: float = Field(0.9, gt=0, lt=1, description="Quantile (gamma) or percentile/100.")


class EnsembleConfig(ConfigSection):
    """Which detectors a run's scores combine: the run itself and/or its floors (``logmel``,
    ``frozen``), each standardised with its own training scores, summed with ``weights``
    (:class:`sslasd.backends.ScoreEnsemble`)."""

    members: list[Literal["run", "logmel", "frozen"]] = Field(
        default_factory=lambda: ["run"],
        min_length=1,
        description="run, logmel, frozen; ['run'] = no ensemble.",
    )
    weights: list[float] | None = Field(None, description="One positive weight per member; None = equal.")

    @model_validator(mode="after")
    def _check_members(self) -> EnsembleConfig:
        if len(set(self.members)) != len(self.members):
            raise ValueError(f"members {self.members}: each at most once")
        if self.weights is not None and (
            len(self.weights) != len(self.members) or any(not w > 0 for w in self.weights)
        ):
            raise ValueError(
                f"weights {self.weights}: need {len(self.members)} positive numbers, one per member"
            )
        return self
