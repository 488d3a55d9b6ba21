"""``sslasd data summary ROOT [--year Y] [--skip-bad]`` -> :func:`sslasd.data_summary`."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="inspect a DCASE-layout data set", description="Inspect a data set.")
    verbs = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    s = verbs.add_parser(
        "summary",
        help="machines, sections, domains, clip counts, attributes, skipped files",
        description="Index a DCASE-layout data set and print, per machine, section and domain, the "
        "numbers of normal and anomalous clips per split, the attributes seen and what was skipped.",
    )
    s.add_argument(
        "root", metavar="ROOT", help="<root>/<machine>/{train,test}/*.wav, or dev_data/ + eval_data/"
    )
    s.add_argument("--year", type=int, help="DCASE edition (default: detected from the file names)")
    s.add_argument("--skip-bad", action="store_true", help="leave out unusable files and list them")
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from sslasd.pipeline.data_summary import data_summary

    Console().print(data_summary(args.root, year=args.year, skip_bad=args.skip_bad))
    return 0
