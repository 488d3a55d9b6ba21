"""EfficientAT: front end vs a NumPy reference, checkpoint round trips, real mn04 weights."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import save_file
from scipy.signal import resample_poly

from sslasd.errors import CheckpointError, ConfigError, DataError
from sslasd.models.backbones import build_backbone, load_backbone
from sslasd.models.backbones._efficientat_frontend import EfficientATMel, PolyphaseUpsampler, kaldi_mel_banks
from sslasd.models.backbones.efficientat import EfficientATBackbone, EfficientATConfig, infer_width


def _mel_hz(freq: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(freq / 700.0)


def numpy_mel_banks(n_mels: int, n_fft: int, sr: float, fmin: float, fmax: float) -> np.ndarray:
    """Triangles between equally spaced mel edges, evaluated at the FFT bin centres (float64)."""
    edges = np.linspace(_mel_hz(np.float64(fmin)), _mel_hz(np.float64(fmax)), n_mels + 2)
    fft_mel = _mel_hz(np.arange(n_fft // 2 + 1) * sr / n_fft)
    left, center, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    banks = np.maximum(
        0.0, np.minimum((fft_mel - left) / (center - left), (right - fft_mel) / (right - center))
    )
    banks[:, -1] = 0.0  # the Nyquist bin is left out, as Kaldi does
    return banks


def numpy_log_mel(x: np.ndarray, n_mels: int = 128, sr: int = 32000) -> np.ndarray:
    """AugmentMelSTFT's eval-mode output written out with explicit frames (float64)."""
    n_fft, win, hop = 1024, 800, 320
    y = x[1:].astype(np.float64) - 0.97 * x[:-1]
    padded = np.pad(y, n_fft // 2, mode="reflect")
    window = np.zeros(n_fft)
    start = (n_fft - win) // 2
    window[start : start + win] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / (win - 1))
    n_frames = 1 + (len(padded) - n_fft) // hop
    frames = np.stack([padded[i * hop : i * hop + n_fft] * window for i in range(n_frames)])
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    mel = numpy_mel_banks(n_mels, n_fft, sr, 0.0, 15000.0) @ power.T
    return (np.log(mel + 1e-5) + 4.5) / 5.0


@pytest.mark.parametrize(
    ("n_mels", "fmin", "fmax"), [(128, 0.0, 15000.0), (64, 0.0, 15000.0), (32, 50.0, 8000.0)]
)
def test_mel_banks_match_the_triangle_formula(n_mels: int, fmin: float, fmax: float) -> None:
    ours = kaldi_mel_banks(n_mels, 1024, 32000, fmin, fmax).numpy()
    np.testing.assert_allclose(ours, numpy_mel_banks(n_mels, 1024, 32000, fmin, fmax), atol=2e-5)


@pytest.mark.parametrize("n_samples", [514, 3200, 32000 + 7])
def test_log_mel_matches_numpy_reference(n_samples: int) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(n_samples) / 32000
    x = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(n_samples)).astype(np.float32)
    ours = EfficientATMel()(torch.from_numpy(x)[None])[0].numpy()
    ref = numpy_log_mel(x)
    assert ours.shape == ref.shape == (128, (n_samples - 2) // 320 + 1)
    np.testing.assert_allclose(ours, ref, atol=2e-4)


@pytest.mark.parametrize("factor", [1, 2, 4])
def test_upsampler_equals_scipy_resample_poly(factor: int) -> None:
    x = np.random.default_rng(1).standard_normal((2, 1001)).astype(np.float32)
    ours = PolyphaseUpsampler(factor)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, resample_poly(x, factor, 1, axis=1), atol=1e-5)


def test_tiny_checkpoint_round_trip(efficientat_tiny_checkpoint: Path, tmp_path: Path) -> None:
    """torch.save state dict and safetensors both load strictly, width/classes read off the shapes."""
    state = torch.load(efficientat_tiny_checkpoint, weights_only=True)
    st_path = tmp_path / "tiny.safetensors"
    save_file(state, str(st_path))
    reference = EfficientATBackbone(EfficientATConfig.tiny()).eval()
    reference.load_state_dict(state, strict=True)
    wave = torch.randn(2, 20000, generator=torch.Generator().manual_seed(0))
    expected = reference.logits(wave)
    for path in (efficientat_tiny_checkpoint, st_path):
        model = load_backbone("efficientat", path, n_mels=32)
        assert model.config.width_mult == 0.1 and model.config.num_classes == 10
        torch.testing.assert_close(model.logits(wave), expected, rtol=0, atol=0)


