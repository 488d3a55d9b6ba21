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


def _interval(estimate: float) -> dict[str, float]:
    return {
        "estimate": estimate,
        "low": estimate - 0.01,
        "high": estimate + 0.01,
        "level": 0.95,
        "n_boot": 10,
    }


def _table(seeds: list[int], variants: dict[str, float | None], *, reference: str = "paper") -> dict:
    request = {"data_names": ["d0", "d1"], "seeds": seeds, "set": [], "reference": reference}
    rows = [
        {
            "name": name,
            "official_scores": {"d0": [0.7] * len(seeds), "d1": [0.7] * len(seeds)},
            "difference": None if diff is None else _interval(diff),
            "nmi_difference": None,
        }
        for name, diff in variants.items()
    ]
    floor = {
        "name": "logmel",
        "official_scores": {"d0": [0.6], "d1": [0.6]},
        "difference": _interval(0.05),  # stored as reference minus floor
        "nmi_difference": _interval(-0.1),  # stored as floor minus reference
    }
    return {"request": request, "variants": rows, "floors": [floor]}


def test_the_summary_keeps_each_detectors_widest_table_and_the_floors_sign() -> None:
    quality = _module()
    tables = [
        _table([0], {"paper": None, "no_vq": -0.005, "frozen": -0.02}),
        _table([0, 1], {"paper": None, "no_vq": -0.004}),
        _table([0, 1], {"paper": None, "no_vq": 0.5}),  # an older default, skipped below
        _table([0, 1], {"grouped": None, "views": 0.001}, reference="grouped"),
    ]
    text = quality.summary(tables, skip={3})
    lines = text.splitlines()[2:]
    assert [line.split(" | ")[0] for line in lines] == [
        "| no_vq",
        "| frozen",
        "| views",
        "| floor: logmel",
    ]  # variants before floors; a table against another reference says nothing new about the floors
    no_vq = lines[0]
    assert "| 0 1 |" in no_vq and "-0.40 [-1.40, +0.60]" in no_vq and no_vq.endswith("| 2 |")  # two seeds win
    assert "+50.00" not in text  # the skipped table is not in it
    assert lines[1].endswith("| 1 |") and "| 0 |" in lines[1]  # measured only once, with one seed
    floor = lines[3]
    assert "-5.00 [-6.00, -4.00]" in floor and "-0.100 [-0.110, -0.090]" in floor and floor.endswith("| 2 |")
    assert "| `grouped` |" in lines[2] and lines[2].endswith("| 4 |")  # another reference: its own line


def test_summary_reads_the_json_twins_and_numbers_the_tables(tmp_path: Path) -> None:
    import json

    quality = _module()
    readme = tmp_path / "README.md"
    readme.write_text("<!-- quality:begin -->\n<!-- quality:end -->\n")
    for name, table in (
        ("a", _table([0], {"paper": None, "x": 0.01})),
        ("b", _table([0, 1], {"paper": None, "x": 0.02})),
    ):
        (tmp_path / f"{name}.md").write_text(f"| {name} |\n")
        (tmp_path / f"{name}.json").write_text(json.dumps(table))
    with pytest.raises(SystemExit, match=r"--summary-skip: no table \[3\]"):
        quality.main(
            [
                str(tmp_path / "a.md"),
                str(tmp_path / "b.md"),
                "--readme",
                str(readme),
                "--summary",
                "--summary-skip",
                "3",
            ]
        )
    assert (
        quality.main([str(tmp_path / "a.md"), str(tmp_path / "b.md"), "--readme", str(readme), "--summary"])
        == 0
    )
    text = readme.read_text()
    assert (
        text.index("**Summary.**")
        < text.index("| x | `paper` | d0, d1 | 0 1 | +2.00")
        < text.index("**Table 1**")
    )
    assert text.index("**Table 1**") < text.index("| a |") < text.index("**Table 2**") < text.index("| b |")
    (tmp_path / "b.json").unlink()
    with pytest.raises(SystemExit, match="b.json"):
        quality.main([str(tmp_path / "a.md"), str(tmp_path / "b.md"), "--readme", str(readme), "--summary"])
