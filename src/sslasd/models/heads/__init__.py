"""Heads on top of the frame features: attentive statistics pooling, the embedding projection,
the margin classifier, the dual-level contrastive loss (label and two-view forms) and VQ dynamic
clustering."""

from sslasd.models.heads.contrastive import DualLevelContrastiveLoss, supervised_contrastive_loss
from sslasd.models.heads.margin import ArcMarginHead
from sslasd.models.heads.pooling import AttentiveStatsPooling, EmbeddingHead
from sslasd.models.heads.view_contrastive import ProjectionHead, TwoViewContrastiveLoss, view_masks
from sslasd.models.heads.vq import DynamicVQ

__all__ = [
    "ArcMarginHead",
    "AttentiveStatsPooling",
    "DualLevelContrastiveLoss",
    "DynamicVQ",
    "EmbeddingHead",
    "ProjectionHead",
    "TwoViewContrastiveLoss",
    "supervised_contrastive_loss",
    "view_masks",
]
