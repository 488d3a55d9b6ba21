"""Whisper encoders on tiny random weights: the three formats, equality with transformers (front end
and encoder), layer choice and weighted sum, padding, hooks, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from sslasd.errors import CheckpointError, ConfigError, DataError
from sslasd.models.backbones import build_backbone, load_backbone
from sslasd.models.backbones._ctranslate2 import CT2Model, read_model_bin, write_model_bin
from sslasd.models.backbones.whisper import LORA_TARGETS, WhisperBackbone, WhisperConfig, WhisperLogMel


def _wave(seconds: float = 1.0, batch: int = 2, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(batch, int(16000 * seconds), generator=generator)


def test_three_formats_load_the_same_weights(whisper_tiny_checkpoints: dict[str, Path]) -> None:
    models = {fmt: load_backbone("whisper", path) for fmt, path in whisper_tiny_checkpoints.items()}
    reference = models.pop("hf")
    assert reference.config == WhisperConfig.tiny()
    wave = _wave()
    with torch.no_grad():
        expected = reference.extract(wave)
        for fmt, model in models.items():
            assert model.config == reference.config, fmt
            torch.testing.assert_close(model.extract(wave), expected, rtol=0, atol=0, msg=fmt)


@pytest.mark.parametrize("task_model", ["WhisperModel", "WhisperForConditionalGeneration"])
def test_hub_folder_matches_transformers(task_model: str, tmp_path: Path) -> None:
    """A folder written by transformers' own save_pretrained (``encoder.*`` or ``model.encoder.*``
    keys, with the decoder) loads strictly and gives transformers' encoder output on 30 s."""
    transformers = pytest.importorskip("transformers")
    config = transformers.WhisperConfig(
        d_model=32,
        encoder_layers=2,
        encoder_attention_heads=2,
        encoder_ffn_dim=128,
        decoder_layers=1,
        decoder_attention_heads=2,
        decoder_ffn_dim=64,
        vocab_size=64,
        pad_token_id=0,
        max_target_positions=8,
    )
    torch.manual_seed(0)
    reference = getattr(transformers, task_model)(config).eval()
    reference.save_pretrained(tmp_path / "hub")
    model = load_backbone("whisper", tmp_path / "hub")
    features = model.preprocess(_wave(30.0, batch=1))
    with torch.no_grad():
        expected = reference.get_encoder()(features).last_hidden_state
        torch.testing.assert_close(model.encode(features), expected, rtol=1e-5, atol=1e-5)


