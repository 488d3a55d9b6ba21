"""The whole page: ``sslasd.report`` on the fake run, self-contained, and graceful with missing pieces."""

from __future__ import annotations

import base64
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from sslasd.pipeline.report import report
from sslasd.report.html import esc

VOID = {"meta", "img", "br", "hr", "link", "input"}


class _Checker(HTMLParser):
    """Collects ids, links, images and the text of each section; checks that tags nest."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.images: list[str] = []
        self.tags: set[str] = set()
        self.section_text: dict[str, list[str]] = {}
        self._section: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "section":
            self._section = a["id"]
            self.section_text[self._section] = []
        if tag == "a":
            self.hrefs.append(a.get("href", ""))
        if tag == "img":
            self.images.append(a["src"])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()
        if tag == "section":
            self._section = None

    def handle_data(self, data):
        if self._section:
            self.section_text[self._section].append(data)


def parse(page: str) -> _Checker:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == [], f"unclosed tags {checker.stack}"
    return checker


def section_text(checker: _Checker, section: str) -> str:
    return " ".join(checker.section_text[section])


@pytest.fixture(scope="module")
def full_page(tmp_path_factory: pytest.TempPathFactory, make_fake_run):
    run = make_fake_run(tmp_path_factory.mktemp("full") / "run")
    path = report(run.root, projection="pca")
    return run, path, path.read_text(encoding="utf-8")


def test_report_is_written_in_the_run_folder(full_page) -> None:
    run, path, _ = full_page
    assert path == run.root / "report.html"
    assert not [p for p in run.root.iterdir() if p.name.startswith(".report.html")]  # no temp file left


def test_page_is_self_contained_and_well_formed(full_page) -> None:
    _, _, page = full_page
    checker = parse(page)
    assert "script" not in checker.tags and "link" not in checker.tags
    assert not re.search(r"(src|href)=\"(https?:|//)", page)
    toc = [h[1:] for h in checker.hrefs if h.startswith("#")]
    assert toc == ["scores", "roc", "distributions", "embeddings", "training", "config", "versions"]
    assert set(toc) <= checker.ids
    assert len(checker.images) == 4  # ROC, histograms, embedding map, training curves
    for src in checker.images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        png = base64.b64decode(src[len(prefix) :], validate=True)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_page_shows_the_official_score_and_every_machine(full_page) -> None:
    run, _, page = full_page
    score = f"{100 * run.metrics['official_score']:.2f}"
    assert re.search(rf'id="official-score">{re.escape(score)}<', page)
    checker = parse(page)
    scores = section_text(checker, "scores")
    for s in run.metrics["sections"]:
        assert s["machine"] in scores and f"{100 * s['auc_source']:.2f}" in scores


def test_config_and_versions_are_shown_escaped(full_page) -> None:
    _, _, page = full_page
    checker = parse(page)
    assert esc("# resolved config: a < b & c") in page
    assert "# resolved config: a < b & c" in section_text(checker, "config")
    versions = section_text(checker, "versions")
    assert "2.13.0" in versions and "efficientat" in versions


def _no_pseudo_labels(root: Path) -> None:
    path = root / "banks" / "embeddings.npz"
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["pseudo_labels"][:] = -1
    np.savez(path.with_suffix(""), **arrays)


# what is removed -> (section that says so, text of the note, images left)
MISSING = {
    "metrics": (lambda r: (r / "scores" / "synth" / "metrics.json").unlink(), "scores", "sslasd evaluate", 2),
    "training": (lambda r: (r / "fit" / "metrics.csv").unlink(), "training", "metrics.csv does not exist", 3),
    "embeddings": (
        lambda r: [(r / p / "embeddings.npz").unlink() for p in ("banks", "scores/synth")],
        "embeddings",
        "embeddings.npz does not exist",
        3,
    ),
    "thresholds": (
        lambda r: (r / "thresholds.json").unlink(),
        "distributions",
        "thresholds.json does not exist",
        4,
    ),
    "scores": (lambda r: shutil.rmtree(r / "scores"), "roc", "sslasd score", 2),
    "pseudo_labels": (_no_pseudo_labels, None, None, 4),
}


@pytest.mark.parametrize("missing", list(MISSING))
def test_a_missing_piece_gives_a_note_not_a_crash(
    tmp_path: Path, monkeypatch, make_fake_run, missing: str
) -> None:
    """Figures are built but not rasterised here (the full page above renders them all), to stay fast."""
    monkeypatch.setattr("sslasd.report.build.png_data_uri", lambda fig: "data:image/png;base64,")

    remove, section, text, n_images = MISSING[missing]
    run = make_fake_run(tmp_path / "run")
    remove(run.root)
    checker = parse(report(run.root, out=tmp_path / "out" / "r.html", projection="pca").read_text())
    assert len(checker.images) == n_images
    if section is not None:
        assert text in section_text(checker, section)
