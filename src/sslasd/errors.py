"""Exception tree of sslasd.

Every error a user can cause is one of these, raised with a message that names the file or
key, the value seen and the value expected, so that nothing surfaces as a traceback from deep
inside numpy or torch. Each subclass also derives from the built-in exception a caller would
naturally catch (``ValueError``, ``FileNotFoundError``...), as scikit-learn does.
"""

from __future__ import annotations


class SslasdError(Exception):
    """Base class of every error raised on purpose by sslasd."""


class DataError(SslasdError, ValueError):
    """A data file or data set cannot be used: unreadable, too short, badly named, inconsistent."""


class ConfigError(SslasdError, ValueError):
    """A configuration key or value is unknown or invalid."""


class CheckpointError(SslasdError, ValueError):
    """A checkpoint is missing, unsafe, or its keys/shapes do not fit the model."""


class NotFittedError(SslasdError, ValueError, AttributeError):
    """An estimator or run was used before it was fitted (scikit-learn's contract)."""


class DownloadError(SslasdError, OSError):
    """A download failed, was refused offline, or its checksum did not match."""


class RunError(SslasdError, RuntimeError):
    """A run folder is missing a step's output, or a step would overwrite what a user made."""
