"""Pump: motor hum and vane-pass tones over turbulent flow noise.

Attributes: ``flw`` (flow rate step: louder, brighter flow noise) and ``prs`` (discharge pressure
L/H: stronger vane-pass tones, quieter flow, slight slow-down under load). Faults: ``cavitation``
(vapour bubbles collapsing: random crackle bursts at 2-6 kHz), ``leak`` (a steady high hiss),
``clog`` (throttled flow: quieter flow noise, stronger and pulsating vane-pass tones), ``bearing``
(outer-race impacts).
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
    poisson_times,
    ringing,
    spectral_noise,
    speed_track,
    unit_rms,
)


def render(take: Take, rng: np.random.Generator) -> np.ndarray:
    """The pump's sound for ``take`` (see the module docstring)."""
    n, sr, unit, sev = take.n, take.sr, take.unit, take.severity
    flow = int(take.attributes["flw"])
    high = take.attributes["prs"] == "H"
    clog = sev if take.fault == "clog" else 0.0
    rate = speed_track(unit["shaft_hz"] * (0.98 if high else 1.0), n, sr, rng, wander=0.005)
    phase = phase_of(rate, sr)
    t = np.arange(n) / sr
    hum = harmonics(2 * np.pi * unit["mains_hz"] * t, [2, 4, 6], [0.15, 0.05, 0.02], rng)
    vanes = int(unit["vanes"])
    vane_amp = 0.25 * (2.0 if high else 1.0) * (1 + 1.5 * clog) * 10 ** (rng.normal(0, 1.5, 4) / 20)
    pulsation = 1 + 0.3 * clog * np.sin(0.5 * phase)
    x = (
        hum
        + harmonics(phase, [1, vanes, 2 * vanes, 3 * vanes], vane_amp * [0.3, 1, 0.5, 0.25], rng) * pulsation
    )
    corner = 350 + 250 * flow
    noise = spectral_noise(n, sr, rng, [20, corner, 4 * corner, 8000], [-3, 0, -18, -35])
    turbulence = 1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.5, 3.0) * t + rng.uniform(0, 2 * np.pi))
    x += noise * turbulence * 0.35 * flow * (0.8 if high else 1.0) * (1 - 0.6 * clog)
    if take.fault == "cavitation":
        times = poisson_times(n / sr, 40 + 110 * sev, rng)
        burst = band_noise(int(0.002 * sr), sr, rng, 2000, 6000) * np.hanning(int(0.002 * sr))
        x += 0.35 * sev * unit_rms(impacts(n, sr, times, rng.lognormal(0, 0.6, times.size), burst))
    elif take.fault == "leak":
        x += 0.1 * sev * band_noise(n, sr, rng, 3000, 7000) * (1 + 0.2 * np.sin(2 * np.pi * 0.7 * t))
    elif take.fault == "bearing":
        times = periodic_times(rate, sr, 3.6, rng)
        hits = impacts(
            n, sr, times, 1 + 0.2 * rng.standard_normal(times.size), ringing(sr, [unit["ring_hz"]], 0.0012)
        )
        x += 0.3 * sev * unit_rms(hits)
    return x


SPEC = MachineSpec(
    name="pump",
    source=tuple({"flw": f, "prs": p} for f in ("1", "2") for p in ("L", "H")),
    target=tuple({"flw": "3", "prs": p} for p in ("L", "H")),
    faults=("cavitation", "leak", "clog", "bearing"),
    units=(
        {"shaft_hz": 24.5, "vanes": 6, "mains_hz": 50.0, "ring_hz": 2500.0},
        {"shaft_hz": 29.0, "vanes": 5, "mains_hz": 60.0, "ring_hz": 3100.0},
    ),
    render=render,
)
