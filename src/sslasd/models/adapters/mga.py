"""Machine-aware Group Adapter (MGA): a residual bottleneck whose hidden groups are gated by machine.

``out = h + U(gate(m) * act(D(LN(h))))``: the ``hidden`` units of the bottleneck are split into
``G`` groups and a learned embedding of the machine type ``m`` gives softmax gates over the
groups, so machine types that sound alike can share groups and machine types that differ can own
theirs. ``U`` starts at zero, so an adapter starts as the identity and fine-tuning begins from the
pretrained features. Follows Han et al. (TASLP 2025); gate parametrisation, the rescaling by ``G``
and the unseen-machine rule are our choices.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from sslasd.errors import ConfigError, DataError

AdapterMode = Literal["grouped", "per_machine", "shared"]
GateInit = Literal["uniform", "random"]
MODES: tuple[str, ...] = ("grouped", "per_machine", "shared")
ACTIVATIONS: dict[str, type[nn.Module]] = {"gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU}


class _Bottleneck(nn.Module):
    """``U(scale * act(D(LN(h))))`` with ``U`` zero-initialised (the residual is added by the caller)."""

    def __init__(self, dim: int, hidden: int, activation: str) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.down = nn.Linear(dim, hidden)
        self.act = ACTIVATIONS[activation]()
        self.up = nn.Linear(hidden, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, h: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        z = self.act(self.down(self.norm(h)))  # [..., hidden]
        if scale is not None:
            z = z * scale
        return self.up(z)  # [..., dim]


class MachineGroupAdapter(nn.Module):
    """Residual bottleneck adapter conditioned on the machine type.

    Parameters
    ----------
    dim : int
        Feature size ``C`` of the hidden states it adapts.
    hidden : int
        Bottleneck units. In ``"grouped"`` mode split into ``n_groups`` equal groups; in
        ``"per_machine"`` mode each machine's adapter has ``hidden`` units.
    n_machines : int
        Number of known machine types; ids ``0 .. n_machines - 1``.
    n_groups : int
        ``G``, number of gated groups (``"grouped"`` mode only).
    mode : {"grouped", "per_machine", "shared"}
        ``"grouped"``: softmax gates from a machine embedding scale the groups. ``"per_machine"``:
        one independent bottleneck per machine type (equivalent to ``G = n_machines`` groups with
        fixed one-hot gates, written as a ``ModuleList`` so that each machine's weights are plainly
        its own). ``"shared"``: one bottleneck for every machine (no conditioning).
    embed_dim : int
        Size of the machine embedding that produces the gates (``"grouped"``).
    temperature : float
        Softmax temperature of the gates; lower = closer to one group per machine.
    gate_init : {"uniform", "random"}
        ``"uniform"``: ``gate_proj`` starts at zero, every machine starts with equal gates, and
        since ``U`` starts at zero too the gates get no gradient until ``U`` has moved (measured: a
        largest gate deviation of 0.05 after 40 steps). ``"random"``: ``gate_proj`` starts with
        weights of standard deviation ``embed_dim ** -0.5``, so the gate logits start about one
        unit apart and each machine leans on its own groups from the first step.
    activation : {"gelu", "relu", "silu"}

    Attributes
    ----------
    machine_embedding : nn.Embedding
        ``[n_machines, embed_dim]`` (``"grouped"`` only).
    gate_proj : nn.Linear
        ``embed_dim -> n_groups`` gate logits (``"grouped"`` only; see ``gate_init``).
    bottleneck : nn.Module
        The shared bottleneck (``"grouped"``, ``"shared"``).
    experts : nn.ModuleList
        One bottleneck per machine (``"per_machine"``).

    Notes
    -----
    In ``"grouped"`` mode each group's units are multiplied by ``G * gate``, so uniform gates leave
    the units unscaled whatever ``G`` is. An unseen machine (id ``-1`` or ``>= n_machines``) gets
    the mean of the known machines' gates (``"grouped"``) or the mean of the per-machine adapters'
    outputs (``"per_machine"``); ``"shared"`` ignores the id.

    Raises
    ------
    ConfigError
        Unknown ``mode``/``activation``, non-positive sizes or temperature, or ``hidden`` not a
        multiple of ``n_groups``.

    Examples
    --------
    >>> mga = MachineGroupAdapter(32, 16, n_machines=3, n_groups=4)
    >>> h = torch.randn(2, 10, 32)
    >>> torch.equal(mga(h, torch.tensor([0, 2])), h)  # U starts at zero
    True
    >>> mga.gates(torch.tensor([1, -1])).shape
    torch.Size([2, 4])
    """

    def __init__(
        self,
        dim: int,
        hidden: int = 64,
        *,
        n_machines: int,
        n_groups: int = 4,
        mode: AdapterMode = "grouped",
        embed_dim: int = 16,
        temperature: float = 1.0,
        activation: str = "gelu",
        gate_init: GateInit = "uniform",
    ) -> None:
        super().__init__()
        _check_config(dim, hidden, n_machines, n_groups, mode, embed_dim, temperature, activation)
        if gate_init not in ("uniform", "random"):
            raise ConfigError(f"adapter gate_init: got {gate_init!r}, expected 'uniform' or 'random'")
        self.dim = dim
        self.hidden = hidden
        self.n_machines = n_machines
        self.mode = mode
        self.n_groups = {"grouped": n_groups, "per_machine": n_machines, "shared": 1}[mode]
        self.temperature = float(temperature)
        if mode == "per_machine":
            self.experts = nn.ModuleList(_Bottleneck(dim, hidden, activation) for _ in range(n_machines))
        else:
            self.bottleneck = _Bottleneck(dim, hidden, activation)
        if mode == "grouped":
            self.machine_embedding = nn.Embedding(n_machines, embed_dim)
            self.gate_proj = nn.Linear(embed_dim, n_groups)
            if gate_init == "uniform":
                nn.init.zeros_(self.gate_proj.weight)
            else:
                nn.init.normal_(self.gate_proj.weight, std=embed_dim**-0.5)
            nn.init.zeros_(self.gate_proj.bias)

    def gates(self, machine_ids: torch.Tensor) -> torch.Tensor:
        """Gate of each group for each item, ``[B, n_groups]``, rows summing to 1.

        ``"grouped"``: the softmax gates (unseen ids: mean over known machines); ``"per_machine"``:
        one-hot on the machine (unseen: uniform); ``"shared"``: a single gate of 1.
        """
        ids = machine_ids.to(self._device()).long()
        known = (ids >= 0) & (ids < self.n_machines)
        if self.mode == "shared":
            return torch.ones(ids.shape[0], 1, device=ids.device)
        if self.mode == "per_machine":
            uniform = torch.full((ids.shape[0], self.n_machines), 1.0 / self.n_machines, device=ids.device)
            one_hot = F.one_hot(ids.clamp(0, self.n_machines - 1), self.n_machines).to(uniform.dtype)
            return torch.where(known[:, None], one_hot, uniform)
        table = torch.softmax(self.gate_proj(self.machine_embedding.weight) / self.temperature, dim=-1)
        mean_gate = table.mean(dim=0, keepdim=True)  # [1, G]
        return torch.where(known[:, None], table[ids.clamp(0, self.n_machines - 1)], mean_gate)

    def forward(self, h: torch.Tensor, machine_ids: torch.Tensor) -> torch.Tensor:
        """Adapt ``h`` (``[B, T, C]`` or ``[B, C]``) for machines ``machine_ids`` (``[B]``, long).

        Raises
        ------
        DataError
            ``h`` is not 2-D/3-D with last axis ``dim``, or ``machine_ids`` is not ``[B]``.
        """
        self._check_inputs(h, machine_ids)
        ids = machine_ids.to(h.device).long()
        if self.mode == "shared":
            return h + self.bottleneck(h)
        if self.mode == "per_machine":
            return h + self._per_machine(h, ids)
        gates = self.gates(ids).to(h.dtype)  # [B, G]
        scale = (gates * self.n_groups).repeat_interleave(self.hidden // self.n_groups, dim=-1)  # [B, hidden]
        if h.dim() == 3:
            scale = scale[:, None, :]  # [B, 1, hidden], broadcast over frames
        return h + self.bottleneck(h, scale)

    def _per_machine(self, h: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Each item through its own machine's bottleneck; unseen machines get the mean of all."""
        delta = torch.zeros_like(h)
        unseen = (ids < 0) | (ids >= self.n_machines)
        for m, expert in enumerate(self.experts):
            rows = (ids == m).nonzero(as_tuple=True)[0]
            if rows.numel():
                delta = delta.index_copy(0, rows, expert(h[rows]).to(delta.dtype))
        rows = unseen.nonzero(as_tuple=True)[0]
        if rows.numel():
            mean_delta = torch.stack([expert(h[rows]) for expert in self.experts]).mean(dim=0)
            delta = delta.index_copy(0, rows, mean_delta.to(delta.dtype))
        return delta

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def _check_inputs(self, h: torch.Tensor, machine_ids: torch.Tensor) -> None:
        if h.dim() not in (2, 3) or h.shape[-1] != self.dim:
            raise DataError(
                f"MachineGroupAdapter input: got shape {tuple(h.shape)}, "
                f"expected [B, T, {self.dim}] or [B, {self.dim}]"
            )
        if machine_ids.dim() != 1 or machine_ids.shape[0] != h.shape[0]:
            raise DataError(
                f"MachineGroupAdapter machine_ids: got shape {tuple(machine_ids.shape)}, "
                f"expected [{h.shape[0]}] (one id per batch item)"
            )

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, hidden={self.hidden}, n_machines={self.n_machines}, "
            f"n_groups={self.n_groups}, mode={self.mode!r}, temperature={self.temperature}"
        )


def _check_config(
    dim: int,
    hidden: int,
    n_machines: int,
    n_groups: int,
    mode: str,
    embed_dim: int,
    temperature: float,
    activation: str,
) -> None:
    if mode not in MODES:
        raise ConfigError(f"adapter mode: got {mode!r}, expected one of {list(MODES)}")
    if activation not in ACTIVATIONS:
        raise ConfigError(f"adapter activation: got {activation!r}, expected one of {sorted(ACTIVATIONS)}")
    for key, value in (
        ("dim", dim),
        ("hidden", hidden),
        ("n_machines", n_machines),
        ("embed_dim", embed_dim),
    ):
        if value < 1:
            raise ConfigError(f"adapter {key}: got {value}, expected an integer >= 1")
    if mode == "grouped" and (n_groups < 1 or hidden % n_groups):
        raise ConfigError(
            f"adapter n_groups: got {n_groups} with hidden={hidden}, expected a divisor of hidden >= 1"
        )
    if temperature <= 0:
        raise ConfigError(f"adapter temperature: got {temperature}, expected > 0")
