"""A folder of decoded audio (float32 ``.npy``) so that training epochs never decode or resample twice.

An entry's key is the SHA-256 of the file's absolute path, size, modification time (ns), the
sample rate and (when every channel is kept, ``mono=False``) the word ``channels``, so an edited
or replaced file is decoded again and one file can be cached at several rates and layouts.
Entries are written atomically (temporary name, then rename): several DataLoader workers or
processes may fill the same cache at once; the worst case is that two decode the same file and one
rename wins with identical content.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from sslasd._common import atomic_writer, get_logger
from sslasd.data.audio import load_audio

_log = get_logger(__name__)


class AudioCache:
    """Decoded-audio cache in ``folder`` (created on first write).

    Parameters
    ----------
    folder : path-like
        Where the ``.npy`` entries live (two-character subfolders keep directories small).
    min_seconds : float
        Passed to :func:`~sslasd.data.audio.load_audio` on a miss.

    Example
    -------
    >>> import tempfile, pathlib, soundfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> soundfile.write(d / "a.wav", np.zeros(8000), 8000)
    >>> cache = AudioCache(d / "cache")
    >>> cache.load(d / "a.wav", 16000).shape
    (16000,)
    >>> cache.contains(d / "a.wav", 16000)
    True
    """

    def __init__(self, folder: str | os.PathLike, *, min_seconds: float = 0.5) -> None:
        self.folder = Path(folder)
        self.min_seconds = min_seconds

    def entry(self, path: str | os.PathLike, sample_rate: int, *, mono: bool = True) -> Path:
        """The cache file that holds ``path`` decoded at ``sample_rate`` (mono, or every channel)."""
        path = Path(path).resolve()
        stat = path.stat()
        key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}|{int(sample_rate)}" + ("" if mono else "|channels")
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self.folder / digest[:2] / f"{digest}.npy"

    def contains(self, path: str | os.PathLike, sample_rate: int, *, mono: bool = True) -> bool:
        """True when ``path`` at ``sample_rate`` (mono, or every channel) is already cached."""
        return self.entry(path, sample_rate, mono=mono).is_file()

    def load(self, path: str | os.PathLike, sample_rate: int = 16000, *, mono: bool = True) -> np.ndarray:
        """The float32 samples of ``path`` at ``sample_rate`` (mono ``[N]``, or ``[channels, N]`` with
        ``mono=False``; see :func:`~sslasd.data.audio.load_audio`), decoded once and then read from disk.

        Raises
        ------
        DataError
            As :func:`~sslasd.data.audio.load_audio` on a miss (a missing file is reported by path).
        """
        try:
            entry = self.entry(path, sample_rate, mono=mono)
        except FileNotFoundError:
            return load_audio(path, sample_rate, min_seconds=self.min_seconds, mono=mono)  # the DataError
        if entry.is_file():
            try:
                return np.load(entry, allow_pickle=False)
            except (OSError, ValueError) as exc:  # damaged entry (disk trouble): decode again
                _log.warning("cache entry %s unreadable (%s); decoding %s again", entry, exc, path)
        wave = load_audio(path, sample_rate, min_seconds=self.min_seconds, mono=mono)
        with atomic_writer(entry, "wb") as f:
            np.save(f, wave, allow_pickle=False)
        return wave
