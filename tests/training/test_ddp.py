"""Two DDP processes on the CPU (gloo) train the same weights as one process with the same global batch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _engine_toy import ToyData, build_model

from sslasd.training.checkpoint import load_weights, trainable_state
from sslasd.training.config import TrainConfig
from sslasd.training.loop import train

TOY_SCRIPT = Path(__file__).with_name("_engine_toy.py")
# The EMA buffer enters the loss and is updated from all-reduced batch statistics (set_all_reduce);
# no dropout or mixup, whose draws are per process by design.
MODEL = dict(ema_in_loss=True)
DDP = dict(
    steps=6,
    batch_size=4,
    lr=0.05,
    warmup_steps=1,
    log_every=2,
    checkpoint_every=3,
    tensorboard=False,
    accelerator="cpu",
    devices=2,
    strategy="ddp",
)


@pytest.mark.slow
def test_two_processes_equal_one_process_with_the_same_global_batch(tmp_path: Path) -> None:
    two = tmp_path / "two"
    command = [sys.executable, str(TOY_SCRIPT), str(two), json.dumps(DDP), json.dumps(MODEL)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = build_model(**MODEL)
        single = DDP | dict(devices=1, strategy="auto", batch_size=8)
        train(one, ToyData(), config=TrainConfig(**single), out_dir=tmp_path / "one", progress=False)
    finally:
        torch.set_num_threads(threads)

    from_ddp = build_model(**MODEL)
    load_weights(from_ddp, two / "model.safetensors")
    expected, got = trainable_state(one), trainable_state(from_ddp)
    assert "ema.mean" in got
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-5, atol=1e-6, msg=name)
    assert not torch.equal(got["head.weight"], build_model().head.weight)  # it trained

    ddp_rows = (two / "metrics.csv").read_text().splitlines()
    one_rows = (tmp_path / "one" / "metrics.csv").read_text().splitlines()
    assert len(ddp_rows) == len(one_rows) == 4  # header + steps 2, 4, 6, written once (rank 0)
    for ddp_row, one_row in zip(ddp_rows[1:], one_rows[1:]):
        a, b = ddp_row.split(","), one_row.split(",")
        assert a[:3] == b[:3]  # step, epoch, lr
        assert float(a[3]) == pytest.approx(float(b[3]), rel=1e-5)  # loss: mean over both processes
