"""Supervised contrastive loss (SupCon) and the dual-level version used with the margin loss.

SupCon (Khosla et al., NeurIPS 2020, the ``L_out`` form): for an anchor ``i`` with positives
``P(i)`` and contrast set ``A(i)`` (the other items it is compared with),

    l_i = -1/|P(i)| sum_{p in P(i)} log( exp(z_i.z_p / t) / sum_{a in A(i)} exp(z_i.z_a / t) ),

averaged over the anchors that have at least one positive. The dual-level loss applies it twice
(Han et al., TASLP 2025): a coarse level whose positives share the machine and section, and a fine
level whose positives share the (pseudo-)attribute within the same machine/section.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from sslasd.errors import ConfigError, DataError

FineNegatives = Literal["within_section", "all"]


def supervised_contrastive_loss(
    emb: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1
) -> torch.Tensor:
    """SupCon over a batch: positives share a label; every other labelled item is in the contrast set.

    Parameters
    ----------
    emb : Tensor
        ``[B, D]``; L2-normalised here (cosine similarity).
    labels : Tensor
        ``[B]`` integers; items with a label < 0 take no part (neither anchor nor contrast).
    temperature : float
        ``t`` (> 0).

    Returns
    -------
    Tensor
        Scalar mean over anchors with a positive; 0 (still attached to the graph) when there is none.

    Raises
    ------
    DataError
        Shapes do not match. ConfigError: ``temperature`` <= 0.

    Examples
    --------
    >>> emb = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> float(supervised_contrastive_loss(emb, torch.tensor([0, 0, 1, 1]))) < 0.01
    True
    """
    _check(emb, temperature, labels=labels)
    labels = labels.to(emb.device)
    valid = labels >= 0
    contrast = valid[:, None] & valid[None, :]
    positive = contrast & (labels[:, None] == labels[None, :])
    return supcon_from_masks(emb, positive, contrast, temperature)


def supcon_from_masks(
    emb: torch.Tensor, positive: torch.Tensor, contrast: torch.Tensor, temperature: float
) -> torch.Tensor:
    """SupCon from boolean ``[B, B]`` masks (the diagonal is removed here): ``positive[i, j]`` says
    ``j`` is a positive of anchor ``i``, ``contrast[i, j]`` that ``j`` is in its denominator (positives
    outside the contrast set are dropped). Shared by every contrastive form so they agree on the maths."""
    with torch.autocast(device_type=emb.device.type, enabled=False):  # logits up to 1/t: keep float32
        z = F.normalize(emb.float(), dim=-1)
        sim = z @ z.T / temperature  # [B, B]
    off_diag = ~torch.eye(sim.shape[0], dtype=torch.bool, device=sim.device)
    contrast = contrast & off_diag
    positive = positive & contrast
    log_denominator = torch.logsumexp(sim.masked_fill(~contrast, float("-inf")), dim=1, keepdim=True)
    log_prob = torch.where(positive, sim - log_denominator, torch.zeros_like(sim))
    n_positive = positive.sum(dim=1)
    anchors = n_positive > 0
    if not anchors.any():
        return sim.sum() * 0.0
    per_anchor = -log_prob[anchors].sum(dim=1) / n_positive[anchors]
    return per_anchor.mean()


class DualLevelContrastiveLoss(nn.Module):
    """Coarse (machine/section) plus fine ((pseudo-)attribute within machine/section) SupCon.

    Parameters
    ----------
    coarse_weight, fine_weight : float
        ``loss = coarse_weight * coarse + fine_weight * fine``.
    temperature : float
        SupCon temperature of both levels.
    fine_negatives : {"within_section", "all"}
        Contrast set of the fine level. ``"within_section"`` (default): an anchor is compared only
        with items of its own machine/section, so the fine level separates attributes inside a
        section and leaves the separation of sections to the coarse level (items of other
        sections are easy negatives that would otherwise dominate the denominator). ``"all"``:
        every item with a fine label is in the contrast set.

    Notes
    -----
    ``coarse_labels`` identify machine x section; ``fine_labels`` identify the attribute (or VQ
    pseudo-attribute) and need only be unique within a section (a code index is fine): fine
    positives share both labels. A label < 0 excludes the item from that level (e.g. ``-1`` fine
    labels for clips whose section has neither attributes nor pseudo-labels yet).

    Examples
    --------
    >>> loss = DualLevelContrastiveLoss()
    >>> emb = F.normalize(torch.randn(6, 4), dim=-1)
    >>> out = loss(emb, torch.tensor([0, 0, 0, 1, 1, 1]), torch.tensor([0, 0, 1, 0, 0, -1]))
    >>> sorted(out)
    ['coarse', 'fine', 'loss']
    """

    def __init__(
        self,
        coarse_weight: float = 1.0,
        fine_weight: float = 1.0,
        temperature: float = 0.1,
        fine_negatives: FineNegatives = "within_section",
    ) -> None:
        super().__init__()
        if fine_negatives not in ("within_section", "all"):
            raise ConfigError(f"fine_negatives: got {fine_negatives!r}, expected 'within_section' or 'all'")
        if temperature <= 0:
            raise ConfigError(f"contrastive temperature: got {temperature}, expected > 0")
        self.coarse_weight = float(coarse_weight)
        self.fine_weight = float(fine_weight)
        self.temperature = float(temperature)
        self.fine_negatives = fine_negatives

    def forward(
        self, emb: torch.Tensor, coarse_labels: torch.Tensor, fine_labels: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Return ``{"loss": weighted sum, "coarse": ..., "fine": ...}`` (scalars)."""
        _check(emb, self.temperature, labels=coarse_labels)
        _check(emb, self.temperature, labels=fine_labels)
        coarse_labels, fine_labels = coarse_labels.to(emb.device), fine_labels.to(emb.device)
        coarse = supervised_contrastive_loss(emb, coarse_labels, self.temperature)
        same_section = (coarse_labels[:, None] == coarse_labels[None, :]) & (coarse_labels[:, None] >= 0)
        has_fine = (fine_labels >= 0) & (coarse_labels >= 0)
        contrast = has_fine[:, None] & has_fine[None, :]
        positive = contrast & same_section & (fine_labels[:, None] == fine_labels[None, :])
        if self.fine_negatives == "within_section":
            contrast = contrast & same_section
        fine = supcon_from_masks(emb, positive, contrast, self.temperature)
        return {"loss": self.coarse_weight * coarse + self.fine_weight * fine, "coarse": coarse, "fine": fine}


def _check(emb: torch.Tensor, temperature: float, *, labels: torch.Tensor) -> None:
    if temperature <= 0:
        raise ConfigError(f"contrastive temperature: got {temperature}, expected > 0")
    if emb.dim() != 2:
        raise DataError(f"contrastive loss embeddings: got shape {tuple(emb.shape)}, expected [B, D]")
    if labels.shape != (emb.shape[0],):
        raise DataError(
            f"contrastive loss labels: got shape {tuple(labels.shape)}, expected [{emb.shape[0]}]"
        )
