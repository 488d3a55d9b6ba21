"""MahalanobisScorer against scipy's mahalanobis with independently built covariances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import mahalanobis
from sklearn.covariance import ledoit_wolf

from sslasd.backends import MahalanobisScorer
from sslasd.errors import DataError


def _shrunk(x: np.ndarray, shrinkage: float | str) -> np.ndarray:
    if shrinkage == "ledoit_wolf":
        return ledoit_wolf(x)[0]
    cov = np.cov(x, rowvar=False, bias=True)
    return (1 - shrinkage) * cov + shrinkage * np.trace(cov) / cov.shape[0] * np.eye(cov.shape[0])


def _reference(groups: list[np.ndarray], queries: np.ndarray, shrinkage: float | str) -> np.ndarray:
    models = [(g.mean(axis=0), np.linalg.inv(_shrunk(g, shrinkage))) for g in groups]
    return np.array([min(mahalanobis(q, mu, vi) for mu, vi in models) for q in queries])


@pytest.mark.parametrize("shrinkage", ["ledoit_wolf", 0.3])
@pytest.mark.parametrize("per_domain", [True, False])
def test_scores_match_scipy(toy, shrinkage: float | str, per_domain: bool) -> None:
    """The 6 target clips in 5-d are fewer than dimensions + 1: shrinkage keeps it invertible."""
    train, domains, test = toy
    est = MahalanobisScorer(shrinkage=shrinkage, per_domain=per_domain).fit(train, domains=domains)
    groups = [train[:30], train[30:]] if per_domain else [train]
    assert est.domains_ == (["source", "target"] if per_domain else ["all"])
    np.testing.assert_allclose(est.score_samples(test), _reference(groups, test, shrinkage), rtol=1e-9)
    np.testing.assert_allclose(est.train_scores_, _reference(groups, train, shrinkage), rtol=1e-9)


def test_more_dimensions_than_clips(rng) -> None:
    train = rng.normal(size=(12, 40))
    domains = ["source"] * 8 + ["target"] * 4
    est = MahalanobisScorer().fit(train, domains=domains)
    scores = est.score_samples(rng.normal(size=(5, 40)))
    assert np.all(np.isfinite(scores)) and np.all(scores > 0)


def test_a_domain_with_one_clip_is_refused(toy) -> None:
    train, domains, _ = toy
    with pytest.raises(DataError, match="target domain has 1 clip"):
        MahalanobisScorer().fit(train[:31], domains=domains[:31])
    MahalanobisScorer(per_domain=False).fit(train[:31], domains=domains[:31])
