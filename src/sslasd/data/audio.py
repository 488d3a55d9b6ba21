"""Read an audio file as float32 mono at a fixed sample rate, or say exactly why it cannot be used.

Reading is soundfile's (libsndfile); resampling is :func:`scipy.signal.resample_poly`, a polyphase
FIR with a Kaiser window at the exact rational ratio (44.1 kHz -> 16 kHz is 160/441), which keeps a
tone's frequency and level. Every problem is a :class:`~sslasd.errors.DataError` naming the file:
missing, empty, not audio, truncated (libsndfile would silently read the part that is there), no
samples, NaN/inf samples, or shorter than ``min_seconds``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from sslasd.data.resample import resample
from sslasd.errors import ConfigError, DataError

_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # streaming writers leave the RIFF data size at one of these


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`check_audio_file` found: native sample rate, channels, frames and duration."""

    sample_rate: int
    channels: int
    frames: int

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return self.frames / self.sample_rate


def load_audio(path: str | os.PathLike, sample_rate: int = 16000, *, min_seconds: float = 0.5) -> np.ndarray:
    """Read ``path`` as float32 mono samples at ``sample_rate``.

    Channels are averaged; any other sample rate is resampled with a polyphase filter.

    Parameters
    ----------
    path : path-like
        Any format libsndfile reads (WAV, FLAC, OGG...).
    sample_rate : int
        Output rate in Hz.
    min_seconds : float
        Refuse clips shorter than this (measured before resampling).

    Returns
    -------
    numpy.ndarray
        float32, shape ``[num_samples]``.

    Raises
    ------
    DataError
        The file is missing, empty, unreadable, truncated, holds no or non-finite samples, or is too
        short; the message names the file and the problem.

    Example
    -------
    >>> import tempfile, pathlib, soundfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "tone.wav"
    >>> soundfile.write(p, np.zeros((44100, 2)), 44100)
    >>> load_audio(p).shape, load_audio(p).dtype
    ((16000,), dtype('float32'))
    """
    if sample_rate <= 0:
        raise ConfigError(f"sample_rate: {sample_rate!r} Hz, expected a positive integer")
    data, native_rate = _read_checked(Path(path), min_seconds)
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.ascontiguousarray(resample(wave, native_rate, sample_rate), dtype=np.float32)


def check_audio_file(path: str | os.PathLike, *, min_seconds: float = 0.5) -> AudioInfo:
    """Open ``path`` and scan every sample, raising the same DataError :func:`load_audio` would.

    Used by ``index_dataset(check_audio=True)`` to find bad files before training starts.
    """
    data, native_rate = _read_checked(Path(path), min_seconds)
    return AudioInfo(sample_rate=int(native_rate), channels=data.shape[1], frames=data.shape[0])


def _read_checked(path: Path, min_seconds: float) -> tuple[np.ndarray, int]:
    """Read all samples as float32 ``[frames, channels]`` after every check."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DataError(f"{path}: no such audio file") from None
    if size == 0:
        raise DataError(f"{path}: empty file (0 bytes)")
    shortfall = _wav_shortfall(path)
    if shortfall is not None:
        declared, present = shortfall
        raise DataError(f"{path}: truncated WAV (header declares {declared} sample bytes, {present} present)")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, TypeError) as exc:
        raise DataError(f"{path}: cannot be read as audio ({_short(exc)})") from None
    if data.shape[0] == 0:
        raise DataError(f"{path}: holds no audio samples")
    finite = np.isfinite(data)
    if not finite.all():
        bad = int(data.size - finite.sum())
        what = "all samples are" if bad == data.size else f"{bad} of {data.size} samples are"
        raise DataError(f"{path}: {what} NaN or inf")
    seconds = data.shape[0] / rate
    if seconds < min_seconds:
        raise DataError(f"{path}: {seconds:.2f} s long, need >= {min_seconds:g} s")
    return data, int(rate)


def _wav_shortfall(path: Path) -> tuple[int, int] | None:
    """(declared, present) sample bytes when a RIFF/WAVE file is cut short, else None.

    libsndfile reads a truncated WAV without complaint (it shrinks the frame count), so the RIFF
    chunks are walked here and the ``data`` chunk's declared size compared with the bytes present.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = os.fstat(f.fileno()).st_size
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk = f.read(8)
            chunk_size = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                present = size - pos - 8
                if chunk_size in _UNKNOWN_SIZES or present >= chunk_size:
                    return None
                return chunk_size, present
            pos += 8 + chunk_size + (chunk_size & 1)
    return None


def _short(exc: Exception) -> str:
    """libsndfile's message without the path it repeats."""
    text = str(exc)
    return text.split(": ", 1)[1] if text.startswith("Error opening") and ": " in text else text
