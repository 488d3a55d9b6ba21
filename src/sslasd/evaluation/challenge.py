"""DCASE Task 2 submission files: ``anomaly_score_*.csv`` and ``decision_result_*.csv``.

Each file is a CSV without header, one ``<wav file name>,<value>`` row per test clip of one
machine/section (the baselines write them with ``csv.writer``, ``\\n`` line ends). The file name
grammar changed over the years, as the organisers' evaluators read it:

=========  =====================================================================================
year       file name
=========  =====================================================================================
2020       ``anomaly_score_<machine>_id_<XX>.csv`` (no ``_test``; the 2020 task had no decision
           files, ``decision_result_<machine>_id_<XX>.csv`` is written and read here as an extension)
2021       ``anomaly_score_<machine>_section_<XX>_<source|target>_test.csv``: one file per domain
2022-2026  ``anomaly_score_<machine>_section_<XX>_test.csv``
=========  =====================================================================================

``decision_result_`` files follow the same grammar with 0/1 values (1 = anomaly).

Example
-------
>>> challenge_file_name("anomaly_score", "fan", "03", 2020)
'anomaly_score_fan_id_03.csv'
>>> challenge_file_name("decision_result", "ToyCar", "00", 2021, domain="target")
'decision_result_ToyCar_section_00_target_test.csv'
>>> challenge_file_name("anomaly_score", "bearing", "00", 2024)
'anomaly_score_bearing_section_00_test.csv'
>>> challenge_file_name("anomaly_score", "ToyCarEmu", "00", 2026)
'anomaly_score_ToyCarEmu_section_00_test.csv'
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sslasd._common import atomic_write_text
from sslasd.errors import ConfigError, DataError
from sslasd.evaluation.join import format_names
from sslasd.evaluation.years import check_year

Kind = Literal["anomaly_score", "decision_result"]
KINDS: tuple[str, ...] = ("anomaly_score", "decision_result")

_SECTION = re.compile(r"^\d{2}$")
_NAME_2020 = re.compile(
    r"^(?P<kind>anomaly_score|decision_result)_(?P<machine>.+)_id_(?P<section>\d{2})\.csv$"
)
_NAME_2021 = re.compile(
    r"^(?P<kind>anomaly_score|decision_result)_(?P<machine>.+)_section_(?P<section>\d{2})"
    r"_(?P<domain>source|target)_test\.csv$"
)
_NAME_2022 = re.compile(
    r"^(?P<kind>anomaly_score|decision_result)_(?P<machine>.+)_section_(?P<section>\d{2})_test\.csv$"
)
_DOMAIN_IN_2021_NAME = re.compile(r"^section_\d{2}_(?P<domain>source|target)_test_")


@dataclass(frozen=True)
class ChallengeScores:
    """What the challenge files of one machine/section hold.

    Attributes
    ----------
    machine, section : str
    scores : dict of str to float
        Anomaly score per wav file name.
    decisions : dict of str to int or None
        0/1 decision per wav file name; None when there is no decision file.
    files : tuple of Path
        The files read.
    """

    machine: str
    section: str
    scores: dict[str, float]
    decisions: dict[str, int] | None
    files: tuple[Path, ...]


def challenge_file_name(
    kind: Kind, machine: str, section: str, year: int, *, domain: str | None = None
) -> str:
    """The file name the challenge expects for ``kind`` of ``machine``/``section`` in ``year``.

    Parameters
    ----------
    kind : {"anomaly_score", "decision_result"}
    machine : str
        Machine type (the data folder name).
    section : str
        Two-digit section (machine ID in 2020).
    year : int
        2020-2026.
    domain : {"source", "target"}, optional
        Required for 2021 (one file per domain), refused otherwise.

    Raises
    ------
    ConfigError
        On an unknown kind or year, a section that is not two digits, a machine name that is empty
        or holds a path separator, or a domain given (or missing) against the year's grammar.
    """
    year = check_year(year)
    if kind not in KINDS:
        raise ConfigError(f"kind: got {kind!r}, expected one of {', '.join(KINDS)}")
    if not machine or "/" in machine or "\\" in machine or machine != machine.strip():
        raise ConfigError(f"machine: got {machine!r}, expected a machine folder name")
    if not _SECTION.match(str(section)):
        raise ConfigError(f"section: got {section!r}, expected two digits such as '00'")
    if year == 2021 and domain not in ("source", "target"):
        raise ConfigError(
            f"domain: got {domain!r}; DCASE 2021 files are per domain, expected 'source' or 'target'"
        )
    if year != 2021 and domain is not None:
        raise ConfigError(f"domain: got {domain!r}; only DCASE 2021 files are per domain")
    if year == 2020:
        return f"{kind}_{machine}_id_{section}.csv"
    if year == 2021:
        return f"{kind}_{machine}_section_{section}_{domain}_test.csv"
    return f"{kind}_{machine}_section_{section}_test.csv"


def write_challenge_files(
    out_dir: str | os.PathLike,
    machine: str,
    section: str,
    scores: Mapping[str, float],
    decisions: Mapping[str, int] | None = None,
    *,
    year: int,
    domains: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write the anomaly-score (and decision) files of one machine/section, atomically.

    Rows are sorted by file name; scores are written as Python writes floats (shortest repr that
    reads back exactly), decisions as 0/1.

    Parameters
    ----------
    out_dir : path
        Folder to write into (created if needed).
    machine, section : str
        As in :func:`challenge_file_name`.
    scores : mapping of str to float
        Anomaly score (higher = more anomalous) per wav file name.
    decisions : mapping of str to int, optional
        0/1 decision per wav file name; must name the same files as ``scores``.
    year : int
        2020-2026: the file name grammar.
    domains : mapping of str to str, optional
        2021 only: domain of each file name; by default read from the 2021 name
        (``section_00_source_test_...``).

    Returns
    -------
    list of Path
        The files written: the score file(s), then the decision file(s).

    Raises
    ------
    DataError
        On no scores, a non-finite score, a decision not 0/1, decisions for other files than the
        scores, a file name with a comma, quote, newline or path separator, or (2021) a name whose
        domain is unknown.
    ConfigError
        As :func:`challenge_file_name`.

    Example
    -------
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> paths = write_challenge_files(out, "fan", "00", {"b.wav": 0.5, "a.wav": 1.0}, year=2024)
    >>> paths[0].name, paths[0].read_text()
    ('anomaly_score_fan_section_00_test.csv', 'a.wav,1.0\\nb.wav,0.5\\n')
    """
    where = f"{machine} section {section}"
    challenge_file_name("anomaly_score", machine, section, year, domain="source" if year == 2021 else None)
    values = _checked_scores(scores, where)
    decided = None if decisions is None else _checked_decisions(decisions, set(values), where)
    by_domain: dict[str | None, list[str]] = {}
    for name in sorted(values):
        by_domain.setdefault(_domain_of(name, domains, where) if year == 2021 else None, []).append(name)
    out = Path(out_dir)
    written: list[Path] = []
    outputs: tuple[tuple[Kind, Mapping[str, float] | None], ...] = (
        ("anomaly_score", values),
        ("decision_result", decided),
    )
    for kind, table in outputs:
        if table is None:
            continue
        for domain, names in sorted(by_domain.items(), key=lambda item: str(item[0])):
            path = out / challenge_file_name(kind, machine, section, year, domain=domain)
            atomic_write_text(path, "".join(f"{name},{table[name]!r}\n" for name in names))
            written.append(path)
    return written


