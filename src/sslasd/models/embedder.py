"""The one model the rest of sslasd sees: waveform -> clip embedding.

``fbank -> SSL backbone (+ FC-LoRA inside, + group adapters after the top blocks) -> attentive
statistics pooling -> projection -> L2 normalisation``. Training heads (margin, contrastive, VQ)
live outside, in :mod:`sslasd.training.system`, so that an exported embedder carries no loss code.
"""

from __future__ import annotations

import torch
from torch import nn

from sslasd.models.adapters import MachineGroupAdapter, attach_block_adapters, machine_context
from sslasd.models.backbones.base import Backbone
from sslasd.models.heads import AttentiveStatsPooling, EmbeddingHead


class Embedder(nn.Module):
    """Clip embeddings from waveforms, with optional machine-aware group adapters.

    Parameters
    ----------
    backbone : Backbone
        Frame feature extractor (already wrapped with LoRA if wanted).
    emb_dim : int
        Size of the L2-normalised embedding.
    pooling_hidden : int
        Hidden size of the attention of the statistics pooling.
    head_norm : {"batchnorm", "layernorm", "none"}
        Normalisation of the projection before L2. Batch normalisation removes the direction all
        clips share, which otherwise dominates the cosine distances of a fresh or narrow backbone.
    n_machines : int
        Machine types known to the group adapters.
    mga_mode : {"none", "shared", "per_machine", "grouped"}
        Adapter variant; ``none`` adds nothing.
    mga_blocks, mga_hidden, mga_groups : int
        Adapters after each of the top ``mga_blocks`` blocks, ``mga_hidden`` bottleneck units in
        ``mga_groups`` groups. A backbone without blocks gets one adapter on its output frames.
    spec_augment : nn.Module or None
        Masking applied to the backbone's input features in training mode (none for backbones
        whose input is the waveform).

    Example
    -------
    >>> from sslasd.models.backbones import load_backbone
    >>> emb = Embedder(load_backbone("beats", tiny=True), emb_dim=16, n_machines=2, mga_mode="grouped")
    >>> emb(torch.randn(2, 16000), torch.tensor([0, 1])).shape
    torch.Size([2, 16])
    """

    def __init__(
        self,
        backbone: Backbone,
        *,
        emb_dim: int = 256,
        pooling_hidden: int = 128,
        head_norm: str = "batchnorm",
        n_machines: int = 1,
        mga_mode: str = "none",
        mga_blocks: int = 2,
        mga_hidden: int = 64,
        mga_groups: int = 4,
        mga_gate_init: str = "uniform",
        spec_augment: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.spec_augment = spec_augment
        blocks = backbone.blocks()
        self.adapters: nn.ModuleList | None = None
        self.adapt_output = False
        if mga_mode != "none":
            n_adapters = min(mga_blocks, len(blocks)) if blocks else 1
            self.adapters = nn.ModuleList(
                MachineGroupAdapter(
                    backbone.dim,
                    mga_hidden,
                    n_machines=n_machines,
                    n_groups=mga_groups,
                    mode=mga_mode,
                    gate_init=mga_gate_init,
                )
                for _ in range(n_adapters)
            )
            if blocks:
                self._hooks = attach_block_adapters(blocks[-n_adapters:], self.adapters)
            else:
                self.adapt_output = True
        self.pooling = AttentiveStatsPooling(backbone.dim, hidden=pooling_hidden)
        self.head = EmbeddingHead(2 * backbone.dim, emb_dim, norm=head_norm)

    @property
    def sample_rate(self) -> int:
        return self.backbone.sample_rate

    @torch.no_grad()
    def adapter_gates(self) -> list[list[list[float]]]:
        """Each adapter's gate of each group for each known machine, ``[adapter][machine][group]``
        (empty without adapters): what fit logs to show whether machines use different groups."""
        if self.adapters is None:
            return []
        ids = torch.arange(self.adapters[0].n_machines)
        return [adapter.gates(ids).cpu().tolist() for adapter in self.adapters]

    @property
    def emb_dim(self) -> int:
        return self.head.emb_dim

    def frames(
        self,
        waveform: torch.Tensor,
        machine_ids: torch.Tensor | None = None,
        padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Adapted frame features ``[B, T, dim]``."""
        if machine_ids is None:
            machine_ids = torch.full((waveform.shape[0],), -1, dtype=torch.long, device=waveform.device)
        with machine_context(machine_ids):
            layout = self.backbone.feature_layout
            if self.spec_augment is not None and self.training and layout != "BN":
                features = self.backbone.preprocess(waveform)
                if layout == "BFT":
                    features = self.spec_augment(features.transpose(1, 2)).transpose(1, 2)
                else:
                    features = self.spec_augment(features)
                frames = self.backbone.encode(features, padding_mask)
            else:
                frames = self.backbone.extract(waveform, padding_mask)
        if self.adapt_output:
            frames = self.adapters[0](frames, machine_ids)
        return frames

    def forward(
        self,
        waveform: torch.Tensor,
        machine_ids: torch.Tensor | None = None,
        padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """L2-normalised embeddings ``[B, emb_dim]`` of ``waveform`` ``[B, N]`` at ``sample_rate``.

        ``machine_ids`` ``[B]`` routes the group adapters (-1 or None: an unseen machine, mean gate).
        """
        return self.head(self.pooling(self.frames(waveform, machine_ids, padding_mask)))
