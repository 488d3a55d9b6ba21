"""Plain-Python reference computations for the back-end tests (loops, no shared code with src)."""

from __future__ import annotations

import math

import numpy as np


def distance(a: np.ndarray, b: np.ndarray, metric: str) -> float:
    """Cosine distance ``1 - cos`` or Euclidean distance of two vectors."""
    if metric == "cosine":
        return 1.0 - float(np.dot(a, b)) / (math.sqrt(float(np.dot(a, a))) * math.sqrt(float(np.dot(b, b))))
    return math.sqrt(sum((float(u) - float(v)) ** 2 for u, v in zip(a, b)))


def distance_matrix(queries: np.ndarray, bank: np.ndarray, metric: str) -> np.ndarray:
    """All pairwise distances in float64 by broadcasting (for banks too big for the loops)."""
    if metric == "cosine":
        qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        bn = bank / np.linalg.norm(bank, axis=1, keepdims=True)
        return 1.0 - (qn[:, None, :] * bn[None, :, :]).sum(axis=2)
    return np.sqrt(((queries[:, None, :] - bank[None, :, :]) ** 2).sum(axis=2))


def mean_knn(query: np.ndarray, rows: list[np.ndarray], k: int, metric: str) -> float:
    """Mean of the ``k`` smallest distances from ``query`` to ``rows`` (inf if there are none)."""
    dists = sorted(distance(query, r, metric) for r in rows)
    return float(np.mean(dists[:k])) if dists else math.inf


def bank_scores(
    train: np.ndarray,
    domains: np.ndarray,
    test: np.ndarray,
    banks: dict[str, tuple[np.ndarray, list[set[int]]]],
    k: dict[str, int],
    metric: str,
    standardize: bool,
) -> tuple[np.ndarray, np.ndarray, dict[str, float], dict[str, float]]:
    """Training (leave-one-out) and test scores of a min-over-banks kNN scorer.

    ``banks[name] = (rows, parents)``: ``parents[r]`` is the set of training clips bank row ``r``
    is made from; a training clip is scored without the rows it is a parent of.
    """
    train_d: dict[str, list[float]] = {}
    test_d: dict[str, list[float]] = {}
    for name, (rows, parents) in banks.items():
        train_d[name] = [
            mean_knn(x, [r for r, p in zip(rows, parents) if i not in p], k[name], metric)
            for i, x in enumerate(train)
        ]
        test_d[name] = [mean_knn(x, list(rows), k[name], metric) for x in test]
    mean, std = {}, {}
    for name in banks:
        own = [d for d, dom in zip(train_d[name], domains) if dom == name and math.isfinite(d)]
        mean[name] = sum(own) / len(own)
        std[name] = math.sqrt(sum((d - mean[name]) ** 2 for d in own) / len(own))

    def combine(per_bank: dict[str, list[float]], n: int) -> np.ndarray:
        out = []
        for i in range(n):
            values = [(per_bank[b][i] - mean[b]) / std[b] if standardize else per_bank[b][i] for b in banks]
            out.append(min(values))
        return np.array(out)

    return combine(train_d, len(train)), combine(test_d, len(test)), mean, std


def domain_banks(train: np.ndarray, domains: np.ndarray) -> dict[str, tuple[np.ndarray, list[set[int]]]]:
    """Each domain's training clips as a bank, each row its own parent."""
    banks = {}
    for name in ("source", "target"):
        idx = [i for i, d in enumerate(domains) if d == name]
        if idx:
            banks[name] = (train[idx], [{i} for i in idx])
    return banks
