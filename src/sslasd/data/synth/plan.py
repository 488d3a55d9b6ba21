"""Which clips a synthetic data set holds, and the DCASE name each one gets in a given year's format.

Every clip draws its sound from its own generator, seeded by the data-set seed and the clip's place
(machine, section, domain, split, label, number), so a data set is the same file for file whatever the
order or the number of processes that render it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from sslasd.data.names import format_name
from sslasd.data.synth.base import MachineSpec
from sslasd.data.synth.machines import MACHINES
from sslasd.data.synth.presets import SynthPreset


@dataclass(frozen=True)
class ClipPlan:
    """One clip of a synthetic data set: where it goes, what it is, how to render it."""

    machine: str
    section: str
    domain: str
    split: str
    label: str
    number: int
    condition: dict[str, str]
    fault: str | None
    severity: float
    relative_path: str
    shown_attributes: dict[str, str]
    no_attribute: bool
    seed: tuple[int, ...]

    @property
    def name(self) -> str:
        """The file name."""
        return self.relative_path.rsplit("/", 1)[-1]


def plan_dataset(preset: SynthPreset, seed: int, year: int) -> list[ClipPlan]:
    """Every clip of ``preset`` named in the ``year`` format, in a fixed order."""
    plans = []
    for machine, count in preset.sections.items():
        spec = MACHINES[machine]
        for s in range(count):
            plans += _plan_section(spec, f"{s:02d}", preset, seed, year)
    return plans


def _plan_section(
    spec: MachineSpec, section: str, preset: SynthPreset, seed: int, year: int
) -> list[ClipPlan]:
    tag = zlib.crc32(f"{spec.name}/{section}".encode())
    rng = np.random.default_rng([seed, tag])
    groups: list[tuple[str, str, str, int]] = []  # (domain, split, label, count)
    if year == 2020:
        groups += [("source", "train", "normal", preset.source_train)]
        groups += [("source", "test", label, 2 * preset.test_per_group) for label in ("normal", "anomaly")]
    else:
        groups += [
            ("source", "train", "normal", preset.source_train),
            ("target", "train", "normal", preset.target_train),
        ]
        groups += [
            (d, "test", lab, preset.test_per_group)
            for d in ("source", "target")
            for lab in ("normal", "anomaly")
        ]
    plans = []
    for g, (domain, split, label, count) in enumerate(groups):
        conditions = spec.source if domain == "source" else spec.target
        order = rng.permutation(count) % len(conditions)
        faults = rng.permutation(count) % len(spec.faults)
        for number in range(count):
            condition = conditions[order[number]]
            fault = spec.faults[faults[number]] if label == "anomaly" else None
            severity = float(rng.uniform(*preset.severity)) if fault else 0.0
            where = {"section": section, "domain": domain, "split": split, "label": label, "number": number}
            plans.append(_clip_plan(spec, year, (seed, tag, g, number), condition, fault, severity, **where))
    return plans


def _clip_plan(
    spec: MachineSpec,
    year: int,
    seed: tuple[int, ...],
    condition: dict[str, str],
    fault: str | None,
    severity: float,
    *,
    section: str,
    domain: str,
    split: str,
    label: str,
    number: int,
) -> ClipPlan:
    concealed = spec.concealed and year >= 2024
    shown = dict(condition) if year >= 2022 and not concealed else {}
    name = format_name(
        year,
        section=section,
        domain="none" if year == 2020 else domain,
        split=split,
        label=label,
        number=number,
        attributes=shown,
        no_attribute=concealed,
    )
    folder = f"{domain}_test" if year == 2021 and split == "test" else split
    return ClipPlan(
        machine=spec.name,
        section=section,
        domain=domain,
        split=split,
        label=label,
        number=number,
        condition=dict(condition),
        fault=fault,
        severity=severity,
        relative_path=f"{spec.name}/{folder}/{name}",
        shown_attributes=shown,
        no_attribute=concealed,
        seed=seed,
    )
