"""``sslasd download``: argument names map to :func:`sslasd.pipeline.download.download`'s."""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sslasd.cli import download as download_cli
from sslasd.errors import DownloadError


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sslasd")
    download_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Path]:
    """A one-file checkpoint with a known and one with an unknown SHA-256, served from tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "w.pt").write_bytes(b"weights" * 1000)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/w.pt"
    sha = hashlib.sha256(b"weights" * 1000).hexdigest()
    assets = [
        {"name": name, "kind": "checkpoint", "target": "w.pt", "description": f"test {name}",
         "files": [{"file_name": "w.pt", "url": url, "sha256": digest}]}
        for name, digest in (("known", sha), ("unknown", None))
    ]  # fmt: skip
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"version": 1, "assets": assets}))
    yield path
    httpd.shutdown()
    httpd.server_close()


def test_download_prints_the_path(catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["download", "known", "--to", str(tmp_path / "out"), "--catalog", str(catalog)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out" / "w.pt")
    assert (tmp_path / "out" / "w.pt").read_bytes() == b"weights" * 1000


def test_no_verify_flag(catalog: Path, tmp_path: Path) -> None:
    base = ["download", "unknown", "--to", str(tmp_path / "out"), "--catalog", str(catalog)]
    with pytest.raises(DownloadError, match="--no-verify"):
        _run(base)
    assert _run([*base, "--no-verify", "--force"]) == 0


def test_list(catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["download", "--list", "--catalog", str(catalog)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["known", "checkpoint", "sha256"],
        ["unknown", "checkpoint", "no"],
    ]


def test_name_or_list_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["download"]) == 2
    assert "NAME or --list" in capsys.readouterr().err
