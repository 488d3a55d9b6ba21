"""``sslasd demo [--out DIR] [--preset tiny|small] [--config C] [--seed N] [--year-format Y]
[--channels P] [--overwrite]``.

Calls :func:`sslasd.demo`, then prints each machine's score, the official score and the report's path.
"""

from __future__ import annotations

import argparse

from sslasd.cli._args import add_year_format


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="synthesise data, train, score, evaluate and report, on the CPU in minutes",
        description="Run every step of the toolkit on a synthetic DCASE-format data set: no download "
        "needed. Uses the pretrained EfficientAT mn04 when `sslasd download efficientat-mn04` has "
        "fetched it, else trains a tiny model from scratch.",
    )
    p.add_argument(
        "--out", default="runs/demo", help="demo folder (default runs/demo); a finished demo is a no-op"
    )
    p.add_argument("--preset", choices=("tiny", "small"), default="small", help="synthetic data set size")
    p.add_argument(
        "--config",
        help="training config (default: cpu with the pretrained checkpoint, downloaded when the "
        "network allows, else logmel: training-free)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the data set and of training")
    add_year_format(p)
    p.add_argument(
        "--channels",
        choices=("mean", "near", "far", "stack", "subtract"),
        help="channel policy of the run (data.channels; default: the config's, mean)",
    )
    p.add_argument("--overwrite", action="store_true", help="delete an earlier demo in --out and start over")
    p.add_argument("--no-progress", action="store_true", help="no stage lines and no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sslasd.pipeline.demo import demo

    result = demo(
        out=args.out,
        preset=args.preset,
        config=args.config,
        seed=args.seed,
        year_format=args.year_format,
        channels=args.channels,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    for machine, value in sorted(result.machine_scores.items()):
        print(f"  {machine:<16} {100 * value:6.2f}")
    print(f"official score: {100 * result.official_score:.2f}")
    if result.floors:
        print(result.floors_summary())
    print(f"report: {result.report}")
    return 0
