"""``sslasd download NAME [--to DIR] [--force] [--no-verify] [--catalog FILE]`` and
``sslasd download --list`` -> :func:`sslasd.download` / :func:`sslasd.pipeline.download.list_assets`."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "download",
        help="fetch a public checkpoint or DCASE data set into the cache (SHA-256 checked)",
        description="Fetch a catalog asset into SSLASD_HOME (default ~/.cache/sslasd), resuming "
        "interrupted transfers and checking SHA-256. `--list` shows the catalog.",
    )
    p.add_argument("name", nargs="?", help="asset name, e.g. efficientat-mn04, beats-iter3, dcase2020-dev")
    p.add_argument("--to", help="parent folder instead of SSLASD_HOME/checkpoints or SSLASD_HOME/datasets")
    p.add_argument("--force", action="store_true", help="download again even if the asset is already there")
    p.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="accept files whose SHA-256 the catalog does not know (they cannot be checked)",
    )
    p.add_argument("--catalog", help="use this catalog JSON instead of the shipped one")
    p.add_argument("--list", action="store_true", help="list the catalog and exit")
    p.set_defaults(func=run)


def _progress(file_name: str, done: int, total: int | None) -> None:
    if not sys.stderr.isatty():
        return
    of_total = f" / {total / 1e6:.1f} MB" if total else " MB"
    print(f"\r{file_name}: {done / 1e6:.1f}{of_total}", end="", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from sslasd.pipeline.download import download, list_assets

    if args.list:
        for asset in list_assets(args.catalog):
            checked = "sha256" if not asset.unverified_files else "no sha256"
            print(f"{asset.name:24s} {asset.kind:10s} {checked:9s} {asset.target:40s} {asset.description}")
        return 0
    if not args.name:
        print("sslasd download: error: give an asset NAME or --list", file=sys.stderr)
        return 2
    path = download(
        args.name, to=args.to, force=args.force, verify=args.verify, catalog=args.catalog, progress=_progress
    )
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(path)
    return 0
