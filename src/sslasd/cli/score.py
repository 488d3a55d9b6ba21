"""``sslasd score --run RUN --data ROOT [--out DIR] [--precision P] [--skip-bad]`` -> :func:`sslasd.score`."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="write challenge score and decision files for every test clip")
    p.add_argument("--run", required=True, help="fitted run folder")
    p.add_argument("--data", required=True, help="DCASE-layout data root with <machine>/test/")
    p.add_argument("--out", help="scores folder (default RUN/scores/<data folder name>)")
    p.add_argument(
        "--precision",
        choices=["auto", "32", "bf16"],
        default="auto",
        help="inference arithmetic: auto = bf16 on CUDA, float32 on the CPU; bf16 on a CPU is fast "
        "only with AMX / AVX512-BF16",
    )
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="leave out test files that cannot be used (bad name or audio) and list them",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sslasd.pipeline.score import score

    out = score(args.run, args.data, out=args.out, precision=args.precision, skip_bad=args.skip_bad)
    print(f"scores: {out}")
    return 0
