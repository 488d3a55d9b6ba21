"""``sslasd report --run RUN [--scores DIR] [--out FILE] [--projection P]`` -> :func:`sslasd.report`."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a run",
        description="Score tables, ROC curves, score histograms, embedding map, training curves and the "
        "config of a run, in one HTML file with its images embedded (opens from disk, no script).",
    )
    p.add_argument("--run", required=True, help="run folder made by `sslasd fit`")
    p.add_argument(
        "--scores", help="scores folder or its tag under RUN/scores/ (default: the latest evaluated)"
    )
    p.add_argument("--out", help="HTML file to write (default RUN/report.html)")
    p.add_argument(
        "--projection",
        choices=("auto", "pca", "tsne"),
        default="auto",
        help="2-D projection of the embedding map (auto: t-SNE up to 1500 points, else PCA)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sslasd.pipeline.report import report

    path = report(args.run, scores=args.scores, out=args.out, projection=args.projection)
    print(f"report: {path}")
    return 0
