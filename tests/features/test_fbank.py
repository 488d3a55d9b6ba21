"""The batched fbank against kaldi-native-fbank, against torchaudio's values, and against itself."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from sslasd.errors import ConfigError, DataError
from sslasd.features import Fbank, FbankConfig, fbank, mel_filters

LOG_EPS = math.log(torch.finfo(torch.float32).eps)


def _knf_fbank(wave: np.ndarray, num_mel_bins: int, window: str) -> np.ndarray:
    knf = pytest.importorskip("kaldi_native_fbank")
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.window_type = window
    opts.mel_opts.num_bins = num_mel_bins
    out = []
    for row in wave:
        online = knf.OnlineFbank(opts)
        online.accept_waveform(16000, row.tolist())
        online.input_finished()
        out.append(np.stack([online.get_frame(i) for i in range(online.num_frames_ready)]))
    return np.stack(out)


@pytest.mark.parametrize(
    ("num_mel_bins", "window"),
    [(80, "povey"), (64, "povey"), (80, "hanning"), (40, "hamming"), (23, "rectangular")],
)
def test_matches_kaldi_native_fbank(signals: np.ndarray, num_mel_bins: int, window: str) -> None:
    reference = _knf_fbank(signals, num_mel_bins, window)
    ours = fbank(torch.from_numpy(signals), num_mel_bins=num_mel_bins, window=window).numpy()
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, atol=1e-3, rtol=0)


def test_kaldi_native_fbank_refuses_what_we_keep() -> None:
    """128 bins at 16 kHz: Kaldi refuses (an empty filter); torchaudio and we keep the filter."""
    knf = pytest.importorskip("kaldi_native_fbank")
    opts = knf.FbankOptions()
    opts.mel_opts.num_bins = 128
    with pytest.raises(Exception, match="num_mel_bins"):
        knf.OnlineFbank(opts)
    empty = (mel_filters(FbankConfig(num_mel_bins=128)) == 0).all(dim=0)
    assert empty.nonzero().flatten().tolist() == [3]


@pytest.mark.real_data
@pytest.mark.parametrize("num_mel_bins", [128, 80, 64])
def test_matches_torchaudio_reference(shared_dir: Path, num_mel_bins: int) -> None:
    path = shared_dir / "fixtures" / "kaldi_fbank_reference.npz"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    ref = np.load(path)
    wave = torch.from_numpy(ref["wave"]) * 2**15
    ours = fbank(wave, sample_rate=int(ref["sample_rate"]), num_mel_bins=num_mel_bins).numpy()
    expected = ref[f"fbank_{num_mel_bins}"]
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, atol=1e-3, rtol=0)
    if num_mel_bins == 128:
        assert np.all(ours[:, :, 3] == np.float32(LOG_EPS))
        assert np.all(expected[:, :, 3] == np.float32(LOG_EPS))


def test_batch_equals_item_by_item(signals: np.ndarray) -> None:
    wave = torch.from_numpy(signals)
    batched = fbank(wave)
    for i in range(len(signals)):
        single = fbank(wave[i : i + 1])
        torch.testing.assert_close(batched[i : i + 1], single, atol=1e-4, rtol=0)


def test_float64_agrees_with_float32(signals: np.ndarray) -> None:
    wave = torch.from_numpy(signals)
    single = fbank(wave, num_mel_bins=80)
    double = fbank(wave.double(), num_mel_bins=80)
    assert single.dtype == torch.float32 and double.dtype == torch.float64
    torch.testing.assert_close(single.double(), double, atol=1e-3, rtol=0)


def test_autocast_keeps_float32(signals: np.ndarray) -> None:
    wave = torch.from_numpy(signals)
    plain = fbank(wave)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        cast = fbank(wave)
    assert cast.dtype == torch.float32
    torch.testing.assert_close(cast, plain, atol=0, rtol=0)


def test_int16_pcm_equals_float(signals: np.ndarray) -> None:
    pcm = torch.from_numpy(np.round(signals).clip(-32768, 32767).astype(np.int16))
    torch.testing.assert_close(fbank(pcm), fbank(pcm.float()), atol=0, rtol=0)


@pytest.mark.parametrize(
    ("num_samples", "frames"), [(400, 1), (559, 1), (560, 2), (16000, 98), (160000, 998)]
)
def test_frame_count(num_samples: int, frames: int) -> None:
    assert FbankConfig().num_frames(num_samples) == frames
    assert fbank(torch.ones(1, num_samples)).shape == (1, frames, 128)


def test_single_frame_against_direct_formula(rng: np.random.Generator) -> None:
    """One frame computed by hand in float64: DC removal, pre-emphasis, povey window, |DFT|^2, filters."""
    samples = rng.normal(0, 1000, 400)
    x = samples - samples.mean()
    x = x - 0.97 * np.concatenate([x[:1], x[:-1]])
    x = x * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 399)) ** 0.85
    power = np.abs(np.fft.rfft(x, 512)) ** 2
    filters = mel_filters(FbankConfig(num_mel_bins=80)).double().numpy()
    expected = np.log(np.maximum(power @ filters, np.finfo(np.float32).eps))
    ours = fbank(torch.from_numpy(samples).unsqueeze(0), num_mel_bins=80)[0, 0].numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-9, rtol=0)


def test_filters_are_triangles() -> None:
    filters = mel_filters(FbankConfig(num_mel_bins=64))
    assert filters.shape == (257, 64)
    assert filters.min() >= 0 and filters.max() <= 1
    assert torch.all(filters[-1] == 0)  # the Nyquist bin belongs to no filter
    peaks = filters.argmax(dim=0)
    assert torch.all(peaks[1:] >= peaks[:-1])  # centres rise with the filter index


def test_module_has_no_state_and_ignores_model_dtype(signals: np.ndarray) -> None:
    module = Fbank(FbankConfig(num_mel_bins=80, window="hanning"))
    assert module.state_dict() == {}
    wave = torch.from_numpy(signals)
    expected = fbank(wave, num_mel_bins=80, window="hanning")
    torch.testing.assert_close(module(wave), expected, atol=0, rtol=0)
    torch.testing.assert_close(module.to(torch.bfloat16)(wave), expected, atol=0, rtol=0)


@pytest.mark.gpu
def test_gpu_equals_cpu(signals: np.ndarray) -> None:
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    wave = torch.from_numpy(signals)
    module = Fbank()
    on_gpu = module.cuda()(wave.cuda())
    assert on_gpu.device.type == "cuda"
    torch.testing.assert_close(on_gpu.cpu(), Fbank()(wave), atol=1e-3, rtol=0)


@pytest.mark.parametrize(
    ("waveform", "message"),
    [
        (torch.zeros(1000), r"\[B, N\].*\(1000,\)"),
        (torch.zeros(2, 399), "399 samples, need at least 400"),
        (np.zeros((1, 1000)), "torch.Tensor"),
        (torch.zeros(1, 1000, dtype=torch.bool), "dtype"),
    ],
)
def test_bad_waveform_raises_data_error(waveform: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        fbank(waveform)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"num_mel_bins": 3}, "num_mel_bins=3"),
        ({"window": "blackman"}, "window='blackman'"),
        ({"preemphasis": 1.5}, "preemphasis=1.5"),
        ({"low_freq": 9000.0}, "low_freq=9000.0"),
        ({"dither": 1.0}, "unknown keys.*dither"),
    ],
)
def test_bad_options_raise_config_error(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        fbank(torch.zeros(1, 1000), **options)


def test_config_lists_every_bad_field() -> None:
    with pytest.raises(ConfigError) as info:
        FbankConfig(num_mel_bins=2, preemphasis=-1.0, sample_rate=16000)
    assert "num_mel_bins=2" in str(info.value) and "preemphasis=-1.0" in str(info.value)


def test_config_round_trip() -> None:
    config = FbankConfig(num_mel_bins=80, window="hamming")
    assert FbankConfig.from_dict(config.to_dict()) == config