def test_our_hf_folder_loads_in_transformers(whisper_tiny_checkpoints: dict[str, Path]) -> None:
    transformers = pytest.importorskip("transformers")
    ours = load_backbone("whisper", whisper_tiny_checkpoints["hf"])
    reference = transformers.WhisperModel.from_pretrained(whisper_tiny_checkpoints["hf"]).eval()
    features = ours.preprocess(_wave(30.0, batch=1))
    with torch.no_grad():
        expected = reference.encoder(features).last_hidden_state
        torch.testing.assert_close(ours.encode(features), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n_mels", [80, 128])
def test_log_mel_equals_feature_extractor(n_mels: int) -> None:
    """Batched clips of two lengths (zero-padded to the longest, as transformers pads), and one clip
    padded to 30 s (transformers' default): equal within 1e-4."""
    transformers = pytest.importorskip("transformers")
    extractor = transformers.WhisperFeatureExtractor(feature_size=n_mels)
    rng = np.random.default_rng(n_mels)
    t = np.arange(48000) / 16000
    clips = [
        (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(48000)).astype(np.float32),
        (0.5 * rng.standard_normal(33600)).astype(np.float32),
    ]
    frontend = WhisperLogMel(n_mels)
    batch = torch.zeros(2, 48000)
    batch[0], batch[1, :33600] = torch.from_numpy(clips[0]), torch.from_numpy(clips[1])
    expected = extractor(clips, sampling_rate=16000, padding="longest", return_tensors="pt")["input_features"]
    torch.testing.assert_close(frontend(batch), expected, rtol=0, atol=1e-4)
    expected = extractor(clips[1], sampling_rate=16000, return_tensors="pt")["input_features"]
    padded = torch.nn.functional.pad(torch.from_numpy(clips[1])[None], (0, 480000 - 33600))
    torch.testing.assert_close(frontend(padded), expected, rtol=0, atol=1e-4)


def test_layer_choice_and_weighted_sum() -> None:
    torch.manual_seed(0)
    full = load_backbone("whisper", tiny=True)  # layer -1: the encoder's output
    features = full.preprocess(_wave())
    with torch.no_grad():
        states = full.hidden_states(features)
        assert len(states) == 3
        torch.testing.assert_close(full.encode(features), states[2], rtol=0, atol=0)
        for layer in (0, 1, 2):
            model = build_backbone("whisper", {**full.config_dict(), "layer": layer})
            model.load_state_dict(full.state_dict())
            torch.testing.assert_close(model.eval().encode(features), states[layer], rtol=0, atol=0)
            assert len(model.blocks()) == layer and len(model.linear_names()) == 6 * layer
        weighted = load_backbone("whisper", tiny=True, layer="weighted")
        weighted.encoder.load_state_dict(full.encoder.state_dict())
        weighted.layer_weights.copy_(torch.tensor([0.5, -1.0, 2.0]))
        mix = torch.softmax(torch.tensor([0.5, -1.0, 2.0]), 0)
        expected = sum(w * s for w, s in zip(mix, states))
        torch.testing.assert_close(weighted.encode(features), expected, rtol=1e-6, atol=1e-6)
    assert not torch.allclose(states[1], states[2], atol=1e-3)
    assert {name.rsplit(".", 1)[-1] for name in full.linear_names()} == set(LORA_TARGETS)


def test_blocks_above_the_chosen_layer_do_not_run() -> None:
    model = load_backbone("whisper", tiny=True, layer=1)
    calls: list[tuple[int, ...]] = []
    for layer in model.encoder.layers:
        layer.register_forward_hook(lambda _m, _i, out: calls.append(tuple(out.shape)))
    with torch.no_grad():
        model.extract(_wave())
    assert calls == [(2, 50, 32)] and model.blocks() == [model.encoder.layers[0]]


def test_weighted_sum_trains_under_lora() -> None:
    """prepare_backbone leaves the layer weights trainable in LoRA mode (and only them and LoRA)."""
    from sslasd.pipeline.build import prepare_backbone
    from sslasd.pipeline.config import RunConfig

    config = RunConfig.model_validate(
        {
            "backbone": {"name": "whisper", "tiny": True, "overrides": {"layer": "weighted"}},
            "lora": {"mode": "fc_lora", "rank": 2},
        }
    )
    model = prepare_backbone(load_backbone("whisper", tiny=True, layer="weighted"), config)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert "layer_weights" in trainable and all("lora" in n for n in trainable - {"layer_weights"})
    model.extract(_wave()).square().mean().backward()
    assert model.layer_weights.grad is not None and model.layer_weights.grad.abs().sum() > 0


def test_padded_batch_equals_single_clips() -> None:
    torch.manual_seed(0)
    model = _perturb(load_backbone("whisper", tiny=True))
    wave = _wave(2.0, seed=1)
    mask = torch.zeros_like(wave, dtype=torch.bool)
    mask[1, 19250:] = True  # 19250 samples: 120 mel frames, 60 encoder frames
    with torch.no_grad():
        batch = model.extract(wave, mask)
        single = model.extract(wave[1:, :19250])
        unmasked = model.extract(wave.masked_fill(mask, 0.0))
    assert single.shape == (1, 60, 32) and batch.shape == (2, 100, 32)
    torch.testing.assert_close(batch[1, :60], single[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(batch[0], model.extract(wave[:1])[0], rtol=1e-5, atol=1e-5)
    assert (unmasked[1, :60] - single[0]).abs().max() > 1e-2  # the mask is what makes them equal


def _perturb(model: WhisperBackbone) -> WhisperBackbone:
    """Non-trivial layer norms and biases, so that padding mistakes show."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=generator))
    return model.eval()


def test_config_dict_rebuilds(whisper_tiny_checkpoints: dict[str, Path]) -> None:
    model = load_backbone("whisper", whisper_tiny_checkpoints["openai"], layer="weighted")
    rebuilt = build_backbone("whisper", json.loads(json.dumps(model.config_dict())))
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.extract(_wave()), model.extract(_wave()), rtol=0, atol=0)


def test_int8_and_float16_ctranslate2_files(
    whisper_tiny_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    """Quantised files load as CTranslate2 restores them: int8 rows divided by their scales,
    float16 values widened; both stay close to the float32 model."""
    source = read_model_bin(whisper_tiny_checkpoints["ctranslate2"])
    reference = load_backbone("whisper", whisper_tiny_checkpoints["ctranslate2"])
    quantised, half = dict(source.variables), dict(source.variables)
    for name, value in source.variables.items():
        if name.endswith("linear_0/weight") or name.endswith("linear_1/weight"):
            scale = 127.0 / value.abs().amax(dim=1)
            quantised[name] = torch.round(value * scale[:, None]).to(torch.int8)
            quantised[name + "_scale"] = scale
        if value.is_floating_point():
            half[name] = value.half()
    paths = {}
    for kind, variables in (("int8", quantised), ("float16", half)):
        paths[kind] = write_model_bin(
            tmp_path / f"{kind}.bin", CT2Model(source.spec, source.revision, variables)
        )
    int8, fp16 = (load_backbone("whisper", paths[kind]) for kind in ("int8", "float16"))
    fc1 = "layers.0.fc1.weight"
    raw, scale = (
        quantised["encoder/layer_0/ffn/linear_0/weight"],
        quantised["encoder/layer_0/ffn/linear_0/weight_scale"],
    )
    torch.testing.assert_close(int8.encoder.state_dict()[fc1], raw.float() / scale[:, None], rtol=0, atol=0)
    torch.testing.assert_close(
        fp16.encoder.state_dict()[fc1], reference.encoder.state_dict()[fc1].half().float()
    )
    wave = _wave()
    with torch.no_grad():
        expected = reference.extract(wave)
        for model in (int8, fp16):
            assert (model.extract(wave) - expected).abs().max() < 0.05 * expected.abs().max()


def test_keys_that_do_not_fit_are_listed(whisper_tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    shutil.copytree(whisper_tiny_checkpoints["hf"], folder)
    state = load_file(str(folder / "model.safetensors"))
    state["encoder.layers.1.self_attn.qq_proj.bias"] = state.pop("encoder.layers.1.self_attn.q_proj.bias")
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError) as info:
        load_backbone("whisper", folder)
    message = str(info.value)
    assert "(Hugging Face) does not fit the model" in message
    assert "1 missing: layers.1.self_attn.q_proj.bias" in message
    assert "1 unexpected: layers.1.self_attn.qq_proj.bias" in message


def test_ctranslate2_key_bias_must_be_zero(whisper_tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    model = read_model_bin(whisper_tiny_checkpoints["ctranslate2"])
    bias = model.variables["encoder/layer_0/self_attention/linear_0/bias"]
    bias[32 + 3] = 0.5  # the k part of q|k|v
    path = write_model_bin(tmp_path / "model.bin", model)
    with pytest.raises(CheckpointError, match="non-zero key part"):
        load_backbone("whisper", path)


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda p, t: t / "nothing", CheckpointError, "no such file"),
        (
            lambda p, t: _json(t / "folder", {"model_type": "wav2vec2"}),
            CheckpointError,
            "model_type 'wav2vec2'",
        ),
        (
            lambda p, t: _torch(t / "w.pt", {"weight": torch.zeros(1)}),
            CheckpointError,
            "not a Whisper checkpoint",
        ),
        (
            lambda p, t: _torch(t / "w.pt", {"dims": {"n_mels": 80}, "model_state_dict": {}}),
            CheckpointError,
            "lacks",
        ),
        (lambda p, t: _bytes(t / "model.bin", b"garbage!" * 4), CheckpointError, "not a CTranslate2 model"),
        (lambda p, t: _edited_config(p["hf"], t, d_model=33), CheckpointError, "not a Whisper encoder's"),
        (
            lambda p, t: _ct2_without(p["ctranslate2"], t, "encoder/num_heads"),
            CheckpointError,
            "missing variables",
        ),
        (
            lambda p, t: _bytes(t / "model.bin", p["ctranslate2"].read_bytes()[:-9]),
            CheckpointError,
            "truncated",
        ),
    ],
)
def test_bad_checkpoints_are_one_line(
    make, error: type, words: str, whisper_tiny_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(error, match=words) as info:
        load_backbone("whisper", make(whisper_tiny_checkpoints, tmp_path))
    assert "\n" not in str(info.value)


def _edited_config(folder: Path, tmp: Path, **changes: object) -> Path:
    copy = tmp / "edited"
    shutil.copytree(folder, copy)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, **changes}))
    return copy


def _ct2_without(path: Path, tmp: Path, name: str) -> Path:
    model = read_model_bin(path)
    del model.variables[name]
    return write_model_bin(tmp / "model.bin", model)


def _json(folder: Path, config: dict) -> Path:
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _torch(path: Path, obj: dict) -> Path:
    torch.save(obj, path)
    return path


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_bad_input_and_settings(whisper_tiny_checkpoints: dict[str, Path]) -> None:
    model = load_backbone("whisper", tiny=True)
    with pytest.raises(DataError, match="more than the 3000"):
        model.extract(torch.zeros(1, 16000 * 31))
    with pytest.raises(DataError, match=r"samples >= 400"):
        model.extract(torch.zeros(1, 300))
    with pytest.raises(ConfigError, match="layer=5"):
        load_backbone("whisper", tiny=True, layer=5)
    with pytest.raises(ConfigError, match="unknown keys"):
        load_backbone("whisper", tiny=True, layers=2)
    with pytest.raises(ConfigError, match="tiny=True"):
        load_backbone("whisper", whisper_tiny_checkpoints["openai"], tiny=True)


def test_bf16_autocast_stays_close_to_float32() -> None:
    """The front end stays float32 under autocast (log10 of powers); the blocks run in bf16."""
    model = _perturb(load_backbone("whisper", tiny=True))
    wave = _wave()
    with torch.no_grad():
        reference = model.extract(wave)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            cast = model.extract(wave)
            assert model.preprocess(wave).dtype == torch.float32
    error = (cast.float() - reference).abs().max()
    assert 0 < error < 0.03 * reference.abs().max()  # > 0: the linear layers did run in bf16


@pytest.mark.gpu
def test_cuda_matches_cpu() -> None:
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    model = _perturb(load_backbone("whisper", tiny=True, layer="weighted"))
    wave = _wave(2.0)
    mask = torch.zeros_like(wave, dtype=torch.bool)
    mask[1, 19250:] = True
    with torch.no_grad():
        reference = model.extract(wave, mask)
        on_gpu = model.cuda().extract(wave.cuda(), mask.cuda())
        with torch.autocast("cuda", dtype=torch.bfloat16):
            cast = model.extract(wave.cuda(), mask.cuda())
    torch.testing.assert_close(on_gpu.cpu(), reference, rtol=0, atol=1e-4)
    assert (cast.float().cpu() - reference).abs().max() < 0.1 * reference.abs().max()
