"""Arguments that several verbs share, spelled once."""

from __future__ import annotations

import argparse

#: DCASE editions whose names the synthetic generator writes (sslasd synth, sslasd demo)
SYNTH_YEARS = (2020, 2021, 2022, 2023, 2024, 2025, 2026)


def add_year_format(parser: argparse.ArgumentParser) -> None:
    """``--year-format Y``: the DCASE edition of a synthetic set's names (2026: near and far mics)."""
    parser.add_argument(
        "--year-format",
        type=int,
        default=2024,
        choices=SYNTH_YEARS,
        help="DCASE edition whose file names and attribute CSVs are written (default 2024; "
        "2026: two channels, near and far microphone)",
    )
