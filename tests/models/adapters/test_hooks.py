"""Adapters hooked after blocks of a toy stack: tensor and tuple outputs, the machine context, removal."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sslasd.errors import ConfigError
from sslasd.models.adapters import AdapterHooks, MachineGroupAdapter, attach_block_adapters, machine_context
from sslasd.models.adapters.hooks import current_machine_ids

DIM = 6


class TensorBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(DIM, DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.tanh(self.fc(x))


class TupleBlock(TensorBlock):
    """Returns ``(hidden, attention)`` like many transformer layers."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        hidden = super().forward(x)
        return hidden, hidden.sum(dim=-1)


class Stack(nn.Module):
    def __init__(self, block: type[TensorBlock], n: int = 3) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(block() for _ in range(n))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        extras = []
        for block in self.blocks:
            out = block(x)
            x, extra = (out[0], [out[1]]) if isinstance(out, tuple) else (out, [])
            extras += extra
        return x, extras


def _adapters(n: int) -> nn.ModuleList:
    adapters = nn.ModuleList(MachineGroupAdapter(DIM, 4, n_machines=2, n_groups=2) for _ in range(n))
    with torch.no_grad():
        for name, p in adapters.named_parameters():
            if ".up." in name or "gate_proj" in name:
                p.normal_()
    return adapters


@pytest.mark.parametrize("block", [TensorBlock, TupleBlock])
def test_adapters_run_after_the_top_blocks(seed: int, block: type[TensorBlock]) -> None:
    stack = Stack(block)
    adapters = _adapters(2)
    x, ids = torch.randn(4, 5, DIM), torch.tensor([0, 1, 1, -1])
    plain, plain_extras = stack(x)

    # by hand: block 0, then block 1 + adapter 0, then block 2 + adapter 1; extras come from the adapted path
    h = stack.blocks[0](x)
    h = h[0] if isinstance(h, tuple) else h
    expected_extras = [h.sum(dim=-1)] if block is TupleBlock else []
    for blk, adapter in zip(stack.blocks[1:], adapters):
        out = blk(h)
        h = adapter(out[0] if isinstance(out, tuple) else out, ids)
        if isinstance(out, tuple):
            expected_extras.append(out[1])

    hooks = attach_block_adapters(list(stack.blocks[1:]), adapters)
    assert isinstance(hooks, AdapterHooks) and len(hooks) == 2
    with machine_context(ids):
        adapted, extras = stack(x)
    torch.testing.assert_close(adapted, h)
    assert not torch.allclose(adapted, plain)
    assert len(extras) == len(expected_extras)
    for got, want in zip(extras, expected_extras):
        torch.testing.assert_close(got, want)

    hooks.remove()
    assert len(hooks) == 0
    again, again_extras = stack(x)  # no context needed once detached
    torch.testing.assert_close(again, plain)
    assert len(again_extras) == len(plain_extras)


def test_outside_a_context_is_a_clear_error(seed: int) -> None:
    stack = Stack(TensorBlock)
    with (
        attach_block_adapters([stack.blocks[2]], _adapters(1)),
        pytest.raises(ConfigError, match="machine_context"),
    ):
        stack(torch.randn(2, DIM))
    stack(torch.randn(2, DIM))  # the context manager removed the hooks


def test_contexts_nest_and_reset() -> None:
    with machine_context(torch.tensor([1])):
        with machine_context(torch.tensor([2, 3])):
            assert current_machine_ids().tolist() == [2, 3]
        assert current_machine_ids().tolist() == [1]
    with pytest.raises(ConfigError):
        current_machine_ids()


def test_unsupported_output_type(seed: int) -> None:
    block = nn.Identity()
    attach_block_adapters([block], _adapters(1))
    with machine_context(torch.tensor([0])), pytest.raises(ConfigError, match="dict"):
        block({"hidden": torch.randn(1, DIM)})


def test_length_mismatch() -> None:
    with pytest.raises(ConfigError, match="2 blocks and 1 adapters"):
        attach_block_adapters([nn.Identity(), nn.Identity()], _adapters(1))


def test_backbone_state_dict_keys_do_not_change(seed: int) -> None:
    stack = Stack(TensorBlock)
    keys = list(stack.state_dict())
    attach_block_adapters(list(stack.blocks), _adapters(3))
    assert list(stack.state_dict()) == keys
