"""A throw-away PostgreSQL server for the search tests that run several workers.

The ``postgres_url`` fixture ``initdb``s a cluster in a temporary folder, starts it on
127.0.0.1 at a free port (its unix socket in that folder too, trust authentication, no fsync)
and stops it when the session ends. Without PostgreSQL binaries the tests that use it skip,
unless ``NNZOO_REQUIRE_POSTGRES`` is set (as ``.ci/run`` does, having installed them): then they
fail.

PostgreSQL refuses to run as root. When the tests run as root, ``initdb`` and ``pg_ctl`` run as
the unprivileged ``postgres`` user (``nobody`` where there is none) through ``runuser`` or
``setpriv``, and the temporary folder belongs to that user. It is made directly under the
system temporary folder because pytest's own (``/tmp/pytest-of-root``) is closed to other users.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

DATABASE = "nnzoo"


def find_postgres_bin():
    """The folder holding ``initdb`` and ``pg_ctl``: on PATH, else Debian's versioned folders."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    folders = glob.glob("/usr/lib/postgresql/*/bin")
    folders.sort(key=lambda f: int(Path(f).parent.name) if Path(f).parent.name.isdigit() else 0)
    for folder in reversed(folders):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def unavailable(message):
    if os.environ.get("NNZOO_REQUIRE_POSTGRES"):  # set by .ci/run, which installs PostgreSQL
        pytest.fail(message)
    pytest.skip(message)


def server_user():
    """``(user, prefix)``: whom the server runs as and the command prefix that makes it so."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name, []
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if shutil.which("runuser"):
            return name, ["runuser", "-u", name, "--"]
        if shutil.which("setpriv"):
            return name, [
                "setpriv",
                f"--reuid={entry.pw_uid}",
                f"--regid={entry.pw_gid}",
                "--init-groups",
            ]
    unavailable("PostgreSQL refuses to run as root, and no unprivileged user or runuser/setpriv")
    return None  # unreachable: unavailable() raises


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    """``postgresql+psycopg2://USER@127.0.0.1:PORT/nnzoo``: a fresh, empty database.

    The driver is named because SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3.
    """
    bindir = find_postgres_bin()
    if bindir is None:
        unavailable(
            "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in "
            "/usr/lib/postgresql/*/bin: apt-get install postgresql"
        )
    psycopg2 = pytest.importorskip("psycopg2", reason="pip install psycopg2-binary")
    user, prefix = server_user()
    root = Path(tempfile.mkdtemp(prefix="nnzoo-pg-"))
    entry = pwd.getpwnam(user)
    os.chown(root, entry.pw_uid, entry.pw_gid)
    data, log = root / "data", root / "server.log"

    def run(*command):
        result = subprocess.run(
            [*prefix, *command], cwd=root, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, f"{command[0]} failed:\n{result.stdout}{result.stderr}"

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", user, "--auth=trust",
            "--encoding=UTF8", "--no-locale", "--no-sync")  # fmt: skip
        for _attempt in range(3):  # the free port may be taken by the time the server binds it
            port = free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={port} "
                f"-c unix_socket_directories={root} -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off"
            )
            started = subprocess.run(
                [*prefix, str(bindir / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(data),
                 "-l", str(log), "-o", options],
                cwd=root, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            if started.returncode == 0:
                break
        else:
            pytest.fail(f"PostgreSQL did not start:\n{log.read_text() if log.exists() else ''}")
        try:
            connection = psycopg2.connect(host="127.0.0.1", port=port, user=user, dbname="postgres")
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {DATABASE}")
            connection.close()
            yield f"postgresql+psycopg2://{user}@127.0.0.1:{port}/{DATABASE}"
        finally:
            run(str(bindir / "pg_ctl"), "stop", "-m", "immediate", "-D", str(data))
    finally:
        shutil.rmtree(root, ignore_errors=True)
