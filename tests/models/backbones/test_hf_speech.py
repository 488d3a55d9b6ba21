"""Speech SSL backbones: equality with transformers' own loader, hub formats, padding, hooks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from sslasd.errors import CheckpointError, ConfigError
from sslasd.models.backbones import build_backbone, load_backbone
from sslasd.models.backbones.hf_speech import FAMILIES, PROJECTIONS

FAMILY_NAMES = list(FAMILIES)


def _wave(n: int = 16000, batch: int = 2, seed: int = 0) -> torch.Tensor:
    return 0.1 * torch.randn(batch, n, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_folder_loads_like_transformers(name: str, hf_tiny_folders: dict[str, Path]) -> None:
    """Our strict loader gives exactly the outputs of ``AutoModel.from_pretrained`` on the same folder."""
    from transformers import AutoModel

    reference = AutoModel.from_pretrained(hf_tiny_folders[name], local_files_only=True).eval()
    model = load_backbone(name, hf_tiny_folders[name])
    wave = _wave()
    with torch.no_grad():
        expected = reference(model.preprocess(wave)).last_hidden_state
        torch.testing.assert_close(model.extract(wave), expected, rtol=0, atol=0)
    assert model.dim == 32 and model.extract(wave).shape == (2, 49, 32)


def test_legacy_hub_layout(hf_tiny_folders: dict[str, Path], tmp_path: Path) -> None:
    """A ``pytorch_model.bin`` of a task model (``wav2vec2.`` prefix, CTC head, old weight-norm
    names), as the hub's older wav2vec 2.0 checkpoints are, loads into the same weights."""
    source = hf_tiny_folders["wav2vec2"]
    state = load_file(str(source / "model.safetensors"))
    legacy = {}
    for key, value in state.items():
        key = key.replace("parametrizations.weight.original0", "weight_g").replace(
            "parametrizations.weight.original1", "weight_v"
        )
        legacy[f"wav2vec2.{key}"] = value
    legacy["lm_head.weight"], legacy["lm_head.bias"] = torch.zeros(5, 32), torch.zeros(5)
    folder = tmp_path / "legacy"
    folder.mkdir()
    shutil.copy(source / "config.json", folder / "config.json")
    torch.save(legacy, folder / "pytorch_model.bin")
    (folder / "preprocessor_config.json").write_text(json.dumps({"do_normalize": False}))
    model, reference = load_backbone("wav2vec2", folder), load_backbone("wav2vec2", source)
    assert not model.do_normalize
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0)


@pytest.mark.parametrize("name", ["wav2vec2", "hubert", "wavlm"])
def test_padded_batch_equals_single(name: str, hf_tiny_folders: dict[str, Path]) -> None:
    model = load_backbone(name, hf_tiny_folders[name])
    wave = _wave(16000, seed=1)
    mask = torch.zeros_like(wave, dtype=torch.bool)
    mask[1, 9600:] = True
    with torch.no_grad():
        batch = model.extract(wave, mask)
        single = model.extract(wave[1:, :9600])
    torch.testing.assert_close(batch[1, : single.shape[1]], single[0], atol=1e-5, rtol=1e-5)


def test_preprocess_matches_feature_extractor() -> None:
    from transformers import Wav2Vec2FeatureExtractor

    clips = [
        np.random.default_rng(i).normal(0.3, 2.0, n).astype(np.float32) for i, n in enumerate((8000, 5000))
    ]
    extractor = Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True)
    expected = extractor(clips, sampling_rate=16000, padding=True, return_tensors="pt")
    model = load_backbone("wav2vec2", tiny=True)
    wave = torch.zeros(2, 8000)
    wave[0], wave[1, :5000] = torch.from_numpy(clips[0]), torch.from_numpy(clips[1])
    ours = model.preprocess(wave, expected["attention_mask"] == 0)
    torch.testing.assert_close(ours, expected["input_values"], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_blocks_output_hidden_states_first(name: str) -> None:
    """The documented hook format: a block's output (or its element 0) is ``[B, T, dim]``, and the
    top block's output through the final layer norm is the last hidden state."""
    model = load_backbone(name, tiny=True)
    captured = []
    top = model.blocks()[-1]
    handle = top.register_forward_hook(
        lambda _m, _i, out: captured.append(out[0] if isinstance(out, tuple) else out)
    )
    with torch.no_grad():
        last = model.extract(_wave())
        handle.remove()
        torch.testing.assert_close(model.model.encoder.layer_norm(captured[0]), last)
    modules = dict(model.named_modules())
    names = model.linear_names()
    assert len(names) == len(PROJECTIONS) * len(model.blocks())
    assert all(isinstance(modules[n], torch.nn.Linear) and n.rsplit(".", 1)[-1] in PROJECTIONS for n in names)


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_config_dict_rebuilds(name: str, hf_tiny_folders: dict[str, Path]) -> None:
    model = load_backbone(name, hf_tiny_folders[name])
    rebuilt = build_backbone(name, json.loads(json.dumps(model.config_dict())))
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval().extract(_wave()), model.extract(_wave()), rtol=0, atol=0)


def test_missing_and_unexpected_keys_are_listed(hf_tiny_folders: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    shutil.copytree(hf_tiny_folders["hubert"], folder)
    state = load_file(str(folder / "model.safetensors"))
    state.pop("encoder.layers.1.attention.q_proj.bias")
    state["encoder.layers.1.attention.qq_proj.bias"] = torch.zeros(32)
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError) as info:
        load_backbone("hubert", folder)
    message = str(info.value)
    assert "1 missing: encoder.layers.1.attention.q_proj.bias" in message
    assert "1 unexpected: encoder.layers.1.attention.qq_proj.bias" in message


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda f: load_backbone("wavlm", f["hubert"]), CheckpointError, "model_type 'hubert'"),
        (lambda f: load_backbone("hubert", f["hubert"] / "config.json"), CheckpointError, "no config.json"),
        (lambda f: load_backbone("hubert", f["hubert"], hidden_sise=8), ConfigError, "hidden_sise"),
    ],
)
def test_bad_inputs(call, error: type, words: str, hf_tiny_folders: dict[str, Path]) -> None:
    with pytest.raises(error, match=words):
        call(hf_tiny_folders)


@pytest.mark.slow
def test_import_sslasd_does_not_import_transformers() -> None:
    code = "import sys, sslasd, sslasd.models.backbones; print('transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
