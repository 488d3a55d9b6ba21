"""The run folder's layout: every file name of a fitted run, in one place.

A fitted run is one artifact. ``fit`` writes it, ``score``/``detect``/``load``/``export`` read it
(:class:`sslasd.pipeline.rundir.RunDir` adds the typed config on top of these paths), the training
loop writes ``fit/`` and the report reads every piece. The names live here, in the bottom layer,
so that every layer spells them the same way and none has to import the pipeline to find a file.

Layout (``RUN/``)::

    config.yaml        resolved RunConfig (later steps read it, never re-ask)
    run.json           versions, seed, backbone checkpoint + sha256, machines, year, what fit consumed
    fit/               checkpoints/last.pt (resume), model.safetensors (trainable weights), metrics.csv,
                       train_summary.json, vq_history.json, pseudo_labels.csv, adapter_gates.json,
                       DONE
    banks/             embeddings.npz of the training clips (one per clip: the mean of its scoring
                       windows), backends.safetensors (the fitted back-ends, read by every scoring
                       path instead of refitting), DONE
    thresholds.json    decision threshold per machine / section (a copy for readers of the run)
    ensemble.json      with ensemble.members: the members and each section's fitted combiner
    backend.json       back-end name and parameters
    scores/<tag>/      challenge CSVs, embeddings.npz, metrics.json, DONE (what was scored),
                       floors/<name>/ when the run's scores folder is elsewhere
    floors/<name>/     training-free detectors on the same data (logmel, frozen), laid out like a
                       run: floor.json, banks/, scores/<tag>/ (backbone.safetensors: the
                       weights of a floor whose backbone has no checkpoint)
    cache/             decoded training audio (rebuilt when absent)
    report.html

Each step writes under temporary names and renames; its ``DONE`` marker is written last, so a
killed step is redone and a finished one is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sslasd._common.atomic import atomic_write_text

DONE = "DONE"  # the marker a finished step writes last
EMBEDDINGS = "embeddings.npz"  # banks/ and scores/<tag>/ share the format
METRICS = "metrics.json"  # in a scores folder: what `sslasd evaluate --json` wrote

# inside fit/ (the training loop's out_dir)
CHECKPOINT = Path("checkpoints") / "last.pt"
WEIGHTS = "model.safetensors"
TRAIN_LOG = "metrics.csv"
TRAIN_SUMMARY = "train_summary.json"


@dataclass(frozen=True)
class RunLayout:
    """Paths of a run folder, or of a floor inside one (nothing is created until a step writes)."""

    root: Path

    @classmethod
    def at(cls, path: str | os.PathLike) -> RunLayout:
        return cls(Path(path).expanduser().resolve())

    config_path = property(lambda self: self.root / "config.yaml")
    info_path = property(lambda self: self.root / "run.json")
    fit_dir = property(lambda self: self.root / "fit")
    weights_path = property(lambda self: self.root / "fit" / WEIGHTS)
    train_log_path = property(lambda self: self.root / "fit" / TRAIN_LOG)
    vq_history_path = property(lambda self: self.root / "fit" / "vq_history.json")
    adapter_gates_path = property(lambda self: self.root / "fit" / "adapter_gates.json")
    pseudo_labels_path = property(lambda self: self.root / "fit" / "pseudo_labels.csv")
    banks_dir = property(lambda self: self.root / "banks")
    bank_embeddings_path = property(lambda self: self.root / "banks" / EMBEDDINGS)
    backends_path = property(lambda self: self.root / "banks" / "backends.safetensors")
    floor_info_path = property(lambda self: self.root / "floor.json")
    floor_weights_path = property(lambda self: self.root / "backbone.safetensors")  # a random-weight floor
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
        return is_done(self.root / step)

    def mark_done(self, step: str) -> None:
        atomic_write_text(self.root / step / DONE, "")


def is_done(folder: Path) -> bool:
    """Whether the step that writes ``folder`` (a step folder or a scores folder) finished."""
    return (folder / DONE).is_file()
