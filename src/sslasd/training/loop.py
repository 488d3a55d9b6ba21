"""The training engine: any ``nn.Module`` with a ``training_step``, on Lightning Fabric.

One process on the CPU or a GPU by default; several GPUs or nodes with DDP through the same call
(``devices``, ``num_nodes``): Fabric starts the other processes by re-running the current command
(``sslasd fit ...``), or joins those that ``torchrun``/SLURM started. bf16 autocast on GPUs,
gradient accumulation, warm-up + cosine schedule, optional mixup, ``metrics.csv`` + TensorBoard,
a progress bar, and atomic checkpoints of the trainable state from which a killed run resumes and
ends exactly where an uninterrupted run ends.

The model contract
------------------
``training_step(batch: dict[str, Tensor], step: int) -> dict[str, Tensor]``
    Returns ``"loss"`` (a scalar to minimise) and optionally named parts (``"loss_margin"``,
    ``"loss_contrastive"``, ``"loss_vq"``...), which are logged. It runs under autocast (bf16 on
    GPU), in training mode, so the model applies SpecAugment / dropout itself in its forward. With
    ``mixup_alpha > 0`` the batch arrives mixed: ``batch[mix_key]`` is ``lam * x + (1 - lam) *
    x[mix_index]``, and ``batch["mix_lambda"]`` (scalar tensor) and ``batch["mix_index"]`` ([B])
    tell the model how to mix its targets/losses (``lam * loss(y) + (1 - lam) * loss(y[mix_index])``).
``on_epoch_start(epoch: int, fabric) -> None`` (optional)
    Called at the start of every epoch (e.g. to re-assign pseudo-labels). It is not called again
    when a run resumes in the middle of an epoch, so whatever it computes must live in checkpoint
    buffers (see :mod:`sslasd.training.checkpoint`) for a resume to be exact.
``on_step_start(step: int, fabric) -> None`` (optional)
    Called before every optimisation step, after the reseeding for that step (e.g. to re-cluster
    pseudo-labels every N steps). A resumed run calls it for the step it resumes at, which the
    killed run had not started, so the same rule about checkpoint buffers applies.
``set_all_reduce(fn) -> None`` (optional)
    Called once before training with ``fn(tensor) -> tensor``, the element-wise *sum* over all
    processes (the identity with one process). A model that updates buffers from batch statistics
    (EMA codebooks) sums its statistics with it, so that every process applies the same update and
    N processes equal one process with the same global batch (``AsdSystem`` passes it to its VQ
    codebooks). (DDP also copies all buffers from rank 0 at every forward, so processes never
    drift apart; without ``fn`` they would follow rank 0's local statistics only.)
``checkpoint_buffers() -> list[str]`` (optional)
    Buffers to checkpoint besides those of modules that own trainable parameters.
``checkpoint_extras() -> dict`` and ``load_checkpoint_extras(extras: dict) -> None`` (optional, both)
    A record that is not tensors (numbers, strings, lists, dicts: e.g. the per-epoch statistics of
    the pseudo-labels) kept in checkpoints and given back on resume, so that a resumed run ends
    with the record of the uninterrupted one, not only the part after the resume.

Randomness: the data order is a pure function of ``(seed, epoch)``; before every step, Python,
NumPy and torch are reseeded from ``(seed, step, rank)``. A checkpoint therefore needs no random
generator states, and a resume replays the same dropout masks, SpecAugment masks and mixup draws
(bit for bit on the CPU with ``num_workers=0``; random crops done inside DataLoader workers may
differ after a mid-epoch resume).

Example
-------
>>> result = train(model, dataset, config=TrainConfig(steps=100), out_dir="runs/a/fit")  # doctest: +SKIP
>>> result.weights  # doctest: +SKIP
PosixPath('runs/a/fit/model.safetensors')
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning_fabric import Fabric
from torch import nn
from torch.utils.data import DataLoader, Dataset

from sslasd._common import atomic_write_json, atomic_write_text, get_logger
from sslasd._common.run_layout import CHECKPOINT, DONE, TRAIN_SUMMARY, WEIGHTS
from sslasd.errors import CheckpointError, ConfigError, DataError, RunError
from sslasd.training.checkpoint import (
    load_checkpoint,
    load_trainable_state,
    save_checkpoint,
    save_weights,
    trainable_state,
)
from sslasd.training.config import TrainConfig
from sslasd.training.logs import MetricsLog, ProgressBar
from sslasd.training.optim import build_optimizer, build_scheduler
from sslasd.training.sampler import StepBatchSampler, derived_seed

log = get_logger("training")

_STEP_STREAM, _LOADER_STREAM = 1, 2  # tags that keep the derived seeds of the two uses apart


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` did.

    Attributes
    ----------
    step : int
        Optimisation steps done in all (``config.steps`` at the end).
    seconds : float
        Training time over all attempts (time lost after the last checkpoint of a killed attempt
        is not counted).
    clips_per_s : float
        Clips per second over all processes.
    losses : dict of str to float
        Means of the loss and its parts over the last logging window.
    weights : Path
        ``out_dir/model.safetensors``: the trainable state (see :mod:`sslasd.training.checkpoint`).
    resumed_from : int or None
        Step of the checkpoint this call resumed from.
    already_done : bool
        True when ``out_dir/DONE`` existed and nothing was trained.
    """

    step: int
    seconds: float
    clips_per_s: float
    losses: dict[str, float]
    weights: Path
    resumed_from: int | None = None
    already_done: bool = False


