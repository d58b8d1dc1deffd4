"""Files: the one atomic writer and the one checked reader of JSON and JSON-lines files.

Every file nnzoo writes (configs, metrics, results, checkpoints, reports, plots) goes through
`atomic`: a temporary file in the same folder, then ``os.replace``, so a reader (or a run killed
mid-write) sees the old file or the new one, never half of one. Every JSON file nnzoo reads back
goes through `read_json` / `read_jsonl`, which turn an unreadable or malformed file into one
`NnzooError` line naming the file and what to do.

A write that fails for a reason the user can fix (a full disk, a read-only folder, a path below a
file, a folder where a file should go) is a `WriteError` naming the path. A temporary file is
named ``.<name>.tmp<pid>.<random>``: one left by a killed process (its pid no longer runs, or
it is older than the process that now has that pid) is removed by `clean_temporaries`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from nnzoo.errors import NnzooError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()
_STARTED = time.time()  # about when this process started: its own stale temporaries are older

# what a failed write's errno means, and what to do about it
_WRITE_ERRNOS = {
    errno.ENOSPC: ("no space left on the disk", "free some space and run the command again"),
    errno.EDQUOT: ("disk quota exceeded", "free some space and run the command again"),
    errno.EFBIG: ("the file is too large for the disk", "write to another disk"),
    errno.EROFS: ("read-only file system", "choose a folder you can write to"),
    errno.EACCES: ("permission denied", "choose a folder you can write to"),
    errno.EPERM: ("operation not permitted", "choose a folder you can write to"),
    errno.EISDIR: ("it is a folder", "give a file path instead"),
    errno.ENOTDIR: ("a folder above it is a file", "choose a path that is not below a file"),
    errno.EEXIST: ("a file is in the way of a folder", "choose a path that is not below a file"),
    errno.ENAMETOOLONG: ("the name is too long", "choose a shorter path"),
}
_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class WriteError(NnzooError):
    """A file or folder nnzoo cannot write, for a reason the user can fix. ``path`` and
    ``reason`` (what went wrong, without the advice) are set where known."""

    path: Path | None = None
    reason: str = ""
    no_space: bool = False


def write_error(path: str | os.PathLike, reason: str, hint: str, no_space: bool = False):
    """A `WriteError`: ``<path>: cannot write it (<reason>); <hint>``."""
    error = WriteError(f"{path}: cannot write it ({reason}); {hint}")
    error.path, error.reason, error.no_space = Path(path), reason, no_space
    return error


def as_write_error(e: BaseException, path: str | os.PathLike | None = None) -> WriteError | None:
    """``e`` as a `WriteError` when it is a failed write the user can fix, else None."""
    if isinstance(e, WriteError):
        return e
    if not isinstance(e, OSError) or e.errno not in _WRITE_ERRNOS:
        return None
    where = path if path is not None else e.filename
    if where is None:
        return None
    reason, hint = _WRITE_ERRNOS[e.errno]
    return write_error(where, reason, hint, e.errno in _SPACE_ERRNOS)


def file_above(path: str | os.PathLike) -> Path | None:
    """The first folder above ``path`` that is in fact a file, or None."""
    for parent in reversed(Path(path).absolute().parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def check_writable(path: str | os.PathLike, *, folder: bool, hint: str) -> None:
    """Raise a `WriteError` ending in ``hint`` when ``path`` cannot be written as a folder
    (``folder``) or a file: a file where a folder goes or the other way round, a file above
    it, or a folder that exists and is not writable. Nothing is created."""
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise write_error(path, "it is a file, not a folder", hint)
    if not folder and path.is_dir():
        raise write_error(path, "it is a folder, not a file", hint)
    above = file_above(path)
    if above is not None:
        raise write_error(path, f"{above} is a file, not a folder", hint)
    existing = path if path.is_dir() else next(p for p in path.absolute().parents if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise write_error(path, f"{existing} is not writable", hint)


@contextlib.contextmanager
def atomic(path: str | os.PathLike, *, sync: bool = False) -> Iterator[IO[bytes]]:
    """``with atomic(path) as f: f.write(...)``: ``path`` appears whole when the block ends.

    Parent folders are created; on an exception the temporary file is removed and ``path`` is
    left as it was. ``sync`` flushes the data to disk before the rename (checkpoints). A write
    the user can fix (full disk, read-only folder, a file in the way) is a `WriteError`.
    """
    path = Path(path)
    if path.is_dir():
        raise write_error(path, "it is a folder, not a file", "give a file path instead")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp{os.getpid()}.")
    except OSError as e:
        error = as_write_error(e, path)
        if error is None:
            raise
        raise error from None
    in_body = True
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            in_body = False
            if sync:
                f.flush()
                os.fsync(f.fileno())
        in_body = False
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file what open() would
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        # the caller's own errors pass as they are, unless the disk filled while it wrote
        ours = isinstance(e, OSError) and (not in_body or e.errno in _SPACE_ERRNOS)
        error = as_write_error(e, path) if ours else None
        if error is None:
            raise
        raise error from None


_TEMPORARY = re.compile(
    r"^\..+\.tmp(?P<pid>\d+)(\.[A-Za-z0-9_]+)?$"  # .<name>.tmp<pid>[.<random>]
    r"|^\..+\.[A-Za-z0-9_]{8}\.tmp$"  # .<name>.<random>.tmp, written before the pid was in it
)


def _process_started(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch); None if it does not run.

    On systems without /proc a running process counts as started at the epoch (never stale)."""
    if pid == os.getpid():
        return _STARTED
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except (PermissionError, OSError):
        pass  # it runs, as another user
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return 0.0


