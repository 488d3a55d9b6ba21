"""The ``data`` section of a run's config: which clips, how long, how their channels are read, and
the noise mixed into training crops."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sslasd._common.config_section import ConfigSection
from sslasd.data.channels import ChannelPolicy
from sslasd.data.noise import NoiseMixer


class NoiseConfig(ConfigSection):
    """Noise-only clips mixed into the training crops at a random SNR (:mod:`sslasd.data.noise`)."""

    folder: str | None = Field(
        None,
        description="Folder of noise-only clips, searched recursively (DCASE 2025's supplementary noise "
        "clips, or your own); None = no mixing.",
    )
    snr_db: tuple[float, float] = Field(
        (5.0, 20.0), description="SNR range [low, high] in dB, drawn uniformly."
    )
    probability: float = Field(0.5, ge=0, le=1, description="Chance that a training crop is mixed.")
    as_class: bool = Field(
        False,
        description="Also train on the noise clips as classes of the margin classifier: one per machine "
        "for clips under a folder named like the machine (<folder>/<machine>/...), one shared class for "
        "the rest. Never in the banks, thresholds or floors.",
    )

    @model_validator(mode="after")
    def _check_range(self) -> NoiseConfig:
        if self.snr_db[0] > self.snr_db[1]:
            raise ValueError(f"snr_db {list(self.snr_db)}: need [low, high] with low <= high")
        if self.as_class and self.folder is None:
            raise ValueError("data.noise.as_class=true needs noise clips: set data.noise.folder")
        return self


class DataConfig(ConfigSection):
    """Which clips, how long, and how they are read."""

    year: int | None = Field(None, description="DCASE naming scheme; None = detect from the file names.")
    seconds: float | None = Field(
        None,
        gt=0,
        description="Crop/pad length; None = the year's policy, capped at the longest training clip.",
    )
    cache: bool = Field(True, description="Keep decoded audio at the backbone's rate in RUN/cache/ (.npy).")
    skip_bad: bool = Field(
        False, description="Skip unreadable/bad files (listed in the run) instead of failing."
    )
    channels: Literal["mean", "near", "far", "stack", "subtract"] = Field(
        "mean",
        description="What the model sees of multi-microphone clips (DCASE 2026: near, far): mean (all "
        "channels averaged; any channel count), near, far, stack (both as two views, fused in "
        "embedding space), subtract (near minus the far channel's magnitude spectrum).",
    )
    subtract_factor: float = Field(1.0, ge=0, description="Over-subtraction factor of channels=subtract.")
    subtract_floor: float = Field(
        0.1, ge=0, le=1, description="Gain floor of channels=subtract (0.1: at most -20 dB per bin)."
    )

    noise: NoiseConfig = Field(default_factory=NoiseConfig)

    def channel_policy(self) -> ChannelPolicy:
        """The channel policy these keys describe (:mod:`sslasd.data.channels`)."""
        return ChannelPolicy(self.channels, factor=self.subtract_factor, floor=self.subtract_floor)

    def noise_mixer(self) -> NoiseMixer | None:
        """The mixer of ``noise.folder``'s clips, or None without a folder.

        Raises
        ------
        DataError
            The folder is missing or holds no audio file.
        """
        noise = self.noise
        if noise.folder is None:
            return None
        return NoiseMixer.from_folder(noise.folder, snr_db=noise.snr_db, probability=noise.probability)
