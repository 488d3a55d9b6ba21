"""Build the model of a run from its config: backbone, LoRA mode, adapters, heads.

Each component takes its own typed config section (defaults live there, once); this module only
says which section goes where and which already built parts a component gets.
"""

from __future__ import annotations

import torch

from sslasd.models.backbones import Backbone
from sslasd.models.embedder import Embedder
from sslasd.pipeline.config import RunConfig
from sslasd.training.labels import LabelVocabulary
from sslasd.training.system import AsdSystem


def prepare_backbone(backbone: Backbone, config: RunConfig) -> Backbone:
    """Wrap the chosen linear layers (and pointwise convolutions) with (FC-)LoRA and set which
    backbone weights train (the backbone's own
    :meth:`~sslasd.models.backbones.Backbone.task_parameters` in every mode)."""
    config.lora.apply(backbone, backbone.linear_names(), backbone.pointwise_conv_names())
    for param in backbone.task_parameters():
        param.requires_grad_(True)
    return backbone


def build_embedder(config: RunConfig, backbone: Backbone, n_machines: int) -> Embedder:
    """Embedder around an already prepared backbone."""
    return Embedder(
        backbone,
        head=config.head,
        mga=config.mga,
        n_machines=n_machines,
        spec_augment=config.augment.build(),
    )


def build_system(config: RunConfig, vocab: LabelVocabulary, backbone: Backbone) -> AsdSystem:
    """The full trainable system of a run (backbone prepared with LoRA inside)."""
    embedder = build_embedder(config, prepare_backbone(backbone, config), len(vocab.machines))
    return AsdSystem(
        embedder,
        n_classes=vocab.n_classes,
        vq_offsets=torch.as_tensor(vocab.vq_offsets()),
        head=config.head,
        vq=config.vq,
        contrastive=config.contrastive,
        freeze_backbone_norm_stats=config.lora.mode != "full",
    )
