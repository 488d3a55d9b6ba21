"""Attentive statistics pooling and the embedding projection: frames ``[B, T, C]`` -> embedding.

Attentive statistics pooling (Okabe et al., Interspeech 2018) with the channel-dependent
attention and optional global context of ECAPA-TDNN (Desplanques et al., Interspeech 2020): a
small network scores every frame for every channel, a softmax over time gives weights, and the
weighted mean and standard deviation are concatenated. Padded frames get zero weight, so a padded
batch gives the same vectors as its clips one by one.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from sslasd.errors import ConfigError, DataError

EmbeddingNorm = Literal["layernorm", "batchnorm", "none"]
_VAR_EPS = 1e-6


class AttentiveStatsPooling(nn.Module):
    """Weighted mean and standard deviation over time, ``[B, T, C] -> [B, 2 C]``.

    Parameters
    ----------
    in_dim : int
        ``C``.
    hidden : int
        Units of the attention network ``Linear(C', hidden) -> tanh -> Linear(hidden, C)``.
    global_context : bool
        True: the attention network also sees the (masked) mean and standard deviation of the
        whole clip, ``C' = 3 C`` (ECAPA-TDNN); False: ``C' = C``.

    Raises
    ------
    ConfigError
        ``in_dim`` or ``hidden`` < 1.

    Examples
    --------
    >>> pool = AttentiveStatsPooling(16, hidden=8)
    >>> pool(torch.randn(2, 50, 16), mask=torch.zeros(2, 50, dtype=torch.bool)).shape
    torch.Size([2, 32])
    """

    def __init__(self, in_dim: int, *, hidden: int = 128, global_context: bool = False) -> None:
        super().__init__()
        if in_dim < 1 or hidden < 1:
            raise ConfigError(f"pooling: got in_dim={in_dim}, hidden={hidden}, expected integers >= 1")
        self.in_dim = in_dim
        self.global_context = global_context
        self.attention = nn.Sequential(
            nn.Linear(3 * in_dim if global_context else in_dim, hidden),
            nn.Tanh(),
            nn.Linear(hidden, in_dim),
        )

    @property
    def out_dim(self) -> int:
        """``2 C``: mean and standard deviation."""
        return 2 * self.in_dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Pool ``x`` ``[B, T, C]``; ``mask`` ``[B, T]`` is True at padded frames.

        Raises
        ------
        DataError
            Wrong shapes, or an item whose frames are all padded.
        """
        valid = self._valid_frames(x, mask)  # [B, T, 1] float, 1 = real frame
        attn_in = x
        if self.global_context:
            uniform = valid / valid.sum(dim=1, keepdim=True)
            mean, std = _weighted_stats(x, uniform)  # [B, C] each
            frames = x.shape[1]
            attn_in = torch.cat(
                [x, mean[:, None].expand(-1, frames, -1), std[:, None].expand(-1, frames, -1)], -1
            )
        scores = self.attention(attn_in)  # [B, T, C]
        scores = scores.masked_fill(valid == 0, float("-inf"))
        weights = torch.softmax(scores, dim=1)  # over time, per channel
        mean, std = _weighted_stats(x, weights)
        return torch.cat([mean, std], dim=-1)  # [B, 2 C]

    def _valid_frames(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.in_dim:
            raise DataError(f"pooling input: got shape {tuple(x.shape)}, expected [B, T, {self.in_dim}]")
        if mask is None:
            return x.new_ones(x.shape[0], x.shape[1], 1)
        if mask.shape != x.shape[:2]:
            raise DataError(
                f"pooling mask: got shape {tuple(mask.shape)}, expected {tuple(x.shape[:2])} (True = padded)"
            )
        empty = mask.all(dim=1)
        if empty.any():
            raise DataError(
                f"pooling mask: items {empty.nonzero().flatten().tolist()} have every frame padded"
            )
        return (~mask.bool()).to(x.dtype)[..., None]


def _weighted_stats(x: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std over time of ``x`` ``[B, T, C]`` under ``weights`` summing to 1 over time."""
    mean = (weights * x).sum(dim=1)
    var = (weights * (x - mean[:, None]).square()).sum(dim=1)
    return mean, var.clamp(min=_VAR_EPS).sqrt()


class EmbeddingHead(nn.Module):
    """Pooled vector -> L2-normalised embedding: ``Linear -> norm -> L2``.

    Parameters
    ----------
    in_dim : int
        Size of the pooled vector (``AttentiveStatsPooling.out_dim``).
    emb_dim : int
        Embedding size.
    norm : {"layernorm", "batchnorm", "none"}
        Normalisation after the linear map. ``"layernorm"`` (default) behaves the same in
        training and evaluation and with a batch of one, so the embeddings stored in a memory
        bank do not depend on batch statistics; ``"batchnorm"`` is the ECAPA-TDNN choice.

    Raises
    ------
    ConfigError
        Unknown ``norm`` or sizes < 1.

    Examples
    --------
    >>> head = EmbeddingHead(32, emb_dim=8)
    >>> emb = head(torch.randn(3, 32))
    >>> emb.shape, bool(torch.allclose(emb.norm(dim=-1), torch.ones(3)))
    (torch.Size([3, 8]), True)
    """

    def __init__(self, in_dim: int, emb_dim: int = 256, *, norm: EmbeddingNorm = "layernorm") -> None:
        super().__init__()
        if in_dim < 1 or emb_dim < 1:
            raise ConfigError(
                f"embedding head: got in_dim={in_dim}, emb_dim={emb_dim}, expected integers >= 1"
            )
        norms = {"layernorm": nn.LayerNorm, "batchnorm": nn.BatchNorm1d}
        if norm not in (*norms, "none"):
            raise ConfigError(f"embedding head norm: got {norm!r}, expected one of {[*norms, 'none']}")
        self.emb_dim = emb_dim
        self.linear = nn.Linear(in_dim, emb_dim)
        self.norm = norms[norm](emb_dim) if norm != "none" else nn.Identity()

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """``[B, in_dim] -> [B, emb_dim]`` with unit L2 norm."""
        return F.normalize(self.norm(self.linear(pooled)), dim=-1)
