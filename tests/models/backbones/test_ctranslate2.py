"""Our CTranslate2 ``model.bin`` reader: round trip of every dtype, dequantisation, and one clear
error line for truncated, padded and foreign files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch

from sslasd.errors import CheckpointError
from sslasd.models.backbones._ctranslate2 import CT2Model, dequantize, read_model_bin, write_model_bin


def _model() -> CT2Model:
    generator = torch.Generator().manual_seed(0)
    return CT2Model(
        "WhisperSpec",
        3,
        {
            "a/weight": torch.randn(3, 4, generator=generator),
            "a/half": torch.randn(5, dtype=torch.float32, generator=generator).half(),
            "a/bf16": torch.randn(2, 2, generator=generator).bfloat16(),
            "a/int8": torch.tensor([[-128, 0, 127]], dtype=torch.int8),
            "num_heads": torch.tensor(6, dtype=torch.int16),
            "ids": torch.tensor([1, 2, 3], dtype=torch.int32),
        },
        {"b/weight": "a/weight"},
    )


def test_round_trip_keeps_names_shapes_dtypes_and_values(tmp_path: Path) -> None:
    model = _model()
    loaded = read_model_bin(write_model_bin(tmp_path / "model.bin", model))
    assert (loaded.spec, loaded.revision, loaded.aliases) == ("WhisperSpec", 3, {"b/weight": "a/weight"})
    assert list(loaded.variables) == list(model.variables)
    for name, value in model.variables.items():
        assert loaded.variables[name].dtype == value.dtype and torch.equal(loaded.variables[name], value), (
            name
        )


def test_layout_is_ctranslate2s(tmp_path: Path) -> None:
    """The bytes follow the documented layout: version, NUL-terminated strings with a uint16 length
    that counts the NUL, revision, count, then per variable rank, dims, dtype id, byte count."""
    model = CT2Model("S", 2, {"v": torch.tensor([1.0, 2.0], dtype=torch.float16)})
    data = write_model_bin(tmp_path / "model.bin", model).read_bytes()
    expected = struct.pack("<IH2sII", 6, 2, b"S\x00", 2, 1) + struct.pack("<H2sBIBI", 2, b"v\x00", 1, 2, 4, 4)
    assert data == expected + torch.tensor([1.0, 2.0]).half().numpy().tobytes() + struct.pack("<I", 0)


def test_dequantize_int8_rows_and_int16_tensor() -> None:
    weight = torch.tensor([[1.0, -0.5], [0.25, 0.125]])
    scale8 = 127.0 / weight.abs().amax(dim=1)
    int8 = torch.round(weight * scale8[:, None]).to(torch.int8)
    scale16 = 2.0**10 / weight.abs().max()
    int16 = torch.round(weight * scale16).to(torch.int16)
    out = dequantize(
        {
            "x/weight": int8,
            "x/weight_scale": scale8,
            "y/weight": int16,
            "y/weight_scale": scale16,
            "n": int16[0, 0],
        },
        "m.bin",
    )
    assert set(out) == {"x/weight", "y/weight", "n"}
    torch.testing.assert_close(out["x/weight"], int8.float() / scale8[:, None], rtol=0, atol=0)
    torch.testing.assert_close(out["x/weight"], weight, rtol=0, atol=0.5 / scale8.min().item())
    torch.testing.assert_close(out["y/weight"], weight, rtol=0, atol=0.5 / scale16.item())
    assert out["n"].dtype == torch.int16


@pytest.mark.parametrize(
    ("variables", "words"),
    [
        ({"w": torch.ones(2, dtype=torch.int8), "w_zero": torch.zeros(2)}, "zero-point quantisation"),
        ({"w_scale": torch.ones(1)}, "no quantised variable"),
        ({"w": torch.ones(2, 3, dtype=torch.int8), "w_scale": torch.ones(3)}, "fits neither"),
    ],
)
def test_dequantize_refuses_what_it_cannot_restore(variables: dict, words: str) -> None:
    with pytest.raises(CheckpointError, match=words):
        dequantize(variables, "m.bin")


def test_every_truncation_is_one_clear_line(tmp_path: Path) -> None:
    data = write_model_bin(tmp_path / "full.bin", _model()).read_bytes()
    cut = tmp_path / "model.bin"
    for size in sorted({0, 3, 4, 7, 20, 30, 40, 60, len(data) // 2, len(data) - 5, len(data) - 1}):
        cut.write_bytes(data[:size])
        with pytest.raises(CheckpointError) as info:
            read_model_bin(cut)
        message = str(info.value)
        assert str(cut) in message and "\n" not in message, (size, message)
        assert "truncated" in message or "first 4 bytes" in message, (size, message)


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"PK\x03\x04" + b"\x00" * 60, "not a CTranslate2 model of format version 6"),
        (struct.pack("<I", 5) + b"\x00" * 60, "first 4 bytes read 5"),
        (struct.pack("<IH", 6, 3) + b"abc" + b"\x00" * 20, "not a NUL-terminated string"),
        (struct.pack("<IH2sII", 6, 2, b"S\x00", 1, 10**7), "10000000 variables"),
        (
            struct.pack("<IH2sIIH2sB", 6, 2, b"S\x00", 1, 1, 2, b"v\x00", 1) + struct.pack("<IBI", 2, 9, 8),
            "dtype id 9",
        ),
        (
            struct.pack("<IH2sIIH2sB", 6, 2, b"S\x00", 1, 1, 2, b"v\x00", 1) + struct.pack("<IBI", 2, 0, 6),
            "6 bytes",
        ),
    ],
)
def test_foreign_or_inconsistent_files_are_refused(tmp_path: Path, payload: bytes, words: str) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(payload)
    with pytest.raises(CheckpointError, match=words):
        read_model_bin(path)


def test_trailing_bytes_and_missing_file(tmp_path: Path) -> None:
    path = write_model_bin(tmp_path / "model.bin", _model())
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(CheckpointError, match="1 unexpected bytes after the last alias"):
        read_model_bin(path)
    with pytest.raises(CheckpointError, match="no such file"):
        read_model_bin(tmp_path / "absent.bin")
