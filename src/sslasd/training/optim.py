"""Optimiser over the trainable parameters and the warm-up + cosine learning-rate schedule.

Fine-tuning adapters on a frozen self-supervised model is sensitive to the first steps (the
random heads send large gradients into the adapters), hence a linear warm-up; a cosine decay to a
floor then settles the weights. The schedule is a pure function of the step, so a resumed run
gets exactly the learning rates an uninterrupted run gets.

Example
-------
>>> [round(warmup_cosine_factor(s, warmup_steps=3, total_steps=8, min_lr_ratio=0.1), 3) for s in range(9)]
[0.25, 0.5, 0.75, 1.0, 0.914, 0.689, 0.411, 0.186, 0.1]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from sslasd.training.config import TrainConfig


def warmup_cosine_factor(step: int, *, warmup_steps: int, total_steps: int, min_lr_ratio: float) -> float:
    """Multiplier of the peak learning rate used by optimisation step ``step`` (0-based).

    Warm-up: ``(step + 1) / (warmup_steps + 1)`` for ``step <= warmup_steps``, a straight line that
    reaches 1 at ``step == warmup_steps``. Then a half cosine from 1 at ``warmup_steps`` down to
    ``min_lr_ratio`` at ``total_steps`` (one past the last step, so that no step is wasted on a
    learning rate of 0 when ``min_lr_ratio`` is 0).
    """
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_optimizer(
    named_params: Sequence[tuple[str, nn.Parameter]], config: TrainConfig
) -> torch.optim.Optimizer:
    """The optimiser of ``config.optimizer`` over ``named_params`` (the trainable ones).

    Matrices and higher-rank tensors get ``config.weight_decay``; 1-D tensors (biases, norm gains,
    gates) get none, the usual rule for transformers. ``config.lr_scales`` gives parts of the model
    (LoRA, adapters, heads) their own learning rate: each scale has a decayed and an undecayed group,
    the default scale (1) first, then the scales in the order of ``lr_scales``; within a group the
    parameters keep the order given, so that a checkpointed optimiser state maps back by position.
    Groups 0 (decayed) and 1 (the others) are the default scale's, even when empty; the other
    scales' empty groups are left out.
    """
    scales = [1.0, *config.lr_scales.values()]

    def scale_of(name: str) -> int:
        return next((i + 1 for i, key in enumerate(config.lr_scales) if key in name), 0)

    groups = []
    for s, scale in enumerate(scales):
        for wd, decayed in ((config.weight_decay, True), (0.0, False)):
            params = [p for n, p in named_params if scale_of(n) == s and (p.ndim >= 2) == decayed]
            if params or s == 0:
                groups.append({"params": params, "weight_decay": wd, "lr": config.lr * scale})
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=0.9)
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.999), eps=1e-8)


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> LambdaLR:
    """A :class:`LambdaLR` applying :func:`warmup_cosine_factor`; ``step()`` it after each optimiser step."""

    def factor(step: int) -> float:
        return warmup_cosine_factor(
            step, warmup_steps=config.warmup_steps, total_steps=config.steps, min_lr_ratio=config.min_lr_ratio
        )

    return LambdaLR(optimizer, factor)
