"""Render a planned synthetic data set and write it in the DCASE layout (mono, or near and far
microphone in the 2026 format), optionally with DCASE 2025's supplementary noise-only clips.

The supplementary clips go to ``<machine>/supplemental/noise_<NNNN>.wav``: the folder name that
third-party DCASE 2025 loaders read, not checked against the organisers' own description, and a file
name of our own that says ``noise`` (:mod:`sslasd.data.noise` takes a data root's ``supplemental``
files named so). The data-set index reads only the split folders and leaves them alone.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

from sslasd._common import atomic_write_text
from sslasd.data.attributes import AttributeRow, write_attributes_csv
from sslasd.data.noise import SUPPLEMENTAL_FOLDER
from sslasd.data.synth.base import Take
from sslasd.data.synth.environment import record, record_pair, record_room
from sslasd.data.synth.machines import MACHINES
from sslasd.data.synth.plan import ClipPlan, is_concealed, machine_folder, plan_dataset
from sslasd.data.synth.presets import SynthPreset
from sslasd.data.years import year_channels

SAMPLE_RATE = 16000
_LEVEL = 0.06  # output RMS of a machine at unit render level (about -24 dBFS)
_LAYOUT = {1: "mono", 2: "two-channel (near, far microphone)"}


def render_clip(plan: ClipPlan, seconds: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The float32 samples of one planned clip (peak at most 0.99): ``[n]``, or ``[n, 2]`` (near, far
    microphone; soundfile's layout) for a two-channel plan."""
    rng = np.random.default_rng(list(plan.seed))
    spec = MACHINES[plan.kind]
    take = Take(
        plan.condition, spec.units[int(plan.section)], plan.fault, plan.severity, int(seconds * sr), sr
    )
    machine = spec.render(take, rng)
    if plan.channels == 1:
        heard = record(machine, plan.domain, sr, rng)
    else:
        heard = record_pair(machine, plan.domain, sr, rng).T
    return _at_level(heard, rng)


def _at_level(heard: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``heard`` at the output level (a random +-1 dB), the peak at most 0.99, float32."""
    wave = heard * _LEVEL * 10 ** (rng.uniform(-1, 1) / 20)
    peak = float(np.max(np.abs(wave)))
    if peak > 0.99:
        wave *= 0.99 / peak
    return wave.astype(np.float32)


def write_synth_dataset(
    folder: Path, preset: SynthPreset, seed: int, year: int, *, supplementary: bool = False
) -> list[ClipPlan]:
    """Write every clip, the attribute CSVs (2022+ formats), ``synth_truth.csv`` and ``README.txt``;
    with ``supplementary`` also the noise-only clips of every machine (:func:`write_supplementary`).

    ``folder`` must exist and be empty; the caller makes the result appear atomically.
    """
    plans = plan_dataset(preset, seed, year)
    for plan in plans:
        path = folder / plan.relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, render_clip(plan, preset.seconds), SAMPLE_RATE, subtype="PCM_16")
    if year >= 2022:
        _write_attribute_csvs(folder, plans)
    if supplementary:
        write_supplementary(folder, preset, seed, year)
    _write_truth(folder / "synth_truth.csv", plans)
    atomic_write_text(folder / "README.txt", _readme(preset, seed, year, plans, supplementary))
    return plans


def write_supplementary(folder: Path, preset: SynthPreset, seed: int, year: int) -> list[Path]:
    """Write ``preset.supplementary_noise`` noise-only clips per machine type to
    ``<machine>/supplemental/noise_<NNNN>.wav`` and return their paths.

    Each is the machine's room with the machine silent (``environment.record_room``), at the level
    the training clips' background has; seeded by the seed, the machine type and the number, so
    adding them leaves every other clip of the set as it was.
    """
    written = []
    for kind in preset.sections:
        machine = machine_folder(kind, year)
        tag = zlib.crc32(f"{kind}/{SUPPLEMENTAL_FOLDER}".encode())
        for number in range(preset.supplementary_noise):
            rng = np.random.default_rng([seed, tag, number])
            heard = record_room(int(preset.seconds * SAMPLE_RATE), SAMPLE_RATE, rng, year_channels(year))
            path = folder / machine / SUPPLEMENTAL_FOLDER / f"noise_{number:04d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, _at_level(heard, rng).T, SAMPLE_RATE, subtype="PCM_16")
            written.append(path)
    return written


def _write_attribute_csvs(folder: Path, plans: list[ClipPlan]) -> None:
    rows: dict[tuple[str, str], list[AttributeRow]] = defaultdict(list)
    for p in plans:
        row = AttributeRow.from_attributes(p.relative_path, p.shown_attributes, no_attribute=p.no_attribute)
        rows[(p.machine, p.section)].append(row)
    for (machine, section), table in rows.items():
        write_attributes_csv(folder / machine / f"attributes_{section}.csv", table)


def _write_truth(path: Path, plans: list[ClipPlan]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file_name", "machine", "section", "domain", "label", "condition", "fault", "severity"])
    for p in plans:
        condition = "_".join(f"{k}_{v}" for k, v in p.condition.items())
        writer.writerow(
            [
                p.relative_path,
                p.machine,
                p.section,
                p.domain,
                p.label,
                condition,
                p.fault or "",
                f"{p.severity:.3f}",
            ]
        )
    atomic_write_text(path, buffer.getvalue())


def _readme(preset: SynthPreset, seed: int, year: int, plans: list[ClipPlan], supplementary: bool) -> str:
    lines = [
        "sslasd synthetic machine-sound data set (not recorded audio: generated from simple physics).",
        f"preset: {preset.name}   seed: {seed}   name format: DCASE {year}   clips: {len(plans)}",
        f"test clips per section, domain and label: {preset.test_per_group}",
        f"audio: {SAMPLE_RATE} Hz {_LAYOUT[plans[0].channels]} 16-bit, {preset.seconds:g} s per clip",
        "",
        "machine     sections  operating attributes (source -> unseen target)        faults",
    ]
    for machine, count in preset.sections.items():
        spec = MACHINES[machine]
        src = "/".join("_".join(f"{k}_{v}" for k, v in c.items()) for c in spec.source)
        tgt = "/".join("_".join(f"{k}_{v}" for k, v in c.items()) for c in spec.target)
        hidden = " (concealed: noAttribute)" if is_concealed(spec, year) else ""
        folder = machine_folder(machine, year)
        lines.append(f"{folder:<11} {count:<9} {src} -> {tgt}{hidden}   {', '.join(spec.faults)}")
    if supplementary:
        lines += [
            "",
            f"supplementary noise clips per machine: {preset.supplementary_noise} "
            f"(<machine>/{SUPPLEMENTAL_FOLDER}/noise_NNNN.wav: the machine's room, machine silent)",
        ]
    if plans[0].channels == 2:
        lines += [
            "",
            "Two microphones: the near one first, then one 1-3 m farther away that hears the machine",
            "later and 9-14 dB fainter, the room's noise as loudly or louder, and noise of its own.",
        ]
    lines += [
        "",
        "Target domain: unseen operating values and a different background (hall instead of workshop),",
        "with few training clips. synth_truth.csv lists every clip's true condition, fault and severity;",
        "a detector must not read it. Made by `sslasd synth`.",
    ]
    return "\n".join(lines) + "\n"
