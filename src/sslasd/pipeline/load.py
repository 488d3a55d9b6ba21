"""``sslasd.load``: the scoring detector of a fitted run folder or an exported bundle.

A run whose config has ``ensemble.members`` other than ``["run"]`` scores with its ensemble
(:class:`~sslasd.pipeline.ensemble.EnsembleDetector`), and so do ``sslasd score``, ``detect`` and its
bundle; every other run with its own :class:`~sslasd.pipeline.detector.Detector`.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from sslasd.errors import CheckpointError, RunError, SslasdError
from sslasd.pipeline.detector import Detector, read_bundle
from sslasd.pipeline.ensemble import EnsembleDetector
from sslasd.pipeline.rundir import RunDir
from sslasd.training.labels import LabelVocabulary


def load_run(
    run: str | os.PathLike, *, device: str | torch.device = "auto", precision: str = "auto"
) -> Detector:
    """The detector that scores for run folder ``run`` (its ensemble when it has one)."""
    rd = RunDir.at(run)
    if rd.require_fitted().ensemble.members != ["run"]:
        return EnsembleDetector.from_run(rd.root, device=device, precision=precision)
    return Detector.from_run(rd.root, device=device, precision=precision)


def load(
    run_or_bundle: str | os.PathLike, *, device: str | torch.device = "auto", precision: str = "auto"
) -> Detector:
    """A detector from a run folder or an exported bundle file (``precision``: see :class:`Detector`).

    Example
    -------
    >>> det = load("runs/demo")                                   # doctest: +SKIP
    >>> det.score(["pump_001.wav"], machine="pump")               # doctest: +SKIP
    array([0.231], dtype=float32)
    """
    path = Path(run_or_bundle)
    if path.is_dir():
        return load_run(path, device=device, precision=precision)
    if path.is_file():
        meta, tensors = read_bundle(path)
        try:
            if "members" in meta:
                return EnsembleDetector.from_bundle_meta(
                    meta, tensors, str(path), device=device, precision=precision
                )
            vocab = LabelVocabulary.from_dict(meta["labels"])
            return Detector.from_bundle_part(
                meta, tensors, "", vocab, str(path), device=device, precision=precision
            )
        except SslasdError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as exc:
            why = " ".join(str(exc).split())  # torch's size-mismatch report spans many lines
            raise CheckpointError(
                f"{path}: the bundle's metadata does not fit its weights ({type(exc).__name__}: {why[:300]})"
            ) from None
    raise RunError(f"{path}: neither a run folder nor a bundle file")
