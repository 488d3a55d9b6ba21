"""Cheap waveform augmentations that make a second view of a training crop: random gain and a
random circular shift, drawn independently per clip.

Why: the two-view contrastive loss needs two views of one clip that differ by more than their
SpecAugment masks (a backbone that reads the waveform gets no SpecAugment at all). Reading a second
crop from disk would double the data loading; a circular shift of the crop already held moves its
content by up to ``max_shift`` of its length, much like another crop offset of a stationary machine
sound (with one seam where the end meets the start), and a gain changes the level, which kNN on
normalised embeddings should not depend on. Both are a few vector operations on the batch.
"""

from __future__ import annotations

import torch

from sslasd.errors import ConfigError, DataError


def random_gain_shift(
    wave: torch.Tensor,
    *,
    gain_db: float,
    max_shift: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A new ``[B, N]`` batch: each clip scaled by ``U(-gain_db, gain_db)`` dB and rolled by
    ``U{0..max_shift * N}`` samples (independent draws per clip).

    Parameters
    ----------
    wave : Tensor
        ``[B, N]`` waveforms.
    gain_db : float
        Largest gain change in dB (0: none).
    max_shift : float
        Largest circular shift as a fraction of the crop, in [0, 1] (0: none).
    generator : torch.Generator, optional
        A CPU generator for reproducible draws (torch's global one otherwise).

    Raises
    ------
    ConfigError
        ``gain_db`` < 0 or ``max_shift`` outside [0, 1]. DataError: ``wave`` is not 2-D.

    Examples
    --------
    >>> x = torch.arange(8.0).repeat(2, 1)
    >>> random_gain_shift(x, gain_db=0.0, max_shift=0.0).equal(x)
    True
    """
    if gain_db < 0 or not 0 <= max_shift <= 1:
        raise ConfigError(
            f"view augmentation: gain_db {gain_db} (need >= 0), max_shift {max_shift} (need 0..1)"
        )
    if wave.dim() != 2:
        raise DataError(f"view augmentation: waveforms must be [B, N], got shape {tuple(wave.shape)}")
    batch, n = wave.shape
    # Draw on the CPU so that a CPU generator gives the same views on every device.
    gain_draw = torch.rand(batch, 1, generator=generator) * 2 - 1
    largest = int(max_shift * n)
    shift = torch.randint(0, largest + 1, (batch, 1), generator=generator)
    gain = (10.0 ** (gain_db * gain_draw / 20.0)).to(device=wave.device, dtype=wave.dtype)
    if largest == 0:
        return wave * gain
    index = (torch.arange(n).view(1, n) - shift) % n  # out[t] = in[t - shift]: a roll to the right
    return torch.gather(wave, 1, index.to(wave.device)) * gain