def test_outputs_are_consistent_and_batch_independent(efficientat_tiny_checkpoint: Path) -> None:
    model = load_backbone("efficientat", efficientat_tiny_checkpoint, n_mels=32)
    gen = torch.Generator().manual_seed(1)
    wave = torch.randn(3, 16000, generator=gen)
    frames = model.extract(wave)
    assert frames.shape == (3, 2, model.dim)
    torch.testing.assert_close(frames.mean(1), model.embed(wave), atol=1e-6, rtol=1e-5)
    logits, embedding = model.classify_mels(model.preprocess(wave).unsqueeze(1))
    torch.testing.assert_close(logits, model.logits(wave))
    torch.testing.assert_close(embedding, model.embed(wave), atol=1e-6, rtol=1e-5)
    for i in range(3):
        torch.testing.assert_close(model.extract(wave[i : i + 1])[0], frames[i], atol=1e-5, rtol=1e-5)


def test_padding_mask_zeroes_padded_samples(efficientat_tiny_checkpoint: Path) -> None:
    model = load_backbone("efficientat", efficientat_tiny_checkpoint, n_mels=32)
    wave = torch.randn(1, 16000, generator=torch.Generator().manual_seed(2))
    mask = torch.zeros(1, 16000, dtype=torch.bool)
    mask[:, 12000:] = True
    noisy = wave.clone()
    noisy[mask] = 100.0
    zeroed = wave.masked_fill(mask, 0.0)
    torch.testing.assert_close(model.extract(noisy, mask), model.extract(zeroed), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda sd: sd.pop("classifier.5.bias"), ["1 missing", "classifier.5.bias"]),
        (lambda sd: sd.__setitem__("head.extra", torch.zeros(1)), ["1 unexpected", "head.extra"]),
        (
            lambda sd: sd.__setitem__("features.1.block.0.0.weight", torch.zeros(8, 8, 3, 3)),
            ["shape-mismatched", "features.1.block.0.0.weight", "(8, 8, 3, 3)"],
        ),
    ],
)
def test_key_and_shape_mismatches_are_listed(
    efficientat_tiny_checkpoint: Path, tmp_path: Path, edit, words
) -> None:
    state = torch.load(efficientat_tiny_checkpoint, weights_only=True)
    edit(state)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as info:
        load_backbone("efficientat", path, n_mels=32)
    for word in [str(path), *words]:
        assert word in str(info.value)


class _Payload:
    """Any class instance: unpickling it would run arbitrary code paths."""


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"model": _Payload()}, path)
    with pytest.raises(CheckpointError, match=r"refused, it stores a Python object of type \S*_Payload"):
        load_backbone("efficientat", path)


def test_width_is_inferred_from_shapes(tmp_path: Path) -> None:
    model = EfficientATBackbone(EfficientATConfig(width_mult=1.0, num_classes=5, n_mels=32))
    assert infer_width(model.state_dict()) == 1.0
    path = tmp_path / "mn10.pt"
    torch.save(model.state_dict(), path)
    loaded = load_backbone("efficientat", path, n_mels=32)
    assert (loaded.config.width_mult, loaded.config.num_classes, loaded.dim) == (1.0, 5, 960)


def test_config_dict_rebuilds_the_architecture(efficientat_tiny_checkpoint: Path) -> None:
    model = load_backbone("efficientat", efficientat_tiny_checkpoint, n_mels=32, input_sample_rate=16000)
    rebuilt = build_backbone("efficientat", model.config_dict())
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    wave = torch.randn(1, 8000, generator=torch.Generator().manual_seed(3))
    assert rebuilt.sample_rate == 16000
    torch.testing.assert_close(rebuilt.extract(wave), model.extract(wave), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("overrides", "exc", "words"),
    [
        ({"strides": (2, 2, 3, 2)}, ConfigError, "strides"),
        ({"input_sample_rate": 44100}, ConfigError, "input_sample_rate=44100"),
        ({"widht_mult": 0.5}, ConfigError, "widht_mult"),
    ],
)
def test_bad_config_values(overrides: dict, exc: type, words: str) -> None:
    with pytest.raises(exc, match=words):
        load_backbone("efficientat", tiny=True, **overrides)


