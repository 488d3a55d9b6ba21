"""bench/readme_quality.py splices ablation tables, each after its command, between the markers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "readme_quality.py"


def _module():
    spec = importlib.util.spec_from_file_location("readme_quality", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tables_from_files_and_folders_replace_the_section_in_order(tmp_path: Path) -> None:
    quality = _module()
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- quality:begin -->\nold table\n<!-- quality:end -->\noutro\n")
    folder = tmp_path / "protocol"
    (folder / "tables").mkdir(parents=True)
    (folder / "table.md").write_text("| latest |\n")
    (folder / "tables" / "paper+vq_ema_seed0-1_a.md").write_text("| kept |\n")
    code = quality.main(
        [str(folder / "tables" / "paper+vq_ema_seed0-1_a.md"), str(folder), "--readme", str(readme),
         "--command", "sslasd ablate A", "--command", "sslasd ablate B"]
    )  # fmt: skip
    assert code == 0
    text = readme.read_text()
    assert "old table" not in text and text.startswith("intro\n") and text.endswith("outro\n")
    assert text.index("sslasd ablate A") < text.index("| kept |") < text.index("sslasd ablate B")
    assert text.index("sslasd ablate B") < text.index("| latest |")


def test_a_missing_table_or_marker_is_refused_without_writing(tmp_path: Path) -> None:
    quality = _module()
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    (tmp_path / "t.md").write_text("| t |\n")
    with pytest.raises(SystemExit, match="no table"):
        quality.main([str(tmp_path / "absent.md"), "--readme", str(readme)])
    with pytest.raises(SystemExit, match="exactly one"):
        quality.main([str(tmp_path / "t.md"), "--readme", str(readme)])
    assert readme.read_text() == "no markers\n"
