"""Files: the one atomic writer and the one checked reader of JSON and JSON-lines files.

Every file nnzoo writes (configs, metrics, results, checkpoints, reports, plots) goes through
`atomic`: a temporary file in the same folder, then ``os.replace``, so a reader (or a run killed
mid-write) sees the old file or the new one, never half of one. Every JSON file nnzoo reads back
goes through `read_json` / `read_jsonl`, which turn an unreadable or malformed file into one
`NnzooError` line naming the file and what to do.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from nnzoo.errors import NnzooError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


@contextlib.contextmanager
def atomic(path: str | os.PathLike, *, sync: bool = False) -> Iterator[IO[bytes]]:
    """``with atomic(path) as f: f.write(...)``: ``path`` appears whole when the block ends.

    Parent folders are created; on an exception the temporary file is removed and ``path`` is
    left as it was. ``sync`` flushes the data to disk before the rename (checkpoints).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file what open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
