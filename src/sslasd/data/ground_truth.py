"""Ground truth of evaluation sets, which the user supplies (its licence forbids shipping it).

Evaluation test names (``section_00_0001.wav``, ``id_01_00000000.wav``) carry no label; the organisers
publish the labels separately. :func:`read_ground_truth` reads any of these forms:

1. ``file_name,label[,domain][,machine]`` with that header (sslasd's own form). ``label`` is
   ``normal``/``anomaly`` or ``0``/``1``; ``domain`` is ``source``/``target`` or ``0``/``1``; the machine
   comes from the ``machine`` column or from a ``<machine>/...`` path in ``file_name``.
2. The official evaluator files ``ground_truth_<machine>_section_<XX>_test.csv`` (headerless
   ``name,0|1``); the domain is read from the same-named file in the sibling ``ground_truth_domain/``
   folder (``1`` = target), or from a 2021 name.
3. The organisers' ``eval_data_list_<year>.csv`` (a machine-name line, then ``eval name,labelled
   name[,label]`` lines): label and domain come from the labelled name.
4. A folder: every CSV in it (recursively) in one of the forms above, ``ground_truth_domain/`` aside.

Keys of the result are ``<machine>/<name>`` where the machine is known, else the bare name.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TypeVar

from sslasd.data.clip import Domain, Label
from sslasd.data.index import DatasetIndex
from sslasd.data.names import parse_name
from sslasd.errors import DataError

_OFFICIAL = re.compile(
    r"ground_truth_(?P<machine>.+?)_section_(?P<section>\d{2})(?:_(?P<domain>source|target))?_test\.csv"
)
_LABELS: dict[str, Label] = {"0": "normal", "1": "anomaly", "normal": "normal", "anomaly": "anomaly"}
_DOMAINS: dict[str, Domain] = {
    "0": "source",
    "1": "target",
    "source": "source",
    "target": "target",
    "none": "none",
}
_SHOWN = 5

T = TypeVar("T", DatasetIndex, list)


@dataclass(frozen=True)
class GroundTruth:
    """The truth about one evaluation clip.

    Attributes
    ----------
    name : str
        File name.
    label : {"normal", "anomaly"}
    domain : {"source", "target", "none", "unknown"}
        ``unknown`` when the ground truth does not say (the clip's own domain is then kept).
    machine : str or None
        Machine type when the file says.
    """

    name: str
    label: Label
    domain: Domain = "unknown"
    machine: str | None = None

    @property
    def key(self) -> str:
        """``<machine>/<name>``, or the bare name when the machine is unknown."""
        return f"{self.machine}/{self.name}" if self.machine else self.name


def read_ground_truth(path: str | os.PathLike) -> dict[str, GroundTruth]:
    """Read ground-truth labels (and domains) from a file or folder in one of the forms above.

    Raises
    ------
    DataError
        Missing path, unknown form, a bad label or domain value, or one clip given two different
        truths; the message names the file and line.

    Example
    -------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "truth.csv"
    >>> _ = p.write_text("file_name,label,domain\\nfan/test/section_00_0000.wav,anomaly,target\\n")
    >>> read_ground_truth(p)["fan/section_00_0000.wav"].label
    'anomaly'
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.csv") if "ground_truth_domain" not in p.parts)
        if not files:
            raise DataError(f"{path}: folder holds no ground-truth CSV files")
        merged: dict[str, GroundTruth] = {}
        for file in files:
            _merge(merged, _read_file(file), file)
        return merged
    if not path.is_file():
        raise DataError(f"{path}: ground-truth file not found")
    return _read_file(path)


def _merge(into: dict[str, GroundTruth], new: dict[str, GroundTruth], source: Path) -> None:
    for key, truth in new.items():
        if key in into and into[key] != truth:
            raise DataError(
                f"{source}: {key} has ground truth {truth.label}/{truth.domain}, another file says "
                f"{into[key].label}/{into[key].domain}"
            )
        into[key] = truth


def _read_file(path: Path) -> dict[str, GroundTruth]:
    rows = _rows(path)
    if not rows:
        raise DataError(f"{path}: ground-truth file is empty")
    header = [c.strip().lower() for c in rows[0]]
    if "file_name" in header and "label" in header:
        return _read_table(path, header, rows[1:])
    if _OFFICIAL.fullmatch(path.name):
        return _read_official(path, rows)
    if path.name.startswith("eval_data_list") or (len(rows[0]) == 1 and any(len(r) >= 2 for r in rows)):
        return _read_eval_list(path, rows)
    raise DataError(
        f"{path}: not a ground-truth file sslasd knows (expected a file_name,label[,domain] header, an "
        "official ground_truth_<machine>_section_XX_test.csv, or an eval_data_list_<year>.csv)"
    )


def _rows(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)]


def _value(table: Mapping[str, str], raw: str, path: Path, line: int, what: str) -> str:
    try:
        return table[raw.strip().lower()]
    except KeyError:
        raise DataError(f"{path}: line {line}: {what} {raw!r} is not one of {sorted(set(table))}") from None


