"""``sslasd detect``: score any wav files or folders with a fitted run or bundle.

Files of any sample rate are read, resampled and given the run's channel policy
(``data.channels``: ``mean``, the default, mixes any channel count to mono; ``near``, ``far``,
``stack`` and ``subtract`` need two-channel files, near then far, and refuse others with an error
for that file); recordings longer than the model's clip length are scored window by window (a
per-window timeline is kept) and the file's score reduces the window scores by the run's
``score.aggregate`` (max by default), exactly as ``sslasd score`` and ``load().score`` do. A file
is streamed a batch of windows at a time, so an hour-long recording needs no more memory than a
short one. One bad file, or a machine the model does not know, is an error for that file only; the
others are still scored.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sslasd._common import atomic_write_json
from sslasd.errors import ConfigError, DataError, SslasdError
from sslasd.pipeline.detector import Detector
from sslasd.pipeline.load import load

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif")


@dataclass
class Detection:
    """Result for one file: score (higher = more anomalous), threshold, decision, or the error."""

    file: str
    machine: str | None = None
    section: str | None = None
    score: float | None = None
    threshold: float | None = None
    anomaly: bool | None = None
    windows: list[dict[str, float]] = field(default_factory=list)
    error: str | None = None


def _expand(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """The audio files named by ``paths`` (folders searched recursively), each once, in order.

    Raises
    ------
    DataError
        A folder holds no audio file (a typo in a path should not pass as "nothing to report").
    """
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise DataError(f"{p}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder")
            files += found
        else:
            files.append(p)
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def _machine_for(path: Path, detector: Detector, machine: str | None) -> str:
    """The given machine; else a known machine named by a folder of the path; else the only one."""
    if machine is not None:
        return machine
    for part in reversed(path.resolve().parts[:-1]):
        if part in detector.machines:
            return part
    if len(detector.machines) == 1:
        return detector.machines[0]
    raise ConfigError(f"no machine type given and none of {detector.machines} is in the path; pass --machine")


def detect(
    run: str | os.PathLike | Detector,
    paths: Sequence[str | os.PathLike],
    *,
    machine: str | None = None,
    section: str | None = None,
    window: float | None = None,
    hop: float | None = None,
    json: str | os.PathLike | None = None,
    precision: str = "auto",
) -> list[Detection]:
    """Score ``paths`` (files or folders) with run/bundle ``run``.

    Parameters
    ----------
    machine : str, optional
        Machine type; default: a known machine type named by a folder in each file's path.
    section : str, optional
        Needed only when the machine has several sections.
    window, hop : float, optional
        Window and hop in seconds; default window = the model's clip length, hop = half of it.
        (The window is always the model's clip length; ``window`` is checked against it.)
    json : path, optional
        Also write every result, with the per-window timeline, as JSON (atomic).
    precision : {"auto", "32", "bf16"}
        Inference arithmetic (see :class:`Detector`); a given Detector keeps its own.
    """
    detector = run if isinstance(run, Detector) else load(run, precision=precision)
    clip_s = detector.num_samples / detector.sample_rate
    if window is not None and abs(window - clip_s) > 1e-6:
        raise ConfigError(f"--window {window}: this model scores windows of its clip length, {clip_s:g} s")
    if hop is not None and hop <= 0:
        raise ConfigError(f"--hop {hop}: must be > 0 seconds")
    results = []
    for path in _expand(paths):
        result = Detection(file=str(path))
        try:
            result.machine = _machine_for(path, detector, machine)
            key = detector.resolve(result.machine, section)
            result.section = key[1]
            scores, starts = detector.score_windows(path, key[0], key[1], hop_seconds=hop)
            result.threshold = detector.threshold(*key)
            result.score = float(detector.aggregate(scores)[0])
            result.anomaly = bool(result.score > result.threshold)
            result.windows = [{"start": float(t), "score": float(s)} for t, s in zip(starts, scores)]
        except (SslasdError, OSError) as exc:
            result.error = str(exc)
        results.append(result)
    if json is not None:
        atomic_write_json(json, {"results": [asdict(r) for r in results]})
    return results
