"""Put an ablation protocol's table into the README's quality section (never typed by hand).

    python bench/readme_quality.py PROTOCOL_DIR [--readme README.md] [--command "sslasd ablate ..."]

Replaces the text between ``<!-- quality:begin -->`` and ``<!-- quality:end -->`` with
``PROTOCOL_DIR/table.md`` (written by ``sslasd ablate``) and the command that made it.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

BEGIN, END = "<!-- quality:begin -->", "<!-- quality:end -->"


def splice(readme: str, table: str, command: str | None) -> str:
    """``readme`` with the block between the markers replaced by ``table`` (and the command)."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1:
        raise SystemExit(f"README: needs exactly one {BEGIN} and one {END}")
    block = table.strip() + "\n"
    if command:
        block = f"```bash\n{command.strip()}\n```\n\n" + block
    return re.sub(
        re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: f"{BEGIN}\n{block}{END}", readme, flags=re.S
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("protocol", type=Path)
    parser.add_argument("--readme", type=Path, default=Path(__file__).resolve().parents[1] / "README.md")
    parser.add_argument("--command", help="the sslasd ablate command that made the table")
    args = parser.parse_args(argv)
    table = (args.protocol / "table.md").read_text()
    args.readme.write_text(splice(args.readme.read_text(), table, args.command))
    print(f"{args.readme}: quality section updated from {args.protocol / 'table.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