def read_challenge_file(path: str | os.PathLike, kind: Kind) -> dict[str, float] | dict[str, int]:
    """Read one challenge CSV: file name -> score (``anomaly_score``) or 0/1 decision (``decision_result``).

    Raises
    ------
    DataError
        When the file is missing or empty, a row has not exactly two fields, a value is not a finite
        number (scores) or not 0/1 (decisions), or a file name repeats. Messages name the file and line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's byte-order mark is not a name
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    table: dict[str, float] = {}
    repeated: set[str] = set()
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 2:
            raise DataError(
                f"{path}:{line_no}: got {len(row)} fields {row!r}, expected '<wav file name>,<value>'"
            )
        name, raw = row[0].strip(), row[1].strip()
        value = _parse_value(raw, kind)
        if value is None:
            expected = "a finite number" if kind == "anomaly_score" else "0 or 1"
            hint = " (challenge files have no header)" if line_no == 1 else ""
            raise DataError(f"{path}:{line_no}: value {raw!r} for {name!r} is not {expected}{hint}")
        if name in table:
            repeated.add(name)
        table[name] = value
    if repeated:
        raise DataError(f"{path}: {len(repeated)} file names appear more than once: {format_names(repeated)}")
    if not table:
        raise DataError(f"{path}: no rows, expected one '<wav file name>,<value>' row per test clip")
    if kind == "decision_result":
        return {name: int(v) for name, v in table.items()}
    return table


def read_challenge_dir(
    directory: str | os.PathLike, *, year: int | None = None
) -> dict[tuple[str, str], ChallengeScores]:
    """Read every challenge file in ``directory``, grouped by (machine, section).

    Files whose names do not start with ``anomaly_score_`` or ``decision_result_`` are ignored.
    2021 domain files of one section are merged.

    Parameters
    ----------
    directory : path
    year : int, optional
        Expect that year's file name grammar; by default the grammar is recognised from the names
        (2022-2026 share one).

    Raises
    ------
    DataError
        When the folder is missing or has no ``anomaly_score_*.csv``, a file name does not follow the
        (recognised) grammar, grammars are mixed, a decision file has no score file or names other
        clips than it, a file name repeats across domain files, or a file is malformed.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder of challenge files")
    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.name.startswith(("anomaly_score_", "decision_result_"))
    )
    if not any(p.name.startswith("anomaly_score_") for p in files):
        raise DataError(f"{folder}: no anomaly_score_*.csv files")
    grammars = _grammars(year)
    parsed: dict[tuple[str, str], dict[str, list[Path]]] = {}
    used: set[int] = set()
    for path in files:
        match = next(((y, m) for y, pattern in grammars for m in [pattern.match(path.name)] if m), None)
        if match is None:
            expected = " or ".join(_EXPECTED[y] for y, _ in grammars)
            raise DataError(f"{path}: file name does not follow {expected}")
        used.add(match[0])
        key = (match[1]["machine"], match[1]["section"])
        parsed.setdefault(key, {"anomaly_score": [], "decision_result": []})[match[1]["kind"]].append(path)
    if len(used) > 1:
        raise DataError(
            f"{folder}: mixes file name grammars of {', '.join(_EXPECTED[y] for y in sorted(used))}"
        )
    return {key: _read_group(key, parsed[key]) for key in sorted(parsed)}


