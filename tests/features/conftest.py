"""Fixtures of the feature tests: seeded test signals at 16 kHz."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh seeded generator per test."""
    return np.random.default_rng(1234)


@pytest.fixture
def signals(rng: np.random.Generator) -> np.ndarray:
    """Three 0.7-s float32 signals in 16-bit scale: a chirp in noise, pink-ish noise, clicks."""
    n = 11200
    t = np.arange(n) / 16000.0
    chirp = np.sin(2 * np.pi * (200 + 3000 * t) * t) * 3000 + rng.normal(0, 1000, n)
    noise = np.cumsum(rng.normal(0, 400, n))
    noise -= np.convolve(noise, np.ones(64) / 64, mode="same")
    clicks = np.zeros(n)
    clicks[rng.integers(0, n, 40)] = 20000.0
    clicks += rng.normal(0, 5, n)
    return np.stack([chirp, noise, clicks]).astype(np.float32)
