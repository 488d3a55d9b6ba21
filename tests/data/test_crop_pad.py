"""Fixed-length clips: crops and wraps against a brute-force periodic extension; the per-year policy."""

from __future__ import annotations

import numpy as np
import pytest

from sslasd.data import clip_seconds, crop_or_pad, split_windows
from sslasd.errors import ConfigError, DataError


def _periodic(wave: np.ndarray, start: int, length: int) -> np.ndarray:
    """Brute force: the clip repeated end to end, read from ``start``."""
    return np.array([wave[(start + i) % wave.size] for i in range(length)])


@pytest.mark.parametrize(("length", "target"), [(10, 10), (10, 4), (3, 7), (5, 16), (1, 3)])
def test_deterministic_takes_the_start_of_the_repeated_clip(length: int, target: int) -> None:
    wave = np.arange(length, dtype=np.float32) + 1
    out = crop_or_pad(wave, target)
    np.testing.assert_array_equal(out, _periodic(wave, 0, target))
    assert out.dtype == np.float32


@pytest.mark.parametrize(("length", "target"), [(50, 20), (7, 30), (20, 20)])
def test_random_windows_are_windows_of_the_periodic_extension(length: int, target: int) -> None:
    wave = np.arange(length, dtype=np.float64)
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(200):
        out = crop_or_pad(wave, target, rng)
        start = int(out[0])
        np.testing.assert_array_equal(out, _periodic(wave, start, target))
        starts.add(start)
    # a long clip is cropped anywhere a full window fits; a short one may start at any sample
    assert starts == set(range(length - target + 1) if length > target else range(length))


def test_same_generator_state_same_crop() -> None:
    wave = np.random.default_rng(1).standard_normal(1000)
    a = crop_or_pad(wave, 100, np.random.default_rng(7))
    b = crop_or_pad(wave, 100, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)


def test_the_result_is_a_copy() -> None:
    wave = np.zeros(10)
    crop_or_pad(wave, 5)[0] = 1.0
    assert wave[0] == 0.0


@pytest.mark.parametrize(
    ("wave", "target", "error"),
    [
        (np.zeros(0), 5, DataError),
        (np.zeros((2, 0)), 5, DataError),
        (np.zeros((2, 2, 3)), 5, DataError),
        (np.zeros(4), 0, ConfigError),
    ],
)
def test_refuses(wave: np.ndarray, target: int, error: type) -> None:
    with pytest.raises(error):
        crop_or_pad(wave, target)


@pytest.mark.parametrize("seed", [None, 3])
@pytest.mark.parametrize("length", [5, 17])
def test_channels_are_cut_at_the_same_samples(seed: int | None, length: int) -> None:
    """A [channels, N] wave is cropped, wrapped and windowed as each of its channels on its own."""
    wave = np.random.default_rng(0).standard_normal((2, length))
    rng = lambda: None if seed is None else np.random.default_rng(seed)  # noqa: E731
    both = crop_or_pad(wave, 8, rng())
    assert both.shape == (2, 8)
    for c in range(2):
        np.testing.assert_array_equal(both[c], crop_or_pad(wave[c], 8, rng()))
    windows, starts = split_windows(wave, 8, 3)
    assert windows.shape == (len(starts), 2, 8)
    for c in range(2):
        np.testing.assert_array_equal(windows[:, c], split_windows(wave[c], 8, 3)[0])


@pytest.mark.parametrize(
    ("year", "machine", "seconds"),
    [
        (2020, "ToyCar", 10.0),
        (2021, "fan", 10.0),
        (2023, "ToyTrain", 10.0),
        (2024, "ToyCar", 12.0),
        (2024, "ToyTrain", 12.0),
        (2024, "gearbox", 10.0),
        (2025, "ToyRCCar", 12.0),
        (2025, "valve", 10.0),
        (2026, "ToyCar", 11.0),
        (2026, "ToyCarEmu", 12.0),
        (2026, "valveEmu", 10.0),
        (2026, "Sander", 16.0),  # eval: 6, 10 or 16 s, per type unpublished; fit caps at the longest clip
        (2024, "my_own_machine", 10.0),
    ],
)
def test_clip_seconds(year: int, machine: str, seconds: float) -> None:
    assert clip_seconds(year, machine) == seconds


def test_clip_seconds_refuses_unknown_year() -> None:
    with pytest.raises(DataError, match="2019"):
        clip_seconds(2019, "fan")


@pytest.mark.parametrize(
    ("length", "n", "hop"), [(10, 4, None), (10, 4, 3), (16000 * 30 + 7, 16000 * 10, None), (9, 4, 5)]
)
def test_scoring_windows_cover_the_wave_and_end_at_its_end(length: int, n: int, hop: int | None) -> None:
    wave = np.arange(length, dtype=np.float64)
    windows, starts = split_windows(wave, n, hop)
    assert windows.shape == (len(starts), n)
    assert starts[0] == 0 and starts[-1] == length - n  # the last window ends at the end
    step = hop or n // 2
    assert (np.diff(starts) <= step).all()  # no sample is skipped
    for w, s in zip(windows, starts):
        np.testing.assert_array_equal(w, wave[s : s + n])


def test_a_short_wave_is_one_wrapped_window() -> None:
    windows, starts = split_windows(np.arange(3.0), 7)
    np.testing.assert_array_equal(windows, crop_or_pad(np.arange(3.0), 7)[None])
    assert starts.tolist() == [0]
    np.testing.assert_array_equal(split_windows(np.arange(7.0), 7)[0], np.arange(7.0)[None])


def test_windows_refuse_a_bad_hop() -> None:
    with pytest.raises(ConfigError, match="hop: 0"):
        split_windows(np.arange(10.0), 4, 0)
