"""Build the model of a run from its config: backbone, LoRA mode, adapters, heads.

The only place where config sections become constructor arguments, so that the modules below
keep explicit signatures (no ``cfg: dict`` pass-through).
"""

from __future__ import annotations

import torch

from sslasd.features import SpecAugment
from sslasd.models.adapters import inject_lora, set_trainable
from sslasd.models.backbones import Backbone, load_backbone
from sslasd.models.embedder import Embedder
from sslasd.pipeline.config import RunConfig
from sslasd.training.labels import LabelVocabulary
from sslasd.training.system import AsdSystem


def backbone_from_config(config: RunConfig) -> Backbone:
    """The pretrained backbone named by ``config.backbone`` (random weights without a checkpoint)."""
    cfg = config.backbone
    return load_backbone(cfg.name, cfg.checkpoint, tiny=cfg.tiny, **cfg.overrides)


def prepare_backbone(backbone: Backbone, config: RunConfig) -> Backbone:
    """Wrap the chosen linear layers with (FC-)LoRA and set which backbone weights train (the
    backbone's own :meth:`~sslasd.models.backbones.Backbone.task_parameters` in every mode)."""
    cfg = config.lora
    if cfg.mode in ("fc_lora", "lora"):
        inject_lora(
            backbone,
            backbone.linear_names(),
            patterns="all" if cfg.targets == ["all"] else cfg.targets,
            rank=cfg.rank,
            branches=cfg.branches if cfg.mode == "fc_lora" else 1,
            alpha=cfg.alpha,
            dropout=cfg.dropout,
            learn_mixing=cfg.learn_mixing and cfg.mode == "fc_lora",
        )
    set_trainable(backbone, cfg.mode)
    for param in backbone.task_parameters():
        param.requires_grad_(True)
    return backbone


def build_embedder(config: RunConfig, backbone: Backbone, n_machines: int) -> Embedder:
    """Embedder around an already prepared backbone."""
    aug = config.augment
    spec = (
        SpecAugment(
            freq_masks=aug.freq_masks,
            freq_width=aug.freq_width,
            time_masks=aug.time_masks,
            time_width=aug.time_width,
        )
        if aug.specaugment
        else None
    )
    return Embedder(
        backbone,
        emb_dim=config.head.emb_dim,
        pooling_hidden=config.head.pooling_hidden,
        head_norm=config.head.norm,
        n_machines=n_machines,
        mga_mode=config.mga.mode,
        mga_blocks=config.mga.blocks,
        mga_hidden=config.mga.hidden,
        mga_groups=config.mga.groups,
        mga_gate_init=config.mga.gate_init,
        spec_augment=spec,
    )


def build_system(config: RunConfig, vocab: LabelVocabulary, backbone: Backbone) -> AsdSystem:
    """The full trainable system of a run (backbone prepared with LoRA inside)."""
    embedder = build_embedder(config, prepare_backbone(backbone, config), len(vocab.machines))
    head, con, vq = config.head, config.contrastive, config.vq
    return AsdSystem(
        embedder,
        n_classes=vocab.n_classes,
        vq_offsets=torch.as_tensor(vocab.vq_offsets()),
        n_codes=vq.n_codes,
        margin=head.margin,
        scale=head.scale,
        margin_value=head.margin_value,
        subcenters=head.subcenters,
        contrastive_weight=con.weight if con.enabled else 0.0,
        coarse_weight=con.coarse_weight,
        fine_weight=con.fine_weight,
        temperature=con.temperature,
        vq_decay=vq.decay,
        vq_dead_threshold=vq.dead_threshold,
        vq_commitment_weight=vq.commitment_weight,
        freeze_backbone_norm_stats=config.lora.mode != "full",
    )
