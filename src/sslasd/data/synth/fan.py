"""Fan: blade-pass tones over aerodynamic broadband noise.

Attributes: ``spd`` (rotation speed step) and ``mic`` (A near, B far: duller and with a room
reflection). Faults: ``imbalance`` (a once-per-revolution tone and modulation), ``blade`` (a damaged
blade breaks the blade symmetry: shaft orders between the blade-pass harmonics), ``bearing`` (outer-race
impacts ringing through the housing), ``clog`` (less flow: duller, quieter turbulence, stronger tones,
slightly slower).
"""

from __future__ import annotations

import numpy as np

from sslasd.data.synth.base import MachineSpec, Take
from sslasd.data.synth.signals import (
    harmonics,
    impacts,
    lowpass,
    periodic_times,
    phase_of,
    ringing,
    spectral_noise,
    speed_track,
    unit_rms,
)


def render(take: Take, rng: np.random.Generator) -> np.ndarray:
    """The fan's sound for ``take`` (see the module docstring)."""
    n, sr, unit, sev = take.n, take.sr, take.unit, take.severity
    clog = sev if take.fault == "clog" else 0.0
    shaft = unit["shaft_hz"] * (1 + 0.18 * (int(take.attributes["spd"]) - 1)) * (1 - 0.04 * clog)
    rate = speed_track(shaft, n, sr, rng, wander=0.008)
    phase = phase_of(rate, sr)
    blades = int(unit["blades"])
    order = np.arange(1, 11)
    tone_amp = 0.35 * order**-1.1 * 10 ** ((rng.normal(0, 1.5, order.size) + 4 * clog) / 20)
    x = harmonics(phase, blades * order, tone_amp, rng)
    ratio = shaft / unit["shaft_hz"]
    hump = unit["hump_hz"] * ratio**0.5 * (1 - 0.3 * clog)
    aero = spectral_noise(n, sr, rng, [20, hump / 4, hump, 4 * hump, 8000], [-20, -6, 0, -10, -30])
    x += aero * 0.8 * ratio**1.25 * 10 ** (-3 * clog / 20) * (1 + 0.15 * np.sin(blades * phase))
    if take.fault == "imbalance":
        wobble = 1 + 0.25 * sev * np.sin(phase + rng.uniform(0, 2 * np.pi))
        x = x * wobble + harmonics(phase, [1, 2], [0.6 * sev * tone_amp[0], 0.2 * sev * tone_amp[0]], rng)
    elif take.fault == "blade":
        orders = [k for k in range(1, 3 * blades) if k % blades]
        x += harmonics(phase, orders, [0.3 * sev * tone_amp[0] / k**0.5 for k in orders], rng)
    elif take.fault == "bearing":
        times = periodic_times(rate, sr, 3.1, rng)
        hits = impacts(
            n, sr, times, 1 + 0.2 * rng.standard_normal(times.size), ringing(sr, [unit["ring_hz"]], 0.0015)
        )
        x += 0.3 * sev * unit_rms(hits)
    if take.attributes["mic"] == "B":
        x = 0.6 * lowpass(x, sr, 3000.0)
        delay = int(0.007 * sr)
        x[delay:] += 0.5 * x[:-delay].copy()
    return x


SPEC = MachineSpec(
    name="fan",
    source=tuple({"spd": s, "mic": m} for s in ("1", "2", "3") for m in ("A", "B")),
    target=tuple({"spd": "5", "mic": m} for m in ("A", "B")),
    faults=("imbalance", "blade", "bearing", "clog"),
    units=(
        {"shaft_hz": 16.0, "blades": 7, "hump_hz": 900.0, "ring_hz": 3200.0},
        {"shaft_hz": 19.0, "blades": 5, "hump_hz": 1300.0, "ring_hz": 2600.0},
    ),
    render=render,
)
