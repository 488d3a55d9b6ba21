"""The decoded-audio cache: same samples as decoding, keyed on the file's state, parallel-safe."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from sslasd.data import AudioCache, load_audio
from sslasd.errors import DataError

WriteWav = Callable[..., Path]


def test_cached_samples_equal_decoded_samples(tmp_path: Path, write_wav: WriteWav) -> None:
    path = write_wav(tmp_path / "a.wav", sr=44100)
    cache = AudioCache(tmp_path / "cache")
    first = cache.load(path, 16000)
    assert cache.contains(path, 16000)
    second = cache.load(path, 16000)
    np.testing.assert_array_equal(first, load_audio(path, 16000))
    np.testing.assert_array_equal(second, first)
    assert second.dtype == np.float32


def test_hits_read_the_entry_not_the_audio(tmp_path: Path, write_wav: WriteWav) -> None:
    path = write_wav(tmp_path / "a.wav")
    cache = AudioCache(tmp_path / "cache")
    cache.load(path, 16000)
    np.save(cache.entry(path, 16000), np.full(5, 7.0, dtype=np.float32))  # mark the entry
    np.testing.assert_array_equal(cache.load(path, 16000), np.full(5, 7.0))


def test_a_changed_file_or_rate_is_a_new_entry(tmp_path: Path, write_wav: WriteWav) -> None:
    path = write_wav(tmp_path / "a.wav", seed=0)
    cache = AudioCache(tmp_path / "cache")
    old = cache.load(path, 16000)
    assert cache.entry(path, 8000) != cache.entry(path, 16000)
    assert cache.load(path, 8000).shape == (old.size // 2,)
    write_wav(path, seed=1)
    os.utime(path, ns=(10**18, 10**18))  # a different mtime even on coarse file systems
    assert not cache.contains(path, 16000)
    np.testing.assert_array_equal(cache.load(path, 16000), load_audio(path))


def test_a_damaged_entry_is_decoded_again(tmp_path: Path, write_wav: WriteWav) -> None:
    path = write_wav(tmp_path / "a.wav")
    cache = AudioCache(tmp_path / "cache")
    cache.load(path, 16000)
    cache.entry(path, 16000).write_bytes(b"garbage")
    np.testing.assert_array_equal(cache.load(path, 16000), load_audio(path))


def test_bad_audio_raises_and_caches_nothing(tmp_path: Path) -> None:
    cache = AudioCache(tmp_path / "cache")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(DataError, match="empty file"):
        cache.load(tmp_path / "empty.wav", 16000)
    with pytest.raises(DataError, match="no such audio file"):
        cache.load(tmp_path / "missing.wav", 16000)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.npy"))


def test_mono_and_every_channel_are_separate_entries(tmp_path: Path, write_wav: WriteWav) -> None:
    path = write_wav(tmp_path / "two.wav", channels=2)
    cache = AudioCache(tmp_path / "cache")
    np.testing.assert_array_equal(cache.load(path, 16000), load_audio(path))
    assert not cache.contains(path, 16000, mono=False)
    both = cache.load(path, 16000, mono=False)
    np.testing.assert_array_equal(both, load_audio(path, mono=False))
    assert both.shape[0] == 2 and cache.contains(path, 16000, mono=False)
    np.testing.assert_array_equal(cache.load(path, 16000, mono=False), both)  # read back from disk
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 2


def _load_in_worker(args: tuple[str, str]) -> np.ndarray:
    folder, path = args
    return AudioCache(folder).load(path, 16000)


def test_parallel_writers_agree(tmp_path: Path, write_wav: WriteWav) -> None:
    paths = [str(write_wav(tmp_path / f"{i}.wav", seed=i)) for i in range(3)]
    jobs = [(str(tmp_path / "cache"), p) for p in paths * 4]
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_load_in_worker, jobs))
    for (_, path), wave in zip(jobs, results):
        np.testing.assert_array_equal(wave, load_audio(path))
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 3
    assert not list((tmp_path / "cache").rglob("*.tmp"))
