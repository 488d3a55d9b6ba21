"""Additive angular margin classifier (ArcFace) with optional sub-centres.

ArcFace (Deng et al., CVPR 2019): logits are ``s cos(theta_c)`` between the normalised embedding
and each class weight, with the target class's angle enlarged to ``theta_y + m`` during training.
Sub-centre ArcFace (Deng et al., ECCV 2020) keeps ``K`` weight vectors per class and uses the
closest one, so a class (a machine/section/attribute label) may hold several modes of normal
sound without forcing them together.

Defaults: ``scale = 30`` is the value of the DCASE ArcFace systems STgram-MFN (Liu et al., 2022)
and Noisy-ArcMix (Choi et al., 2023). Those train a CNN from scratch with ``m = 0.7``; our default
``m = 0.2`` is our choice for fine-tuning a pretrained backbone with many fine labels
(machine x section x attribute), where neighbouring classes are acoustically close and a large
margin mostly produces a loss that stays high. Both are arguments and config keys.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sslasd.errors import ConfigError, DataError

_COS_EPS = 1e-7


class ArcMarginHead(nn.Module):
    """Cosine classifier with an additive angular margin on the target class.

    Parameters
    ----------
    emb_dim : int
        Embedding size.
    n_classes : int
        Number of labels.
    scale : float
        ``s``, multiplies every cosine.
    margin : float
        ``m`` in radians, added to the target angle when labels are given.
    subcenters : int
        ``K`` weight vectors per class; a class's cosine is the maximum over its sub-centres.
    easy_margin : bool
        True: the margin is applied only where ``cos(theta_y) > 0`` (else the plain cosine).
        False (ArcFace's default): where ``theta_y + m > pi`` the target logit is
        ``cos(theta_y) - m sin(m)`` instead, which keeps it decreasing in ``theta_y``.

    Attributes
    ----------
    weight : nn.Parameter
        ``[n_classes * K, emb_dim]``, row ``c * K + k`` is sub-centre ``k`` of class ``c``;
        Xavier-uniform initialised.

    Raises
    ------
    ConfigError
        Sizes < 1, ``scale`` <= 0 or ``margin`` outside [0, pi/2).

    Examples
    --------
    >>> head = ArcMarginHead(8, 3, scale=30.0, margin=0.2, subcenters=2)
    >>> emb = F.normalize(torch.randn(4, 8), dim=-1)
    >>> head(emb, torch.tensor([0, 1, 2, 0])).shape
    torch.Size([4, 3])
    >>> torch.allclose(head(emb), 30.0 * head.cosine(emb))  # no label: no margin
    True
    """

    def __init__(
        self,
        emb_dim: int,
        n_classes: int,
        *,
        scale: float = 30.0,
        margin: float = 0.2,
        subcenters: int = 1,
        easy_margin: bool = False,
    ) -> None:
        super().__init__()
        if emb_dim < 1 or n_classes < 1 or subcenters < 1:
            raise ConfigError(
                f"margin head: got emb_dim={emb_dim}, n_classes={n_classes}, subcenters={subcenters}, "
                "expected integers >= 1"
            )
        if scale <= 0:
            raise ConfigError(f"margin head scale: got {scale}, expected > 0")
        if not 0.0 <= margin < math.pi / 2:
            raise ConfigError(f"margin head margin: got {margin}, expected radians in [0, pi/2)")
        self.emb_dim = emb_dim
        self.n_classes = n_classes
        self.subcenters = subcenters
        self.scale = float(scale)
        self.margin = float(margin)
        self.easy_margin = easy_margin
        self.weight = nn.Parameter(torch.empty(n_classes * subcenters, emb_dim))
        nn.init.xavier_uniform_(self.weight)

    def cosine(self, emb: torch.Tensor) -> torch.Tensor:
        """Cosine to each class, ``[B, n_classes]`` float32 (max over sub-centres), also under autocast."""
        if emb.dim() != 2 or emb.shape[1] != self.emb_dim:
            raise DataError(f"margin head input: got shape {tuple(emb.shape)}, expected [B, {self.emb_dim}]")
        with torch.autocast(device_type=emb.device.type, enabled=False):  # margins need float32 cosines
            cos = F.linear(F.normalize(emb.float(), dim=-1), F.normalize(self.weight.float(), dim=-1))
        return cos.view(-1, self.n_classes, self.subcenters).amax(dim=-1)  # [B, n_classes]

    def forward(self, emb: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``[B, n_classes]`` for ``F.cross_entropy``; the margin only where ``labels`` given.

        Raises
        ------
        DataError
            ``emb`` is not ``[B, emb_dim]``, or ``labels`` is not ``[B]`` within ``[0, n_classes)``.
        """
        cos = self.cosine(emb)
        if labels is None:
            return cos * self.scale
        self._check_labels(labels, emb.shape[0])
        labels = labels.to(cos.device).long()
        cos_y = cos.gather(1, labels[:, None]).clamp(-1 + _COS_EPS, 1 - _COS_EPS)  # [B, 1]
        sin_y = (1.0 - cos_y.square()).sqrt()
        phi = cos_y * math.cos(self.margin) - sin_y * math.sin(self.margin)  # cos(theta_y + m)
        if self.easy_margin:
            phi = torch.where(cos_y > 0, phi, cos_y)
        else:
            # theta_y + m > pi exactly when cos(theta_y) < cos(pi - m)
            phi = torch.where(
                cos_y > math.cos(math.pi - self.margin), phi, cos_y - self.margin * math.sin(self.margin)
            )
        return cos.scatter(1, labels[:, None], phi.to(cos.dtype)) * self.scale

    def _check_labels(self, labels: torch.Tensor, batch: int) -> None:
        if labels.shape != (batch,):
            raise DataError(f"margin head labels: got shape {tuple(labels.shape)}, expected [{batch}]")
        if batch and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise DataError(
                f"margin head labels: got values in [{int(labels.min())}, {int(labels.max())}], "
                f"expected [0, {self.n_classes - 1}]"
            )

    def extra_repr(self) -> str:
        return (
            f"emb_dim={self.emb_dim}, n_classes={self.n_classes}, scale={self.scale}, "
            f"margin={self.margin}, subcenters={self.subcenters}, easy_margin={self.easy_margin}"
        )
