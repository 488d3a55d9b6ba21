"""Far-microphone noise subtraction: remove from the near channel what the far channel also hears.

DCASE 2026 records every clip with a near and a far microphone. The far one hears the room's noise
as loudly as the near one (or louder) but the machine much more faintly, so its magnitude spectrum
estimates the noise in the near channel frame by frame. :func:`subtract_far` does STFT magnitude
subtraction with a gain floor (Boll's spectral subtraction, 1979, with the far channel as the
noise estimate in place of a noise-only stretch of the same channel)::

    G(t, f) = max(1 - factor * |F(t, f)| / |N(t, f)|, floor)        out = istft(G * N)

``N``, ``F``: STFTs of the near and far windows (Hann, 32 ms frames, 75 % overlap, so a gain of 1
gives the near wave back); the near channel's phase is kept. ``factor`` > 1 over-subtracts (more
noise removed, more of the machine lost where it is faint); ``floor`` bounds the attenuation
(0.1: at most -20 dB per bin), which keeps the musical-noise artefacts of bins that fall to zero out
of the output. A sound only the near microphone hears (the machine) passes where it dominates its
bins; a sound both hear at the same level (shared room noise) falls to the floor.

Example
-------
>>> rng = np.random.default_rng(0)
>>> noise = rng.standard_normal(16000)
>>> out = subtract_far(noise, noise, 16000)             # both hear only the same noise
>>> round(float(np.std(out) / np.std(noise)), 2)        # down to the floor: -20 dB
0.1
"""

from __future__ import annotations

import numpy as np
from scipy.signal import istft, stft

from sslasd.errors import ConfigError, DataError

FRAME_SECONDS = 0.032  # 512 samples at 16 kHz: resolves machine harmonics a few tens of Hz apart
_TINY = 1e-12


def subtract_far(
    near: np.ndarray, far: np.ndarray, sample_rate: int, *, factor: float = 1.0, floor: float = 0.1
) -> np.ndarray:
    """The near-microphone wave with the far microphone's magnitude spectrum subtracted.

    Parameters
    ----------
    near, far : numpy.ndarray
        Waves of the same shape, time on the last axis (``[N]`` or a batch of windows ``[W, N]``).
    sample_rate : int
        Their rate in Hz (sets the 32-ms frame).
    factor : float
        Over-subtraction factor (>= 0); 0 returns ``near`` unchanged.
    floor : float
        Smallest gain of a bin, in [0, 1].

    Returns
    -------
    numpy.ndarray
        float32, the shape of ``near``.

    Raises
    ------
    ConfigError
        ``factor`` < 0 or ``floor`` outside [0, 1].
    DataError
        ``near`` and ``far`` differ in shape.
    """
    if factor < 0 or not 0 <= floor <= 1:
        raise ConfigError(f"subtraction: factor {factor!r} must be >= 0 and floor {floor!r} in [0, 1]")
    near = np.asarray(near, dtype=np.float64)
    far = np.asarray(far, dtype=np.float64)
    if near.shape != far.shape:
        raise DataError(f"subtraction: near channel {near.shape} and far channel {far.shape} differ in shape")
    length = near.shape[-1]
    frame = min(length, max(16, round(FRAME_SECONDS * sample_rate)))
    framing = {"fs": sample_rate, "window": "hann", "nperseg": frame, "noverlap": frame - frame // 4}
    _, _, near_spec = stft(near, axis=-1, **framing)
    _, _, far_spec = stft(far, axis=-1, **framing)
    gain = np.maximum(1.0 - factor * np.abs(far_spec) / np.maximum(np.abs(near_spec), _TINY), floor)
    _, out = istft(near_spec * gain, time_axis=-1, freq_axis=-2, **framing)
    return np.ascontiguousarray(out[..., :length], dtype=np.float32)
