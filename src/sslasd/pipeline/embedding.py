"""Embed clips window by window in batches, and the ``embeddings.npz`` file format shared by banks,
scores and report."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from sslasd._common import atomic_write_bytes, autocast_dtype
from sslasd.data import AudioCache, ChannelPolicy, Clip, ClipDataset, collate_clips
from sslasd.models.embedder import Embedder
from sslasd.models.stats_embedder import StatsEmbedder


@torch.inference_mode()
def embed_waves(
    embedder: Embedder | StatsEmbedder,
    waves: torch.Tensor,
    machine_ids: torch.Tensor,
    *,
    device: torch.device,
    precision: str = "auto",
) -> torch.Tensor:
    """Embeddings ``[B, D]`` (float32, on the CPU) of a batch of waveforms at the embedder's rate.

    ``waves`` is ``[B, N]``, or ``[B, V, N]``: V views of each window (``data.channels=stack``),
    each embedded on its own and averaged, so a window gets one embedding whatever its views.
    """
    views = waves.shape[1] if waves.ndim == 3 else 1
    dtype = autocast_dtype(device, precision)
    ctx = torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()
    with ctx:
        emb = embedder(
            waves.reshape(-1, waves.shape[-1]).to(device, non_blocking=True),
            machine_ids.repeat_interleave(views).to(device),
        )
    emb = emb.float().cpu()
    return emb.reshape(-1, views, emb.shape[-1]).mean(dim=1) if views > 1 else emb


@dataclass(frozen=True)
class WindowEmbeddings:
    """Embeddings of every scoring window of some clips.

    ``windows`` ``[W, D]`` float32, ``owner`` ``[W]``: the index of the clip each window belongs to
    (``0 .. n_clips - 1``, each clip at least one window, in order).
    """

    windows: np.ndarray
    owner: np.ndarray
    n_clips: int

    def per_clip(self) -> np.ndarray:
        """Clip embeddings ``[n_clips, D]``: the mean of each clip's windows (exactly the window itself
        for a clip of one window, which every clip no longer than the model's clip length is)."""
        out = np.zeros((self.n_clips, self.windows.shape[1]), dtype=np.float64)
        np.add.at(out, self.owner, self.windows)
        counts = np.bincount(self.owner, minlength=self.n_clips)
        return (out / counts[:, None]).astype(np.float32)


def embed_clips(
    embedder: Embedder | StatsEmbedder,
    clips: Sequence[Clip],
    machine_ids: np.ndarray,
    *,
    num_samples: int,
    device: torch.device,
    batch_size: int = 32,
    num_workers: int = 0,
    cache: AudioCache | None = None,
    precision: str = "auto",
    hop: int | None = None,
    channels: ChannelPolicy | None = None,
) -> WindowEmbeddings:
    """Embeddings of every scoring window of ``clips`` (:func:`sslasd.data.split_windows` with ``hop``
    samples), batched across clips, at most ``batch_size`` windows per forward pass; ``channels``:
    the run's channel policy (default ``mean``)."""
    embedder.eval().to(device)
    dataset = ClipDataset(
        clips,
        sample_rate=embedder.sample_rate,
        num_samples=num_samples,
        train=False,
        cache=cache,
        hop=hop,
        channels=channels,
    )
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, collate_fn=collate_clips)
    ids = torch.as_tensor(machine_ids, dtype=torch.long)
    windows, owner = [], []
    for batch in loader:
        for start in range(0, len(batch["index"]), batch_size):
            index = batch["index"][start : start + batch_size]
            wave = batch["wave"][start : start + batch_size]
            windows.append(
                embed_waves(embedder, wave, ids[index], device=device, precision=precision).numpy()
            )
            owner.append(index.numpy())
    if not windows:
        return WindowEmbeddings(np.zeros((0, embedder.emb_dim), np.float32), np.zeros(0, np.int64), 0)
    return WindowEmbeddings(np.concatenate(windows), np.concatenate(owner), len(clips))


def write_embeddings(
    path: str | os.PathLike,
    clips: Sequence[Clip],
    embeddings: np.ndarray,
    pseudo_labels: np.ndarray | None = None,
) -> None:
    """Write ``embeddings.npz``: embeddings and per-clip metadata arrays of equal length (atomic)."""
    n = len(clips)
    arrays = {
        "embeddings": np.asarray(embeddings, dtype=np.float32),
        "names": np.array([c.name for c in clips], dtype=str),
        "machines": np.array([c.machine for c in clips], dtype=str),
        "sections": np.array([c.section for c in clips], dtype=str),
        "domains": np.array([c.domain for c in clips], dtype=str),
        "labels": np.array([c.label for c in clips], dtype=str),
        "splits": np.array([c.split for c in clips], dtype=str),
        "attributes": np.array([c.attribute_string for c in clips], dtype=str),
        "pseudo_labels": np.full(n, -1, dtype=np.int64)
        if pseudo_labels is None
        else np.asarray(pseudo_labels),
    }
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def read_embeddings(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an ``embeddings.npz`` written by :func:`write_embeddings` (no pickled objects)."""
    with np.load(Path(path), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
