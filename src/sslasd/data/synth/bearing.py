"""Rolling bearing on a motor shaft: shaft harmonics, mains hum and rolling roughness noise.

Attributes: ``vel`` (shaft speed step: higher orders, louder roughness) and ``loc`` (microphone
location A/B: a different housing colouration). Faults: ``outer`` (outer-race spall: impacts at the
ball-pass frequency of the outer race, BPFO = 3.57 x shaft), ``inner`` (inner-race spall: impacts at
BPFI = 5.43 x shaft, modulated once per revolution as the spall turns through the load zone), ``ball``
(a damaged ball: impacts at twice the ball-spin frequency), ``rub`` (shaft rubbing: many shaft orders and
a once-per-revolution scrape).
"""

from __future__ import annotations

import numpy as np

from sslasd.data.synth.base import MachineSpec, Take
from sslasd.data.synth.signals import (
    band_noise,
    harmonics,
    impacts,
    periodic_times,
    phase_of,
    ringing,
    spectral_noise,
    speed_track,
    unit_rms,
)


def render(take: Take, rng: np.random.Generator) -> np.ndarray:
    """The bearing's sound for ``take`` (see the module docstring)."""
    n, sr, unit, sev = take.n, take.sr, take.unit, take.severity
    shaft = unit["shaft_hz"] * {"6": 1.0, "8": 1.3, "12": 1.9}[take.attributes["vel"]]
    rate = speed_track(shaft, n, sr, rng, wander=0.004)
    phase = phase_of(rate, sr)
    t = np.arange(n) / sr
    x = harmonics(phase, [1, 2, 3, 4], 0.15 * np.array([1.0, 0.5, 0.25, 0.1]), rng)
    x += harmonics(2 * np.pi * 100.0 * t, [1, 2], [0.1, 0.04], rng)
    peak = unit["ring_hz"] * (1.0 if take.attributes["loc"] == "A" else 0.7)
    rough = spectral_noise(n, sr, rng, [20, 500, peak, 7900], [-25, -12, 0, -15])
    x += 0.5 * (shaft / unit["shaft_hz"]) ** 1.5 * rough * (1 + 0.1 * np.sin(0.4 * phase))
    kernel = ringing(sr, [peak], 0.001)
    if take.fault in ("outer", "inner", "ball"):
        order = {"outer": 3.57, "inner": 5.43, "ball": 4.64}[take.fault]
        times = periodic_times(rate, sr, order, rng)
        amps = 1 + 0.2 * rng.standard_normal(times.size)
        if take.fault == "inner":
            amps *= 0.5 + 0.5 * np.cos(np.interp(times * sr, np.arange(n), phase))
        elif take.fault == "ball":
            amps *= np.resize([1.0, 0.4], times.size)
        x += 0.3 * sev * unit_rms(impacts(n, sr, times, amps, kernel))
    elif take.fault == "rub":
        x += harmonics(phase, np.arange(5, 15), 0.03 * sev * np.ones(10), rng)
        scrape = np.exp(-0.5 * (np.angle(np.exp(1j * phase)) / 0.3) ** 2)
        x += 0.25 * sev * scrape * band_noise(n, sr, rng, 1000, 6000)
    return 1.5 * x


SPEC = MachineSpec(
    name="bearing",
    source=tuple({"vel": v, "loc": loc} for v in ("6", "8") for loc in ("A", "B")),
    target=tuple({"vel": "12", "loc": loc} for loc in ("A", "B")),
    faults=("outer", "inner", "ball", "rub"),
    units=({"shaft_hz": 20.0, "ring_hz": 3400.0}, {"shaft_hz": 24.0, "ring_hz": 4100.0}),
    render=render,
)
