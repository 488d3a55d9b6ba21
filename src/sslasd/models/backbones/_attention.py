"""Scaled dot-product attention with an additive bias and key padding, shared by BEATs and EAT.

Both originals compute ``softmax(Q K^T / sqrt(d) + bias) V`` with explicit matrices. Here the same
function goes through ``torch.nn.functional.scaled_dot_product_attention``, which picks a fused
kernel (memory-efficient attention accepts an additive mask on the GPU) and never materialises
the attention weights for the backward pass. BEATs' relative position bias and the key padding
mask both travel as the one additive ``attn_mask``; the result equals the explicit formula to
float32 rounding (tested against it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    bias: torch.Tensor | None = None,
    key_padding_mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> torch.Tensor:
    """``softmax(query key^T / sqrt(head_dim) + bias) value`` with padded keys left out.

    Parameters
    ----------
    query, key, value : Tensor ``[B, H, T, head_dim]``
    bias : Tensor, optional
        Additive bias broadcastable to ``[B, H, T, T]`` (BEATs' gated relative position bias).
    key_padding_mask : Tensor ``[B, T]`` of bool, optional
        True where the key is padding: those keys get no weight.
    dropout_p : float
        Dropout on the attention weights (pass 0 in eval mode).

    Returns
    -------
    Tensor ``[B, H, T, head_dim]``
    """
    mask = bias
    if key_padding_mask is not None:
        padded = key_padding_mask[:, None, None, :]  # [B, 1, 1, T]
        if mask is None:
            mask = ~padded  # boolean mask: True = may attend
        else:
            minus_inf = torch.zeros(padded.shape, dtype=query.dtype, device=query.device)
            mask = mask.to(query.dtype) + minus_inf.masked_fill(padded, float("-inf"))
    elif mask is not None:
        mask = mask.to(query.dtype)
    return F.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=dropout_p)
