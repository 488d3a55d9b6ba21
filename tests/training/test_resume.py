"""Checkpoints hold the trainable state only, and a killed run resumes to the uninterrupted result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch
from _engine_toy import ToyData, build_model
from torch import nn

from sslasd.errors import CheckpointError
from sslasd.training.checkpoint import load_checkpoint, load_trainable_state, load_weights, trainable_state
from sslasd.training.config import TrainConfig
from sslasd.training.loop import train

TOY_SCRIPT = Path(__file__).with_name("_engine_toy.py")
# 40 clips, global batch 4 x 2 = 8: 5 steps per epoch, so 12 steps cross two epoch boundaries.
# Mixup and dropout make every step draw random numbers that a resume must replay.
CONFIG = dict(
    steps=12,
    batch_size=4,
    grad_accum=2,
    lr=0.05,
    warmup_steps=2,
    mixup_alpha=0.4,
    log_every=2,
    checkpoint_every=3,
    tensorboard=False,
)
MODEL = dict(dropout=0.2)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny tensors: one thread avoids OpenMP spin-waits on a loaded 2-core machine (10x faster)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[nn.Module, Path]:
    """Run A: the reference, trained in one go."""
    out = tmp_path_factory.mktemp("uninterrupted")
    torch.set_num_threads(1)
    model = build_model(**MODEL)
    train(model, ToyData(), config=TrainConfig(**CONFIG), out_dir=out, progress=False)
    return model, out


def _assert_same_run(model: nn.Module, out: Path, reference: tuple[nn.Module, Path]) -> None:
    ref_model, ref_out = reference
    got, expected = model.state_dict(), ref_model.state_dict()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-6, atol=1e-7, msg=name)
    assert int(model.epochs_seen) == 3  # epochs 0, 1, 2 each started once
    # the record that is not tensors covers the whole run, not only the part after the resume
    assert [j["step"] for j in model.jolts] == [3, 6, 9]
    sizes = [j["size"] for j in model.jolts]
    assert sizes == pytest.approx([j["size"] for j in ref_model.jolts], rel=1e-6)
    rows, ref_rows = _rows(out / "metrics.csv"), _rows(ref_out / "metrics.csv")
    assert [r[:3] for r in rows] == [r[:3] for r in ref_rows]  # step, epoch, lr
    losses = [v for r in rows for v in r[3:7]]
    assert losses == pytest.approx([v for r in ref_rows for v in r[3:7]], rel=1e-6)
    saved = safetensors.torch.load_file(str(out / "model.safetensors"))
    assert saved.keys() == trainable_state(model).keys()


def _rows(path: Path) -> list[list[float]]:
    lines = path.read_text().splitlines()[1:]
    return [[float(cell) if cell else 0.0 for cell in line.split(",")] for line in lines]


def test_checkpoint_holds_trainable_state_only(tmp_path: Path) -> None:
    model = build_model(batch_norm=True)
    frozen_before = {k: v.clone() for k, v in model.frozen.state_dict().items()}
    config = TrainConfig(**(CONFIG | dict(steps=4, checkpoint_every=2)))
    train(model, ToyData(), config=config, out_dir=tmp_path, progress=False)
    expected = {
        *("adapter.weight", "adapter.bias", "head.weight", "head.bias", "norm.weight", "norm.bias"),
        *("norm.running_mean", "norm.running_var", "norm.num_batches_tracked"),  # trainable module's buffers
        *("ema.mean", "epochs_seen"),  # listed by checkpoint_buffers()
    }
    payload = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert payload["step"] == 2 and set(payload["model"]) == expected
    saved = safetensors.torch.load_file(str(tmp_path / "model.safetensors"))
    assert set(saved) == expected
    final = model.state_dict()
    for name in expected:
        assert torch.equal(saved[name], final[name]), name
    for name, value in model.frozen.state_dict().items():  # frozen weights: untouched, never written
        assert torch.equal(value, frozen_before[name]), name
    fresh = build_model(batch_norm=True)
    load_weights(fresh, tmp_path / "model.safetensors")
    assert all(torch.equal(v, final[k]) for k, v in fresh.state_dict().items())


@pytest.mark.parametrize("every", [3, 5], ids=["mid-epoch", "epoch-boundary"])
def test_resume_after_a_crash_equals_uninterrupted(
    tmp_path: Path, every: int, uninterrupted: tuple[nn.Module, Path]
) -> None:
    config = TrainConfig(**(CONFIG | dict(checkpoint_every=every)))
    with pytest.raises(RuntimeError, match="toy: stopped at step 7"):
        train(
            build_model(**MODEL, fail_at_step=7), ToyData(), config=config, out_dir=tmp_path, progress=False
        )
    assert load_checkpoint(tmp_path / "checkpoints" / "last.pt")["step"] == (6 if every == 3 else 5)
    model = build_model(**MODEL)
    result = train(model, ToyData(), config=config, out_dir=tmp_path, progress=False)
    assert result.resumed_from == (6 if every == 3 else 5) and result.step == 12
    _assert_same_run(model, tmp_path, uninterrupted)


@pytest.mark.slow
def test_resume_after_sigkill_equals_uninterrupted(
    tmp_path: Path, uninterrupted: tuple[nn.Module, Path]
) -> None:
    """A real kill -9 of a training process once its first checkpoint is on disk, then ``train`` again."""
    slow_model = MODEL | dict(sleep=0.15)  # 0.3 s a step: the kill lands long before the end
    command = [sys.executable, str(TOY_SCRIPT), str(tmp_path), json.dumps(CONFIG), json.dumps(slow_model)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoint = tmp_path / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    _, stderr = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, stderr.decode()[-2000:]
    killed_at = load_checkpoint(checkpoint)["step"]
    assert killed_at < CONFIG["steps"] and not (tmp_path / "DONE").exists()

    model = build_model(**MODEL)
    result = train(model, ToyData(), config=TrainConfig(**CONFIG), out_dir=tmp_path, progress=False)
    assert result.resumed_from == killed_at
    _assert_same_run(model, tmp_path, uninterrupted)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (dict(batch_size=2), r"global batch of 8; this run has 40 clips and a global batch of 4"),
        (dict(n=48), r"made with 40 clips .* this run has 48 clips"),
        (dict(model=dict(batch_norm=True)), r"missing norm.num_batches_tracked, norm.running_mean"),
    ],
    ids=["batch", "data", "model"],
)
def test_resume_refuses_a_checkpoint_of_another_setup(
    tmp_path: Path, change: dict[str, Any], match: str
) -> None:
    config = TrainConfig(**(CONFIG | dict(steps=4, checkpoint_every=2)))
    with pytest.raises(RuntimeError):
        train(build_model(fail_at_step=3), ToyData(), config=config, out_dir=tmp_path, progress=False)
    config = config.model_copy(update={k: v for k, v in change.items() if k in CONFIG})
    model = build_model(**change.get("model", {}))
    with pytest.raises(CheckpointError, match=match):
        train(model, ToyData(change.get("n", 40)), config=config, out_dir=tmp_path, progress=False)


def test_unreadable_or_foreign_files_raise_checkpoint_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "last.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"last\.pt: not a readable training checkpoint"):
        load_checkpoint(garbage)
    torch.save({"weights": torch.zeros(1)}, garbage)
    with pytest.raises(CheckpointError, match="not an sslasd training checkpoint"):
        load_checkpoint(garbage)
    with pytest.raises(CheckpointError, match="trained weights not found"):
        load_weights(build_model(), tmp_path / "absent.safetensors")
    state = trainable_state(build_model())
    state["head.weight"] = torch.zeros(5, 5)
    with pytest.raises(CheckpointError, match=r"x.pt: shapes differ .*head.weight \(5, 5\) vs \(3, 8\)"):
        load_trainable_state(build_model(), state, source="x.pt")


def test_checkpoint_buffers_must_exist() -> None:
    model = build_model()
    model.checkpoint_buffers = lambda: ["ema.mean", "ema.missing"]
    with pytest.raises(CheckpointError, match=r"checkpoint_buffers\(\) names \['ema.missing'\]"):
        trainable_state(model)


class _Payload:
    """A Python object a poisoned checkpoint would carry (never constructed by loading)."""


def test_a_poisoned_resume_checkpoint_is_refused_without_advising_to_unpickle(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    torch.save({"format": "sslasd-train-checkpoint", "hook": _Payload()}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "_Payload" in message and "weights_only=False" not in message and "\n" not in message
