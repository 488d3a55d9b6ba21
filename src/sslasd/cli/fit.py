"""``sslasd fit --data ROOT --out RUN [--config C] [--set k=v ...]`` -> :func:`sslasd.fit`."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit", help="train a model and build its memory banks in a run folder")
    p.add_argument("--data", required=True, help="DCASE-layout data root")
    p.add_argument("--out", required=True, help="run folder (resumed if interrupted, no-op if finished)")
    p.add_argument(
        "--config",
        help="preset name (cpu, logmel, tiny, paper/dcase2024, ...) or YAML file; default cpu when "
        "its pretrained checkpoint is in the cache, else logmel (training-free)",
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    p.add_argument("--year", type=int, help="DCASE naming scheme (default: detected)")
    p.add_argument("--devices", help="devices for training (int or 'auto'); several GPUs use DDP")
    p.add_argument("--num-nodes", type=int, help="nodes for multi-node DDP")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="leave out unreadable or unusable audio files (listed in run.json) instead of failing "
        "(= --set data.skip_bad=true)",
    )
    p.add_argument(
        "--no-floors",
        action="store_true",
        help="do not fit the training-free floors (log-mel statistics, frozen backbone) beside the run",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sslasd.pipeline.fit import fit

    devices = int(args.devices) if args.devices and args.devices.isdigit() else args.devices
    path = fit(
        args.data,
        args.out,
        config=args.config,
        set=[*args.set, *(["data.skip_bad=true"] if args.skip_bad else [])],
        year=args.year,
        devices=devices,
        num_nodes=args.num_nodes,
        floors=not args.no_floors,
        progress=not args.no_progress,
    )
    print(f"run folder: {path}")
    return 0
