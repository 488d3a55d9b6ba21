"""Attentive statistics pooling and the embedding head: brute-force statistics, masking, norms."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sslasd.errors import ConfigError, DataError
from sslasd.models.heads.pooling import AttentiveStatsPooling, EmbeddingHead


def _loop_pooling(pool: AttentiveStatsPooling, x: torch.Tensor) -> torch.Tensor:
    """One clip ``[T, C]`` (no padding), channel by channel, with plain Python sums."""
    frames, channels = x.shape
    attn_in = x
    if pool.global_context:
        mean, std = x.mean(dim=0), x.std(dim=0, unbiased=False).clamp(min=1e-3)
        attn_in = torch.cat([x, mean.expand(frames, -1), std.expand(frames, -1)], dim=-1)
    scores = pool.attention(attn_in)  # [T, C]
    out_mean, out_std = [], []
    for c in range(channels):
        w = torch.exp(scores[:, c] - scores[:, c].max())
        w = w / w.sum()
        mu = sum(w[t] * x[t, c] for t in range(frames))
        var = sum(w[t] * (x[t, c] - mu) ** 2 for t in range(frames))
        out_mean.append(mu)
        out_std.append(torch.sqrt(var))
    return torch.cat([torch.stack(out_mean), torch.stack(out_std)])


@pytest.mark.parametrize("global_context", [False, True])
def test_matches_loop_and_ignores_padding(seed: int, global_context: bool) -> None:
    pool = AttentiveStatsPooling(6, hidden=5, global_context=global_context).double()
    lengths = [9, 4, 7]
    clips = [torch.randn(n, 6, dtype=torch.float64) for n in lengths]
    batch = torch.full((3, max(lengths), 6), 123.0, dtype=torch.float64)  # padding with a loud value
    mask = torch.ones(3, max(lengths), dtype=torch.bool)
    for i, clip in enumerate(clips):
        batch[i, : len(clip)] = clip
        mask[i, : len(clip)] = False
    pooled = pool(batch, mask)
    assert pooled.shape == (3, 12) and pool.out_dim == 12
    for i, clip in enumerate(clips):
        torch.testing.assert_close(pooled[i], _loop_pooling(pool, clip))
        torch.testing.assert_close(pool(clip[None])[0], pooled[i])


def test_constant_scores_give_plain_mean_and_std(seed: int) -> None:
    pool = AttentiveStatsPooling(4, hidden=3)
    nn.init.zeros_(pool.attention[2].weight)  # equal scores for every frame -> uniform weights
    x = torch.randn(2, 11, 4)
    expected = torch.cat([x.mean(dim=1), x.std(dim=1, unbiased=False)], dim=-1)
    torch.testing.assert_close(pool(x), expected)


def test_constant_channel_has_finite_gradient(seed: int) -> None:
    pool = AttentiveStatsPooling(3, hidden=4)
    x = torch.randn(1, 5, 3)
    x[..., 0] = 2.0  # zero variance
    x.requires_grad_(True)
    pool(x).sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize(
    ("x", "mask", "match"),
    [
        (torch.randn(2, 5), None, "input"),
        (torch.randn(2, 5, 3), None, "input"),
        (torch.randn(2, 5, 4), torch.zeros(2, 4, dtype=torch.bool), "mask"),
        (torch.randn(2, 5, 4), torch.tensor([[False] * 5, [True] * 5]), r"items \[1\]"),
    ],
)
def test_bad_inputs(x: torch.Tensor, mask: torch.Tensor | None, match: str) -> None:
    with pytest.raises(DataError, match=match):
        AttentiveStatsPooling(4)(x, mask)


@pytest.mark.parametrize("norm", ["layernorm", "batchnorm", "none"])
def test_embedding_head_is_unit_norm(seed: int, norm: str) -> None:
    head = EmbeddingHead(10, emb_dim=6, norm=norm)  # type: ignore[arg-type]
    emb = head(torch.randn(5, 10))
    assert emb.shape == (5, 6)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(5))
    head.eval()
    pooled = torch.randn(1, 10)  # one clip at a time in evaluation mode
    expected = nn.functional.normalize(head.norm(head.linear(pooled)), dim=-1)
    torch.testing.assert_close(head(pooled), expected)


def test_layernorm_head_does_not_depend_on_the_batch(seed: int) -> None:
    head = EmbeddingHead(10, emb_dim=6)
    pooled = torch.randn(4, 10)
    torch.testing.assert_close(head(pooled)[:1], head(pooled[:1]))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: EmbeddingHead(10, norm="groupnorm"), "norm"),  # type: ignore[arg-type]
        (lambda: EmbeddingHead(10, emb_dim=0), "emb_dim"),
        (lambda: AttentiveStatsPooling(0), "in_dim"),
    ],
)
def test_bad_config(make: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make()  # type: ignore[operator]
