"""Fixtures of the data-layer tests: writers of small audio files and DCASE-layout folders."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

WriteWav = Callable[..., Path]
MakeLayout = Callable[..., Path]


@pytest.fixture
def write_wav() -> WriteWav:
    """``write_wav(path, seconds=0.6, sr=16000, channels=1, seed=0, subtype="PCM_16")``: noise, 0.1 RMS."""

    def write(
        path: Path,
        seconds: float = 0.6,
        sr: int = 16000,
        channels: int = 1,
        seed: int = 0,
        subtype: str = "PCM_16",
    ) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = 0.1 * np.random.default_rng(seed).standard_normal((int(seconds * sr), channels))
        sf.write(path, data, sr, subtype=subtype)
        return path

    return write


@pytest.fixture
def make_layout(tmp_path: Path, write_wav: WriteWav) -> MakeLayout:
    """``make_layout(relative_paths, root_name="root")``: a data root holding a short clip at each path."""

    def make(relative_paths: Iterable[str], root_name: str = "root") -> Path:
        root = tmp_path / root_name
        for i, rel in enumerate(relative_paths):
            write_wav(root / rel, seed=i)
        return root

    return make
