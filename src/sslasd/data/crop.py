"""Fixed-length clips: crop long waves, wrap short ones.

Every clip of a machine becomes ``num_samples`` long (``clip_seconds(year, machine) * sample_rate``)
so that batches stack. Short clips are padded by repeating the clip (wrap), not with zeros: a machine
sound is stationary or periodic, and silence would be a spectral change the detector could mistake for
an anomaly (ASDKit's ``tile`` mode makes the same choice). Waves are ``[N]`` or, with every channel
kept, ``[channels, N]``: the channels are cut at the same samples, time being the last axis.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np

from sslasd.errors import ConfigError, DataError


def crop_or_pad(wave: np.ndarray, num_samples: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Return ``num_samples`` samples of ``wave`` (``[N]`` or ``[channels, N]``: time is the last axis).

    Without ``rng`` (scoring): the first ``num_samples`` samples of the clip repeated end to end, so
    the result is deterministic. With ``rng`` (training): a window starting at a random sample of that
    periodic extension: a random crop of a long clip, a random circular shift of a short one.

    Raises
    ------
    DataError
        ``wave`` is neither 1-D nor 2-D, or is empty.

    Example
    -------
    >>> crop_or_pad(np.arange(3.0), 7)
    array([0., 1., 2., 0., 1., 2., 0.])
    >>> crop_or_pad(np.arange(10.0), 4)
    array([0., 1., 2., 3.])
    >>> crop_or_pad(np.arange(6.0).reshape(2, 3), 4)
    array([[0., 1., 2., 0.],
           [3., 4., 5., 3.]])
    """
    if num_samples <= 0:
        raise ConfigError(f"num_samples: {num_samples!r}, expected a positive number of samples")
    wave = np.asarray(wave)
    if wave.ndim not in (1, 2) or wave.size == 0:
        raise DataError(
            f"crop_or_pad: expected a non-empty [N] or [channels, N] wave, got shape {wave.shape}"
        )
    length = wave.shape[-1]
    if rng is None:
        start = 0
    elif length > num_samples:
        start = int(rng.integers(0, length - num_samples + 1))
    else:
        start = int(rng.integers(0, length))
    if start + num_samples <= length:
        return wave[..., start : start + num_samples].copy()
    return np.take(wave, np.arange(start, start + num_samples) % length, axis=-1)


def split_windows(
    wave: np.ndarray, num_samples: int, hop: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The scoring windows ``[W, num_samples]`` of a wave ``[N]`` (``[W, channels, num_samples]`` of a
    wave ``[channels, N]``) and their start samples ``[W]``.

    The one rule by which every scoring path (``sslasd score``, ``detect``, ``load().score``, a
    bundle, the memory banks) cuts a recording, so that the same audio gives the same number
    whatever its length. A wave no longer than ``num_samples`` is one window (wrapped like
    :func:`crop_or_pad`); a longer one is covered by windows ``hop`` apart (default half a window),
    the last one ending exactly at the end, so no sample is left unscored.

    Raises
    ------
    ConfigError
        ``num_samples`` or ``hop`` is not positive.
    DataError
        ``wave`` is neither 1-D nor 2-D, or is empty.

    Example
    -------
    >>> w, starts = split_windows(np.arange(10.0), 4)
    >>> starts.tolist()
    [0, 2, 4, 6]
    >>> split_windows(np.arange(3.0), 4)[0]
    array([[0., 1., 2., 0.]])
    """
    wave = np.asarray(wave)
    if wave.ndim not in (1, 2) or wave.shape[-1] <= num_samples:
        _check_hop(hop)
        return crop_or_pad(wave, num_samples)[None], np.zeros(1, dtype=np.int64)
    starts = window_starts(wave.shape[-1], num_samples, hop)
    return np.stack([wave[..., s : s + num_samples] for s in starts]), starts


def window_starts(length: int, num_samples: int, hop: int | None = None) -> np.ndarray:
    """Start samples of :func:`split_windows`'s windows over a recording ``length`` samples long.

    Example
    -------
    >>> window_starts(10, 4).tolist(), window_starts(3, 4).tolist()
    ([0, 2, 4, 6], [0])
    """
    _check_hop(hop)
    if length <= num_samples:
        return np.zeros(1, dtype=np.int64)
    starts = list(range(0, length - num_samples + 1, hop or max(1, num_samples // 2)))
    if starts[-1] != length - num_samples:
        starts.append(length - num_samples)
    return np.asarray(starts, dtype=np.int64)


class Readable(Protocol):
    """A recording that can be read in spans, ``[n]`` or ``[channels, n]`` (an
    :class:`~sslasd.data.audio.AudioStream`)."""

    length: int

    def read(self, start: int, stop: int) -> np.ndarray: ...


def stream_windows(
    stream: Readable, num_samples: int, hop: int | None = None, per_batch: int = 32
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """:func:`split_windows` of a whole recording, ``per_batch`` windows at a time.

    Yields ``(windows, starts)`` batches whose concatenation equals ``split_windows(whole, ...)``,
    reading only each batch's span, so memory does not grow with the recording's length.
    """
    if stream.length <= num_samples:
        yield split_windows(stream.read(0, stream.length), num_samples, hop)
        return
    starts = window_starts(stream.length, num_samples, hop)
    for i in range(0, len(starts), per_batch):
        batch = starts[i : i + per_batch]
        span = stream.read(int(batch[0]), int(batch[-1]) + num_samples)
        yield np.stack([span[..., s - batch[0] : s - batch[0] + num_samples] for s in batch]), batch


def _check_hop(hop: int | None) -> None:
    if hop is not None and hop <= 0:
        raise ConfigError(f"hop: {hop!r}, expected a positive number of samples")
