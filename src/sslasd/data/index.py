"""Index a DCASE-layout data set: every clip with its metadata, and what was skipped and why.

Layouts accepted (``ROOT`` is what the user passes)::

    ROOT/<machine>/{train,test}/*.wav                 one release (``source_test``/``target_test`` for 2021)
    ROOT/{dev_data,eval_data}/[raw/]<machine>/...     both releases; Clip.dataset tells which
    ROOT/{train,test}/*.wav                           ROOT is one machine's folder

Attribute CSVs (``<machine>/attributes_XX.csv``) are read where present and checked against the names.
Only the split folders hold clips: any other folder of a machine, such as DCASE 2025's supplementary
clean-machine and noise-only clips in ``<machine>/supplemental/`` (:mod:`sslasd.data.noise` reads
those), is left alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sslasd.data.attributes import AttributeRow, read_attributes_csv
from sslasd.data.audio import check_audio_file
from sslasd.data.clip import Clip
from sslasd.data.names import ParsedName, detect_year, parse_name
from sslasd.data.years import check_year
from sslasd.errors import DataError

SPLIT_FOLDERS: dict[str, tuple[str, str | None]] = {
    "train": ("train", None),
    "test": ("test", None),
    "source_test": ("test", "source"),
    "target_test": ("test", "target"),
}
_SHOWN = 10  # bad files listed in an error message


@dataclass(frozen=True)
class SkippedFile:
    """A file left out of an index (``skip_bad=True``) and the reason."""

    path: Path
    reason: str


@dataclass(frozen=True)
class DatasetIndex:
    """The clips of a data set.

    Attributes
    ----------
    root : Path
    year : int
        The DCASE edition whose naming (and scoring) rules apply.
    clips : list of Clip
        Sorted by release, machine, split and name.
    skipped : list of SkippedFile
        Files (audio or attribute CSVs) left out because they could not be used.
    """

    root: Path
    year: int
    clips: list[Clip]
    skipped: list[SkippedFile] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.clips)

    def __iter__(self) -> Iterator[Clip]:
        return iter(self.clips)

    def machines(self) -> list[str]:
        """Machine types, sorted."""
        return sorted({c.machine for c in self.clips})

    def sections(self, machine: str) -> list[str]:
        """Sections of ``machine``, sorted."""
        return sorted({c.section for c in self.clips if c.machine == machine})

    def select(
        self,
        *,
        machine: str | None = None,
        section: str | None = None,
        split: str | None = None,
        domain: str | None = None,
        label: str | None = None,
        dataset: str | None = None,
    ) -> list[Clip]:
        """The clips matching every filter given (None = any)."""
        wanted = {
            "machine": machine,
            "section": section,
            "split": split,
            "domain": domain,
            "label": label,
            "dataset": dataset,
        }
        return [c for c in self.clips if all(v is None or getattr(c, k) == v for k, v in wanted.items())]


@dataclass(frozen=True)
class _Candidate:
    path: Path
    machine: str
    split: str
    folder_domain: str | None
    dataset: Literal["dev", "eval"] | None

    @property
    def relative(self) -> str:
        return f"{self.machine}/{self.path.parent.name}/{self.path.name}"


def index_dataset(
    root: str | os.PathLike,
    *,
    year: int | None = None,
    skip_bad: bool = False,
    check_audio: bool = False,
) -> DatasetIndex:
    """Index the DCASE-layout data set under ``root``.

    Parameters
    ----------
    root : path-like
        See the module docstring for the layouts.
    year : int, optional
        The DCASE edition; detected from the names when omitted (:func:`~sslasd.data.names.detect_year`).
    skip_bad : bool
        Leave out files that cannot be used (listed in ``skipped``) instead of raising.
    check_audio : bool
        Also open every audio file and scan its samples (slow on large sets), so that unreadable,
        truncated, empty, NaN/inf or too-short files are found now rather than during training.

    Raises
    ------
    DataError
        ``root`` holds no clips; or, without ``skip_bad``, a file name fits no scheme (or not
        ``year``'s), lies in the wrong split folder, disagrees with its attribute CSV, or (with
        ``check_audio``) its audio is bad. The message lists the files and what is wrong with each.

    Example
    -------
    >>> index = index_dataset("data/dcase2020-dev-clips")  # doctest: +SKIP
    >>> index.year, index.machines()[:2]  # doctest: +SKIP
    (2020, ['ToyCar', 'ToyConveyor'])
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: data root is not a folder")
    if year is not None:
        check_year(year)
    candidates = _candidates(root)
    if not candidates:
        raise DataError(
            f"{root}: no .wav files found in a DCASE layout "
            "(expected <root>/<machine>/{train,test}/*.wav, or dev_data/ and eval_data/ holding that)"
        )
    bad: list[SkippedFile] = []
    if year is None:
        year = _detect(candidates, bad)
    parsed = _parse_all(candidates, year, bad)
    csv_rows = _attribute_rows(root, candidates, year, bad)
    clips = [_clip(c, p, year, csv_rows.get((c.path.parent.parent, p.name)), bad) for c, p in parsed]
    clips = [c for c in clips if c is not None]
    if check_audio:
        clips = [c for c in clips if _audio_ok(c, bad)]
    if bad and not skip_bad:
        raise DataError(_bad_message(root, bad))
    clips.sort(key=lambda c: (c.dataset, c.machine, c.split, c.name))
    return DatasetIndex(root=root, year=year, clips=clips, skipped=bad)


