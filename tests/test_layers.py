"""The package tree is the pipeline: a layer imports only from the layers below it.

Every module is parsed with ``ast`` (nothing is imported), and each ``sslasd.*`` import is
checked against the table below, which is the one in STYLE.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sslasd"

BASE = {"errors", "_common"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "_common": {"errors"},
    "data": BASE,
    "features": BASE,
    "models.backbones": BASE | {"features"},
    "models.adapters": BASE,
    "models.heads": BASE,
    "models": BASE | {"features", "models"},  # models/embedder.py composes the model parts
    "training": BASE | {"features", "models", "data"},
    "backends": BASE,
    "evaluation": BASE | {"data"},
    "report": BASE | {"evaluation", "data"},
    "pipeline": BASE
    | {"data", "features", "models", "training", "backends", "evaluation", "report", "pipeline", ""},
    "cli": BASE | {"pipeline", ""},
}


def _layer(module: Path) -> str:
    parts = module.relative_to(SRC).with_suffix("").parts
    if parts[0] == "models" and len(parts) > 2:
        return f"models.{parts[1]}"
    return parts[0]


def _target(name: str) -> str | None:
    """Layer of an absolute import of ``sslasd.x.y``; '' for ``sslasd`` itself; None if not ours."""
    if name == "sslasd":
        return ""
    if not name.startswith("sslasd."):
        return None
    parts = name.split(".")[1:]
    if parts[0] == "models" and len(parts) > 1 and parts[1] in ("backbones", "adapters", "heads"):
        return f"models.{parts[1]}"
    return parts[0]


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if p.name not in ("__init__.py", "__main__.py"))


def _allowed(layer: str, target: str) -> bool:
    if target == layer:
        return True
    if target.startswith("models.") and "models" in ALLOWED[layer] and layer.startswith("models"):
        return layer == "models"  # the embedder may use every model part; parts may not use each other
    if target.startswith("models.") and "models" in ALLOWED[layer]:
        return True
    return target in ALLOWED[layer]


@pytest.mark.parametrize("module", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_upward_imports(module: Path) -> None:
    layer = _layer(module)
    assert layer in ALLOWED, f"{module}: layer {layer!r} is not in the layer table"
    tree = ast.parse(module.read_text(), filename=str(module))
    bad = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            target = _target(name)
            if target is not None and not _allowed(layer, target):
                bad.append(f"line {node.lineno}: {name}")
    assert not bad, f"{module.relative_to(SRC)} ({layer}) imports upward: {bad}"


def test_table_catches_an_upward_import(tmp_path: Path) -> None:
    """The checker itself fails on a known-bad import (so the test above can fail)."""
    assert not _allowed("backends", "models.backbones")
    assert not _allowed("data", "pipeline")
    assert not _allowed("models.adapters", "models.backbones")
    assert _allowed("pipeline", "models.backbones")
