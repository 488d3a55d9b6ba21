"""Gearbox: gear-mesh harmonics with shaft-rate sidebands over mesh noise.

Attributes (concealed as ``noAttribute`` from 2024 on, like DCASE's gearbox): ``spd`` (input speed
step) and ``load`` (heavier load: stronger mesh tones and second harmonic). Faults: ``crack`` (a
cracked tooth: once per revolution an impact and a dip of the mesh tone, i.e. sidebands),
``wear`` (rougher mesh: higher harmonics and noise), ``misalign`` (twice-per-revolution tones and
sidebands).
"""

from __future__ import annotations

import numpy as np

from sslasd.data.synth.base import MachineSpec, Take
from sslasd.data.synth.signals import (
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
    """The gearbox's sound for ``take`` (see the module docstring)."""
    n, sr, unit, sev = take.n, take.sr, take.unit, take.severity
    load = int(take.attributes["load"])
    wear = sev if take.fault == "wear" else 0.0
    rate = speed_track(
        unit["shaft_hz"] * (1 + 0.25 * (int(take.attributes["spd"]) - 1)), n, sr, rng, wander=0.006
    )
    phase = phase_of(rate, sr)
    teeth = int(unit["teeth"])
    order = np.arange(1, 7)
    amps = 0.3 * (1 + 0.6 * load) * order**-1.2 * 10 ** (rng.normal(0, 1.5, order.size) / 20)
    amps[1] *= 1 + 0.4 * load
    amps[2:] *= 1 + 2.5 * wear
    mesh = harmonics(phase, teeth * order, amps, rng)
    if take.fault == "crack":
        dip = np.exp(-0.5 * (np.angle(np.exp(1j * (phase - rng.uniform(0, 2 * np.pi)))) / 0.15) ** 2)
        mesh *= 1 - 0.5 * sev * dip
    sidebands = [teeth + k for k in (-2, -1, 1, 2)]
    x = mesh + harmonics(phase, sidebands, [0.02, 0.05, 0.05, 0.02], rng)
    x += harmonics(phase * teeth / unit["teeth_out"], [1, 2], [0.05, 0.03], rng)
    gmf = teeth * float(np.mean(rate))
    noise = spectral_noise(n, sr, rng, [20, gmf, 4 * gmf, 8000], [-15, 0, -6, -30])
    x += noise * 0.25 * (1 + 0.3 * load) * (1 + 1.5 * wear) * (1 + 0.2 * np.sin(teeth * phase))
    if take.fault == "crack":
        times = periodic_times(rate, sr, 1.0, rng)
        x += (
            0.3
            * sev
            * unit_rms(impacts(n, sr, times, np.ones(times.size), ringing(sr, [unit["ring_hz"]], 0.002)))
        )
    elif take.fault == "misalign":
        x += harmonics(phase, [2, 4, teeth - 2, teeth + 2], 0.2 * sev * np.array([0.6, 0.2, 0.5, 0.5]), rng)
    return x


SPEC = MachineSpec(
    name="gearbox",
    source=({"spd": "1", "load": "0"}, {"spd": "1", "load": "1"}, {"spd": "2", "load": "1"}),
    target=({"spd": "3", "load": "0"},),
    faults=("crack", "wear", "misalign"),
    units=(
        {"shaft_hz": 20.0, "teeth": 23, "teeth_out": 37, "ring_hz": 2700.0},
        {"shaft_hz": 25.0, "teeth": 19, "teeth_out": 41, "ring_hz": 3300.0},
    ),
    render=render,
    concealed=True,
)
