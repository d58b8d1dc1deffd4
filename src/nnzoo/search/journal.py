"""A search's journal file: a lock that knows its owner, and recovery from a cut last record.

Optuna's ``JournalFileBackend`` appends one JSON record a line under a lock file
(``search.journal.lock``). Two things go wrong when a process dies at the wrong moment:

* its lock stays behind, and Optuna's own lock (a symbolic link with no owner) waits 30 s before
  it takes it over, printing warnings meanwhile. `JournalLock` writes its owner (host, process id
  and start time) into the lock, so a lock whose owner is gone is cleared at once. A lock in
  Optuna's format (from an older nnzoo) is cleared once it is `LEGACY_GRACE` seconds old (a
  writer holds it for one append), and one from another host after `FOREIGN_GRACE` seconds.
* its last record is cut. Optuna skips a last line without its newline, but the next append runs
  into it and every later read fails with a JSONDecodeError. `recover` drops the incomplete
  record (and the cut part of a line where a later record was appended onto one), keeps the
  original file as ``search.journal.bak`` (``.1.bak``, ... if that exists), and says so in one
  warning line.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from nnzoo.errors import ConfigError, NnzooError, warn

LEGACY_GRACE = 5.0  # s: an ownerless lock (Optuna's symbolic link) older than this is stale
FOREIGN_GRACE = 30.0  # s: a lock held from another host older than this is stale (Optuna's)
WAIT = 120.0  # s: how long to wait for a lock whose owner is alive
RECORD = b'{"op_code"'  # how every record of Optuna's journal starts


def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (Linux's /proc/PID/stat field 22), None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # the command name may hold spaces
    return fields[19] if len(fields) > 19 else None


def alive(pid: int, start: str | None = None) -> bool:
    """Whether process ``pid`` runs (not a zombie) and, given ``start``, is the same process."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: os.kill's word
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields and fields[0] in ("Z", "X"):
        return False
    return start is None or len(fields) <= 19 or fields[19] == start


