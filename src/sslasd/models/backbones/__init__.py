"""Pretrained audio backbones, each loading its official checkpoint format from a local file."""

from sslasd.models.backbones.base import Backbone
from sslasd.models.backbones.registry import BACKBONES, build_backbone, load_backbone

__all__ = ["BACKBONES", "Backbone", "build_backbone", "load_backbone"]
