"""EfficientAT's log-mel front end, re-implemented without torchaudio, plus a 2x/4x upsampler.

The AudioSet MobileNets of Schmid et al. were trained on the output of their ``AugmentMelSTFT``
module (``models/preprocess.py`` of fschmid56/EfficientAT). In eval mode it computes, for a
32-kHz waveform ``x`` of shape ``[B, N]``:

1. pre-emphasis ``y[n] = x[n + 1] - 0.97 x[n]`` (a valid convolution: ``N - 1`` samples);
2. a centred STFT (reflect padding) with a symmetric Hann window of 800 samples zero-padded to
   ``n_fft = 1024``, hop 320, power spectrum ``re² + im²``;
3. a Kaldi-style triangular mel matrix (``torchaudio.compliance.kaldi.get_mel_banks``) between
   ``fmin = 0`` and ``fmax = 15000`` Hz with a zero column appended for the Nyquist bin;
4. ``log(mel + 1e-5)`` and the "fast normalisation" ``(x + 4.5) / 5``.

The training-time augmentations (random ``fmin``/``fmax`` shifts, frequency and time masking)
are left out: a frozen or fine-tuned backbone sees the eval-mode features.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sslasd.errors import ConfigError, DataError


def _mel_scale(freq: torch.Tensor) -> torch.Tensor:
    return 1127.0 * (1.0 + freq / 700.0).log()


def _mel_scale_scalar(freq: float) -> float:
    return 1127.0 * math.log(1.0 + freq / 700.0)


def kaldi_mel_banks(n_mels: int, n_fft: int, sample_rate: float, fmin: float, fmax: float) -> torch.Tensor:
    """Kaldi's triangular mel filters ``[n_mels, n_fft // 2 + 1]`` (last column zero).

    Computed in float32 in the same order of operations as torchaudio's ``get_mel_banks`` (no
    VTLN warping), so that the matrix is bit-identical to the one EfficientAT was trained with.

    Example
    -------
    >>> kaldi_mel_banks(128, 1024, 32000, 0.0, 15000.0).shape
    torch.Size([128, 513])
    """
    if not 0.0 <= fmin < fmax <= sample_rate / 2:
        raise ConfigError(
            f"mel front end: need 0 <= fmin < fmax <= {sample_rate / 2}, got fmin={fmin}, fmax={fmax}"
        )
    mel_low, mel_high = _mel_scale_scalar(fmin), _mel_scale_scalar(fmax)
    delta = (mel_high - mel_low) / (n_mels + 1)
    index = torch.arange(n_mels).unsqueeze(1)
    left = mel_low + index * delta  # [n_mels, 1]
    center = mel_low + (index + 1.0) * delta
    right = mel_low + (index + 2.0) * delta
    fft_mel = _mel_scale((sample_rate / n_fft) * torch.arange(n_fft / 2)).unsqueeze(0)  # [1, n_fft / 2]
    up = (fft_mel - left) / (center - left)
    down = (right - fft_mel) / (right - center)
    banks = torch.max(torch.zeros(1), torch.min(up, down))
    return F.pad(banks, (0, 1))


class EfficientATMel(nn.Module):
    """EfficientAT's eval-mode log-mel spectrogram: waveform ``[B, N]`` -> ``[B, n_mels, T]``.

    ``T = (N - 1) // hop_size + 1`` frames. Runs in float32 even under autocast, as the original
    does for its mel product.

    Parameters
    ----------
    n_mels, sample_rate, win_length, hop_size, n_fft, fmin, fmax
        As ``AugmentMelSTFT``'s arguments of the same meaning (``sr``, ``hopsize``); ``fmax`` is
        the eval-mode value (the original default ``sr // 2 - 1000``).

    Example
    -------
    >>> mel = EfficientATMel()
    >>> mel(torch.zeros(2, 32000)).shape
    torch.Size([2, 128, 100])
    """

    def __init__(
        self,
        n_mels: int = 128,
        sample_rate: int = 32000,
        win_length: int = 800,
        hop_size: int = 320,
        n_fft: int = 1024,
        fmin: float = 0.0,
        fmax: float = 15000.0,
    ) -> None:
        super().__init__()
        self.n_fft, self.hop_size, self.win_length = n_fft, hop_size, win_length
        self.register_buffer("window", torch.hann_window(win_length, periodic=False), persistent=False)
        self.register_buffer("preemphasis", torch.tensor([[[-0.97, 1.0]]]), persistent=False)
        self.register_buffer(
            "mel_basis", kaldi_mel_banks(n_mels, n_fft, sample_rate, fmin, fmax), persistent=False
        )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if waveform.shape[-1] <= self.n_fft // 2 + 1:
            raise DataError(
                f"waveform: {waveform.shape[-1]} samples, the mel front end needs more than "
                f"{self.n_fft // 2 + 1} (n_fft // 2 + 1) for its reflect padding"
            )
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            x = F.conv1d(waveform.float().unsqueeze(1), self.preemphasis).squeeze(1)  # [B, N - 1]
            spec = torch.stft(
                x,
                self.n_fft,
                hop_length=self.hop_size,
                win_length=self.win_length,
                window=self.window,
                center=True,
                normalized=False,
                return_complex=True,
            )
            power = torch.view_as_real(spec).pow(2).sum(-1)  # [B, n_fft // 2 + 1, T]
            mel = torch.matmul(self.mel_basis, power)  # [B, n_mels, T]
            return ((mel + 1e-5).log() + 4.5) / 5.0


class PolyphaseUpsampler(nn.Module):
    """Integer-factor upsampling equal to ``scipy.signal.resample_poly(x, factor, 1)``.

    The same Kaiser-windowed sinc (beta 5, ``10 * factor`` taps each side, zero padding at the
    edges) as SciPy, applied as one convolution of the zero-stuffed signal.

    Example
    -------
    >>> PolyphaseUpsampler(2)(torch.zeros(1, 160)).shape
    torch.Size([1, 320])
    """

    def __init__(self, factor: int) -> None:
        super().__init__()
        if factor < 1:
            raise ConfigError(f"upsampling factor: {factor}, need an integer >= 1")
        self.factor = factor
        self.half_len = 10 * factor
        taps: Any = [1.0]
        if factor > 1:
            from scipy.signal import firwin  # imported here: scipy.signal takes a second to import

            taps = firwin(2 * self.half_len + 1, 1.0 / factor, window=("kaiser", 5.0)) * factor
        # the filter is symmetric, so correlation (conv1d) equals convolution
        taps = torch.from_numpy(np.asarray(taps, dtype=np.float32)).view(1, 1, -1)
        self.register_buffer("taps", taps, persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if self.factor == 1:
            return waveform
        batch, n = waveform.shape
        stuffed = waveform.new_zeros(batch, n * self.factor)
        stuffed[:, :: self.factor] = waveform
        return F.conv1d(stuffed.unsqueeze(1), self.taps.to(waveform.dtype), padding=self.half_len).squeeze(1)
