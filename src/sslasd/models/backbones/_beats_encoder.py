"""The BEATs transformer encoder (microsoft/unilm ``beats/backbone.py``), batch-first.

Submodule names equal the original's so that official state dicts load with ``strict=True``:
``pos_conv.0.weight_g/weight_v/bias``, ``layers.N.self_attn.{q,k,v,out}_proj``,
``layers.N.self_attn.relative_attention_bias`` (one embedding shared by all layers, stored under
every layer's name as the original does), ``grep_linear``/``grep_a`` (the GRU-style gate of the
relative position bias), ``self_attn_layer_norm``, ``fc1``, ``fc2``, ``final_layer_norm``.

What differs from the original, none of it visible in the outputs beyond float rounding:
tensors are ``[B, T, C]`` throughout instead of ``[T, B, C]``; attention goes through
:func:`~sslasd.models.backbones._attention.attention` (scaled-dot-product attention with the
gated bias as an additive mask) instead of explicit ``bmm``/softmax with the ``alpha = 32``
rescaling trick; the bias is computed once per forward instead of in the first layer; the weight
norm of the positional convolution is written out instead of using ``nn.utils.weight_norm``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from sslasd.models.backbones._attention import attention
from sslasd.models.backbones._grouped_conv import grouped_conv

if TYPE_CHECKING:
    from sslasd.models.backbones.beats import BeatsConfig


class BeatsGradMultiply(torch.autograd.Function):
    """Identity forward, gradient times ``scale`` backward (layer-wise gradient decay)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:  # type: ignore[override]
        ctx.scale = scale
        return x.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return grad * ctx.scale, None


