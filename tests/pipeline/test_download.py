"""``download`` against an HTTP server on loopback: good file, wrong checksum, cut transfer
resumed with a Range request, offline host, safe extraction, the shipped catalog."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sslasd.errors import ConfigError, DownloadError
from sslasd.pipeline.assets import load_catalog
from sslasd.pipeline.download import download, list_assets

PAYLOAD = bytes(range(256)) * 4000  # 1 MB


class Server:
    """Serves ``files`` (path -> bytes) with Range support; paths in ``cut_once`` break half-way
    the first time they are requested. Every request's path and Range header is recorded."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut_once: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Range")))
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-"))
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in server.cut_once:
                    server.cut_once.discard(self.path)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _catalog(tmp_path: Path, *assets: dict) -> Path:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"version": 1, "assets": list(assets)}))
    return path


def _checkpoint(url: str, sha: str | None, size: int | None = None, name: str = "w.pt") -> dict:
    files = [{"file_name": name, "url": url, "sha256": sha, "size": size}]
    return {"name": "ckpt", "kind": "checkpoint", "backbone": "efficientat", "target": name, "files": files}


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SSLASD_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_good_file_lands_in_the_cache_and_rerun_is_a_no_op(
    server: Server, tmp_path: Path, home: Path
) -> None:
    server.files["/w.pt"] = PAYLOAD
    catalog = _catalog(tmp_path, _checkpoint(server.url + "/w.pt", _sha(PAYLOAD), len(PAYLOAD)))
    path = download("ckpt", catalog=catalog)
    assert path == home / "checkpoints" / "w.pt" and path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in path.parent.iterdir()) == ["w.pt"]
    assert download("ckpt", catalog=catalog) == path
    assert len(server.requests) == 1
    download("ckpt", catalog=catalog, force=True)
    assert len(server.requests) == 2


def test_wrong_checksum_is_reported_and_nothing_installed(server: Server, tmp_path: Path) -> None:
    server.files["/w.pt"] = PAYLOAD
    catalog = _catalog(tmp_path, _checkpoint(server.url + "/w.pt", _sha(b"other")))
    with pytest.raises(DownloadError) as info:
        download("ckpt", catalog=catalog, to=tmp_path / "out")
    message = str(info.value)
    assert _sha(PAYLOAD) in message and _sha(b"other") in message and "not installed" in message
    assert not any((tmp_path / "out").iterdir())


def test_cut_transfer_is_resumed_with_a_range_request(server: Server, tmp_path: Path) -> None:
    server.files["/w.pt"] = PAYLOAD
    server.cut_once.add("/w.pt")
    catalog = _catalog(tmp_path, _checkpoint(server.url + "/w.pt", _sha(PAYLOAD)))
    out = tmp_path / "out"
    with pytest.raises(DownloadError, match="transfer broke after 512000 of 1024000 bytes"):
        download("ckpt", catalog=catalog, to=out)
    assert (out / "w.pt.part").stat().st_size == len(PAYLOAD) // 2
    assert download("ckpt", catalog=catalog, to=out).read_bytes() == PAYLOAD
    assert server.requests == [("/w.pt", None), ("/w.pt", f"bytes={len(PAYLOAD) // 2}-")]


def test_offline_fails_at_once_with_a_manual_recipe(tmp_path: Path, home: Path) -> None:
    with socket.socket() as sock:  # a port that nothing listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/w.pt"
    catalog = _catalog(tmp_path, _checkpoint(url, _sha(PAYLOAD)))
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        download("ckpt", catalog=catalog)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "cannot reach 127.0.0.1" in message and url in message and _sha(PAYLOAD) in message
    assert f"put it at {home / 'checkpoints' / 'w.pt'}" in message


def test_a_missing_single_file_is_a_download_error_naming_the_url(
    server: Server, tmp_path: Path, home: Path
) -> None:
    catalog = _catalog(tmp_path, _checkpoint(server.url + "/gone.pt", _sha(PAYLOAD), len(PAYLOAD)))
    with pytest.raises(DownloadError, match=r"gone\.pt: HTTP 404 not found") as info:
        download("ckpt", catalog=catalog)
    assert "put it at" in str(info.value)
    assert not (home / "checkpoints" / "gone.pt").exists()