@dataclass
class _Progress:
    """Counters carried over checkpoints, and the current logging window."""

    step: int = 0
    seconds: float = 0.0
    clips: int = 0
    resumed_from: int | None = None
    window_sums: dict[str, torch.Tensor] = field(default_factory=dict)
    window_steps: int = 0
    window_start: float = field(default_factory=time.perf_counter)
    last_losses: dict[str, float] = field(default_factory=dict)


def train(
    model: nn.Module,
    dataset: Dataset,
    *,
    config: TrainConfig,
    out_dir: str | Path,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    progress: bool = True,
    mix_key: str = "wave",
    groups: np.ndarray | None = None,
) -> TrainResult:
    """Train the trainable parameters of ``model`` on ``dataset`` for ``config.steps`` steps.

    Resumes from ``out_dir/checkpoints/last.pt`` when it exists; returns at once when
    ``out_dir/DONE`` exists. Writes ``metrics.csv``, ``tb/``, ``checkpoints/last.pt`` (every
    ``config.checkpoint_every`` steps), then ``model.safetensors``, ``train_summary.json`` and
    ``DONE`` last.

    Parameters
    ----------
    model : nn.Module
        Follows the contract in the module docstring; frozen parts have ``requires_grad=False``.
    dataset : Dataset
        Map-style (has ``__len__``); items are collated into the ``batch`` dict of ``training_step``.
    config : TrainConfig
    out_dir : path
        The training folder (created).
    collate_fn : callable, optional
        DataLoader collate function; torch's default (stack each key) when None.
    progress : bool
        Draw a progress bar (rank 0, when stderr is a terminal).
    mix_key : str
        Key of the batch that mixup mixes (the waveform).
    groups : array of int, optional
        Group of each clip, needed by ``config.sampler == "grouped"`` (see :class:`StepBatchSampler`).

    Returns
    -------
    TrainResult

    Raises
    ------
    ConfigError
        The model has no trainable parameter, or mixup is on and the batch lacks ``mix_key``.
    DataError
        The data set is smaller than one global batch.
    CheckpointError
        The checkpoint does not fit the model or was made with another global batch or data set.
    RunError
        The model's ``training_step`` returned no scalar ``"loss"``, or the loss became NaN/inf.
    """
    out_dir = Path(out_dir)
    if (out_dir / DONE).is_file():
        return _finished(out_dir)
    session = _start(model, dataset, config, out_dir, collate_fn, groups)
    before = (session.state.seconds, session.state.clips)
    try:
        _run_steps(session, model, config, out_dir, progress, mix_key)
    finally:
        if hasattr(model, "set_all_reduce"):  # the model may outlive the processes it was linked to
            model.set_all_reduce(_identity)
    return _finish(session, model, out_dir, *before)


