"""The DCASE Task 2 file-name grammar, 2020-2026: parse a name into metadata, detect a data set's year.

The names, as the organisers wrote them (dev = development set, eval = evaluation set)::

    2020       normal_id_00_00000000.wav   anomaly_id_02_00000012.wav    (dev train/test, eval train)
               id_01_00000000.wav                                        (eval test: no label)
    2021       section_00_source_train_normal_0000_<free-form>.wav       (train; suffix not key_value)
               section_01_target_test_anomaly_0003.wav                   (dev test)
               section_03_source_test_0000.wav                           (eval test: domain, no label)
    2022-2026  section_00_target_train_normal_0005_vel_8_acc_3.wav       (train and dev test)
               section_00_source_test_normal_0001_noAttribute.wav        (2024+: attributes concealed)
               section_03_0000.wav                                       (eval test: neither)

2022-2026 share one scheme (2026 changed the audio, two channels, not the names); :func:`detect_year`
tells them apart by machine types and concealed attributes (see :mod:`sslasd.data.years`) and
otherwise reports the earliest edition that fits.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from types import MappingProxyType
from typing import Literal

from sslasd.data.clip import NO_ATTRIBUTE, Domain, Label, Split
from sslasd.data.years import DEV_MACHINES, EVAL_MACHINES, YEARS, check_year
from sslasd.errors import DataError

_2020 = re.compile(r"(?P<label>normal|anomaly)_id_(?P<section>\d{2})_(?P<number>\d+)\.wav")
_2020_EVAL = re.compile(r"id_(?P<section>\d{2})_(?P<number>\d+)\.wav")
_SECTION = re.compile(
    r"section_(?P<section>\d{2})_(?P<domain>source|target)_(?P<split>train|test)_(?P<label>normal|anomaly)"
    r"_(?P<number>\d+)(?:_(?P<suffix>.*))?\.wav"
)
_2021_EVAL = re.compile(r"section_(?P<section>\d{2})_(?P<domain>source|target)_test_(?P<number>\d+)\.wav")
_EVAL = re.compile(r"section_(?P<section>\d{2})_(?P<number>\d+)\.wav")

_SCHEMES = (
    "normal_id_00_00000000.wav / id_00_00000000.wav (2020), "
    "section_00_source_train_normal_0000[_attrs].wav / section_03_source_test_0000.wav (2021), "
    "section_00_source_test_anomaly_0000_<attrs|noAttribute>.wav / section_00_0000.wav (2022-2026)"
)


def _own_machines(year: int) -> frozenset[str]:
    """Machine types of ``year`` (dev and eval) that no other edition had."""
    mine = DEV_MACHINES[year] | EVAL_MACHINES.get(year, frozenset())
    others = set().union(*(DEV_MACHINES[y] | EVAL_MACHINES.get(y, frozenset()) for y in YEARS if y != year))
    return frozenset(mine - others)


_OWN_MACHINES = {year: _own_machines(year) for year in YEARS}


@dataclass(frozen=True)
class ParsedName:
    """What a DCASE file name says.

    Attributes
    ----------
    name : str
        The file name parsed.
    year : int
        The edition whose scheme was applied (given, or the earliest one the name fits).
    section : str
        Two digits; the machine ID for 2020.
    domain : {"source", "target", "none", "unknown"}
        ``none`` in 2020 (one domain); ``unknown`` for 2022+ evaluation test names.
    split : {"train", "test"} or None
        None where the name does not say (2020 ``normal_id`` names serve train and test).
    label : {"normal", "anomaly", "unknown"}
    number : int
        The clip number in the name.
    attributes : Mapping[str, str]
        Parsed ``key_value`` pairs (2022+). A suffix that is not well-formed pairs is kept whole as
        ``{"<all but the last token>": "<last token>"}`` so that ``Clip.attribute_string`` still
        reproduces it; an attribute CSV, when present, gives the proper pairs.
    attribute_string : str
        The raw suffix after the number (``vel_8_acc_3``, ``noAttribute``; free-form in 2021), "" if none.
    no_attribute : bool
        The suffix is ``noAttribute``.
    dataset : {"dev", "eval"}
        ``eval`` for the unlabelled evaluation test names, else ``dev``.
    """

    name: str
    year: int
    section: str
    domain: Domain
    split: Split | None
    label: Label
    number: int
    attributes: Mapping[str, str] = field(default_factory=dict)
    attribute_string: str = ""
    no_attribute: bool = False
    dataset: Literal["dev", "eval"] = "dev"

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))


def split_attribute_string(suffix: str) -> dict[str, str]:
    """``"vel_8_acc_3"`` -> ``{"vel": "8", "acc": "3"}``; see :class:`ParsedName` for other suffixes.

    Example
    -------
    >>> split_attribute_string("car_A1_spd_28V")
    {'car': 'A1', 'spd': '28V'}
    >>> split_attribute_string("mic_imp23absu_mic_pos_A")
    {'mic_imp23absu_mic_pos': 'A'}
    """
    if not suffix or suffix == NO_ATTRIBUTE:
        return {}
    tokens = suffix.split("_")
    keys = tokens[0::2]
    if len(tokens) % 2 == 0 and all(keys) and len(set(keys)) == len(keys):
        return dict(zip(keys, tokens[1::2]))
    head, _, last = suffix.rpartition("_")
    return {head: last} if head else {suffix: ""}


def parse_name(name: str, *, year: int | None = None) -> ParsedName:
    """Parse a DCASE Task 2 file name (a bare name or a path; only the last part is read).

    Parameters
    ----------
    name : str
        ``section_00_source_train_normal_0000_vel_8.wav``, ``fan/test/anomaly_id_00_00000001.wav``...
    year : int, optional
        Apply this edition's scheme; without it the earliest edition the name fits is used
        (suffix-less section names: 2021; with attributes: 2022; ``noAttribute``: 2024).

    Raises
    ------
    DataError
        The name fits no scheme, or not the scheme of ``year``; the message names the file.

    Example
    -------
    >>> p = parse_name("section_00_target_test_anomaly_0003_vel_8_acc_3.wav")
    >>> p.year, p.section, p.domain, p.split, p.label, dict(p.attributes)
    (2022, '00', 'target', 'test', 'anomaly', {'vel': '8', 'acc': '3'})
    """
    base = PurePath(os.fspath(name)).name
    if year is not None:
        check_year(year, what=f"{base}: year")
    parsed = _parse_any(base)
    if parsed is None:
        raise DataError(f"{base}: file name fits no DCASE Task 2 naming scheme (expected {_SCHEMES})")
    scheme_years = (2020,) if parsed["scheme"] == "2020" else _section_years(parsed)
    if year is not None and year not in scheme_years:
        low, high = min(scheme_years), max(scheme_years)
        found = f"{low}" if low == high else f"{low}-{high}"
        raise DataError(f"{base}: file name follows the {found} naming scheme, not the {year} one")
    return _build(base, parsed, year if year is not None else scheme_years[0])


def _parse_any(base: str) -> dict | None:
    for scheme, pattern in (
        ("2020", _2020),
        ("2020", _2020_EVAL),
        ("section", _SECTION),
        ("2021_eval", _2021_EVAL),
        ("eval", _EVAL),
    ):
        match = pattern.fullmatch(base)
        if match:
            return {"scheme": scheme, **match.groupdict()}
    return None


def _section_years(parsed: dict) -> tuple[int, ...]:
    """Editions whose scheme a section-style name fits; the first is assumed when no year is given."""
    if parsed["scheme"] == "2021_eval":
        return (2021,)
    if parsed["scheme"] == "eval":
        return (2022, 2023, 2024, 2025, 2026)
    suffix = parsed.get("suffix") or ""
    if not suffix:
        return (2021, 2022, 2023, 2024, 2025, 2026)
    if suffix == NO_ATTRIBUTE:
        return (2024, 2025, 2026, 2021, 2022, 2023)
    return (2022, 2023, 2024, 2025, 2026, 2021)


def _build(base: str, parsed: dict, year: int) -> ParsedName:
    number = int(parsed["number"])
    section = parsed["section"]
    scheme = parsed["scheme"]
    if scheme == "2020":
        label = parsed.get("label") or "unknown"
        if label == "unknown":
            return ParsedName(base, year, section, "none", "test", label, number, dataset="eval")
        return ParsedName(base, year, section, "none", "test" if label == "anomaly" else None, label, number)
    if scheme == "2021_eval":
        return ParsedName(base, year, section, parsed["domain"], "test", "unknown", number, dataset="eval")
    if scheme == "eval":
        return ParsedName(base, year, section, "unknown", "test", "unknown", number, dataset="eval")
    suffix = parsed.get("suffix") or ""
    attributes = {} if year == 2021 else split_attribute_string(suffix)
    return ParsedName(
        base,
        year,
        section,
        parsed["domain"],
        parsed["split"],
        parsed["label"],
        number,
        attributes=attributes,
        attribute_string=suffix,
        no_attribute=suffix == NO_ATTRIBUTE,
    )


def detect_year(names: Iterable[str | os.PathLike]) -> int:
    """The DCASE edition whose naming scheme a set of file names follows.

    Names may be relative paths ``<machine>/<split>/<file>`` (as :func:`index_dataset` passes them):
    the machine folder then helps tell 2022-2026 apart. Rules, in order: 2020 names -> 2020; section
    names whose test names carry no attributes (or ``section_XX_source_test_NNNN`` names) -> 2021; a
    machine type that only one edition had (2026's ``bearingEmu``..., an evaluation type of 2023-2026)
    -> that edition; a machine type of several editions' evaluation sets (``ToyDrone``: 2023 and 2026)
    -> the earliest; ``noAttribute`` -> 2025 when ``bearing`` conceals its attributes, else 2024;
    otherwise 2022 (2022-2026 share names and scoring rules, so the earliest is reported; pass the
    year to be explicit).

    Raises
    ------
    DataError
        No names, a name that fits no scheme, or names that mix schemes (with an example of each).

    Example
    -------
    >>> detect_year(["fan/train/normal_id_00_00000000.wav"])
    2020
    >>> detect_year(["gearbox/test/section_00_source_test_normal_0000_noAttribute.wav"])
    2024
    """
    items = [PurePath(os.fspath(n)) for n in names]
    if not items:
        raise DataError("cannot detect the DCASE year: no file names were given")
    parsed = [(p.parts[-3] if len(p.parts) >= 3 else None, parse_name(p.name)) for p in items]
    old = [p.name for _, p in parsed if p.year == 2020]
    new = [p.name for _, p in parsed if p.year != 2020]
    if old and new:
        raise DataError(f"file names mix the 2020 scheme ({old[0]}) and the section scheme ({new[0]})")
    if old:
        return 2020
    if _is_2021([p for _, p in parsed]):
        return 2021
    machines = {m for m, _ in parsed if m}
    for year in YEARS:
        if machines & _OWN_MACHINES[year]:
            return year
    for year in EVAL_MACHINES:
        if machines & EVAL_MACHINES[year]:
            return year
    concealed = {m for m, p in parsed if p.no_attribute}
    if any(p.no_attribute for _, p in parsed):
        return 2025 if "bearing" in concealed else 2024
    return 2022


def _is_2021(parsed: list[ParsedName]) -> bool:
    """2021: its test names carry no attributes; with no test names, neither do its train names."""
    tests = [p for p in parsed if p.split == "test"]
    pool = tests or parsed
    old = [p.name for p in pool if p.year == 2021]
    new = [p.name for p in pool if p.year != 2021]
    if old and new and tests:
        raise DataError(f"test file names mix the 2021 scheme ({old[0]}) and the 2022-2025 scheme ({new[0]})")
    return bool(old) and not new


def format_name(
    year: int,
    *,
    section: str,
    domain: Domain,
    split: Split,
    label: Label,
    number: int,
    attributes: Mapping[str, str] | None = None,
    no_attribute: bool = False,
) -> str:
    """Build the DCASE file name of ``year`` for a clip: the inverse of :func:`parse_name`.

    ``label="unknown"`` gives the evaluation test name of that year. Attributes are written only from
    2022 on (2021 train suffixes were free-form and are not reproduced).

    Example
    -------
    >>> format_name(2024, section="00", domain="source", split="train", label="normal", number=7,
    ...             attributes={"vel": "8"})
    'section_00_source_train_normal_0007_vel_8.wav'
    >>> format_name(2020, section="02", domain="none", split="test", label="anomaly", number=12)
    'anomaly_id_02_00000012.wav'
    """
    check_year(year)
    if not re.fullmatch(r"\d{2}", section):
        raise DataError(f"section: {section!r} is not two digits")
    if label not in ("normal", "anomaly", "unknown"):
        raise DataError(f"label: {label!r} is not normal, anomaly or unknown")
    if year == 2020:
        prefix = "" if label == "unknown" else f"{label}_"
        return f"{prefix}id_{section}_{number:08d}.wav"
    if domain not in ("source", "target"):
        raise DataError(f"domain: {domain!r} is not source or target (needed by the {year} names)")
    if label == "unknown":
        return (
            f"section_{section}_{domain}_test_{number:04d}.wav"
            if year == 2021
            else f"section_{section}_{number:04d}.wav"
        )
    stem = f"section_{section}_{domain}_{split}_{label}_{number:04d}"
    if year == 2021:
        return f"{stem}.wav"
    suffix = NO_ATTRIBUTE if no_attribute else "_".join(f"{k}_{v}" for k, v in (attributes or {}).items())
    return f"{stem}_{suffix}.wav" if suffix else f"{stem}.wav"
