"""Signal primitives the synthetic machines are built from.

Rotating parts give harmonic series of a (slowly wandering) shaft rate; flow and friction give shaped
noise; impacts give impulses ringing through a structural resonance (a damped sinusoid), which is how
bearing defects, gear cracks, valve seats and slider stops sound through a housing.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy.signal import butter, fftconvolve, sosfilt


def rms(x: np.ndarray) -> float:
    """Root-mean-square level (0 for silence)."""
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def unit_rms(x: np.ndarray) -> np.ndarray:
    """``x`` scaled to RMS 1 (unchanged if silent)."""
    level = rms(x)
    return x / level if level > 0 else x


def speed_track(f0: float, n: int, sr: int, rng: np.random.Generator, *, wander: float = 0.01) -> np.ndarray:
    """Instantaneous rotation rate in Hz: ``f0`` wandering slowly (< 0.5 Hz) by about ``wander``."""
    t = np.arange(n) / sr
    rates = rng.uniform(0.05, 0.5, 3)
    phases = rng.uniform(0, 2 * np.pi, 3)
    weights = rng.normal(0, 1, 3) / np.sqrt(3)
    slow = (weights[:, None] * np.sin(2 * np.pi * rates[:, None] * t + phases[:, None])).sum(axis=0)
    return f0 * (1 + wander * slow)


def phase_of(rate_hz: np.ndarray, sr: int) -> np.ndarray:
    """Rotation angle (radians) of a rate track."""
    return 2 * np.pi * np.cumsum(rate_hz) / sr


def harmonics(
    phase: np.ndarray, orders: Sequence[int], amps: Sequence[float], rng: np.random.Generator
) -> np.ndarray:
    """Sum of ``amp * sin(order * phase + random phase)``: the tones of a rotating or meshing part.

    The orders are whole numbers, so the phase is wrapped to [0, 2 pi) once and the sines run in
    float32 (five times faster; the phase error stays below 1e-4 rad).
    """
    wrapped = np.mod(phase, 2 * np.pi).astype(np.float32)
    out = np.zeros(phase.shape, dtype=np.float32)
    for order, amp in zip(orders, amps):
        if amp:
            offset = np.float32(rng.uniform(0, 2 * np.pi))
            out += np.float32(amp) * np.sin(np.float32(order) * wrapped + offset)
    return out.astype(np.float64)


def spectral_noise(
    n: int, sr: int, rng: np.random.Generator, freqs: Sequence[float], gains_db: Sequence[float]
) -> np.ndarray:
    """Gaussian noise of RMS 1 whose spectrum follows ``gains_db`` at ``freqs`` (interpolated in log f)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sr)
    log_f = np.log(np.maximum(f, 1.0))
    gains = np.interp(log_f, np.log(np.asarray(freqs, dtype=float)), np.asarray(gains_db, dtype=float))
    return unit_rms(np.fft.irfft(spectrum * 10 ** (gains / 20), n))


def colored_noise(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Noise of RMS 1 with power spectrum ``1 / f**exponent`` (1: pink, 2: brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1]
    return unit_rms(np.fft.irfft(spectrum / f ** (exponent / 2), n))


def band_noise(n: int, sr: int, rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """Noise of RMS 1 in ``[low, high]`` Hz (4th-order Butterworth band-pass)."""
    return unit_rms(sosfilt(_butter(low, min(high, 0.45 * sr), sr), rng.standard_normal(n)))


def lowpass(x: np.ndarray, sr: int, cutoff: float) -> np.ndarray:
    """4th-order Butterworth low-pass."""
    return sosfilt(_butter(0.0, cutoff, sr), x)


@lru_cache(maxsize=64)
def _butter(low: float, high: float, sr: int) -> np.ndarray:
    """4th-order Butterworth sections: band-pass, or low-pass when ``low`` is 0 (designed once)."""
    if low == 0:
        return butter(4, high, btype="lowpass", fs=sr, output="sos")
    return butter(4, [low, high], btype="bandpass", fs=sr, output="sos")


def ringing(sr: int, freqs: Sequence[float], decay_s: float) -> np.ndarray:
    """Impulse response of a structure: damped sinusoids at ``freqs`` (peak 1), decaying with ``decay_s``."""
    t = np.arange(int(8 * decay_s * sr) + 1) / sr
    kernel = sum(np.sin(2 * np.pi * f * t) for f in freqs) * np.exp(-t / decay_s)
    return kernel / np.max(np.abs(kernel))


def impacts(n: int, sr: int, times_s: np.ndarray, amps: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Impacts at ``times_s`` with ``amps``, each ringing with ``kernel``."""
    train = np.zeros(n)
    idx = np.round(np.asarray(times_s) * sr).astype(int)
    keep = (idx >= 0) & (idx < n)
    np.add.at(train, idx[keep], np.asarray(amps, dtype=float)[keep])
    return fftconvolve(train, kernel)[:n]


def periodic_times(rate_hz: np.ndarray, sr: int, order: float, rng: np.random.Generator) -> np.ndarray:
    """Times (s) at which a point turning ``order`` times per shaft revolution passes, with 1% slip."""
    cycles = np.cumsum(rate_hz * order) / sr + rng.uniform(0, 1)
    crossings = np.nonzero(np.diff(np.floor(cycles)) > 0)[0] / sr
    period = 1.0 / (order * float(np.mean(rate_hz)))
    return crossings + rng.normal(0, 0.01 * period, crossings.size)


def poisson_times(duration_s: float, rate_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Event times of a Poisson process over ``duration_s``."""
    return np.sort(rng.uniform(0, duration_s, rng.poisson(rate_hz * duration_s)))


def gate(n: int, sr: int, intervals: Sequence[tuple[float, float]], ramp_s: float = 0.02) -> np.ndarray:
    """Envelope that is 1 inside the (start, end) intervals (seconds) with raised-cosine ramps, else 0."""
    t = np.arange(n) / sr
    env = np.zeros(n)
    for start, end in intervals:
        rise = np.clip((t - start) / ramp_s, 0, 1)
        fall = np.clip((end - t) / ramp_s, 0, 1)
        env = np.maximum(env, np.minimum(rise, fall))
    return 0.5 - 0.5 * np.cos(np.pi * env)
