"""What every backbone offers the rest of sslasd.

A backbone is a plain ``nn.Module`` that turns a batch of waveforms at its own sample rate into
frame features. Everything above it (adapters, pooling, training, export) uses only this
interface, so a new family is one file plus one registry line.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Backbone(nn.Module):
    """Base class of the backbone families.

    Attributes
    ----------
    name : str
        Registry name of the family (``"beats"``, ``"efficientat"``...).
    sample_rate : int
        Sample rate the waveform passed to :meth:`extract` must have.
    dim : int
        Size of the last axis of :meth:`extract`'s output.
    feature_layout : {"BTF", "BFT", "BN"}
        Axes of :meth:`preprocess`'s output: time x frequency, frequency x time, or a waveform
        (``BN``: nothing to mask for SpecAugment).
    """

    name: str = ""
    sample_rate: int = 16000
    dim: int = 0
    feature_layout: str = "BTF"

    def preprocess(self, waveform: torch.Tensor) -> torch.Tensor:
        """Input features exactly as the original code computes them (e.g. normalised fbank)."""
        raise NotImplementedError

    def extract(self, waveform: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Frame features ``[B, T, dim]`` of ``waveform`` ``[B, N]`` (``padding_mask`` True = padded)."""
        raise NotImplementedError

    def forward(self, waveform: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Every family's ``forward`` is :meth:`extract`: one meaning across backbones (a family's
        original-network outputs, such as AudioSet logits, have methods of their own)."""
        return self.extract(waveform, padding_mask)

    def encode(self, features: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The network on :meth:`preprocess`'s output: ``extract(w) == encode(preprocess(w))``.

        Kept apart so that training can mask the input features (SpecAugment) in between.
        """
        raise NotImplementedError

    def blocks(self) -> list[nn.Module]:
        """The stacked blocks, bottom first, each returning ``[B, T, C]`` hidden states (or a tuple
        whose first element is that tensor). Adapters are hooked after the top ones. A family with
        no such blocks returns an empty list and adapters then act on :meth:`extract`'s output."""
        return []

    def linear_names(self) -> list[str]:
        """Qualified names of the ``nn.Linear`` modules that LoRA may wrap (inside :meth:`blocks`)."""
        return [n for n, m in self.named_modules() if isinstance(m, nn.Linear)]

    def pointwise_conv_names(self) -> list[str]:
        """Qualified names of the 1 x 1 convolutions that LoRA may wrap with ``lora.convs`` (CNN
        families: where most of their weights are). Transformers have none."""
        return []

    def task_parameters(self) -> list[nn.Parameter]:
        """Parameters that no pretrained checkpoint holds (e.g. Whisper's learned mix of layers).
        They train in every fine-tuning mode, as the adapters do. Most families have none."""
        return []

    def config_dict(self) -> dict[str, Any]:
        """The architecture as a JSON-able dict; ``build_backbone(name, config)`` rebuilds it."""
        raise NotImplementedError