class BeatsWeightNormConv1d(nn.Module):
    """Grouped ``Conv1d`` with weight norm over dim 2, stored as ``weight_g``/``weight_v``/``bias``.

    ``weight = weight_v * weight_g / ||weight_v||`` where the norm runs over the output and input
    channel axes for each kernel tap, as ``nn.utils.weight_norm(conv, dim=2)`` computes it.

    Under CPU autocast it runs in float32 and returns float32: oneDNN's bf16 grouped convolution
    is wrong when a group has few channels (see :mod:`~sslasd.models.backbones._grouped_conv`).
    """

    def __init__(self, channels: int, kernel_size: int, groups: int) -> None:
        super().__init__()
        self.padding = kernel_size // 2
        self.groups = groups
        self.weight_g = nn.Parameter(torch.ones(1, 1, kernel_size))
        self.weight_v = nn.Parameter(torch.empty(channels, channels // groups, kernel_size))
        self.bias = nn.Parameter(torch.zeros(channels))

    def weight(self) -> torch.Tensor:
        """The effective convolution kernel ``[C, C / groups, K]``."""
        return self.weight_v * (self.weight_g / self.weight_v.norm(dim=(0, 1), keepdim=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return grouped_conv(F.conv1d, x, self.weight(), self.bias, padding=self.padding, groups=self.groups)


class BeatsSamePad(nn.Module):
    """Drop the last time step after a convolution with an even kernel (output length = input)."""

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        self.remove = 1 if kernel_size % 2 == 0 else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, : -self.remove] if self.remove else x


def _activation(name: str, x: torch.Tensor) -> torch.Tensor:
    if name == "relu":
        return F.relu(x)
    return F.gelu(x.float()).type_as(x)  # the original's gelu: computed in float32


class BeatsAttention(nn.Module):
    """Multi-head self-attention with BEATs' gated relative position bias."""

    def __init__(self, config: BeatsConfig, has_relative_attention_bias: bool) -> None:
        super().__init__()
        dim, heads = config.encoder_embed_dim, config.encoder_attention_heads
        self.num_heads = heads
        self.head_dim = dim // heads
        self.num_buckets = config.num_buckets
        self.max_distance = config.max_distance
        self.dropout = config.attention_dropout
        self.gru_rel_pos = config.gru_rel_pos
        if has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(config.num_buckets, heads)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)
        if config.gru_rel_pos:
            self.grep_linear = nn.Linear(self.head_dim, 8)
            self.grep_a = nn.Parameter(torch.ones(1, heads, 1, 1))

    def _bucket(self, relative_position: torch.Tensor) -> torch.Tensor:
        """T5-style bidirectional buckets: exact up to ``num_buckets / 4``, log-spaced beyond."""
        half = self.num_buckets // 2
        buckets = (relative_position > 0).long() * half
        distance = relative_position.abs()
        max_exact = half // 2
        log_ratio = torch.log(distance.float() / max_exact) / math.log(self.max_distance / max_exact)
        large = (max_exact + (log_ratio * (half - max_exact)).long()).clamp(max=half - 1)
        return buckets + torch.where(distance < max_exact, distance, large)

    def compute_bias(self, length: int) -> torch.Tensor:
        """Relative position bias ``[H, T, T]`` for a sequence of ``length`` tokens."""
        device = self.relative_attention_bias.weight.device
        position = torch.arange(length, device=device)
        relative = position[None, :] - position[:, None]  # memory - context
        return self.relative_attention_bias(self._bucket(relative)).permute(2, 0, 1)

    def forward(
        self,
        hidden_states: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        position_bias: torch.Tensor | None = None,
    ) -> torch.Tensor:
        batch, length, dim = hidden_states.shape
        shape = (batch, length, self.num_heads, self.head_dim)
        query = self.q_proj(hidden_states).view(shape).transpose(1, 2)  # [B, H, T, Dh]
        key = self.k_proj(hidden_states).view(shape).transpose(1, 2)
        value = self.v_proj(hidden_states).view(shape).transpose(1, 2)
        bias = None
        if position_bias is not None:
            bias = position_bias.unsqueeze(0)  # [1, H, T, T]
            if self.gru_rel_pos:
                gates = self.grep_linear(query).view(batch, self.num_heads, length, 2, 4).sum(-1)
                gate_a, gate_b = torch.sigmoid(gates).chunk(2, dim=-1)  # [B, H, T, 1] each
                bias = (gate_a * (gate_b * self.grep_a - 1.0) + 2.0) * bias  # [B, H, T, T]
        dropout = self.dropout if self.training else 0.0
        context = attention(query, key, value, bias, key_padding_mask, dropout)  # [B, H, T, Dh]
        return self.out_proj(context.transpose(1, 2).reshape(batch, length, dim))


class BeatsEncoderLayer(nn.Module):
    """One transformer block; post-LN with deep-norm residual scaling, or pre-LN.

    ``forward`` returns the hidden states ``[B, T, C]`` (a plain tensor, so adapter hooks may
    replace it).
    """

    def __init__(self, config: BeatsConfig, has_relative_attention_bias: bool) -> None:
        super().__init__()
        dim = config.encoder_embed_dim
        self.activation_fn = config.activation_fn
        self.layer_norm_first = config.layer_norm_first
        self.self_attn = BeatsAttention(config, has_relative_attention_bias)
        self.dropout1 = nn.Dropout(config.dropout)
        self.dropout2 = nn.Dropout(config.activation_dropout)
        self.dropout3 = nn.Dropout(config.dropout)
        self.self_attn_layer_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, config.encoder_ffn_embed_dim)
        self.fc2 = nn.Linear(config.encoder_ffn_embed_dim, dim)
        self.final_layer_norm = nn.LayerNorm(dim)
        self.deep_norm_alpha = math.pow(2 * config.encoder_layers, 0.25) if config.deep_norm else 1.0

    def _feed_forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.dropout2(_activation(self.activation_fn, self.fc1(hidden_states)))
        return self.dropout3(self.fc2(hidden_states))

    def forward(
        self,
        hidden_states: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
        position_bias: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if self.layer_norm_first:
            residual = hidden_states
            attended = self.self_attn(self.self_attn_layer_norm(hidden_states), padding_mask, position_bias)
            hidden_states = residual + self.dropout1(attended)
            residual = hidden_states
            return residual + self._feed_forward(self.final_layer_norm(hidden_states))
        residual = hidden_states
        attended = self.dropout1(self.self_attn(hidden_states, padding_mask, position_bias))
        hidden_states = self.self_attn_layer_norm(residual * self.deep_norm_alpha + attended)
        residual = hidden_states
        hidden_states = residual * self.deep_norm_alpha + self._feed_forward(hidden_states)
        return self.final_layer_norm(hidden_states)


class BeatsEncoder(nn.Module):
    """Convolutional positional embedding, then ``encoder_layers`` blocks (``[B, T, C]`` in and out)."""

    def __init__(self, config: BeatsConfig) -> None:
        super().__init__()
        dim = config.encoder_embed_dim
        self.config = config
        self.pos_conv = nn.Sequential(
            BeatsWeightNormConv1d(dim, config.conv_pos, config.conv_pos_groups),
            BeatsSamePad(config.conv_pos),
            nn.GELU(),
        )
        self.layers = nn.ModuleList(
            BeatsEncoderLayer(config, config.relative_position_embedding)
            for _ in range(config.encoder_layers)
        )
        if config.relative_position_embedding:
            # One bias table for all layers, registered under every layer as in the original.
            for layer in self.layers[1:]:
                layer.self_attn.relative_attention_bias = self.layers[0].self_attn.relative_attention_bias
        self.layer_norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, hidden_states: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Encode ``[B, T, C]`` patch features; ``padding_mask`` ``[B, T]`` is True on padded patches."""
        config = self.config
        if padding_mask is not None:
            hidden_states = hidden_states.masked_fill(padding_mask.unsqueeze(-1), 0.0)
        positional = self.pos_conv(hidden_states.transpose(1, 2)).transpose(1, 2)
        hidden_states = hidden_states + positional
        if not config.layer_norm_first:
            hidden_states = self.layer_norm(hidden_states)
        hidden_states = self.dropout(hidden_states)
        position_bias = None
        if config.relative_position_embedding:
            position_bias = self.layers[0].self_attn.compute_bias(hidden_states.shape[1])  # [H, T, T]
        for layer in self.layers:
            if config.layer_wise_gradient_decay_ratio != 1.0 and torch.is_grad_enabled():
                hidden_states = BeatsGradMultiply.apply(hidden_states, config.layer_wise_gradient_decay_ratio)
            if self.training and config.encoder_layerdrop > 0 and torch.rand(()) <= config.encoder_layerdrop:
                continue
            hidden_states = layer(hidden_states, padding_mask, position_bias)
        if config.layer_norm_first:
            hidden_states = self.layer_norm(hidden_states)
        return hidden_states
