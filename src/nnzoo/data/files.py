"""Read text files the way they are distributed: plain, ``.xz``/``.gz``-compressed, or in a zip.

A `FileTree` is a folder or a zip archive; ``tree.read_text("train/y_train.txt")`` finds the file
as it is, or with ``.xz`` / ``.gz`` appended, and names the file in every error.
"""

from __future__ import annotations

import gzip
import io
import lzma
import zipfile
import zlib
from pathlib import Path

import numpy as np

from nnzoo.data.base import DataError

COMPRESSED = {".xz": lzma.open, ".gz": gzip.open}
FRESH = "replace it with a fresh copy"  # the action when a distributed file is broken


def read_bytes(path: Path) -> bytes:
    """The bytes of ``path``, decompressed when it ends in .xz or .gz."""
    opener = COMPRESSED.get(path.suffix)
    try:
        if opener is None:
            return path.read_bytes()
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, lzma.LZMAError) as e:
        raise DataError(
            f"{path}: cannot read it ({e}); the file is corrupt or truncated: {FRESH}"
        ) from None


class FileTree:
    """A folder, or a zip archive with an optional folder prefix inside it."""

    def __init__(self, path: Path, prefix: str = "") -> None:
        self.path, self.prefix = path, prefix
        self._zip: zipfile.ZipFile | None = None
        if path.is_file():
            try:
                self._zip = zipfile.ZipFile(path)
            except (OSError, zipfile.BadZipFile) as e:
                raise DataError(
                    f"{path}: not a readable zip archive ({e}); {FRESH} of the archive, or give "
                    "the folder extracted from it"
                ) from None

    def __repr__(self) -> str:
        return f"{self.path}" + (f"!{self.prefix}" if self._zip else "")

    def names(self) -> list[str]:
        if self._zip is not None:
            return self._zip.namelist()
        return [str(p.relative_to(self.path)) for p in self.path.rglob("*")]

    def describe(self, name: str) -> str:
        return f"{self.path}!{self.prefix}{name}" if self._zip else str(self.path / name)

    def exists(self, name: str) -> bool:
        return self._find(name) is not None

    def _find(self, name: str) -> str | None:
        for candidate in (name, name + ".xz", name + ".gz"):
            if self._zip is not None:
                member = self.prefix + candidate
                if member in self._zip.NameToInfo:
                    return member
            elif (self.path / candidate).is_file():
                return candidate
        return None

    def read_bytes(self, name: str) -> bytes:
        found = self._find(name)
        if found is None:
            raise DataError(
                f"{self.describe(name)}: missing (also looked for .xz and .gz); restore it from a "
                "fresh copy of the dataset"
            )
        if self._zip is None:
            return read_bytes(self.path / found)
        try:
            raw = self._zip.read(found)
            opener = COMPRESSED.get(Path(found).suffix)
            if opener is not None:
                with opener(io.BytesIO(raw), "rb") as f:
                    raw = f.read()
            return raw
        except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, zlib.error) as e:
            raise DataError(
                f"{self.path}!{found}: cannot read it ({e}); corrupt archive: {FRESH} of "
                f"{self.path.name}"
            ) from None

    def read_text(self, name: str) -> str:
        try:
            return self.read_bytes(name).decode("latin-1")
        except UnicodeDecodeError as e:  # pragma: no cover - latin-1 decodes any byte
            raise DataError(f"{self.describe(name)}: not text ({e}); {FRESH}") from None


def parse_table(text: str, columns: int | None, *, source: str) -> np.ndarray:
    """Whitespace-separated numbers, one row per line -> (rows, columns) float64.

    Blank lines are skipped. Fails with one line naming ``source``, the line number (counting
    every line of the file) and the value's position in it when a row is short or long, or a
    value is not a number or not finite (``nan``, ``inf``); the file's text is never echoed.
    """
    lines = text.splitlines()
    if not text.strip():
        raise DataError(f"{source}: empty file; {FRESH}")
    try:
        table = np.loadtxt(lines, dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        table = None
    if table is not None and (columns is None or table.shape[1] == columns):
        bad = np.argwhere(~np.isfinite(table))
        if len(bad):
            row, column = bad[0]
            filled = [i for i, line in enumerate(lines, 1) if line.split()]
            raise DataError(_not_finite(source, filled[row], column + 1))
        return table
    width = columns
    for i, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        width = len(fields) if width is None else width
        if len(fields) != width:
            raise DataError(f"{source}: line {i} has {len(fields)} values; expected {width}")
        for k, value in enumerate(fields, 1):
            try:
                number = float(value)
            except ValueError:
                raise DataError(
                    f"{source}: line {i}: value {k} is not a number; fix that line or get a "
                    "fresh copy of the file"
                ) from None
            if not np.isfinite(number):
                raise DataError(_not_finite(source, i, k))
    raise DataError(  # pragma: no cover - loadtxt disagrees
        f"{source}: not a table of numbers; {FRESH}"
    )


def _not_finite(source: str, line: int, position: int) -> str:
    return (
        f"{source}: line {line}: value {position} is not finite (NaN or infinity); "
        "fix that line or get a fresh copy of the file"
    )
