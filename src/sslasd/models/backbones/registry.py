"""Backbones by registry name.

Each family lives in one module that exposes two functions:

``load(name, checkpoint=None, *, tiny=False, **overrides) -> Backbone``
    read an official checkpoint from a local path (or build random weights from the default
    or tiny config when ``checkpoint`` is None), with config fields overridden by ``overrides``;
``build(name, config: dict) -> Backbone``
    rebuild the architecture from :meth:`Backbone.config_dict` (random weights), used when a
    bundle carries its own weights.

Modules are imported on first use so that ``import sslasd`` does not import ``transformers``.

Checkpoints are local: a ``checkpoint`` that is not an existing path is looked up by file name in
the download cache ``sslasd_home() / "checkpoints"`` (:func:`resolve_checkpoint`), where
``sslasd download`` puts the catalog's files; nothing here uses the network.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

from sslasd.errors import ConfigError
from sslasd.models.backbones._checkpoint import checkpoint_cache, resolve_checkpoint
from sslasd.models.backbones.base import Backbone

__all__ = ["BACKBONES", "build_backbone", "checkpoint_cache", "load_backbone", "resolve_checkpoint"]

BACKBONES: dict[str, str] = {
    "beats": "sslasd.models.backbones.beats",
    "eat": "sslasd.models.backbones.eat",
    "wav2vec2": "sslasd.models.backbones.hf_speech",
    "hubert": "sslasd.models.backbones.hf_speech",
    "wavlm": "sslasd.models.backbones.hf_speech",
    "data2vec": "sslasd.models.backbones.hf_speech",
    "efficientat": "sslasd.models.backbones.efficientat",
    "logmel": "sslasd.models.backbones.logmel",
    "whisper": "sslasd.models.backbones.whisper",
}


def _family(name: str) -> ModuleType:
    if name not in BACKBONES:
        raise ConfigError(f"backbone: unknown name {name!r}; known: {', '.join(sorted(BACKBONES))}")
    return importlib.import_module(BACKBONES[name])


def load_backbone(
    name: str, checkpoint: str | os.PathLike | None = None, *, tiny: bool = False, **overrides: Any
) -> Backbone:
    """Load backbone ``name`` from a local official checkpoint, or random weights without one.

    ``checkpoint`` is a path, or the file (or folder) name of a downloaded catalog asset, found in
    ``sslasd_home() / "checkpoints"``; a name found in neither raises a CheckpointError that says
    which ``sslasd download`` command fetches it or where to put the file by hand.

    Example
    -------
    >>> bb = load_backbone("beats", tiny=True)
    >>> bb.dim > 0
    True
    """
    family = _family(name)
    resolved = None if checkpoint is None else resolve_checkpoint(checkpoint)
    return family.load(name, resolved, tiny=tiny, **overrides)


def build_backbone(name: str, config: dict[str, Any]) -> Backbone:
    """Rebuild backbone ``name`` with random weights from its ``config_dict()``."""
    return _family(name).build(name, config)
