"""The grouped data order: every group in a batch has positives on every process, and the order
stays a pure function of (seed, epoch) so that resumes and process counts keep their guarantees."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from sslasd.errors import DataError
from sslasd.training.sampler import StepBatchSampler

# 7 groups of unequal size (2 to 40 clips), like the classes of a small training set
GROUPS = np.repeat(np.arange(7), [40, 25, 9, 5, 3, 2, 36])


def _batches(world_size: int, rank: int, epoch: int = 0, start: int = 0, **kw) -> list[list[int]]:
    sampler = StepBatchSampler(
        len(GROUPS), batch_size=8, grad_accum=2, world_size=world_size, rank=rank, seed=3, **kw
    )
    sampler.set_epoch(epoch, start=start)
    return list(sampler)


@pytest.mark.parametrize("world_size", [1, 2])
def test_every_group_in_a_batch_has_positives_on_every_process(world_size: int) -> None:
    for rank in range(world_size):
        for epoch in range(3):
            for batch in _batches(world_size, rank, epoch, groups=GROUPS, per_group=2):
                counts = Counter(GROUPS[batch].tolist())
                assert len(batch) == 8 and min(counts.values()) >= 2, counts


def test_a_uniform_shuffle_leaves_clips_without_a_positive() -> None:
    lonely = sum(min(Counter(GROUPS[b].tolist()).values()) == 1 for e in range(3) for b in _batches(1, 0, e))
    assert lonely > 0  # what the grouped order fixes


def test_the_grouped_order_is_a_pure_function_of_seed_and_epoch_and_resumes() -> None:
    full = _batches(1, 0, epoch=2, groups=GROUPS, per_group=4)
    assert full == _batches(1, 0, epoch=2, groups=GROUPS, per_group=4)
    assert full[3:] == _batches(1, 0, epoch=2, start=3, groups=GROUPS, per_group=4)
    assert full != _batches(1, 0, epoch=1, groups=GROUPS, per_group=4)
    # two processes see, per micro-batch, exactly the clips one process sees
    two = [_batches(2, r, groups=GROUPS, per_group=2) for r in range(2)]
    both = [sorted(a + b) for a, b in zip(*two)]
    big = StepBatchSampler(
        len(GROUPS), batch_size=16, grad_accum=2, world_size=1, rank=0, seed=3, groups=GROUPS, per_group=4
    )
    big.set_epoch(0)
    assert both == [sorted(b) for b in big]


def test_groups_must_fit_the_batch() -> None:
    with pytest.raises(DataError, match="multiple of per_group 3"):
        StepBatchSampler(
            len(GROUPS), batch_size=8, grad_accum=1, world_size=1, rank=0, seed=0, groups=GROUPS, per_group=3
        )
