"""Channel policies: what each gives the model, the clear refusals, and ClipDataset items per policy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sslasd.data import (
    CHANNEL_POLICIES,
    ChannelPolicy,
    Clip,
    ClipDataset,
    collate_clips,
    crop_or_pad,
    load_audio,
    split_windows,
    subtract_far,
)
from sslasd.errors import ConfigError, DataError

SR = 16000
WINDOWS = np.random.default_rng(0).standard_normal((3, 2, 4000)).astype(np.float32)  # [W, near/far, N]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("near", WINDOWS[:, 0]),
        ("far", WINDOWS[:, 1]),
        ("stack", WINDOWS),
        ("subtract", subtract_far(WINDOWS[:, 0], WINDOWS[:, 1], SR)),
    ],
)
def test_each_policy_gives_its_waves(name: str, expected: np.ndarray) -> None:
    policy = ChannelPolicy(name)
    assert not policy.mono and policy.views == (2 if name == "stack" else 1)
    np.testing.assert_array_equal(policy.apply(WINDOWS, SR, where="x.wav"), expected)


def test_mean_passes_the_mono_read_through() -> None:
    """``mean`` averages when the file is read (load_audio's default), so its windows arrive mono."""
    policy = ChannelPolicy()
    mono = WINDOWS.mean(axis=1)
    assert policy.name == "mean" and policy.mono and policy.views == 1
    assert policy.apply(mono, SR, where="x.wav") is mono


def test_subtract_uses_its_settings() -> None:
    got = ChannelPolicy("subtract", factor=2.0, floor=0.3).apply(WINDOWS, SR, where="x.wav")
    np.testing.assert_array_equal(got, subtract_far(WINDOWS[:, 0], WINDOWS[:, 1], SR, factor=2.0, floor=0.3))


@pytest.mark.parametrize("name", [p for p in CHANNEL_POLICIES if p != "mean"])
@pytest.mark.parametrize("channels", [1, 3])
def test_a_policy_that_needs_two_channels_refuses_others(name: str, channels: int) -> None:
    windows = np.zeros((2, channels, 100), dtype=np.float32)
    message = rf"^fan/x\.wav: {channels} channel\(s\), but data\.channels={name} needs 2 \(near and far"
    with pytest.raises(DataError, match=message):
        ChannelPolicy(name).apply(windows, SR, where="fan/x.wav")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "left"}, "data.channels: 'left' is not one of mean, near, far, stack, subtract"),
        ({"name": "subtract", "floor": 2.0}, "data.subtract_floor 2.0 in"),
        ({"name": "subtract", "factor": -0.5}, "data.subtract_factor -0.5 must be >= 0"),
    ],
)
def test_bad_policies_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ChannelPolicy(**kwargs)


def test_check_files_names_the_first_file_it_cannot_use(
    tmp_path: Path, write_wav: Callable[..., Path]
) -> None:
    two = write_wav(tmp_path / "two.wav", channels=2)
    ones = [write_wav(tmp_path / f"one{i}.wav", channels=1) for i in range(2)]
    ChannelPolicy("subtract").check_files([two])
    ChannelPolicy("mean").check_files([two, *ones])  # mean takes any channel count
    with pytest.raises(
        DataError, match=r"one0\.wav: 1 channel\(s\), but data\.channels=near .* \(2 such files\)"
    ):
        ChannelPolicy("near").check_files([two, *ones])


@pytest.fixture
def stereo_clips(tmp_path: Path) -> list[Clip]:
    """Three two-channel clips: a near channel and a quieter far one."""
    out = []
    rng = np.random.default_rng(5)
    for i, seconds in enumerate([0.6, 1.0, 1.3]):
        path = tmp_path / "fan" / "train" / f"section_00_source_train_normal_{i:04d}_a_1.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        near = 0.1 * rng.standard_normal(int(seconds * SR))
        sf.write(path, np.stack([near, 0.3 * near + 0.05 * rng.standard_normal(near.size)], axis=1), SR)
        out.append(Clip(path, 2026, "fan", "00", "source", "train", "normal", {"a": "1"}))
    return out


@pytest.mark.parametrize("name", CHANNEL_POLICIES)
def test_clip_dataset_gives_each_window_the_policy(stereo_clips: list[Clip], name: str) -> None:
    policy = ChannelPolicy(name)
    scoring = ClipDataset(stereo_clips, num_samples=8000, train=False, channels=policy)
    training = ClipDataset(stereo_clips, num_samples=8000, train=True, seed=2, channels=policy)
    for i, clip in enumerate(stereo_clips):
        wave = load_audio(clip.path, SR, mono=policy.mono)
        expected = policy.apply(split_windows(wave, 8000)[0], SR, where="")
        np.testing.assert_array_equal(scoring[i]["wave"].numpy(), expected)
        crop = crop_or_pad(wave, 8000, np.random.default_rng([2, 0, i]))
        np.testing.assert_array_equal(training[i]["wave"].numpy(), policy.apply(crop, SR, where=""))


def test_stack_training_rows_carry_their_clips_labels(stereo_clips: list[Clip]) -> None:
    """Two views per clip in training: two rows of the batch with the clip's index and target."""
    dataset = ClipDataset(
        stereo_clips, num_samples=8000, train=True, targets=[7, 8, 9], channels=ChannelPolicy("stack")
    )
    batch = collate_clips([dataset[i] for i in range(3)])
    assert batch["wave"].shape == (6, 8000)
    assert batch["index"].tolist() == [0, 0, 1, 1, 2, 2] and batch["target"].tolist() == [7, 7, 8, 8, 9, 9]
    np.testing.assert_array_equal(batch["wave"][2:4].numpy(), dataset[1]["wave"].numpy())


def test_stack_scoring_windows_keep_their_views_together(stereo_clips: list[Clip]) -> None:
    dataset = ClipDataset(stereo_clips, num_samples=8000, train=False, channels=ChannelPolicy("stack"))
    batch = collate_clips([dataset[i] for i in range(3)])
    windows = [len(dataset[i]["wave"]) for i in range(3)]
    assert batch["wave"].shape == (sum(windows), 2, 8000)
    assert batch["index"].tolist() == [i for i, w in enumerate(windows) for _ in range(w)]


def test_a_mono_clip_is_refused_by_name(tmp_path: Path, write_wav: Callable[..., Path]) -> None:
    path = write_wav(tmp_path / "fan" / "train" / "section_00_source_train_normal_0000_a_1.wav", channels=1)
    clip = Clip(path, 2026, "fan", "00", "source", "train", "normal")
    dataset = ClipDataset([clip], num_samples=4000, train=True, channels=ChannelPolicy("subtract"))
    with pytest.raises(DataError, match=rf"^{path}: 1 channel\(s\), but data\.channels=subtract"):
        dataset[0]
