"""BEATs: official checkpoint format, strict loading, the attention fast path and the front end."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from sslasd.errors import CheckpointError, ConfigError, DataError
from sslasd.features import fbank
from sslasd.models.backbones import load_backbone
from sslasd.models.backbones._beats_encoder import BeatsAttention, BeatsGradMultiply
from sslasd.models.backbones.beats import BeatsBackbone, BeatsConfig, load, save_beats_checkpoint

# The cfg stored in the official iter3 checkpoints (microsoft/unilm beats/, BEATs_iter3*.pt).
ITER3_CFG = {
    "input_patch_size": 16,
    "embed_dim": 512,
    "conv_bias": False,
    "encoder_layers": 12,
    "encoder_embed_dim": 768,
    "encoder_ffn_embed_dim": 3072,
    "encoder_attention_heads": 12,
    "activation_fn": "gelu",
    "layer_wise_gradient_decay_ratio": 0.6,
    "layer_norm_first": False,
    "deep_norm": True,
    "conv_pos": 128,
    "conv_pos_groups": 16,
    "relative_position_embedding": True,
    "num_buckets": 320,
    "max_distance": 800,
    "gru_rel_pos": True,
    "finetuned_model": False,
}


def _wave(batch: int = 2, samples: int = 16000, seed: int = 0) -> torch.Tensor:
    return 0.1 * torch.randn(batch, samples, generator=torch.Generator().manual_seed(seed))


def test_defaults_are_the_iter3_checkpoint_config() -> None:
    config = BeatsConfig().to_dict()
    assert {k: config[k] for k in ITER3_CFG} == ITER3_CFG
    assert (config["fbank_mean"], config["fbank_std"]) == (15.41663, 6.55582)


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"encoder_attention_heads": 5}, ["encoder_attention_heads=5"]),
        ({"activation_fn": "glu", "dropout": 1.0}, ["activation_fn='glu'", "dropout=1.0"]),
        ({"layer_norm_first": True}, ["deep_norm=True with layer_norm_first=True"]),
        ({"num_buckets": 2}, ["num_buckets=2"]),
        ({"encoder_layers": 0, "fbank_std": 0.0}, ["encoder_layers=0", "fbank_std=0.0"]),
    ],
)
def test_validate_names_every_bad_field(overrides: dict, names: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        BeatsConfig.tiny(**overrides)
    assert all(name in str(info.value) for name in names), str(info.value)


def test_unknown_config_keys() -> None:
    with pytest.raises(ConfigError, match=r"unknown keys.*'bogus'"):
        BeatsConfig.from_dict({"bogus": 1})
    assert BeatsConfig.from_dict({"bogus": 1}, ignore_unknown=True) == BeatsConfig()


@pytest.mark.parametrize("kind", ["pretrained", "finetuned"])
def test_official_file_reloads_with_identical_outputs(
    beats_tiny_checkpoints: dict[str, Path], kind: str
) -> None:
    path = beats_tiny_checkpoints[kind]
    stored = torch.load(path, weights_only=True)
    assert set(stored) == {"cfg", "model"} and isinstance(stored["cfg"], dict)
    model = load_backbone("beats", path)
    assert not model.training and model.config.finetuned_model == (kind == "finetuned")
    for key, value in model.state_dict().items():
        assert torch.equal(value, stored["model"][key]), key
    resaved = save_beats_checkpoint(model, path.with_name(f"again_{kind}.pt"))
    again = load("beats", resaved)
    wave = _wave()
    with torch.no_grad():
        torch.testing.assert_close(again.extract(wave), model.extract(wave), rtol=0, atol=0)
        if kind == "finetuned":
            assert model.logits(wave).shape == (2, 5)
            torch.testing.assert_close(again.logits(wave), model.logits(wave), rtol=0, atol=0)


def test_state_dict_keys_are_the_official_ones(beats_tiny_checkpoints: dict[str, Path]) -> None:
    keys = set(torch.load(beats_tiny_checkpoints["finetuned"], weights_only=True)["model"])
    expected_layer = {
        "self_attn.relative_attention_bias.weight",  # shared, but stored under every layer
        "self_attn.grep_a",
        "self_attn.grep_linear.weight",
        "self_attn.grep_linear.bias",
        *(f"self_attn.{p}_proj.{w}" for p in "qkv" for w in ("weight", "bias")),
        "self_attn.out_proj.weight",
        "self_attn.out_proj.bias",
        *(
            f"{n}.{w}"
            for n in ("self_attn_layer_norm", "fc1", "fc2", "final_layer_norm")
            for w in ("weight", "bias")
        ),
    }
    expected = {f"encoder.layers.{i}.{k}" for i in range(2) for k in expected_layer} | {
        "post_extract_proj.weight",
        "post_extract_proj.bias",
        "patch_embedding.weight",
        "layer_norm.weight",
        "layer_norm.bias",
        "encoder.pos_conv.0.weight_g",
        "encoder.pos_conv.0.weight_v",
        "encoder.pos_conv.0.bias",
        "encoder.layer_norm.weight",
        "encoder.layer_norm.bias",
        "predictor.weight",
        "predictor.bias",
    }
    assert keys == expected


def test_logits_need_a_finetuned_checkpoint(beats_tiny_checkpoints: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="fine-tuned"):
        load("beats", beats_tiny_checkpoints["pretrained"]).logits(_wave())


def _tampered(path: Path, tmp_path: Path, change) -> Path:
    stored = torch.load(path, weights_only=True)
    change(stored)
    out = tmp_path / "tampered.pt"
    torch.save(stored, out)
    return out


def test_key_mismatch_lists_missing_unexpected_and_mismatched(
    beats_tiny_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    def change(stored: dict) -> None:
        weights = stored["model"]
        del weights["encoder.layers.1.fc2.bias"]
        weights["encoder.extra.weight"] = torch.zeros(1)
        weights["layer_norm.weight"] = torch.zeros(3)

    with pytest.raises(CheckpointError) as info:
        load("beats", _tampered(beats_tiny_checkpoints["pretrained"], tmp_path, change))
    message = str(info.value)
    assert "missing: encoder.layers.1.fc2.bias" in message
    assert "unexpected: encoder.extra.weight" in message
    assert "layer_norm.weight (file (3,) vs model (16,))" in message


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda s: s.pop("cfg"), CheckpointError, "expected a dict with 'cfg'"),
        (lambda s: s["cfg"].update(encoder_layers=3), CheckpointError, "missing: encoder.layers.2"),
        (lambda s: s["cfg"].update(encoder_attention_heads=3), ConfigError, "encoder_attention_heads=3"),
    ],
)
def test_bad_official_files(
    beats_tiny_checkpoints: dict[str, Path], tmp_path: Path, change, error, match
) -> None:
    with pytest.raises(error, match=match):
        load("beats", _tampered(beats_tiny_checkpoints["pretrained"], tmp_path, change))


def test_overrides_and_argument_errors(beats_tiny_checkpoints: dict[str, Path]) -> None:
    path = beats_tiny_checkpoints["pretrained"]
    assert load("beats", path, encoder_layerdrop=0.0, dropout=0.1).config.dropout == 0.1
    with pytest.raises(ConfigError, match=r"unknown keys.*'nonsense'"):
        load("beats", path, nonsense=1)
    with pytest.raises(ConfigError, match="tiny=True"):
        load("beats", path, tiny=True)
    with pytest.raises(ConfigError, match="not 'eat'"):
        load("eat", path)


def test_missing_file_points_to_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSLASD_HOME", str(tmp_path))
    with pytest.raises(CheckpointError, match="sslasd download"):
        load_backbone("beats", "BEATs_iter3_plus_AS2M.pt")


def _explicit_original_attention(
    attn: BeatsAttention, x: torch.Tensor, padding: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """microsoft/unilm's MultiheadAttention arithmetic, time-first, with explicit bmm and softmax."""
    length, batch, dim = x.shape
    heads, head_dim, alpha = attn.num_heads, attn.head_dim, 32
    scaling = head_dim**-0.5
    q = attn.q_proj(x) * scaling / alpha
    k, v = attn.k_proj(x), attn.v_proj(x)
    q, k, v = (t.contiguous().view(length, batch * heads, head_dim).transpose(0, 1) for t in (q, k, v))
    weights = torch.bmm(q, k.transpose(1, 2))
    weights = (weights - weights.max(dim=-1, keepdim=True)[0]) * alpha
    weights = weights.view(batch, heads, length, length).masked_fill(padding[:, None, None, :], float("-inf"))
    weights = weights.view(batch * heads, length, length)
    query = q.view(batch, heads, length, head_dim) * alpha / scaling
    gates = torch.sigmoid(attn.grep_linear(query).view(batch, heads, length, 2, 4).sum(-1))
    gate_a, gate_b = gates.chunk(2, dim=-1)
    gate = gate_a * (gate_b * attn.grep_a - 1.0) + 2.0
    position_bias = bias.unsqueeze(0).repeat(batch, 1, 1, 1).view(batch * heads, length, length)
    weights = weights + gate.view(batch * heads, length, 1) * position_bias
    context = torch.bmm(torch.softmax(weights, dim=-1), v)
    return attn.out_proj(context.transpose(0, 1).contiguous().view(length, batch, dim))


