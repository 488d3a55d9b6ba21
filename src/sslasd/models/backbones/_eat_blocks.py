"""The parts of EAT's encoder (cwx-worst-one/EAT, after data2vec 2.0's image modality).

Submodule names equal the fairseq checkpoint's keys: ``blocks.N.{norm1, attn.qkv, attn.proj,
norm2, mlp.fc1, mlp.fc2}`` and, under ``modality_encoders.IMAGE``, ``local_encoder.proj`` (the
16x16 patch convolution), ``extra_tokens`` (the CLS token), ``fixed_positional_encoder.positions``
(a fixed 2-D sin-cos table) and ``context_encoder.norm`` (the LayerNorm applied to CLS + patches
before the blocks). Attention goes through scaled-dot-product attention; everything else follows
the original's arithmetic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from sslasd.models.backbones._attention import attention

if TYPE_CHECKING:
    from sslasd.models.backbones.eat import EatConfig

#: Mel bins of EAT's fbank: the spectrogram "image" is ``target_length x 128``.
MEL_BINS = 128


def sincos_positions(dim: int, time_patches: int, freq_patches: int) -> torch.Tensor:
    """EAT's fixed 2-D sin-cos table ``[time_patches * freq_patches, dim]`` (time-major rows).

    The first half of the channels encodes the frequency index, the second half the time index,
    each as ``[sin(p * w_k), cos(p * w_k)]`` with ``w_k = 10000 ** (-k / (dim / 4))``, as MAE's
    ``get_2d_sincos_pos_embed_flexible`` does (its meshgrid puts the width axis first).
    """
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float32) / quarter)  # float32 as in MAE
    time = torch.arange(time_patches, dtype=torch.float32).repeat_interleave(freq_patches)
    freq = torch.arange(freq_patches, dtype=torch.float32).repeat(time_patches)

    def encode(position: torch.Tensor) -> torch.Tensor:
        angles = position[:, None] * omega[None, :]
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    return torch.cat([encode(freq), encode(time)], dim=1)


class EatDropPath(nn.Module):
    """Stochastic depth: drop a sample's whole residual branch with probability ``p`` in training."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep


class EatAttention(nn.Module):
    """Multi-head self-attention with one fused ``qkv`` projection."""

    def __init__(self, config: EatConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        self.dropout = config.attention_dropout
        self.qkv = nn.Linear(config.embed_dim, 3 * config.embed_dim)
        self.proj = nn.Linear(config.embed_dim, config.embed_dim)
        self.proj_drop = nn.Dropout(config.encoder_dropout)

    def forward(self, hidden_states: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        batch, length, dim = hidden_states.shape
        qkv = self.qkv(hidden_states).view(batch, length, 3, self.num_heads, dim // self.num_heads)
        query, key, value = qkv.permute(2, 0, 3, 1, 4)  # each [B, H, T, Dh]
        dropout = self.dropout if self.training else 0.0
        context = attention(query, key, value, None, padding_mask, dropout)
        return self.proj_drop(self.proj(context.transpose(1, 2).reshape(batch, length, dim)))


class EatMlp(nn.Module):
    """timm's ``Mlp``: fc1 -> GELU -> dropout -> fc2 -> dropout."""

    def __init__(self, config: EatConfig) -> None:
        super().__init__()
        hidden = int(config.embed_dim * config.mlp_ratio)
        self.fc1 = nn.Linear(config.embed_dim, hidden)
        self.fc2 = nn.Linear(hidden, config.embed_dim)
        self.drop = nn.Dropout(config.activation_dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(F.gelu(self.fc1(x)))))


class EatBlock(nn.Module):
    """data2vec 2.0's ``AltBlock`` in its post-LN form (EAT's ``layer_norm_first=False``).

    ``forward`` returns the hidden states ``[B, 1 + P, C]`` (a plain tensor; the original also
    returns the feed-forward output used as a pre-training target, which is not needed here).
    """

    def __init__(self, config: EatConfig, drop_path: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.embed_dim, eps=config.norm_eps)
        self.attn = EatAttention(config)
        self.drop_path = EatDropPath(drop_path)
        self.norm2 = nn.LayerNorm(config.embed_dim, eps=config.norm_eps)
        self.mlp = EatMlp(config)
        self.post_mlp_dropout = nn.Dropout(config.post_mlp_drop)

    def forward(self, hidden_states: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        hidden_states = hidden_states + self.drop_path(self.attn(hidden_states, padding_mask))
        residual = hidden_states = self.norm1(hidden_states)
        hidden_states = self.mlp(hidden_states)
        return self.norm2(residual + self.drop_path(self.post_mlp_dropout(hidden_states)))


class EatPatchEmbed(nn.Module):
    """16x16 patches of the ``[B, 1, T, 128]`` spectrogram -> ``[B, P, C]`` (time-major)."""

    def __init__(self, config: EatConfig) -> None:
        super().__init__()
        patch = config.patch_size
        self.proj = nn.Conv2d(1, config.embed_dim, patch, stride=patch)

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        return self.proj(spectrogram).flatten(2).transpose(1, 2)


class EatFixedPositions(nn.Module):
    """The sin-cos table ``positions`` ``[1, max_length * 128 / patch, C]`` (a persistent buffer)."""

    def __init__(self, config: EatConfig) -> None:
        super().__init__()
        table = sincos_positions(config.embed_dim, config.max_length, MEL_BINS // config.patch_size)
        self.register_buffer("positions", table.unsqueeze(0))


class EatContextEncoder(nn.Module):
    """The LayerNorm EAT applies to CLS + patch tokens before the blocks (no pre-net blocks)."""

    def __init__(self, config: EatConfig) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(config.embed_dim, eps=config.norm_eps)


class EatImageEncoder(nn.Module):
    """Patch embedding + fixed positions + CLS token + LayerNorm: ``[B, 1, T, 128]`` -> ``[B, 1 + P, C]``."""

    def __init__(self, config: EatConfig) -> None:
        super().__init__()
        self.num_extra_tokens = config.num_extra_tokens
        self.local_encoder = EatPatchEmbed(config)
        self.extra_tokens = nn.Parameter(torch.zeros(1, config.num_extra_tokens, config.embed_dim))
        self.fixed_positional_encoder = EatFixedPositions(config)
        self.context_encoder = EatContextEncoder(config)

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """The original random initialisation: Xavier patch kernel, standard-normal CLS token."""
        weight = self.local_encoder.proj.weight
        nn.init.xavier_uniform_(weight.view(weight.shape[0], -1))
        nn.init.normal_(self.extra_tokens)

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        patches = self.local_encoder(spectrogram)  # [B, P, C]; the caller checks P fits the table
        patches = patches + self.fixed_positional_encoder.positions[:, : patches.shape[1]]
        tokens = torch.cat([self.extra_tokens.expand(patches.shape[0], -1, -1), patches], dim=1)
        return self.context_encoder.norm(tokens)
