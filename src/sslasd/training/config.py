"""Settings of the training engine (:func:`sslasd.training.loop.train`), one typed and checked model.

The length of a run is given in optimisation steps (``steps``), the primary unit: the learning
rate schedule, the checkpoints and the logs all count steps. Epochs are derived: an epoch is one
pass over the data set in steps of ``batch_size * grad_accum * processes`` clips (the global batch);
the incomplete last global batch of each epoch is dropped.

Example
-------
>>> cfg = TrainConfig(steps=1000, batch_size=16, grad_accum=2, lr=1e-4)
>>> cfg.warmup_steps, cfg.precision
(100, 'auto')
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator


class TrainConfig(BaseModel):
    """How to train: length, batch, optimiser and schedule, precision, processes, logs, checkpoints."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    steps: int = Field(
        2000, ge=1, description="Total optimisation steps (the primary unit; epochs are derived from it)."
    )
    batch_size: int = Field(
        32,
        ge=1,
        description="Clips per process and micro-batch; global batch = batch_size * grad_accum * processes.",
    )
    grad_accum: int = Field(1, ge=1, description="Micro-batches whose gradients are summed before each step.")
    sampler: Literal["uniform", "grouped"] = Field(
        "uniform",
        description="uniform: a plain shuffle; grouped: batches of chunks of clips_per_group clips of one "
        "class (or section, where pseudo-labels decide the class), so contrastive positives are guaranteed.",
    )
    clips_per_group: int = Field(2, ge=2, description="With sampler=grouped: clips of one group together.")
    lr: float = Field(1e-4, gt=0, description="Peak learning rate, reached at the end of the warm-up.")
    lr_scales: dict[str, float] = Field(
        default_factory=dict,
        description="Per-part learning rates: a parameter whose qualified name contains a key trains at "
        "lr * value (the first matching key, in order), e.g. {lora_: 0.1, mga: 1.0}; others at lr.",
    )
    weight_decay: float = Field(
        0.01,
        ge=0,
        description="Decoupled weight decay of matrices; biases and norm gains (1-D tensors) get none.",
    )
    warmup_steps: int = Field(
        100, ge=0, description="Steps of linear warm-up from lr/(warmup_steps+1) to lr; must be < steps."
    )
    min_lr_ratio: float = Field(
        0.0,
        ge=0,
        le=1,
        description="The cosine decay ends at lr * min_lr_ratio (reached just after the last step).",
    )
    optimizer: Literal["adamw", "sgd"] = Field(
        "adamw", description="adamw (betas 0.9/0.999, eps 1e-8) or sgd (momentum 0.9)."
    )
    grad_clip_norm: float = Field(
        0.0, ge=0, description="Clip the global gradient L2 norm to this value before each step; 0 = off."
    )
    precision: Literal["auto", "32", "bf16"] = Field(
        "auto",
        description="auto = bf16 autocast on a GPU that supports it, float32 elsewhere; 32; bf16 (mixed).",
    )
    accelerator: Literal["auto", "cpu", "gpu"] = Field(
        "auto", description="auto = the GPUs when CUDA is available, else the CPU."
    )
    devices: int | Literal["auto"] = Field(
        1, description="Processes (GPUs) per node; 'auto' = every visible GPU. More than 1 trains with DDP."
    )
    num_nodes: int = Field(1, ge=1, description="Machines taking part (DDP over the cluster's launcher).")
    strategy: Literal["auto", "ddp", "ddp_find_unused_parameters_true"] = Field(
        "auto",
        description="auto = one process as is, DDP when devices * num_nodes > 1; the last form lets some "
        "trainable parameters go unused in a step.",
    )
    num_workers: int = Field(
        0,
        ge=0,
        description="DataLoader worker processes per training process (0 = load in the main process).",
    )
    checkpoint_every: int = Field(
        200, ge=1, description="Write checkpoints/last.pt after every this many steps (the resume point)."
    )
    log_every: int = Field(
        10, ge=1, description="Write a metrics.csv row (means over the window) every N steps."
    )
    seed: int = Field(
        0, ge=0, description="Seeds the data order (per epoch) and every step's random numbers."
    )
    mixup_alpha: float = Field(
        0.0, ge=0, description="Mixup of the waveforms within a batch, lambda ~ Beta(alpha, alpha); 0 = off."
    )
    tensorboard: bool = Field(True, description="Also write TensorBoard events under tb/ (when installed).")

    @model_validator(mode="after")
    def _check_lengths(self) -> TrainConfig:
        if self.warmup_steps >= self.steps:
            raise ValueError(f"warmup_steps={self.warmup_steps} must be smaller than steps={self.steps}")
        bad = {k: v for k, v in self.lr_scales.items() if not k or v <= 0}
        if bad:
            raise ValueError(f"lr_scales {bad}: keys must be non-empty and scales positive")
        if self.sampler == "grouped" and self.batch_size % self.clips_per_group:
            raise ValueError(
                f"batch_size={self.batch_size} must be a multiple of clips_per_group={self.clips_per_group}"
            )
        if isinstance(self.devices, int) and self.devices < 1:
            raise ValueError(f"devices={self.devices}: expected a positive number of processes or 'auto'")
        return self

    def fabric_precision(self) -> str:
        """Lightning Fabric's name of the precision this config asks for on this machine.

        ``"auto"`` gives ``"bf16-mixed"`` when training runs on a CUDA GPU that supports bfloat16 and
        ``"32-true"`` otherwise (CPU autocast to bfloat16 is slower than float32 on most CPUs).
        """
        if self.precision == "32":
            return "32-true"
        if self.precision == "bf16":
            return "bf16-mixed"
        on_gpu = self.accelerator != "cpu" and torch.cuda.is_available()
        return "bf16-mixed" if on_gpu and torch.cuda.is_bf16_supported() else "32-true"
