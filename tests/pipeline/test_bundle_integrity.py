"""A damaged or edited bundle is one CheckpointError line, never silently wrong scores (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors import safe_open
from safetensors.torch import save

from sslasd.errors import CheckpointError
from sslasd.pipeline.detector import bundle_digest
from sslasd.pipeline.export import export
from sslasd.pipeline.load import load

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_run")]


def _read(path: Path) -> tuple[dict, dict]:
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["sslasd"])
        return meta, {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118


def _write(path: Path, meta: dict, tensors: dict, *, reseal: bool = False) -> Path:
    if reseal:
        meta = {**meta, "checksum": bundle_digest(meta, tensors)}
    path.write_bytes(save(tensors, metadata={"sslasd": json.dumps(meta)}))
    return path


@pytest.fixture(scope="module")
def bundle(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export(tiny_run, tmp_path_factory.mktemp("bundle") / "model.sslasd")


def test_flipped_signs_in_a_bank_are_refused(bundle: Path, tmp_path: Path) -> None:
    meta, tensors = _read(bundle)
    bank = tensors["bank.0"].clone()
    bank[: len(bank) // 4] *= -1
    damaged = _write(tmp_path / "flipped.sslasd", meta, {**tensors, "bank.0": bank})
    with pytest.raises(CheckpointError, match="checksum does not match"):
        load(damaged)


@pytest.mark.parametrize("edit", ["num_samples", "swap_banks", "emb_dim"])
def test_edited_metadata_is_refused(bundle: Path, tmp_path: Path, edit: str) -> None:
    meta, tensors = _read(bundle)
    if edit == "num_samples":
        meta["num_samples"] = 0
    elif edit == "swap_banks":
        meta["banks"][0]["machine"], meta["banks"][1]["machine"] = (
            meta["banks"][1]["machine"],
            meta["banks"][0]["machine"],
        )
    else:
        meta["config"]["head"]["emb_dim"] = 7
    with pytest.raises(CheckpointError, match="checksum does not match"):
        load(_write(tmp_path / f"{edit}.sslasd", meta, tensors))


@pytest.mark.parametrize("edit", ["no_banks", "emb_dim"])
def test_a_resealed_but_inconsistent_bundle_is_one_line(bundle: Path, tmp_path: Path, edit: str) -> None:
    """Even a file whose checksum was recomputed after the edit fails with one line, no traceback."""
    meta, tensors = _read(bundle)
    if edit == "no_banks":
        del meta["banks"]
    else:
        meta["config"]["head"]["emb_dim"] = 7
    with pytest.raises(CheckpointError, match="does not fit") as info:
        load(_write(tmp_path / f"{edit}.sslasd", meta, tensors, reseal=True))
    assert "\n" not in str(info.value)
