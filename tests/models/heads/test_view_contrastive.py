"""The two-view contrastive loss: its masks, its instance level against a written-out NT-Xent, and
the behaviour the label form lacks (the other view of a clip is what the instance level pulls in)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from sslasd.errors import ConfigError, DataError
from sslasd.features import random_gain_shift
from sslasd.models.heads import TwoViewContrastiveLoss, view_masks


def _views(n: int, dim: int, noise: float, seed: int) -> torch.Tensor:
    """``[2n, dim]``: n random clips, then the same clips plus ``noise`` (their second views)."""
    g = torch.Generator().manual_seed(seed)
    clips = torch.randn(n, dim, generator=g)
    return torch.cat([clips, clips + noise * torch.randn(n, dim, generator=g)])


def _loop_nt_xent(z: torch.Tensor, temperature: float) -> float:
    """SimCLR's NT-Xent written out for views stacked view by view (the twin of i is (i + n) % 2n)."""
    z = F.normalize(z.double(), dim=-1)
    total, count = 0.0, len(z)
    for i in range(count):
        twin = (i + count // 2) % count
        denominator = sum(math.exp(float(z[i] @ z[a]) / temperature) for a in range(count) if a != i)
        total += -math.log(math.exp(float(z[i] @ z[twin]) / temperature) / denominator)
    return total / count


def test_masks_pair_views_and_classes() -> None:
    instance, positive, contrast = view_masks(torch.tensor([3, 3, 5, -1]))
    assert instance.sum(dim=1).tolist() == [1] * 8  # exactly the twin view
    assert [instance[i, (i + 4) % 8].item() for i in range(8)] == [True] * 8
    assert positive[0].nonzero().flatten().tolist() == [1, 4, 5]  # other clip of class 3, both twins
    assert positive[2].nonzero().flatten().tolist() == [6]  # a class of one clip: only its twin
    assert not positive[3].any() and not contrast[3].any() and not contrast[:, 7].any()  # no class
    assert not positive.diagonal().any() and not contrast.diagonal().any()


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_instance_level_is_nt_xent_on_the_projection(seed: int, temperature: float) -> None:
    loss = TwoViewContrastiveLoss(6, hidden=12, proj_dim=5, temperature=temperature)
    emb = _views(5, 6, noise=0.3, seed=1)
    with torch.no_grad():
        out = loss(emb, torch.full((5,), -1))  # no classes: the class level is empty (0)
        expected = _loop_nt_xent(loss.projection(emb), temperature)
    assert float(out["instance"]) == pytest.approx(expected, rel=1e-5)
    assert float(out["class"]) == 0.0 and float(out["loss"]) == pytest.approx(expected, rel=1e-5)


def test_instance_level_pulls_each_clip_to_its_own_other_view(seed: int) -> None:
    """Lower when the second views are near their own clip than when they are shuffled between
    clips; the label form, blind to which clip a view came from, cannot tell the two batches apart."""
    loss = TwoViewContrastiveLoss(16, hidden=32, proj_dim=8)
    labels = torch.zeros(8, dtype=torch.long)  # one class: the class level cannot tell them apart either
    close = _views(8, 16, noise=0.05, seed=2)
    shuffled = torch.cat([close[:8], close[8:][torch.roll(torch.arange(8), 1)]])
    with torch.no_grad():
        aligned, mixed = loss(close, labels), loss(shuffled, labels)
    assert float(aligned["instance"]) < float(mixed["instance"]) - 0.5
    assert float(aligned["class"]) == pytest.approx(float(mixed["class"]), rel=1e-4)


def test_class_level_pulls_views_of_one_class_together(seed: int) -> None:
    loss = TwoViewContrastiveLoss(8, hidden=16, proj_dim=8)
    centres = torch.randn(2, 8) * 3
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    emb = torch.cat([centres[labels], centres[labels]]) + 0.1 * torch.randn(12, 8)
    wrong = torch.tensor([0, 1, 0, 1, 0, 1])
    with torch.no_grad():
        assert float(loss(emb, labels)["class"]) < float(loss(emb, wrong)["class"])


def test_weights_and_gradients_reach_the_projection_head(seed: int) -> None:
    loss = TwoViewContrastiveLoss(8, hidden=16, proj_dim=4, instance_weight=0.3, class_weight=2.0)
    emb = _views(4, 8, noise=0.2, seed=3).requires_grad_(True)
    out = loss(emb, torch.tensor([0, 0, 1, 1]))
    torch.testing.assert_close(out["loss"], 0.3 * out["instance"] + 2.0 * out["class"])
    out["loss"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in loss.projection.parameters())
    assert emb.grad is not None and emb.grad.abs().sum() > 0


def test_bad_shapes_and_settings_are_refused() -> None:
    loss = TwoViewContrastiveLoss(4)
    with pytest.raises(DataError, match=r"\[2B, D\]"):
        loss(torch.randn(5, 4), torch.tensor([0, 1]))
    with pytest.raises(ConfigError, match="temperature"):
        TwoViewContrastiveLoss(4, temperature=0)
    with pytest.raises(ConfigError, match="weights"):
        TwoViewContrastiveLoss(4, class_weight=-1)


def test_view_augmentation_is_a_per_clip_gain_and_roll() -> None:
    g = torch.Generator().manual_seed(0)
    wave = torch.randn(4, 100, generator=g)
    out = random_gain_shift(wave, gain_db=6.0, max_shift=0.5, generator=torch.Generator().manual_seed(1))
    for clip, view in zip(wave, out):
        shift = next(
            s
            for s in range(51)
            if torch.allclose(F.normalize(torch.roll(clip, s), dim=0), F.normalize(view, dim=0), atol=1e-6)
        )
        gain_db = 20 * math.log10(float(view.norm() / clip.norm()))
        assert 0 <= shift <= 50 and abs(gain_db) <= 6.0 + 1e-4
    assert not torch.equal(out, random_gain_shift(wave, gain_db=6.0, max_shift=0.5))
    with pytest.raises(ConfigError, match="max_shift"):
        random_gain_shift(wave, gain_db=1.0, max_shift=2.0)
