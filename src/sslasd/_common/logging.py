"""Package logger: quiet by default (WARNING), a library never configures the root logger."""

from __future__ import annotations

import logging


def get_logger(name: str) -> logging.Logger:
    """Return the ``sslasd.<name>`` logger (``name`` may already start with ``sslasd``)."""
    return logging.getLogger(name if name.startswith("sslasd") else f"sslasd.{name}")
