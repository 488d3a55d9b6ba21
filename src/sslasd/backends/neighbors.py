"""Exact k-nearest-neighbour search in a memory bank, by chunked matrix products.

A DCASE section has about 1,000 bank embeddings, a user's own machine may have 10^5, and the
test set is scored against the bank in one pass; a tree index does not help in 256 dimensions,
so the search is brute force done as matrix products. The heavy product runs in float32 on
``device`` (torch ``matmul``; FAISS ``IndexFlatIP``/``IndexFlatL2`` when installed and allowed) and
proposes ``k + 8`` candidates per query; the candidates' distances are then recomputed in
float64 on the host and the best ``k`` kept. The result therefore equals a float64 brute force
up to rounding (1e-12 on unit vectors), while the cost stays that of a float32 product.

Distances: ``"cosine"`` is ``1 - cos(q, b)`` clipped to ``[0, 2]``; ``"euclidean"`` is ``||q - b||``.
"""

from __future__ import annotations

import numpy as np
import torch

from sslasd._common import resolve_device
from sslasd.errors import ConfigError

METRICS = ("cosine", "euclidean")

# extra float32 candidates re-ranked in float64, so that near-ties mis-ordered by float32
# rounding (about 1e-7 on unit vectors) cannot change the k distances returned
_MARGIN = 8
# float64 values gathered at once when re-ranking (128 MiB)
_REFINE_BUDGET = 2**24


