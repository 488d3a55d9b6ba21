"""Grouped convolutions run in float32 under CPU autocast, because oneDNN's bf16 kernel is wrong.

On CPUs with native bf16 (AMX / AVX512-BF16, e.g. Intel Sapphire Rapids), oneDNN's bf16 kernel
for a *grouped* convolution returns wrong values when a group has few channels: with torch 2.13,
``nn.Conv1d(32, 32, 128, groups=16)`` under ``torch.autocast("cpu", dtype=torch.bfloat16)`` was
off by 1.40 on outputs of 1.36, and the tiny BEATs ``encoder.pos_conv`` by 2.99 on outputs of
2.05, while ``groups`` 1 or 2 were fine (issue 11). That is silent corruption of the features, not
bf16 rounding. So every grouped convolution of our backbones (BEATs' and the speech models'
positional convolution, EfficientAT's depthwise convolutions) leaves autocast while CPU autocast
is on: input, weight and bias go to float32 and the float32 output is returned; the next layer's
autocast casts it down again where it runs in bf16. The cost is small (these layers are a tiny
share of the FLOPs). CUDA autocast is left alone (cuDNN's bf16 grouped kernels are correct), and
without autocast nothing changes.

Two entry points, one rule (:func:`cpu_autocast_active`):

* :func:`grouped_conv` for our own modules that call ``F.conv1d`` / ``F.conv2d`` themselves;
* :func:`guard_grouped_convs` for ``nn.Conv1d`` / ``nn.Conv2d`` modules, including those built by
  ``transformers``: it replaces the ``forward`` of each grouped instance (a bound method in the
  instance's ``__dict__``), so parameter names, state-dict keys and strict loading stay as they
  are, and ``copy.deepcopy`` rebinds the method to the copy.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

ConvOp = Callable[..., torch.Tensor]


def cpu_autocast_active(x: torch.Tensor) -> bool:
    """True when ``x`` is on the CPU and CPU autocast (to any dtype) is on."""
    return x.device.type == "cpu" and torch.is_autocast_enabled("cpu")


def grouped_conv(
    op: ConvOp, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, **kwargs: Any
) -> torch.Tensor:
    """``op(x, weight, bias, **kwargs)`` (``F.conv1d``, ``F.conv2d``), in float32 under CPU autocast.

    Example
    -------
    >>> import torch.nn.functional as F
    >>> x, w = torch.randn(1, 32, 50), torch.randn(32, 2, 9)
    >>> with torch.autocast("cpu", dtype=torch.bfloat16):
    ...     y = grouped_conv(F.conv1d, x, w, None, padding=4, groups=16)
    >>> y.dtype
    torch.float32
    """
    if not cpu_autocast_active(x):
        return op(x, weight, bias, **kwargs)
    with torch.autocast("cpu", enabled=False):
        bias = None if bias is None else bias.float()
        return op(x.float(), weight.float(), bias, **kwargs)


def _float32_forward(self: nn.Conv1d | nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """The instance ``forward`` that :func:`guard_grouped_convs` installs."""
    if not cpu_autocast_active(x):
        return type(self).forward(self, x)
    with torch.autocast("cpu", enabled=False):
        # ``self.weight`` is computed here for parametrized modules (weight norm): in float32 too.
        bias = None if self.bias is None else self.bias.float()
        return self._conv_forward(x.float(), self.weight.float(), bias)


def is_guarded(conv: nn.Module) -> bool:
    """Whether ``conv`` runs in float32 under CPU autocast (an installed guard)."""
    forward = conv.__dict__.get("forward")
    return isinstance(forward, types.MethodType) and forward.__func__ is _float32_forward


def guard_grouped_convs(module: nn.Module) -> list[str]:
    """Make every grouped ``nn.Conv1d`` / ``nn.Conv2d`` in ``module`` run in float32 under CPU
    autocast; return their names. Idempotent; parameters and state-dict keys are unchanged.

    Example
    -------
    >>> net = nn.Sequential(nn.Conv1d(32, 32, 9, groups=16), nn.Conv1d(32, 8, 1))
    >>> guard_grouped_convs(net)
    ['0']
    """
    names = []
    for name, conv in module.named_modules():
        if isinstance(conv, (nn.Conv1d, nn.Conv2d)) and conv.groups > 1:
            if not is_guarded(conv):
                conv.forward = types.MethodType(_float32_forward, conv)  # type: ignore[method-assign]
            names.append(name)
    return names
