"""The catalog of public checkpoints and data sets that ``sslasd download`` can fetch.

Pretrained assets are data (torchaudio's pipeline bundles): each entry of ``assets.json`` names
where the files live, their SHA-256 and size where published, the licence, and for checkpoints
which backbone reads them with which config. A lab can keep its own catalog (a mirror, private
models) in a JSON file of the same form and pass it as ``catalog=``.

Form of an entry::

    {"name": "efficientat-mn04", "kind": "checkpoint", "description": "...", "licence": "MIT",
     "homepage": "https://...", "backbone": "efficientat", "config": {"width_mult": 0.4},
     "target": "efficientat_mn04_as_mAP_432.pt",            # file or folder name in the cache
     "base_url": "https://...",                              # optional prefix of relative files
     "extract": false, "layout": null,                       # archives (data sets) only
     "files": [{"file_name": "...", "url": "...", "sha256": "..." or null, "size": 123 or null,
                "optional": false}]}
"""

from __future__ import annotations

import difflib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sslasd.errors import ConfigError


class AssetFile(BaseModel):
    """One file of an asset: where it comes from and how to check it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file_name: str
    url: str = ""
    sha256: str | None = None
    size: int | None = Field(default=None, ge=0)
    optional: bool = False

    @field_validator("file_name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not value or "/" in value or "\\" in value or value in (".", ".."):
            raise ValueError(f"file_name {value!r} must be a plain file name")
        return value

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str | None) -> str | None:
        if value is not None and (len(value) != 64 or any(c not in "0123456789abcdef" for c in value)):
            raise ValueError(f"sha256 {value!r} is not 64 lower-case hex digits")
        return value


class Asset(BaseModel):
    """A catalog entry (see the module docstring for the JSON form)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: Literal["checkpoint", "dataset"]
    description: str = ""
    licence: str = ""
    homepage: str = ""
    backbone: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    target: str
    base_url: str = ""
    extract: bool = False
    #: "merge_source_target_test": DCASE 2021's source_test/ and target_test/ are moved into test/
    layout: Literal["merge_source_target_test"] | None = None
    files: tuple[AssetFile, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _resolve_urls(cls, data: Any) -> Any:
        """Give every file without a ``url`` the entry's ``base_url`` + its file name."""
        if not isinstance(data, dict) or not isinstance(data.get("files"), list):
            return data
        base = data.get("base_url", "")
        files = []
        for item in data["files"]:
            if isinstance(item, dict) and not item.get("url"):
                if not base:
                    raise ValueError(f"file {item.get('file_name')!r} has no url and the entry no base_url")
                item = {**item, "url": base + str(item.get("file_name", ""))}
            files.append(item)
        return {**data, "files": files}

    @field_validator("target")
    @classmethod
    def _plain_target(cls, value: str) -> str:
        if "/" in value or "\\" in value or value in ("", ".", ".."):
            raise ValueError(f"target {value!r} must be a plain file or folder name")
        return value

    @property
    def is_single_file(self) -> bool:
        """True when the asset is one file stored under ``target`` itself (most checkpoints)."""
        return len(self.files) == 1 and not self.extract and self.files[0].file_name == self.target

    @property
    def unverified_files(self) -> list[str]:
        """Names of the files with no published SHA-256."""
        return [f.file_name for f in self.files if f.sha256 is None]


def _read(path: Path | None) -> tuple[str, Any]:
    if path is None:
        source = resources.files("sslasd.pipeline").joinpath("assets.json")
        return "sslasd/pipeline/assets.json", json.loads(source.read_text(encoding="utf-8"))
    try:
        return str(path), json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"catalog {path}: no such file") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"catalog {path}: not valid JSON ({exc})") from exc


def load_catalog(catalog: str | os.PathLike | None = None) -> dict[str, Asset]:
    """Read and validate a catalog (default: the one shipped with sslasd), keyed by asset name.

    Raises
    ------
    ConfigError
        Unreadable file, or an entry with a missing/invalid field (named with its index and key).

    Example
    -------
    >>> assets = load_catalog()
    >>> assets["efficientat-mn04"].files[0].sha256[:12]
    '899a8c621706'
    """
    source, data = _read(None if catalog is None else Path(catalog))
    entries = data.get("assets") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"catalog {source}: expected an object with an 'assets' list")
    assets: dict[str, Asset] = {}
    for index, entry in enumerate(entries):
        try:
            asset = Asset.model_validate(entry)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            name = entry.get("name", "?") if isinstance(entry, dict) else "?"
            raise ConfigError(f"catalog {source}: entry {index} ({name!r}): {problems}") from exc
        if asset.name in assets:
            raise ConfigError(f"catalog {source}: asset name {asset.name!r} appears twice")
        assets[asset.name] = asset
    return assets


def get_asset(name: str, catalog: str | os.PathLike | None = None) -> Asset:
    """The catalog entry ``name``; an unknown name raises a ConfigError suggesting close ones."""
    assets = load_catalog(catalog)
    if name not in assets:
        close = difflib.get_close_matches(name, list(assets), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"download: unknown asset {name!r}{hint} (`sslasd download --list` shows all)")
    return assets[name]


def list_assets(catalog: str | os.PathLike | None = None) -> list[Asset]:
    """All catalog entries, checkpoints first, then data sets, each group in catalog order.

    Example
    -------
    >>> names = [a.name for a in list_assets()]
    >>> "beats-iter3" in names and "dcase2020-dev" in names
    True
    """
    assets = list(load_catalog(catalog).values())
    return [a for a in assets if a.kind == "checkpoint"] + [a for a in assets if a.kind == "dataset"]
