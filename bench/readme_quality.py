"""Put ablation protocol tables into the README's quality section (never typed by hand).

    python bench/readme_quality.py TABLE [TABLE ...] [--readme README.md]
        [--command "sslasd ablate ..." ...]

Replaces the text between ``<!-- quality:begin -->`` and ``<!-- quality:end -->`` with each TABLE,
in order, each after the command that made it (one ``--command`` per table, or one for all). A
TABLE is a table file written by ``sslasd ablate`` (``PROTOCOL_DIR/tables/<request>.md``, one per
request) or a protocol folder, which stands for its latest request's ``table.md``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from sslasd._common import atomic_write_text

BEGIN, END = "<!-- quality:begin -->", "<!-- quality:end -->"


def splice(readme: str, tables: list[str], commands: list[str]) -> str:
    """``readme`` with the block between the markers replaced by ``tables``, each after its command
    (``commands``: one per table, one before all of them, or none)."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1:
        raise SystemExit(f"README: needs exactly one {BEGIN} and one {END}")
    if len(commands) not in (0, 1, len(tables)):
        raise SystemExit(f"--command: give one per table ({len(tables)}) or one for all, got {len(commands)}")
    parts = []
    for i, table in enumerate(tables):
        command = (
            commands[i] if len(commands) == len(tables) else (commands[0] if commands and i == 0 else None)
        )
        if command:
            parts.append(f"```bash\n{command.strip()}\n```\n")
        parts.append(table.strip() + "\n")
    block = "\n".join(parts)
    return re.sub(
        re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: f"{BEGIN}\n{block}{END}", readme, flags=re.S
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", type=Path, nargs="+", help="table files or protocol folders")
    parser.add_argument("--readme", type=Path, default=Path(__file__).resolve().parents[1] / "README.md")
    parser.add_argument("--command", action="append", default=[], help="the sslasd ablate command of a table")
    args = parser.parse_args(argv)
    paths = [p / "table.md" if p.is_dir() else p for p in args.tables]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(f"no table: {', '.join(missing)} (run sslasd ablate first)")
    tables = [p.read_text() for p in paths]
    atomic_write_text(args.readme, splice(args.readme.read_text(), tables, args.command))
    sources = ", ".join(str(p) for p in paths)
    print(f"{args.readme}: quality section updated from {sources}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
