"""Device and precision choice in one place, so that every verb picks them the same way."""

from __future__ import annotations

import torch

from sslasd.errors import ConfigError


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Map ``"auto"``/``None`` to CUDA when available, else CPU; validate anything else."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device: {device!r} is not a torch device (try 'auto', 'cpu', 'cuda:0')") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {device!r} asked for, but CUDA is not available on this machine")
    return resolved


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``: bf16 on GPU by default, none on CPU.

    Returns ``None`` when computation should stay in float32.
    """
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    if precision in ("32", "fp32", "float32", "32-true"):
        return None
    if precision in ("bf16", "bf16-mixed", "bfloat16"):
        return torch.bfloat16
    if precision in ("16", "fp16", "16-mixed", "float16"):
        return torch.float16
    raise ConfigError(f"precision: {precision!r} is not one of auto, 32, bf16, 16")
