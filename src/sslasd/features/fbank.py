"""Kaldi-compatible log mel filter bank, batched, in torch, on CPU or GPU.

BEATs and EAT were trained on ``torchaudio.compliance.kaldi.fbank`` features, computed one clip at
a time. This module computes the same numbers for a whole batch at once (frames by ``unfold``, one
batched FFT, one matrix product with the mel filters), so that the front end can run on the GPU
beside the network. torchaudio itself is not needed.

The filters follow torchaudio rather than Kaldi where the two differ: with 128 bins at 16 kHz and
a 512-point FFT, one mel filter (the fourth) covers no FFT bin. Kaldi and ``kaldi-native-fbank``
refuse such settings; torchaudio keeps the empty filter, whose column is then ``log(float32 eps)``
(about -15.9424) in every frame. BEATs and EAT saw that column in training, so we keep it too.

Only the options these models use are offered: no dither, ``snip_edges`` framing, power
spectrum, log with a float32-eps floor, no energy column.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any, Literal

import torch
from torch import nn

from sslasd.errors import ConfigError, DataError

Window = Literal["povey", "hanning", "hamming", "rectangular"]
WINDOWS: tuple[str, ...] = ("povey", "hanning", "hamming", "rectangular")

# std::numeric_limits<float>::epsilon(): Kaldi's floor before the log.
_EPS = torch.finfo(torch.float32).eps


@dataclass(frozen=True)
class FbankConfig:
    """Options of the Kaldi filter bank; defaults = what BEATs passes to torchaudio.

    Attributes
    ----------
    sample_rate : int
        Sample rate of the waveform in Hz.
    num_mel_bins : int
        Number of triangular mel filters (> 3), the size of the output's last axis.
    frame_length_ms : float
        Window length in milliseconds (25 ms = 400 samples at 16 kHz).
    frame_shift_ms : float
        Hop in milliseconds (10 ms = 160 samples at 16 kHz).
    window : {"povey", "hanning", "hamming", "rectangular"}
        Window function. BEATs uses Kaldi's default ``povey`` (Hann to the power 0.85);
        EAT uses ``hanning``.
    preemphasis : float
        Pre-emphasis coefficient in [0, 1]; each frame is ``x[j] - c * x[j-1]`` (``x[-1] = x[0]``).
    remove_dc_offset : bool
        Subtract each frame's mean before pre-emphasis.
    low_freq : float
        Lowest frequency of the mel filters in Hz.
    high_freq : float
        Highest frequency in Hz; zero or negative means an offset from the Nyquist frequency.
    round_to_power_of_two : bool
        Zero-pad each frame to the next power of two before the FFT (400 -> 512).

    Examples
    --------
    >>> FbankConfig(num_mel_bins=80).frame_length
    400
    """

    sample_rate: int = 16000
    num_mel_bins: int = 128
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    window: Window = "povey"
    preemphasis: float = 0.97
    remove_dc_offset: bool = True
    low_freq: float = 20.0
    high_freq: float = 0.0
    round_to_power_of_two: bool = True

    def __post_init__(self) -> None:
        self.validate()

    @property
    def frame_length(self) -> int:
        """Window length in samples (Kaldi truncates, as torchaudio does)."""
        return int(self.sample_rate * self.frame_length_ms * 0.001)

    @property
    def frame_shift(self) -> int:
        """Hop in samples."""
        return int(self.sample_rate * self.frame_shift_ms * 0.001)

    @property
    def fft_size(self) -> int:
        """FFT length: the window, rounded up to a power of two when asked."""
        n = self.frame_length
        return 1 << (n - 1).bit_length() if self.round_to_power_of_two else n

    def num_frames(self, num_samples: int) -> int:
        """Frames Kaldi's ``snip_edges`` framing makes from ``num_samples`` samples (0 if too short)."""
        if num_samples < self.frame_length:
            return 0
        return 1 + (num_samples - self.frame_length) // self.frame_shift

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming every bad field with its value and what is expected."""
        problems = []
        if self.sample_rate <= 0:
            problems.append(f"sample_rate={self.sample_rate!r}: expected > 0")
        if self.num_mel_bins <= 3:
            problems.append(f"num_mel_bins={self.num_mel_bins!r}: expected > 3")
        if self.window not in WINDOWS:
            problems.append(f"window={self.window!r}: expected one of {', '.join(WINDOWS)}")
        if not 0.0 <= self.preemphasis <= 1.0:
            problems.append(f"preemphasis={self.preemphasis!r}: expected in [0, 1]")
        if self.sample_rate > 0:
            if self.frame_length < 2:
                problems.append(f"frame_length_ms={self.frame_length_ms!r}: expected >= 2 samples")
            if self.frame_shift < 1:
                problems.append(f"frame_shift_ms={self.frame_shift_ms!r}: expected >= 1 sample")
            elif self.fft_size % 2:
                problems.append(
                    f"frame_length_ms={self.frame_length_ms!r}: an odd FFT size ({self.fft_size}); "
                    "set round_to_power_of_two=True or use an even window"
                )
            nyquist = 0.5 * self.sample_rate
            high = self.high_freq + nyquist if self.high_freq <= 0 else self.high_freq
            if not (0.0 <= self.low_freq < nyquist and 0.0 < high <= nyquist and self.low_freq < high):
                problems.append(
                    f"low_freq={self.low_freq!r}, high_freq={self.high_freq!r}: expected "
                    f"0 <= low < high <= Nyquist ({nyquist:g} Hz; high <= 0 is an offset from Nyquist)"
                )
        if problems:
            raise ConfigError("FbankConfig: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """The options as a plain dict (``FbankConfig(**d)`` rebuilds it)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FbankConfig:
        """Build from a dict, refusing unknown keys by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"FbankConfig: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**data)


def _mel(freq: torch.Tensor | float) -> Any:
    """Kaldi's mel scale (natural log, 1127 * ln(1 + f/700))."""
    if isinstance(freq, torch.Tensor):
        return 1127.0 * torch.log(1.0 + freq / 700.0)
    return 1127.0 * math.log(1.0 + freq / 700.0)


