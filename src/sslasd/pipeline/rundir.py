"""The run folder: where every step of a run writes, and how a finished step is recognised.

Layout (``RUN/``)::

    config.yaml        resolved RunConfig (later steps read it, never re-ask)
    run.json           versions, seed, backbone checkpoint + sha256, machines, year, data root, labels
    fit/               checkpoints/last.pt (resume), model.safetensors (trainable weights), metrics.csv,
                       labels.json, DONE
    banks/             embeddings.npz of the training clips (one per clip: the mean of its scoring
                       windows), backends.safetensors (the fitted back-ends, read by every scoring
                       path instead of refitting), DONE
    thresholds.json    decision threshold per machine / section (a copy for readers of the run)
    ensemble.json      with ensemble.members: the members and each section's fitted combiner
    backend.json       back-end name and parameters
    scores/<tag>/      challenge CSVs, embeddings.npz, metrics.json
    floors/<name>/     training-free detectors on the same data (logmel, frozen): floor.json,
                       banks/, scores/<tag>/ (see sslasd.pipeline.floors)
    report.html

Each step writes under temporary names and renames; its ``DONE`` marker is written last, so a
killed step is redone and a finished one is a no-op.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sslasd._common import atomic_write_json, atomic_write_text
from sslasd.data import Clip
from sslasd.errors import RunError
from sslasd.pipeline.config import RunConfig, config_from_dict, dump_config, parse_yaml


@dataclass(frozen=True)
class RunDir:
    """Paths of a run folder (nothing is created until a step writes)."""

    root: Path

    @classmethod
    def at(cls, path: str | os.PathLike) -> RunDir:
        return cls(Path(path).expanduser().resolve())

    config_path = property(lambda self: self.root / "config.yaml")
    info_path = property(lambda self: self.root / "run.json")
    fit_dir = property(lambda self: self.root / "fit")
    banks_dir = property(lambda self: self.root / "banks")
    backends_path = property(lambda self: self.root / "banks" / "backends.safetensors")
    ensemble_path = property(lambda self: self.root / "ensemble.json")
    thresholds_path = property(lambda self: self.root / "thresholds.json")
    backend_path = property(lambda self: self.root / "backend.json")
    scores_root = property(lambda self: self.root / "scores")
    report_path = property(lambda self: self.root / "report.html")
    cache_dir = property(lambda self: self.root / "cache")
    floors_root = property(lambda self: self.root / "floors")

    def floor_dir(self, name: str) -> Path:
        """``RUN/floors/<name>``: one training-free floor, laid out like the run itself."""
        return self.floors_root / name

    def done(self, step: str) -> bool:
        """Whether step ``fit`` or ``banks`` finished."""
        return (self.root / step / "DONE").is_file()

    def mark_done(self, step: str) -> None:
        atomic_write_text(self.root / step / "DONE", "")

    def require(self, step: str) -> None:
        """Refuse to go on when ``step`` has not finished, naming the command that makes it."""
        if not self.config_path.is_file():
            raise RunError(f"{self.root}: not a run folder (no config.yaml); make one with `sslasd fit`")
        if not self.done(step):
            raise RunError(
                f"{self.root}: step {step!r} has not finished; run `sslasd fit --out {self.root}` first"
            )

    def require_fitted(self) -> RunConfig:
        """The run's config, once every step its scoring needs has finished: the model and its
        banks when the run itself scores (``ensemble.members`` holds ``run``), the ensemble's
        combiners when it has several members or only floors."""
        config = self.read_config()
        if "run" in config.ensemble.members:
            self.require("fit")
            self.require("banks")
        if config.ensemble.members != ["run"] and not self.ensemble_path.is_file():
            raise RunError(
                f"{self.root}: the ensemble is not fitted; run `sslasd fit --out {self.root}` first"
            )
        return config

    def read_config(self) -> RunConfig:
        if not self.config_path.is_file():
            raise RunError(f"{self.root}: not a run folder (no config.yaml); make one with `sslasd fit`")
        text = self.config_path.read_text()
        return config_from_dict(parse_yaml(text, str(self.config_path)) or {}, str(self.config_path))

    def write_config(self, config: RunConfig) -> None:
        atomic_write_text(self.config_path, dump_config(config))

    def read_info(self) -> dict[str, Any]:
        if not self.info_path.is_file():
            raise RunError(f"{self.root}: run.json is missing; the run was not started with `sslasd fit`")
        return json.loads(self.info_path.read_text())

    def write_info(self, info: dict[str, Any]) -> None:
        atomic_write_json(self.info_path, info)

    def read_thresholds(self) -> dict[str, dict[str, float]]:
        return json.loads(self.thresholds_path.read_text()) if self.thresholds_path.is_file() else {}


def data_record(root: str | os.PathLike, clips: Sequence[Clip]) -> dict[str, Any]:
    """What a step consumed: the data root, the number of files and a digest of their paths and sizes.

    Recorded in ``run.json`` (``train_data``) by ``fit`` and in each scores folder's ``DONE`` by
    ``score``, so that a finished step is a no-op only for the same data, never for other data that
    happens to have the same folder name.
    """
    base = Path(root).expanduser().resolve()
    lines = sorted(
        f"{Path(c.path).resolve().relative_to(base)}\t{Path(c.path).stat().st_size}" for c in clips
    )
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return {"data_root": str(base), "files": len(lines), "digest": digest}


def read_done_record(folder: Path) -> dict[str, Any] | None:
    """The data record in ``folder/DONE``; None when the step is not done or its (older) marker is empty."""
    marker = folder / "DONE"
    text = marker.read_text().strip() if marker.is_file() else ""
    return json.loads(text) if text else None
