"""The run layout is spelled once: every layer finds a run's files through ``RunLayout``."""

from __future__ import annotations

import ast
from pathlib import Path

from sslasd._common.run_layout import RunLayout
from sslasd.pipeline.rundir import RunDir

SRC = Path(__file__).resolve().parents[2] / "src" / "sslasd"
LAYOUT_NAMES = {
    "config.yaml", "run.json", "DONE", "metrics.json", "embeddings.npz", "report.html",
    "thresholds.json", "backend.json", "ensemble.json", "floor.json", "backends.safetensors",
    "metrics.csv", "train_summary.json", "vq_history.json", "pseudo_labels.csv", "backbone.safetensors",
}  # fmt: skip


def test_no_module_but_the_layout_spells_a_run_file_name() -> None:
    spelled = [
        f"{path.relative_to(SRC)}:{node.lineno} {node.value!r}"
        for path in SRC.rglob("*.py")
        if path.name != "run_layout.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in LAYOUT_NAMES
    ]
    assert not spelled, "use sslasd._common.run_layout instead:\n" + "\n".join(spelled)


def test_a_run_dir_is_its_layout_with_the_config(tmp_path: Path) -> None:
    run = RunDir.at(tmp_path / "run")
    assert isinstance(run, RunLayout)
    assert run.bank_embeddings_path == RunLayout.at(tmp_path / "run").banks_dir / "embeddings.npz"
    assert not run.done("fit")
    run.fit_dir.mkdir(parents=True)
    run.mark_done("fit")
    assert run.done("fit") and not run.done("banks")
