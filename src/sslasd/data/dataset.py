"""The torch Dataset of clips: random crops for training, every scoring window for scoring.

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
from sslasd.data.channels import ChannelPolicy
from sslasd.data.clip import Clip
from sslasd.data.crop import crop_or_pad, split_windows
from sslasd.data.noise import NoiseMixer
from sslasd.errors import ConfigError, DataError


class ClipDataset(Dataset):
    """Clips as fixed-length float32 waves: one random crop (training) or all windows (scoring).

    Parameters
    ----------
    clips : sequence of Clip
    sample_rate : int
        Rate the audio is resampled to.
    num_samples : int
        Length of every item's wave (:func:`~sslasd.data.years.clip_seconds` x ``sample_rate``).
    train : bool
        One random crop ``[num_samples]`` per item (training), or every scoring window of the clip
        ``[W, num_samples]`` (:func:`~sslasd.data.crop.split_windows`: the same windows as any other
        scoring path).
    hop : int, optional
        Hop between scoring windows in samples (default half a window).
    targets : sequence of int, optional
        A class label per clip (e.g. machine x section x attribute); ``-1`` in the items when absent.
    cache : AudioCache, optional
        Decoded-audio cache; without it every access decodes the file.
    seed : int
        Seeds the training crops together with the epoch and the item index.
    channels : ChannelPolicy, optional
        What the model sees of the clip's channels (:mod:`sslasd.data.channels`; default ``mean``,
        the channels averaged). Applied to each crop or window, so a ``stack`` item is ``[2, N]``
        (training) or ``[W, 2, N]`` (scoring).
    noise : NoiseMixer, optional
        Noise-only clips mixed into the training crops (:mod:`sslasd.data.noise`), from the crop's own
        generator; scoring items are never mixed.

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
        hop: int | None = None,
        channels: ChannelPolicy | None = None,
        noise: NoiseMixer | None = None,
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
        self.hop = hop
        self.channels = channels or ChannelPolicy()
        self.noise = noise
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random crops the next items use."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        clip = self.clips[index]
        load = self.cache.load if self.cache is not None else load_audio
        wave = load(clip.path, self.sample_rate, mono=self.channels.mono)
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            wave = crop_or_pad(wave, self.num_samples, rng)
            if self.noise is not None and not self.noise.holds(clip.path):  # a noise clip stays as it is
                wave = self.noise.mix(wave, self.sample_rate, rng, load)
        else:
            wave = split_windows(wave, self.num_samples, self.hop)[0]
        wave = self.channels.apply(wave, self.sample_rate, where=str(clip.path))
        target = -1 if self.targets is None else self.targets[index]
        return {"wave": torch.from_numpy(np.ascontiguousarray(wave)), "index": index, "target": target}


def collate_clips(items: Sequence[dict[str, torch.Tensor | int]]) -> dict[str, torch.Tensor]:
    """Batch items of :class:`ClipDataset`: ``wave`` [B, N] float32, ``index`` and ``target`` [B] int64.

    Scoring items hold several windows each; their windows are concatenated, so ``B`` counts
    windows and ``index`` names the clip of each window (``wave`` is ``[B, 2, N]`` for the two
    views of ``stack``). A ``stack`` training item ``[2, N]`` gives two rows with the clip's index,
    so its labels follow both views.
    """
    waves = [item["wave"] if item["wave"].ndim >= 2 else item["wave"][None] for item in items]
    counts = [len(w) for w in waves]
    return {
        "wave": torch.cat(waves),
        "index": torch.tensor([item["index"] for item in items], dtype=torch.long).repeat_interleave(
            torch.tensor(counts)
        ),
        "target": torch.tensor([item["target"] for item in items], dtype=torch.long).repeat_interleave(
            torch.tensor(counts)
        ),
    }
