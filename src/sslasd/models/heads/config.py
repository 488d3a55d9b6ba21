"""The ``head``, ``vq`` and ``contrastive`` sections of a run's config: embedding head and margin
classifier, VQ pseudo-labels, and the dual-level contrastive loss."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sslasd._common.config_section import ConfigSection


class HeadConfig(ConfigSection):
    """Pooling, embedding and margin classifier."""

    emb_dim: int = Field(256, ge=2)
    pooling_hidden: int = Field(128, ge=1)
    norm: Literal["batchnorm", "layernorm", "none"] = Field(
        "batchnorm",
        description="Normalisation of the projection before L2 (batchnorm removes the shared direction).",
    )
    margin: Literal["arcface", "subcenter"] = "arcface"
    scale: float = Field(30.0, gt=0)
    margin_value: float = Field(0.2, ge=0, lt=1.5, description="Additive angular margin m (radians).")
    subcenters: int = Field(3, ge=1, description="Sub-centres per class for margin=subcenter.")
    domain_in_classes: bool = Field(
        False,
        description="Classes machine x section x domain x attribute (the published recipe); the "
        "target clips of an unattributed section get a class of their own instead of pseudo-labels.",
    )


class VqConfig(ConfigSection):
    """Vector-quantised dynamic pseudo-labels for machines/sections without attributes."""

    enabled: bool = True
    n_codes: int = Field(4, ge=1)
    decay: float = Field(0.99, gt=0, lt=1)
    commitment_weight: float = Field(0.1, ge=0)
    dead_threshold: float = Field(
        0.1,
        ge=0,
        description="EMA cluster size under which a code is restarted; below decay, so that a code "
        "just seeded (size 1) survives batches without clips (about 230 at 0.1 and decay 0.99).",
    )
    restarts: int = Field(
        4,
        ge=1,
        description="k-means++ starts of each (re-)clustering; above 1 the current codes are one more "
        "start and the best clustering (total cosine) is kept: fewer poor optima, less relabelling "
        "of clips whose cluster did not change.",
    )
    refresh: bool = Field(
        True,
        description="Re-cluster the codebooks by k-means on all training clips of the VQ groups "
        "before the first step and then on the refresh_every schedule (code indices kept where "
        "clusters persist). Off: codebooks are seeded from the first batch and follow the EMA.",
    )
    refresh_every: int = Field(
        0,
        ge=0,
        description="Steps between re-clusterings (refresh: true); 0 = at the start of every epoch. "
        "A run shorter than one epoch (the transformer presets) otherwise clusters only once.",
    )
    update: Literal["ema", "kmeans"] = Field(
        "kmeans",
        description="How codes move between re-clusterings. kmeans: not at all; codes are the "
        "centres of the last re-clustering (needs refresh: true). ema: every batch (the paper's "
        "dynamic VQ; codes drift from the clusters between re-clusterings, and clips change label "
        "more often). Labels follow the embeddings either way. Which matches hidden operating modes "
        "better depends on the data (README, Quality); kmeans is the default because it reached "
        "k-means on the frozen embeddings on both synthetic families, with the same official score.",
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> VqConfig:
        if self.dead_threshold >= self.decay:
            raise ValueError(
                f"dead_threshold {self.dead_threshold} must be below decay {self.decay}: a code seeded "
                "with a count of 1 would be restarted after one batch without clips"
            )
        if self.update == "kmeans" and not self.refresh:
            raise ValueError(
                "update=kmeans needs refresh=true: the codes would never be clustered "
                "(with refresh=false, set update=ema too)"
            )
        if self.refresh_every and not self.refresh:
            raise ValueError(f"refresh_every={self.refresh_every} needs refresh=true")
        return self


class ContrastiveConfig(ConfigSection):
    """The dual-level supervised contrastive loss."""

    enabled: bool = True
    weight: float = Field(
        0.5, ge=0, description="Weight of the whole contrastive term against the margin loss."
    )
    coarse_weight: float = Field(1.0, ge=0, description="Machine/section level (form=labels).")
    fine_weight: float = Field(1.0, ge=0, description="Attribute / pseudo-attribute level (form=labels).")
    temperature: float = Field(0.1, gt=0)
    form: Literal["labels", "views"] = Field(
        "labels",
        description="labels: SupCon on one view per clip, section and class levels (coarse_weight, "
        "fine_weight). views: two augmented views per clip through a projection head, an instance level "
        "(the other view is the positive) and a class level (instance_weight, class_weight); twice the "
        "forward passes per step; use with train.sampler=grouped so every clip has class positives.",
    )
    instance_weight: float = Field(
        1.0,
        ge=0,
        description="form=views: weight of the instance level (NT-Xent between a clip's two views).",
    )
    class_weight: float = Field(
        1.0, ge=0, description="form=views: weight of the class level (SupCon over views of the same class)."
    )
    projection_hidden: int = Field(
        256, ge=1, description="form=views: hidden units of the projection head (training only, not scored)."
    )
    projection_dim: int = Field(128, ge=1, description="form=views: output size of the projection head.")
    view_gain_db: float = Field(
        3.0, ge=0, description="form=views: largest random gain of each view, in dB (0 = none)."
    )
    view_shift: float = Field(
        0.5,
        ge=0,
        le=1,
        description="form=views: largest random circular shift of each view, as a fraction of the crop "
        "(0 = none); SpecAugment masks are drawn independently for the two views in any case.",
    )
