"""SupCon and the dual-level loss against a plain Python loop over anchors and pairs."""

from __future__ import annotations

import math

import pytest
import torch

from sslasd.errors import ConfigError, DataError
from sslasd.models.heads.contrastive import DualLevelContrastiveLoss, supervised_contrastive_loss


def _loop_supcon(emb: torch.Tensor, is_positive, in_contrast, temperature: float) -> float:
    """Khosla et al.'s L_out written out: ``is_positive(i, j)``, ``in_contrast(i, j)`` for i != j."""
    z = [e / e.norm() for e in emb.double()]
    n = len(z)
    terms = []
    for i in range(n):
        contrast = [a for a in range(n) if a != i and in_contrast(i, a)]
        positives = [p for p in contrast if is_positive(i, p)]
        if not positives:
            continue
        denominator = sum(math.exp(float(z[i] @ z[a]) / temperature) for a in contrast)
        terms.append(
            -sum(math.log(math.exp(float(z[i] @ z[p]) / temperature) / denominator) for p in positives)
            / len(positives)
        )
    return sum(terms) / len(terms) if terms else 0.0


def _batch(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """12 items: coarse labels with an excluded item and a singleton; fine labels local to sections."""
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(12, 5, generator=g) * 3  # not normalised: the loss normalises
    coarse = torch.tensor([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, -1, 3])
    fine = torch.tensor([0, 0, 1, 1, 0, 0, -1, 0, 1, 2, 0, 0])
    return emb, coarse, fine


@pytest.mark.parametrize("temperature", [0.07, 0.1, 0.5])
@pytest.mark.parametrize("data_seed", [0, 1])
def test_supcon_matches_loop(temperature: float, data_seed: int) -> None:
    emb, labels, _ = _batch(data_seed)
    got = supervised_contrastive_loss(emb, labels, temperature)
    expected = _loop_supcon(
        emb,
        lambda i, j: labels[i] == labels[j],
        lambda i, j: labels[i] >= 0 and labels[j] >= 0,
        temperature,
    )
    assert got.item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("fine_negatives", ["within_section", "all"])
@pytest.mark.parametrize("data_seed", [0, 1])
def test_dual_level_matches_loop(fine_negatives: str, data_seed: int) -> None:
    emb, coarse, fine = _batch(data_seed)
    loss = DualLevelContrastiveLoss(
        coarse_weight=0.7, fine_weight=1.3, temperature=0.2, fine_negatives=fine_negatives
    )
    out = loss(emb, coarse, fine)

    def has_fine(i: int) -> bool:
        return bool(coarse[i] >= 0 and fine[i] >= 0)

    def same_section(i: int, j: int) -> bool:
        return bool(coarse[i] == coarse[j])

    expected_coarse = _loop_supcon(
        emb, lambda i, j: coarse[i] == coarse[j], lambda i, j: coarse[i] >= 0 and coarse[j] >= 0, 0.2
    )
    expected_fine = _loop_supcon(
        emb,
        lambda i, j: same_section(i, j) and fine[i] == fine[j],
        lambda i, j: has_fine(i) and has_fine(j) and (fine_negatives == "all" or same_section(i, j)),
        0.2,
    )
    assert out["coarse"].item() == pytest.approx(expected_coarse, rel=1e-5)
    assert out["fine"].item() == pytest.approx(expected_fine, rel=1e-5)
    assert out["loss"].item() == pytest.approx(0.7 * expected_coarse + 1.3 * expected_fine, rel=1e-5)


def test_fine_labels_are_local_to_a_section() -> None:
    """Fine label 0 in section 0 and fine label 0 in section 1 are not positives of each other."""
    emb = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    coarse = torch.tensor([0, 1, 0, 1])
    fine = torch.tensor([0, 0, 1, 1])
    out = DualLevelContrastiveLoss(fine_negatives="all")(emb, coarse, fine)
    assert out["fine"].item() == 0.0  # no anchor has a positive


def test_no_anchor_gives_zero_attached_to_the_graph() -> None:
    emb = torch.randn(3, 4, requires_grad=True)
    loss = supervised_contrastive_loss(emb, torch.tensor([0, 1, -1]))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(emb.grad, torch.zeros_like(emb))


def test_gradient_pulls_positives_together() -> None:
    emb = torch.nn.functional.normalize(torch.randn(6, 3, generator=torch.Generator().manual_seed(0)), dim=-1)
    emb.requires_grad_(True)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    optimiser = torch.optim.SGD([emb], lr=0.5)
    losses = []
    for _ in range(30):
        loss = supervised_contrastive_loss(emb, labels, 0.5)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    z = torch.nn.functional.normalize(emb.detach(), dim=-1)
    sim = z @ z.T
    assert losses[-1] < losses[0]
    assert sim[:3, :3].min() > sim[:3, 3:].max()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: supervised_contrastive_loss(torch.randn(3, 2), torch.tensor([0, 1])), DataError, "labels"),
        (
            lambda: supervised_contrastive_loss(torch.randn(3), torch.tensor([0, 1, 1])),
            DataError,
            "embeddings",
        ),
        (
            lambda: supervised_contrastive_loss(torch.randn(2, 2), torch.tensor([0, 0]), 0.0),
            ConfigError,
            "temperature",
        ),
        (lambda: DualLevelContrastiveLoss(fine_negatives="none"), ConfigError, "fine_negatives"),  # type: ignore[arg-type]
    ],
)
def test_errors(call: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()  # type: ignore[operator]


def test_float32_under_bf16_autocast() -> None:
    emb, labels = torch.randn(10, 8, generator=torch.Generator().manual_seed(0)), torch.arange(10) % 3
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = supervised_contrastive_loss(emb.bfloat16(), labels, 0.05)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(
        supervised_contrastive_loss(emb.bfloat16().float(), labels, 0.05).item()
    )


def test_gradients_finite_and_zero_for_excluded_items() -> None:
    emb, coarse, fine = _batch(0)
    emb.requires_grad_(True)
    DualLevelContrastiveLoss()(emb, coarse, fine)["loss"].backward()
    assert torch.isfinite(emb.grad).all()
    assert torch.equal(emb.grad[10], torch.zeros(5))  # coarse label -1: in no level
