"""Solenoid valve: open and close clicks in a timing pattern, flow hiss while open, a pump droning behind.

Attributes: ``pat`` (the open/close timing pattern) and ``flw`` (flow through the open valve, A/B: hiss
level and colour). Faults: ``leak`` (hiss while closed), ``chatter`` (the seat bounces after closing),
``sticky`` (the armature sticks: late opening, sometimes a missing close click), ``contamination``
(debris in the flow: a crackling hiss).
"""

from __future__ import annotations

import numpy as np

from sslasd.data.synth.base import MachineSpec, Take
from sslasd.data.synth.signals import band_noise, gate, harmonics, impacts, lowpass, ringing

# pattern -> (open durations within one cycle as (offset, length) in s, cycle length in s)
_PATTERNS = {
    "00": (((0.0, 0.25),), 0.8),
    "01": (((0.0, 0.1), (0.25, 0.1)), 1.0),
    "02": (((0.0, 0.4),), 1.3),
}


def render(take: Take, rng: np.random.Generator) -> np.ndarray:
    """The valve's sound for ``take`` (see the module docstring)."""
    n, sr, unit, sev = take.n, take.sr, take.unit, take.severity
    duration = n / sr
    openings, cycle = _PATTERNS[take.attributes["pat"]]
    cycle *= unit["tempo"]
    intervals, t0 = [], -rng.uniform(0, cycle)
    while t0 < duration:
        for offset, length in openings:
            start = t0 + offset * unit["tempo"] + rng.normal(0, 0.004)
            if take.fault == "sticky":
                start += sev * rng.uniform(0.04, 0.12)
            intervals.append((start, start + length * unit["tempo"] + rng.normal(0, 0.004)))
        t0 += cycle
    is_open = gate(n, sr, intervals, ramp_s=0.01)
    t = np.arange(n) / sr
    x = 0.15 * harmonics(2 * np.pi * 50 * t, [1, 2, 3], [1.0, 0.5, 0.3], rng)
    x += 0.2 * lowpass(rng.standard_normal(n), sr, 300.0)
    bright = take.attributes["flw"] == "B"
    hiss = band_noise(n, sr, rng, 1200, 7000 if bright else 4500) * (0.45 if bright else 0.25)
    if take.fault == "contamination":
        crackle = lowpass(rng.standard_normal(n), sr, 200.0)
        hiss *= 1 + 2.0 * sev * np.abs(crackle) / (np.std(crackle) + 1e-12)
    x += is_open * hiss
    if take.fault == "leak":
        x += (1 - is_open) * 0.12 * sev * band_noise(n, sr, rng, 3000, 7000)
    starts = np.array([s for s, _ in intervals])
    ends = np.array([e for _, e in intervals])
    open_click = ringing(sr, [unit["ring_hz"], 2 * unit["ring_hz"]], 0.004)
    close_click = ringing(sr, [0.65 * unit["ring_hz"]], 0.006)
    close_amp = 0.8 * rng.uniform(0.9, 1.1, ends.size)
    if take.fault == "sticky":
        close_amp *= rng.uniform(0, 1, ends.size) > 0.3 * sev
    x += impacts(n, sr, starts, 0.5 * rng.uniform(0.9, 1.1, starts.size), open_click)
    x += impacts(n, sr, ends, close_amp, close_click)
    if take.fault == "chatter":
        for bounce in range(1, int(rng.integers(2, 5))):
            delay = bounce * rng.uniform(0.008, 0.02)
            x += impacts(n, sr, ends + delay, 0.5 * sev * 0.6**bounce * np.ones(ends.size), close_click)
    return 2.0 * x


SPEC = MachineSpec(
    name="valve",
    source=tuple({"pat": p, "flw": f} for p in ("00", "01") for f in ("A", "B")),
    target=tuple({"pat": "02", "flw": f} for f in ("A", "B")),
    faults=("leak", "chatter", "sticky", "contamination"),
    units=({"tempo": 1.0, "ring_hz": 2600.0}, {"tempo": 0.85, "ring_hz": 3400.0}),
    render=render,
)
