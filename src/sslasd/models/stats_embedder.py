"""A training-free embedder: frame features -> per-channel mean and standard deviation over time.

It is the embedding of the floors every run is compared with (``sslasd.pipeline.floors``): on
log-mel frames it is the classic log-mel-statistics detector; on a pretrained backbone's frames it
is the "frozen backbone + pooling + kNN" system that published DCASE work found hard to beat. No
projection and no normalisation follow the statistics: the cosine distance of the back-end sees
them as they are, as a practitioner would use them.
"""

from __future__ import annotations

import torch
from torch import nn

from sslasd.models.backbones.base import Backbone


class StatsEmbedder(nn.Module):
    """``[B, N]`` waveforms -> ``[B, 2 dim]`` float32: mean and population std of each frame channel.

    The interface matches :class:`sslasd.models.embedder.Embedder` (``sample_rate``, ``emb_dim``,
    ``forward(waveform, machine_ids)``), so the embedding, scoring and detection code serve both;
    ``machine_ids`` is accepted and ignored (nothing here depends on the machine).

    Example
    -------
    >>> from sslasd.models.backbones import load_backbone
    >>> emb = StatsEmbedder(load_backbone("logmel", tiny=True))
    >>> emb(torch.randn(2, 16000)).shape
    torch.Size([2, 64])
    """

    def __init__(self, backbone: Backbone) -> None:
        super().__init__()
        self.backbone = backbone.eval()
        self.backbone.requires_grad_(False)

    @property
    def sample_rate(self) -> int:
        return self.backbone.sample_rate

    @property
    def emb_dim(self) -> int:
        return 2 * self.backbone.dim

    def forward(
        self,
        waveform: torch.Tensor,
        machine_ids: torch.Tensor | None = None,
        padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        frames = self.backbone.extract(waveform, padding_mask).float()  # [B, T, C]
        std, mean = torch.std_mean(frames, dim=1, unbiased=False)
        return torch.cat([mean, std], dim=1)
