"""Toy embeddings for the back-end tests: small enough for brute force in plain Python."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """The seeded generator every back-end test draws from."""
    return np.random.default_rng(0)


@pytest.fixture
def toy(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, domains, test): 30 source + 6 target clips in 5-d, 12 test clips.

    The domains are Gaussian blobs around two orthogonal directions, so that both cosine and
    Euclidean distance can tell an outlier from them. Two source rows are duplicates, so that
    leave-one-out must drop the clip itself and not its twin; the test set mixes clips near each
    domain with far ones.
    """
    source = rng.normal(size=(30, 5)) + np.array([3.0, 0.0, 0.0, 0.0, 0.0])
    source[7] = source[3]
    target = rng.normal(size=(6, 5)) + np.array([0.0, 3.0, 0.0, 0.0, 0.0])
    train = np.concatenate([source, target])
    domains = np.array(["source"] * 30 + ["target"] * 6)
    test = np.concatenate([source[:4] + 0.05, target[:4] - 0.05, rng.normal(scale=4.0, size=(4, 5))])
    return train, domains, test