def knn_search(
    queries: np.ndarray,
    bank: np.ndarray,
    n_neighbors: int,
    *,
    metric: str = "cosine",
    exclude: tuple[np.ndarray, np.ndarray] | None = None,
    device: str = "cpu",
    batch_size: int = 4096,
    use_faiss: bool | str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Distances and indices of the ``n_neighbors`` nearest bank rows of every query, ascending.

    Parameters
    ----------
    queries, bank : ndarray of shape (n_queries, d) and (n_bank, d)
        Finite float arrays (validated by the caller); for ``"cosine"`` no row may be all zeros.
    n_neighbors : int
        ``k``, at most ``n_bank``.
    metric : {"cosine", "euclidean"}
    exclude : (query_rows, bank_rows) int arrays, optional
        Pairs that must not be neighbours: leave-one-out scoring of a bank's own members
        passes ``(i, i)`` for every member ``i`` (and the rows derived from it).
    device : str
        Where the float32 product runs (``"cpu"``, ``"cuda"``, ``"auto"``).
    batch_size : int
        Queries per product; the similarity block is ``batch_size x n_bank`` float32 values.
    use_faiss : {"auto", True, False}
        ``"auto"`` uses FAISS when it is importable and ``device`` is the CPU.

    Returns
    -------
    distances : ndarray of shape (n_queries, n_neighbors), float64
        ``inf`` where a query has fewer than ``k`` bank rows left after ``exclude``.
    indices : ndarray of shape (n_queries, n_neighbors), int64
        Bank rows, ``-1`` where the distance is ``inf``.

    Raises
    ------
    ConfigError
        ``n_neighbors`` outside ``1..n_bank``, unknown ``metric``, or ``use_faiss=True`` without FAISS.

    Example
    -------
    >>> bank = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> d, i = knn_search(np.array([[1.0, 0.1]]), bank, 1)
    >>> int(i[0, 0]), round(float(d[0, 0]), 4)
    (0, 0.005)
    """
    if metric not in METRICS:
        raise ConfigError(f"metric: {metric!r} is not one of {', '.join(METRICS)}")
    if not 1 <= n_neighbors <= len(bank):
        raise ConfigError(
            f"n_neighbors: {n_neighbors} for a bank of {len(bank)} rows; expected 1..{len(bank)}"
        )
    queries, bank = _prepare(queries, metric), _prepare(bank, metric)
    torch_device = resolve_device(device)
    searcher = (
        _FaissSearcher(bank, metric)
        if _faiss_wanted(use_faiss, torch_device)
        else _TorchSearcher(bank, metric, torch_device)
    )
    n_candidates = min(len(bank), n_neighbors + _MARGIN)
    ex_query, ex_bank = _sorted_pairs(exclude)
    distances = np.empty((len(queries), n_neighbors))
    indices = np.empty((len(queries), n_neighbors), dtype=np.int64)
    for start in range(0, len(queries), batch_size):
        stop = min(start + batch_size, len(queries))
        lo, hi = np.searchsorted(ex_query, [start, stop])
        candidates = searcher.candidates(
            queries[start:stop], n_candidates, ex_query[lo:hi] - start, ex_bank[lo:hi]
        )
        distances[start:stop], indices[start:stop] = _refine(
            queries[start:stop], bank, candidates, metric, n_neighbors
        )
    return distances, indices


def _prepare(x: np.ndarray, metric: str) -> np.ndarray:
    """Float64 rows, unit length for cosine (so that a dot product is the cosine)."""
    x = np.asarray(x, dtype=np.float64)
    if metric == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
    return x


def _sorted_pairs(exclude: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """Exclusion pairs sorted by query row, so that each chunk finds its own with a bisection."""
    if exclude is None:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    ex_query, ex_bank = (np.asarray(a, dtype=np.int64).ravel() for a in exclude)
    order = np.argsort(ex_query, kind="stable")
    return ex_query[order], ex_bank[order]


def _faiss_wanted(use_faiss: bool | str, device: torch.device) -> bool:
    if use_faiss not in ("auto", True, False):
        raise ConfigError(f"use_faiss: {use_faiss!r} is not one of 'auto', True, False")
    if use_faiss is False or (use_faiss == "auto" and device.type != "cpu"):
        return False
    try:
        import faiss  # noqa: F401
    except ImportError as exc:
        if use_faiss is True:
            raise ConfigError("use_faiss: True, but faiss is not installed (pip install faiss-cpu)") from exc
        return False
    return True


class _TorchSearcher:
    """Float32 candidates by ``queries @ bank.T`` on a torch device, exclusions set to -inf."""

    def __init__(self, bank: np.ndarray, metric: str, device: torch.device) -> None:
        self.device = device
        self.bank = torch.from_numpy(bank).to(device=device, dtype=torch.float32)
        # for euclidean, 2 q.b - |b|^2 ranks like -|q - b|^2 (|q|^2 is the same for all rows)
        self.bank_sq = (self.bank**2).sum(dim=1) if metric == "euclidean" else None

    @torch.inference_mode()
    def candidates(self, queries: np.ndarray, n: int, ex_pos: np.ndarray, ex_rows: np.ndarray) -> np.ndarray:
        q = torch.from_numpy(queries).to(device=self.device, dtype=torch.float32)
        sim = q @ self.bank.T
        if self.bank_sq is not None:
            sim.mul_(2.0).sub_(self.bank_sq)
        if ex_pos.size:
            rows = (torch.from_numpy(a).to(self.device) for a in (ex_pos, ex_rows))
            sim.index_put_(tuple(rows), torch.tensor(-torch.inf, device=self.device))
        values, idx = torch.topk(sim, n, dim=1, sorted=False)
        idx[values == -torch.inf] = -1
        return idx.cpu().numpy()


class _FaissSearcher:
    """Float32 candidates from a FAISS flat index; excluded rows are over-fetched and dropped."""

    def __init__(self, bank: np.ndarray, metric: str) -> None:
        import faiss

        bank32 = np.ascontiguousarray(bank, dtype=np.float32)
        self.index = (
            faiss.IndexFlatIP(bank.shape[1]) if metric == "cosine" else faiss.IndexFlatL2(bank.shape[1])
        )
        self.index.add(bank32)

    def candidates(self, queries: np.ndarray, n: int, ex_pos: np.ndarray, ex_rows: np.ndarray) -> np.ndarray:
        extra = int(np.bincount(ex_pos).max()) if ex_pos.size else 0
        _, idx = self.index.search(
            np.ascontiguousarray(queries, dtype=np.float32), min(self.index.ntotal, n + extra)
        )
        if ex_pos.size:
            hit_pair, hit_col = np.nonzero(idx[ex_pos] == ex_rows[:, None])
            idx[ex_pos[hit_pair], hit_col] = -1
        return idx.astype(np.int64)


def _refine(
    queries: np.ndarray, bank: np.ndarray, candidates: np.ndarray, metric: str, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Float64 distances of the candidates (``-1`` = none), the ``k`` smallest in ascending order."""
    distances = np.empty(candidates.shape)
    step = max(1, _REFINE_BUDGET // (candidates.shape[1] * bank.shape[1]))
    for start in range(0, len(candidates), step):
        cand = candidates[start : start + step]
        gathered = bank[np.maximum(cand, 0)]  # (n, m, d)
        q = queries[start : start + step, None, :]
        if metric == "cosine":
            block = np.clip(1.0 - np.einsum("nid,njd->nj", q, gathered), 0.0, 2.0)
        else:
            block = np.sqrt(((q - gathered) ** 2).sum(axis=2))
        distances[start : start + step] = np.where(cand >= 0, block, np.inf)
    order = np.argsort(distances, axis=1, kind="stable")[:, :k]
    best = np.take_along_axis(distances, order, axis=1)
    idx = np.where(np.isfinite(best), np.take_along_axis(candidates, order, axis=1), -1)
    return best, idx
