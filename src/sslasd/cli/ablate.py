"""``sslasd ablate --out DIR --data D [D ...] [--config C] [--set k=v] [--variants V ...] [--seeds S ...]
[--reference V]`` and ``sslasd ablate --list [--config C] [--set k=v]``.

Calls :func:`sslasd.pipeline.ablate.ablate` and prints the markdown table; ``--list`` prints every
variant with the overrides it puts on the base config (:func:`sslasd.pipeline.ablate.variant_overrides`).
"""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ablate",
        help="ablation protocol: variants x training seeds x data sets, with paired intervals",
        description="Train every variant with every seed on every data set (resumable), evaluate, and "
        "print mean official scores with 95 % intervals of the difference to the full system and "
        "the floors. `--list` shows every variant and what it changes.",
    )
    p.add_argument("--out", help="protocol folder (re-run the same command to resume)")
    p.add_argument("--data", nargs="+", help="DCASE-layout data sets")
    p.add_argument("--config", default="cpu", help="base preset or YAML (default cpu)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")
    p.add_argument(
        "--variants",
        nargs="+",
        help="variant names (default: paper, frozen, lora_equal_rank, "
        "no_mga, no_vq, no_contrastive; all of them: --list; "
        "config:PRESET runs another preset or YAML on the same data, paired with the base)",
    )
    p.add_argument(
        "--reference",
        default="paper",
        metavar="VARIANT",
        help="the variant every difference is taken against (default paper, the full system); e.g. "
        "contrastive_views against grouped_batches, its own sampler control",
    )
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1], help="training seeds (default 0 1)")
    p.add_argument("--jobs", type=int, default=1, help="runs at once, one process each (default 1)")
    p.add_argument("--n-boot", type=int, default=1000, dest="n_boot", help="bootstrap replicates")
    p.add_argument(
        "--list",
        action="store_true",
        help="list the variants and their overrides of --config/--set, and exit",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sslasd.pipeline.ablate import ablate, variant_overrides
    from sslasd.pipeline.config import load_config

    if args.list:
        for name, overrides in variant_overrides(load_config(args.config, args.set)).items():
            print(f"{name:20s} {' '.join(overrides) or '(the base config: the full system)'}")
        return 0
    if not args.out or not args.data:
        print("sslasd ablate: error: give --out and --data (or --list)", file=sys.stderr)
        return 2
    table = ablate(
        args.out,
        args.data,
        config=args.config,
        set=args.set,
        variants=args.variants,
        seeds=args.seeds,
        jobs=args.jobs,
        n_boot=args.n_boot,
        reference=args.reference,
    )
    print(table.to_markdown())
    return 0
