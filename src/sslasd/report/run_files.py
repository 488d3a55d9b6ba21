"""Read what a run folder holds, piece by piece, for the report.

A report must render whatever a run has produced so far: a run that was fitted but not scored,
scored but not evaluated, or trained without pseudo-labels. Every piece is therefore optional;
a piece that is missing or unreadable becomes ``None`` plus a one-line note saying why, which the
report prints in that piece's section instead of failing.
"""

from __future__ import annotations

import csv
import json
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from sslasd._common.run_layout import EMBEDDINGS, METRICS, RunLayout, is_done
from sslasd.errors import RunError

T = TypeVar("T")

#: Arrays every ``embeddings.npz`` must hold (banks and test scores share the format).
EMBEDDING_KEYS = ("embeddings", "names", "machines", "sections", "domains")
#: Keys of each entry of ``metrics.json``'s ``clips`` that the plots use.
CLIP_KEYS = frozenset({"name", "machine", "section", "label", "score"})


@dataclass(frozen=True)
class EmbeddingSet:
    """Embeddings of a set of clips and their metadata, all arrays of length N.

    Attributes
    ----------
    embeddings : ndarray, float32 [N, D]
    names, machines, sections, domains, labels, attributes : ndarray of str [N]
        ``labels`` is normal/anomaly/unknown; ``attributes`` is the DCASE attribute string,
        ``noAttribute`` or ``""``. Missing optional arrays are filled with ``""``.
    pseudo_labels : ndarray of int [N]
        VQ pseudo-label of each clip, ``-1`` where none.
    """

    embeddings: np.ndarray
    names: np.ndarray
    machines: np.ndarray
    sections: np.ndarray
    domains: np.ndarray
    labels: np.ndarray
    attributes: np.ndarray
    pseudo_labels: np.ndarray

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class TrainingLog:
    """Columns of ``fit/metrics.csv``: name -> float array, NaN where a row left the cell empty."""

    columns: dict[str, np.ndarray]
    finished: bool

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), ()))


@dataclass
class RunFiles:
    """Everything the report shows, read from a run folder; ``None`` where a piece is absent.

    Attributes
    ----------
    run : Path
    scores_dir : Path or None
        The scores folder the report describes.
    config_text : str or None
        ``config.yaml`` verbatim.
    info : dict or None
        ``run.json``.
    metrics : dict or None
        ``metrics.json`` of the scores folder (written by ``sslasd evaluate --json``).
    training : TrainingLog or None
    train_embeddings, test_embeddings : EmbeddingSet or None
    thresholds : dict or None
        ``{machine: {section: threshold}}``.
    backend : dict or None
    notes : dict[str, str]
        Piece name -> why it is missing or could not be read.
    """

    run: Path
    scores_dir: Path | None = None
    config_text: str | None = None
    info: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    training: TrainingLog | None = None
    train_embeddings: EmbeddingSet | None = None
    test_embeddings: EmbeddingSet | None = None
    thresholds: dict[str, dict[str, float]] | None = None
    backend: dict[str, Any] | None = None
    notes: dict[str, str] = field(default_factory=dict)


def read_run_files(run: str | os.PathLike, scores: str | os.PathLike | None = None) -> RunFiles:
    """Read every piece of run folder ``run`` that the report uses.

    Parameters
    ----------
    run : path
        A run folder (it must hold ``config.yaml`` or ``run.json``).
    scores : path or tag, optional
        The scores folder to describe: a path, or a tag under ``RUN/scores/``. Default: the most
        recently evaluated one (with ``metrics.json``), else the most recent one.

    Raises
    ------
    RunError
        ``run`` is not a run folder, or ``scores`` names no folder.

    Example
    -------
    >>> files = read_run_files("runs/demo/run")  # doctest: +SKIP
    >>> files.metrics["official_score"]  # doctest: +SKIP
    0.7312
    """
    root = Path(run).expanduser()
    layout = RunLayout(root)
    if not root.is_dir():
        raise RunError(f"{root}: no such run folder")
    if not layout.config_path.is_file() and not layout.info_path.is_file():
        raise RunError(
            f"{root}: not a run folder (neither config.yaml nor run.json); make one with `sslasd fit`"
        )
    files = RunFiles(run=root)
    files.scores_dir = _scores_dir(root, scores)
    files.config_text = _piece(files, "config", layout.config_path, lambda p: p.read_text(encoding="utf-8"))
    files.info = _piece(files, "info", layout.info_path, _read_json_object)
    files.training = _piece(files, "training", layout.train_log_path, read_training_log)
    files.train_embeddings = _piece(
        files, "train_embeddings", layout.bank_embeddings_path, read_embedding_set
    )
    files.thresholds = _piece(files, "thresholds", layout.thresholds_path, _read_json_object)
    files.backend = _piece(files, "backend", layout.backend_path, _read_json_object)
    if files.scores_dir is None:
        note = f"no scores folder under {layout.scores_root}: run `sslasd score --run {root} --data ROOT`"
        files.notes["metrics"] = files.notes["test_embeddings"] = note
    else:
        files.metrics = _piece(files, "metrics", files.scores_dir / METRICS, read_metrics)
        files.test_embeddings = _piece(
            files, "test_embeddings", files.scores_dir / EMBEDDINGS, read_embedding_set
        )
        if "metrics" in files.notes and not (files.scores_dir / METRICS).exists():
            files.notes["metrics"] = (
                f"{files.scores_dir} is not evaluated yet: run `sslasd evaluate --scores {files.scores_dir} "
                f"--data ROOT --json {files.scores_dir / METRICS}`"
            )
    return files


