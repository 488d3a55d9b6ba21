"""The run folder as the pipeline reads it: :class:`RunLayout`'s paths plus the typed config and
the checks a step makes before it reads another step's output.

The layout itself (every file name) is :mod:`sslasd._common.run_layout`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sslasd._common import atomic_write_json, atomic_write_text, get_logger
from sslasd._common.run_layout import DONE, RunLayout
from sslasd.data import Clip
from sslasd.errors import ConfigError, RunError
from sslasd.pipeline.config import RunConfig, config_from_dict, dump_config, parse_yaml, unset_keys

log = get_logger("run")
_WARNED: set[str] = set()  # run folders whose config gaps were already reported in this process


@dataclass(frozen=True)
class RunDir(RunLayout):
    """A run folder: its paths (:class:`RunLayout`), config and info, and step checks."""

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
        """The saved config; keys it lacks (an older sslasd wrote it) take today's defaults, with
        one warning per folder naming them (:meth:`unset_keys`)."""
        tree = self._config_tree()
        gaps = unset_keys(tree)
        if gaps and str(self.root) not in _WARNED:
            _WARNED.add(str(self.root))
            log.warning(
                "%s: config.yaml has no %s (written by an older sslasd); using today's defaults "
                "for them: write in the values the run used if they differ",
                self.root,
                ", ".join(gaps),
            )
        return config_from_dict(tree, str(self.config_path))

    def unset_keys(self) -> list[str]:
        """Config keys the saved ``config.yaml`` does not set (see :func:`unset_keys`)."""
        return unset_keys(self._config_tree())

    def _config_tree(self) -> dict[str, Any]:
        if not self.config_path.is_file():
            raise RunError(f"{self.root}: not a run folder (no config.yaml); make one with `sslasd fit`")
        tree = parse_yaml(self.config_path.read_text(), str(self.config_path)) or {}
        if not isinstance(tree, dict):
            raise ConfigError(f"{self.config_path}: expected a mapping of config sections")
        return tree

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
    marker = folder / DONE
    text = marker.read_text().strip() if marker.is_file() else ""
    return json.loads(text) if text else None