@lru_cache(maxsize=32)
def mel_filters(config: FbankConfig) -> torch.Tensor:
    """Triangular mel filters ``[fft_size // 2 + 1, num_mel_bins]`` (float32, CPU), torchaudio's way.

    Computed in float32 exactly as ``torchaudio.compliance.kaldi.get_mel_banks`` does (so the same
    FFT bins fall inside each filter), with a zero row for the Nyquist bin. Filters that cover no
    FFT bin stay all-zero (see the module docstring). Cached per config; do not modify in place.
    """
    nyquist = 0.5 * config.sample_rate
    high = config.high_freq + nyquist if config.high_freq <= 0 else config.high_freq
    mel_low, mel_high = _mel(config.low_freq), _mel(high)
    delta = (mel_high - mel_low) / (config.num_mel_bins + 1)
    index = torch.arange(config.num_mel_bins).unsqueeze(1)
    left = mel_low + index * delta  # [M, 1]
    center = mel_low + (index + 1.0) * delta
    right = mel_low + (index + 2.0) * delta
    bin_width = config.sample_rate / config.fft_size
    mel = _mel(bin_width * torch.arange(config.fft_size // 2)).unsqueeze(0)  # [1, K]
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    filters = torch.minimum(up, down).clamp_min(0.0)  # [M, K]
    filters = torch.cat([filters, filters.new_zeros(config.num_mel_bins, 1)], dim=1)  # Nyquist bin
    return filters.T.contiguous()


def window_function(config: FbankConfig, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The analysis window of ``config.frame_length`` samples (symmetric, as Kaldi's), in ``dtype``."""
    n = config.frame_length
    if config.window == "rectangular":
        return torch.ones(n, dtype=dtype)
    if config.window == "hamming":
        return torch.hamming_window(n, periodic=False, alpha=0.54, beta=0.46, dtype=dtype)
    hann = torch.hann_window(n, periodic=False, dtype=dtype)
    return hann.pow(0.85) if config.window == "povey" else hann


def _check_waveform(waveform: torch.Tensor, config: FbankConfig) -> None:
    if not isinstance(waveform, torch.Tensor):
        raise DataError(f"fbank: waveform must be a torch.Tensor [B, N], got {type(waveform).__name__}")
    if waveform.dim() != 2:
        raise DataError(f"fbank: waveform must be [B, N] (batch, samples), got shape {tuple(waveform.shape)}")
    if waveform.shape[1] < config.frame_length:
        raise DataError(
            f"fbank: waveform has {waveform.shape[1]} samples, need at least {config.frame_length} "
            f"(one {config.frame_length_ms} ms frame at {config.sample_rate} Hz)"
        )
    if not (waveform.is_floating_point() or waveform.dtype in (torch.int16, torch.int32)):
        raise DataError(f"fbank: waveform dtype {waveform.dtype} is not a float or integer PCM type")


@lru_cache(maxsize=64)
def _constants(
    config: FbankConfig, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Window and filters of ``config`` in ``dtype`` on ``device``, made once per triple.

    The window is computed in ``dtype`` itself, as torchaudio does: its rounding shows in the
    lowest, pre-emphasis-attenuated bins.
    """
    return window_function(config, dtype).to(device), mel_filters(config).to(device, dtype)


def compute_fbank(waveform: torch.Tensor, config: FbankConfig) -> torch.Tensor:
    """Log mel energies ``[B, T, M]`` of ``waveform`` ``[B, N]`` on the waveform's device.

    Works in float64 for float64 input, else in float32 (also under autocast: an FFT in half
    precision would not match Kaldi).
    """
    _check_waveform(waveform, config)
    dtype = torch.float64 if waveform.dtype == torch.float64 else torch.float32
    window, filters = _constants(config, waveform.device, dtype)
    with torch.autocast(device_type=waveform.device.type, enabled=False):
        x = waveform.to(dtype)
        frames = x.unfold(1, config.frame_length, config.frame_shift)  # [B, T, L], a view
        if config.remove_dc_offset:
            frames = frames - frames.mean(dim=-1, keepdim=True)
        # Pre-emphasis x[j] - c * x[j - 1] with x[-1] = x[0], in the same float operations as
        # torchaudio (the rounding shows in the lowest, most attenuated bins) but fewer passes.
        previous = torch.empty_like(frames)
        torch.mul(frames[..., :-1], config.preemphasis, out=previous[..., 1:])
        torch.mul(frames[..., :1], config.preemphasis, out=previous[..., :1])
        windowed = torch.sub(frames, previous, out=previous).mul_(window)
        spectrum = torch.fft.rfft(windowed, n=config.fft_size)  # [B, T, K + 1]
        power = spectrum.real.square() + spectrum.imag.square()
        energies = power @ filters  # [B, T, M]
        return energies.clamp_min(_EPS).log()


class Fbank(nn.Module):
    """Batched Kaldi-compatible log mel filter bank as an ``nn.Module``.

    It has no parameters or buffers: the window and filters are made once per device and kept in
    a small cache, so ``model.to(torch.bfloat16)`` cannot round them and they never enter a state
    dict. The computation runs in float32 whatever the surrounding dtype or autocast.

    Parameters
    ----------
    config : FbankConfig, optional
        Options; ``FbankConfig()`` (BEATs' settings) when omitted.

    Examples
    --------
    >>> fb = Fbank(FbankConfig(num_mel_bins=80))
    >>> fb(torch.zeros(2, 16000)).shape
    torch.Size([2, 98, 80])
    """

    def __init__(self, config: FbankConfig | None = None) -> None:
        super().__init__()
        self.config = config or FbankConfig()

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Log mel filter bank ``[B, T, num_mel_bins]`` of ``waveform`` ``[B, N]``.

        Raises
        ------
        DataError
            If ``waveform`` is not ``[B, N]`` or is shorter than one frame.
        """
        return compute_fbank(waveform, self.config)

    def extra_repr(self) -> str:
        c = self.config
        return f"num_mel_bins={c.num_mel_bins}, sample_rate={c.sample_rate}, window={c.window!r}"


def fbank(
    waveform: torch.Tensor,
    sample_rate: int = 16000,
    num_mel_bins: int = 128,
    frame_length_ms: float = 25.0,
    frame_shift_ms: float = 10.0,
    **options: Any,
) -> torch.Tensor:
    """Kaldi-compatible log mel filter bank of a batch, equal to ``torchaudio.compliance.kaldi.fbank``.

    Parameters
    ----------
    waveform : Tensor ``[B, N]``
        Samples in the scale the model expects (BEATs multiplies [-1, 1] audio by 2**15 first).
    sample_rate, num_mel_bins, frame_length_ms, frame_shift_ms
        As in :class:`FbankConfig`.
    **options
        Further :class:`FbankConfig` fields (``window``, ``preemphasis``, ``low_freq``...).

    Returns
    -------
    Tensor ``[B, T, num_mel_bins]``
        ``T = 1 + (N - frame_length) // frame_shift``; float32 (float64 for float64 input), on the
        waveform's device.

    Raises
    ------
    ConfigError
        For invalid options.
    DataError
        If ``waveform`` is not ``[B, N]`` or is shorter than one frame.

    Examples
    --------
    >>> fbank(torch.randn(3, 16000) * 1000).shape
    torch.Size([3, 98, 128])
    """
    config = FbankConfig.from_dict(
        dict(
            sample_rate=sample_rate,
            num_mel_bins=num_mel_bins,
            frame_length_ms=frame_length_ms,
            frame_shift_ms=frame_shift_ms,
            **options,
        )
    )
    return compute_fbank(waveform, config)