@dataclass
class _Session:
    """What one call of :func:`train` trains with: the processes, the optimiser, the data order."""

    fabric: Fabric
    fmodel: nn.Module
    optimizer: torch.optim.Optimizer
    foptimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    sampler: StepBatchSampler
    loader: Any
    loader_generator: torch.Generator
    state: _Progress


def _start(
    model: nn.Module,
    dataset: Dataset,
    config: TrainConfig,
    out_dir: Path,
    collate_fn: Callable[[list[Any]], Any] | None,
    groups: np.ndarray | None,
) -> _Session:
    """Check the inputs, start the processes, build the optimiser and loader, and resume."""
    if not hasattr(dataset, "__len__"):
        raise DataError(
            f"training set: {type(dataset).__name__} has no length; a map-style Dataset is needed"
        )
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ConfigError(f"{type(model).__name__}: no parameter has requires_grad=True, nothing to train")
    if config.sampler == "grouped" and groups is None:
        raise ConfigError("train.sampler: 'grouped' needs the clips' groups; this caller gives none")
    fabric = Fabric(
        accelerator=config.accelerator,
        devices=config.devices,
        num_nodes=config.num_nodes,
        strategy=config.strategy,
        precision=config.fabric_precision(),
    )
    fabric.launch()
    sampler = StepBatchSampler(
        len(dataset),
        batch_size=config.batch_size,
        grad_accum=config.grad_accum,
        world_size=fabric.world_size,
        rank=fabric.global_rank,
        seed=config.seed,
        groups=groups if config.sampler == "grouped" else None,
        per_group=config.clips_per_group,
    )
    optimizer = build_optimizer(named, config)
    scheduler = build_scheduler(optimizer, config)
    if hasattr(model, "set_all_reduce"):
        model.set_all_reduce(partial(fabric.all_reduce, reduce_op="sum"))
    model.train()
    fmodel, foptimizer = fabric.setup(model, optimizer)
    state = _resume(out_dir / CHECKPOINT, model, optimizer, scheduler, sampler, fabric.device)
    loader_generator = torch.Generator()  # worker seeds, kept off the global generator
    loader = fabric.setup_dataloaders(
        DataLoader(
            dataset,
            batch_sampler=sampler,
            collate_fn=collate_fn,
            num_workers=config.num_workers,
            pin_memory=fabric.device.type == "cuda",
            generator=loader_generator,
        ),
        use_distributed_sampler=False,
    )
    return _Session(
        fabric, fmodel, optimizer, foptimizer, scheduler, sampler, loader, loader_generator, state
    )


