"""What each DCASE Task 2 edition (2020-2026) evaluates: machine types, test sections, the scoring rule.

The tables follow the organisers' data sets and evaluators (``dcase2020_task2_evaluator``,
``dcase2021_task2_evaluator``, ``dcase2022_evaluator``, nttcslab ``dcase2023/2024/2025_task2_evaluator``;
2026 keeps the 2024 rule and one section per machine type).
``dev`` lists the machine types and test sections of the development set, ``eval`` those of the
evaluation set (the sections whose test clips the organisers scored). In 2020 a "section" is a machine ID.

Example
-------
>>> MACHINES[2024]["eval"][:3]
('3DPrinter', 'AirCompressor', 'BrushlessMotor')
>>> TEST_SECTIONS[2020]["eval"]["ToyCar"]
('05', '06', '07')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sslasd.data.years import DEV_MACHINES, EVAL_MACHINES, YEARS
from sslasd.errors import ConfigError


def _listing(machines: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(machines, key=str.lower))


# Until 2022 the evaluation set has the development set's machine types; from 2023 its own.
MACHINES: dict[int, dict[str, tuple[str, ...]]] = {
    year: {
        "dev": _listing(DEV_MACHINES[year]),
        "eval": _listing(EVAL_MACHINES.get(year, DEV_MACHINES[year])),
    }
    for year in YEARS
}


def _same(machines: Iterable[str], sections: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {m: sections for m in machines}


_EVEN_IDS = ("00", "02", "04", "06")
_ODD_IDS = ("01", "03", "05")

TEST_SECTIONS: dict[int, dict[str, dict[str, tuple[str, ...]]]] = {
    2020: {
        "dev": {
            "fan": _EVEN_IDS,
            "pump": _EVEN_IDS,
            "slider": _EVEN_IDS,
            "ToyCar": ("01", "02", "03", "04"),
            "ToyConveyor": ("01", "02", "03"),
            "valve": _EVEN_IDS,
        },
        "eval": {
            "fan": _ODD_IDS,
            "pump": _ODD_IDS,
            "slider": _ODD_IDS,
            "ToyCar": ("05", "06", "07"),
            "ToyConveyor": ("04", "05", "06"),
            "valve": _ODD_IDS,
        },
    },
    **{
        year: {
            "dev": _same(MACHINES[year]["dev"], ("00", "01", "02")),
            "eval": _same(MACHINES[year]["eval"], ("03", "04", "05")),
        }
        for year in (2021, 2022)
    },
    **{
        year: {"dev": _same(MACHINES[year]["dev"], ("00",)), "eval": _same(MACHINES[year]["eval"], ("00",))}
        for year in (2023, 2024, 2025, 2026)
    },
}

_RULE_2022 = (
    "DCASE {year}: AUC_source = source normals + all anomalies of the section, AUC_target = target "
    "normals + all anomalies, pAUC (FPR <= 0.1) over all clips of the section; official score = harmonic "
    "mean of these three values over all sections and machines"
)

RULES: dict[int, str] = {
    2020: (
        "DCASE 2020: AUC and pAUC (FPR <= 0.1) over all test clips of each machine ID; official score = "
        "arithmetic mean over machines of the per-machine mean of AUC and pAUC over IDs"
    ),
    2021: (
        "DCASE 2021: AUC and pAUC (FPR <= 0.1) per section and domain (domain normals + domain "
        "anomalies); official score = harmonic mean of all these values over machines, sections and domains"
    ),
    **{year: _RULE_2022.format(year=year) for year in (2022, 2023, 2024, 2025, 2026)},
}


def check_year(year: object) -> int:
    """Return ``year`` as an int, or raise ConfigError naming the supported years.

    Raises
    ------
    ConfigError
        When ``year`` is not one of 2020-2026.
    """
    if isinstance(year, bool) or not isinstance(year, int) or year not in YEARS:
        raise ConfigError(f"year: got {year!r}, expected one of {', '.join(map(str, YEARS))}")
    return year


def coverage(year: int, sections: Iterable[tuple[str, str]]) -> str:
    """Which official test set the (machine, section) pairs cover exactly: ``dev``, ``eval`` or ``partial``.

    A score over a ``partial`` set follows the year's rule but is not comparable with published numbers.

    Example
    -------
    >>> coverage(2023, [(m, "00") for m in MACHINES[2023]["dev"]])
    'dev'
    >>> coverage(2023, [("fan", "00")])
    'partial'
    """
    seen = set(sections)
    for dataset in ("dev", "eval"):
        if seen == _pairs(TEST_SECTIONS[check_year(year)][dataset]):
            return dataset
    return "partial"


def _pairs(table: Mapping[str, tuple[str, ...]]) -> set[tuple[str, str]]:
    return {(machine, section) for machine, sections in table.items() for section in sections}
