"""The ``lora`` and ``mga`` sections of a run's config: how the backbone is fine-tuned, and the
Machine-aware Group Adapter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field
from torch import nn

from sslasd._common.config_section import ConfigSection
from sslasd.errors import ConfigError
from sslasd.models.adapters.inject import inject_lora, set_trainable


class LoraConfig(ConfigSection):
    """How the backbone is fine-tuned: FC-LoRA, plain LoRA, frozen or full."""

    mode: Literal["fc_lora", "lora", "frozen", "full"] = "fc_lora"
    rank: int = Field(8, ge=1, description="Rank r of each branch.")
    branches: int = Field(2, ge=1, description="K down/up branches of FC-LoRA (forced to 1 for plain LoRA).")
    alpha: float = Field(16.0, gt=0, description="Scale alpha; the update is multiplied by alpha / r.")
    dropout: float = Field(0.0, ge=0, lt=1)
    targets: list[str] = Field(
        default_factory=lambda: ["all"],
        description="Linear layers to wrap: 'all' or name patterns (q_proj...).",
    )
    learn_mixing: bool = Field(
        True, description="Learn the K x K mixing matrix G (False keeps it at identity)."
    )
    convs: bool = Field(
        False,
        description="Also wrap the backbone's pointwise (1 x 1) convolutions (CNN backbones; on "
        "EfficientAT the linear layers are only the squeeze-excitation gates).",
    )

    def apply(self, model: nn.Module, linear_names: Sequence[str], conv_names: Sequence[str] = ()) -> None:
        """Wrap ``model``'s linear layers ``linear_names`` (and with ``convs`` its pointwise
        convolutions ``conv_names``), filtered by ``targets``, with (FC-)LoRA in the LoRA modes, then
        set which of its weights train (:func:`set_trainable`).

        Raises ConfigError for ``convs`` on a model without pointwise convolutions."""
        if self.convs and not conv_names:
            raise ConfigError(
                f"lora.convs: {type(model).__name__} has no pointwise convolutions to wrap "
                "(it is for CNN backbones such as efficientat)"
            )
        if self.mode in ("fc_lora", "lora"):
            inject_lora(
                model,
                [*linear_names, *(conv_names if self.convs else ())],
                patterns="all" if self.targets == ["all"] else self.targets,
                rank=self.rank,
                branches=self.branches if self.mode == "fc_lora" else 1,
                alpha=self.alpha,
                dropout=self.dropout,
                learn_mixing=self.learn_mixing and self.mode == "fc_lora",
            )
        set_trainable(model, self.mode)


class MgaConfig(ConfigSection):
    """The Machine-aware Group Adapter after the top blocks."""

    mode: Literal["none", "shared", "per_machine", "grouped"] = "grouped"
    blocks: int = Field(2, ge=1, description="Insert after each of the top N blocks.")
    hidden: int = Field(64, ge=1, description="Bottleneck units m (split into groups).")
    groups: int = Field(4, ge=1, description="Groups G of the grouped mode.")
    gate_init: Literal["uniform", "random"] = Field(
        "uniform",
        description="uniform: every machine starts with equal gates (they move only once the adapter's "
        "output layer has); random: gates differ per machine from the first step.",
    )
