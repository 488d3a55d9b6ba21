"""Which convolutions are pointwise: the one rule shared by the backbones that list them
(:meth:`Backbone.pointwise_conv_names`) and the LoRA wrapper that adapts them, which the layer
rules keep from importing each other."""

from __future__ import annotations

from torch import nn


def is_pointwise_conv(module: nn.Module) -> bool:
    """Whether ``module`` is a 1 x 1, stride-1, ungrouped, unpadded ``nn.Conv2d``: a per-position
    linear map over channels, which LoRA can adapt like a linear layer."""
    return (
        isinstance(module, nn.Conv2d)
        and module.kernel_size == (1, 1)
        and module.stride == (1, 1)
        and module.groups == 1
        and module.padding in ((0, 0), "valid")
    )
