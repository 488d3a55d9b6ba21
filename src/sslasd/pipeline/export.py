"""``sslasd export``: one self-contained bundle file for deployment.

The bundle is a single safetensors file: the embedder's weights with LoRA merged into the frozen
weights (so the backbone keys are the original checkpoint's again), the group adapters, pooling
and projection, the memory banks as tensors, and JSON metadata (config, label vocabulary, the
backbone's name and architecture, bank domains), and the fitted back-ends (arrays ``backend.<i>.*``,
described in the metadata), so nothing is refitted on load; a SHA-256 of all of it (``checksum``)
makes a damaged or edited bundle an error rather than silently wrong scores. It loads with
``sslasd.load(bundle)`` without the training data or the original checkpoint, and without unpickling
anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors.torch import save

from sslasd._common import atomic_write_bytes
from sslasd.errors import RunError
from sslasd.models.adapters import merge_lora
from sslasd.pipeline.detector import bundle_digest
from sslasd.pipeline.load import load_run


def export(run: str | os.PathLike, out: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write the bundle of fitted run ``run`` to ``out`` (refuses to replace a file without ``overwrite``).

    A run whose scores are an ensemble (``ensemble.members``) exports every member, so the bundle
    scores exactly as the run does.
    """
    out = Path(out).expanduser()
    if out.exists() and not overwrite:
        raise RunError(f"{out}: exists; pass --overwrite to replace it")
    detector = load_run(run, device="cpu")
    for member in getattr(detector, "members", {"run": detector}).values():
        merge_lora(member.embedder.backbone)
    meta, tensors = detector.bundle()
    meta["checksum"] = bundle_digest(meta, tensors)
    atomic_write_bytes(out, save(tensors, metadata={"sslasd": json.dumps(meta)}))
    return out
