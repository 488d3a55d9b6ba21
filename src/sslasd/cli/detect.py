"""``sslasd detect --run RUN PATH... [--machine M] [--hop S] [--json OUT] [--precision P]``.

Calls :func:`sslasd.detect`.
"""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "detect", help="score wav files or folders (any rate, any channels) with a run or bundle"
    )
    p.add_argument("--run", required=True, help="fitted run folder or exported bundle")
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders")
    p.add_argument("--machine", help="machine type (default: a known machine named in each path)")
    p.add_argument("--section", help="section, when the machine has several")
    p.add_argument("--window", type=float, help="window in seconds (the model's clip length)")
    p.add_argument("--hop", type=float, help="hop between windows in seconds (default: half a window)")
    p.add_argument("--json", help="also write all results with per-window timelines to this JSON file")
    p.add_argument(
        "--precision",
        choices=["auto", "32", "bf16"],
        default="auto",
        help="inference arithmetic: auto = bf16 on CUDA, float32 on the CPU; bf16 on a CPU is fast "
        "only with AMX / AVX512-BF16",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from sslasd.pipeline.detect import detect

    results = detect(
        args.run,
        args.paths,
        machine=args.machine,
        section=args.section,
        window=args.window,
        hop=args.hop,
        json=args.json,
        precision=args.precision,
    )
    table = Table("file", "machine", "score", "threshold", "decision", "windows")
    for r in results:
        if r.error:
            table.add_row(r.file, r.machine or "-", "-", "-", f"[red]error: {r.error}[/red]", "-")
        else:
            decision = "[bold red]ANOMALY[/bold red]" if r.anomaly else "normal"
            table.add_row(
                r.file, r.machine, f"{r.score:.4f}", f"{r.threshold:.4f}", decision, str(len(r.windows))
            )
    Console(width=160).print(table)
    failed = sum(r.error is not None for r in results)
    if failed:
        print(f"{failed} of {len(results)} files could not be scored")
    return 1 if failed else 0