@pytest.mark.parametrize(
    ("wave", "words"),
    [(torch.zeros(32000), "expected \\[batch, samples\\]"), (torch.zeros(1, 400), "400 samples")],
)
def test_bad_waveforms(wave: torch.Tensor, words: str) -> None:
    with pytest.raises(DataError, match=words):
        load_backbone("efficientat", tiny=True).extract(wave)


def test_missing_checkpoint_names_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSLASD_HOME", str(tmp_path))
    with pytest.raises(CheckpointError) as info:
        load_backbone("efficientat", "efficientat_mn04_as_mAP_432.pt")
    message = str(info.value)
    assert str(tmp_path / "checkpoints" / "efficientat_mn04_as_mAP_432.pt") in message
    assert "sslasd download" in message


def _real_clips(real_clips_dir: Path, n: int) -> list[np.ndarray]:
    machines = sorted(p.name for p in real_clips_dir.iterdir() if p.is_dir())
    files = [sorted((real_clips_dir / m / "test").glob("*.wav"))[0] for m in machines][:n]
    return [sf.read(f, dtype="float32")[0] for f in files]


@pytest.mark.slow
@pytest.mark.real_data
def test_real_mn04_weights(mn04_weights: Path, real_clips_dir: Path) -> None:
    """Strict load of the released mn04; logits finite and deterministic on real 16-kHz clips,
    the in-model 16 -> 32 kHz path equal to SciPy's resampling."""
    model = load_backbone("efficientat", mn04_weights)
    model16 = load_backbone("efficientat", mn04_weights, input_sample_rate=16000)
    assert (model.dim, model.config.width_mult, model.config.num_classes) == (384, 0.4, 527)
    with torch.no_grad():
        for clip in _real_clips(real_clips_dir, 3):
            wave32 = torch.from_numpy(resample_poly(clip, 2, 1).astype(np.float32))[None]
            logits = model.logits(wave32)
            assert logits.shape == (1, 527) and torch.isfinite(logits).all()
            torch.testing.assert_close(model.logits(wave32), logits, rtol=0, atol=0)
            torch.testing.assert_close(
                model16.logits(torch.from_numpy(clip)[None]), logits, atol=1e-4, rtol=1e-4
            )
            assert model.embed(wave32).shape == (1, 384)


def test_lora_convs_wraps_the_pointwise_convolutions_too() -> None:
    """``lora.convs``: every 1 x 1 convolution of the feature network gets FC-LoRA beside the SE
    linears; the model starts unchanged, and only LoRA weights get gradients."""
    from sslasd.models.adapters import FCLoRAPointwiseConv
    from sslasd.pipeline.build import prepare_backbone
    from sslasd.pipeline.config import RunConfig

    torch.manual_seed(0)
    wave = torch.randn(2, 32000)
    plain = load_backbone("efficientat", tiny=True)
    model = copy.deepcopy(plain)
    config = RunConfig.model_validate(
        {
            "backbone": {"name": "efficientat", "tiny": True},
            "lora": {"mode": "fc_lora", "rank": 2, "convs": True},
        }
    )
    names = model.pointwise_conv_names()
    prepare_backbone(model.eval(), config)
    wrapped = {n for n, m in model.named_modules() if isinstance(m, FCLoRAPointwiseConv)}
    assert names and wrapped == set(names)
    with torch.no_grad():
        torch.testing.assert_close(model.extract(wave), plain.eval().extract(wave))
    model.extract(wave).square().mean().backward()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_" in n for n in trainable)
    assert any(n.startswith(f"{names[0]}.lora_") for n in trainable)


def test_lora_convs_on_a_backbone_without_convolutions_is_a_config_error() -> None:
    from sslasd.pipeline.build import prepare_backbone
    from sslasd.pipeline.config import RunConfig

    config = RunConfig.model_validate({"backbone": {"name": "beats", "tiny": True}, "lora": {"convs": True}})
    with pytest.raises(ConfigError, match=r"lora\.convs: .*no pointwise convolutions"):
        prepare_backbone(load_backbone("beats", tiny=True), config)
