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
        self, n: int, *, batch_size: int, grad_accum: int, world_size: int, rank: int, seed: int
    ) -> None:
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

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(derived_seed(self.seed, 0, self.epoch))
        order = torch.randperm(self.n, generator=generator)
        width = self.batch_size * self.world_size
        for index in range(self.start, self.steps_per_epoch * self.grad_accum):
            block = order[index * width : (index + 1) * width]
            yield block[self.rank :: self.world_size].tolist()
