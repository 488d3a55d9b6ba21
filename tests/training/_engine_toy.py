"""A toy model and data set for the engine tests, also runnable as a script (for kill and DDP tests).

The model has the parts a real one has: a frozen block (with a frozen BatchNorm), a trainable
adapter, norm and head, an EMA buffer in a parameter-free submodule (like a VQ codebook) that it
keeps in sync across processes with the engine's all-reduce hook, an epoch counter set by
``on_epoch_start``, a random change to the EMA every third step by ``on_step_start`` (recorded in
``jolts``, a non-tensor record kept through ``checkpoint_extras``), optional dropout (randomness
that a resume must replay) and mixup support.

Script use: ``python _engine_toy.py OUT_DIR TRAIN_CONFIG_JSON MODEL_KWARGS_JSON [N_CLIPS]``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

DIM, HIDDEN, CLASSES = 6, 8, 3


class ToyEma(nn.Module):
    """An EMA of batch means: a buffer that training changes, in a module without parameters."""

    def __init__(self, dim: int, decay: float = 0.8) -> None:
        super().__init__()
        self.decay = decay
        self.register_buffer("mean", torch.zeros(dim))

    @torch.no_grad()
    def update(self, batch_mean: torch.Tensor) -> None:
        self.mean.mul_(self.decay).add_((1 - self.decay) * batch_mean)


class ToyModel(nn.Module):
    """Frozen block -> trainable adapter -> (+ EMA) -> norm -> head; cross-entropy on ``label``."""

    def __init__(
        self,
        *,
        dropout: float = 0.0,
        batch_norm: bool = False,
        ema_in_loss: bool = True,
        sleep: float = 0.0,
        fail_at_step: int | None = None,
    ) -> None:
        super().__init__()
        self.frozen = nn.Sequential(nn.Linear(DIM, HIDDEN), nn.BatchNorm1d(HIDDEN))
        self.frozen.requires_grad_(False)
        self.adapter = nn.Linear(HIDDEN, HIDDEN)
        self.norm = nn.BatchNorm1d(HIDDEN) if batch_norm else nn.LayerNorm(HIDDEN)
        self.head = nn.Linear(HIDDEN, CLASSES)
        self.drop = nn.Dropout(dropout)
        self.ema = ToyEma(HIDDEN)
        self.register_buffer("epochs_seen", torch.zeros((), dtype=torch.long))
        self.ema_in_loss = ema_in_loss
        self.sleep = sleep
        self.fail_at_step = fail_at_step
        self.all_reduce = lambda t: t
        self.jolts: list[dict[str, Any]] = []  # one entry per jolt of the EMA: its step and size

    def train(self, mode: bool = True) -> ToyModel:
        super().train(mode)
        self.frozen.eval()  # frozen statistics stay frozen
        return self

    def set_all_reduce(self, fn: Any) -> None:
        self.all_reduce = fn

    def checkpoint_buffers(self) -> list[str]:
        return ["ema.mean", "epochs_seen"]

    def checkpoint_extras(self) -> dict[str, Any]:
        return {"jolts": list(self.jolts)}

    def load_checkpoint_extras(self, extras: dict[str, Any]) -> None:
        self.jolts = list(extras.get("jolts", []))

    def on_epoch_start(self, epoch: int, fabric: Any) -> None:
        self.epochs_seen += 1

    @torch.no_grad()
    def on_step_start(self, step: int, fabric: Any) -> None:
        """Every 3 steps a random jolt to the EMA (like a VQ re-clustering, which draws k-means++
        seeds): a resume must call it at the step it starts from, with the same random numbers."""
        if step and step % 3 == 0:
            jolt = 0.1 * torch.randn_like(self.ema.mean)
            self.ema.mean.add_(jolt)
            self.jolts.append({"step": step, "size": float(jolt.norm())})

    def training_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        if step == self.fail_at_step:
            raise RuntimeError(f"toy: stopped at step {step}")
        if self.sleep:
            time.sleep(self.sleep)
        h = self.frozen(batch["wave"])
        h = h + self.adapter(self.drop(h))
        stats = self.all_reduce(torch.cat([h.detach().sum(0), h.new_tensor([h.shape[0]])]))
        self.ema.update(stats[:-1] / stats[-1])
        if self.ema_in_loss:
            h = h + self.ema.mean
        logits = self.head(self.norm(h))
        label = batch["label"]
        if "mix_lambda" in batch:
            lam = batch["mix_lambda"]
            loss = lam * F.cross_entropy(logits, label) + (1 - lam) * F.cross_entropy(
                logits, label[batch["mix_index"]]
            )
        else:
            loss = F.cross_entropy(logits, label)
        return {
            "loss": loss,
            "loss_margin": loss.detach(),
            "loss_vq": (h - self.ema.mean).pow(2).mean().detach(),
        }


class ToyData(Dataset):
    """``n`` random clips: ``wave`` [DIM] floats and an integer ``label``."""

    def __init__(self, n: int = 40, seed: int = 1) -> None:
        g = torch.Generator().manual_seed(seed)
        self.wave = torch.randn(n, DIM, generator=g)
        self.label = torch.randint(0, CLASSES, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.label)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"wave": self.wave[index], "label": self.label[index]}


def build_model(**kwargs: Any) -> ToyModel:
    """The toy model with the same initial weights every time."""
    torch.manual_seed(0)
    return ToyModel(**kwargs)


def main(argv: list[str]) -> None:
    from sslasd.training.config import TrainConfig
    from sslasd.training.loop import train

    out_dir, config, model_kwargs = Path(argv[0]), json.loads(argv[1]), json.loads(argv[2])
    n = int(argv[3]) if len(argv) > 3 else 40
    torch.set_num_threads(1)  # as in the tests: tiny tensors, no OpenMP spin-waits
    train(
        build_model(**model_kwargs), ToyData(n), config=TrainConfig(**config), out_dir=out_dir, progress=False
    )


if __name__ == "__main__":
    main(sys.argv[1:])
