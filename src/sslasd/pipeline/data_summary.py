"""``sslasd.data_summary``: what a data set holds, per machine, section and domain, and what was skipped."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table

from sslasd.data import NO_ATTRIBUTE, Clip, SkippedFile, index_dataset


@dataclass(frozen=True)
class SummaryRow:
    """Clip counts of one (release, machine, section, domain) and the attribute values seen there."""

    dataset: str
    machine: str
    section: str
    domain: str
    train_normal: int
    test_normal: int
    test_anomaly: int
    test_unknown: int
    attributes: str


@dataclass(frozen=True)
class DataSummary:
    """The summary of a data set; ``rich`` renders it as tables (``Console().print(summary)``).

    Attributes
    ----------
    root : Path
    year : int
        The DCASE edition whose rules apply (given or detected).
    rows : list of SummaryRow
    skipped : list of SkippedFile
        Files left out with ``skip_bad``.
    """

    root: Path
    year: int
    rows: list[SummaryRow]
    skipped: list[SkippedFile] = field(default_factory=list)

    @property
    def num_clips(self) -> int:
        """Clips indexed."""
        return sum(r.train_normal + r.test_normal + r.test_anomaly + r.test_unknown for r in self.rows)

    def table(self) -> Table:
        """Counts per release (when both are there), machine, section and domain."""
        title = f"{self.root}: DCASE {self.year} names, {self.num_clips} clips"
        table = Table(title=title, title_justify="left")
        releases = len({r.dataset for r in self.rows}) > 1
        unknown = any(r.test_unknown for r in self.rows)
        columns = ["data"] * releases + [
            "machine",
            "section",
            "domain",
            "train",
            "test normal",
            "test anomaly",
        ]
        columns += ["test unlabelled"] * unknown
        for name in columns:
            # identifiers wrap, never end in an ellipsis (a cut machine name reads as another one)
            table.add_column(
                name, justify="right" if name.startswith(("train", "test")) else "left", overflow="fold"
            )
        table.add_column("attributes seen", overflow="fold")
        for r in self.rows:
            counts = [r.train_normal, r.test_normal, r.test_anomaly] + [r.test_unknown] * unknown
            cells = [r.dataset] * releases + [r.machine, r.section, r.domain] + [str(n) for n in counts]
            table.add_row(*cells, r.attributes)
        return table

    def skipped_table(self) -> Table | None:
        """The files left out and why, or None."""
        if not self.skipped:
            return None
        table = Table(title=f"{len(self.skipped)} file(s) skipped", title_justify="left")
        table.add_column("skipped file", overflow="fold")
        table.add_column("reason", overflow="fold")
        for s in self.skipped:
            table.add_row(str(s.path), s.reason)
        return table

    def __rich__(self) -> RenderableType:
        skipped = self.skipped_table()
        return Group(self.table(), skipped) if skipped is not None else self.table()


def data_summary(root: str | os.PathLike, *, year: int | None = None, skip_bad: bool = False) -> DataSummary:
    """Index ``root`` (see :func:`sslasd.data.index_dataset`) and count its clips.

    Raises
    ------
    DataError
        As :func:`~sslasd.data.index_dataset` (no clips; bad files without ``skip_bad``).

    Example
    -------
    >>> from rich.console import Console
    >>> Console().print(data_summary("data/dev_data"))  # doctest: +SKIP
    """
    # with skip_bad the audio itself is checked too, so that the files it would skip are listed
    index = index_dataset(root, year=year, skip_bad=skip_bad, check_audio=skip_bad)
    groups: dict[tuple[str, str, str, str], list[Clip]] = defaultdict(list)
    for c in index.clips:
        groups[(c.dataset, c.machine, c.section, c.domain)].append(c)
    rows = [_row(key, clips) for key, clips in sorted(groups.items())]
    return DataSummary(root=index.root, year=index.year, rows=rows, skipped=index.skipped)


def _row(key: tuple[str, str, str, str], clips: list[Clip]) -> SummaryRow:
    def count(split: str, label: str) -> int:
        return sum(c.split == split and c.label == label for c in clips)

    return SummaryRow(
        *key,
        train_normal=count("train", "normal"),
        test_normal=count("test", "normal"),
        test_anomaly=count("test", "anomaly"),
        test_unknown=count("test", "unknown"),
        attributes=_attributes_seen(clips),
    )


def _attributes_seen(clips: list[Clip]) -> str:
    """``spd=1,2 mic=A,B``; ``noAttribute``; ``-`` when the names carry none."""
    values: dict[str, set[str]] = defaultdict(set)
    for c in clips:
        for k, v in c.attributes.items():
            values[k].add(v)
    parts = [f"{k}={','.join(sorted(v))}" for k, v in values.items()]
    if any(c.no_attribute for c in clips):
        parts.append(NO_ATTRIBUTE)
    return " ".join(parts) or "-"
