"""``sslasd download``: fetch a catalog asset, resume, verify its SHA-256, extract, land it in the cache.

The only code in sslasd that touches the network. Everything else (``load_backbone``, the data
layer) reads the files this puts under ``sslasd_home()`` (``$SSLASD_HOME``, default
``~/.cache/sslasd``):

* checkpoints in ``checkpoints/<target>`` (a file, or a Hugging Face model folder), so that
  ``load_backbone("efficientat", "efficientat_mn04_as_mAP_432.pt")`` finds them by name;
* data sets in ``datasets/<target>/<machine>/{train,test}/*.wav``.

Each file is written to ``<name>.part`` first; an interrupted transfer is resumed with an HTTP
``Range`` request on the next call. A file whose SHA-256 (or size) differs from the catalog is
deleted and reported. Archives are extracted with every member checked (no absolute paths, no
``..``, no links or devices). Multi-file assets are assembled in ``<target>.partial/`` and renamed
into place at the end, so a half-done asset is never visible under its final name.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from http.client import HTTPException
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from sslasd import __version__
from sslasd._common import get_logger, sha256_file, sslasd_home
from sslasd.errors import DownloadError
from sslasd.pipeline.assets import Asset, AssetFile, get_asset, list_assets

__all__ = ["default_location", "download", "list_assets"]

_log = get_logger(__name__)

#: progress(file_name, bytes_done, bytes_total_or_None), called while a file downloads.
Progress = Callable[[str, int, "int | None"], None]

_CHUNK = 1 << 20
_MARKERS = ".sslasd-done"


def default_location(asset: Asset) -> Path:
    """``sslasd_home()/checkpoints`` for checkpoints, ``sslasd_home()/datasets`` for data sets."""
    return sslasd_home() / ("checkpoints" if asset.kind == "checkpoint" else "datasets")


def download(
    name: str,
    *,
    to: str | os.PathLike | None = None,
    force: bool = False,
    verify: bool = True,
    catalog: str | os.PathLike | None = None,
    timeout: float = 15.0,
    progress: Progress | None = None,
) -> Path:
    """Download catalog asset ``name`` (checkpoint or data set) and return where it landed.

    Parameters
    ----------
    name : str
        Asset name, e.g. ``"efficientat-mn04"``, ``"beats-iter3"``, ``"dcase2020-dev"``
        (``list_assets()`` or ``sslasd download --list``).
    to : path, optional
        Parent folder; default :func:`default_location` (under ``SSLASD_HOME``).
    force : bool
        Download again even if the asset is already there.
    verify : bool
        Check SHA-256 (and size). Assets whose catalog entry has no published SHA-256 are refused
        unless ``verify=False`` (CLI ``--no-verify``): nothing could prove the file is the right one.
    catalog : path, optional
        A catalog JSON of the same form as the shipped one (mirrors, private models, tests).
    timeout : float
        Seconds to wait for a connection or for data; offline, the call fails at once (refused
        connection, failed DNS) or after this long (silent network).
    progress : callable, optional
        ``progress(file_name, bytes_done, bytes_total)`` during transfers.

    Returns
    -------
    Path
        The checkpoint file, or the folder (model folder, data set root).

    Raises
    ------
    DownloadError
        Unreachable host (with the URL, SHA-256 and the path to put the file at by hand), HTTP
        error, broken transfer (partial file kept; run again to resume), checksum mismatch,
        refused archive member, or no published checksum without ``verify=False``.
    ConfigError
        Unknown asset name (close names suggested) or invalid catalog.

    Example
    -------
    >>> download("efficientat-mn04")  # doctest: +SKIP
    PosixPath('/home/me/.cache/sslasd/checkpoints/efficientat_mn04_as_mAP_432.pt')
    """
    asset = get_asset(name, catalog)
    root = Path(to).expanduser() if to is not None else default_location(asset)
    final = root / asset.target
    if final.exists() and not force:
        if asset.is_single_file:
            try:
                _check(final, asset.files[0], verify)
            except DownloadError as exc:
                raise DownloadError(f"{exc}; use --force (force=True) to replace it") from exc
        _log.info("%s is already at %s", name, final)
        return final
    if verify and asset.unverified_files:
        raise DownloadError(
            f"download {name}: the catalog has no published SHA-256 for {', '.join(asset.unverified_files)}, "
            f"so sslasd cannot check what it would download. Re-run with --no-verify (verify=False) to "
            f"accept the files unchecked, or put files you trust at {final} by hand."
        )
    root.mkdir(parents=True, exist_ok=True)
    if asset.is_single_file:
        if force:
            _remove(final)
            _remove(final.with_name(final.name + ".part"))
        item = asset.files[0]
        try:
            _fetch_verified(asset, item, final, final, verify, timeout, progress, restart=force)
        except _NotFound:
            raise DownloadError(
                f"{item.url}: HTTP 404 not found (the catalog may be out of date). "
                f"{_manual_hint(asset, item, final)}"
            ) from None
        return final
    staging = root / f"{asset.target}.partial"
    if force:
        _remove(final)
        _remove(staging)
    staging.mkdir(parents=True, exist_ok=True)
    for item in asset.files:
        _fetch_item(asset, item, staging, final, verify, timeout, progress)
    if asset.layout == "merge_source_target_test":
        _merge_source_target_test(staging)
    _remove(staging / _MARKERS)
    os.replace(staging, final)
    _log.info("%s is at %s", name, final)
    return final


def _fetch_item(
    asset: Asset,
    item: AssetFile,
    staging: Path,
    final: Path,
    verify: bool,
    timeout: float,
    progress: Progress | None,
) -> None:
    """Fetch one file of a multi-file asset into ``staging`` (and extract it when asked)."""
    marker = staging / _MARKERS / item.file_name
    path = staging / item.file_name
    if marker.exists() or (path.exists() and not asset.extract):
        return
    try:
        _fetch_verified(asset, item, path, final, verify, timeout, progress, restart=False)
    except _NotFound:
        if item.optional:
            _log.info("%s: optional file %s is not published, skipped", asset.name, item.file_name)
            return
        raise DownloadError(f"{item.url}: HTTP 404 not found (the catalog may be out of date)") from None
    if asset.extract:
        _extract(path, staging)
        path.unlink()
        marker.parent.mkdir(exist_ok=True)
        marker.touch()


class _NotFound(Exception):
    """HTTP 404, handled by the caller (optional files are skipped)."""


def _fetch_verified(
    asset: Asset,
    item: AssetFile,
    path: Path,
    final: Path,
    verify: bool,
    timeout: float,
    progress: Progress | None,
    restart: bool,
) -> None:
    part = path.with_name(path.name + ".part")
    if restart:
        _remove(part)
    _fetch(item, part, final, asset, timeout, progress)
    try:
        _check(part, item, verify)
    except DownloadError as exc:
        part.unlink()
        raise DownloadError(
            f"{exc}. The file is corrupt or changed upstream: it was deleted and not installed at {final}."
        ) from exc
    os.replace(part, path)


def _check(path: Path, item: AssetFile, verify: bool) -> None:
    """Raise if ``path`` has the wrong size or (when ``verify``) the wrong SHA-256."""
    size = path.stat().st_size
    if item.size is not None and size != item.size:
        raise DownloadError(f"{path}: {size} bytes, the catalog says {item.size} for {item.url}")
    if verify and item.sha256 is not None:
        digest = sha256_file(path)
        if digest != item.sha256:
            raise DownloadError(f"{path}: SHA-256 {digest}, expected {item.sha256} for {item.url}")


def _manual_hint(asset: Asset, item: AssetFile, final: Path) -> str:
    checksum = f" (SHA-256 {item.sha256})" if item.sha256 else ""
    if asset.is_single_file:
        where = f"put it at {final}"
    elif asset.extract:
        where = (
            f"extract it into {final} (every archive of the asset, so that {final}/<machine>/train exists)"
        )
    else:
        where = f"put it in the folder {final} beside the asset's other files"
    return f"To install it by hand, download {item.url}{checksum} and {where}."


def _fetch(
    item: AssetFile, part: Path, final: Path, asset: Asset, timeout: float, progress: Progress | None
) -> None:
    """Download ``item.url`` into ``part``, resuming from the bytes already there."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": f"sslasd/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(item.url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # nothing left to send: the partial file is complete
            return
        if exc.code == 404:
            raise _NotFound from exc
        raise DownloadError(
            f"{item.url}: HTTP {exc.code} {exc.reason}. {_manual_hint(asset, item, final)}"
        ) from exc
    except (urllib.error.URLError, OSError, HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        host = urlsplit(item.url).hostname
        raise DownloadError(
            f"cannot reach {host} ({reason}); `sslasd download` needs the network. "
            f"{_manual_hint(asset, item, final)}"
        ) from exc
    with response:
        if offset and response.status != 206:
            offset = 0  # the server ignored the Range header: start again
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else item.size
        done = offset
        try:
            with open(part, "ab" if offset else "wb") as out:
                while block := response.read(_CHUNK):
                    out.write(block)
                    done += len(block)
                    if progress is not None:
                        progress(item.file_name, done, total)
        except (OSError, HTTPException) as exc:
            raise _broken(item, part, done, total, exc) from exc
    if total is not None and done < total:
        raise _broken(item, part, done, total, "connection closed early")


def _broken(item: AssetFile, part: Path, done: int, total: int | None, why: object) -> DownloadError:
    of_total = f" of {total}" if total is not None else ""
    return DownloadError(
        f"{item.url}: transfer broke after {done}{of_total} bytes ({why}); the partial file is kept at "
        f"{part} and the same command resumes it"
    )


def _safe_member(name: str, archive: Path) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise DownloadError(f"{archive}: refused, member {name!r} would be written outside the target folder")
    return path


def _extract(archive: Path, folder: Path) -> None:
    """Extract a zip or tar archive into ``folder``, refusing unsafe members before writing any."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _safe_member(info.filename, archive)
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise DownloadError(f"{archive}: refused, member {info.filename!r} is a symbolic link")
            zf.extractall(folder)
        return
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for member in members:
                _safe_member(member.name, archive)
                if not (member.isfile() or member.isdir()):
                    raise DownloadError(f"{archive}: refused, member {member.name!r} is a link or device")
            tf.extractall(folder, members=members, filter="data")
        return
    raise DownloadError(f"{archive}: not a zip or tar archive (the download may be an error page)")


def _merge_source_target_test(folder: Path) -> None:
    """DCASE 2021: move ``<machine>/{source,target}_test/*`` into ``<machine>/test/``."""
    for split in sorted(folder.glob("*/source_test")) + sorted(folder.glob("*/target_test")):
        test = split.parent / "test"
        test.mkdir(exist_ok=True)
        for clip in split.iterdir():
            os.replace(clip, test / clip.name)
        split.rmdir()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
