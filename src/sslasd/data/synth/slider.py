"""Slide rail: back-and-forth strokes: servo whine and rolling noise while moving, a stop click at each end.

Attributes (concealed as ``noAttribute`` from 2024 on, like DCASE's slider): ``vel`` (speed step:
higher whine, louder rolling, shorter strokes) and ``len`` (stroke length S/L: the stroke rhythm).
Faults: ``rattle`` (loose parts knocking while moving), ``squeal`` (dry rail: a narrow-band squeal while
moving), ``stick_slip`` (jerky motion: rolling noise chopped at 20-35 Hz), ``bounce`` (a worn stop: the
end click bounces).
"""

from __future__ import annotations

import numpy as np

from sslasd.data.synth.base import MachineSpec, Take
from sslasd.data.synth.signals import (
    band_noise,
    gate,
    harmonics,
    impacts,
    poisson_times,
    ringing,
)

_LENGTHS = {"S": 0.2, "L": 0.35}


def _strokes(
    duration: float, move: float, pause: float, rng: np.random.Generator
) -> list[tuple[float, float]]:
    """(start, end) of each movement, the clip starting anywhere in the cycle."""
    out, t = [], -rng.uniform(0, 2 * (move + pause))
    while t < duration:
        out.append((t, t + move * rng.uniform(0.97, 1.03)))
        t += move + pause * rng.uniform(0.8, 1.2)
    return out


def render(take: Take, rng: np.random.Generator) -> np.ndarray:
    """The slide rail's sound for ``take`` (see the module docstring)."""
    n, sr, unit, sev = take.n, take.sr, take.unit, take.severity
    velocity = unit["speed"] * (1 + 0.4 * (int(take.attributes["vel"]) - 1))
    strokes = _strokes(n / sr, _LENGTHS[take.attributes["len"]] / velocity, 0.15, rng)
    moving = gate(n, sr, strokes, ramp_s=0.05)
    t = np.arange(n) / sr
    whine_hz = 150 + 200 * velocity
    whine = harmonics(2 * np.pi * whine_hz * t, [1, 2, 3], [0.2, 0.08, 0.04], rng)
    roll = band_noise(n, sr, rng, 800, 5000) * (1 + 0.3 * np.sin(2 * np.pi * 120 * velocity * t))
    if take.fault == "stick_slip":
        chop = np.sin(2 * np.pi * rng.uniform(20, 35) * t + 0.5 * np.sin(2 * np.pi * 3 * t))
        roll *= 1 + 0.8 * sev * chop
    x = moving * (whine + 0.5 * velocity * roll)
    ends = np.array([end for _, end in strokes])
    click = ringing(sr, [unit["ring_hz"], 2.3 * unit["ring_hz"]], 0.008)
    x += impacts(n, sr, ends, 0.6 * rng.uniform(0.85, 1.15, ends.size), click)
    if take.fault == "rattle":
        times = poisson_times(n / sr, 6 + 14 * sev, rng)
        times = times[moving[np.minimum((times * sr).astype(int), n - 1)] > 0.5]
        x += (
            0.5 * sev * impacts(n, sr, times, rng.uniform(0.5, 1.0, times.size), ringing(sr, [3500.0], 0.003))
        )
    elif take.fault == "squeal":
        f = rng.uniform(2200, 3200) * (1 + 0.02 * np.sin(2 * np.pi * rng.uniform(2, 6) * t))
        x += 0.15 * sev * moving * np.sin(2 * np.pi * np.cumsum(f) / sr)
    elif take.fault == "bounce":
        for delay, gain in ((rng.uniform(0.02, 0.03), 0.5), (rng.uniform(0.04, 0.06), 0.25)):
            x += impacts(n, sr, ends + delay, 0.6 * gain * sev * np.ones(ends.size), click)
    return 2.5 * x


SPEC = MachineSpec(
    name="slider",
    source=({"vel": "1", "len": "S"}, {"vel": "2", "len": "S"}, {"vel": "1", "len": "L"}),
    target=({"vel": "3", "len": "L"},),
    faults=("rattle", "squeal", "stick_slip", "bounce"),
    units=({"speed": 0.3, "ring_hz": 1800.0}, {"speed": 0.4, "ring_hz": 2400.0}),
    render=render,
    concealed=True,
)
