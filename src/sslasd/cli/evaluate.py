"""``sslasd evaluate --scores DIR --data ROOT [--ground-truth FILE] [--year Y] [--json OUT] [--skip-bad]``.

Calls :func:`sslasd.evaluate` and prints its table, the official score on the last line.
"""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="official DCASE scores of a folder of challenge files",
        description="Print AUC / pAUC per machine and section and the DCASE year's official score.",
    )
    p.add_argument(
        "--scores", required=True, help="folder of anomaly_score_*.csv (and decision_result_*.csv)"
    )
    p.add_argument("--data", required=True, help="DCASE-layout data root with <machine>/test/")
    p.add_argument(
        "--ground-truth", dest="ground_truth", help="ground-truth file or folder (evaluation sets)"
    )
    p.add_argument(
        "--year", type=int, choices=range(2020, 2027), metavar="YEAR", help="rule to apply (2020-2026)"
    )
    p.add_argument("--json", help="write every number (and each clip's score) to this JSON file")
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="leave out test files that cannot be used (as score --skip-bad did)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sslasd.pipeline.evaluate import evaluate

    result = evaluate(
        args.scores,
        args.data,
        ground_truth=args.ground_truth,
        year=args.year,
        json=args.json,
        skip_bad=args.skip_bad,
    )
    print(result.format_table())
    if result.floors:
        print()
        print(result.floors_summary())
    return 0