def test_fused_attention_equals_the_explicit_original_formula() -> None:
    torch.manual_seed(0)
    attn = BeatsAttention(BeatsConfig.tiny(), has_relative_attention_bias=True).eval()
    with torch.no_grad():
        attn.grep_a.uniform_(0.5, 1.5)
        attn.relative_attention_bias.weight.normal_(0, 1)
    x = torch.randn(3, 40, 32)
    padding = torch.zeros(3, 40, dtype=torch.bool)
    padding[1, 30:] = True
    padding[2, 5:] = True
    bias = attn.compute_bias(40)
    with torch.no_grad():
        ours = attn(x, padding, bias)
        reference = _explicit_original_attention(attn, x.transpose(0, 1), padding, bias).transpose(0, 1)
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-5)


def _brute_force_bucket(relative: int, num_buckets: int, max_distance: int) -> int:
    half = num_buckets // 2
    bucket = half if relative > 0 else 0
    distance, max_exact = abs(relative), half // 2
    if distance < max_exact:
        return bucket + distance
    large = max_exact + int(
        math.log(distance / max_exact) / math.log(max_distance / max_exact) * (half - max_exact)
    )
    return bucket + min(large, half - 1)


@pytest.mark.parametrize(("num_buckets", "max_distance"), [(320, 800), (32, 64)])
def test_relative_position_buckets_against_brute_force(num_buckets: int, max_distance: int) -> None:
    config = BeatsConfig.tiny(num_buckets=num_buckets, max_distance=max_distance)
    attn = BeatsAttention(config, has_relative_attention_bias=True)
    relative = torch.arange(-1500, 1501)
    expected = [_brute_force_bucket(int(r), num_buckets, max_distance) for r in relative]
    assert attn._bucket(relative).tolist() == expected


