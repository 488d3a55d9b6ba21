"""Channel policies: what the model sees of a clip recorded with several microphones.

DCASE 2026 clips hold two channels, the near microphone first and the far one second (the order
the organisers' files and participants' code use). A policy turns the channels of each window into
the waves the model sees; every path applies it the same way, per fixed-length window (training
crops, scoring windows of ``sslasd score``, ``detect``, ``load().score``), so that a long
recording read span by span gives exactly the numbers of the same audio read whole:

``mean`` (default)
    the channels averaged when the file is read: what sslasd always did, the identity for mono
    audio, and the documented conversion for any channel count (a stereo file given to a run
    fitted on mono audio is mixed, as ``sslasd detect`` always mixed it).
``near`` / ``far``
    one microphone.
``stack``
    both microphones as two views of the clip: in training each channel is one row of the batch
    with the clip's labels (so the margin and contrastive losses pull the two views together; a
    batch of B clips holds 2B rows); in scoring each window's embedding is the mean of its two
    views' embeddings, in banks and test clips alike. The backbones take one waveform, so the
    views are fused in embedding space, not at the input.
``subtract``
    the near channel with the far one's magnitude spectrum subtracted
    (:func:`~sslasd.data.subtraction.subtract_far`: shared room noise removed, the near-only
    machine kept).

Every policy but ``mean`` needs exactly two channels: a one-channel (or three-channel) file is a
:class:`~sslasd.errors.DataError` naming the file and the policy, never a silent conversion.

Example
-------
>>> policy = ChannelPolicy("stack")
>>> windows = np.zeros((3, 2, 16000), dtype=np.float32)       # [W, channels, N]
>>> policy.mono, policy.views, policy.apply(windows, 16000, where="x.wav").shape
(False, 2, (3, 2, 16000))
>>> ChannelPolicy("near").apply(windows, 16000, where="x.wav").shape
(3, 16000)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from sslasd.data.subtraction import subtract_far
from sslasd.errors import ConfigError, DataError

CHANNEL_POLICIES: tuple[str, ...] = ("mean", "near", "far", "stack", "subtract")
NEAR, FAR = 0, 1  # channel indexes of the two microphones


@dataclass(frozen=True)
class ChannelPolicy:
    """A channel policy and the settings of its subtraction (see the module docstring).

    Attributes
    ----------
    name : {"mean", "near", "far", "stack", "subtract"}
    factor : float
        Over-subtraction factor of ``subtract`` (>= 0).
    floor : float
        Gain floor of ``subtract``, in [0, 1].

    Raises
    ------
    ConfigError
        An unknown name (the message lists the known ones) or a bad factor or floor.
    """

    name: str = "mean"
    factor: float = 1.0
    floor: float = 0.1

    def __post_init__(self) -> None:
        if self.name not in CHANNEL_POLICIES:
            raise ConfigError(f"data.channels: {self.name!r} is not one of {', '.join(CHANNEL_POLICIES)}")
        if self.factor < 0 or not 0 <= self.floor <= 1:
            raise ConfigError(
                f"data.subtract_factor {self.factor!r} must be >= 0 and data.subtract_floor "
                f"{self.floor!r} in [0, 1]"
            )

    @property
    def mono(self) -> bool:
        """Read files mixed to mono (``mean``), rather than with every channel kept."""
        return self.name == "mean"

    @property
    def views(self) -> int:
        """Waves the model sees per window: 2 for ``stack``, else 1."""
        return 2 if self.name == "stack" else 1

    def apply(self, windows: np.ndarray, sample_rate: int, *, where: str) -> np.ndarray:
        """The model's waves of ``windows``.

        ``windows``: as read for this policy, ``[..., N]`` for ``mean`` (returned as they are) and
        ``[..., channels, N]`` otherwise. Returns ``[..., N]``, or ``[..., 2, N]`` for ``stack``.

        Raises
        ------
        DataError
            The windows do not hold two channels (``where`` names the file).
        """
        if self.mono:
            return windows
        channels = windows.shape[-2] if windows.ndim >= 2 else 1
        if channels != 2:
            raise DataError(f"{where}: {_needs_two(self.name, channels)}")
        near, far = windows[..., NEAR, :], windows[..., FAR, :]
        if self.name == "near":
            return np.ascontiguousarray(near)
        if self.name == "far":
            return np.ascontiguousarray(far)
        if self.name == "stack":
            return windows
        return subtract_far(near, far, sample_rate, factor=self.factor, floor=self.floor)

    def check_files(self, paths: Iterable[str | os.PathLike]) -> None:
        """Refuse, before any work, files this policy cannot use (reads only the headers).

        Raises
        ------
        DataError
            A file does not hold two channels, for a policy that needs them; the message names
            the first such file and counts them all.
        """
        if self.mono:
            return
        wrong = [(p, c) for p in paths if (c := sf.info(str(p)).channels) != 2]
        if wrong:
            path, channels = wrong[0]
            more = f" ({len(wrong)} such files)" if len(wrong) > 1 else ""
            raise DataError(f"{path}: {_needs_two(self.name, channels)}{more}")


def _needs_two(name: str, channels: int) -> str:
    return (
        f"{channels} channel(s), but data.channels={name} needs 2 (near and far microphone); "
        "use data.channels=mean for audio of any channel count"
    )
