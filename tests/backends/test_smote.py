"""SMOTE interpolation and SMOTEScorer against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from backend_bruteforce import bank_scores, distance

from sslasd.backends import SMOTEScorer, smote
from sslasd.errors import ConfigError


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_points_lie_between_a_clip_and_one_of_its_k_nearest(rng, metric: str) -> None:
    x = rng.normal(size=(7, 4))
    points, parents = smote(x, 50, 3, seed=5, metric=metric)
    assert points.shape == (50, 4) and parents.shape == (50, 2)
    for p, (i, j) in zip(points, parents):
        order = sorted((distance(x[i], x[m], metric), m) for m in range(len(x)) if m != i)
        assert j in [m for _, m in order[:3]]
        step = x[j] - x[i]
        u = float(np.dot(p - x[i], step) / np.dot(step, step))
        assert 0.0 <= u < 1.0
        np.testing.assert_allclose(p, x[i] + u * step, atol=1e-12)
    again, _ = smote(x, 50, 3, seed=5, metric=metric)
    other, _ = smote(x, 50, 3, seed=6, metric=metric)
    np.testing.assert_array_equal(points, again)
    assert not np.allclose(points, other)


@pytest.mark.parametrize(("k", "standardize"), [(1, False), (3, True)])
def test_scores_match_brute_force(toy, k: int, standardize: bool) -> None:
    """A target clip's leave-one-out drops itself and every SMOTE point it is an end of."""
    train, domains, test = toy
    est = SMOTEScorer(n_synthetic=20, k_smote=2, random_state=4, n_neighbors=k, standardize=standardize)
    est.fit(train, domains=domains)
    points, pairs = smote(train[30:], 20, 2, seed=4, metric="cosine")
    target_rows = np.concatenate([train[30:], points])
    target_parents = [{i} for i in range(30, 36)] + [{30 + a, 30 + b} for a, b in pairs]
    np.testing.assert_allclose(est.bank_target_, target_rows, atol=1e-12)
    banks = {"source": (train[:30], [{i} for i in range(30)]), "target": (target_rows, target_parents)}
    train_ref, test_ref, _, _ = bank_scores(
        train, domains, test, banks, {"source": k, "target": k}, "cosine", standardize
    )
    np.testing.assert_allclose(est.train_scores_, train_ref, atol=1e-9)
    np.testing.assert_allclose(est.score_samples(test), test_ref, atol=1e-9)


def test_default_balances_the_banks(toy) -> None:
    train, domains, _ = toy
    est = SMOTEScorer().fit(train, domains=domains)
    assert est.n_synthetic_ == 24 and est.bank_target_.shape[0] == est.bank_source_.shape[0] == 30


def test_small_target_domains_warn(toy) -> None:
    train, domains, _ = toy
    with pytest.warns(UserWarning, match="k_smote=5 is more than the 3 target clips allow; using 2"):
        est = SMOTEScorer(n_synthetic=10).fit(train[:33], domains=domains[:33])
    assert est.k_smote_ == 2 and est.bank_target_.shape[0] == 13
    with pytest.warns(UserWarning, match="1 target clip"):
        est = SMOTEScorer(n_synthetic=10).fit(train[:31], domains=domains[:31])
    assert est.n_synthetic_ == 0 and est.bank_target_.shape[0] == 1


def test_smote_refuses_more_neighbours_than_other_rows(rng) -> None:
    with pytest.raises(ConfigError, match=r"k_smote: 3 for 3 rows; expected 1..2"):
        smote(rng.normal(size=(3, 2)), 5, 3, seed=0)
