"""The per-machine attribute CSVs (``<machine>/attributes_00.csv``) of DCASE 2022 and later.

Format, as the organisers publish it: a header ``file_name,d1p,d1v,d2p,d2v,...`` and one row per clip,
``fan/train/section_00_source_train_normal_0000_m-n_W.wav,m-n,W``: the path relative to the data
set's root, then (parameter, value) pairs. The CSV gives the pairs unambiguously where a name's suffix
cannot be split (a parameter or value containing ``_``); :func:`sslasd.data.index.index_dataset` checks
that both agree. A concealed clip is written ``noAttribute`` with an empty value.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sslasd._common import atomic_write_text
from sslasd.data.clip import NO_ATTRIBUTE
from sslasd.errors import DataError


@dataclass(frozen=True)
class AttributeRow:
    """One row of an attribute CSV.

    Attributes
    ----------
    file_name : str
        As written in the CSV (``fan/train/<name>.wav``, relative to the data set's root).
    pairs : tuple of (str, str)
        The (parameter, value) pairs in column order; ``(("noAttribute", ""),)`` when concealed.
    """

    file_name: str
    pairs: tuple[tuple[str, str], ...]

    @classmethod
    def from_attributes(
        cls, file_name: str, attributes: Mapping[str, str], *, no_attribute: bool = False
    ) -> AttributeRow:
        """The row of a clip with ``attributes`` (or concealed ones)."""
        pairs = (
            ((NO_ATTRIBUTE, ""),) if no_attribute else tuple((str(k), str(v)) for k, v in attributes.items())
        )
        return cls(file_name, pairs)

    @property
    def name(self) -> str:
        """The file's base name, the key that joins a row to a clip."""
        return PurePosixPath(self.file_name.replace("\\", "/")).name

    @property
    def no_attribute(self) -> bool:
        """True when the row says ``noAttribute``."""
        return self.pairs == ((NO_ATTRIBUTE, ""),)

    @property
    def attributes(self) -> dict[str, str]:
        """The pairs as a mapping (empty when concealed)."""
        return {} if self.no_attribute else dict(self.pairs)

    @property
    def attribute_string(self) -> str:
        """The pairs as a file name writes them (``vel_8_acc_3``, ``noAttribute``)."""
        return "_".join(f"{p}_{v}" if v else p for p, v in self.pairs)


def read_attributes_csv(path: str | os.PathLike) -> list[AttributeRow]:
    """Read an attribute CSV.

    Raises
    ------
    DataError
        Missing or empty file, a header that is not ``file_name`` plus (parameter, value) columns, a
        row longer than the header or without a file name, or a file listed twice; the message names
        the CSV and the line.

    Example
    -------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "attributes_00.csv"
    >>> write_attributes_csv(p, [AttributeRow.from_attributes("fan/train/x_vel_8.wav", {"vel": "8"})])
    >>> read_attributes_csv(p)[0].attributes
    {'vel': '8'}
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: attribute CSV not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the attribute CSV ({exc})") from None
    table = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not table:
        raise DataError(f"{path}: attribute CSV is empty (expected a header file_name,d1p,d1v,...)")
    header = [cell.strip() for cell in table[0]]
    if header[0] != "file_name" or len(header) % 2 == 0:
        raise DataError(
            f"{path}: header {','.join(header)!r} is not file_name followed by (parameter, value) "
            "columns (expected file_name,d1p,d1v,...)"
        )
    rows: list[AttributeRow] = []
    seen: dict[str, int] = {}
    for line, cells in enumerate(table[1:], start=2):
        rows.append(_row(path, line, [cell.strip() for cell in cells], len(header)))
        name = rows[-1].name
        if name in seen:
            raise DataError(f"{path}: line {line}: {name} is listed twice (also on line {seen[name]})")
        seen[name] = line
    return rows


def _row(path: Path, line: int, cells: list[str], width: int) -> AttributeRow:
    if len(cells) > width:
        raise DataError(f"{path}: line {line} has {len(cells)} cells, the header only {width}")
    if not cells[0]:
        raise DataError(f"{path}: line {line} has no file_name")
    values = cells[1:] + [""] * (width - len(cells))
    pairs = [(values[i], values[i + 1]) for i in range(0, len(values), 2)]
    for p, v in pairs:
        if v and not p:
            raise DataError(f"{path}: line {line}: value {v!r} has no parameter name")
    return AttributeRow(cells[0], tuple((p, v) for p, v in pairs if p))


def write_attributes_csv(path: str | os.PathLike, rows: Iterable[AttributeRow]) -> None:
    """Write ``rows`` as an attribute CSV (atomically), with as many column pairs as the longest row."""
    rows = list(rows)
    width = max([len(r.pairs) for r in rows] + [1])
    header = ["file_name"] + [f"d{i}{kind}" for i in range(1, width + 1) for kind in ("p", "v")]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        cells = [row.file_name] + [cell for pair in row.pairs for cell in pair]
        writer.writerow(cells + [""] * (len(header) - len(cells)))
    atomic_write_text(path, buffer.getvalue())
