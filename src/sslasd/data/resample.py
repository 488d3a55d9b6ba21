"""Polyphase resampling of in-memory waveforms (what :func:`load_audio` does after reading)."""

from __future__ import annotations

from math import gcd

import numpy as np
from scipy.signal import resample_poly


def resample(wave: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """``wave`` (float, time on the last axis: ``[N]`` or ``[channels, N]``) from ``orig_rate`` to
    ``target_rate`` Hz with scipy's polyphase filter, each channel on its own.

    Example
    -------
    >>> resample(np.zeros(16000, dtype=np.float32), 16000, 32000).shape
    (32000,)
    >>> resample(np.zeros((2, 16000), dtype=np.float32), 16000, 8000).shape
    (2, 8000)
    """
    if orig_rate == target_rate:
        return np.asarray(wave, dtype=np.float32)
    g = gcd(int(orig_rate), int(target_rate))
    return resample_poly(wave, target_rate // g, orig_rate // g, axis=-1).astype(np.float32)


def resampled_length(frames: int, orig_rate: int, target_rate: int) -> int:
    """Length of :func:`resample`'s output for ``frames`` input samples (``ceil(frames * up / down)``)."""
    g = gcd(int(orig_rate), int(target_rate))
    up, down = target_rate // g, orig_rate // g
    return -(-frames * up // down)


def native_span(start: int, stop: int, orig_rate: int, target_rate: int, frames: int) -> tuple[int, int, int]:
    """The input samples ``[a, b)`` whose resampling holds output samples ``[start, stop)`` exactly.

    Returns ``(a, b, offset)``: resampling ``wave[a:b]`` and taking ``[start - offset, stop - offset)``
    gives the same samples as resampling the whole ``wave`` (``frames`` long) and taking
    ``[start, stop)``. This is what lets a long recording be read span by span (``sslasd detect`` on
    an hour of audio) and still score exactly as when it is read whole: ``a`` is a multiple of the
    decimation factor so the polyphase grid lines up, and the span reaches past both ends by more
    than scipy's filter half-length (``10 * max(up, down)`` upsampled samples), so no output sample
    of the range sees the zero padding at a cut.
    """
    g = gcd(int(orig_rate), int(target_rate))
    up, down = target_rate // g, orig_rate // g
    margin = -(-10 * max(up, down) // up) + 2 * down
    a = max(0, (start * down // up - margin) // down * down)
    b = min(frames, -(-stop * down // up) + margin)
    return a, b, a * up // down
