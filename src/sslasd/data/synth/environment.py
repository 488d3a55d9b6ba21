"""Where the machines are recorded: background noise per domain, and harmless transients.

The source domain is a workshop (pink noise, 50 Hz mains hum, a distant drone); the target domain is a
hall the source never heard (brown noise, ventilation with a slowly breathing hump at 1-2 kHz, 60 Hz
hum) at a lower signal-to-noise ratio. In both, a third of the clips carry a harmless transient (a
tool set down, an air blow): impacts and hisses happen in normal operation too, so an anomaly is not
merely "something impulsive".

:func:`record_pair` records with two microphones, as DCASE 2026 does. The near one hears the
machine as :func:`record` does. The far one, 1-3 m farther away, hears it later (the propagation
delay) and 9-14 dB fainter, but hears the room's noise and its transients (both microphones are in
the same room) at least as loudly; each microphone also picks up noise of its own (self-noise and
nearby sources), uncorrelated between the two. So the far channel estimates the near channel's noise,
not its machine.
"""

from __future__ import annotations

import numpy as np

from sslasd.data.synth.signals import (
    band_noise,
    colored_noise,
    harmonics,
    impacts,
    ringing,
    rms,
    spectral_noise,
    unit_rms,
)

SNR_DB = {"source": (6.0, 14.0), "target": (2.0, 9.0)}
SPEED_OF_SOUND = 343.0  # m/s
FAR_EXTRA_METRES = (1.0, 3.0)  # how much farther from the machine the far microphone is
FAR_MACHINE_DB = (-14.0, -9.0)  # the machine at the far microphone, relative to the near one
FAR_ROOM_DB = (0.0, 3.0)  # the room's noise at the far microphone, relative to the near one
OWN_NOISE_DB = -12.0  # each microphone's own noise, relative to the room's noise at the near one


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


def record_pair(machine: np.ndarray, domain: str, sr: int, rng: np.random.Generator) -> np.ndarray:
    """``machine`` heard in ``domain`` by a near and a far microphone: ``[2, n]`` (near, far).

    The near channel holds the machine, the room's noise at a random SNR (as :func:`record`) and the
    room's transients; the far one the machine delayed and attenuated, the same room noise and
    transients slightly louder and a little later, and each channel its own uncorrelated noise.
    """
    n = machine.size
    low, high = SNR_DB[domain]
    level = rms(machine) * 10 ** (-rng.uniform(low, high) / 20)
    room = level * background(domain, n, sr, rng) + 0.3 * transients(n, sr, rng)
    delay = round(rng.uniform(*FAR_EXTRA_METRES) / SPEED_OF_SOUND * sr)
    room_delay = int(rng.integers(0, max(1, delay // 4) + 1))  # the room's sources lie all around
    far_gain = 10 ** (rng.uniform(*FAR_MACHINE_DB) / 20)
    room_gain = 10 ** (rng.uniform(*FAR_ROOM_DB) / 20)
    own = level * 10 ** (OWN_NOISE_DB / 20)
    near = machine + room + own * colored_noise(n, rng, 1.0)
    far = far_gain * _delayed(machine, delay) + room_gain * _delayed(room, room_delay)
    far += own * colored_noise(n, rng, 1.0)
    return np.stack([near, far])


def record_room(n: int, sr: int, rng: np.random.Generator, channels: int = 1) -> np.ndarray:
    """A noise-only clip of the source room (no machine running): ``[n]``, or ``[2, n]`` (near, far).

    What :func:`record` and :func:`record_pair` add to a unit-RMS machine in the source domain (the
    background at the same SNR draw, the transients, each microphone's own noise), with the machine
    silent: the supplementary noise clips of DCASE 2025, recorded where the machine stands.
    """
    low, high = SNR_DB["source"]
    level = 10 ** (-rng.uniform(low, high) / 20)
    room = level * background("source", n, sr, rng) + 0.3 * transients(n, sr, rng)
    if channels == 1:
        return room
    room_delay = int(rng.integers(0, 3))
    own = level * 10 ** (OWN_NOISE_DB / 20)
    near = room + own * colored_noise(n, rng, 1.0)
    far = 10 ** (rng.uniform(*FAR_ROOM_DB) / 20) * _delayed(room, room_delay) + own * colored_noise(
        n, rng, 1.0
    )
    return np.stack([near, far])


def _delayed(x: np.ndarray, samples: int) -> np.ndarray:
    """``x`` later by ``samples`` (silence before, the end cut)."""
    return np.concatenate([np.zeros(samples), x[: x.size - samples]]) if samples else x