def _run_steps(
    session: _Session, model: nn.Module, config: TrainConfig, out_dir: Path, progress: bool, mix_key: str
) -> None:
    """Epoch by epoch up to ``config.steps``: reseed, the epoch hook, optimisation steps, logs and
    checkpoints. A resumed run starts inside the epoch of its checkpoint."""
    fabric, sampler, state = session.fabric, session.sampler, session.state
    metrics = MetricsLog(
        out_dir, start_step=state.step, tensorboard=config.tensorboard, enabled=fabric.is_global_zero
    )
    bar = ProgressBar(total=config.steps, done=state.step, enabled=progress and fabric.is_global_zero)
    segment_start, seconds_before = time.perf_counter(), state.seconds
    try:
        while state.step < config.steps:
            epoch, done_in_epoch = divmod(state.step, sampler.steps_per_epoch)
            sampler.set_epoch(epoch, start=done_in_epoch * config.grad_accum)
            session.loader_generator.manual_seed(
                derived_seed(config.seed, _LOADER_STREAM, epoch, fabric.global_rank)
            )
            _reseed(config.seed, state.step, fabric.global_rank)
            if done_in_epoch == 0 and hasattr(model, "on_epoch_start"):
                model.on_epoch_start(epoch, fabric)
                model.train()
            batches = iter(session.loader)
            for _ in range(done_in_epoch, sampler.steps_per_epoch):
                _reseed(config.seed, state.step, fabric.global_rank)
                if hasattr(model, "on_step_start"):
                    model.on_step_start(state.step, fabric)
                    model.train()
                lr = session.scheduler.get_last_lr()[0]
                losses = _optimisation_step(
                    fabric, session.fmodel, session.foptimizer, batches, config, state.step, mix_key
                )
                session.scheduler.step()
                state.step += 1
                state.clips += sampler.samples_per_step
                state.seconds = seconds_before + time.perf_counter() - segment_start
                _accumulate(state, losses)
                if state.step % config.log_every == 0 or state.step == config.steps:
                    _log_window(
                        fabric, state, metrics, bar, epoch=epoch, lr=lr, samples=sampler.samples_per_step
                    )
                bar.update(state.step)
                if state.step % config.checkpoint_every == 0 and state.step < config.steps:
                    _save(
                        fabric,
                        out_dir / CHECKPOINT,
                        model,
                        session.optimizer,
                        session.scheduler,
                        sampler,
                        state,
                        config,
                    )
                if state.step >= config.steps:
                    break
    finally:
        bar.close()
        metrics.close()


def _finish(
    session: _Session, model: nn.Module, out_dir: Path, seconds_before: float, clips_before: int
) -> TrainResult:
    """Write the weights, the summary and ``DONE`` (rank 0), and return the result."""
    state, fabric = session.state, session.fabric
    log.info(
        "trained %d steps (%d clips) in %.1f s",
        state.step,
        state.clips - clips_before,
        state.seconds - seconds_before,
    )
    result = TrainResult(
        step=state.step,
        seconds=state.seconds,
        clips_per_s=state.clips / max(state.seconds, 1e-9),
        losses=state.last_losses,
        weights=out_dir / WEIGHTS,
        resumed_from=state.resumed_from,
    )
    if fabric.is_global_zero:
        save_weights(out_dir / WEIGHTS, model, metadata={"step": str(state.step)})
        summary = asdict(result) | {"weights": WEIGHTS}
        atomic_write_json(out_dir / TRAIN_SUMMARY, summary)
        atomic_write_text(out_dir / DONE, f"trained {state.step} steps\n")
    fabric.barrier()
    return result


def _optimisation_step(
    fabric: Fabric,
    fmodel: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterator[Any],
    config: TrainConfig,
    step: int,
    mix_key: str,
) -> dict[str, torch.Tensor]:
    """Forward/backward ``grad_accum`` micro-batches (gradient sync on the last only), then step.

    Returns the detached means of the loss and its parts over the micro-batches.
    """
    losses: dict[str, torch.Tensor] = {}
    for micro in range(config.grad_accum):
        batch = next(batches)
        if config.mixup_alpha > 0:
            batch = mix_batch(batch, config.mixup_alpha, mix_key)
        with fabric.no_backward_sync(fmodel, enabled=micro < config.grad_accum - 1):
            with fabric.autocast():
                out = fmodel.training_step(batch, step)
            loss = _checked_loss(out, fmodel)
            fabric.backward(loss / config.grad_accum)
        for name, value in out.items():
            if name.startswith("loss") and isinstance(value, torch.Tensor) and value.numel() == 1:
                part = value.detach().float().reshape(()) / config.grad_accum
                losses[name] = losses[name] + part if name in losses else part
    if config.grad_clip_norm > 0:
        fabric.clip_gradients(fmodel, optimizer, max_norm=config.grad_clip_norm, error_if_nonfinite=False)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return losses


