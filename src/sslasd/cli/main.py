"""``sslasd`` command line: one subcommand per verb, each a thin wrapper over ``sslasd.<verb>``.

Exit codes: 0 on success (also when a step was already done), 1 on an sslasd error,
2 on a usage error (argparse's convention).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from sslasd.errors import SslasdError

# Subcommand modules under sslasd.cli; each defines ``add_parser(subparsers)`` that registers
# its parser with ``set_defaults(func=run)``, and ``run(args) -> int``.
COMMANDS = [
    "synth",
    "data",
    "fit",
    "score",
    "evaluate",
    "detect",
    "report",
    "export",
    "download",
    "demo",
    "ablate",
]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (importing only the cli modules, not the pipeline)."""
    from sslasd import __version__

    parser = argparse.ArgumentParser(
        prog="sslasd", description="Anomalous machine sound detection with self-supervised audio models."
    )
    parser.add_argument("--version", action="version", version=f"sslasd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"sslasd.cli.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the verb, print errors as one line; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SslasdError as exc:
        print(f"sslasd {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a read-only or missing folder, a file where a folder is needed, a full disk
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"sslasd {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"sslasd {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
