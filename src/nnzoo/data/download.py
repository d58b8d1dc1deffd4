"""Fetch a dataset's official files into ``<root>/<name>/``, checking each file's sha256.

Each file streams into a temporary file beside its target while its sha256 is computed, and is
renamed into place only when the hash matches, so an interrupted or corrupt download never
leaves a file under the final name and never replaces a good one. A file already there with the
right hash is kept, and so is a dataset already there in another form (an extracted folder,
`FOUND`): both are reported as present, not downloaded. A file there with another hash (a broken
earlier download) is replaced only by a copy that verifies. ``base_url`` (or the
``NNZOO_DOWNLOAD_MIRROR`` environment variable) replaces everything before the file name in each
official URL, e.g. a local mirror ``file:///srv/mirror/uci-har/``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import ssl
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO

from nnzoo.data.base import DataError
from nnzoo.data.registry import DOWNLOADS, RemoteFile

MIRROR_VAR = "NNZOO_DOWNLOAD_MIRROR"
# name -> finds the dataset in its folder ``<root>/<name>/`` in another form than the official
# files (UCI HAR's extracted folder); returns where it is, or None. `download` then reports it
# as present instead of downloading it again.
FOUND: dict[str, Callable[[Path], Path | None]] = {}
CHUNK = 1 << 16
# What a failing network raises, while opening the URL or while reading the response.
NETWORK_ERRORS = (
    urllib.error.URLError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
    ssl.SSLError,
)


def download(
    name: str,
    root: Path,
    *,
    base_url: str | None = None,
    force: bool = False,
    progress: bool = True,
    timeout: float = 30,
) -> list[Path]:
    """Download every official file of dataset ``name`` into ``root/name/``.

    Args:
        name: a dataset with official files (a key of ``DOWNLOADS``).
        root: the data root; the files go to ``root/name/``.
        base_url: replaces everything before the file name of each URL (a mirror); else
            ``$NNZOO_DOWNLOAD_MIRROR`` when set, else the official URLs.
        force: download again even when a file with the right hash is there.
        progress: one line per file on stderr (present and verified, or downloaded), and a
            progress bar while downloading when stderr is a terminal.
        timeout: seconds to wait for the server to connect or send data.

    Returns:
        The paths of the files, downloaded or already there; or, when the official files are
        absent but the dataset is there in another form (`FOUND`, e.g. UCI HAR's extracted
        folder), that path alone, and nothing is downloaded (unless ``force``).

    Raises:
        DataError: unknown dataset, unreachable server, or a file whose sha256 does not match.
    """
    if name not in DOWNLOADS:
        raise DataError(
            f"no official download for dataset {name!r}; "
            f"downloadable: {', '.join(sorted(DOWNLOADS)) or '(none)'}"
        )
    base_url = base_url or os.environ.get(MIRROR_VAR) or None
    folder = Path(root).expanduser() / name
    remotes = DOWNLOADS[name]
    say = _say if progress else _quiet
    if not force:
        verified = [folder / r.filename for r in remotes if _verified(folder / r.filename, r)]
        if len(verified) == len(remotes):
            for target in verified:
                say(f"{name}: {target} is present (sha256 verified); not downloaded")
            return verified
        there = [r for r in remotes if (folder / r.filename).exists()]
        finder = FOUND.get(name)
        found = finder(folder) if finder is not None and not there else None
        if found is not None:
            say(
                f"{name}: present at {found} (extracted; no published checksum to verify it "
                "by); not downloaded, pass --force to download the archive anyway"
            )
            return [found]
    paths = []
    for remote in remotes:
        target = folder / remote.filename
        if not force and _verified(target, remote):
            say(f"{name}: {target} is present (sha256 verified); not downloaded")
            paths.append(target)
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            url = url_of(remote, base_url)
            fetch(url, target, remote.sha256, progress=progress, timeout=timeout)
        except OSError as e:  # network errors are DataErrors by now; this is the disk
            raise DataError(f"{target}: cannot write it ({e}); check the data root") from None
        say(f"{name}: downloaded {target} (sha256 verified)")
        paths.append(target)
    return paths


def _verified(path: Path, remote: RemoteFile) -> bool:
    """True when ``path`` is a file with the official sha256."""
    if not path.is_file():
        return False
    try:
        return sha256_of(path) == remote.sha256
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e}); check its permissions") from None


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def _quiet(line: str) -> None:
    return None


def url_of(remote: RemoteFile, base_url: str | None) -> str:
    """The official URL, or ``base_url`` followed by the URL's last part (the file name)."""
    if base_url is None:
        return remote.url
    return base_url.rstrip("/") + "/" + remote.url.rsplit("/", 1)[-1]


def fetch(url: str, target: Path, sha256: str, *, progress: bool, timeout: float) -> None:
    """Stream ``url`` to ``target`` through a temporary file; keep it only if sha256 matches."""
    tmp = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, then renamed or deleted
        dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False
    )
    try:
        with tmp:
            actual = _stream(url, tmp, target, progress=progress, timeout=timeout)
        if actual != sha256:
            raise DataError(
                f"{url}: sha256 {actual} but expected {sha256}; the download is corrupt or "
                f"not the official file, so {target} was not written"
            )
        os.replace(tmp.name, target)
    except BaseException:
        Path(tmp.name).unlink(missing_ok=True)
        raise


def _stream(url: str, out: IO[bytes], target: Path, *, progress: bool, timeout: float) -> str:
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": "nnzoo"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with _progress_bar(target.name, total, progress) as bar:
                while chunk := response.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    bar.update(len(chunk))
    except NETWORK_ERRORS as e:
        raise DataError(
            f"cannot reach {url} ({_reason(e)}); download it by hand and put it at {target}"
        ) from None
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _reason(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    text = str(reason) or type(reason).__name__
    return " ".join(text.split())  # one line


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        return None


def _progress_bar(name: str, total: int | None, progress: bool):
    """A tqdm bar on stderr when asked for and stderr is a terminal, else a no-op."""
    if not (progress and sys.stderr.isatty()):
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is optional
        return _NoBar()
    return tqdm(
        total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr
    )