def mix_batch(batch: Mapping[str, Any], alpha: float, key: str) -> dict[str, Any]:
    """Mixup within a batch: ``batch[key] = lam * x + (1 - lam) * x[index]``, ``lam ~ Beta(alpha, alpha)``.

    Adds ``"mix_lambda"`` (0-d tensor) and ``"mix_index"`` (the partner of each item) so the model
    can mix its targets the same way. Draws from torch's global generator (reseeded every step).

    Raises
    ------
    ConfigError
        When the batch has no floating-point tensor under ``key``.
    """
    x = batch.get(key) if isinstance(batch, Mapping) else None
    if not (isinstance(x, torch.Tensor) and x.is_floating_point()):
        keys = sorted(batch) if isinstance(batch, Mapping) else type(batch).__name__
        raise ConfigError(
            f"train.mixup_alpha={alpha}: mixup needs a float tensor batch[{key!r}] (the waveforms); "
            f"the batch has {keys}"
        )
    lam = torch.distributions.Beta(alpha, alpha).sample().to(x.device)
    index = torch.randperm(x.shape[0]).to(x.device)
    mixed = lam.to(x.dtype) * x + (1 - lam.to(x.dtype)) * x[index]
    return {**batch, key: mixed, "mix_lambda": lam, "mix_index": index}


def _checked_loss(out: Any, fmodel: nn.Module) -> torch.Tensor:
    loss = out.get("loss") if isinstance(out, Mapping) else None
    if not (isinstance(loss, torch.Tensor) and loss.numel() == 1 and loss.requires_grad):
        name = type(getattr(fmodel, "module", fmodel)).__name__
        raise RunError(
            f"{name}.training_step must return a dict with 'loss', a scalar tensor that requires grad; "
            f"got {type(out).__name__} {sorted(out) if isinstance(out, Mapping) else ''}"
        )
    return loss.reshape(())


