"""Grouped convolutions run in float32 under CPU bf16 autocast (oneDNN's bf16 grouped kernel is wrong).

The wrong kernel only runs on CPUs with AMX / AVX512-BF16, so these tests do not look for it: they
ask that a guarded convolution under ``torch.autocast("cpu", dtype=torch.bfloat16)`` equals its
float32 output to float32 tolerance. A convolution that ran in bf16 (right or wrong kernel) is off
by bf16 rounding, about 1e-2 here, so removing a guard fails these tests on every CPU.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sslasd.models.backbones import load_backbone
from sslasd.models.backbones._beats_encoder import BeatsWeightNormConv1d
from sslasd.models.backbones._grouped_conv import grouped_conv, guard_grouped_convs, is_guarded

#: float32 tolerance: the guarded and the reference convolution run the same float32 kernel.
ATOL = 1e-5


def _bf16(fn, *args, **kwargs):
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        return fn(*args, **kwargs)


def _failing_case() -> tuple[nn.Conv1d, torch.Tensor]:
    """The issue's case: 16 groups of 2 channels, a 128-tap kernel (oneDNN bf16 off by 1.40)."""
    torch.manual_seed(0)
    return nn.Conv1d(32, 32, 128, padding=64, groups=16), torch.randn(2, 32, 300)


def test_unguarded_bf16_conv_misses_the_float32_tolerance() -> None:
    """The premise of every test here: plain bf16 autocast cannot meet ATOL."""
    conv, x = _failing_case()
    with torch.no_grad():
        reference = conv(x)
    cast = _bf16(conv, x)
    assert cast.dtype == torch.bfloat16
    assert (cast.float() - reference).abs().max() > 100 * ATOL


def test_guarded_conv_equals_float32_under_cpu_bf16_autocast() -> None:
    conv, x = _failing_case()
    with torch.no_grad():
        reference = conv(x)
    assert guard_grouped_convs(conv) == [""]
    cast = _bf16(conv, x)
    assert cast.dtype == torch.float32
    torch.testing.assert_close(cast, reference, rtol=0, atol=ATOL)
    with torch.no_grad():
        torch.testing.assert_close(conv(x), reference, rtol=0, atol=0)  # no autocast: unchanged


def test_functional_grouped_conv_equals_float32_under_cpu_bf16_autocast() -> None:
    conv, x = _failing_case()
    with torch.no_grad():
        reference = conv(x)
    cast = _bf16(grouped_conv, F.conv1d, x, conv.weight, conv.bias, padding=64, groups=16)
    torch.testing.assert_close(cast, reference, rtol=0, atol=ATOL)


def test_guard_takes_bf16_inputs_and_weights() -> None:
    """Under autocast the input may already be bf16 (a previous layer's output), and a model may
    have been cast with ``.to(torch.bfloat16)``: both run in float32 all the same."""
    conv, x = _failing_case()
    guard_grouped_convs(conv)
    x16 = x.bfloat16()
    with torch.no_grad():
        weight, bias = conv.weight.bfloat16().float(), conv.bias.bfloat16().float()
        reference = F.conv1d(x16.float(), weight, bias, padding=64, groups=16)
        conv.bfloat16()
    torch.testing.assert_close(_bf16(conv, x16), reference, rtol=0, atol=ATOL)


def test_guard_keeps_state_dict_keys_and_survives_deepcopy() -> None:
    net = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.Conv2d(4, 4, 1))
    keys = list(net.state_dict())
    assert guard_grouped_convs(net) == ["0"] and guard_grouped_convs(net) == ["0"]  # idempotent
    assert list(net.state_dict()) == keys and not is_guarded(net[1])
    copied = copy.deepcopy(net)
    assert is_guarded(copied[0]) and copied[0].forward.__self__ is copied[0]
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        copied[0].weight.mul_(2)
        torch.testing.assert_close(_bf16(copied[0], x), 2 * net[0](x) - net[0].bias[None, :, None, None])


def _grouped_modules(backbone: nn.Module) -> dict[str, nn.Module]:
    """Every grouped convolution of a backbone: ``nn.Conv1d``/``nn.Conv2d`` and BEATs' own."""
    return {
        name: module
        for name, module in backbone.named_modules()
        if isinstance(module, (nn.Conv1d, nn.Conv2d, BeatsWeightNormConv1d)) and module.groups > 1
    }


def _input_for(module: nn.Module) -> torch.Tensor:
    if isinstance(module, BeatsWeightNormConv1d):
        return torch.randn(2, module.weight_v.shape[0], 60)
    if isinstance(module, nn.Conv1d):
        return torch.randn(2, module.in_channels, 60)
    return torch.randn(2, module.in_channels, 12, 10)


#: family -> the number of grouped convolutions of its tiny config (EAT has none: its positions
#: are a fixed sin-cos table; nor has Whisper: its convolutions are dense).
FAMILIES = {
    "beats": 1,
    "eat": 0,
    "wav2vec2": 1,
    "hubert": 1,
    "wavlm": 1,
    "data2vec": 2,
    "efficientat": 15,
    "whisper": 0,
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_grouped_conv_of_a_tiny_backbone_is_float32_under_cpu_autocast(name: str) -> None:
    torch.manual_seed(0)
    backbone = load_backbone(name, tiny=True).eval()
    grouped = _grouped_modules(backbone)
    assert len(grouped) == FAMILIES[name], sorted(grouped)
    for module_name, module in grouped.items():
        x = _input_for(module)
        with torch.no_grad():
            reference = module(x)
        torch.testing.assert_close(_bf16(module, x), reference, rtol=0, atol=ATOL, msg=module_name)


@pytest.mark.parametrize(
    ("name", "path", "layout"),
    [
        ("beats", "encoder.pos_conv", "BCT"),
        ("wav2vec2", "model.encoder.pos_conv_embed", "BTC"),
        ("hubert", "model.encoder.pos_conv_embed", "BTC"),
        ("wavlm", "model.encoder.pos_conv_embed", "BTC"),
        ("data2vec", "model.encoder.pos_conv_embed", "BTC"),
    ],
)
def test_positional_convolution_is_float32_under_cpu_autocast(name: str, path: str, layout: str) -> None:
    """The whole positional block (conv, same-padding, activation, data2vec's layer norms)."""
    torch.manual_seed(0)
    backbone = load_backbone(name, tiny=True).eval()
    block = backbone.get_submodule(path)
    dim = backbone.dim
    x = torch.randn(2, dim, 50) if layout == "BCT" else torch.randn(2, 50, dim)
    with torch.no_grad():
        reference = block(x)
    torch.testing.assert_close(_bf16(block, x).float(), reference, rtol=0, atol=ATOL)


@pytest.mark.gpu
def test_cuda_autocast_is_left_alone() -> None:
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    conv, x = _failing_case()
    guard_grouped_convs(conv.cuda())
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        assert conv(x.cuda()).dtype == torch.bfloat16
