"""Machine-aware Group Adapter: identity at start, gates, unseen machines, per-machine routing, learning."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sslasd.errors import ConfigError, DataError
from sslasd.models.adapters.mga import MachineGroupAdapter

MODES = ["grouped", "per_machine", "shared"]


def _randomise(mga: MachineGroupAdapter) -> None:
    """Non-zero U and gate logits, as after training."""
    with torch.no_grad():
        for name, p in mga.named_parameters():
            if ".up." in name or name.startswith("gate_proj"):
                p.normal_()


def _manual_bottleneck(block: nn.Module, h: torch.Tensor, scale: torch.Tensor | float = 1.0) -> torch.Tensor:
    z = nn.functional.gelu(
        block.down(nn.functional.layer_norm(h, (h.shape[-1],), block.norm.weight, block.norm.bias))
    )
    return (z * scale) @ block.up.weight.T + block.up.bias


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", [(4, 6, 12), (4, 12)])
def test_zero_init_is_identity(seed: int, mode: str, shape: tuple) -> None:
    mga = MachineGroupAdapter(12, 8, n_machines=3, n_groups=4, mode=mode)  # type: ignore[arg-type]
    h = torch.randn(*shape)
    assert torch.equal(mga(h, torch.tensor([0, 1, 2, -1])), h)


def test_grouped_matches_manual_formula(seed: int) -> None:
    mga = MachineGroupAdapter(12, 8, n_machines=3, n_groups=4, temperature=0.5)
    _randomise(mga)
    ids = torch.tensor([2, 0, 1])
    h = torch.randn(3, 5, 12)
    logits = mga.gate_proj(mga.machine_embedding.weight[ids]) / 0.5
    gates = torch.softmax(logits, dim=-1)  # [3, 4]
    scale = 4 * gates.repeat_interleave(2, dim=-1)[:, None, :]  # each gate covers 8 / 4 = 2 units
    torch.testing.assert_close(mga.gates(ids), gates)
    torch.testing.assert_close(mga(h, ids), h + _manual_bottleneck(mga.bottleneck, h, scale))


def test_unseen_machine_gets_the_mean_gate(seed: int) -> None:
    mga = MachineGroupAdapter(12, 8, n_machines=3, n_groups=4)
    _randomise(mga)
    known = mga.gates(torch.arange(3))
    unseen = mga.gates(torch.tensor([-1, 3, 7]))
    torch.testing.assert_close(unseen, known.mean(dim=0).expand(3, -1))
    torch.testing.assert_close(known.sum(dim=-1), torch.ones(3))


def test_per_machine_routes_each_item_to_its_own_adapter(seed: int) -> None:
    mga = MachineGroupAdapter(12, 8, n_machines=3, mode="per_machine")
    _randomise(mga)
    h = torch.randn(5, 7, 12)
    ids = torch.tensor([1, 0, -1, 1, 2])
    out = mga(h, ids)
    for i, m in enumerate(ids.tolist()):
        if m >= 0:
            expected = h[i] + _manual_bottleneck(mga.experts[m], h[i])
        else:
            expected = h[i] + torch.stack([_manual_bottleneck(e, h[i]) for e in mga.experts]).mean(dim=0)
        torch.testing.assert_close(out[i], expected)
    torch.testing.assert_close(mga.gates(ids)[2], torch.full((3,), 1 / 3))
    torch.testing.assert_close(mga.gates(ids)[0], torch.tensor([0.0, 1.0, 0.0]))


def test_per_machine_gradients_stay_in_the_machine(seed: int) -> None:
    mga = MachineGroupAdapter(12, 8, n_machines=3, mode="per_machine")
    _randomise(mga)
    mga(torch.randn(4, 12), torch.tensor([1, 1, 1, 1])).square().sum().backward()
    assert mga.experts[1].down.weight.grad.abs().sum() > 0
    assert mga.experts[0].down.weight.grad is None and mga.experts[2].down.weight.grad is None


def test_shared_ignores_the_machine(seed: int) -> None:
    mga = MachineGroupAdapter(12, 8, n_machines=3, mode="shared")
    _randomise(mga)
    h = torch.randn(1, 12).expand(3, -1)
    out = mga(h, torch.tensor([0, 2, -1]))
    torch.testing.assert_close(out, (h + _manual_bottleneck(mga.bottleneck, h)))
    torch.testing.assert_close(out[0], out[1])


def _train(mode: str, steps: int = 100) -> tuple[MachineGroupAdapter, float]:
    """Two machines whose features need different linear transforms; MSE regression, Adam."""
    torch.manual_seed(0)
    dim = 8
    mga = MachineGroupAdapter(dim, 16, n_machines=2, n_groups=2, embed_dim=4, mode=mode)  # type: ignore[arg-type]
    transforms = torch.randn(2, dim, dim) * 0.5
    h, machine = torch.randn(steps, 32, dim), torch.randint(0, 2, (steps, 32))
    target = h + torch.where(machine[..., None] == 0, h @ transforms[0], h @ transforms[1])
    optimiser = torch.optim.Adam(mga.parameters(), lr=3e-2)
    losses = []
    for step in range(steps):
        loss = (mga(h[step], machine[step]) - target[step]).square().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return mga, sum(losses[-10:]) / 10


def test_gates_learn_to_route_machines_to_different_groups() -> None:
    grouped, grouped_loss = _train("grouped")
    _, shared_loss = _train("shared")
    gates = grouped.gates(torch.tensor([0, 1])).detach()
    assert gates[0].argmax() != gates[1].argmax()
    assert gates.max(dim=-1).values.min() > 0.6  # each machine clearly prefers its group
    assert grouped_loss < 0.75 * shared_loss  # one adapter for both machines cannot fit both transforms


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"mode": "moe"}, "mode"),
        ({"activation": "tanh"}, "activation"),
        ({"hidden": 10, "n_groups": 4}, "n_groups"),
        ({"temperature": 0.0}, "temperature"),
        ({"n_machines": 0}, "n_machines"),
    ],
)
def test_bad_config_names_the_key(kwargs: dict, key: str) -> None:
    args = {"dim": 8, "hidden": 8, "n_machines": 2, **kwargs}
    with pytest.raises(ConfigError, match=key):
        MachineGroupAdapter(**args)


@pytest.mark.parametrize(
    ("h", "ids", "match"),
    [
        (torch.randn(2, 3, 5), torch.tensor([0, 1]), "input"),
        (torch.randn(2, 8), torch.tensor([0, 1, 1]), "machine_ids"),
        (torch.randn(2, 8), torch.tensor([[0, 1]]), "machine_ids"),
    ],
)
def test_bad_inputs(h: torch.Tensor, ids: torch.Tensor, match: str) -> None:
    with pytest.raises(DataError, match=match):
        MachineGroupAdapter(8, 8, n_machines=2)(h, ids)


@pytest.mark.parametrize("mode", MODES)
def test_runs_under_bf16_autocast(seed: int, mode: str) -> None:
    mga = MachineGroupAdapter(8, 8, n_machines=2, n_groups=2, mode=mode)  # type: ignore[arg-type]
    _randomise(mga)
    h, ids = torch.randn(3, 4, 8), torch.tensor([0, 1, -1])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = mga(h, ids)
    torch.testing.assert_close(out.float(), mga(h, ids), rtol=0.05, atol=0.05)


def _train_two_machines(gate_init: str, seed: int, steps: int = 40) -> float:
    """Largest gate difference between two machines after ``steps`` Adam steps (lr 1e-3) on data
    where the machines need different corrections."""
    torch.manual_seed(seed)
    mga = MachineGroupAdapter(16, 16, n_machines=2, n_groups=4, gate_init=gate_init)
    shift = torch.randn(2, 16)
    optimizer = torch.optim.Adam(mga.parameters(), lr=1e-3)
    for _ in range(steps):
        h, ids = torch.randn(32, 16), torch.randint(0, 2, (32,))
        loss = (mga(h, ids) - (h + shift[ids] * (h[:, :1] > 0))).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    gates = mga.gates(torch.tensor([0, 1])).detach()
    return float((gates[0] - gates[1]).abs().max())


def test_random_gate_init_lets_machines_use_different_groups_from_the_start() -> None:
    """Zero-initialised gates start equal and barely move in a short run (the output layer starts at
    zero, so they get no gradient at first); random ones differ from the first step."""
    uniform = MachineGroupAdapter(16, 16, n_machines=2, n_groups=4)
    random = MachineGroupAdapter(16, 16, n_machines=2, n_groups=4, gate_init="random")
    assert torch.equal(uniform.gates(torch.tensor([0])), uniform.gates(torch.tensor([1])))
    assert not torch.allclose(random.gates(torch.tensor([0])), random.gates(torch.tensor([1])), atol=0.05)
    for seed in range(3):
        assert _train_two_machines("uniform", seed) < 0.15 < _train_two_machines("random", seed)
    h = torch.randn(2, 5, 16)
    assert torch.equal(random(h, torch.tensor([0, 1])), h)  # still the identity at the start


def test_gate_init_is_checked() -> None:
    with pytest.raises(ConfigError, match="gate_init"):
        MachineGroupAdapter(16, 16, n_machines=2, gate_init="zeros")
