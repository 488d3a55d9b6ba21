"""FC-LoRA: zero start, the Kronecker formula, plain LoRA as K = 1, merge/unmerge, gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sslasd.errors import ConfigError
from sslasd.models.adapters.lora import FCLoRALinear, FCLoRAPointwiseConv


def _randomise(layer: FCLoRALinear) -> None:
    """Give B and G non-trivial values, as after some training."""
    with torch.no_grad():
        layer.lora_B.normal_()
        layer.lora_G.normal_()


def _reference_weight(layer: FCLoRALinear) -> torch.Tensor:
    """``W + (alpha / r) B (G kron I_r) A`` with the Kronecker matrix built explicitly."""
    kron = torch.kron(layer.lora_G, torch.eye(layer.rank, dtype=layer.lora_G.dtype))
    return layer.base.weight + layer.lora_B @ kron @ layer.lora_A * (layer.alpha / layer.rank)


def _reference(layer: FCLoRALinear, x: torch.Tensor) -> torch.Tensor:
    return x @ _reference_weight(layer).T + layer.base.bias


@pytest.mark.parametrize("branches", [1, 3])
@pytest.mark.parametrize("mixing_init", ["identity", "uniform"])
@pytest.mark.parametrize("shape", [(4, 12), (2, 5, 12)])
def test_zero_init_leaves_outputs_unchanged(seed: int, branches: int, mixing_init: str, shape: tuple) -> None:
    base = nn.Linear(12, 7)
    x = torch.randn(*shape)
    expected = base(x)
    layer = FCLoRALinear(base, rank=2, branches=branches, alpha=8.0, mixing_init=mixing_init)
    assert torch.equal(layer(x), expected)
    assert torch.count_nonzero(layer.delta_weight()) == 0


@pytest.mark.parametrize(
    ("mixing_init", "expected"), [("identity", torch.eye(3)), ("uniform", torch.full((3, 3), 1 / 3))]
)
def test_mixing_init(seed: int, mixing_init: str, expected: torch.Tensor) -> None:
    layer = FCLoRALinear(nn.Linear(6, 4), rank=2, branches=3, mixing_init=mixing_init)
    torch.testing.assert_close(layer.lora_G.detach(), expected)


@pytest.mark.parametrize(("rank", "branches"), [(1, 1), (2, 3), (4, 2)])
def test_forward_matches_kronecker_formula(seed: int, rank: int, branches: int) -> None:
    layer = FCLoRALinear(nn.Linear(10, 6).double(), rank=rank, branches=branches, alpha=3.0)
    _randomise(layer)
    x = torch.randn(3, 4, 10, dtype=torch.float64)
    torch.testing.assert_close(layer(x), _reference(layer, x))
    torch.testing.assert_close(layer.merged_weight(), _reference_weight(layer))


def test_k1_fixed_mixing_is_plain_lora(seed: int) -> None:
    layer = FCLoRALinear(nn.Linear(9, 5), rank=3, branches=1, alpha=6.0, learn_mixing=False)
    _randomise(layer)
    with torch.no_grad():
        layer.lora_G.fill_(1.0)  # the buffer is what plain LoRA fixes
    assert "lora_G" not in dict(layer.named_parameters())
    a, b, w, bias = layer.lora_A, layer.lora_B, layer.base.weight, layer.base.bias
    x = torch.randn(8, 9)
    plain_lora = x @ w.T + bias + (6.0 / 3) * (x @ a.T) @ b.T
    torch.testing.assert_close(layer(x), plain_lora)


@pytest.mark.parametrize("branches", [1, 4])
def test_merged_equals_unmerged_and_unmerge_restores(seed: int, branches: int) -> None:
    layer = FCLoRALinear(nn.Linear(16, 8), rank=2, branches=branches, alpha=4.0)
    _randomise(layer)
    original = layer.base.weight.detach().clone()
    x = torch.randn(5, 16)
    unmerged = layer(x)
    expected_weight = layer.merged_weight().detach().clone()
    layer.merge()
    layer.merge()  # idempotent
    assert layer.merged
    torch.testing.assert_close(layer.base.weight, expected_weight)
    torch.testing.assert_close(layer(x), unmerged, rtol=1e-5, atol=1e-5)
    layer.unmerge()
    layer.unmerge()
    assert not layer.merged
    torch.testing.assert_close(layer.base.weight, original, rtol=0, atol=1e-6)
    torch.testing.assert_close(layer(x), unmerged)


def test_gradient_flows_into_mixing_matrix(seed: int) -> None:
    layer = FCLoRALinear(nn.Linear(10, 6).double(), rank=2, branches=3, alpha=2.0)
    _randomise(layer)
    x = torch.randn(7, 10, dtype=torch.float64)
    layer(x).square().sum().backward()
    ours = [layer.lora_A.grad.clone(), layer.lora_B.grad.clone(), layer.lora_G.grad.clone()]
    layer.zero_grad()
    _reference(layer, x).square().sum().backward()
    assert ours[2].abs().sum() > 0
    for got, ref in zip(ours, [layer.lora_A.grad, layer.lora_B.grad, layer.lora_G.grad]):
        torch.testing.assert_close(got, ref)
    assert layer.base.weight.grad is None  # the wrapped layer is frozen


def test_dropout_only_in_training(seed: int) -> None:
    layer = FCLoRALinear(nn.Linear(10, 6), rank=2, branches=2, dropout=0.5)
    _randomise(layer)
    x = torch.randn(50, 10)
    layer.eval()
    torch.testing.assert_close(layer(x), _reference(layer, x))
    layer.train()
    assert not torch.allclose(layer(x), _reference(layer, x))


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"rank": 0}, "rank"),
        ({"branches": 0}, "branches"),
        ({"dropout": 1.0}, "dropout"),
        ({"mixing_init": "random"}, "mixing_init"),
    ],
)
def test_bad_config_names_the_key(kwargs: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        FCLoRALinear(nn.Linear(4, 4), **kwargs)


def test_refuses_a_non_linear() -> None:
    with pytest.raises(ConfigError, match="Conv1d"):
        FCLoRALinear(nn.Conv1d(4, 4, 1))  # type: ignore[arg-type]


def test_runs_under_bf16_autocast(seed: int) -> None:
    layer = FCLoRALinear(nn.Linear(16, 8), rank=2, branches=2)
    _randomise(layer)
    x = torch.randn(4, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
    torch.testing.assert_close(out.float(), layer(x), rtol=0.05, atol=0.1)


@pytest.mark.parametrize("branches", [1, 2])
def test_a_pointwise_conv_gets_the_same_update_at_every_position(seed: int, branches: int) -> None:
    """FC-LoRA on a 1 x 1 convolution is FC-LoRA on a linear layer over channels, applied at every
    time-frequency position; merging folds it into the kernel."""
    conv = nn.Conv2d(6, 5, 1)
    layer = FCLoRAPointwiseConv(conv, rank=2, branches=branches)
    _randomise(layer)
    linear = nn.Linear(6, 5)
    with torch.no_grad():
        linear.weight.copy_(conv.weight[:, :, 0, 0])
        linear.bias.copy_(conv.bias)
    twin = FCLoRALinear(linear, rank=2, branches=branches)
    with torch.no_grad():
        for key in ("lora_A", "lora_B", "lora_G"):
            getattr(twin, key).copy_(getattr(layer, key))
    x = torch.randn(3, 6, 4, 7)
    out = layer(x)
    torch.testing.assert_close(out, twin(x.movedim(1, -1)).movedim(-1, 1))
    out.square().sum().backward()
    assert layer.lora_A.grad is not None and conv.weight.grad is None
    layer.merge()
    assert layer.base.weight.shape == (5, 6, 1, 1)
    torch.testing.assert_close(layer(x), out.detach(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "conv", [nn.Conv2d(4, 4, 3), nn.Conv2d(4, 4, 1, stride=2), nn.Conv2d(4, 4, 1, groups=2), nn.Linear(4, 4)]
)
def test_a_pointwise_wrapper_refuses_other_layers(conv: nn.Module) -> None:
    with pytest.raises(ConfigError, match="1 x 1 kernel"):
        FCLoRAPointwiseConv(conv)  # type: ignore[arg-type]
