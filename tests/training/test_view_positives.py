"""Positives of the two-view loss in real batches: every view has its twin (instance level) by
construction, and with ``train.sampler=grouped`` every view also has a class-level positive that is
not its own twin (a view of another clip of its class); a uniform shuffle does not give that."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sslasd.models.heads import view_masks
from sslasd.training.sampler import StepBatchSampler

# classes of unequal size (2 to 40 clips), like the fixed classes of a small training set
CLASSES = np.repeat(np.arange(7), [40, 25, 9, 5, 3, 2, 36])


def _batches(world_size: int, rank: int, epoch: int, grouped: bool) -> list[list[int]]:
    sampler = StepBatchSampler(
        len(CLASSES),
        batch_size=8,
        grad_accum=1,
        world_size=world_size,
        rank=rank,
        seed=5,
        groups=CLASSES if grouped else None,
        per_group=2,
    )
    sampler.set_epoch(epoch)
    return list(sampler)


def _anchors_without_other_positive(batch: list[int]) -> int:
    """Views of the batch whose only class-level positive is their own twin."""
    instance, positive, _ = view_masks(torch.as_tensor(CLASSES[batch]))
    assert instance.sum(dim=1).eq(1).all()  # the instance level: exactly the twin, always
    return int((~(positive & ~instance).any(dim=1)).sum())


@pytest.mark.parametrize("world_size", [1, 2])
def test_grouped_batches_give_every_view_a_class_positive_beyond_its_twin(world_size: int) -> None:
    for rank in range(world_size):
        for epoch in range(3):
            for batch in _batches(world_size, rank, epoch, grouped=True):
                assert _anchors_without_other_positive(batch) == 0, CLASSES[batch]


def test_a_uniform_shuffle_leaves_views_with_only_their_twin() -> None:
    lonely = sum(
        _anchors_without_other_positive(b) for e in range(3) for b in _batches(1, 0, e, grouped=False)
    )
    assert lonely > 0  # what train.sampler=grouped fixes for the class level
