"""The audio loader: every kind of bad file is a DataError naming it; resampling keeps tones; mono mixing."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sslasd.data import AudioStream, check_audio_file, load_audio, resample
from sslasd.errors import DataError


def _tone(path: Path, freq: float, sr: int, seconds: float = 2.0, amp: float = 0.5) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, amp * np.sin(2 * np.pi * freq * t), sr, subtype="FLOAT")
    return path


def _missing(path: Path) -> None:
    pass


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _text(path: Path) -> None:
    path.write_bytes(b"this is not audio at all, just some text in a .wav file")


def _truncated(path: Path) -> None:
    sf.write(path, np.zeros(16000), 16000, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:20000])


def _header_only(path: Path) -> None:
    sf.write(path, np.zeros(16000), 16000, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:44])


def _cut_in_header(path: Path) -> None:
    sf.write(path, np.zeros(16000), 16000, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:30])


def _no_samples(path: Path) -> None:
    sf.write(path, np.zeros((0, 1)), 16000, subtype="PCM_16")


def _all_nan(path: Path) -> None:
    sf.write(path, np.full(16000, np.nan), 16000, subtype="FLOAT")


def _some_inf(path: Path) -> None:
    data = np.zeros(16000)
    data[[5, 500]] = [np.inf, -np.inf]
    sf.write(path, data, 16000, subtype="FLOAT")


def _too_short(path: Path) -> None:
    sf.write(path, np.zeros(4800), 16000, subtype="PCM_16")


BAD_FILES: list[tuple[Callable[[Path], None], str]] = [
    (_missing, "no such audio file"),
    (_empty, r"empty file \(0 bytes\)"),
    (_text, "cannot be read as audio"),
    (_truncated, r"truncated WAV \(header declares 32000 sample bytes, 19956 present\)"),
    (_header_only, r"truncated WAV \(header declares 32000 sample bytes, 0 present\)"),
    (_cut_in_header, "cannot be read as audio"),
    (_no_samples, "holds no audio samples"),
    (_all_nan, "all samples are NaN or inf"),
    (_some_inf, "2 of 16000 samples are NaN or inf"),
    (_too_short, r"0.30 s long, need >= 0.5 s"),
]


def _stream_whole(path: Path) -> np.ndarray:
    stream = AudioStream(path, 16000)
    return stream.read(0, stream.length)


@pytest.mark.parametrize(("make", "message"), BAD_FILES, ids=[m.__name__.strip("_") for m, _ in BAD_FILES])
@pytest.mark.parametrize(
    "reader", [load_audio, check_audio_file, _stream_whole], ids=["load_audio", "check_audio_file", "stream"]
)
def test_bad_file_is_a_data_error_naming_it(
    tmp_path: Path, make: Callable[[Path], None], message: str, reader: Callable
) -> None:
    path = tmp_path / "fan" / "train" / "section_00_source_train_normal_0000_a_1.wav"
    path.parent.mkdir(parents=True)
    make(path)
    with pytest.raises(DataError, match=message) as info:
        reader(path)
    assert str(info.value).startswith(f"{path}: ")


def test_min_seconds_is_adjustable(tmp_path: Path) -> None:
    _too_short(tmp_path / "a.wav")
    assert load_audio(tmp_path / "a.wav", min_seconds=0.25).shape == (4800,)


@pytest.mark.parametrize("native_rate", [8000, 22050, 32000, 44100, 48000])
@pytest.mark.parametrize("freq", [440.0, 1000.0, 3150.0])
def test_resampled_tone_keeps_frequency_and_level(tmp_path: Path, native_rate: int, freq: float) -> None:
    wave = load_audio(_tone(tmp_path / "tone.wav", freq, native_rate), 16000)
    assert wave.dtype == np.float32
    assert wave.shape == (32000,)
    middle = wave[1600:-1600].astype(np.float64)  # away from the filter's edge transients
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(middle.size), n=1 << 20))  # 0.015 Hz bins
    assert abs(np.argmax(spectrum) * 16000 / (1 << 20) - freq) <= 0.05
    level_db = 20 * np.log10(np.sqrt(np.mean(middle**2)) / (0.5 / np.sqrt(2)))
    assert abs(level_db) < 0.02


def test_resampling_removes_what_16_khz_cannot_hold(tmp_path: Path) -> None:
    """A 10 kHz tone at 44.1 kHz lies above the new Nyquist frequency: it must not alias to 6 kHz."""
    wave = load_audio(_tone(tmp_path / "tone.wav", 10000.0, 44100), 16000)[1600:-1600]
    assert 20 * np.log10(np.sqrt(np.mean(wave.astype(np.float64) ** 2)) / (0.5 / np.sqrt(2))) < -50


def test_in_memory_resample_matches_the_loader(tmp_path: Path) -> None:
    path = _tone(tmp_path / "tone.wav", 700.0, 22050, seconds=1.0)
    native, _ = sf.read(path, dtype="float32")
    np.testing.assert_array_equal(resample(native, 22050, 16000), load_audio(path))
    assert resample(native, 22050, 22050).dtype == np.float32


def test_stereo_is_mixed_to_mono_by_averaging(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    stereo = 0.1 * rng.standard_normal((16000, 2))
    sf.write(tmp_path / "st.wav", stereo, 16000, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(tmp_path / "st.wav"), stereo.mean(axis=1), atol=1e-7)


def test_pcm16_samples_are_scaled_exactly(tmp_path: Path) -> None:
    ints = np.array([0, 1, -1, 16384, -32768, 32767] * 2000, dtype=np.int16)
    sf.write(tmp_path / "i.wav", ints, 16000, subtype="PCM_16")
    np.testing.assert_array_equal(load_audio(tmp_path / "i.wav"), ints.astype(np.float32) / 32768)


def test_check_audio_file_reports_the_native_format(tmp_path: Path) -> None:
    sf.write(tmp_path / "a.wav", np.zeros((22050, 2)), 44100, subtype="PCM_24")
    info = check_audio_file(tmp_path / "a.wav")
    assert (info.sample_rate, info.channels, info.frames, info.seconds) == (44100, 2, 22050, 0.5)


SPAN_FORMATS = [(16000, 1), (44100, 2), (48000, 1), (22050, 3), (8000, 1)]


@pytest.mark.parametrize("mono", [True, False])
@pytest.mark.parametrize(("native_rate", "channels"), SPAN_FORMATS)
def test_a_stream_read_in_spans_equals_the_whole_file(
    tmp_path: Path, native_rate: int, channels: int, mono: bool
) -> None:
    """Spans cut anywhere, resampled apart, join into exactly what load_audio reads whole (mixed to
    mono, or with every channel kept)."""
    path = tmp_path / "long.wav"
    noise = np.random.default_rng(native_rate).standard_normal((int(3.3 * native_rate), channels)) * 0.1
    sf.write(path, noise, native_rate, subtype="FLOAT")
    whole = load_audio(path, 32000, mono=mono)
    stream = AudioStream(path, 32000, mono=mono)
    assert stream.length == whole.shape[-1] and stream.channels == channels
    cuts = [0, 1, 777, 20000, 20001, 64000, whole.shape[-1] - 5, whole.shape[-1]]
    joined = np.concatenate([stream.read(a, b) for a, b in itertools.pairwise(cuts)], axis=-1)
    np.testing.assert_array_equal(joined, whole)
    np.testing.assert_array_equal(stream.read(5000, 9000), whole[..., 5000:9000])


@pytest.mark.parametrize("native_rate", [16000, 44100])
def test_channels_are_kept_when_asked(tmp_path: Path, native_rate: int) -> None:
    """mono=False gives [channels, N]: each channel as its own mono file would be read, in order;
    their mean is the default mono read (to float rounding: averaging and resampling commute)."""
    rng = np.random.default_rng(1)
    data = 0.1 * rng.standard_normal((native_rate, 2))
    sf.write(tmp_path / "two.wav", data, native_rate, subtype="FLOAT")
    for c in range(2):
        sf.write(tmp_path / f"ch{c}.wav", data[:, c], native_rate, subtype="FLOAT")
    both = load_audio(tmp_path / "two.wav", 16000, mono=False)
    assert both.shape == (2, 16000) and both.dtype == np.float32
    for c in range(2):
        np.testing.assert_array_equal(both[c], load_audio(tmp_path / f"ch{c}.wav", 16000))
    np.testing.assert_allclose(both.mean(axis=0), load_audio(tmp_path / "two.wav", 16000), atol=1e-6)
    assert load_audio(tmp_path / "ch0.wav", 16000, mono=False).shape == (1, 16000)


def test_a_stream_names_nan_in_a_late_span(tmp_path: Path) -> None:
    path = tmp_path / "late_nan.wav"
    data = np.zeros(16000 * 10)
    data[16000 * 8] = np.nan
    sf.write(path, data, 16000, subtype="FLOAT")
    stream = AudioStream(path, 16000)  # opening does not decode the samples
    assert stream.read(0, 16000).shape == (16000,)
    message = r"late_nan\.wav: 1 of \d+ samples are NaN or inf in the span from 7\.\d s"
    with pytest.raises(DataError, match=message):
        stream.read(16000 * 7, 16000 * 9)