def _piece(files: RunFiles, name: str, path: Path, reader: Callable[[Path], T]) -> T | None:
    """``reader(path)``, or None with a note in ``files.notes[name]`` when absent or unreadable."""
    if not path.is_file():
        files.notes[name] = f"{path} does not exist"
        return None
    try:
        return reader(path)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        files.notes[name] = f"{path} could not be read: {exc}"
        return None


def _scores_dir(run: Path, scores: str | os.PathLike | None) -> Path | None:
    if scores is not None:
        for candidate in (Path(scores).expanduser(), RunLayout(run).scores_root / str(scores)):
            if candidate.is_dir():
                return candidate
        raise RunError(f"--scores {scores}: neither a folder nor a tag under {RunLayout(run).scores_root}")
    folders = [p for p in RunLayout(run).scores_root.glob("*") if p.is_dir() and not p.name.startswith(".")]
    evaluated = [p for p in folders if (p / METRICS).is_file()]
    if evaluated:
        return max(evaluated, key=lambda p: (p / METRICS).stat().st_mtime)
    return max(folders, key=lambda p: p.stat().st_mtime) if folders else None


def _read_json_object(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def read_metrics(path: str | os.PathLike) -> dict[str, Any]:
    """Read ``metrics.json`` and check the keys the report relies on.

    Raises
    ------
    ValueError
        A required key (``year``, ``official_score``, ``sections``, ``clips``) is missing.
    """
    metrics = _read_json_object(Path(path))
    missing = [k for k in ("year", "official_score", "sections", "clips") if k not in metrics]
    if missing:
        raise ValueError(f"missing keys {missing}; expected the output of `sslasd evaluate --json`")
    if not isinstance(metrics["year"], int) or not isinstance(metrics["official_score"], int | float):
        raise ValueError(
            f"year {metrics['year']!r} / official_score {metrics['official_score']!r}: expected numbers"
        )
    if not isinstance(metrics["sections"], list) or not isinstance(metrics["clips"], list):
        raise ValueError("'sections' and 'clips' must be lists")
    for i, clip in enumerate(metrics["clips"]):
        if not isinstance(clip, dict) or not clip.keys() >= CLIP_KEYS:
            raise ValueError(f"clips[{i}] = {clip!r}: expected the keys {sorted(CLIP_KEYS)}")
        if not isinstance(clip["score"], int | float) or not np.isfinite(clip["score"]):
            raise ValueError(f"clips[{i}] ({clip['name']}): score {clip['score']!r} is not a finite number")
        clip.setdefault("domain", "none")
    return metrics


def read_training_log(path: str | os.PathLike) -> TrainingLog:
    """Read ``fit/metrics.csv`` (one row per logged step; empty cells become NaN).

    Raises
    ------
    ValueError
        The file has no header, no ``step`` column, or a cell that is not a number.
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "step" not in reader.fieldnames:
            raise ValueError(f"header {reader.fieldnames} has no 'step' column")
        rows = list(reader)
    columns: dict[str, np.ndarray] = {}
    for name in reader.fieldnames:
        values = [row.get(name) or "" for row in rows]
        try:
            columns[name] = np.array([float(v) if v.strip() else np.nan for v in values], dtype=np.float64)
        except ValueError as exc:
            raise ValueError(f"column {name!r}: {exc}") from None
    return TrainingLog(columns=columns, finished=is_done(path.parent))


def read_embedding_set(path: str | os.PathLike) -> EmbeddingSet:
    """Read an ``embeddings.npz`` (no pickled objects) and check that its arrays agree in length.

    Raises
    ------
    ValueError
        A required array is missing, ``embeddings`` is not 2-D, or lengths differ.
    """
    with np.load(Path(path), allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    missing = [k for k in EMBEDDING_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"missing arrays {missing} (has {sorted(arrays)})")
    emb = np.asarray(arrays["embeddings"], dtype=np.float32)
    if emb.ndim != 2:
        raise ValueError(f"embeddings has shape {emb.shape}, expected [N, D]")
    n = emb.shape[0]
    blank = np.full(n, "", dtype=str)
    pseudo = arrays.get("pseudo_labels", np.full(n, -1))
    lengths = {k: len(arrays[k]) for k in arrays if k != "embeddings"}
    wrong = {k: v for k, v in lengths.items() if v != n}
    if wrong:
        raise ValueError(f"arrays of another length than embeddings ({n}): {wrong}")
    return EmbeddingSet(
        embeddings=emb,
        names=arrays["names"].astype(str),
        machines=arrays["machines"].astype(str),
        sections=arrays["sections"].astype(str),
        domains=arrays["domains"].astype(str),
        labels=arrays.get("labels", blank).astype(str),
        attributes=arrays.get("attributes", blank).astype(str),
        pseudo_labels=np.asarray(pseudo).astype(np.int64),
    )
