"""Read an audio file as float32 at a fixed sample rate (mono, or every channel when asked), or say
exactly why it cannot be used.

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

from sslasd.data.resample import native_span, resample, resampled_length
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


def load_audio(
    path: str | os.PathLike, sample_rate: int = 16000, *, min_seconds: float = 0.5, mono: bool = True
) -> np.ndarray:
    """Read ``path`` as float32 samples at ``sample_rate``: mono, or every channel with ``mono=False``.

    With ``mono`` (the default) the channels are averaged; without it they are kept, for a channel
    policy to choose from (DCASE 2026: near and far microphone, see :mod:`sslasd.data.channels`).
    Any other sample rate is resampled with a polyphase filter (each channel on its own).

    Parameters
    ----------
    path : path-like
        Any format libsndfile reads (WAV, FLAC, OGG...).
    sample_rate : int
        Output rate in Hz.
    min_seconds : float
        Refuse clips shorter than this (measured before resampling).
    mono : bool
        Average the channels (``[num_samples]``), or keep them (``[channels, num_samples]``, also for
        a one-channel file).

    Returns
    -------
    numpy.ndarray
        float32, shape ``[num_samples]`` (``mono``) or ``[channels, num_samples]``.

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
    >>> load_audio(p).shape, load_audio(p).dtype, load_audio(p, mono=False).shape
    ((16000,), dtype('float32'), (2, 16000))
    """
    if sample_rate <= 0:
        raise ConfigError(f"sample_rate: {sample_rate!r} Hz, expected a positive integer")
    data, native_rate = _read_checked(Path(path), min_seconds)
    return np.ascontiguousarray(resample(_layout(data, mono), native_rate, sample_rate), dtype=np.float32)


def check_audio_file(path: str | os.PathLike, *, min_seconds: float = 0.5) -> AudioInfo:
    """Open ``path`` and scan every sample, raising the same DataError :func:`load_audio` would.

    Used by ``index_dataset(check_audio=True)`` to find bad files before training starts.
    """
    data, native_rate = _read_checked(Path(path), min_seconds)
    return AudioInfo(sample_rate=int(native_rate), channels=data.shape[1], frames=data.shape[0])


class AudioStream:
    """A recording read span by span at a fixed rate, never decoded whole.

    Why: ``sslasd detect`` on a 30-min recording would otherwise hold it all in memory (683 MB at
    16 kHz mono, more at 44.1 kHz stereo). The container checks of :func:`load_audio` (missing,
    empty, not audio, truncated, no samples, too short) are made when the stream is opened; the
    NaN/inf check is made on each span as it is read. A span is mixed to mono (or, with
    ``mono=False``, keeps its ``channels`` as ``[channels, n]``) and resampled from a slightly wider
    native range (:func:`~sslasd.data.resample.native_span`), so ``read(0, length)`` and any
    concatenation of spans equal :func:`load_audio` of the whole file (with the same ``mono``) exactly.

    Example
    -------
    >>> import tempfile, pathlib, soundfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "noise.wav"
    >>> soundfile.write(p, np.random.default_rng(0).standard_normal(44100) * 0.1, 44100)
    >>> s = AudioStream(p, 16000)
    >>> s.length, np.array_equal(np.concatenate([s.read(0, 7000), s.read(7000, s.length)]), load_audio(p))
    (16000, True)
    """

    def __init__(
        self, path: str | os.PathLike, sample_rate: int, *, min_seconds: float = 0.5, mono: bool = True
    ) -> None:
        if sample_rate <= 0:
            raise ConfigError(f"sample_rate: {sample_rate!r} Hz, expected a positive integer")
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.mono = mono
        _check_container(self.path)
        try:
            info = sf.info(str(self.path))
        except (sf.SoundFileError, RuntimeError, TypeError) as exc:
            raise DataError(f"{self.path}: cannot be read as audio ({_short(exc)})") from None
        self.native_rate, self.frames = int(info.samplerate), int(info.frames)
        self.channels = int(info.channels)
        _check_length(self.path, self.frames, self.native_rate, min_seconds)
        self.length = resampled_length(self.frames, self.native_rate, sample_rate)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples ``[start, stop)`` at ``sample_rate`` as float32 (clipped to the recording): ``[n]``
        mono, or ``[channels, n]`` with ``mono=False``."""
        start, stop = max(0, start), min(self.length, stop)
        a, b, offset = native_span(start, stop, self.native_rate, self.sample_rate, self.frames)
        try:
            with sf.SoundFile(str(self.path)) as f:
                f.seek(a)
                data = f.read(b - a, dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError, TypeError) as exc:
            raise DataError(f"{self.path}: cannot be read as audio ({_short(exc)})") from None
        _check_finite(self.path, data, at=a / self.native_rate)
        wave = resample(_layout(data, self.mono), self.native_rate, self.sample_rate)
        return np.ascontiguousarray(wave[..., start - offset : stop - offset], dtype=np.float32)


def _layout(data: np.ndarray, mono: bool) -> np.ndarray:
    """soundfile's ``[frames, channels]`` as ``[frames]`` (channels averaged) or ``[channels, frames]``."""
    if not mono:
        return data.T
    return data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]


def _read_checked(path: Path, min_seconds: float) -> tuple[np.ndarray, int]:
    """Read all samples as float32 ``[frames, channels]`` after every check."""
    _check_container(path)
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, TypeError) as exc:
        raise DataError(f"{path}: cannot be read as audio ({_short(exc)})") from None
    _check_length(path, data.shape[0], int(rate), min_seconds)
    _check_finite(path, data)
    return data, int(rate)


def _check_container(path: Path) -> None:
    """DataError when ``path`` is missing, empty, or a WAV cut short (before libsndfile reads it)."""
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


def _check_length(path: Path, frames: int, rate: int, min_seconds: float) -> None:
    if frames == 0:
        raise DataError(f"{path}: holds no audio samples")
    seconds = frames / rate
    if seconds < min_seconds:
        raise DataError(f"{path}: {seconds:.2f} s long, need >= {min_seconds:g} s")


def _check_finite(path: Path, data: np.ndarray, at: float | None = None) -> None:
    """DataError when ``data`` holds NaN or inf (``at``: start of the span in seconds, if a span)."""
    finite = np.isfinite(data)
    if finite.all():
        return
    bad = int(data.size - finite.sum())
    what = "all samples are" if bad == data.size else f"{bad} of {data.size} samples are"
    where = "" if at is None else f" in the span from {at:.1f} s"
    raise DataError(f"{path}: {what} NaN or inf{where}")


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
