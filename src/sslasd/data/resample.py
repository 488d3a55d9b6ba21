"""Polyphase resampling of in-memory waveforms (what :func:`load_audio` does after reading)."""

from __future__ import annotations

from math import gcd

import numpy as np
from scipy.signal import resample_poly


def resample(wave: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """``wave`` (float, 1-D) from ``orig_rate`` to ``target_rate`` Hz with scipy's polyphase filter.

    Example
    -------
    >>> resample(np.zeros(16000, dtype=np.float32), 16000, 32000).shape
    (32000,)
    """
    if orig_rate == target_rate:
        return np.asarray(wave, dtype=np.float32)
    g = gcd(int(orig_rate), int(target_rate))
    return resample_poly(wave, target_rate // g, orig_rate // g).astype(np.float32)
