"""``sslasd export --run RUN --out BUNDLE [--overwrite]`` -> :func:`sslasd.export`."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a self-contained bundle (merged weights + banks) for deployment")
    p.add_argument("--run", required=True, help="fitted run folder")
    p.add_argument("--out", required=True, help="bundle file to write (e.g. model.sslasd)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sslasd.pipeline.export import export

    print(f"bundle: {export(args.run, args.out, overwrite=args.overwrite)}")
    return 0
