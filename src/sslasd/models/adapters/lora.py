"""Fully-Connected LoRA (FC-LoRA): low-rank branches of a frozen linear layer, mixed all-to-all.

For a frozen ``nn.Linear`` with weight ``W`` (``d_out x d_in``) and bias ``b`` the wrapped layer
computes

    y = W x + b + (alpha / r) * B (G kron I_r) A dropout(x)

with ``K`` down-projections ``A_i`` (``r x d_in``) stacked into ``A`` (``K r x d_in``), ``K``
up-projections ``B_j`` (``d_out x r``) stacked into ``B`` (``d_out x K r``), and a ``K x K`` mixing
matrix ``G``: up-branch ``j`` receives ``sum_k G[j, k] A_k x``, so every down-branch is connected
to every up-branch. ``K = 1`` with ``G = 1`` fixed is plain LoRA (Hu et al., 2021). The method
follows Han et al., "Exploring Self-Supervised Audio Models for Generalized Anomalous Sound
Detection" (TASLP 2025); its text is not available here, so the initialisation choices below are
ours (each is an argument).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from sslasd._common.pointwise import is_pointwise_conv
from sslasd.errors import ConfigError

MixingInit = Literal["identity", "uniform"]
MIXING_INITS: tuple[str, ...] = ("identity", "uniform")


class FCLoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus ``K`` fully connected low-rank branches.

    The update is computed as ``A x`` (shape ``[..., K, r]``), mixed over the branch axis with
    ``G`` by an ``einsum``, then ``B``; the ``K r x K r`` Kronecker matrix is never built in the
    forward pass, which costs ``O(K r (d_in + d_out) + K^2 r)`` per row.

    Parameters
    ----------
    base : nn.Linear
        The layer to adapt. It is kept as ``self.base`` (so ``base.weight``/``base.bias`` stay
        reachable) and its parameters are frozen (``requires_grad = False``).
    rank : int
        ``r``, the rank of each branch (the update has rank at most ``K r``).
    branches : int
        ``K``, the number of down- and up-branches.
    alpha : float
        Scale numerator: the update is multiplied by ``alpha / rank``, as in LoRA, so that changing
        ``rank`` does not change the effective learning rate much.
    dropout : float
        Dropout on the input of the low-rank path only (LoRA's ``lora_dropout``).
    learn_mixing : bool
        True: ``G`` is a parameter. False: ``G`` is a fixed buffer (``K = 1`` then gives plain LoRA).
    mixing_init : {"identity", "uniform"}
        ``"identity"`` (default): each up-branch starts connected to its own down-branch only, so
        the layer starts as ``K`` independent LoRA branches (a rank-``K r`` LoRA) and the
        off-diagonal mixing is learned from there. ``"uniform"``: every entry ``1 / K``, each
        up-branch starts from the mean of the down-branches.

    Attributes
    ----------
    lora_A : nn.Parameter
        ``[K r, d_in]``, kaiming-uniform initialised (LoRA's choice).
    lora_B : nn.Parameter
        ``[d_out, K r]``, zero at start, so the wrapped layer starts equal to ``base``.
    lora_G : nn.Parameter or buffer
        ``[K, K]`` mixing matrix.
    scaling : float
        ``alpha / rank``.
    merged : bool
        True after :meth:`merge`: the update lives in ``base.weight`` and the forward pass is
        ``base(x)`` alone.

    Raises
    ------
    ConfigError
        ``base`` is not an ``nn.Linear``, ``rank``/``branches`` < 1, ``dropout`` outside [0, 1),
        or an unknown ``mixing_init``.

    Examples
    --------
    >>> layer = FCLoRALinear(nn.Linear(16, 8), rank=2, branches=3, alpha=4.0)
    >>> x = torch.randn(5, 16)
    >>> torch.equal(layer(x), layer.base(x))  # B starts at zero
    True
    >>> layer.lora_A.shape, layer.lora_B.shape, layer.lora_G.shape
    (torch.Size([6, 16]), torch.Size([8, 6]), torch.Size([3, 3]))
    """

    def __init__(
        self,
        base: nn.Linear,
        *,
        rank: int = 8,
        branches: int = 2,
        alpha: float = 16.0,
        dropout: float = 0.0,
        learn_mixing: bool = True,
        mixing_init: MixingInit = "identity",
    ) -> None:
        super().__init__()
        self._check_base(base)
        _check_config(rank, branches, dropout, mixing_init)
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.rank = rank
        self.branches = branches
        self.alpha = float(alpha)
        self.scaling = self.alpha / rank
        self.learn_mixing = learn_mixing
        self.mixing_init = mixing_init
        self.merged = False
        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

        factory = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Parameter(torch.empty(branches * rank, self.in_features, **factory))
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, branches * rank, **factory))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        if mixing_init == "identity":
            mixing = torch.eye(branches, **factory)
        else:
            mixing = torch.full((branches, branches), 1.0 / branches, **factory)
        if learn_mixing:
            self.lora_G = nn.Parameter(mixing)
        else:
            self.register_buffer("lora_G", mixing)

    @staticmethod
    def _check_base(base: nn.Module) -> None:
        if not isinstance(base, nn.Linear):
            raise ConfigError(f"FCLoRALinear wraps an nn.Linear, got {type(base).__name__}")

    @property
    def in_features(self) -> int:
        """Input size of the wrapped layer."""
        return self.base.in_features

    @property
    def out_features(self) -> int:
        """Output size of the wrapped layer."""
        return self.base.out_features

    @property
    def weight(self) -> torch.Tensor:
        """The effective weight ``W + delta`` (differentiable in the LoRA parameters), for code
        that reads ``layer.weight`` instead of calling the layer (e.g. WavLM's functional attention)."""
        return self.merged_weight()

    @property
    def bias(self) -> torch.Tensor | None:
        """The frozen layer's bias."""
        return self.base.bias

    def delta_weight(self) -> torch.Tensor:
        """The low-rank update ``(alpha / r) B (G kron I_r) A`` as a ``[d_out, d_in]`` matrix."""
        a = self.lora_A.unflatten(0, (self.branches, self.rank))  # [K, r, d_in]
        mixed_a = torch.einsum("jk,krd->jrd", self.lora_G, a).flatten(0, 1)  # [K r, d_in]
        return (self.lora_B @ mixed_a) * self.scaling

    def merged_weight(self) -> torch.Tensor:
        """The weight this layer effectively applies, ``W + delta`` (``base.weight`` once merged)."""
        if self.merged:
            return self.base.weight
        return self.base.weight + self.delta_weight().reshape(self.base.weight.shape)

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the update into ``base.weight`` for deployment; a no-op when already merged."""
        if not self.merged:
            self.base.weight += self.delta_weight().reshape(self.base.weight.shape)
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Take the update back out of ``base.weight`` (exact up to float rounding); no-op if unmerged."""
        if self.merged:
            self.base.weight -= self.delta_weight().reshape(self.base.weight.shape)
            self.merged = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., d_in] -> [..., d_out]``."""
        out = self.base(x)
        if self.merged:
            return out
        return out + self._update(x)

    def _update(self, x: torch.Tensor) -> torch.Tensor:
        """The low-rank path on features in the last axis, ``[..., d_in] -> [..., d_out]``."""
        down = F.linear(self.lora_dropout(x), self.lora_A)  # [..., K r]
        down = down.unflatten(-1, (self.branches, self.rank))  # [..., K, r]
        mixed = torch.einsum("...kr,jk->...jr", down, self.lora_G)  # [..., K, r]
        return F.linear(mixed.flatten(-2), self.lora_B) * self.scaling

    def extra_repr(self) -> str:
        return (
            f"rank={self.rank}, branches={self.branches}, alpha={self.alpha}, "
            f"learn_mixing={self.learn_mixing}, mixing_init={self.mixing_init!r}, merged={self.merged}"
        )


class FCLoRAPointwiseConv(FCLoRALinear):
    """FC-LoRA on a frozen pointwise convolution (``nn.Conv2d``, 1 x 1 kernel, stride 1, no groups).

    Such a convolution is a linear layer over channels applied at every time-frequency position,
    so the same low-rank update applies there: CNN backbones (EfficientAT's inverted residual
    blocks) keep most of their weights in these layers, and their few ``nn.Linear`` layers are
    squeeze-excitation gates. Same parameters, attributes and merge rules as :class:`FCLoRALinear`;
    ``delta_weight`` is ``[out_channels, in_channels]`` and is reshaped to the kernel on merge.

    Examples
    --------
    >>> layer = FCLoRAPointwiseConv(nn.Conv2d(16, 8, 1), rank=2, branches=2)
    >>> x = torch.randn(3, 16, 5, 7)
    >>> torch.equal(layer(x), layer.base(x)), layer(x).shape
    (True, torch.Size([3, 8, 5, 7]))
    """

    @staticmethod
    def _check_base(base: nn.Module) -> None:
        if not is_pointwise_conv(base):
            raise ConfigError(
                f"FCLoRAPointwiseConv wraps an nn.Conv2d with a 1 x 1 kernel, stride 1, padding 0 and "
                f"groups 1, got {base!r}"
            )

    @property
    def in_features(self) -> int:
        """Input channels of the wrapped convolution."""
        return self.base.in_channels

    @property
    def out_features(self) -> int:
        """Output channels of the wrapped convolution."""
        return self.base.out_channels

    def _update(self, x: torch.Tensor) -> torch.Tensor:
        """The low-rank path over the channel axis, ``[B, C_in, H, W] -> [B, C_out, H, W]``."""
        return super()._update(x.movedim(1, -1)).movedim(-1, 1)


def _check_config(rank: int, branches: int, dropout: float, mixing_init: str) -> None:
    if rank < 1:
        raise ConfigError(f"lora rank: got {rank}, expected an integer >= 1")
    if branches < 1:
        raise ConfigError(f"lora branches: got {branches}, expected an integer >= 1")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"lora dropout: got {dropout}, expected a value in [0, 1)")
    if mixing_init not in MIXING_INITS:
        raise ConfigError(f"lora mixing_init: got {mixing_init!r}, expected one of {list(MIXING_INITS)}")
