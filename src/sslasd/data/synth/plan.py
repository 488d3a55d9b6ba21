"""Which clips a synthetic data set holds, and the DCASE name each one gets in a given year's format.

Every clip draws its sound from its own generator, seeded by the data-set seed and the clip's place
(machine, section, domain, split, label, number), so a data set is the same file for file whatever the
order or the number of processes that render it.

The 2026 format records every clip with two microphones (near, far) and names the machine folders
as DCASE 2026 does: the types it had only as two-channel emulations get the ``Emu`` suffix
(``bearingEmu``, ``gearboxEmu``, ``sliderEmu``, ``valveEmu``; ``fan`` and ``pump`` keep their names),
and ``noAttribute`` goes where 2026 put it (``bearingEmu``, ``sliderEmu``, ``valveEmu``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from sslasd.data.names import format_name
from sslasd.data.synth.base import MachineSpec
from sslasd.data.synth.machines import MACHINES
from sslasd.data.synth.presets import SynthPreset
from sslasd.data.years import DEV_MACHINES, NO_ATTRIBUTE_MACHINES, year_channels


@dataclass(frozen=True)
class ClipPlan:
    """One clip of a synthetic data set: where it goes, what it is, how to render it.

    ``machine`` is the folder name (the DCASE machine type); ``kind`` the synthetic type that renders
    it (a key of :data:`~sslasd.data.synth.machines.MACHINES`); ``channels`` 1, or 2 (near, far).
    """

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
    kind: str
    channels: int

    @property
    def name(self) -> str:
        """The file name."""
        return self.relative_path.rsplit("/", 1)[-1]


def machine_folder(kind: str, year: int) -> str:
    """The folder of synthetic type ``kind`` in the ``year`` format (``bearing`` -> ``bearingEmu`` in 2026).

    Example
    -------
    >>> machine_folder("slider", 2026), machine_folder("fan", 2026), machine_folder("slider", 2025)
    ('sliderEmu', 'fan', 'slider')
    """
    emulated = f"{kind}Emu"
    return emulated if emulated in DEV_MACHINES.get(year, frozenset()) else kind


def is_concealed(spec: MachineSpec, year: int) -> bool:
    """Whether ``spec``'s names say ``noAttribute`` in the ``year`` format: from 2024 the types marked
    ``concealed``; in 2026 the folders that DCASE 2026 concealed."""
    if year >= 2026:  # the folders carry DCASE's own type names: conceal what DCASE concealed
        return machine_folder(spec.name, year) in NO_ATTRIBUTE_MACHINES[year]
    return spec.concealed and year >= 2024


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
    concealed = is_concealed(spec, year)
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
    machine = machine_folder(spec.name, year)
    return ClipPlan(
        machine=machine,
        section=section,
        domain=domain,
        split=split,
        label=label,
        number=number,
        condition=dict(condition),
        fault=fault,
        severity=severity,
        relative_path=f"{machine}/{folder}/{name}",
        shown_attributes=shown,
        no_attribute=concealed,
        seed=seed,
        kind=spec.name,
        channels=year_channels(year),
    )
