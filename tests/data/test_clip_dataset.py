"""ClipDataset: items, deterministic random crops with any number of workers, epochs, collate."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sslasd.data import AudioCache, Clip, ClipDataset, collate_clips, crop_or_pad, load_audio, split_windows
from sslasd.errors import ConfigError, DataError


@pytest.fixture
def clips(tmp_path: Path, write_wav: Callable[..., Path]) -> list[Clip]:
    out = []
    for i, seconds in enumerate([0.6, 1.0, 0.7, 1.5, 0.8]):
        path = write_wav(tmp_path / "fan" / "train" / f"normal_id_00_{i:08d}.wav", seconds=seconds, seed=i)
        out.append(Clip(path, 2020, "fan", "00", "none", "train", "normal"))
    return out


def _epoch(dataset: ClipDataset, workers: int) -> torch.Tensor:
    loader = DataLoader(dataset, batch_size=2, num_workers=workers, collate_fn=collate_clips)
    return torch.cat([batch["wave"] for batch in loader])


def test_scoring_items_are_the_scoring_windows_of_each_clip(clips: list[Clip]) -> None:
    dataset = ClipDataset(clips, num_samples=12000, train=False, targets=[3, 1, 4, 1, 5])
    for i, clip in enumerate(clips):
        item = dataset[i]
        windows, _ = split_windows(load_audio(clip.path), 12000)
        np.testing.assert_array_equal(item["wave"].numpy(), windows)
        assert (item["index"], item["target"], item["wave"].dtype) == (i, [3, 1, 4, 1, 5][i], torch.float32)
    # 12000-sample windows, hop 6000, the last one ending at the end: 1.0 s and 0.8 s need two, 1.5 s three
    assert [len(dataset[i]["wave"]) for i in range(5)] == [1, 2, 1, 3, 2]


def test_training_crops_do_not_depend_on_the_number_of_workers(clips: list[Clip]) -> None:
    dataset = ClipDataset(clips, num_samples=8000, train=True, seed=3)
    dataset.set_epoch(2)
    single = _epoch(dataset, 0)
    torch.testing.assert_close(_epoch(dataset, 2), single, rtol=0, atol=0)
    # and they are the crops that the (seed, epoch, index) generator picks
    for i, clip in enumerate(clips):
        expected = crop_or_pad(load_audio(clip.path), 8000, np.random.default_rng([3, 2, i]))
        np.testing.assert_array_equal(single[i].numpy(), expected)


def test_epochs_and_seeds_change_the_crops(clips: list[Clip]) -> None:
    dataset = ClipDataset(clips, num_samples=8000, train=True, seed=0)
    first = _epoch(dataset, 0)
    dataset.set_epoch(1)
    assert not torch.equal(_epoch(dataset, 0), first)
    dataset.set_epoch(0)
    assert torch.equal(_epoch(dataset, 0), first)
    assert not torch.equal(_epoch(ClipDataset(clips, num_samples=8000, train=True, seed=1), 0), first)


def test_collate_and_cache(clips: list[Clip], tmp_path: Path) -> None:
    cache = AudioCache(tmp_path / "cache")
    dataset = ClipDataset(clips, num_samples=4000, train=False, cache=cache)
    batch = collate_clips([dataset[0], dataset[3]])
    # 0.6 s and 1.5 s at 16 kHz in 4000-sample windows, hop 2000: 4 and 11 windows
    assert batch["wave"].shape == (15, 4000)
    assert batch["index"].tolist() == [0] * 4 + [3] * 11
    assert batch["target"].tolist() == [-1] * 15
    assert batch["index"].dtype == batch["target"].dtype == torch.long
    assert cache.contains(clips[3].path, 16000)
    np.testing.assert_array_equal(
        batch["wave"][4:].numpy(), ClipDataset(clips, num_samples=4000, train=False)[3]["wave"]
    )


def test_refuses_bad_arguments(clips: list[Clip]) -> None:
    with pytest.raises(DataError, match="targets: 2 labels for 5 clips"):
        ClipDataset(clips, num_samples=100, train=True, targets=[0, 1])
    with pytest.raises(ConfigError, match="num_samples: 0"):
        ClipDataset(clips, num_samples=0, train=True)
