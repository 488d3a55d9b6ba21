"""The data layer on 62 real DCASE 2020 development clips (../shared; skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sslasd.data import clip_seconds, crop_or_pad, index_dataset, load_audio, parse_name

pytestmark = pytest.mark.real_data


def test_index_reads_every_real_clip(real_clips_dir: Path) -> None:
    files = sorted(real_clips_dir.glob("*/test/*.wav"))
    index = index_dataset(real_clips_dir, check_audio=True)
    assert (index.year, len(index), index.skipped) == (2020, len(files), [])
    assert index.machines() == sorted({f.parts[-3] for f in files})
    for clip in index:
        machine_id = clip.name.split("_id_")[1][:2]
        expected_label = "anomaly" if clip.name.startswith("anomaly_") else "normal"
        assert (clip.section, clip.label, clip.domain, clip.split) == (
            machine_id,
            expected_label,
            "none",
            "test",
        )
        assert parse_name(clip.name, year=2020).section == machine_id


def test_real_audio_loads_as_16_khz_mono(real_clips_dir: Path) -> None:
    index = index_dataset(real_clips_dir)
    for clip in index:
        wave = load_audio(clip.path)
        assert wave.dtype == np.float32 and wave.ndim == 1
        assert 10.0 <= wave.size / 16000 <= 11.0
        assert np.isfinite(wave).all() and 0 < np.abs(wave).max() <= 1.0
        fixed = crop_or_pad(wave, int(clip_seconds(2020, clip.machine) * 16000))
        np.testing.assert_array_equal(fixed, wave[:160000])


def test_resampling_a_real_clip_round_trip_keeps_its_spectrum(real_clips_dir: Path, tmp_path: Path) -> None:
    """16 kHz -> 44.1 kHz -> 16 kHz changes the real fan clip by less than -40 dB below 7 kHz."""
    import soundfile as sf
    from scipy.signal import resample_poly

    path = sorted(real_clips_dir.glob("fan/test/*.wav"))[0]
    wave = load_audio(path).astype(np.float64)
    sf.write(tmp_path / "up.wav", resample_poly(wave, 441, 160), 44100, subtype="FLOAT")
    back = load_audio(tmp_path / "up.wav").astype(np.float64)[: wave.size]

    def spectrum(x: np.ndarray) -> np.ndarray:
        """Magnitude spectrum below 7 kHz, half a second away from the ends."""
        return np.abs(np.fft.rfft(x[8000:-8000]))[: int(7000 / 16000 * (x.size - 16000))]

    error = np.linalg.norm(spectrum(back) - spectrum(wave)) / np.linalg.norm(spectrum(wave))
    assert 20 * np.log10(error) < -40