def test_bias_is_shared_by_all_layers() -> None:
    model = BeatsBackbone(BeatsConfig.tiny(encoder_layers=3))
    tables = {id(layer.self_attn.relative_attention_bias) for layer in model.encoder.layers}
    assert len(tables) == 1


@pytest.mark.real_data
def test_preprocess_matches_torchaudio_reference(shared_dir: Path) -> None:
    path = shared_dir / "fixtures" / "kaldi_fbank_reference.npz"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    ref = np.load(path)
    model = load("beats", tiny=True)
    ours = model.preprocess(torch.from_numpy(ref["wave"])).numpy()
    expected = (ref["fbank_128"] - 15.41663) / (2 * 6.55582)
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=0)


def test_extract_is_encode_of_preprocess_and_batch_independent() -> None:
    model = load("beats", tiny=True)
    wave = _wave(batch=3)
    with torch.no_grad():
        batched = model.extract(wave)
        torch.testing.assert_close(batched, model.encode(model.preprocess(wave)), rtol=0, atol=0)
        for i in range(3):
            torch.testing.assert_close(model.extract(wave[i : i + 1]), batched[i : i + 1], rtol=0, atol=2e-5)
    assert batched.shape == (3, (98 // 16) * 8, 32)


def test_padding_mask_reduction_and_masked_logit_mean(beats_tiny_checkpoints: dict[str, Path]) -> None:
    """The original's reduction: samples -> frames -> patches in groups of N // length, all padded."""
    model = load("beats", beats_tiny_checkpoints["finetuned"])
    wave = _wave(batch=2, samples=32000)
    mask = torch.zeros(2, 32000, dtype=torch.bool)
    mask[1, 12000:] = True
    frames = 198  # 1 + (32000 - 400) // 160
    frame_mask = mask[:, : 32000 - 32000 % frames].view(2, frames, -1).all(-1)
    patches = (frames // 16) * 8
    patch_mask = frame_mask[:, : frames - frames % patches].view(2, patches, -1).all(-1)
    with torch.no_grad():
        hidden, reduced = model._encode(model.preprocess(wave), mask)
        assert torch.equal(reduced, patch_mask) and patch_mask[1].any() and not patch_mask[0].any()
        scores = model.predictor(hidden)
        expected = torch.stack([scores[i][~patch_mask[i]].mean(0) for i in range(2)])
        torch.testing.assert_close(model.logits(wave, mask), expected, rtol=0, atol=1e-6)


def test_blocks_return_tensors_and_linear_names_are_the_lora_targets() -> None:
    model = load("beats", tiny=True)
    outputs = []
    handles = [b.register_forward_hook(lambda m, i, o: outputs.append(o)) for b in model.blocks()]
    with torch.no_grad():
        model.extract(_wave(batch=1))
    for handle in handles:
        handle.remove()
    assert len(outputs) == 2 and all(isinstance(o, torch.Tensor) and o.shape == (1, 48, 32) for o in outputs)
    names = model.linear_names()
    assert len(names) == 2 * 6 and not any("grep" in n for n in names)
    modules = dict(model.named_modules())
    assert all(isinstance(modules[n], nn.Linear) for n in names)


def test_layer_wise_gradient_decay_scales_the_gradient() -> None:
    x = torch.ones(3, requires_grad=True)
    BeatsGradMultiply.apply(x, 0.6).sum().backward()
    torch.testing.assert_close(x.grad, torch.full((3,), 0.6))


def test_gradients_of_lower_blocks_shrink_by_the_decay_ratio() -> None:
    """Block i's parameters get ratio ** (layers - 1 - i) of the gradient; outputs are unchanged."""
    grads = {}
    for ratio in (1.0, 0.5):
        torch.manual_seed(0)
        model = BeatsBackbone(
            BeatsConfig.tiny(layer_wise_gradient_decay_ratio=ratio, encoder_layerdrop=0.0)
        ).eval()
        model.extract(_wave(batch=1)).pow(2).sum().backward()
        grads[ratio] = [layer.fc1.weight.grad for layer in model.encoder.layers]
    torch.testing.assert_close(grads[0.5][1], grads[1.0][1], rtol=1e-5, atol=0)
    torch.testing.assert_close(grads[0.5][0], 0.5 * grads[1.0][0], rtol=1e-5, atol=1e-9)
    assert grads[1.0][0].abs().sum() > 0


def test_bad_inputs_raise_data_error() -> None:
    model = load("beats", tiny=True)
    with pytest.raises(DataError, match=r"\[B, N\]"):
        model.extract(torch.zeros(16000))
    with pytest.raises(DataError, match="padding_mask"):
        model.extract(torch.zeros(2, 16000), torch.zeros(3, 16000, dtype=torch.bool))
    with pytest.raises(DataError, match="T >= 16"):
        model.encode(torch.zeros(1, 8, 128))


def test_bf16_autocast_stays_close_to_float32() -> None:
    """Within a few per cent of the largest output (0.5 % measured on this tiny config; BEATs-base
    0.4 %, see the README). The positional convolution runs in float32 under CPU autocast, where
    oneDNN's bf16 grouped kernel put 2.99 of error on outputs of 2.05 (issue 11); the grouped-conv
    tests check that guard to float32 tolerance on every CPU."""
    model = load("beats", tiny=True)
    wave = _wave()
    with torch.no_grad():
        reference = model.extract(wave)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            cast = model.extract(wave)
    error = (cast.float() - reference).abs().max()
    assert 0 < error < 0.03 * reference.abs().max()  # > 0: the linear layers did run in bf16


def test_preprocess_is_the_normalised_fbank_of_16_bit_samples() -> None:
    wave = _wave()
    expected = (fbank(wave * 32768) - 15.41663) / (2 * 6.55582)
    torch.testing.assert_close(load("beats", tiny=True).preprocess(wave), expected, rtol=0, atol=0)


@pytest.mark.gpu
def test_cuda_with_bf16_autocast_matches_cpu() -> None:
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    model = load("beats", tiny=True)
    mask = torch.zeros(2, 16000, dtype=torch.bool)
    mask[1, 9000:] = True
    with torch.no_grad():
        reference = model.extract(_wave(), mask)
        on_gpu = model.cuda().extract(_wave().cuda(), mask.cuda())
        with torch.autocast("cuda", dtype=torch.bfloat16):
            cast = model.extract(_wave().cuda(), mask.cuda())
    torch.testing.assert_close(on_gpu.cpu(), reference, rtol=0, atol=1e-4)
    assert (cast.float().cpu() - reference).abs().max() < 0.1 * reference.abs().max()
