"""The trainable system: embedder + margin classifier + dual-level contrastive loss + VQ pseudo-labels.

Implements the training objective of Han et al. (TASLP 2025, arXiv 2508.12230) as configured:

``loss = CE(ArcFace(emb), class) + w_con * (w_coarse * SupCon(emb, section) + w_fine * SupCon(emb, class))
+ w_vq * commitment``

where ``class`` is the machine x section x attribute class, or, for groups without attributes, the
group's nearest VQ code (re-assigned at every step: dynamic clustering). The engine
(:func:`sslasd.training.loop.train`) only sees :meth:`training_step`.

With ``contrastive.form: views`` the contrastive term is the two-view loss instead
(:class:`~sslasd.models.heads.TwoViewContrastiveLoss`): every clip of the batch is embedded twice,
each time with its own random gain, circular shift and SpecAugment masks; ArcFace sees both views
with the clip's class, the VQ pseudo-label of a clip comes from the normalised mean of its two views
(so both views carry the same one, and the codebook's EMA counts each clip once), and the projection
head of that loss lives here, never in the embedder, so scoring and exported models never see it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sslasd._common import get_logger
from sslasd.features import random_gain_shift
from sslasd.models.embedder import Embedder
from sslasd.models.heads import ArcMarginHead, DualLevelContrastiveLoss, DynamicVQ, TwoViewContrastiveLoss
from sslasd.models.heads.config import ContrastiveConfig, HeadConfig, VqConfig

log = get_logger("system")
#: ``() -> (embeddings [N, D], vq_group [N])`` of every training clip, by the current model
VqPass = Callable[[], tuple[torch.Tensor, torch.Tensor]]
#: ``(pseudo-labels [N] of the pass's clips) -> statistics`` kept with each re-clustering (e.g. NMI)
VqJudge = Callable[[torch.Tensor], dict[str, float]]


class AsdSystem(nn.Module):
    """Embedder plus training heads; ``training_step`` returns the loss and its parts.

    Parameters
    ----------
    embedder : Embedder
    n_classes : int
        Classes of the margin head (fixed attribute classes + VQ code classes).
    vq_offsets : LongTensor [n_vq_groups]
        Class index of code 0 of each VQ group (empty when VQ is off).
    head : HeadConfig
        The run's ``head`` section; its margin keys build the classifier: ``arcface``, or
        ``subcenter`` (sub-centre ArcFace with ``subcenters`` centres), ``scale``, ``margin_value``.
    vq : VqConfig
        The run's ``vq`` section: codes per group, EMA decay, dead-code restart threshold,
        k-means restarts, and the weight of the commitment term.
    contrastive : ContrastiveConfig
        The run's ``contrastive`` section. ``form: labels``: the dual-level loss on one view
        (``coarse_weight``, ``fine_weight``); ``views``: the two-view loss (``instance_weight``,
        ``class_weight``, projection head sizes, view gain and shift; see the module docstring).
        ``enabled: false`` or ``weight: 0`` switches the term off.
    freeze_backbone_norm_stats : bool
        Keep the backbone's normalisation statistics fixed in training (every mode but ``full``).
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        n_classes: int,
        vq_offsets: torch.Tensor,
        head: HeadConfig,
        vq: VqConfig,
        contrastive: ContrastiveConfig,
        freeze_backbone_norm_stats: bool,
    ) -> None:
        super().__init__()
        self.embedder = embedder
        emb_dim = embedder.head.emb_dim
        self.classifier = ArcMarginHead(
            emb_dim,
            n_classes,
            scale=head.scale,
            margin=head.margin_value,
            subcenters=head.subcenters if head.margin == "subcenter" else 1,
        )
        con = contrastive
        weight = con.weight if con.enabled else 0.0
        self.views = weight > 0 and con.form == "views"
        self.contrastive: DualLevelContrastiveLoss | TwoViewContrastiveLoss | None = None
        if self.views:
            self.contrastive = TwoViewContrastiveLoss(
                emb_dim,
                hidden=con.projection_hidden,
                proj_dim=con.projection_dim,
                instance_weight=con.instance_weight,
                class_weight=con.class_weight,
                temperature=con.temperature,
            )
        elif weight > 0:
            self.contrastive = DualLevelContrastiveLoss(
                coarse_weight=con.coarse_weight, fine_weight=con.fine_weight, temperature=con.temperature
            )
        self.contrastive_weight = weight
        self.view_gain_db = con.view_gain_db
        self.view_shift = con.view_shift
        self.register_buffer("vq_offsets", vq_offsets.long().clone(), persistent=True)
        self.vq = (
            DynamicVQ(
                emb_dim,
                vq.n_codes,
                n_groups=len(vq_offsets),
                decay=vq.decay,
                dead_threshold=vq.dead_threshold,
                commitment=1.0,  # weighted here, by vq.commitment_weight
                restarts=vq.restarts,
                ema=vq.update == "ema",
            )
            if len(vq_offsets) > 0
            else None
        )
        self.vq_commitment_weight = vq.commitment_weight
        self.vq_refresh_every = vq.refresh_every
        self.freeze_backbone_norm_stats = freeze_backbone_norm_stats
        self.vq_pass: VqPass | None = None
        self.vq_judge: VqJudge | None = None
        self.vq_history: list[dict[str, Any]] = []  # per re-clustering: statistics
        self.vq_restarts = 0  # dead-code restarts (EMA codebooks only) so far in this training

    def set_vq_pass(self, vq_pass: VqPass | None, judge: VqJudge | None = None) -> None:
        """Let :meth:`on_epoch_start` and :meth:`on_step_start` re-cluster the VQ codebooks on
        every training clip of the VQ groups.

        ``vq_pass() -> (embeddings, vq_group)`` embeds all training clips with the current model
        (the pipeline provides it: the system knows no data set). ``judge``, when given, rates the
        pseudo-labels after every re-clustering (the pipeline's NMI against a synthetic set's hidden
        modes); its values are logged and kept in ``vq_history``.
        """
        self.vq_pass = vq_pass
        self.vq_judge = judge

    def on_epoch_start(self, epoch: int, fabric: object = None) -> None:
        """Re-cluster the VQ codebooks at the start of every epoch (``vq.refresh_every: 0``), or
        only before the first step (seeding the codebooks from all clips rather than one batch)
        when :meth:`on_step_start` keeps the schedule."""
        if epoch == 0 or not self.vq_refresh_every:
            self._recluster(fabric, epoch=epoch)

    def on_step_start(self, step: int, fabric: object = None) -> None:
        """Re-cluster the VQ codebooks every ``vq.refresh_every`` steps (after step 0, which
        :meth:`on_epoch_start` covers). The engine calls it after reseeding for the step, and again
        at the step a resumed run starts from, so a resume re-clusters exactly as the killed run
        would have (the codebooks the checkpoint holds are those from before this call)."""
        if self.vq_refresh_every and step > 0 and step % self.vq_refresh_every == 0:
            self._recluster(fabric, step=step)

    @torch.no_grad()
    def _recluster(self, fabric: object, **when: int) -> None:
        """Re-cluster every VQ group by spherical k-means on a full pass over its training clips.

        Code indices are kept where clusters persist (:meth:`DynamicVQ.refresh`); a code whose
        cluster changed gets its classifier rows moved to the new centre, so its class and its code
        point at the same clips. Under DDP every process then takes rank 0's clustering (k-means++
        draws differ between ranks, and moved classifier rows are parameters, which DDP does not
        re-synchronise). The share of clips whose pseudo-label changed (churn) is logged and kept in
        ``vq_history`` with ``when`` (``epoch=`` or ``step=``) and the dead-code restarts of the
        EMA codebook since the previous re-clustering (``restarts``; always 0 with k-means codes).
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
        self._point_classes_at_codes(moved)
        if getattr(fabric, "world_size", 1) > 1:
            for tensor in (*self.vq.buffers(), self.classifier.weight):
                tensor.copy_(fabric.broadcast(tensor, src=0))
        after = self.vq.assign(emb, groups)
        churn = None if before is None else float((before[quantised] != after[quantised]).float().mean())
        rated = self.vq_judge(after[quantised].cpu()) if self.vq_judge is not None else {}
        restarts = self.vq_restarts - sum(h["restarts"] for h in self.vq_history)  # since the last entry
        self.vq_history.append(
            {
                **when,
                "churn": churn,
                "moved_codes": sum(len(c) for c in moved.values()),
                "restarts": restarts,
                **rated,
            }
        )
        log.info(
            "%s: VQ codebooks re-clustered on %d clips; %s of pseudo-labels changed, %d codes moved, "
            "%d dead-code restarts since the last re-clustering%s",
            ", ".join(f"{k} {v}" for k, v in when.items()),
            int(quantised.sum()),
            "-" if churn is None else f"{100 * churn:.1f} %",
            self.vq_history[-1]["moved_codes"],
            restarts,
            "".join(f"; {k} {v:.3f}" for k, v in rated.items()),
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

    def checkpoint_extras(self) -> dict[str, Any]:
        """The VQ record that is not tensors, for the training engine's resume checkpoints: a resumed
        run's ``vq_history`` and restart count then cover the whole training, not only the part
        after the resume."""
        return {"vq_history": [dict(entry) for entry in self.vq_history], "vq_restarts": self.vq_restarts}

    def load_checkpoint_extras(self, extras: dict[str, Any]) -> None:
        """Put back what :meth:`checkpoint_extras` returned (a checkpoint without it: nothing to put
        back, the record starts at the resume)."""
        self.vq_history = [dict(entry) for entry in extras.get("vq_history", [])]
        self.vq_restarts = int(extras.get("vq_restarts", 0))

    @torch.no_grad()
    def _point_classes_at_codes(self, codes: dict[int, list[int]]) -> None:
        """Move the classifier rows of the given VQ codes (group -> code indices) to those codes, so
        that a code re-seeded elsewhere and its class point at the same clips."""
        k = self.classifier.subcenters
        for g, moved in codes.items():
            for code in moved:
                cls = int(self.vq_offsets[g]) + code
                self.classifier.weight[cls * k : (cls + 1) * k] = self.vq.codebook[g, code]

    def classes_of(self, emb: torch.Tensor, target: torch.Tensor, vq_group: torch.Tensor) -> tuple:
        """Class of every clip (fixed or from its VQ code) and the commitment loss."""
        if self.vq is None:
            return target, emb.new_zeros(())
        codes, commitment = self.vq(emb, vq_group)
        restarted = self.vq.pop_restarted()  # dead codes re-seeded in this batch
        self._point_classes_at_codes(restarted)
        self.vq_restarts += sum(len(moved) for moved in restarted.values())
        offset = self.vq_offsets[vq_group.clamp(min=0)]
        classes = torch.where(vq_group >= 0, offset + codes.clamp(min=0), target)
        return classes, commitment

    def training_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """Loss of one batch: ``wave`` [B, N], ``machine``, ``section``, ``target``, ``vq_group`` [B];
        with mixup also ``mix_lambda`` (scalar) and ``mix_index`` [B] (the partner of each clip).

        With the two-view form the B clips become 2B rows (first views, then second views); labels,
        pseudo-labels and mixup partners are per clip and follow both views."""
        wave, machine = batch["wave"], batch["machine"]
        n_views = 2 if self.views else 1
        if self.views:
            wave = torch.cat([self._view(wave), self._view(wave)])
            machine = machine.repeat(2)
        emb = self.embedder(wave, machine)  # [n_views * B, D]
        classes, commitment = self.classes_of(
            self._per_clip(emb, n_views), batch["target"], batch["vq_group"]
        )
        sections = batch["section"]
        if "mix_lambda" in batch:
            lam = float(batch["mix_lambda"])
            partner = batch["mix_index"]
            loss_margin = lam * self._margin_loss(emb, classes, n_views) + (1 - lam) * self._margin_loss(
                emb, classes[partner], n_views
            )
            if lam < 0.5:  # the contrastive loss takes the labels of the dominant clip
                classes, sections = classes[partner], sections[partner]
        else:
            loss_margin = self._margin_loss(emb, classes, n_views)
        out = {"loss_margin": loss_margin.detach()}
        loss = loss_margin
        if self.contrastive is not None:
            if self.views:  # clips without a section (noise classes) stay out of the class level
                parts = self.contrastive(emb, torch.where(sections >= 0, classes, -1))
            else:
                parts = self.contrastive(emb, sections, classes)
            loss = loss + self.contrastive_weight * parts["loss"]
            out["loss_contrastive"] = parts["loss"].detach()
            if self.views:
                out["loss_instance"], out["loss_class"] = parts["instance"].detach(), parts["class"].detach()
        if self.vq is not None:
            loss = loss + self.vq_commitment_weight * commitment
            out["loss_vq"] = commitment.detach()
        out["loss"] = loss
        return out

    def _view(self, wave: torch.Tensor) -> torch.Tensor:
        """One augmented view of each clip (gain and circular shift; SpecAugment follows in the
        embedder, with masks drawn per row, so the two views get independent masks too)."""
        return random_gain_shift(wave, gain_db=self.view_gain_db, max_shift=self.view_shift)

    @staticmethod
    def _per_clip(emb: torch.Tensor, n_views: int) -> torch.Tensor:
        """One embedding per clip: the normalised mean of its views (the embedding itself for one)."""
        if n_views == 1:
            return emb
        return F.normalize(emb.reshape(n_views, -1, emb.shape[-1]).mean(dim=0), dim=-1)

    def _margin_loss(self, emb: torch.Tensor, classes: torch.Tensor, n_views: int) -> torch.Tensor:
        """ArcFace cross-entropy of every row; each view carries its clip's class."""
        rows = classes.repeat(n_views)
        return F.cross_entropy(self.classifier(emb, rows), rows)

    @torch.no_grad()
    def pseudo_labels(self, emb: torch.Tensor, vq_group: torch.Tensor) -> torch.Tensor:
        """Nearest code of each clip of a VQ group (-1 elsewhere), without updating the codebook."""
        if self.vq is None:
            return torch.full_like(vq_group, -1)
        return self.vq.assign(emb, vq_group)
