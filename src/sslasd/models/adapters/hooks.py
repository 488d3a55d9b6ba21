"""Run machine-aware adapters after backbone blocks without editing the backbone's code.

A forward hook on each block replaces the block's output by ``adapter(output, machine_ids)``.
The machine ids of the current batch travel in a context variable set by
:func:`machine_context`, so the backbone's ``forward`` signature (which follows the original
checkpoint's code) stays untouched.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from sslasd.errors import ConfigError

_MACHINE_IDS: ContextVar[torch.Tensor | None] = ContextVar("sslasd_machine_ids", default=None)


@contextmanager
def machine_context(machine_ids: torch.Tensor) -> Iterator[None]:
    """Make ``machine_ids`` (``[B]``, long) the ids that attached adapters see inside the block.

    Examples
    --------
    >>> with machine_context(torch.tensor([0, 1])):
    ...     current_machine_ids().tolist()
    [0, 1]
    """
    token = _MACHINE_IDS.set(machine_ids)
    try:
        yield
    finally:
        _MACHINE_IDS.reset(token)


def current_machine_ids() -> torch.Tensor:
    """The ids set by the innermost :func:`machine_context`.

    Raises
    ------
    ConfigError
        Called outside any :func:`machine_context`.
    """
    ids = _MACHINE_IDS.get()
    if ids is None:
        raise ConfigError(
            "machine-aware adapters are attached but no machine ids were given: "
            "run the model inside `with machine_context(machine_ids): ...`"
        )
    return ids


class AdapterHooks:
    """The hooks placed by :func:`attach_block_adapters`; :meth:`remove` detaches them all.

    Also a context manager that removes the hooks on exit.
    """

    def __init__(self, handles: list[RemovableHandle]) -> None:
        self.handles = handles

    def remove(self) -> None:
        """Detach every hook (idempotent)."""
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def __len__(self) -> int:
        return len(self.handles)

    def __enter__(self) -> AdapterHooks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def attach_block_adapters(blocks: Sequence[nn.Module], adapters: Sequence[nn.Module]) -> AdapterHooks:
    """Apply ``adapters[i]`` to the output of ``blocks[i]`` on every forward pass.

    A block's output is either a tensor ``[B, T, C]`` or a tuple whose first element is that
    tensor (the rest of the tuple is kept as is). Each adapter is called as
    ``adapter(hidden_states, machine_ids)`` with the ids of :func:`machine_context`. The adapters
    are not registered as submodules of the blocks, so the backbone's state-dict keys do not
    change; keep them in a module of your own (e.g. an ``nn.ModuleList``) to train and save them.

    Parameters
    ----------
    blocks : sequence of nn.Module
        Blocks to hook, e.g. the top ``n`` of ``Backbone.blocks()``.
    adapters : sequence of nn.Module
        One adapter per block, in the same order.

    Returns
    -------
    AdapterHooks

    Raises
    ------
    ConfigError
        ``blocks`` and ``adapters`` differ in length; at run time, a block returns something other
        than a tensor or a tuple starting with one, or no :func:`machine_context` is active.

    Examples
    --------
    >>> from sslasd.models.adapters.mga import MachineGroupAdapter
    >>> blocks = [nn.Linear(8, 8), nn.Linear(8, 8)]
    >>> hooks = attach_block_adapters(blocks[1:], [MachineGroupAdapter(8, 4, n_machines=2, n_groups=2)])
    >>> with machine_context(torch.tensor([1])):
    ...     y = blocks[1](blocks[0](torch.randn(1, 8)))
    >>> hooks.remove()
    """
    if len(blocks) != len(adapters):
        raise ConfigError(
            f"attach_block_adapters: got {len(blocks)} blocks and {len(adapters)} adapters, expected one "
            "adapter per block"
        )
    handles = [block.register_forward_hook(_make_hook(adapter)) for block, adapter in zip(blocks, adapters)]
    return AdapterHooks(handles)


def _make_hook(adapter: nn.Module) -> Any:
    def hook(module: nn.Module, inputs: Any, output: Any) -> Any:
        ids = current_machine_ids()
        if isinstance(output, torch.Tensor):
            return adapter(output, ids)
        if isinstance(output, tuple) and output and isinstance(output[0], torch.Tensor):
            return (adapter(output[0], ids), *output[1:])
        raise ConfigError(
            f"cannot adapt the output of {type(module).__name__}: got {type(output).__name__}, "
            "expected a tensor [B, T, C] or a tuple whose first element is one"
        )

    return hook
