"""Injecting FC-LoRA into a toy backbone: target patterns, merging back, trainable sets, counts."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from sslasd.errors import ConfigError
from sslasd.models.adapters import (
    FCLoRALinear,
    MachineGroupAdapter,
    count_parameters,
    inject_lora,
    lora_state_dict,
    match_names,
    merge_lora,
    set_trainable,
)

DIM = 8


class ToyBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(DIM)
        self.q_proj, self.k_proj, self.v_proj = nn.Linear(DIM, DIM), nn.Linear(DIM, DIM), nn.Linear(DIM, DIM)
        self.fc1, self.fc2 = nn.Linear(DIM, 2 * DIM), nn.Linear(2 * DIM, DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        x = x + self.q_proj(h) * self.k_proj(h) + self.v_proj(h)
        return x + self.fc2(torch.relu(self.fc1(x)))


class ToyBackbone(nn.Module):
    def __init__(self, n_blocks: int = 2) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(ToyBlock() for _ in range(n_blocks))
        self.final = nn.Linear(DIM, DIM)  # outside the blocks: not a LoRA candidate

    def linear_names(self) -> list[str]:
        return [n for n, m in self.blocks.named_modules(prefix="blocks") if isinstance(m, nn.Linear)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.final(x)


def _randomise_lora(model: nn.Module) -> None:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, FCLoRALinear):
                m.lora_B.normal_(std=0.1)
                m.lora_G.normal_()


NAMES = ToyBackbone().linear_names()


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        ("all", NAMES),
        (["q_proj"], ["blocks.0.q_proj", "blocks.1.q_proj"]),
        (["q_proj", "v_proj"], ["blocks.0.q_proj", "blocks.0.v_proj", "blocks.1.q_proj", "blocks.1.v_proj"]),
        (["blocks.1.fc?"], ["blocks.1.fc1", "blocks.1.fc2"]),
        (["blocks.*.k_proj"], ["blocks.0.k_proj", "blocks.1.k_proj"]),
        (["re:blocks\\.0\\.(q|k)_proj"], ["blocks.0.q_proj", "blocks.0.k_proj"]),
        (["blocks.0.fc2"], ["blocks.0.fc2"]),
        ("0.fc2", ["blocks.0.fc2"]),  # a dotted suffix, given as a lone string
    ],
)
def test_match_names(patterns: object, expected: list[str]) -> None:
    assert match_names(NAMES, patterns) == expected  # type: ignore[arg-type]


def test_suffix_matches_whole_name_parts_only() -> None:
    with pytest.raises(ConfigError, match="proj"):
        match_names(NAMES, ["proj"])  # "q_proj" ends with "proj" but not with ".proj"


def test_pattern_matching_nothing_lists_the_names() -> None:
    with pytest.raises(ConfigError, match=r"'qkv'.*10 candidate.*'fc1', 'fc2', 'k_proj', 'q_proj', 'v_proj'"):
        match_names(NAMES, ["q_proj", "qkv"])


def test_bad_regex() -> None:
    with pytest.raises(ConfigError, match="regular expression"):
        match_names(NAMES, ["re:("])


def test_inject_wraps_only_the_targets_and_keeps_outputs(seed: int) -> None:
    model = ToyBackbone()
    x = torch.randn(3, 5, DIM)
    before = model(x)
    wrapped = inject_lora(model, model.linear_names(), patterns=["q_proj", "fc2"], rank=2, branches=2)
    assert wrapped == ["blocks.0.q_proj", "blocks.0.fc2", "blocks.1.q_proj", "blocks.1.fc2"]
    kinds = {n: type(m).__name__ for n, m in model.named_modules() if isinstance(m, nn.Linear | FCLoRALinear)}
    assert {n for n, k in kinds.items() if k == "FCLoRALinear"} == set(wrapped)
    assert isinstance(model.final, nn.Linear)
    torch.testing.assert_close(model(x), before)


@pytest.mark.parametrize(
    ("names", "match"),
    [
        (["blocks.0.nope"], "not a module"),
        (["blocks.0.norm"], "LayerNorm"),
        ([""], "model itself"),
    ],
)
def test_inject_refuses_bad_names(names: list[str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        inject_lora(ToyBackbone(), names)


def test_inject_twice_is_refused() -> None:
    model = ToyBackbone()
    inject_lora(model, ["blocks.0.fc1"])
    with pytest.raises(ConfigError, match="already wrapped"):
        inject_lora(model, ["blocks.0.fc1"])


def test_merge_lora_restores_keys_and_keeps_outputs(seed: int) -> None:
    model = ToyBackbone()
    original_keys = list(model.state_dict())
    inject_lora(model, model.linear_names(), rank=2, branches=3)
    _randomise_lora(model)
    x = torch.randn(4, DIM)
    adapted = model(x)
    assert any(".base." in k for k in model.state_dict())
    merged = merge_lora(model)
    assert merged is model
    assert list(model.state_dict()) == original_keys
    assert not any(isinstance(m, FCLoRALinear) for m in model.modules())
    torch.testing.assert_close(model(x), adapted, rtol=1e-5, atol=1e-5)


def test_merge_lora_on_a_single_layer(seed: int) -> None:
    layer = FCLoRALinear(nn.Linear(4, 3), rank=1, branches=2)
    _randomise_lora(layer)
    x = torch.randn(2, 4)
    expected = layer(x)
    merged = merge_lora(layer)
    assert type(merged) is nn.Linear
    torch.testing.assert_close(merged(x), expected)


@pytest.mark.parametrize("learn_mixing", [True, False])
def test_lora_state_dict_round_trip(seed: int, learn_mixing: bool) -> None:
    pretrained = ToyBackbone()
    model, fresh = copy.deepcopy(pretrained), copy.deepcopy(pretrained)
    for m in (model, fresh):
        inject_lora(m, m.linear_names(), patterns="v_proj", rank=2, branches=2, learn_mixing=learn_mixing)
    _randomise_lora(model)
    sd = lora_state_dict(model)
    assert sorted(sd) == sorted(
        f"blocks.{i}.v_proj.{k}" for i in (0, 1) for k in ("lora_A", "lora_B", "lora_G")
    )
    result = fresh.load_state_dict(sd, strict=False)
    assert not result.unexpected_keys
    assert all(".lora_" not in k for k in result.missing_keys)
    x = torch.randn(3, DIM)
    torch.testing.assert_close(fresh(x), model(x))


def _model_with_adapter() -> nn.Module:
    model = ToyBackbone()
    inject_lora(model, model.linear_names(), patterns=["q_proj", "v_proj"], rank=2, branches=2)
    model.adapter = MachineGroupAdapter(DIM, 4, n_machines=2, n_groups=2)
    return model


def _kind(name: str) -> str:
    if name.startswith("adapter."):
        return "adapter"
    if name.rsplit(".", 1)[-1].startswith("lora_"):
        return "lora"
    return "pretrained"


@pytest.mark.parametrize(
    ("mode", "trains"),
    [
        ("frozen", {"adapter"}),
        ("lora", {"adapter", "lora"}),
        ("fc_lora", {"adapter", "lora"}),
        ("full", {"adapter", "lora", "pretrained"}),
    ],
)
def test_set_trainable(mode: str, trains: set[str]) -> None:
    model = _model_with_adapter()
    set_trainable(model, mode)  # type: ignore[arg-type]
    for name, param in model.named_parameters():
        assert param.requires_grad == (_kind(name) in trains), name


def test_only_lora_adapter_and_head_parameters_change(seed: int) -> None:
    """A real optimisation step: with mode "lora" the pretrained weights stay bit-identical."""
    model = _model_with_adapter()
    head = nn.Linear(DIM, 3)
    set_trainable(model, "lora")
    _randomise_lora(model)
    params = [p for p in [*model.parameters(), *head.parameters()] if p.requires_grad]
    before = {
        n: p.detach().clone() for n, p in [*model.named_parameters(), *head.named_parameters(prefix="head")]
    }
    optimiser = torch.optim.SGD(params, lr=0.1)
    x, y = torch.randn(16, DIM), torch.randint(0, 3, (16,))
    h = model.adapter(model(x), torch.randint(0, 2, (16,)))
    nn.functional.cross_entropy(head(h), y).backward()
    optimiser.step()
    after = dict([*model.named_parameters(), *head.named_parameters(prefix="head")])
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    pretrained = {n for n in before if _kind(n) == "pretrained" and not n.startswith("head")}
    assert not changed & pretrained
    assert {"head.weight", "adapter.bottleneck.up.weight"} <= changed
    assert any(n.endswith("lora_B") for n in changed)


def test_set_trainable_errors() -> None:
    with pytest.raises(ConfigError, match="'partial'"):
        set_trainable(ToyBackbone(), "partial")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="inject_lora"):
        set_trainable(ToyBackbone(), "lora")


def test_count_parameters_brute_force() -> None:
    model = _model_with_adapter()
    set_trainable(model, "lora")
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for n, p in model.named_parameters() if _kind(n) != "pretrained")
    assert count_parameters(model) == (trainable, total)
    model.tied = model.final  # a shared module is counted once
    assert count_parameters(model) == (trainable, total)
