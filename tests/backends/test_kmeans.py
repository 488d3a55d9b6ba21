"""KMeansScorer: k-means centres of the source bank plus all target clips, against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from backend_bruteforce import bank_scores
from sklearn.cluster import KMeans

from sslasd.backends import KMeansScorer


@pytest.mark.parametrize(("metric", "k", "standardize"), [("cosine", 1, False), ("euclidean", 2, True)])
def test_scores_match_brute_force(toy, metric: str, k: int, standardize: bool) -> None:
    train, domains, test = toy
    est = KMeansScorer(n_clusters=5, random_state=3, n_neighbors=k, metric=metric, standardize=standardize)
    est.fit(train, domains=domains)
    source = train[:30]
    if metric == "cosine":  # spherical k-means: centres of the unit vectors
        source = source / np.linalg.norm(source, axis=1, keepdims=True)
    centres = KMeans(n_clusters=5, random_state=3, n_init="auto").fit(source).cluster_centers_
    np.testing.assert_allclose(est.bank_source_, centres, atol=1e-12)
    np.testing.assert_array_equal(est.bank_target_, train[30:])
    banks = {
        "source": (centres, [set() for _ in centres]),  # a centre is no training clip: nothing left out
        "target": (train[30:], [{i} for i in range(30, 36)]),
    }
    train_ref, test_ref, _, _ = bank_scores(
        train, domains, test, banks, {"source": k, "target": k}, metric, standardize
    )
    np.testing.assert_allclose(est.train_scores_, train_ref, atol=1e-9)
    np.testing.assert_allclose(est.score_samples(test), test_ref, atol=1e-9)


def test_more_clusters_than_source_clips_is_capped(toy) -> None:
    train, domains, _ = toy
    few = np.concatenate([train[:4], train[30:]])
    with pytest.warns(UserWarning, match="n_clusters=16 is more than the 4 source clips"):
        est = KMeansScorer(n_clusters=16).fit(few, domains=domains[26:])
    assert est.n_clusters == 16 and est.n_clusters_ == 4
    assert est.bank_source_.shape == (4, train.shape[1])


def test_same_seed_same_centres_other_seed_other_centres(toy) -> None:
    train, domains, _ = toy
    a = KMeansScorer(n_clusters=6, random_state=1).fit(train, domains=domains).bank_source_
    b = KMeansScorer(n_clusters=6, random_state=1).fit(train, domains=domains).bank_source_
    c = KMeansScorer(n_clusters=6, random_state=2).fit(train, domains=domains).bank_source_
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(np.sort(a, axis=0), np.sort(c, axis=0))
