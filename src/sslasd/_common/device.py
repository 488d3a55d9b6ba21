"""Device and precision choice in one place, so that every verb picks them the same way."""

from __future__ import annotations

import torch

from sslasd._common.logging import get_logger
from sslasd.errors import ConfigError

_log = get_logger("device")


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


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AMX tiles or AVX512-BF16), where CPU bf16
    autocast is faster than float32 (issue 11: BEATs-base 3.73 vs 1.89 clips/s on 2 threads).

    Elsewhere oneDNN emulates bf16 and is slower than float32. ``torch.ops.mkldnn.
    _is_mkldnn_bf16_supported()`` is no test of this: it is also True on plain AVX512 (emulated).
    """
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        check = getattr(torch.cpu, probe, None)  # private helpers of torch.cpu; older torch: absent
        if check is not None and check():
            return True
    return False


def inference_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """:func:`autocast_dtype` for inference, with a warning when bf16 on this CPU will be slow.

    bf16 on a CPU without native bf16 (:func:`cpu_has_native_bf16`) still works, so it is allowed:
    the warning says that float32 (``precision="32"``) is faster there.
    """
    dtype = autocast_dtype(device, precision)
    if dtype == torch.bfloat16 and device.type == "cpu" and not cpu_has_native_bf16():
        _log.warning(
            "precision %r: this CPU has no native bf16 (no AMX / AVX512-BF16), so bf16 is emulated "
            "and slower than float32; use precision '32' for speed",
            precision,
        )
    return dtype