def test_unknown_checksum_needs_no_verify(server: Server, tmp_path: Path) -> None:
    server.files["/w.pt"] = PAYLOAD
    catalog = _catalog(tmp_path, _checkpoint(server.url + "/w.pt", None))
    with pytest.raises(DownloadError, match=r"no published SHA-256 for w\.pt.*--no-verify"):
        download("ckpt", catalog=catalog, to=tmp_path)
    assert server.requests == []
    assert download("ckpt", catalog=catalog, to=tmp_path, verify=False).read_bytes() == PAYLOAD


def test_dataset_archives_are_extracted_and_dcase2021_test_dirs_merged(
    server: Server, tmp_path: Path
) -> None:
    archives = {
        "/dev_fan.zip": _zip(
            {"fan/train/a.wav": b"a", "fan/source_test/b.wav": b"b", "fan/target_test/c.wav": b"c"}
        ),
        "/dev_pump.zip": _zip({"pump/train/d.wav": b"d"}),
    }
    server.files.update(archives)
    files = [{"file_name": p.lstrip("/"), "sha256": _sha(d)} for p, d in archives.items()]
    entry = {"name": "set", "kind": "dataset", "target": "set", "extract": True, "base_url": server.url + "/"}
    catalog = _catalog(tmp_path, {**entry, "layout": "merge_source_target_test", "files": files})
    root = download("set", catalog=catalog, to=tmp_path / "data")
    found = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert found == ["fan/test/b.wav", "fan/test/c.wav", "fan/train/a.wav", "pump/train/d.wav"]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["set"]


def test_a_failed_archive_keeps_the_finished_ones(server: Server, tmp_path: Path) -> None:
    good, bad = _zip({"fan/train/a.wav": b"a"}), _zip({"pump/train/b.wav": b"b"})
    server.files.update({"/good.zip": good, "/bad.zip": bad})
    files = [{"file_name": "good.zip", "sha256": _sha(good)}, {"file_name": "bad.zip", "sha256": _sha(b"x")}]
    entry = {"name": "set", "kind": "dataset", "target": "set", "extract": True, "base_url": server.url + "/"}
    catalog = _catalog(tmp_path, {**entry, "files": files})
    with pytest.raises(DownloadError, match="SHA-256"):
        download("set", catalog=catalog, to=tmp_path)
    assert not (tmp_path / "set").exists() and (tmp_path / "set.partial" / "fan" / "train" / "a.wav").exists()
    server.files["/bad.zip"] = _zip({"pump/train/b.wav": b"b"})
    catalog = _catalog(
        tmp_path, {**entry, "files": [files[0], {"file_name": "bad.zip", "sha256": _sha(bad)}]}
    )
    download("set", catalog=catalog, to=tmp_path)
    assert [p for p, _ in server.requests] == ["/good.zip", "/bad.zip", "/bad.zip"]
    assert (tmp_path / "set" / "pump" / "train" / "b.wav").read_bytes() == b"b"


def _tar_with_symlink() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tf:
        link = tarfile.TarInfo("fan/train/link.wav")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("archive", "words"),
    [
        (_zip({"../evil.wav": b"x"}), "outside the target folder"),
        (_zip({"/abs/evil.wav": b"x"}), "outside the target folder"),
        (_tar_with_symlink(), "is a link or device"),
        (b"<html>not found</html>", "not a zip or tar archive"),
    ],
)
def test_unsafe_archives_are_refused(server: Server, tmp_path: Path, archive: bytes, words: str) -> None:
    server.files["/a.zip"] = archive
    entry = {"name": "set", "kind": "dataset", "target": "set", "extract": True, "base_url": server.url + "/"}
    catalog = _catalog(tmp_path, {**entry, "files": [{"file_name": "a.zip", "sha256": _sha(archive)}]})
    with pytest.raises(DownloadError, match=words):
        download("set", catalog=catalog, to=tmp_path / "out")
    assert not (tmp_path / "evil.wav").exists() and not (tmp_path / "out" / "set").exists()


