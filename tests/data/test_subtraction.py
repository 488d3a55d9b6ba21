"""Far-microphone noise subtraction on constructed signals: shared noise goes, a near-only tone stays."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from sslasd.data import subtract_far
from sslasd.errors import ConfigError, DataError

SR = 16000


def _band_power(x: np.ndarray, low: float, high: float, exclude: tuple[float, float] | None = None) -> float:
    f, p = welch(x, SR, nperseg=1024)
    keep = (f >= low) & (f <= high)
    if exclude is not None:
        keep &= (f < exclude[0]) | (f > exclude[1])
    return float(p[keep].sum())


def test_a_silent_far_channel_gives_the_near_wave_back() -> None:
    """Gain 1 everywhere: the STFT round trip (Hann, 75 % overlap) reconstructs the near wave."""
    near = np.random.default_rng(0).standard_normal(SR)
    np.testing.assert_allclose(subtract_far(near, np.zeros(SR), SR), near, atol=1e-5)
    np.testing.assert_allclose(subtract_far(near, near, SR, factor=0.0), near, atol=1e-5)


def test_shared_noise_is_removed_and_a_near_only_tone_kept() -> None:
    """Near = 1-kHz tone + room noise; far = the same room noise (no tone). The noise away from the
    tone falls by the floor's 20 dB; the tone's band keeps its level within 1 dB."""
    rng = np.random.default_rng(1)
    t = np.arange(2 * SR) / SR
    tone = 0.5 * np.sin(2 * np.pi * 1000.0 * t)
    noise = 0.3 * rng.standard_normal(t.size)
    out = subtract_far(tone + noise, noise, SR, floor=0.1)
    noise_drop = _band_power(out, 50, 7900, exclude=(900, 1100)) / _band_power(
        tone + noise, 50, 7900, exclude=(900, 1100)
    )
    tone_change = _band_power(out, 990, 1010) / _band_power(tone, 990, 1010)
    assert 10 * np.log10(noise_drop) == pytest.approx(-20.0, abs=0.5)
    assert abs(10 * np.log10(tone_change)) < 1.0


def test_the_floor_bounds_the_attenuation() -> None:
    noise = np.random.default_rng(2).standard_normal(SR)
    for floor in (0.0, 0.3, 1.0):
        out = subtract_far(noise, noise, SR, floor=floor)
        assert np.std(out) == pytest.approx(floor * np.std(noise), abs=1e-3)


def test_a_batch_of_windows_equals_each_window_alone() -> None:
    rng = np.random.default_rng(3)
    near, far = rng.standard_normal((2, 3, 8000))
    batch = subtract_far(near, far, SR)
    assert batch.shape == (3, 8000) and batch.dtype == np.float32
    for w in range(3):
        np.testing.assert_array_equal(batch[w], subtract_far(near[w], far[w], SR))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"factor": -1.0}, ConfigError, "factor -1.0 must be >= 0"),
        ({"floor": 1.5}, ConfigError, r"floor 1\.5 in \[0, 1\]"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        subtract_far(np.zeros(SR), np.zeros(SR), SR, **kwargs)


def test_channels_of_different_shapes_are_refused() -> None:
    with pytest.raises(DataError, match=r"near channel \(16000,\) and far channel \(8000,\) differ"):
        subtract_far(np.zeros(SR), np.zeros(SR // 2), SR)