_EXPECTED = {
    2020: "anomaly_score_<machine>_id_<XX>.csv (2020)",
    2021: "anomaly_score_<machine>_section_<XX>_<source|target>_test.csv (2021)",
    2022: "anomaly_score_<machine>_section_<XX>_test.csv (2022-2026)",
}


def _grammars(year: int | None) -> list[tuple[int, re.Pattern[str]]]:
    table = [(2020, _NAME_2020), (2021, _NAME_2021), (2022, _NAME_2022)]
    if year is None:
        return table
    year = check_year(year)
    return [entry for entry in table if entry[0] == min(year, 2022)]


def _read_group(key: tuple[str, str], files: dict[str, list[Path]]) -> ChallengeScores:
    machine, section = key
    if not files["anomaly_score"]:
        raise DataError(f"{files['decision_result'][0]}: decision file without its anomaly_score file")
    scores = _merge(
        [read_challenge_file(p, "anomaly_score") for p in files["anomaly_score"]], files["anomaly_score"]
    )
    decisions = None
    if files["decision_result"]:
        decisions = _merge(
            [read_challenge_file(p, "decision_result") for p in files["decision_result"]],
            files["decision_result"],
        )
        if set(decisions) != set(scores):
            differ = set(decisions) ^ set(scores)
            raise DataError(
                f"{machine} section {section}: decision and anomaly score files name different clips "
                f"({len(differ)}): {format_names(differ)}"
            )
    return ChallengeScores(
        machine=machine,
        section=section,
        scores={n: float(v) for n, v in scores.items()},
        decisions=None if decisions is None else {n: int(v) for n, v in decisions.items()},
        files=tuple(files["anomaly_score"] + files["decision_result"]),
    )


def _merge(tables: list[dict], paths: list[Path]) -> dict:
    merged: dict = {}
    for table in tables:
        repeated = set(merged) & set(table)
        if repeated:
            listed = format_names(repeated)
            raise DataError(
                f"{', '.join(map(str, paths))}: {len(repeated)} names appear in two files: {listed}"
            )
        merged.update(table)
    return merged


def _parse_value(raw: object, kind: str) -> float | None:
    """``raw`` as a float if it is a finite number (scores) or 0/1 (decisions), else None."""
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if kind == "anomaly_score":
        return value if math.isfinite(value) else None
    return value if value in (0.0, 1.0) else None


def _checked_scores(scores: Mapping[str, float], where: str) -> dict[str, float]:
    if not scores:
        raise DataError(f"{where}: no scores to write")
    bad_names = {n for n in scores if not n or any(ch in n for ch in ',"\n\r/\\')}
    if bad_names:
        listed = format_names(map(repr, bad_names))
        raise DataError(f"{where}: {len(bad_names)} names are not plain wav file names: {listed}")
    values: dict[str, float] = {}
    bad = set()
    for name, value in scores.items():
        number = _parse_value(value, "anomaly_score")
        if number is None:
            bad.add(f"{name}={value!r}")
        else:
            values[name] = number
    if bad:
        raise DataError(f"{where}: {len(bad)} scores are not finite numbers: {format_names(bad)}")
    return values


def _checked_decisions(decisions: Mapping[str, int], names: set[str], where: str) -> dict[str, int]:
    if set(decisions) != names:
        differ = set(decisions) ^ names
        raise DataError(
            f"{where}: decisions and scores name different files ({len(differ)}): {format_names(differ)}"
        )
    bad = {f"{n}={v!r}" for n, v in decisions.items() if _parse_value(v, "decision_result") is None}
    if bad:
        raise DataError(f"{where}: {len(bad)} decisions are not 0 or 1: {format_names(bad)}")
    return {n: int(float(v)) for n, v in decisions.items()}


def _domain_of(name: str, domains: Mapping[str, str] | None, where: str) -> str:
    domain = domains.get(name) if domains is not None else None
    if domain is None:
        match = _DOMAIN_IN_2021_NAME.match(name)
        domain = match["domain"] if match else None
    if domain not in ("source", "target"):
        raise DataError(
            f"{where}: the domain of {name!r} is unknown (got {domain!r}); DCASE 2021 files are per domain, "
            "pass domains={name: 'source'|'target'} or use 2021 names 'section_XX_<domain>_test_...'"
        )
    return domain
