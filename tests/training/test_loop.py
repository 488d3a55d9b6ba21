"""The engine on a toy model: against a plain torch loop, data order, logs, mixup, errors, DONE."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from _engine_toy import ToyData, build_model
from pydantic import ValidationError
from torch import nn

from sslasd.errors import ConfigError, DataError, RunError
from sslasd.training.config import TrainConfig
from sslasd.training.loop import mix_batch, train
from sslasd.training.optim import warmup_cosine_factor
from sslasd.training.sampler import StepBatchSampler, derived_seed

N = 40


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny tensors: one thread avoids OpenMP spin-waits on a loaded 2-core machine (10x faster)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _config(**overrides: Any) -> TrainConfig:
    base = dict(
        steps=6, batch_size=4, lr=0.05, warmup_steps=2, weight_decay=0.0, tensorboard=False, log_every=2
    )
    return TrainConfig(**(base | overrides))


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _reference(
    optimizer: str, steps: int, global_batch: int, clip: float, seed: int = 0
) -> dict[str, torch.Tensor]:
    """The same training written as a plain torch loop on one big batch per step (no Fabric)."""
    model = build_model(ema_in_loss=False).train()
    data = ToyData(N)
    params = [p for p in model.parameters() if p.requires_grad]
    lr = 0.05
    opt = (
        torch.optim.SGD(params, lr=lr, momentum=0.9)
        if optimizer == "sgd"
        else torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    )
    per_epoch = N // global_batch
    for step in range(steps):
        epoch, k = divmod(step, per_epoch)
        order = torch.randperm(N, generator=torch.Generator().manual_seed(derived_seed(seed, 0, epoch)))
        index = order[k * global_batch : (k + 1) * global_batch]
        loss = model.training_step({"wave": data.wave[index], "label": data.label[index]}, step)["loss"]
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(params, clip)
        for group in opt.param_groups:
            group["lr"] = lr * warmup_cosine_factor(step, warmup_steps=2, total_steps=steps, min_lr_ratio=0.0)
        opt.step()
        opt.zero_grad()
    return _weights(model)


@pytest.mark.parametrize(
    ("optimizer", "batch_size", "grad_accum", "clip"),
    [("sgd", 8, 1, 0.0), ("sgd", 4, 2, 0.0), ("adamw", 2, 4, 0.0), ("adamw", 4, 2, 0.3)],
)
def test_engine_equals_plain_loop_on_the_global_batch(
    tmp_path: Path, optimizer: str, batch_size: int, grad_accum: int, clip: float
) -> None:
    """Gradient accumulation of micro-batches == one big batch; schedule, order, clipping as the reference."""
    model = build_model(ema_in_loss=False)
    config = _config(optimizer=optimizer, batch_size=batch_size, grad_accum=grad_accum, grad_clip_norm=clip)
    train(model, ToyData(N), config=config, out_dir=tmp_path, progress=False)
    expected = _reference(optimizer, config.steps, batch_size * grad_accum, clip)
    got = _weights(model)
    assert any(not torch.equal(v, build_model().state_dict()[k]) for k, v in got.items())  # it trained
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize(("world_size", "grad_accum"), [(1, 1), (2, 1), (2, 3), (4, 2)])
def test_sampler_splits_each_step_block_over_ranks_and_micro_batches(
    world_size: int, grad_accum: int
) -> None:
    n, batch, seed, epoch = 37, 2, 5, 3
    per_step = batch * grad_accum * world_size
    ranks = []
    for rank in range(world_size):
        sampler = StepBatchSampler(
            n, batch_size=batch, grad_accum=grad_accum, world_size=world_size, rank=rank, seed=seed
        )
        sampler.set_epoch(epoch)
        ranks.append(list(sampler))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(derived_seed(seed, 0, epoch))).tolist()
    assert all(len(r) == (n // per_step) * grad_accum for r in ranks)
    for step in range(n // per_step):
        micro = range(step * grad_accum, (step + 1) * grad_accum)
        clips = sorted(i for r in ranks for m in micro for i in r[m])
        assert clips == sorted(order[step * per_step : (step + 1) * per_step])


def test_sampler_resume_skips_consumed_batches_and_reshuffles_per_epoch() -> None:
    sampler = StepBatchSampler(20, batch_size=3, grad_accum=1, world_size=1, rank=0, seed=1)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_epoch(2, start=4)
    assert list(sampler) == full[4:] and len(sampler) == len(full) - 4
    sampler.set_epoch(3)
    assert list(sampler) != full


def test_sampler_refuses_a_data_set_smaller_than_one_step() -> None:
    with pytest.raises(DataError, match=r"7 clips.*= 8"):
        StepBatchSampler(7, batch_size=4, grad_accum=1, world_size=2, rank=0, seed=0)


def test_metrics_csv_has_one_row_per_window_with_the_schedule(tmp_path: Path) -> None:
    config = _config(steps=7, log_every=3)
    train(build_model(), ToyData(N), config=config, out_dir=tmp_path, progress=False)
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines[0] == "step,epoch,lr,loss,loss_margin,loss_contrastive,loss_vq,clips_per_s"
    rows = [dict(zip(lines[0].split(","), line.split(","))) for line in lines[1:]]
    assert [int(r["step"]) for r in rows] == [3, 6, 7]
    assert [int(r["epoch"]) for r in rows] == [0, 0, 0]
    for row in rows:  # the lr of the row's last step, whose index is step - 1
        factor = warmup_cosine_factor(int(row["step"]) - 1, warmup_steps=2, total_steps=7, min_lr_ratio=0.0)
        assert float(row["lr"]) == pytest.approx(0.05 * factor)
        assert row["loss_contrastive"] == "" and float(row["loss"]) == float(row["loss_margin"]) > 0
        assert float(row["clips_per_s"]) > 0


def test_the_step_hook_runs_before_every_step_in_training_mode(tmp_path: Path) -> None:
    """``on_step_start`` sees every step index once, in order, and training resumes in training mode
    even when the hook switched the model to evaluation (as an embedding pass does)."""
    model, seen = build_model(), []

    def hook(step: int, fabric: Any) -> None:
        seen.append((step, model.training))
        model.eval()

    model.on_step_start = hook
    steps = []
    step_fn = model.training_step
    model.training_step = lambda batch, step: steps.append(model.training) or step_fn(batch, step)
    train(model, ToyData(N), config=_config(steps=7), out_dir=tmp_path, progress=False)
    assert [s for s, _ in seen] == list(range(7)) and all(steps) and len(steps) == 7


def test_done_makes_train_a_noop(tmp_path: Path) -> None:
    first = train(build_model(), ToyData(N), config=_config(), out_dir=tmp_path, progress=False)
    stamp = (tmp_path / "model.safetensors").stat().st_mtime_ns
    fresh = build_model()
    again = train(fresh, ToyData(N), config=_config(steps=50), out_dir=tmp_path, progress=False)
    assert again.already_done and not first.already_done
    assert (again.step, again.losses, again.weights) == (first.step, first.losses, first.weights)
    assert (tmp_path / "model.safetensors").stat().st_mtime_ns == stamp
    assert all(torch.equal(v, build_model().state_dict()[k]) for k, v in fresh.state_dict().items())


def test_mix_batch_mixes_the_waveform_with_a_permutation() -> None:
    torch.manual_seed(3)
    batch = {"wave": torch.randn(5, 4), "label": torch.arange(5)}
    mixed = mix_batch(batch, 0.4, "wave")
    lam, index = mixed["mix_lambda"], mixed["mix_index"]
    assert 0 <= float(lam) <= 1 and sorted(index.tolist()) == list(range(5))
    torch.testing.assert_close(mixed["wave"], lam * batch["wave"] + (1 - lam) * batch["wave"][index])
    assert torch.equal(mixed["label"], batch["label"])
    with pytest.raises(ConfigError, match=r"batch\['audio'\].*\['label', 'wave'\]"):
        mix_batch(batch, 0.4, "audio")


class _Frozen(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(2), requires_grad=False)


class _NoLoss(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(2))

    def training_step(self, batch: dict, step: int) -> dict:
        return {"total": self.w.sum()}


class _Diverges(_NoLoss):
    def training_step(self, batch: dict, step: int) -> dict:
        return {"loss": self.w.sum() * 0 + math.inf}


@pytest.mark.parametrize(
    ("model", "error", "match"),
    [
        (_Frozen(), ConfigError, "_Frozen: no parameter has requires_grad=True"),
        (_NoLoss(), RunError, r"_NoLoss.training_step must return a dict with 'loss'.*\['total'\]"),
        (_Diverges(), RunError, r"step 2: \{'loss': inf\}: training diverged"),
    ],
    ids=["frozen", "no-loss", "diverges"],
)
def test_bad_models_raise_named_errors(tmp_path: Path, model: nn.Module, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        train(model, ToyData(N), config=_config(), out_dir=tmp_path, progress=False)
    assert not (tmp_path / "DONE").exists()


def test_config_is_checked() -> None:
    with pytest.raises(ValidationError, match="warmup_steps=10 must be smaller than steps=10"):
        TrainConfig(steps=10, warmup_steps=10)
    with pytest.raises(ValidationError, match="extra_forbidden"):
        TrainConfig(step=10)
    with pytest.raises(ValidationError, match="devices"):
        TrainConfig(devices=0)
    assert TrainConfig(precision="32").fabric_precision() == "32-true"
    assert TrainConfig(precision="bf16").fabric_precision() == "bf16-mixed"
    assert TrainConfig(precision="auto", accelerator="cpu").fabric_precision() == "32-true"


def test_tensorboard_gets_the_logged_scalars(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(build_model(), ToyData(N), config=_config(tensorboard=True), out_dir=tmp_path, progress=False)
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    loss = events.Scalars("train/loss")
    rows = (tmp_path / "metrics.csv").read_text().splitlines()[1:]
    assert [e.step for e in loss] == [2, 4, 6]
    assert [e.value for e in loss] == pytest.approx([float(r.split(",")[3]) for r in rows])


class _AutocastProbe(nn.Module):
    """Records whether training_step runs under autocast, and in which dtype."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(6, 1)
        self.seen: list[tuple[bool, torch.dtype]] = []

    def training_step(self, batch: dict, step: int) -> dict:
        out = self.layer(batch["wave"].to(self.layer.weight.device))
        self.seen.append((torch.is_autocast_enabled(out.device.type), out.dtype))
        return {"loss": out.float().pow(2).mean()}


