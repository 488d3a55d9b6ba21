"""Small helpers every layer needs: atomic writes, hashing, seeding, device choice, logging."""

from sslasd._common.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text, atomic_writer
from sslasd._common.device import autocast_dtype, cpu_has_native_bf16, inference_dtype, resolve_device
from sslasd._common.hashing import sha256_file
from sslasd._common.home import sslasd_home
from sslasd._common.locking import step_lock
from sslasd._common.logging import get_logger
from sslasd._common.seeding import seed_everything

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "atomic_writer",
    "autocast_dtype",
    "cpu_has_native_bf16",
    "get_logger",
    "inference_dtype",
    "resolve_device",
    "seed_everything",
    "sha256_file",
    "sslasd_home",
    "step_lock",
]