def stale_temporary(path: str | os.PathLike) -> bool:
    """True for a temporary file of `atomic` whose writer is gone: its pid no longer runs, or
    the file is older than the process now holding that pid (or, with no pid in the name,
    older than this process)."""
    path = Path(path)
    match = _TEMPORARY.match(path.name)
    if match is None:
        return False
    try:
        modified = path.stat().st_mtime
    except OSError:
        return False
    started = _process_started(int(match["pid"])) if match["pid"] else _STARTED
    return started is None or modified < started - 1.0  # 1 s: clock ticks, file times


def clean_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the stale temporary files of `atomic` in ``folder`` and below; the removed."""
    removed = []
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            if stale_temporary(path):
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
    return removed


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically; return the path."""
    with atomic(path) as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)


def write_json(path: str | os.PathLike, value: Any) -> Path:
    """``value`` as indented JSON with a final newline, atomically."""
    return write_atomic(path, json.dumps(value, indent=2) + "\n")


def read_text(path: str | os.PathLike, error: type[NnzooError] = NnzooError) -> str:
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"{path}: cannot read it ({e})") from None


def read_json(
    path: str | os.PathLike,
    error: type[NnzooError] = NnzooError,
    *,
    hint: str = "",
    kind: type = object,
) -> Any:
    """The JSON value in ``path``; ``error`` naming the file when it is unreadable, malformed,
    or not of type ``kind`` (e.g. ``dict``). ``hint`` says what to do (``"train the run
    again"``)."""
    path = Path(path)
    tail = f"; {hint}" if hint else ""
    try:
        value = json.loads(read_text(path, error))
    except json.JSONDecodeError as e:
        raise error(f"{path}: not valid JSON ({e.msg}, line {e.lineno}){tail}") from None
    if not isinstance(value, kind):
        raise error(f"{path}: expected a JSON {_json_name(kind)}{tail}")
    return value


def read_jsonl(path: str | os.PathLike, error: type[NnzooError] = NnzooError) -> list[dict]:
    """One JSON object per line (blank lines skipped), e.g. metrics.jsonl, in order."""
    path = Path(path)
    rows = []
    for i, line in enumerate(read_text(path, error).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise error(f"{path}: line {i} is not valid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise error(f"{path}: line {i} is not a JSON object")
        rows.append(row)
    return rows


def _json_name(kind: type) -> str:
    return {dict: "object", list: "array"}.get(kind, kind.__name__)
