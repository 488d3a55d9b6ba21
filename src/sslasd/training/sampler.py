"""The data order of a run: a seeded shuffle per epoch, cut into global batches, split over processes.

The order is a pure function of ``(seed, epoch)``, never of a random generator's history, so a
resumed run continues the exact sequence of an uninterrupted one by skipping the micro-batches
already consumed in its epoch. Each epoch's permutation is cut into *global* micro-batches of
``batch_size * world_size`` clips; process ``rank`` takes every ``world_size``-th clip of each
(``global[rank::world_size]``, the interleaving of torch's ``DistributedSampler``). The clips of one
optimisation step (``grad_accum`` consecutive global micro-batches) are therefore the same set of
``batch_size * grad_accum * world_size`` clips whatever the split, so one process with a large
batch and N processes (or accumulated micro-batches) with smaller ones see the same data. The
incomplete last global step of each epoch is dropped.

With ``groups`` (a label per clip) and ``per_group = k``, the epoch's order is made of *chunks*:
each group's clips are shuffled and cut into chunks of ``k * world_size`` clips (the last one
filled up with other clips of the same group), and the chunks are shuffled. A micro-batch whose
size is a multiple of ``k`` then holds whole chunks on every process: every group in it has at least
``k`` clips there, so a contrastive loss always finds positives. Uniform shuffling gives a clip a
positive in a batch of 32 only about half the time when groups are small.

Example
-------
>>> s = StepBatchSampler(10, batch_size=2, grad_accum=1, world_size=2, rank=1, seed=0)
>>> s.steps_per_epoch, len(s), all(len(b) == 2 for b in s)
(2, 2, True)
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler

from sslasd.errors import DataError


def derived_seed(*keys: int) -> int:
    """A 32-bit seed mixed from ``keys`` by NumPy's SeedSequence.

    Neighbouring keys give unrelated streams, unlike ``seed + epoch``. Callers put a stream tag
    after the seed (0: data order, then ``epoch``; the loop uses 1 and 2) so that uses never collide.
    """
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0])


class StepBatchSampler(Sampler[list[int]]):
    """Batch sampler of one process: yields its micro-batches of one epoch, from a start position.

    Parameters
    ----------
    n : int
        Clips in the data set.
    batch_size : int
        Clips per process and micro-batch.
    grad_accum : int
        Micro-batches per optimisation step.
    world_size, rank : int
        Processes taking part and this one's index.
    seed : int
        Base seed of the per-epoch shuffles.
    groups : array of int, optional
        Group of each clip (e.g. its class or section); with it, batches are made of chunks of
        ``per_group`` clips of one group per process.
    per_group : int
        Clips of a group that come together on each process (with ``groups``).

    Attributes
    ----------
    steps_per_epoch : int
        Optimisation steps in one epoch (``n // (batch_size * grad_accum * world_size)``).

    Raises
    ------
    DataError
        When the data set is smaller than one global step.
    """

    def __init__(
        self,
        n: int,
        *,
        batch_size: int,
        grad_accum: int,
        world_size: int,
        rank: int,
        seed: int,
        groups: np.ndarray | None = None,
        per_group: int = 2,
    ) -> None:
        if groups is not None and (len(groups) != n or batch_size % per_group):
            raise DataError(
                f"grouped batches: {len(groups)} group labels for {n} clips, batch_size {batch_size} "
                f"must be a multiple of per_group {per_group}"
            )
        self.groups = None if groups is None else np.asarray(groups)
        self.per_group = per_group
        self.n = n
        self.batch_size = batch_size
        self.grad_accum = grad_accum
        self.world_size = world_size
        self.rank = rank
        self.seed = seed
        self.samples_per_step = batch_size * grad_accum * world_size
        self.steps_per_epoch = n // self.samples_per_step
        if self.steps_per_epoch == 0:
            raise DataError(
                f"training set: {n} clips, fewer than one optimisation step needs "
                f"(batch_size {batch_size} x grad_accum {grad_accum} x {world_size} processes = "
                f"{self.samples_per_step}); lower batch_size or add clips"
            )
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the shuffle of ``epoch``; skip its first ``start`` micro-batches (done before a resume)."""
        self.epoch = epoch
        self.start = start

    def __len__(self) -> int:
        return self.steps_per_epoch * self.grad_accum - self.start

    def _order(self) -> torch.Tensor:
        """The epoch's clip order (at least ``n`` long), a pure function of ``(seed, epoch)``."""
        generator = torch.Generator().manual_seed(derived_seed(self.seed, 0, self.epoch))
        if self.groups is None:
            return torch.randperm(self.n, generator=generator)
        size = self.per_group * self.world_size
        chunks = []
        for g in np.unique(self.groups):
            members = torch.from_numpy(np.flatnonzero(self.groups == g))
            members = members[torch.randperm(len(members), generator=generator)]
            short = -len(members) % size
            if short:  # fill the last chunk with other clips of the group (repeats if it is tiny)
                members = torch.cat(
                    [members, members[torch.randint(len(members), (short,), generator=generator)]]
                )
            chunks += list(members.split(size))
        return torch.cat([chunks[i] for i in torch.randperm(len(chunks), generator=generator)])

    def __iter__(self) -> Iterator[list[int]]:
        order = self._order()
        width = self.batch_size * self.world_size
        for index in range(self.start, self.steps_per_epoch * self.grad_accum):
            block = order[index * width : (index + 1) * width]
            yield block[self.rank :: self.world_size].tolist()