class JournalLock:
    """The journal's lock file, holding its owner as JSON: ``{"host", "pid", "start"}``.

    Created whole with ``os.link`` of a private file (so nobody reads a half-written owner) at
    the path Optuna's own lock uses, so both exclude each other. It has the methods of Optuna's
    ``BaseJournalFileLock`` (``acquire``, ``release``), which is all ``JournalFileBackend`` calls.
    """

    def __init__(self, journal: str | os.PathLike, *, wait: float = WAIT) -> None:
        self.journal = Path(journal)
        self.path = self.journal.with_name(self.journal.name + ".lock")
        self.wait = wait
        self.cleared = 0  # stale locks cleared by this object

    def owner_record(self) -> dict[str, Any]:
        return {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "start": process_start(os.getpid()),
        }

    def _create(self) -> bool:
        mine = self.path.with_name(f"{self.path.name}.{uuid.uuid4().hex}.tmp")
        mine.write_text(json.dumps(self.owner_record()))
        try:
            os.link(mine, self.path)
            return True
        except FileExistsError:
            return False
        finally:
            mine.unlink(missing_ok=True)

    def owner(self) -> dict[str, Any] | None:
        """The lock's owner; None for an ownerless lock (Optuna's link, an unreadable file)."""
        try:
            if self.path.is_symlink():
                return None
            owner = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return owner if isinstance(owner, dict) and isinstance(owner.get("pid"), int) else None

    def stale(self) -> tuple[bool, os.stat_result | None]:
        """(whether the lock present is stale, its lstat); (True, None) when it is gone."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return True, None
        owner = self.owner()
        age = time.time() - st.st_mtime
        if owner is None:
            return age > LEGACY_GRACE, st
        if owner.get("host") != socket.gethostname():
            return age > FOREIGN_GRACE, st
        return not alive(owner["pid"], owner.get("start")), st

    def _clear(self, st: os.stat_result) -> None:
        """Remove the stale lock ``st`` names, and only that one."""
        aside = self.path.with_name(f"{self.path.name}.{uuid.uuid4().hex}.stale")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        if os.lstat(aside).st_ino != st.st_ino:  # released and taken again meanwhile
            with contextlib.suppress(FileExistsError):
                os.link(aside, self.path, follow_symlinks=False)
        else:
            self.cleared += 1
        os.unlink(aside)

    def acquire(self) -> bool:
        deadline = time.monotonic() + self.wait
        delay = 0.001
        while True:
            if self._create():
                return True
            is_stale, st = self.stale()
            if is_stale:
                if st is not None:
                    self._clear(st)
                delay = 0.001
                continue
            if time.monotonic() > deadline:
                owner = self.owner() or {}
                raise ConfigError(
                    f"{self.path}: held by process {owner.get('pid', '?')} on "
                    f"{owner.get('host', '?')} for over {self.wait:.0f} s; if no search is "
                    f"writing {self.journal.name}, delete {self.path.name}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def release(self) -> None:
        owner = self.owner()
        mine = owner is not None and owner.get("pid") == os.getpid()
        if mine and owner.get("host") == socket.gethostname():
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> JournalLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _record(line: bytes) -> bool:
    try:
        value = json.loads(line)
    except ValueError:
        return False
    return isinstance(value, dict) and "op_code" in value


def _salvage(line: bytes) -> bytes | None:
    """The whole record appended onto a cut one in ``line``, else None."""
    at = line.find(RECORD, 1)
    while at != -1:
        if _record(line[at:]):
            return line[at:]
        at = line.find(RECORD, at + 1)
    return None


def repaired(data: bytes, journal: Path) -> tuple[bytes, list[int], list[int]] | None:
    """(the journal without its cut records, lines dropped, lines cut short); None if whole.

    Raises:
        ConfigError: a line before the last is no record, and no whole record follows a cut.
    """
    lines = data.split(b"\n")
    tail = lines.pop()  # what follows the last newline: empty, or a record cut short
    kept, dropped, salvaged = [], [], []
    for number, line in enumerate(lines, 1):
        if _record(line):
            kept.append(line)
            continue
        rest = _salvage(line)
        if rest is not None:
            kept.append(rest)
            salvaged.append(number)
        elif number == len(lines) and not tail:  # the last line, whole but unreadable
            dropped.append(number)
        else:
            raise ConfigError(
                f"{journal}: line {number} is not a journal record and records follow it, so "
                "the study cannot be read; move the file aside and run the search with a new --out"
            )
    if tail:
        dropped.append(len(lines) + 1)
    if not dropped and not salvaged:
        return None
    return b"".join(line + b"\n" for line in kept), dropped, salvaged


def backup_path(journal: Path) -> Path:
    """``search.journal.bak``, else the first free ``search.journal.N.bak``."""
    candidate = journal.with_name(journal.name + ".bak")
    n = 1
    while candidate.exists():
        candidate = journal.with_name(f"{journal.name}.{n}.bak")
        n += 1
    return candidate


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def recover(journal: str | os.PathLike, lock: JournalLock | None = None) -> str | None:
    """Drop a cut last record of ``journal`` (backing the original up); the warning, or None.

    The file is checked without the lock first; only a journal that looks cut is checked again
    under the lock (a writer may have been in the middle of an append) and rewritten.
    """
    journal = Path(journal)
    try:
        data = journal.read_bytes()
    except FileNotFoundError:
        return None
    if repaired(data, journal) is None:
        return None
    lock = lock or JournalLock(journal)
    with lock:
        data = journal.read_bytes()
        fixed = repaired(data, journal)
        if fixed is None:
            return None
        text, dropped, salvaged = fixed
        backup = backup_path(journal)
        _write_synced(backup, data)
        tmp = journal.with_name(f".{journal.name}.{uuid.uuid4().hex}.tmp")
        _write_synced(tmp, text)
        os.replace(tmp, journal)
    what = []
    if dropped:
        what.append(f"dropped its cut last record (line {dropped[-1]})")
    if salvaged:
        lines = ", ".join(str(n) for n in salvaged)
        what.append(f"dropped the cut start of line {lines} (a record was appended onto it)")
    return (
        f"{journal}: a write was interrupted; {' and '.join(what)}; the original is kept as "
        f"{backup.name}"
    )


def open_journal(journal: str | os.PathLike, *, create: bool):
    """Optuna's JournalStorage on ``journal`` with `JournalLock`, recovered from a cut record.

    Args:
        journal: the journal file.
        create: create a missing file (a search); else a missing one is a ConfigError (a
            report creates nothing).
    """
    import optuna
    from optuna.storages.journal import JournalFileBackend

    journal = Path(journal)
    if not journal.is_file():
        if not create:
            raise ConfigError(
                f"{journal}: no such journal file; the search's trials are stored there: give the "
                "folder the search wrote, or run `nnzoo search` again to make it"
            )
        journal.parent.mkdir(parents=True, exist_ok=True)
    lock = JournalLock(journal)
    try:
        note = recover(journal, lock)
    except OSError as e:
        raise ConfigError(
            f"{journal}: its last record was cut and it cannot be repaired here ({e.strerror}); "
            "make its folder writable and run again"
        ) from None
    if note:
        warn(note)
    try:
        return optuna.storages.JournalStorage(JournalFileBackend(str(journal), lock_obj=lock))
    except NnzooError:
        raise
    except Exception as e:  # records Optuna cannot replay
        raise ConfigError(
            f"{journal}: cannot read the search's journal ({type(e).__name__}); move it aside "
            "and run the search with a new --out"
        ) from None
