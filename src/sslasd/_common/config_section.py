"""The base of every typed config section: unknown keys are errors, assignments are validated.

Each component's settings are a section typed beside the code that uses them (``data/config.py``,
``models/heads/config.py``...); ``pipeline/config.py`` composes them into the run's config tree.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigSection(BaseModel):
    """A config section: ``extra="forbid"`` (a typo is an error naming the key), validated on
    assignment (``cfg.lora.rank = "x"`` fails at once, not later)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
