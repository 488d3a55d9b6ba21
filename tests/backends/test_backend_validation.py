"""Bad input raises an sslasd error naming what is wrong, before any computation."""

from __future__ import annotations

import numpy as np
import pytest

from sslasd.backends import KNNScorer, MahalanobisScorer
from sslasd.errors import ConfigError, DataError

GOOD = np.random.default_rng(0).normal(size=(10, 3))

BAD_X = [  # embeddings, message
    (GOOD[:, 0], "expected a 2-D float array"),
    (GOOD[None], "expected a 2-D float array"),
    ([["a", "b"], ["c", "d"]], "cannot be used as embeddings"),
    (np.empty((0, 3)), "cannot be used as embeddings"),
    (GOOD[:1], "n_samples=1 training embedding; a back-end needs at least 2"),
    (np.where(np.arange(10)[:, None] == 4, np.nan, GOOD), r"1 row\(s\) contain NaN or inf \(first: row 4\)"),
    (np.where(np.arange(10)[:, None] >= 8, np.inf, GOOD), r"2 row\(s\) contain NaN or inf \(first: row 8\)"),
    (np.where(np.arange(10)[:, None] == 2, 0.0, GOOD), r"all-zero row\(s\) \(first: row 2\); cosine"),
]


@pytest.mark.parametrize(("x", "message"), BAD_X)
def test_bad_embeddings(x: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        KNNScorer().fit(x)


BAD_DOMAINS = [
    (["source"] * 9, r"shape \(9,\) for 10 embeddings; expected \(10,\)"),
    ("source", "single string"),
    (["source"] * 8 + ["src", "tgt"], r"unknown value\(s\) \['src', 'tgt'\] \(first at row 8\)"),
    ([["source"] * 10], r"shape \(1, 10\)"),
]


@pytest.mark.parametrize(("domains", "message"), BAD_DOMAINS)
def test_bad_domains(domains: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        KNNScorer().fit(GOOD, domains=domains)


BAD_PARAMS = [
    (KNNScorer(n_neighbors=0), "n_neighbors: 0; expected an integer >= 1"),
    (KNNScorer(n_neighbors=2.5), "n_neighbors: 2.5"),
    (KNNScorer(metric="manhattan"), "metric: 'manhattan' is not one of 'cosine', 'euclidean'"),
    (KNNScorer(threshold="otsu"), "threshold: 'otsu' is not one of 'gamma', 'percentile'"),
    (KNNScorer(threshold_q=1.5), r"threshold_q: 1.5; expected a number in \(0, 1\)"),
    (KNNScorer(batch_size=0), "batch_size: 0"),
    (KNNScorer(use_faiss="yes"), "use_faiss: 'yes'"),
    (KNNScorer(device="tpu"), "device: 'tpu'"),
    (MahalanobisScorer(shrinkage=2.0), r"shrinkage: 2.0; expected a number in \[0, 1\]"),
    (MahalanobisScorer(shrinkage="oas"), "shrinkage: 'oas'"),
]


@pytest.mark.parametrize(("est", "message"), BAD_PARAMS)
def test_bad_parameters_are_refused_at_fit(est: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        est.fit(GOOD)


def test_scoring_checks_the_width_seen_in_fit() -> None:
    est = KNNScorer().fit(GOOD)
    with pytest.raises(DataError, match="X has 4 features, but KNNScorer is expecting 3 features"):
        est.score_samples(np.ones((2, 4)))
    with pytest.raises(DataError, match="NaN or inf"):
        est.predict(np.full((1, 3), np.nan))


def test_standardize_needs_spread_in_every_bank() -> None:
    x = np.concatenate([GOOD, [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]])
    domains = ["source"] * 10 + ["target"] * 2
    with pytest.raises(
        DataError, match="target bank's leave-one-out training distances have standard deviation"
    ):
        KNNScorer(standardize=True).fit(x, domains=domains)
