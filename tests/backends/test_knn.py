"""KNNScorer and the kNN search against plain-Python brute force on toy embeddings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from backend_bruteforce import bank_scores, distance, distance_matrix, domain_banks

from sslasd.backends import KNNScorer, fit_threshold, knn_search
from sslasd.errors import ConfigError

CASES = [  # metric, n_neighbors, standardize
    ("cosine", 1, False),
    ("cosine", 3, True),
    ("euclidean", 2, True),
    ("euclidean", 1, False),
]


@pytest.mark.parametrize(("metric", "k", "standardize"), CASES)
def test_scores_match_brute_force(toy, metric: str, k: int, standardize: bool) -> None:
    train, domains, test = toy
    est = KNNScorer(n_neighbors=k, metric=metric, standardize=standardize).fit(train, domains=domains)
    train_ref, test_ref, mean, std = bank_scores(
        train, domains, test, domain_banks(train, domains), {"source": k, "target": k}, metric, standardize
    )
    np.testing.assert_allclose(est.train_scores_, train_ref, rtol=0, atol=1e-9)
    np.testing.assert_allclose(est.score_samples(test), test_ref, rtol=0, atol=1e-9)
    assert est.mean_ == pytest.approx(mean, abs=1e-12)
    assert est.std_ == pytest.approx(std, abs=1e-12)
    assert est.n_neighbors_ == {"source": k, "target": k}


def test_leave_one_out_drops_the_clip_but_not_its_twin(toy) -> None:
    """Rows 3 and 7 are equal: each one's leave-one-out source distance is 0 (its twin)."""
    train, domains, _ = toy
    est = KNNScorer(n_neighbors=1, metric="euclidean").fit(train, domains=domains)
    assert est.train_scores_[3] == 0.0 and est.train_scores_[7] == 0.0
    assert np.all(est.train_scores_[[0, 1, 2, 4, 5, 6]] > 0.0)


def test_k_larger_than_target_bank_is_capped_with_a_warning(toy) -> None:
    train, domains, test = toy
    with pytest.warns(UserWarning, match=r"n_neighbors=8 is more than the target bank allows \(6 rows, 5"):
        est = KNNScorer(n_neighbors=8).fit(train, domains=domains)
    assert est.n_neighbors == 8
    assert est.n_neighbors_ == {"source": 8, "target": 5}
    train_ref, test_ref, _, _ = bank_scores(
        train, domains, test, domain_banks(train, domains), est.n_neighbors_, "cosine", False
    )
    np.testing.assert_allclose(est.train_scores_, train_ref, atol=1e-9)
    np.testing.assert_allclose(est.score_samples(test), test_ref, atol=1e-9)


def test_no_domains_means_one_source_bank(toy) -> None:
    train, _, test = toy
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = KNNScorer(n_neighbors=2).fit(train)
    assert est.n_neighbors_ == {"source": 2}
    assert est.bank_target_.shape == (0, train.shape[1])
    banks = domain_banks(train, np.array(["source"] * len(train)))
    _, test_ref, _, _ = bank_scores(
        train, np.array(["source"] * len(train)), test, banks, {"source": 2}, "cosine", False
    )
    np.testing.assert_allclose(est.score_samples(test), test_ref, atol=1e-9)


def test_test_scores_use_training_statistics_only(toy) -> None:
    """With standardisation a clip's score does not depend on the other test clips."""
    train, domains, test = toy
    est = KNNScorer(n_neighbors=2, standardize=True).fit(train, domains=domains)
    together = est.score_samples(test)
    alone = np.array([est.score_samples(row[None])[0] for row in test])
    np.testing.assert_allclose(together, alone, atol=1e-12)


def test_min_over_banks_lets_a_target_like_clip_be_normal(toy) -> None:
    """A clip beside a target clip but far from every source clip gets its (small) target distance."""
    train, domains, _ = toy
    est = KNNScorer(n_neighbors=1, metric="euclidean").fit(train, domains=domains)
    clip = train[32] + 0.001
    source_gap = min(distance(clip, s, "euclidean") for s in train[:30])
    score = est.score_samples(clip[None])[0]
    assert score == pytest.approx(distance(clip, train[32], "euclidean"), abs=1e-12)
    assert score < source_gap