def _read_table(path: Path, header: list[str], rows: list[list[str]]) -> dict[str, GroundTruth]:
    col = {name: header.index(name) for name in ("file_name", "label", "domain", "machine") if name in header}
    out: dict[str, GroundTruth] = {}
    for line, row in enumerate(rows, start=2):
        cells = row + [""] * (len(header) - len(row))
        parts = PurePosixPath(cells[col["file_name"]].replace("\\", "/")).parts
        if not parts:
            raise DataError(f"{path}: line {line} has no file_name")
        machine = cells[col["machine"]] if "machine" in col and cells[col["machine"]] else None
        machine = machine or (parts[0] if len(parts) >= 2 else None)
        domain = cells[col["domain"]] if "domain" in col else ""
        truth = GroundTruth(
            name=parts[-1],
            label=_value(_LABELS, cells[col["label"]], path, line, "label"),  # type: ignore[arg-type]
            domain=_value(_DOMAINS, domain, path, line, "domain") if domain else "unknown",  # type: ignore[arg-type]
            machine=machine,
        )
        _merge(out, {truth.key: truth}, path)
    return out


def _read_official(path: Path, rows: list[list[str]]) -> dict[str, GroundTruth]:
    match = _OFFICIAL.fullmatch(path.name)
    machine, file_domain = match["machine"], match["domain"]
    domains: dict[str, Domain] = {}
    domain_file = path.parent.parent / "ground_truth_domain" / path.name
    if domain_file.is_file():
        for line, row in enumerate(_rows(domain_file), start=1):
            domains[row[0]] = _value(_DOMAINS, row[1] if len(row) > 1 else "", domain_file, line, "domain")  # type: ignore[assignment]
    out: dict[str, GroundTruth] = {}
    for line, row in enumerate(rows, start=1):
        if len(row) < 2:
            raise DataError(f"{path}: line {line}: expected 'file name,0|1', got {','.join(row)!r}")
        domain = domains.get(row[0]) or file_domain or _name_domain(row[0])
        truth = GroundTruth(row[0], _value(_LABELS, row[1], path, line, "label"), domain, machine)  # type: ignore[arg-type]
        _merge(out, {truth.key: truth}, path)
    return out


def _name_domain(name: str) -> Domain:
    try:
        domain = parse_name(name).domain
    except DataError:
        return "unknown"
    return domain


def _read_eval_list(path: Path, rows: list[list[str]]) -> dict[str, GroundTruth]:
    out: dict[str, GroundTruth] = {}
    machine = None
    for line, row in enumerate(rows, start=1):
        if len(row) == 1:
            machine = row[0]
            continue
        if machine is None:
            raise DataError(f"{path}: line {line}: clip listed before any machine-type line")
        try:
            labelled = parse_name(row[1])
        except DataError as exc:
            raise DataError(f"{path}: line {line}: {exc}") from None
        label = _value(_LABELS, row[2], path, line, "label") if len(row) > 2 else labelled.label
        truth = GroundTruth(row[0], label, labelled.domain, machine)  # type: ignore[arg-type]
        _merge(out, {truth.key: truth}, path)
    return out


def apply_ground_truth(index_or_clips: T, ground_truth: Mapping[str, GroundTruth]) -> T:
    """Fill in the labels (and domains) of unlabelled clips from ``ground_truth``.

    Every clip labelled ``unknown`` must find its truth (by ``<machine>/<name>``, else by name), and
    every truth for a machine present among the clips must find its clip; truths for other machines
    are ignored (an index may hold a subset of the machines). A clip that already has a label must
    agree with its truth.

    Returns
    -------
    DatasetIndex or list of Clip
        The same kind as given, with new Clip records.

    Raises
    ------
    DataError
        Names missing on either side, a bare name shared by several machines, or a conflicting label;
        the message lists them.
    """
    clips = index_or_clips.clips if isinstance(index_or_clips, DatasetIndex) else list(index_or_clips)
    machines = {c.machine for c in clips}
    bare_owner: dict[str, set[str]] = {}
    for c in clips:
        bare_owner.setdefault(c.name, set()).add(c.machine)
    used: set[str] = set()
    missing, conflicts, new = [], [], []
    for clip in clips:
        key = f"{clip.machine}/{clip.name}"
        key = key if key in ground_truth else clip.name if clip.name in ground_truth else None
        if key is None:
            if clip.label == "unknown":
                missing.append(f"{clip.machine}/{clip.name}")
            new.append(clip)
            continue
        if "/" not in key and len(bare_owner[key]) > 1:
            raise DataError(
                f"ground truth names {key} without a machine, but machines {sorted(bare_owner[key])} "
                "all have a clip of that name (give a machine column or <machine>/ paths)"
            )
        used.add(key)
        truth = ground_truth[key]
        if clip.label != "unknown" and clip.label != truth.label:
            conflicts.append(f"{clip.machine}/{clip.name}: named {clip.label}, ground truth {truth.label}")
        domain = clip.domain if truth.domain == "unknown" else truth.domain
        new.append(dataclasses.replace(clip, label=truth.label, domain=domain))
    unused = [
        k for k, t in ground_truth.items() if k not in used and (t.machine is None or t.machine in machines)
    ]
    problems = _listing("test clips have no ground truth", missing) + _listing(
        "ground-truth names have no clip", unused
    )
    problems += _listing("labels disagree with the ground truth", conflicts)
    if problems:
        raise DataError("ground truth does not match the clips: " + "; ".join(problems))
    if isinstance(index_or_clips, DatasetIndex):
        return dataclasses.replace(index_or_clips, clips=new)
    return new


def _listing(what: str, items: Sequence[str]) -> list[str]:
    if not items:
        return []
    shown = ", ".join(items[:_SHOWN]) + (f", ... ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else "")
    return [f"{len(items)} {what} ({shown})"]
