"""The cache folder for downloaded checkpoints and data sets (``SSLASD_HOME``)."""

from __future__ import annotations

import os
from pathlib import Path


def sslasd_home() -> Path:
    """``$SSLASD_HOME`` if set, else ``~/.cache/sslasd``. Not created here."""
    env = os.environ.get("SSLASD_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "sslasd"
