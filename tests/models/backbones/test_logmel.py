"""The log-mel backbone: dB levels against a numpy reference, filterbank shape, registry and config."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sslasd.errors import ConfigError
from sslasd.models.backbones import build_backbone, load_backbone, logmel
from sslasd.models.backbones.logmel import LogMelBackbone, LogMelConfig, mel_filterbank
from sslasd.models.stats_embedder import StatsEmbedder


def _numpy_logmel(wave: np.ndarray, cfg: LogMelConfig) -> np.ndarray:
    """Frame by frame: zero-pad n_fft/2 at both ends, Hann window (periodic) centred in n_fft,
    |rfft|^2, mel weights, 10 log10 with the amin floor."""
    n_fft, hop, win = cfg.fft_size, cfg.hop_length, cfg.win_length
    window = np.zeros(n_fft)
    left = (n_fft - win) // 2
    window[left : left + win] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    padded = np.pad(wave, n_fft // 2)
    frames = [padded[i : i + n_fft] * window for i in range(0, len(padded) - n_fft + 1, hop)]
    power = np.abs(np.fft.rfft(np.stack(frames), axis=1)) ** 2
    return 10 * np.log10(np.maximum(power @ mel_filterbank(cfg).numpy(), cfg.amin))


@pytest.mark.parametrize("setting", [{}, {"win_ms": 25, "hop_ms": 10, "n_mels": 64}])
def test_frames_equal_a_frame_by_frame_numpy_reference(setting: dict) -> None:
    cfg = LogMelConfig(**setting)
    rng = np.random.default_rng(0)
    wave = (0.1 * rng.normal(size=16000) + 0.3 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype(
        np.float32
    )
    ours = LogMelBackbone(cfg).extract(torch.from_numpy(wave)[None])[0].numpy()
    reference = _numpy_logmel(wave.astype(np.float64), cfg)
    assert ours.shape == reference.shape == (16000 // cfg.hop_length + 1, cfg.n_mels)
    np.testing.assert_allclose(ours, reference, atol=2e-3)  # float32 STFT vs float64, in dB


def test_a_tone_peaks_in_the_band_around_its_frequency() -> None:
    cfg = LogMelConfig()
    tone = torch.sin(2 * math.pi * 3000 * torch.arange(16000) / 16000)[None]
    frames = LogMelBackbone(cfg).extract(tone)[0]
    band = int(frames[5:-5].mean(0).argmax())
    weights = mel_filterbank(cfg)  # [bins, mels]
    hz_per_bin = 8000 / (weights.shape[0] - 1)
    peak_hz = float(weights[:, band].argmax()) * hz_per_bin
    assert abs(peak_hz - 3000) < 200


def test_filterbank_is_slaney_area_normalised() -> None:
    cfg = LogMelConfig(n_mels=40)
    weights = mel_filterbank(cfg).numpy()
    assert weights.shape == (cfg.fft_size // 2 + 1, 40) and (weights >= 0).all()
    # each triangle of height 2/(upper-lower) spans (upper-lower) Hz: area 1 in Hz (up to sampling)
    hz_per_bin = cfg.sample_rate / cfg.fft_size
    areas = weights.sum(0) * hz_per_bin
    assert np.allclose(areas[5:], 1.0, atol=0.05)


def test_registry_load_build_and_stats_embedding() -> None:
    bb = load_backbone("logmel", n_mels=64)
    assert (bb.dim, bb.sample_rate, bb.linear_names()) == (64, 16000, [])
    again = build_backbone("logmel", bb.config_dict())
    wave = torch.randn(2, 8000)
    torch.testing.assert_close(again.extract(wave), bb.extract(wave))
    emb = StatsEmbedder(bb)(wave)
    frames = bb.extract(wave)
    torch.testing.assert_close(emb, torch.cat([frames.mean(1), frames.std(1, unbiased=False)], dim=1))


def test_bf16_autocast_keeps_the_levels_in_float32() -> None:
    bb = load_backbone("logmel")
    wave = torch.randn(1, 16000)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        cast = bb.extract(wave)
    assert cast.dtype == torch.float32
    torch.testing.assert_close(cast, bb.extract(wave))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"checkpoint": "x.pt"}, "logmel has no weights"),
        ({"n_mel": 3}, "unknown logmel setting"),
        ({"hop_ms": 100.0}, "hop_ms"),
        ({"f_max": 9000.0}, "f_max"),
    ],
)
def test_bad_settings_name_the_key(kwargs: dict, message: str) -> None:
    checkpoint = kwargs.pop("checkpoint", None)
    with pytest.raises(ConfigError, match=message):
        logmel.load("logmel", checkpoint, **kwargs)
