"""The torch Dataset of clips: fixed-length waves, deterministic random crops, a collate function.

A training crop is drawn from a generator seeded by ``(seed, epoch, index)``, never from global or
per-worker state, so the crops of an epoch are the same with 0, 1 or 8 DataLoader workers and after a
resume. Call :meth:`ClipDataset.set_epoch` before each epoch (with ``persistent_workers=False``, so the
workers see the new epoch).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from sslasd.data.audio import load_audio
from sslasd.data.cache import AudioCache
from sslasd.data.clip import Clip
from sslasd.data.crop import crop_or_pad
from sslasd.errors import ConfigError, DataError


class ClipDataset(Dataset):
    """Clips as fixed-length float32 waves.

    Parameters
    ----------
    clips : sequence of Clip
    sample_rate : int
        Rate the audio is resampled to.
    num_samples : int
        Length of every item's wave (:func:`~sslasd.data.years.clip_seconds` x ``sample_rate``).
    train : bool
        Random crops (training) or the deterministic start of each clip (scoring).
    targets : sequence of int, optional
        A class label per clip (e.g. machine x section x attribute); ``-1`` in the items when absent.
    cache : AudioCache, optional
        Decoded-audio cache; without it every access decodes the file.
    seed : int
        Seeds the training crops together with the epoch and the item index.

    Raises
    ------
    ConfigError
        ``num_samples`` is not positive.
    DataError
        ``targets`` does not have one entry per clip.

    Example
    -------
    >>> ds = ClipDataset([], num_samples=16000, train=False)
    >>> len(ds)
    0
    """

    def __init__(
        self,
        clips: Sequence[Clip],
        *,
        sample_rate: int = 16000,
        num_samples: int,
        train: bool,
        targets: Sequence[int] | None = None,
        cache: AudioCache | None = None,
        seed: int = 0,
    ) -> None:
        if num_samples <= 0:
            raise ConfigError(f"num_samples: {num_samples!r}, expected a positive number of samples")
        if targets is not None and len(targets) != len(clips):
            raise DataError(f"targets: {len(targets)} labels for {len(clips)} clips, expected one per clip")
        self.clips = list(clips)
        self.sample_rate = sample_rate
        self.num_samples = num_samples
        self.train = train
        self.targets = None if targets is None else [int(t) for t in targets]
        self.cache = cache
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random crops the next items use."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        clip = self.clips[index]
        if self.cache is not None:
            wave = self.cache.load(clip.path, self.sample_rate)
        else:
            wave = load_audio(clip.path, self.sample_rate)
        rng = np.random.default_rng([self.seed, self.epoch, index]) if self.train else None
        wave = crop_or_pad(wave, self.num_samples, rng)
        target = -1 if self.targets is None else self.targets[index]
        return {"wave": torch.from_numpy(np.ascontiguousarray(wave)), "index": index, "target": target}


def collate_clips(items: Sequence[dict[str, torch.Tensor | int]]) -> dict[str, torch.Tensor]:
    """Stack items of :class:`ClipDataset`: ``wave`` [B, N] float32, ``index`` and ``target`` [B] int64."""
    return {
        "wave": torch.stack([item["wave"] for item in items]),
        "index": torch.tensor([item["index"] for item in items], dtype=torch.long),
        "target": torch.tensor([item["target"] for item in items], dtype=torch.long),
    }
