"""The warm-up + cosine schedule against values worked out by hand, and the optimiser's groups."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from sslasd.training.config import TrainConfig
from sslasd.training.optim import build_optimizer, build_scheduler, warmup_cosine_factor

# warmup 4, total 12, floor 0.2: warm-up (s+1)/5 for s < 4; the cosine runs from step 4 (1.0) to
# step 12 (0.2) over 8 steps, so step 8 is half-way ((1+0.2)/2) and step 6 is a quarter
# (0.2 + 0.8 * (1 + cos(pi/4)) / 2).
HAND = [
    (0, 0.2),
    (1, 0.4),
    (3, 0.8),
    (4, 1.0),
    (6, 0.2 + 0.8 * (1 + math.sqrt(0.5)) / 2),
    (8, 0.6),
    (10, 0.2 + 0.8 * (1 - math.sqrt(0.5)) / 2),
    (12, 0.2),
    (20, 0.2),
]


@pytest.mark.parametrize(("step", "expected"), HAND)
def test_factor_matches_hand_values(step: int, expected: float) -> None:
    got = warmup_cosine_factor(step, warmup_steps=4, total_steps=12, min_lr_ratio=0.2)
    assert got == pytest.approx(expected, abs=1e-12)


def test_no_warmup_starts_at_peak_and_decreases() -> None:
    factors = [warmup_cosine_factor(s, warmup_steps=0, total_steps=10, min_lr_ratio=0.0) for s in range(10)]
    assert factors[0] == 1.0
    assert all(a > b for a, b in itertools.pairwise(factors))
    assert factors[-1] > 0  # the last step still learns


def test_scheduler_drives_the_optimizer_lr_step_by_step() -> None:
    config = TrainConfig(steps=12, warmup_steps=4, min_lr_ratio=0.2, lr=0.5)
    param = nn.Parameter(torch.zeros(2, 2))
    optimizer = build_optimizer([("w", param)], config)
    scheduler = build_scheduler(optimizer, config)
    seen = []
    for _ in range(12):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    expected = dict(HAND)
    for step, value in expected.items():
        if step < 12:
            assert seen[step] == pytest.approx(0.5 * value, abs=1e-12), step


@pytest.mark.parametrize(("name", "kind"), [("adamw", torch.optim.AdamW), ("sgd", torch.optim.SGD)])
def test_weight_decay_only_on_matrices(name: str, kind: type) -> None:
    layer = nn.Linear(3, 2)
    norm = nn.LayerNorm(2)
    named = [("w", layer.weight), ("b", layer.bias), ("g", norm.weight)]
    optimizer = build_optimizer(named, TrainConfig(optimizer=name, weight_decay=0.3))
    assert isinstance(optimizer, kind)
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] == 0.3 and [p is layer.weight for p in decay["params"]] == [True]
    assert no_decay["weight_decay"] == 0.0 and len(no_decay["params"]) == 2


def test_lr_scales_give_parts_of_the_model_their_own_learning_rate() -> None:
    """LoRA at a tenth of the rate, adapters at the rate, the rest at the rate: the first matching
    key decides, and the warm-up/cosine schedule scales every group alike."""
    lora, mga, head = nn.Linear(3, 2), nn.Linear(3, 2), nn.Linear(2, 2)
    named = [
        ("embedder.backbone.block.0.fc.lora_A", lora.weight),
        ("embedder.mga.0.down.weight", mga.weight),
        ("embedder.mga.0.down.bias", mga.bias),
        ("classifier.weight", head.weight),
    ]
    config = TrainConfig(lr=1e-3, steps=10, warmup_steps=0, lr_scales={"lora_": 0.1, "mga": 2.0})
    optimizer = build_optimizer(named, config)
    by_param = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    assert by_param[id(lora.weight)] == pytest.approx(1e-4)
    assert by_param[id(mga.weight)] == by_param[id(mga.bias)] == pytest.approx(2e-3)
    assert by_param[id(head.weight)] == pytest.approx(1e-3)
    scheduler = build_scheduler(optimizer, config)
    optimizer.step()
    scheduler.step()
    ratios = {g["lr"] / (config.lr * s) for g, s in zip(optimizer.param_groups, [1, 1, 0.1, 2, 2])}
    assert max(ratios) == pytest.approx(min(ratios))


def test_lr_scales_are_checked() -> None:
    with pytest.raises(ValueError, match="scales positive"):
        TrainConfig(lr_scales={"lora_": 0.0})
