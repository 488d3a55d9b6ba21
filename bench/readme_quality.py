"""Put ablation protocol tables into the README's quality section (never typed by hand).

    python bench/readme_quality.py TABLE [TABLE ...] [--readme README.md]
        [--command "sslasd ablate ..." ...] [--summary [--summary-skip N ...]]

Replaces the text between ``<!-- quality:begin -->`` and ``<!-- quality:end -->`` with each TABLE,
in order, each after the command that made it (one ``--command`` per table, or one for all). A
TABLE is a table file written by ``sslasd ablate`` (``PROTOCOL_DIR/tables/<request>.md``, one per
request) or a protocol folder, which stands for its latest request's ``table.md``.

``--summary`` puts one table first that a reader can take in at a glance: every detector's
difference to its reference, one line per detector, reference and data sets, taken from the numbered
table below with the most runs (the later one on a tie), read from each table's JSON twin (the same
name, ``.json``). ``--summary-skip N`` leaves table N (1-based) out of it, e.g. a table measured
on an older default that is kept for the record.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from sslasd._common import atomic_write_text
from sslasd.evaluation.result import Interval
from sslasd.pipeline.ablate import FULL

BEGIN, END = "<!-- quality:begin -->", "<!-- quality:end -->"
SUMMARY_INTRO = (
    "**Summary.** Every detector against its reference, each line from the numbered table below with "
    "the most runs (the later one on a tie); the intervals are that table's.\n\n"
)


def summary(tables: list[dict[str, Any]], skip: set[int] = frozenset()) -> str:
    """One markdown table of every detector's difference to its reference, over ``tables`` (the
    ``table.json`` contents, numbered from 1 as in the README) but those numbered in ``skip``.

    A detector measured in several tables against the same reference on the same data sets (with the
    same ``--set``) gets the line of the table with the most runs, the later one on a tie: a second
    training seed supersedes a one-seed table. Floors are listed like the variants (floor minus the
    full system), each with the full system's seeds, from tables whose reference is the full system.
    """
    best: dict[tuple[str, str, str], tuple[int, int, dict[str, Any], Interval, Interval | None]] = {}
    for number, table in enumerate(tables, 1):
        if number in skip:
            continue
        request = table["request"]
        reference = request.get("reference", FULL)  # tables written before there was a choice
        base = " ".join(f"`{x}`" for x in request["set"])
        against = f"`{reference}`" + (f" with {base}" if base else "")
        data = ", ".join(request["data_names"])
        rows = [
            (row, _interval(row["difference"]), _interval(row.get("nmi_difference")))
            for row in table["variants"]
        ]
        # a floor's score difference is stored as reference minus floor (shown as floor minus
        # reference, like its table); its NMI difference is stored as floor minus reference already
        rows += [
            (
                {**row, "name": f"floor: {row['name']}"},
                Interval(**row["difference"]).negated(),  # never None for a floor
                _interval(row.get("nmi_difference")),
            )
            for row in table["floors"]
            if reference == FULL  # floors answer for the full system only
        ]
        for row, diff, nmi in rows:
            if diff is None:
                continue  # the reference itself
            runs = sum(len(v) for v in row["official_scores"].values())
            if row["name"].startswith("floor: "):
                runs = len(request["seeds"]) * len(request["data_names"])  # the reference's runs
            key = (row["name"], against, data)
            if key not in best or runs >= best[key][0]:
                best[key] = (runs, number, {**row, "seeds": request["seeds"]}, diff, nmi)
    lines = [
        "| detector | against | data sets | training seeds | official score, points [95 % CI] "
        "| pseudo-label NMI [95 % CI] | table |",
        "|---|---|---|---|---|---|---|",
    ]
    families = list(dict.fromkeys(data for _, _, data in best))
    # by data sets (in order of appearance), the variants before the floors
    order = sorted(best, key=lambda k: (families.index(k[2]), k[0].startswith("floor: ")))
    for name, against, data in order:
        _, number, row, diff, nmi = best[(name, against, data)]
        seeds = " ".join(str(s) for s in row["seeds"])
        nmi_text = "-" if nmi is None else nmi.format(scale=1.0, digits=3)
        lines.append(f"| {name} | {against} | {data} | {seeds} | {diff.format()} | {nmi_text} | {number} |")
    return "\n".join(lines) + "\n"


def _interval(stored: dict[str, float] | None) -> Interval | None:
    return None if stored is None else Interval(**stored)


def splice(readme: str, tables: list[str], commands: list[str], head: str | None = None) -> str:
    """``readme`` with the block between the markers replaced by ``tables``, each after its command
    (``commands``: one per table, one before all of them, or none); with ``head`` (a summary), that
    first and the tables numbered."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1:
        raise SystemExit(f"README: needs exactly one {BEGIN} and one {END}")
    if len(commands) not in (0, 1, len(tables)):
        raise SystemExit(f"--command: give one per table ({len(tables)}) or one for all, got {len(commands)}")
    parts = [head.strip() + "\n"] if head else []
    for i, table in enumerate(tables):
        command = (
            commands[i] if len(commands) == len(tables) else (commands[0] if commands and i == 0 else None)
        )
        if head:
            parts.append(f"**Table {i + 1}**\n")
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
    parser.add_argument("--summary", action="store_true", help="a summary table first, from the tables' JSON")
    parser.add_argument(
        "--summary-skip", type=int, action="append", default=[], metavar="N", help="leave table N out of it"
    )
    args = parser.parse_args(argv)
    paths = [p / "table.md" if p.is_dir() else p for p in args.tables]
    needed = paths + (
        [p.with_name(p.name.removesuffix(".md") + ".json") for p in paths] if args.summary else []
    )
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise SystemExit(f"no table: {', '.join(missing)} (run sslasd ablate first)")
    outside = [n for n in args.summary_skip if not 1 <= n <= len(paths)]
    if outside:
        raise SystemExit(f"--summary-skip: no table {outside} (tables are numbered 1 to {len(paths)})")
    tables = [p.read_text() for p in paths]
    head = None
    if args.summary:
        parsed = [json.loads(p.read_text()) for p in needed[len(paths) :]]
        head = SUMMARY_INTRO + summary(parsed, set(args.summary_skip))
    atomic_write_text(args.readme, splice(args.readme.read_text(), tables, args.command, head))
    sources = ", ".join(str(p) for p in paths)
    print(f"{args.readme}: quality section updated from {sources}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