def _identity(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


def _reseed(seed: int, step: int, rank: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) from ``(seed, step, rank)``."""
    value = derived_seed(seed, _STEP_STREAM, step, rank)
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)


def _accumulate(state: _Progress, losses: Mapping[str, torch.Tensor]) -> None:
    for name, value in losses.items():
        state.window_sums[name] = state.window_sums[name] + value if name in state.window_sums else value
    state.window_steps += 1


def _log_window(
    fabric: Fabric,
    state: _Progress,
    metrics: MetricsLog,
    bar: ProgressBar,
    *,
    epoch: int,
    lr: float,
    samples: int,
) -> None:
    """Average the window over its steps and processes, check it is finite, write it, reset it."""
    sums = _process_mean(fabric, state.window_sums)
    values = {name: float(total) / state.window_steps for name, total in sums.items()}
    _check_finite(state.step, values)
    elapsed = time.perf_counter() - state.window_start
    rate = state.window_steps * samples / max(elapsed, 1e-9)
    metrics.write({"step": state.step, "epoch": epoch, "lr": lr, **values, "clips_per_s": round(rate, 3)})
    bar.update(state.step, loss=values.get("loss"), clips_per_s=rate)
    state.last_losses = values
    state.window_sums, state.window_steps, state.window_start = {}, 0, time.perf_counter()


def _check_finite(step: int, losses: Mapping[str, float]) -> None:
    """Stop a diverged run before it logs or checkpoints NaN/inf (so the last checkpoint stays usable)."""
    bad = {name: value for name, value in losses.items() if not np.isfinite(value)}
    if bad:
        raise RunError(
            f"step {step}: {bad}: training diverged; lower train.lr or set train.grad_clip_norm "
            "(a resume starts from the last checkpoint)"
        )


def _process_mean(fabric: Fabric, tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``tensors`` (scalars, the same names on every process) averaged over the processes."""
    names = sorted(tensors)
    if fabric.world_size == 1 or not names:
        return dict(tensors)
    means = fabric.all_reduce(torch.stack([tensors[n] for n in names]).to(fabric.device), reduce_op="mean")
    return dict(zip(names, means))


def _save(
    fabric: Fabric,
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    sampler: StepBatchSampler,
    state: _Progress,
    config: TrainConfig,
) -> None:
    """Write the resume checkpoint from rank 0 (all processes hold the same trainable state).

    Called on every process: the partial logging window is averaged over them first, so that the
    resumed run writes the same metrics rows as an uninterrupted one.
    """
    window = _process_mean(fabric, state.window_sums)
    _check_finite(state.step, {name: float(total) for name, total in window.items()})
    if not fabric.is_global_zero:
        return
    save_checkpoint(
        path,
        {
            "format": "sslasd-train-checkpoint",
            "version": 1,
            "step": state.step,
            "epoch": state.step // sampler.steps_per_epoch,
            "model": trainable_state(model),
            "model_extras": model.checkpoint_extras() if hasattr(model, "checkpoint_extras") else {},
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "samples_per_step": sampler.samples_per_step,
            "dataset_size": sampler.n,
            "seconds": state.seconds,
            "clips": state.clips,
            "window": {
                "sums": {k: v.cpu() for k, v in window.items()},
                "steps": state.window_steps,
                "seconds": time.perf_counter() - state.window_start,
            },
            "config": config.model_dump(mode="json"),
        },
    )


def _resume(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    sampler: StepBatchSampler,
    device: torch.device,
) -> _Progress:
    """Load ``path`` into the model, optimiser and schedule when it exists; return the counters."""
    if not path.is_file():
        return _Progress()
    payload = load_checkpoint(path)
    if payload["samples_per_step"] != sampler.samples_per_step or payload["dataset_size"] != sampler.n:
        raise CheckpointError(
            f"{path}: made with {payload['dataset_size']} clips and a global batch of "
            f"{payload['samples_per_step']}; this run has {sampler.n} clips and a global batch of "
            f"{sampler.samples_per_step} (batch_size x grad_accum x processes), so it cannot continue the "
            "same data order; keep those settings or train into a new folder"
        )
    load_trainable_state(model, payload["model"], source=str(path))
    if hasattr(model, "load_checkpoint_extras"):
        model.load_checkpoint_extras(payload.get("model_extras", {}))  # absent in older checkpoints
    try:
        optimizer.load_state_dict(payload["optimizer"])
    except (ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: optimizer state does not fit ({exc})") from exc
    scheduler.load_state_dict(payload["scheduler"])
    log.info("resuming from %s at step %d", path, payload["step"])
    return _Progress(
        step=payload["step"],
        seconds=payload["seconds"],
        clips=payload["clips"],
        resumed_from=payload["step"],
        window_sums={k: v.to(device) for k, v in payload["window"]["sums"].items()},
        window_steps=payload["window"]["steps"],
        window_start=time.perf_counter() - payload["window"]["seconds"],
    )


def _finished(out_dir: Path) -> TrainResult:
    """The result recorded by the finished run in ``out_dir`` (``DONE`` exists)."""
    try:
        summary = json.loads((out_dir / TRAIN_SUMMARY).read_text())
        result = TrainResult(
            step=int(summary["step"]),
            seconds=float(summary["seconds"]),
            clips_per_s=float(summary["clips_per_s"]),
            losses={k: float(v) for k, v in summary["losses"].items()},
            weights=out_dir / WEIGHTS,
            resumed_from=summary["resumed_from"],
            already_done=True,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunError(
            f"{out_dir / DONE} exists but {out_dir / TRAIN_SUMMARY} is missing or damaged ({exc}); "
            f"delete {out_dir / DONE} to train again"
        ) from exc
    log.info("%s: training already done (%d steps), nothing to do", out_dir, result.step)
    return result
