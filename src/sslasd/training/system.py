"""The trainable system: embedder + margin classifier + dual-level contrastive loss + VQ pseudo-labels.

Implements the training objective of Han et al. (TASLP 2025, arXiv 2508.12230) as configured:

``loss = CE(ArcFace(emb), class) + w_con * (w_coarse * SupCon(emb, section) + w_fine * SupCon(emb, class))
+ w_vq * commitment``

where ``class`` is the machine x section x attribute class, or, for groups without attributes, the
group's nearest VQ code (re-assigned at every step: dynamic clustering). The engine
(:func:`sslasd.training.loop.train`) only sees :meth:`training_step`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sslasd._common import get_logger
from sslasd.models.embedder import Embedder
from sslasd.models.heads import ArcMarginHead, DualLevelContrastiveLoss, DynamicVQ

log = get_logger("system")
#: ``() -> (embeddings [N, D], vq_group [N])`` of every training clip, by the current model
VqPass = Callable[[], tuple[torch.Tensor, torch.Tensor]]


class AsdSystem(nn.Module):
    """Embedder plus training heads; ``training_step`` returns the loss and its parts.

    Parameters
    ----------
    embedder : Embedder
    n_classes : int
        Classes of the margin head (fixed attribute classes + VQ code classes).
    vq_offsets : LongTensor [n_vq_groups]
        Class index of code 0 of each VQ group (empty when VQ is off).
    n_codes : int
        Codes per VQ group.
    margin, scale, margin_value, subcenters :
        Margin head: ``arcface`` or ``subcenter`` (sub-centre ArcFace with ``subcenters`` centres).
    contrastive_weight, coarse_weight, fine_weight, temperature :
        Dual-level contrastive loss (``contrastive_weight = 0`` switches it off).
    vq_decay, vq_dead_threshold, vq_commitment_weight :
        VQ codebook EMA decay, dead-code restart threshold and weight of the commitment term.
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        n_classes: int,
        vq_offsets: torch.Tensor,
        n_codes: int = 4,
        margin: str = "arcface",
        scale: float = 30.0,
        margin_value: float = 0.2,
        subcenters: int = 1,
        contrastive_weight: float = 0.5,
        coarse_weight: float = 1.0,
        fine_weight: float = 1.0,
        temperature: float = 0.1,
        vq_decay: float = 0.99,
        vq_dead_threshold: float = 0.1,
        vq_commitment_weight: float = 0.1,
        freeze_backbone_norm_stats: bool = True,
    ) -> None:
        super().__init__()
        self.embedder = embedder
        emb_dim = embedder.head.emb_dim
        self.classifier = ArcMarginHead(
            emb_dim,
            n_classes,
            scale=scale,
            margin=margin_value,
            subcenters=subcenters if margin == "subcenter" else 1,
        )
        self.contrastive = (
            DualLevelContrastiveLoss(
                coarse_weight=coarse_weight, fine_weight=fine_weight, temperature=temperature
            )
            if contrastive_weight > 0
            else None
        )
        self.contrastive_weight = contrastive_weight
        self.register_buffer("vq_offsets", vq_offsets.long().clone(), persistent=True)
        self.vq = (
            DynamicVQ(
                emb_dim,
                n_codes,
                n_groups=len(vq_offsets),
                decay=vq_decay,
                dead_threshold=vq_dead_threshold,
                commitment=1.0,  # weighted here, by vq_commitment_weight
            )
            if len(vq_offsets) > 0
            else None
        )
        self.vq_commitment_weight = vq_commitment_weight
        self.freeze_backbone_norm_stats = freeze_backbone_norm_stats
        self.vq_pass: VqPass | None = None
        self.vq_history: list[dict[str, Any]] = []  # per epoch: re-clustering statistics

    def set_vq_pass(self, vq_pass: VqPass | None) -> None:
        """Let :meth:`on_epoch_start` re-cluster the VQ codebooks on every training clip.

        ``vq_pass() -> (embeddings, vq_group)`` embeds all training clips with the current model
        (the pipeline provides it: the system knows no data set).
        """
        self.vq_pass = vq_pass

    @torch.no_grad()
    def on_epoch_start(self, epoch: int, fabric: object = None) -> None:
        """Re-cluster every VQ group by k-means on a full pass over the training clips.

        Before the first epoch this seeds the codebooks from all clips rather than from one batch;
        later it lets the codes follow the embedding space. Code indices are kept where clusters
        persist (:meth:`DynamicVQ.refresh`); a code whose cluster changed gets its classifier rows
        moved to the new centre, so its class and its code point at the same clips. The share of
        clips whose pseudo-label changed (churn) is logged and kept in ``vq_history``.
        """
        if self.vq is None or self.vq_pass is None:
            return
        emb, groups = self.vq_pass()
        device = self.vq.codebook.device
        emb, groups = emb.to(device), groups.to(device)
        quantised = groups >= 0
        present = torch.unique(groups[quantised])
        before = self.vq.assign(emb, groups) if bool(self.vq.initialized[present].all()) else None
        moved = self.vq.refresh(emb, groups)
        after = self.vq.assign(emb, groups)
        k = self.classifier.subcenters
        for g, codes in moved.items():
            for code in codes:
                cls = int(self.vq_offsets[g]) + code
                self.classifier.weight[cls * k : (cls + 1) * k] = self.vq.codebook[g, code]
        churn = None if before is None else float((before[quantised] != after[quantised]).float().mean())
        self.vq_history.append(
            {"epoch": epoch, "churn": churn, "moved_codes": sum(len(c) for c in moved.values())}
        )
        log.info(
            "epoch %d: VQ codebooks re-clustered on %d clips; %s of pseudo-labels changed, %d codes moved",
            epoch,
            int(quantised.sum()),
            "-" if churn is None else f"{100 * churn:.1f} %",
            self.vq_history[-1]["moved_codes"],
        )

    def train(self, mode: bool = True) -> AsdSystem:
        """As ``nn.Module.train``, but a frozen backbone's normalisation statistics stay frozen."""
        super().train(mode)
        if mode and self.freeze_backbone_norm_stats:
            for module in self.embedder.backbone.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def set_all_reduce(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """The training loop's sum over processes: the VQ codebooks' EMA statistics use it (DDP)."""
        if self.vq is not None:
            self.vq.set_all_reduce(fn)

    def checkpoint_buffers(self) -> list[str]:
        """Persistent buffers that training changes and checkpoints must carry (VQ codebooks, head
        statistics, and the backbone's normalisation statistics when those train too)."""
        persistent = self.state_dict().keys()
        return [
            name
            for name, _ in self.named_buffers()
            if name in persistent
            and (not name.startswith("embedder.backbone.") or not self.freeze_backbone_norm_stats)
        ]

    def classes_of(self, emb: torch.Tensor, target: torch.Tensor, vq_group: torch.Tensor) -> tuple:
        """Class of every clip (fixed or from its VQ code) and the commitment loss."""
        if self.vq is None:
            return target, emb.new_zeros(())
        codes, commitment = self.vq(emb, vq_group)
        offset = self.vq_offsets[vq_group.clamp(min=0)]
        classes = torch.where(vq_group >= 0, offset + codes.clamp(min=0), target)
        return classes, commitment

    def training_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """Loss of one batch: ``wave`` [B, N], ``machine``, ``section``, ``target``, ``vq_group`` [B];
        with mixup also ``mix_lambda`` (scalar) and ``mix_index`` [B] (the partner of each clip)."""
        emb = self.embedder(batch["wave"], batch["machine"])
        classes, commitment = self.classes_of(emb, batch["target"], batch["vq_group"])
        sections = batch["section"]
        if "mix_lambda" in batch:
            lam = float(batch["mix_lambda"])
            partner = batch["mix_index"]
            loss_margin = lam * F.cross_entropy(self.classifier(emb, classes), classes) + (
                1 - lam
            ) * F.cross_entropy(self.classifier(emb, classes[partner]), classes[partner])
            if lam < 0.5:  # the contrastive loss takes the labels of the dominant clip
                classes, sections = classes[partner], sections[partner]
        else:
            loss_margin = F.cross_entropy(self.classifier(emb, classes), classes)
        out = {"loss_margin": loss_margin.detach()}
        loss = loss_margin
        if self.contrastive is not None:
            loss_con = self.contrastive(emb, sections, classes)["loss"]
            loss = loss + self.contrastive_weight * loss_con
            out["loss_contrastive"] = loss_con.detach()
        if self.vq is not None:
            loss = loss + self.vq_commitment_weight * commitment
            out["loss_vq"] = commitment.detach()
        out["loss"] = loss
        return out

    @torch.no_grad()
    def pseudo_labels(self, emb: torch.Tensor, vq_group: torch.Tensor) -> torch.Tensor:
        """Nearest code of each clip of a VQ group (-1 elsewhere), without updating the codebook."""
        if self.vq is None:
            return torch.full_like(vq_group, -1)
        return self.vq.assign(emb, vq_group)
