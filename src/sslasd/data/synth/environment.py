"""Where the machines are recorded: background noise per domain, and harmless transients.

The source domain is a workshop (pink noise, 50 Hz mains hum, a distant drone); the target domain is a
hall the source never heard (brown noise, ventilation with a slowly breathing hump at 1-2 kHz, 60 Hz
hum) at a lower signal-to-noise ratio. In both, a third of the clips carry a harmless transient (a
tool set down, an air blow): impacts and hisses happen in normal operation too, so an anomaly is not
merely "something impulsive".
"""

from __future__ import annotations

import numpy as np

from sslasd.data.synth.signals import (
    band_noise,
    colored_noise,
    harmonics,
    impacts,
    ringing,
    spectral_noise,
    unit_rms,
)

SNR_DB = {"source": (6.0, 14.0), "target": (2.0, 9.0)}


def background(domain: str, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Background noise of ``domain`` ("source" or "target"), RMS 1."""
    t = np.arange(n) / sr
    if domain == "target":
        vent = spectral_noise(n, sr, rng, [20, 700, 1500, 3000, 8000], [-12, -3, 0, -8, -25])
        breathing = 1 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t + rng.uniform(0, 2 * np.pi))
        x = colored_noise(n, rng, 1.8) + 0.8 * vent * breathing
        x += 0.3 * harmonics(2 * np.pi * 60.0 * t, [1, 2, 3], [1.0, 0.6, 0.3], rng)
    else:
        x = colored_noise(n, rng, 1.0)
        x += 0.25 * harmonics(2 * np.pi * 50.0 * t, [1, 2, 3], [1.0, 0.5, 0.3], rng)
        x += 0.3 * band_noise(n, sr, rng, 100, 160)
    return unit_rms(x)


def transients(n: int, sr: int, rng: np.random.Generator, probability: float = 0.35) -> np.ndarray:
    """With ``probability``, one or two harmless events (an impact or an air blow) at random times."""
    out = np.zeros(n)
    if rng.uniform() >= probability:
        return out
    for _ in range(int(rng.integers(1, 3))):
        at = rng.uniform(0, n / sr)
        if rng.uniform() < 0.6:
            kernel = ringing(sr, [rng.uniform(800, 4000), rng.uniform(800, 4000)], rng.uniform(0.02, 0.08))
            out += impacts(n, sr, np.array([at]), np.array([rng.uniform(0.5, 1.5)]), kernel)
        else:
            length = int(rng.uniform(0.1, 0.3) * sr)
            start = int(at * sr)
            blow = band_noise(length, sr, rng, 2000, 6000) * np.hanning(length) * rng.uniform(0.2, 0.5)
            end = min(n, start + length)
            out[start:end] += blow[: end - start]
    return out


def record(machine: np.ndarray, domain: str, sr: int, rng: np.random.Generator) -> np.ndarray:
    """``machine`` heard in ``domain``: background at a random SNR plus occasional transients."""
    low, high = SNR_DB[domain]
    noise_level = np.sqrt(np.mean(np.square(machine))) * 10 ** (-rng.uniform(low, high) / 20)
    return (
        machine
        + noise_level * background(domain, machine.size, sr, rng)
        + 0.3 * transients(machine.size, sr, rng)
    )
