"""The one model the rest of sslasd sees: waveform -> clip embedding.

``fbank -> SSL backbone (+ FC-LoRA inside, + group adapters after the top blocks) -> attentive
statistics pooling -> projection -> L2 normalisation``. Training heads (margin, contrastive, VQ)
live outside, in :mod:`sslasd.training.system`, so that an exported embedder carries no loss code.
"""

from __future__ import annotations

import torch
from torch import nn

from sslasd.models.adapters import MachineGroupAdapter, attach_block_adapters, machine_context
from sslasd.models.adapters.config import MgaConfig
from sslasd.models.backbones.base import Backbone
from sslasd.models.heads import AttentiveStatsPooling, EmbeddingHead
from sslasd.models.heads.config import HeadConfig


class Embedder(nn.Module):
    """Clip embeddings from waveforms, with optional machine-aware group adapters.

    Parameters
    ----------
    backbone : Backbone
        Frame feature extractor (already wrapped with LoRA if wanted).
    head : HeadConfig
        The run's ``head`` section: ``emb_dim`` (size of the L2-normalised embedding),
        ``pooling_hidden`` (attention of the statistics pooling) and ``norm`` (of the projection
        before L2: batch normalisation removes the direction all clips share, which otherwise
        dominates the cosine distances of a fresh or narrow backbone). Its margin keys are the
        training system's.
    mga : MgaConfig
        The run's ``mga`` section: adapter ``mode`` (``none`` adds nothing), after each of the top
        ``blocks`` blocks, ``hidden`` bottleneck units in ``groups`` groups, ``gate_init``. A
        backbone without blocks gets one adapter on its output frames.
    n_machines : int
        Machine types known to the group adapters.
    spec_augment : nn.Module or None
        Masking applied to the backbone's input features in training mode (none for backbones
        whose input is the waveform).

    Example
    -------
    >>> from sslasd.models.backbones import load_backbone
    >>> backbone = load_backbone("beats", tiny=True)
    >>> emb = Embedder(backbone, head=HeadConfig(emb_dim=16), mga=MgaConfig(), n_machines=2)
    >>> emb(torch.randn(2, 16000), torch.tensor([0, 1])).shape
    torch.Size([2, 16])
    """

    def __init__(
        self,
        backbone: Backbone,
        *,
        head: HeadConfig,
        mga: MgaConfig,
        n_machines: int = 1,
        spec_augment: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.spec_augment = spec_augment
        blocks = backbone.blocks()
        self.adapters: nn.ModuleList | None = None
        self.adapt_output = False
        if mga.mode != "none":
            n_adapters = min(mga.blocks, len(blocks)) if blocks else 1
            self.adapters = nn.ModuleList(
                MachineGroupAdapter(
                    backbone.dim,
                    mga.hidden,
                    n_machines=n_machines,
                    n_groups=mga.groups,
                    mode=mga.mode,
                    gate_init=mga.gate_init,
                )
                for _ in range(n_adapters)
            )
            if blocks:
                self._hooks = attach_block_adapters(blocks[-n_adapters:], self.adapters)
            else:
                self.adapt_output = True
        self.pooling = AttentiveStatsPooling(backbone.dim, hidden=head.pooling_hidden)
        self.head = EmbeddingHead(2 * backbone.dim, head.emb_dim, norm=head.norm)

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
