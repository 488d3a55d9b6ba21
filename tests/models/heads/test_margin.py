"""ArcFace margins by hand (scalar math per item), sub-centre maximum, safe gradients, label checks."""

from __future__ import annotations

import math

import pytest
import torch

from sslasd.errors import ConfigError, DataError
from sslasd.models.heads.margin import ArcMarginHead


def _hand_logits(head: ArcMarginHead, emb: torch.Tensor, labels: list[int] | None) -> torch.Tensor:
    """Per item and class with Python floats: cosines, max over sub-centres, margin on the target."""
    w = head.weight.detach().double()
    out = torch.zeros(emb.shape[0], head.n_classes, dtype=torch.float64)
    for i in range(emb.shape[0]):
        e = emb[i].double() / emb[i].double().norm()
        for c in range(head.n_classes):
            rows = w[c * head.subcenters : (c + 1) * head.subcenters]
            cos = max(float(e @ r / r.norm()) for r in rows)
            if labels is not None and labels[i] == c:
                theta = math.acos(min(max(cos, -1.0), 1.0))
                if head.easy_margin:
                    cos = math.cos(theta + head.margin) if cos > 0 else cos
                elif theta + head.margin <= math.pi:
                    cos = math.cos(theta + head.margin)
                else:
                    cos = cos - head.margin * math.sin(head.margin)
            out[i, c] = head.scale * cos
    return out


@pytest.mark.parametrize(
    ("subcenters", "margin", "easy_margin"),
    [(1, 0.2, False), (1, 0.5, True), (3, 0.3, False), (3, 0.0, False)],
)
def test_logits_match_hand_computation(seed: int, subcenters: int, margin: float, easy_margin: bool) -> None:
    head = ArcMarginHead(6, 4, scale=30.0, margin=margin, subcenters=subcenters, easy_margin=easy_margin)
    emb = torch.randn(10, 6)
    labels = [0, 1, 2, 3, 0, 1, 2, 3, 3, 2]
    got = head(emb, torch.tensor(labels)).double()
    torch.testing.assert_close(got, _hand_logits(head, emb, labels), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(head(emb).double(), _hand_logits(head, emb, None), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("easy_margin", [False, True])
def test_branches_for_large_angles(easy_margin: bool) -> None:
    """Embeddings opposite to their class take the fallback branch (theta + m > pi / cos <= 0)."""
    head = ArcMarginHead(2, 2, scale=10.0, margin=0.4, easy_margin=easy_margin)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    angles = torch.tensor([0.3, 1.2, 2.0, 2.9, math.pi - 0.05])
    emb = torch.stack([angles.cos(), angles.sin()], dim=-1)
    target = head(emb, torch.zeros(5, dtype=torch.long))[:, 0]
    expected = []
    for theta in angles.tolist():
        if easy_margin:
            expected.append(math.cos(theta + 0.4) if math.cos(theta) > 0 else math.cos(theta))
        elif theta + 0.4 <= math.pi:
            expected.append(math.cos(theta + 0.4))
        else:
            expected.append(math.cos(theta) - 0.4 * math.sin(0.4))
    torch.testing.assert_close(target, 10.0 * torch.tensor(expected), rtol=1e-5, atol=1e-4)
    assert (target[1:] <= target[:-1]).all()  # still decreasing in theta


def test_subcentre_uses_the_closest_centre(seed: int) -> None:
    head = ArcMarginHead(3, 2, scale=1.0, margin=0.0, subcenters=2)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [-1.0, 0, 0]]))
    emb = torch.tensor([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    # item 0 is sub-centre 1 of class 0; item 1 is sub-centre 1 of class 1
    torch.testing.assert_close(head.cosine(emb), torch.tensor([[1.0, 0.0], [0.0, 1.0]]))


def test_gradient_is_finite_at_zero_angle() -> None:
    head = ArcMarginHead(4, 3, margin=0.3)
    emb = head.weight.detach()[[1, 2]].clone().requires_grad_(True)  # cos = 1 exactly
    torch.nn.functional.cross_entropy(head(emb, torch.tensor([1, 2])), torch.tensor([1, 2])).backward()
    assert torch.isfinite(emb.grad).all() and torch.isfinite(head.weight.grad).all()


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (torch.tensor([0, 3]), r"\[0, 3\].*\[0, 2\]"),
        (torch.tensor([-1, 0]), "values"),
        (torch.tensor([0]), "shape"),
    ],
)
def test_bad_labels(labels: torch.Tensor, match: str) -> None:
    with pytest.raises(DataError, match=match):
        ArcMarginHead(4, 3)(torch.randn(2, 4), labels)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"scale": 0.0}, "scale"), ({"margin": 2.0}, "margin"), ({"subcenters": 0}, "subcenters")],
)
def test_bad_config(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ArcMarginHead(4, 3, **kwargs)


def test_float32_logits_under_bf16_autocast(seed: int) -> None:
    head = ArcMarginHead(16, 5)
    emb, labels = torch.randn(8, 16), torch.randint(0, 5, (8,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = head(emb.bfloat16(), labels)
    assert logits.dtype == torch.float32
    torch.testing.assert_close(logits, head(emb.bfloat16().float(), labels))
