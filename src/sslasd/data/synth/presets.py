"""The sizes of the synthetic data sets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SynthPreset:
    """How big a synthetic data set is.

    Attributes
    ----------
    name : str
    seconds : float
        Length of every clip.
    sections : Mapping[str, int]
        Machine type -> number of sections (each a different machine of the type).
    source_train, target_train : int
        Normal training clips per section in the source and target domains (2020 names: source only).
    test_per_group : int
        Test clips per section for each (domain, label) pair: normal/anomaly x source/target.
    severity : (float, float)
        Range of fault severities. ``tiny`` uses strong faults so that the few-step models of the
        tests can show they learn; ``small`` spans faint to clear ones.
    supplementary_noise : int
        Noise-only clips per machine type written with ``supplementary`` (``sslasd synth
        --supplementary``), as DCASE 2025 shipped beside the training clips.
    """

    name: str
    seconds: float
    sections: Mapping[str, int]
    source_train: int
    target_train: int
    test_per_group: int
    severity: tuple[float, float] = (0.25, 1.0)
    supplementary_noise: int = 4


PRESETS: dict[str, SynthPreset] = {
    "tiny": SynthPreset(
        name="tiny",
        seconds=2.0,
        sections={"fan": 1, "pump": 1, "gearbox": 1, "slider": 1, "valve": 1, "bearing": 1},
        source_train=16,
        target_train=4,
        test_per_group=5,
        severity=(1.0, 2.0),
    ),
    "small": SynthPreset(
        name="small",
        seconds=5.0,
        sections={"fan": 2, "pump": 1, "gearbox": 2, "slider": 1, "valve": 2, "bearing": 1},
        source_train=100,
        target_train=10,
        test_per_group=15,
        supplementary_noise=10,
    ),
}
