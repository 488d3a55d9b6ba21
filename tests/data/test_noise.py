"""Noise-aware training: noise clips mixed into training crops at the drawn SNR, deterministically."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sslasd.data import AudioCache, Clip, ClipDataset, NoiseMixer, load_audio, noise_owners
from sslasd.errors import ConfigError, DataError

SR = 16000


@pytest.fixture
def noise_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "noise"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    sf.write(folder / "hum.wav", 0.2 * np.sin(2 * np.pi * 50 * np.arange(SR) / SR), SR)
    sf.write(folder / "sub" / "hiss.flac", 0.05 * rng.standard_normal(SR // 2), SR)
    (folder / "notes.txt").write_text("not audio")
    return folder


def _snr_db(crop: np.ndarray, mixed: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(crop**2) / np.mean((mixed - crop) ** 2)))


def test_from_folder_finds_every_clip_below_it(noise_dir: Path) -> None:
    mixer = NoiseMixer.from_folder(noise_dir)
    assert [p.name for p in mixer.paths] == ["hum.wav", "hiss.flac"]
    assert (mixer.snr_db, mixer.probability) == ((5.0, 20.0), 0.5)


@pytest.mark.parametrize("snr", [5.0, 12.5, 20.0])
def test_noise_is_added_at_the_drawn_snr(noise_dir: Path, snr: float) -> None:
    mixer = NoiseMixer.from_folder(noise_dir, snr_db=(snr, snr), probability=1.0)
    crop = np.random.default_rng(1).standard_normal(12000).astype(np.float32)
    for seed in range(4):
        mixed = mixer.mix(crop, SR, np.random.default_rng(seed), load_audio)
        assert mixed.dtype == np.float32 and _snr_db(crop, mixed) == pytest.approx(snr, abs=1e-3)


def test_snrs_are_drawn_from_the_range_and_some_crops_stay_clean(noise_dir: Path) -> None:
    mixer = NoiseMixer.from_folder(noise_dir, snr_db=(5.0, 20.0), probability=0.5)
    crop = np.random.default_rng(2).standard_normal(4000).astype(np.float32)
    results = [mixer.mix(crop, SR, np.random.default_rng(s), load_audio) for s in range(60)]
    mixed = [_snr_db(crop, r) for r in results if r is not crop]
    assert 15 <= len(mixed) <= 45  # about half
    assert all(5.0 - 1e-3 <= x <= 20.0 + 1e-3 for x in mixed) and max(mixed) - min(mixed) > 5
    never = NoiseMixer.from_folder(noise_dir, probability=0.0)
    assert never.mix(crop, SR, np.random.default_rng(0), load_audio) is crop


def test_a_one_channel_noise_is_heard_alike_by_both_microphones(noise_dir: Path) -> None:
    mixer = NoiseMixer.from_folder(noise_dir, snr_db=(0.0, 0.0), probability=1.0)
    crop = np.random.default_rng(3).standard_normal((2, 8000)).astype(np.float32)
    mixed = mixer.mix(crop, SR, np.random.default_rng(0), load_audio)
    added = mixed - crop
    assert mixed.shape == (2, 8000) and np.abs(added).max() > 0.1
    np.testing.assert_allclose(added[0], added[1], atol=1e-6)


def test_a_noise_clip_of_other_channels_is_refused(tmp_path: Path) -> None:
    sf.write(tmp_path / "three.wav", np.zeros((SR, 3)) + 0.1, SR)
    mixer = NoiseMixer((tmp_path / "three.wav",), probability=1.0)
    with pytest.raises(
        DataError, match=r"three\.wav: a noise clip of 3 channels cannot be mixed into 2-channel"
    ):
        mixer.mix(np.ones((2, 100), dtype=np.float32), SR, np.random.default_rng(0), load_audio)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda d: NoiseMixer.from_folder(d / "missing"), DataError, "data.noise.folder is not a folder"),
        (lambda d: NoiseMixer.from_folder(d), DataError, r"no noise clips \(\.wav, \.flac, \.ogg\)"),
        (lambda d: NoiseMixer(()), ConfigError, "no noise clips to mix"),
        (lambda d: NoiseMixer((d,), snr_db=(20.0, 5.0)), ConfigError, r"snr_db \[20\.0, 5\.0\]"),
        (lambda d: NoiseMixer((d,), probability=1.5), ConfigError, "probability 1.5"),
    ],
)
def test_bad_noise_settings_are_refused(tmp_path: Path, make: Callable, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        make(tmp_path)


def test_clip_dataset_mixes_training_crops_only_and_deterministically(
    tmp_path: Path, noise_dir: Path, write_wav: Callable[..., Path]
) -> None:
    path = write_wav(tmp_path / "fan" / "train" / "normal_id_00_00000000.wav", seconds=1.0)
    clips = [Clip(path, 2020, "fan", "00", "none", "train", "normal")]
    mixer = NoiseMixer.from_folder(noise_dir, snr_db=(10.0, 10.0), probability=1.0)
    cache = AudioCache(tmp_path / "cache")
    plain = ClipDataset(clips, num_samples=8000, train=True, seed=4)
    noisy = ClipDataset(clips, num_samples=8000, train=True, seed=4, noise=mixer, cache=cache)
    crop, mixed = plain[0]["wave"].numpy(), noisy[0]["wave"].numpy()
    assert _snr_db(crop, mixed) == pytest.approx(10.0, abs=1e-2)  # the same crop, noise added
    np.testing.assert_array_equal(noisy[0]["wave"].numpy(), mixed)  # same seed, epoch, clip: same mix
    noisy.set_epoch(1)
    assert not np.array_equal(noisy[0]["wave"].numpy(), mixed)
    scoring = ClipDataset(clips, num_samples=8000, train=False, noise=mixer)
    np.testing.assert_array_equal(
        scoring[0]["wave"].numpy(), ClipDataset(clips, num_samples=8000, train=False)[0]["wave"].numpy()
    )
    # a noise clip trained on as a clip of its own (data.noise.as_class) gets no noise mixed in
    own = [Clip(noise_dir / "hum.wav", 2020, "fan", "", "none", "train", "normal")]
    as_class = ClipDataset(own, num_samples=8000, train=True, seed=4, noise=mixer)
    alone = ClipDataset(own, num_samples=8000, train=True, seed=4)
    assert mixer.holds(noise_dir / "sub" / ".." / "hum.wav") and not mixer.holds(path)
    np.testing.assert_array_equal(as_class[0]["wave"].numpy(), alone[0]["wave"].numpy())


def test_a_data_root_gives_its_supplementary_noise_clips_only(
    tmp_path: Path, write_wav: Callable[..., Path]
) -> None:
    root = tmp_path / "root"
    for rel in (
        "fan/train/section_00_source_train_normal_0000_noAttribute.wav",
        "fan/test/section_00_source_test_normal_0000_noAttribute.wav",
        "fan/supplemental/noise_0000.wav",
        "fan/supplemental/clean_0000.wav",  # clean machine sound: not noise
        "pump/supplemental/Noise_0001.flac",
    ):
        write_wav(root / rel)
    mixer = NoiseMixer.from_folder(root)
    assert [p.relative_to(root).as_posix() for p in mixer.paths] == [
        "fan/supplemental/noise_0000.wav",
        "pump/supplemental/Noise_0001.flac",
    ]
    (root / "fan/supplemental/noise_0000.wav").unlink()
    (root / "pump/supplemental/Noise_0001.flac").unlink()
    with pytest.raises(DataError, match=r"in its supplemental/ folders \(files named \*noise\*\)"):
        NoiseMixer.from_folder(root)
    for clip in (root / "fan/supplemental").iterdir():
        clip.unlink()
    for folder in (root / "fan/supplemental", root / "pump/supplemental"):
        folder.rmdir()
    with pytest.raises(DataError, match=r"is a data set \(fan/train/\) without supplemental/ noise clips"):
        NoiseMixer.from_folder(root)  # never its training clips as noise


@pytest.mark.parametrize(
    ("relative", "owner"),
    [
        ("fan/hum.wav", "fan"),  # <folder>/<machine>/...
        ("fan/supplemental/noise_0000.wav", "fan"),  # a data root's supplementary clips
        ("dev_data/raw/pump/supplemental/noise_0000.wav", "pump"),  # the first machine-named folder
        ("hum.wav", ""),  # directly in the folder: shared
        ("street/hum.wav", ""),  # a folder that is no training machine: shared
        ("street/fan/hum.wav", "fan"),
        ("fanfare/hum.wav", ""),  # whole folder names only
    ],
)
def test_noise_owner_is_the_first_machine_folder_on_the_path(relative: str, owner: str) -> None:
    folder = Path("/noise")
    assert noise_owners([folder / relative], folder, {"fan", "pump"}) == [owner]