def _candidates(root: Path) -> list[_Candidate]:
    """Every .wav file in a split folder of a machine folder, with what its location says."""
    releases = [(ds, root / f"{ds}_data") for ds in ("dev", "eval") if (root / f"{ds}_data").is_dir()]
    if releases:
        machine_dirs = [
            (ds, m)
            for ds, base in releases
            for m in _subdirs(base / "raw" if (base / "raw").is_dir() else base)
        ]
    elif any((root / name).is_dir() for name in SPLIT_FOLDERS):
        machine_dirs = [(None, root)]
    else:
        machine_dirs = [(None, m) for m in _subdirs(root)]
    found = []
    for dataset, machine_dir in machine_dirs:
        for folder, (split, domain) in SPLIT_FOLDERS.items():
            split_dir = machine_dir / folder
            if split_dir.is_dir():
                files = sorted(p for p in split_dir.iterdir() if p.suffix.lower() == ".wav" and p.is_file())
                found += [_Candidate(p, machine_dir.name, split, domain, dataset) for p in files]
    return found


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _detect(candidates: list[_Candidate], bad: list[SkippedFile]) -> int:
    """Detect the year from the names that fit some scheme; the others are bad files."""
    usable = []
    for c in candidates:
        try:
            parse_name(c.path.name)
        except DataError as exc:
            bad.append(SkippedFile(c.path, _reason(exc, c.path)))
        else:
            usable.append(c.relative)
    if not usable:
        raise DataError(f"no file name fits a DCASE naming scheme (first: {candidates[0].path})")
    try:
        return detect_year(usable)
    except DataError as exc:
        raise DataError(f"{exc}; pass the year (--year) or remove the odd files") from None


def _parse_all(
    candidates: list[_Candidate], year: int, bad: list[SkippedFile]
) -> list[tuple[_Candidate, ParsedName]]:
    known_bad = {s.path for s in bad}
    out = []
    for c in candidates:
        if c.path in known_bad:
            continue
        try:
            p = parse_name(c.path.name, year=year)
        except DataError as exc:
            bad.append(SkippedFile(c.path, _reason(exc, c.path)))
            continue
        if p.split is not None and p.split != c.split:
            bad.append(
                SkippedFile(c.path, f"the name says {p.split} but the file is in {c.path.parent.name}/")
            )
        elif c.folder_domain is not None and p.domain not in (c.folder_domain, "unknown"):
            bad.append(
                SkippedFile(c.path, f"the name says {p.domain} but the file is in {c.path.parent.name}/")
            )
        else:
            out.append((c, p))
    return out


def _attribute_rows(
    root: Path, candidates: list[_Candidate], year: int, bad: list[SkippedFile]
) -> dict[tuple[Path, str], tuple[Path, AttributeRow]]:
    """(machine folder, file name) -> (csv path, row) for every attribute CSV of every machine folder."""
    if year < 2022:
        return {}
    rows: dict[tuple[Path, str], tuple[Path, AttributeRow]] = {}
    machine_dirs = sorted({c.path.parent.parent for c in candidates})
    for machine_dir in machine_dirs:
        for csv_path in sorted(machine_dir.glob("attributes_*.csv")):
            try:
                table = read_attributes_csv(csv_path)
            except DataError as exc:
                bad.append(SkippedFile(csv_path, _reason(exc, csv_path)))
                continue
            rows.update({(machine_dir, r.name): (csv_path, r) for r in table})
    return rows


def _clip(
    c: _Candidate, p: ParsedName, year: int, row: tuple[Path, AttributeRow] | None, bad: list[SkippedFile]
) -> Clip | None:
    attributes, no_attribute = dict(p.attributes), p.no_attribute
    if row is not None:
        csv_path, r = row
        if p.attribute_string and r.pairs and r.attribute_string != p.attribute_string:
            reason = (
                f"{csv_path.name} gives attributes {r.attribute_string!r}, the name {p.attribute_string!r}"
            )
            bad.append(SkippedFile(c.path, reason))
            return None
        if r.pairs:  # a row without pairs says nothing; the name's attributes stand
            attributes, no_attribute = r.attributes, r.no_attribute
    return Clip(
        path=c.path,
        year=year,
        machine=c.machine,
        section=p.section,
        domain=p.domain if p.domain != "unknown" or c.folder_domain is None else c.folder_domain,
        split=c.split,
        label=p.label,
        attributes=attributes,
        no_attribute=no_attribute,
        dataset=c.dataset or p.dataset,
    )


def _audio_ok(clip: Clip, bad: list[SkippedFile]) -> bool:
    try:
        check_audio_file(clip.path)
    except DataError as exc:
        bad.append(SkippedFile(clip.path, _reason(exc, clip.path)))
        return False
    return True


def _reason(exc: DataError, path: Path) -> str:
    """The error message without the leading path (SkippedFile keeps the path apart)."""
    text = str(exc)
    for prefix in (f"{path}: ", f"{path.name}: "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def _bad_message(root: Path, bad: list[SkippedFile]) -> str:
    lines = [f"  {s.path}: {s.reason}" for s in bad[:_SHOWN]]
    more = f"\n  ... and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
    return (
        f"{root}: {len(bad)} file(s) cannot be used (index with --skip-bad to leave them out):\n"
        + "\n".join(lines)
        + more
    )