def test_model_folder_skips_an_unpublished_optional_file(server: Server, tmp_path: Path) -> None:
    server.files.update({"/m/config.json": b"{}", "/m/pytorch_model.bin": PAYLOAD})
    files = [
        {"file_name": "config.json", "sha256": _sha(b"{}")},
        {"file_name": "preprocessor_config.json", "sha256": _sha(b"{}"), "optional": True},
        {"file_name": "pytorch_model.bin", "sha256": _sha(PAYLOAD)},
    ]
    entry = {"name": "m", "kind": "checkpoint", "target": "m", "base_url": server.url + "/m/", "files": files}
    folder = download("m", catalog=_catalog(tmp_path, entry), to=tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "pytorch_model.bin"]


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"name": "x", "kind": "model", "target": "t", "files": [{"file_name": "a", "url": "u"}]}, "kind"),
        (
            {"name": "x", "kind": "dataset", "target": "t", "files": [{"file_name": "../a", "url": "u"}]},
            "plain",
        ),
        ({"name": "x", "kind": "dataset", "target": "t", "files": [{"file_name": "a"}]}, "no base_url"),
        (
            {
                "name": "x",
                "kind": "dataset",
                "target": "t",
                "files": [{"file_name": "a", "url": "u", "sha256": "ab"}],
            },
            "hex",
        ),
    ],
)
def test_bad_catalog_entries_are_named(tmp_path: Path, entry: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=f"entry 0 \\('x'\\).*{words}"):
        load_catalog(_catalog(tmp_path, entry))


def test_unknown_asset_suggests_close_names() -> None:
    with pytest.raises(ConfigError, match=r"did you mean .*efficientat-mn04"):
        download("efficientat-mn4")


def test_shipped_catalog() -> None:
    """Every asset the issue asks for is there, with the mn04 checksum of the shared weights."""
    assets = {a.name: a for a in list_assets()}
    years = [f"dcase{y}-{s}" for y in range(2020, 2026) for s in ("dev", "eval")]
    required = [
        "beats-iter3",
        "beats-iter3-as2m",
        "eat-base",
        "eat-large",
        "efficientat-mn04",
        "efficientat-mn10",
    ]
    assert set(required + years + ["wav2vec2-base", "hubert-base-ls960", "wavlm-base-plus"]) <= set(assets)
    mn04 = assets["efficientat-mn04"].files[0]
    assert mn04.sha256 == "899a8c6217063f6941793102a2780b3dd788ab11fce468d9cf5f0577c453321c"
    assert all(f.url.startswith("https://") for a in assets.values() for f in a.files)
    assert all(a.kind == "dataset" and a.extract for a in assets.values() if a.name.startswith("dcase"))


@pytest.mark.real_data
def test_mn04_catalog_checksum_matches_the_shared_file(mn04_weights: Path, tmp_path: Path) -> None:
    """The shared weights placed by hand where the catalog says are accepted (sha256 and size)."""
    from sslasd._common import sha256_file

    mn04 = {a.name: a for a in list_assets()}["efficientat-mn04"]
    assert sha256_file(mn04_weights) == mn04.files[0].sha256
    assert mn04_weights.stat().st_size == mn04.files[0].size
    (tmp_path / mn04.target).symlink_to(mn04_weights)
    assert download("efficientat-mn04", to=tmp_path) == tmp_path / mn04.target


def test_whisper_tiny_entries() -> None:
    """The Hugging Face folder lands under the name that also finds the pip package's weights; the
    original checkpoint carries the SHA-256 that OpenAI's download URL names."""
    from sslasd.models.backbones._checkpoint import PACKAGED

    assets = {a.name: a for a in list_assets()}
    folder, original = assets["whisper-tiny.en"], assets["whisper-tiny.en-openai"]
    assert folder.backbone == original.backbone == "whisper"
    assert folder.target in PACKAGED
    assert {f.file_name for f in folder.files} == {"config.json", "model.safetensors"}
    assert original.files[0].sha256 == original.files[0].url.split("/")[-2]