@pytest.mark.parametrize("method", ["gamma", "percentile"])
def test_threshold_is_fitted_on_the_leave_one_out_training_scores(toy, method: str) -> None:
    train, domains, test = toy
    est = KNNScorer(threshold=method, threshold_q=0.8).fit(train, domains=domains)
    assert est.threshold_ == fit_threshold(est.train_scores_, method=method, q=0.8)
    if method == "percentile":
        assert est.threshold_ == pytest.approx(np.percentile(est.train_scores_, 80.0))
    np.testing.assert_array_equal(est.predict(test), (est.score_samples(test) > est.threshold_).astype(int))


def test_batch_size_does_not_change_the_scores(toy) -> None:
    """Chunks of 4 queries split the leave-one-out exclusions across chunk borders."""
    train, domains, test = toy
    big = KNNScorer(n_neighbors=3, batch_size=4096).fit(train, domains=domains)
    small = KNNScorer(n_neighbors=3, batch_size=4).fit(train, domains=domains)
    np.testing.assert_array_equal(big.train_scores_, small.train_scores_)
    np.testing.assert_array_equal(big.score_samples(test), small.score_samples(test))


def _brute_search(queries, bank, k, metric, exclude=()):
    skip = set(map(tuple, exclude))
    out = []
    for i, q in enumerate(queries):
        d = sorted(distance(q, b, metric) for j, b in enumerate(bank) if (i, j) not in skip)
        out.append((d + [np.inf] * k)[:k])
    return np.array(out)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_knn_search_is_exact_on_a_larger_bank(rng, metric: str) -> None:
    """Float32 search + float64 re-ranking equals a float64 brute force to 1e-9 (the target: 1e-6)."""
    bank = rng.normal(size=(1500, 32)) + 3.0  # an offset makes float32 cancellation matter
    queries = rng.normal(size=(40, 32)) + 3.0
    dist, idx = knn_search(queries, bank, 5, metric=metric, batch_size=16, use_faiss=False)
    full = distance_matrix(queries, bank, metric)
    np.testing.assert_allclose(dist, np.sort(full, axis=1)[:, :5], rtol=0, atol=1e-9)
    np.testing.assert_allclose(dist, np.take_along_axis(full, idx, axis=1), rtol=0, atol=1e-12)


def test_knn_search_exclusions_and_running_out_of_rows(rng) -> None:
    """Excluded pairs are never neighbours; a query with fewer rows left gets inf and index -1."""
    bank = rng.normal(size=(4, 3))
    queries = bank.copy()
    exclude = [(0, 0), (1, 1), (1, 2), (1, 3), (2, 2), (3, 3)]
    pairs = tuple(np.array(exclude).T)
    dist, idx = knn_search(queries, bank, 2, metric="euclidean", exclude=pairs, use_faiss=False)
    np.testing.assert_allclose(dist, _brute_search(queries, bank, 2, "euclidean", exclude), atol=1e-12)
    assert idx[1].tolist() == [0, -1] and np.isinf(dist[1, 1])
    assert all((i, j) not in exclude for i, row in enumerate(idx) for j in row)


def test_faiss_path_equals_torch_path(toy) -> None:
    pytest.importorskip("faiss")
    train, domains, test = toy
    for metric in ("cosine", "euclidean"):
        plain = KNNScorer(n_neighbors=3, metric=metric, use_faiss=False).fit(train, domains=domains)
        fast = KNNScorer(n_neighbors=3, metric=metric, use_faiss=True).fit(train, domains=domains)
        np.testing.assert_allclose(fast.train_scores_, plain.train_scores_, atol=1e-12)
        np.testing.assert_allclose(fast.score_samples(test), plain.score_samples(test), atol=1e-12)


def test_use_faiss_true_without_faiss_is_refused(toy) -> None:
    try:
        import faiss  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("faiss is installed")
    train, domains, _ = toy
    with pytest.raises(ConfigError, match="faiss is not installed"):
        KNNScorer(use_faiss=True).fit(train, domains=domains)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_equals_cpu(toy) -> None:
    train, domains, test = toy
    cpu = KNNScorer(n_neighbors=2, standardize=True).fit(train, domains=domains)
    gpu = KNNScorer(n_neighbors=2, standardize=True, device="cuda").fit(train, domains=domains)
    np.testing.assert_allclose(gpu.train_scores_, cpu.train_scores_, atol=1e-12)
    np.testing.assert_allclose(gpu.score_samples(test), cpu.score_samples(test), atol=1e-12)