@pytest.mark.parametrize(
    ("precision", "expected"), [("32", (False, torch.float32)), ("bf16", (True, torch.bfloat16))]
)
def test_precision_sets_autocast_and_keeps_float32_weights(
    tmp_path: Path, precision: str, expected: tuple[bool, torch.dtype]
) -> None:
    probe = _AutocastProbe()
    train(
        probe,
        ToyData(N),
        config=_config(steps=2, warmup_steps=0, precision=precision),
        out_dir=tmp_path,
        progress=False,
    )
    assert probe.seen == [expected, expected]
    assert probe.layer.weight.dtype == torch.float32


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_auto_precision_is_bf16_on_gpu(tmp_path: Path) -> None:
    probe = _AutocastProbe()
    config = _config(steps=2, warmup_steps=0, accelerator="gpu")
    assert config.fabric_precision() == "bf16-mixed"
    train(probe, ToyData(N), config=config, out_dir=tmp_path, progress=False)
    assert probe.seen == [(True, torch.bfloat16)] * 2
    assert probe.layer.weight.device.type == "cuda"


def test_a_diverged_window_is_never_checkpointed(tmp_path: Path) -> None:
    config = _config(checkpoint_every=1, log_every=5)
    with pytest.raises(RunError, match=r"step 1: \{'loss': inf\}"):
        train(_Diverges(), ToyData(N), config=config, out_dir=tmp_path, progress=False)
    assert not (tmp_path / "checkpoints" / "last.pt").exists()
