"""Back-end benchmark: KNNScorer against scikit-learn's brute-force cosine kNN.

Times ``KNNScorer.fit`` (which scores every bank embedding leave-one-out against the rest, for
the threshold) and ``KNNScorer.score_samples`` on random embeddings, then scikit-learn's
``NearestNeighbors(algorithm="brute", metric="cosine").kneighbors`` on the same queries, checks
that both give the same distances and prints a table. The JSON result goes to
``bench/results/bench_backend.json`` (git-ignored).

Usage::

    python bench/bench_backend.py            # 2,000 queries x 20,000 bank, about a minute on 2 cores
    python bench/bench_backend.py --full     # the issue's size: 10^4 queries x 10^5 bank
    python bench/bench_backend.py --device cuda --n-bank 100000 --n-queries 10000
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import torch
from sklearn.neighbors import NearestNeighbors

from sslasd._common import atomic_write_json
from sslasd.backends import KNNScorer

RESULTS = Path(__file__).resolve().parent / "results" / "bench_backend.json"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-queries", type=int, default=2_000)
    parser.add_argument("--n-bank", type=int, default=20_000)
    parser.add_argument("--full", action="store_true", help="10^4 queries x 10^5 bank (overrides the above)")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--use-faiss", choices=["auto", "true", "false"], default="false")
    parser.add_argument("--repeat", type=int, default=3, help="scoring runs; the best is reported")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.full:
        args.n_queries, args.n_bank = 10_000, 100_000
    return args


def _best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Smallest wall time of ``repeat`` calls (CUDA synchronised) and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    rng = np.random.default_rng(args.seed)
    bank = rng.normal(size=(args.n_bank, args.dim)).astype(np.float32)
    queries = rng.normal(size=(args.n_queries, args.dim)).astype(np.float32)
    use_faiss = {"auto": "auto", "true": True, "false": False}[args.use_faiss]
    est = KNNScorer(n_neighbors=args.k, device=args.device, batch_size=args.batch_size, use_faiss=use_faiss)

    fit_s, _ = _best_time(lambda: est.fit(bank), 1)
    ours_s, ours = _best_time(lambda: est.score_samples(queries), args.repeat)
    nn = NearestNeighbors(n_neighbors=args.k, algorithm="brute", metric="cosine").fit(bank)
    sk_s, (sk_dist, _) = _best_time(lambda: nn.kneighbors(queries), args.repeat)
    max_diff = float(np.max(np.abs(ours - sk_dist.astype(np.float64).mean(axis=1))))

    rows = [
        ("KNNScorer.fit (leave-one-out over the bank)", fit_s, args.n_bank),
        ("KNNScorer.score_samples", ours_s, args.n_queries),
        ("sklearn NearestNeighbors brute cosine", sk_s, args.n_queries),
    ]
    print(f"{args.n_queries} queries x {args.n_bank} bank, dim {args.dim}, k {args.k}, device {args.device}")
    print(f"{'step':<46} {'seconds':>9} {'queries/s':>11}")
    for name, seconds, n in rows:
        print(f"{name:<46} {seconds:>9.2f} {n / seconds:>11.0f}")
    print(f"speed-up of score_samples over sklearn: {sk_s / ours_s:.2f}x; max |difference|: {max_diff:.2e}")

    atomic_write_json(
        args.out,
        {
            "n_queries": args.n_queries,
            "n_bank": args.n_bank,
            "dim": args.dim,
            "k": args.k,
            "device": args.device,
            "batch_size": args.batch_size,
            "use_faiss": args.use_faiss,
            "seconds": {"fit": fit_s, "score_samples": ours_s, "sklearn_kneighbors": sk_s},
            "speedup_vs_sklearn": sk_s / ours_s,
            "max_abs_difference": max_diff,
            "machine": {
                "cpu_count": os.cpu_count(),
                "torch_threads": torch.get_num_threads(),
                "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
                "python": platform.python_version(),
                "torch": torch.__version__,
                "sklearn": sklearn.__version__,
                "numpy": np.__version__,
            },
        },
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
