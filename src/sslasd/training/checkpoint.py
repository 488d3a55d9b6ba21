"""Trainable state only: what a checkpoint and the final weights hold, and how they go back in.

A fine-tuned model is a large frozen backbone plus a few million trainable weights (adapters,
pooling, heads). Only the trainable part is written, so a checkpoint is megabytes, not gigabytes,
and the backbone always comes from its own official file. "Trainable state" is:

* every parameter with ``requires_grad=True``;
* the persistent buffers of every module that directly owns such a parameter (e.g. the running
  statistics of a trainable BatchNorm);
* the buffers named by ``model.checkpoint_buffers()`` when the model defines it (e.g. VQ codebooks
  updated by EMA, which live in modules without trainable parameters).

Buffers of frozen modules (a backbone's BatchNorm statistics) are never written. Names are those
of ``model.named_parameters()``/``named_buffers()`` on the bare model (no DDP ``module.`` prefix).

Resume checkpoints (``.pt``) hold only tensors, numbers, strings, lists and dicts and are read with
``torch.load(weights_only=True)``, so loading one never runs pickled code. Final weights are
safetensors.

Example
-------
>>> import tempfile, pathlib
>>> from torch import nn
>>> net = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
>>> net[0].requires_grad_(False)  # doctest: +ELLIPSIS
Linear(...)
>>> sorted(trainable_state(net))
['1.bias', '1.weight']
>>> path = pathlib.Path(tempfile.mkdtemp()) / "model.safetensors"
>>> save_weights(path, net)
>>> load_weights(net, path)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import nn

from sslasd._common import atomic_write_bytes, atomic_writer
from sslasd.errors import CheckpointError

WEIGHTS_FORMAT = "sslasd-trainable-weights"


def checkpoint_buffer_names(model: nn.Module) -> list[str]:
    """Names of the buffers that belong to the trainable state of ``model`` (see the module doc).

    Raises
    ------
    CheckpointError
        When ``model.checkpoint_buffers()`` names a buffer the model does not have.
    """
    buffers = dict(model.named_buffers())
    names: set[str] = set()
    for prefix, module in model.named_modules():
        if any(p.requires_grad for p in module.parameters(recurse=False)):
            for local, _ in module.named_buffers(recurse=False):
                if local not in module._non_persistent_buffers_set:
                    names.add(f"{prefix}.{local}" if prefix else local)
    listed = list(model.checkpoint_buffers()) if hasattr(model, "checkpoint_buffers") else []
    unknown = [name for name in listed if name not in buffers]
    if unknown:
        raise CheckpointError(
            f"{type(model).__name__}.checkpoint_buffers() names {unknown}, which are not buffers of the model"
        )
    names.update(listed)
    return sorted(names)


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Detached CPU copies of the trainable parameters and checkpoint buffers of ``model``, by name."""
    state = {name: p for name, p in model.named_parameters() if p.requires_grad}
    buffers = dict(model.named_buffers())
    state.update({name: buffers[name] for name in checkpoint_buffer_names(model)})
    return {name: tensor.detach().to("cpu", copy=True).contiguous() for name, tensor in state.items()}


def load_trainable_state(model: nn.Module, state: Mapping[str, torch.Tensor], *, source: str) -> None:
    """Copy ``state`` into the trainable parameters and checkpoint buffers of ``model``, in place.

    Parameters
    ----------
    model : nn.Module
        The bare model (frozen parts already loaded from their own checkpoint).
    state : mapping of name to tensor
        As returned by :func:`trainable_state`.
    source : str
        Where ``state`` came from (a file name), for error messages.

    Raises
    ------
    CheckpointError
        When names are missing or unexpected (the model was built with another config) or a
        shape differs; the message lists them.
    """
    expected = trainable_state_names(model)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{source}: does not fit {type(model).__name__} (built with another config?): "
            f"missing {_few(missing)}, unexpected {_few(unexpected)}"
        )
    targets = dict(model.named_parameters()) | dict(model.named_buffers())
    wrong = [
        f"{name} {tuple(state[name].shape)} vs {tuple(targets[name].shape)}"
        for name in expected
        if state[name].shape != targets[name].shape
    ]
    if wrong:
        raise CheckpointError(f"{source}: shapes differ from the model (file vs model): {_few(wrong)}")
    with torch.no_grad():
        for name in expected:
            targets[name].copy_(state[name])


def trainable_state_names(model: nn.Module) -> list[str]:
    """Sorted names that :func:`trainable_state` returns for ``model``."""
    params = [name for name, p in model.named_parameters() if p.requires_grad]
    return sorted(set(params) | set(checkpoint_buffer_names(model)))


def save_checkpoint(path: str | os.PathLike, payload: Mapping[str, Any]) -> None:
    """Write a resume checkpoint atomically (temporary file + rename): a kill leaves the old one."""
    with atomic_writer(path, "wb") as f:
        torch.save(dict(payload), f)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a resume checkpoint onto the CPU with ``weights_only=True`` (no arbitrary unpickling).

    Raises
    ------
    CheckpointError
        When the file cannot be read or is not an sslasd training checkpoint.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError... for bad files
        # torch's message ends in advice to retry with weights_only=False, i.e. to run the pickle:
        # never repeat it; name the refused object when there is one, else the first line
        found = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) (\S+)", str(exc))
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if found:
            what = f"it stores a Python object of type {found.group(1)}"
        elif first.startswith("Weights only load failed"):
            what = "it stores Python objects that only a full unpickle would rebuild"
        else:
            what = first[:200]
        raise CheckpointError(
            f"{path}: not a readable training checkpoint ({type(exc).__name__}: {what}); sslasd loads "
            "only tensors and plain containers from it"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != "sslasd-train-checkpoint":
        raise CheckpointError(
            f"{path}: not an sslasd training checkpoint (no format 'sslasd-train-checkpoint')"
        )
    return payload


def save_weights(
    path: str | os.PathLike, model: nn.Module, metadata: Mapping[str, str] | None = None
) -> None:
    """Write the trainable state of ``model`` as safetensors, atomically."""
    meta = {"format": WEIGHTS_FORMAT, **(metadata or {})}
    atomic_write_bytes(path, safetensors.torch.save(trainable_state(model), metadata=meta))


def load_weights(model: nn.Module, path: str | os.PathLike) -> None:
    """Load weights written by :func:`save_weights` into ``model`` (strict on names and shapes).

    Raises
    ------
    CheckpointError
        When the file is missing, unreadable, or does not fit ``model``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: trained weights not found")
    try:
        state = safetensors.torch.load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises SafetensorError/OSError for damaged files
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc
    load_trainable_state(model, state, source=str(path))


def _few(names: list[str], limit: int = 8) -> str:
    """``names`` for a message: all when short, else the first ``limit`` and a count."""
    if not names:
        return "none"
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} ... ({len(names)} in all)"
