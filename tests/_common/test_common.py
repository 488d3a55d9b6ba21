"""Atomic writes, hashing, device/precision choice."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from sslasd._common import (
    atomic_write_json,
    atomic_write_text,
    atomic_writer,
    autocast_dtype,
    inference_dtype,
    resolve_device,
    sha256_file,
    sslasd_home,
)
from sslasd.errors import ConfigError


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "out.json"
    atomic_write_json(path, {"a": 1, "b": [1.5]})
    assert json.loads(path.read_text()) == {"a": 1, "b": [1.5]}
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert [p.name for p in path.parent.iterdir()] == ["out.json"]
    assert path.stat().st_mode & 0o644 == 0o644  # readable like any file, not mkstemp's 0600


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_writer(path) as f:
        f.write("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_sha256_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    data = bytes(range(256)) * 5000
    path.write_bytes(data)
    assert sha256_file(path, chunk_size=1000) == hashlib.sha256(data).hexdigest()


def test_devices_and_precision() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="not a torch device"):
        resolve_device("gpu-please")
    cpu = torch.device("cpu")
    assert autocast_dtype(cpu, "auto") is None
    assert autocast_dtype(cpu, "bf16") is torch.bfloat16
    with pytest.raises(ConfigError, match="precision"):
        autocast_dtype(cpu, "fp8")


@pytest.mark.parametrize("native", [False, True])
def test_bf16_on_a_cpu_without_native_bf16_warns_but_runs(
    native: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("sslasd._common.device.cpu_has_native_bf16", lambda: native)
    cpu = torch.device("cpu")
    with caplog.at_level("WARNING", logger="sslasd"):
        assert inference_dtype(cpu, "bf16") is torch.bfloat16
        assert inference_dtype(cpu, "auto") is None and inference_dtype(cpu, "32") is None
    warned = [r.getMessage() for r in caplog.records if "no native bf16" in r.getMessage()]
    assert len(warned) == (0 if native else 1), warned
    with pytest.raises(ConfigError, match="precision: 'fp8'"):
        inference_dtype(cpu, "fp8")


def test_home_follows_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SSLASD_HOME", str(tmp_path))
    assert sslasd_home() == tmp_path
    monkeypatch.delenv("SSLASD_HOME")
    assert sslasd_home() == Path.home() / ".cache" / "sslasd"


def test_a_held_step_lock_makes_the_second_caller_wait_and_say_so(tmp_path) -> None:
    import threading
    import time

    from sslasd._common import step_lock

    lock = tmp_path / "scores" / ".data.lock"
    order: list[str] = []
    holding = threading.Event()

    def first() -> None:
        with step_lock(lock):
            holding.set()
            time.sleep(0.3)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    holding.wait()
    with step_lock(lock, on_wait=lambda: order.append("waiting")):
        order.append("second runs")
    thread.join()
    assert order == ["waiting", "first done", "second runs"]
    with step_lock(lock, on_wait=lambda: order.append("never")):  # free: no wait
        pass
    assert "never" not in order
