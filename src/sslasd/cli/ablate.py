"""``sslasd ablate --out DIR --data D [D ...] [--config C] [--set k=v] [--variants V ...] [--seeds S ...]
[--reference V]``.

Calls :func:`sslasd.pipeline.ablate.ablate` and prints the markdown table.
"""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ablate",
        help="ablation protocol: variants x training seeds x data sets, with paired intervals",
        description="Train every variant with every seed on every data set (resumable), evaluate, and "
        "print mean official scores with 95 %% intervals of the difference to the full system and "
        "the floors.",
    )
    p.add_argument("--out", required=True, help="protocol folder (re-run the same command to resume)")
    p.add_argument("--data", required=True, nargs="+", help="DCASE-layout data sets")
    p.add_argument("--config", default="cpu", help="base preset or YAML (default cpu)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")
    p.add_argument(
        "--variants",
        nargs="+",
        help="variant names (default: paper, frozen, lora_equal_rank, "
        "no_mga, no_vq, no_contrastive; also lora_rank_r, full_finetune, mga_per_machine...; "
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sslasd.pipeline.ablate import ablate

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
