"""``sslasd synth OUT [--preset P] [--seed N] [--year-format Y] [--supplementary] [--overwrite]`` ->
:func:`sslasd.synth`."""

from __future__ import annotations

import argparse

from sslasd.cli._args import add_year_format


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth",
        help="write a synthetic DCASE-format data set",
        description="Write a synthetic machine-sound data set in the exact DCASE Task 2 layout: six machine "
        "types with operating attributes, a source and a target domain, varied faults.",
    )
    p.add_argument("out", metavar="OUT", help="data set root to create")
    p.add_argument("--preset", choices=("tiny", "small"), default="tiny", help="size (default tiny)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_year_format(p)
    p.add_argument(
        "--test-per-group",
        type=int,
        metavar="N",
        help="test clips per section, domain and label (default: the preset's; 15 for small)",
    )
    p.add_argument(
        "--supplementary",
        action="store_true",
        help="also write noise-only clips per machine to <machine>/supplemental/ (as DCASE 2025 did)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an earlier synthetic set in OUT")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sslasd.pipeline.synth import synth

    root = synth(
        args.out,
        preset=args.preset,
        seed=args.seed,
        year_format=args.year_format,
        test_per_group=args.test_per_group,
        supplementary=args.supplementary,
        overwrite=args.overwrite,
    )
    noise = sum(1 for _ in root.glob("*/supplemental/*.wav"))
    clips = sum(1 for _ in root.glob("*/*/*.wav")) - noise
    extra = f" + {noise} supplementary noise clips" if noise else ""
    print(f"{root}: {clips} clips{extra} ({args.preset}, seed {args.seed}, DCASE {args.year_format} names)")
    return 0
