"""SpecAugment's time and frequency masks for training (Park et al., Interspeech 2019).

Each clip of a batch gets its own masks: ``freq_masks`` bands of ``0..freq_width`` adjacent mel
bins and ``time_masks`` spans of ``0..time_width`` adjacent frames, each width and start drawn
uniformly, as in the paper (no time warping). Masked cells take ``fill_value``. In eval mode the
module is the identity, so the same model object serves training and scoring.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from sslasd._common.config_section import ConfigSection
from sslasd.errors import ConfigError, DataError


def _band_mask(
    batch: int, size: int, count: int, max_width: int, device: torch.device, generator: torch.Generator | None
) -> torch.Tensor:
    """``[batch, size]`` bool: True inside any of ``count`` random bands of width ``0..max_width``."""
    max_width = min(max_width, size)
    if count == 0 or max_width == 0:
        return torch.zeros(batch, size, dtype=torch.bool, device=device)
    # Draw on the CPU so that a CPU generator gives the same masks on every device.
    width = torch.randint(0, max_width + 1, (batch, count, 1), generator=generator)
    start = (torch.rand(batch, count, 1, generator=generator) * (size - width + 1)).long()
    position = torch.arange(size).view(1, 1, size)
    inside = (position >= start) & (position < start + width)  # [B, count, size]
    return inside.any(dim=1).to(device)


class SpecAugment(nn.Module):
    """Random frequency and time masks on ``[B, T, F]`` features; identity in eval mode.

    A run builds it from its ``augment`` section (:class:`AugmentConfig`, where the defaults live).

    Parameters
    ----------
    freq_masks : int
        Number of frequency bands masked per clip.
    freq_width : int
        Largest width of a frequency band, in bins (each width is drawn from ``0..freq_width``).
    time_masks : int
        Number of time spans masked per clip.
    time_width : int
        Largest width of a time span, in frames (clipped to the clip's length).
    fill_value : float
        Value written into masked cells; 0 is the mean of normalised BEATs/EAT features.

    Raises
    ------
    ConfigError
        If a count or width is negative or not an integer.

    Examples
    --------
    >>> aug = SpecAugment(freq_masks=2, freq_width=8, time_masks=2, time_width=20)
    >>> x = torch.randn(4, 100, 128)
    >>> aug.eval()(x) is x
    True
    """

    def __init__(
        self,
        *,
        freq_masks: int,
        freq_width: int,
        time_masks: int,
        time_width: int,
        fill_value: float = 0.0,
    ) -> None:
        super().__init__()
        values = {
            "freq_masks": freq_masks,
            "freq_width": freq_width,
            "time_masks": time_masks,
            "time_width": time_width,
        }
        bad = [
            f"{k}={v!r}" for k, v in values.items() if isinstance(v, bool) or not isinstance(v, int) or v < 0
        ]
        if bad:
            raise ConfigError(f"SpecAugment: {', '.join(bad)}: expected integers >= 0")
        self.freq_masks = freq_masks
        self.freq_width = freq_width
        self.time_masks = time_masks
        self.time_width = time_width
        self.fill_value = fill_value

    def forward(self, features: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Masked copy of ``features`` ``[B, T, F]`` in training mode; ``features`` itself in eval mode.

        Parameters
        ----------
        features : Tensor ``[B, T, F]``
        generator : torch.Generator, optional
            A CPU generator for reproducible masks.
        """
        if not self.training:
            return features
        if features.dim() != 3:
            raise DataError(f"SpecAugment: features must be [B, T, F], got shape {tuple(features.shape)}")
        batch, frames, bins = features.shape
        freq = _band_mask(batch, bins, self.freq_masks, self.freq_width, features.device, generator)
        time = _band_mask(batch, frames, self.time_masks, self.time_width, features.device, generator)
        mask = freq.unsqueeze(1) | time.unsqueeze(2)  # [B, T, F]
        return features.masked_fill(mask, self.fill_value)

    def extra_repr(self) -> str:
        return (
            f"freq_masks={self.freq_masks}, freq_width={self.freq_width}, "
            f"time_masks={self.time_masks}, time_width={self.time_width}"
        )


class AugmentConfig(ConfigSection):
    """SpecAugment on the backbone's input features during training."""

    specaugment: bool = True
    freq_masks: int = Field(2, ge=0)
    freq_width: int = Field(8, ge=0)
    time_masks: int = Field(2, ge=0)
    time_width: int = Field(10, ge=0)

    def build(self) -> SpecAugment | None:
        """The module these settings describe, or None with ``specaugment: false``."""
        if not self.specaugment:
            return None
        return SpecAugment(
            freq_masks=self.freq_masks,
            freq_width=self.freq_width,
            time_masks=self.time_masks,
            time_width=self.time_width,
        )
