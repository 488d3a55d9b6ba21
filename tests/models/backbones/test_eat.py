"""EAT: fairseq and Hugging Face layouts, strict loading, the front end and padding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from sslasd.errors import CheckpointError, ConfigError, DataError
from sslasd.features import fbank
from sslasd.models.backbones import load_backbone
from sslasd.models.backbones._eat_blocks import EatAttention, sincos_positions
from sslasd.models.backbones.eat import EatBackbone, EatConfig, load

# The port's key names (worstchan/EAT-base_epoch30_pretrain: EATModel.model = EAT(config)).
HF_TOP_KEYS = {
    "model.local_encoder.proj.weight",
    "model.local_encoder.proj.bias",
    "model.extra_tokens",
    "model.fixed_positional_encoder.positions",
    "model.pre_norm.weight",
    "model.pre_norm.bias",
}


def _wave(batch: int = 2, samples: int = 16000, seed: int = 0) -> torch.Tensor:
    return 0.1 * torch.randn(batch, samples, generator=torch.Generator().manual_seed(seed))


def test_base_and_large_configs() -> None:
    base, large = EatConfig(), EatConfig.large()
    assert (base.embed_dim, base.depth, base.num_heads, base.target_length) == (768, 12, 12, 1024)
    assert (large.embed_dim, large.depth, large.num_heads) == (1024, 24, 16)
    assert (base.norm_mean, base.norm_std, base.norm_eps) == (-4.268, 4.569, 1e-6)


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"num_heads": 5}, ["num_heads=5"]),
        ({"patch_size": 24}, ["patch_size=24"]),
        ({"target_length": 4096}, ["target_length=4096"]),
        ({"layerdrop": 1.0, "norm_std": -1.0}, ["layerdrop=1.0", "norm_std=-1.0"]),
        ({"target_length": 0}, ["target_length=0"]),
    ],
)
def test_validate_names_every_bad_field(overrides: dict, names: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        EatConfig.tiny(**overrides)
    assert all(name in str(info.value) for name in names), str(info.value)


def test_both_official_layouts_reload_with_identical_outputs(eat_tiny_checkpoints: dict[str, Path]) -> None:
    fairseq = load_backbone("eat", eat_tiny_checkpoints["fairseq"])
    hf = load_backbone("eat", eat_tiny_checkpoints["hf"])
    stored = torch.load(eat_tiny_checkpoints["fairseq"], weights_only=True)
    assert stored["cfg"]["model"]["modalities"]["image"]["patch_size"] == 16
    for key, value in fairseq.state_dict().items():
        assert torch.equal(value, stored["model"][key]), key
    wave = _wave()
    with torch.no_grad():
        torch.testing.assert_close(hf.extract(wave), fairseq.extract(wave), rtol=0, atol=0)
    assert fairseq.config == hf.config == EatConfig.tiny()


def test_hf_layout_uses_the_ports_key_names(eat_tiny_checkpoints: dict[str, Path]) -> None:
    folder = eat_tiny_checkpoints["hf"]
    keys = set(load_file(folder / "model.safetensors"))
    blocks = {k for k in keys if k.startswith("model.blocks.")}
    assert keys - blocks == HF_TOP_KEYS
    assert "model.blocks.1.attn.qkv.weight" in blocks and "model.blocks.1.mlp.fc2.bias" in blocks
    config = json.loads((folder / "config.json").read_text())
    assert (config["model_type"], config["img_size"], config["mel_bins"]) == ("eat", [128, 128], 128)


def test_pretraining_entries_are_skipped(eat_tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    """A real pre-training file also holds the EMA teacher and the CNN decoder."""
    stored = torch.load(eat_tiny_checkpoints["fairseq"], weights_only=True)
    stored["model"]["_ema"] = {"blocks.0.norm1.weight": torch.ones(32)}
    stored["model"]["modality_encoders.IMAGE.decoder.blocks.0.0.weight"] = torch.zeros(4, 4)
    path = tmp_path / "pretraining.pt"
    torch.save(stored, path)
    wave = _wave()
    with torch.no_grad():
        torch.testing.assert_close(
            load("eat", path).extract(wave), load("eat", eat_tiny_checkpoints["fairseq"]).extract(wave)
        )


def test_key_mismatch_lists_missing_unexpected_and_mismatched(
    eat_tiny_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text((eat_tiny_checkpoints["hf"] / "config.json").read_text())
    weights = load_file(eat_tiny_checkpoints["hf"] / "model.safetensors")
    del weights["model.blocks.1.mlp.fc1.weight"]
    weights["model.unknown.weight"] = torch.zeros(2)
    weights["model.pre_norm.bias"] = torch.zeros(7)
    save_file(weights, folder / "model.safetensors")
    with pytest.raises(CheckpointError) as info:
        load("eat", folder)
    message = str(info.value)
    assert "missing: blocks.1.mlp.fc1.weight" in message
    assert "unexpected: model.unknown.weight" in message
    assert "modality_encoders.IMAGE.context_encoder.norm.bias (file (7,) vs model (32,))" in message


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda cfg: cfg["model"].update(layer_norm_first=True), "model.layer_norm_first=True"),
        (lambda cfg: cfg["model"]["modalities"]["image"].update(prenet_depth=4), "prenet_depth=4"),
        (lambda cfg: cfg.pop("model"), "no 'cfg' dict with a 'model' entry"),
    ],
)
def test_unsupported_fairseq_variants(
    eat_tiny_checkpoints: dict[str, Path], tmp_path: Path, change, match
) -> None:
    stored = torch.load(eat_tiny_checkpoints["fairseq"], weights_only=True)
    change(stored["cfg"])
    path = tmp_path / "variant.pt"
    torch.save(stored, path)
    with pytest.raises(CheckpointError, match=match):
        load("eat", path)


def test_hf_folder_needs_config_json(tmp_path: Path, eat_tiny_checkpoints: dict[str, Path]) -> None:
    folder = tmp_path / "no_config"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(
        (eat_tiny_checkpoints["hf"] / "model.safetensors").read_bytes()
    )
    with pytest.raises(CheckpointError, match=r"config\.json"):
        load("eat", folder)


def _mae_sincos(dim: int, rows: int, cols: int) -> np.ndarray:
    """MAE's get_2d_sincos_pos_embed_flexible written out from its definition (meshgrid w first),
    in float64: the exact table that the float32 one approximates."""
    grid = np.stack(np.meshgrid(np.arange(cols, dtype=np.float64), np.arange(rows, dtype=np.float64)))

    def one_d(d: int, pos: np.ndarray) -> np.ndarray:
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    return np.concatenate([one_d(dim // 2, grid[0]), one_d(dim // 2, grid[1])], axis=1)


@pytest.mark.parametrize(("dim", "rows", "cols"), [(32, 8, 8), (768, 64, 8)])
def test_sincos_table_matches_mae(dim: int, rows: int, cols: int) -> None:
    """The table is computed in float32, as MAE does. Its angles ``p * w`` reach ``p_max =
    max(rows, cols) - 1`` and are rounded to float32 (half an ulp, ``p_max * eps / 2``), and ``w``
    itself carries a few ulp (``pow`` differs by one ulp between numpy and torch); sin and cos
    have slope <= 1, so the table is off by a few ``eps * p_max`` (measured: 0.5): 4 is allowed."""
    table = sincos_positions(dim, rows, cols).numpy()
    assert table.dtype == np.float32
    atol = 4 * np.finfo(np.float32).eps * (max(rows, cols) - 1)
    np.testing.assert_allclose(table, _mae_sincos(dim, rows, cols), rtol=0, atol=atol)


@pytest.mark.parametrize("padded", [False, True])
def test_fused_attention_equals_explicit_softmax(padded: bool) -> None:
    torch.manual_seed(0)
    attn = EatAttention(EatConfig.tiny()).eval()
    x = torch.randn(2, 17, 32)
    mask = torch.zeros(2, 17, dtype=torch.bool)
    mask[1, 10:] = padded
    qkv = attn.qkv(x).view(2, 17, 3, 4, 8).permute(2, 0, 3, 1, 4)
    scores = (qkv[0] * 8**-0.5) @ qkv[1].transpose(-2, -1)
    scores = scores.masked_fill(mask[:, None, None, :], float("-inf"))
    reference = attn.proj((scores.softmax(-1) @ qkv[2]).transpose(1, 2).reshape(2, 17, 32))
    with torch.no_grad():
        torch.testing.assert_close(attn(x, mask if padded else None), reference.detach(), rtol=0, atol=1e-5)


@pytest.mark.parametrize(("samples", "frames"), [(16000, 98), (24000, 148)])
def test_preprocess_pads_or_cuts_to_target_length(samples: int, frames: int) -> None:
    model = EatBackbone(EatConfig.tiny())  # target_length = 128
    wave = _wave(samples=samples)
    mel = fbank(wave - wave.mean(dim=1, keepdim=True), window="hanning")
    padded = torch.zeros(2, max(frames, 128), 128)
    padded[:, :frames] = mel
    expected = (padded[:, :128] + 4.268) / (2 * 4.569)
    torch.testing.assert_close(model.preprocess(wave), expected, rtol=0, atol=1e-6)


def test_free_length_pads_to_whole_patches_and_refuses_too_long() -> None:
    model = EatBackbone(EatConfig.tiny(target_length=None))
    assert model.preprocess(_wave(samples=16000)).shape == (2, 112, 128)  # 98 frames -> 7 patches
    with pytest.raises(DataError, match="max_length=32"):
        model.extract(_wave(batch=1, samples=16000 * 6))


def test_padded_batch_equals_each_clip_alone(eat_tiny_checkpoints: dict[str, Path]) -> None:
    model = load("eat", eat_tiny_checkpoints["fairseq"])
    lengths = [20000, 12000, 5000]
    wave = _wave(batch=3, samples=20000)
    mask = torch.arange(20000)[None, :] >= torch.tensor(lengths)[:, None]
    wave = wave.masked_fill(mask, 0.0)
    with torch.no_grad():
        batch = model.extract(wave, mask)
        for i, n in enumerate(lengths):
            torch.testing.assert_close(
                batch[i : i + 1], model.extract(wave[i : i + 1, :n]), rtol=0, atol=2e-5
            )


def test_extract_is_encode_of_preprocess_without_the_cls_token() -> None:
    model = load("eat", tiny=True)
    wave = _wave()
    with torch.no_grad():
        tokens = model.encode_tokens(model.preprocess(wave))
        assert tokens.shape == (2, 1 + 8 * 8, 32)
        torch.testing.assert_close(model.extract(wave), tokens[:, 1:], rtol=0, atol=0)


def test_blocks_and_linear_names() -> None:
    model = load("eat", tiny=True)
    blocks = model.blocks()
    assert len(blocks) == 2 and all(isinstance(b(torch.zeros(1, 5, 32)), torch.Tensor) for b in blocks)
    names = model.linear_names()
    assert names[:4] == ["blocks.0.attn.qkv", "blocks.0.attn.proj", "blocks.0.mlp.fc1", "blocks.0.mlp.fc2"]
    assert len(names) == 8
    modules = dict(model.named_modules())
    assert all(isinstance(modules[n], nn.Linear) for n in names)


def test_argument_errors(eat_tiny_checkpoints: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="tiny=True"):
        load("eat", eat_tiny_checkpoints["fairseq"], tiny=True)
    with pytest.raises(ConfigError, match=r"unknown keys.*'bogus'"):
        load("eat", eat_tiny_checkpoints["fairseq"], bogus=1)
    assert load("eat", eat_tiny_checkpoints["hf"], target_length=None).config.target_length is None
    with pytest.raises(DataError, match="padding_mask"):
        load("eat", tiny=True).extract(_wave(), torch.zeros(3, 16000, dtype=torch.bool))


@pytest.mark.gpu
def test_cuda_matches_cpu() -> None:
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    model = load("eat", tiny=True)
    with torch.no_grad():
        reference = model.extract(_wave())
        torch.testing.assert_close(model.cuda().extract(_wave().cuda()).cpu(), reference, rtol=0, atol=1e-4)
