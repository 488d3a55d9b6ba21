"""``sslasd report`` through the real CLI entry point (the page itself is tested in tests/report)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sslasd.cli.main import main


@pytest.fixture
def bare_run(tmp_path: Path) -> Path:
    """A run folder that was only started: config and run.json, nothing trained or scored."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("backbone:\n  name: beats\n")
    (run / "run.json").write_text(json.dumps({"sslasd_version": "0.1.0", "machines": ["fan"], "year": 2024}))
    return run


def test_report_writes_the_page_and_prints_its_path(bare_run: Path, capsys) -> None:
    assert main(["report", "--run", str(bare_run)]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"report: {bare_run / 'report.html'}"
    page = (bare_run / "report.html").read_text()
    assert "sslasd score" in page  # the note of the missing scores, not a crash


def test_report_out_and_projection_are_passed_on(bare_run: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "elsewhere" / "page.html"
    assert main(["report", "--run", str(bare_run), "--out", str(target), "--projection", "pca"]) == 0
    assert target.is_file() and not (bare_run / "report.html").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--scores", "nowhere"], "--scores nowhere: neither a folder nor a tag"), ([], "not a run folder")],
)
def test_report_errors_are_one_line_and_exit_1(
    tmp_path: Path, bare_run: Path, capsys, extra, message
) -> None:
    run = bare_run if extra else tmp_path
    assert main(["report", "--run", str(run), *extra]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sslasd report: error:") and message in err and "Traceback" not in err


def test_report_rejects_an_unknown_projection(bare_run: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["report", "--run", str(bare_run), "--projection", "umap"])
    assert exc.value.code == 2
