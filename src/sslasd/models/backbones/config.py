"""The ``backbone`` section of a run's config: which pretrained model, from which checkpoint."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from sslasd._common.config_section import ConfigSection
from sslasd.models.backbones.base import Backbone
from sslasd.models.backbones.registry import BACKBONES, load_backbone


class BackboneConfig(ConfigSection):
    """The pretrained model and where its weights come from."""

    name: str = Field(
        "beats",
        description="Registry name: beats, eat, wav2vec2, hubert, wavlm, data2vec, whisper, efficientat, "
        "logmel (the training-free log-mel statistics).",
    )
    checkpoint: str | None = Field(
        None,
        description="Local checkpoint path or catalog file name in $SSLASD_HOME/checkpoints; None = random.",
    )
    tiny: bool = Field(False, description="Use the family's tiny random config (tests, CPU demo).")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="Fields of the family's config class to override (e.g. layer_drop)."
    )

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in BACKBONES:
            raise ValueError(f"unknown backbone {name!r}; known: {', '.join(sorted(BACKBONES))}")
        return name

    def build(self) -> Backbone:
        """The backbone these settings name: the checkpoint's weights (random without one), with
        ``overrides`` applied to the family's config (an unknown field is a ConfigError)."""
        return load_backbone(self.name, self.checkpoint, tiny=self.tiny, **self.overrides)
