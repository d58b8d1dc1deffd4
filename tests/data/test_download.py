"""`download` against a local HTTP server on 127.0.0.1 serving a small fake archive."""

import functools
import hashlib
import http.server
import io
import socket
import sys
import threading
import zipfile

import numpy as np
import pytest

from nnzoo.data import DOWNLOADS, DataError, RemoteFile, download
from nnzoo.data.download import MIRROR_VAR


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """(folder served, base URL) of a threaded HTTP server on a free port."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(QuietHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fake_archive() -> bytes:
    """A zip of a little over 200 kB, so that it streams in several chunks."""
    noise = np.random.default_rng(0).integers(0, 256, size=200_000, dtype=np.uint8).tobytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("fake/noise.bin", noise)
        z.writestr("fake/README.txt", "a fake dataset\n")
    return buffer.getvalue()


ARCHIVE = fake_archive()
SHA256 = hashlib.sha256(ARCHIVE).hexdigest()


@pytest.fixture
def fake(monkeypatch, server, tmp_path):
    """Registers dataset 'fake' whose one file the server holds; returns (root, target, url)."""
    served, url = server
    (served / "fake.zip").write_bytes(ARCHIVE)
    monkeypatch.setitem(DOWNLOADS, "fake", (RemoteFile(f"{url}/fake.zip", "fake.zip", SHA256),))
    monkeypatch.delenv(MIRROR_VAR, raising=False)
    root = tmp_path / "root"
    return root, root / "fake" / "fake.zip", url


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())


def test_downloads_and_verifies(fake, capfd):
    root, target, _ = fake
    assert download("fake", root) == [target]
    assert target.read_bytes() == ARCHIVE
    assert files_in(target.parent) == ["fake.zip"]  # no temporary file left
    # one line and no progress bar: stderr is not a terminal
    assert capfd.readouterr().err == f"fake: downloaded {target} (sha256 verified)\n"


def test_base_url_replaces_everything_before_the_file_name(fake, monkeypatch, tmp_path):
    root, target, url = fake
    official = RemoteFile("https://example.invalid/some/path/fake.zip", "fake.zip", SHA256)
    monkeypatch.setitem(DOWNLOADS, "fake", (official,))
    assert download("fake", root, base_url=url + "/") == [target]
    assert target.read_bytes() == ARCHIVE
    target.unlink()
    monkeypatch.setenv(MIRROR_VAR, (tmp_path / "served").as_uri())  # a file:// mirror
    assert download("fake", root) == [target]
    assert target.read_bytes() == ARCHIVE


def test_a_file_already_there_is_verified_and_kept(fake):
    root, target, _ = fake
    target.parent.mkdir(parents=True)
    target.write_bytes(ARCHIVE)
    mtime = target.stat().st_mtime_ns
    unreachable = f"http://127.0.0.1:{closed_port()}"
    assert download("fake", root, base_url=unreachable) == [target]  # no network needed
    assert target.stat().st_mtime_ns == mtime
    with pytest.raises(DataError, match="cannot reach"):
        download("fake", root, base_url=unreachable, force=True)
    assert target.read_bytes() == ARCHIVE


def test_a_file_there_with_the_wrong_hash_is_replaced_by_a_verified_download(fake):
    root, target, _ = fake
    target.parent.mkdir(parents=True)
    target.write_bytes(ARCHIVE[:1000])  # an interrupted download by other means
    assert download("fake", root) == [target]
    assert target.read_bytes() == ARCHIVE


def test_a_hash_mismatch_keeps_nothing_and_overwrites_nothing(fake, monkeypatch):
    root, target, url = fake
    wrong = "0" * 64
    monkeypatch.setitem(DOWNLOADS, "fake", (RemoteFile(f"{url}/fake.zip", "fake.zip", wrong),))
    with pytest.raises(DataError) as e:
        download("fake", root)
    message = str(e.value)
    assert message.startswith(f"{url}/fake.zip: sha256 {SHA256} but expected {wrong}")
    assert "\n" not in message and str(target) in message
    assert files_in(target.parent) == []
    target.write_bytes(b"the user's own file")
    with pytest.raises(DataError, match="sha256"):
        download("fake", root, force=True)
    assert target.read_bytes() == b"the user's own file"
    assert files_in(target.parent) == ["fake.zip"]


def test_an_unreachable_server_says_where_to_put_the_file(fake):
    root, target, _ = fake
    url = f"http://127.0.0.1:{closed_port()}/"
    with pytest.raises(DataError) as e:
        download("fake", root, base_url=url, timeout=5)
    message = str(e.value)
    assert message.startswith(f"cannot reach {url}fake.zip (")
    assert message.endswith(f"); download it by hand and put it at {target}")
    assert "\n" not in message
    assert files_in(target.parent) == []


def test_a_missing_file_on_the_server(fake):
    root, target, url = fake
    (target.parent.parent.parent / "served" / "fake.zip").unlink()
    with pytest.raises(DataError) as e:
        download("fake", root)
    assert str(e.value) == (
        f"cannot reach {url}/fake.zip (HTTP 404 File not found); "
        f"download it by hand and put it at {target}"
    )


def test_a_server_that_never_answers_times_out(fake):
    root, target, _ = fake
    with socket.socket() as silent:  # accepts connections (backlog) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(DataError, match=r"\(timed out\); download it by hand"):
            download("fake", root, base_url=url, timeout=0.2)
    assert files_in(target.parent) == []


def test_an_unknown_dataset_lists_the_downloadable_ones(fake):
    root, _, _ = fake
    with pytest.raises(DataError) as e:
        download("nope", root)
    assert str(e.value).startswith("no official download for dataset 'nope'; downloadable: ")
    assert "fake" in str(e.value) and "fashion-mnist" in str(e.value)
    assert "uci-har" in str(e.value)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_progress_bar_only_on_a_terminal_and_when_asked(fake, monkeypatch):
    pytest.importorskip("tqdm")
    root, _, _ = fake
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    download("fake", root, force=True, progress=False)
    assert terminal.getvalue() == ""
    download("fake", root, force=True)
    assert "fake.zip" in terminal.getvalue()


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("xz", [False, True])
def test_an_extracted_uci_har_is_present_not_downloaded(tmp_path, capfd, monkeypatch, xz):
    from tests.data.test_uci_har import make_har

    monkeypatch.delenv(MIRROR_VAR, raising=False)
    root = tmp_path / "root"
    fake = make_har(root / "uci-har", xz=xz)
    before = snapshot(root)
    unreachable = f"http://127.0.0.1:{closed_port()}"
    assert download("uci-har", root, base_url=unreachable) == [fake.folder]  # no network
    assert capfd.readouterr().err == (
        f"uci-har: present at {fake.folder} (extracted; no published checksum to verify it by); "
        "not downloaded, pass --force to download the archive anyway\n"
    )
    assert snapshot(root) == before
    with pytest.raises(DataError, match="cannot reach"):  # --force does download
        download("uci-har", root, base_url=unreachable, force=True)
    assert snapshot(root) == before


def test_an_incomplete_extracted_uci_har_is_downloaded(tmp_path, monkeypatch):
    from tests.data.test_uci_har import make_har

    monkeypatch.delenv(MIRROR_VAR, raising=False)
    root = tmp_path / "root"
    fake = make_har(root / "uci-har")
    (fake.folder / "test" / "Inertial Signals" / "total_acc_z_test.txt").unlink()
    unreachable = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(DataError, match="cannot reach"):
        download("uci-har", root, base_url=unreachable)


def test_a_broken_official_file_beside_an_extracted_folder_is_fetched_again(tmp_path, server):
    from tests.data.test_uci_har import make_har

    served, url = server
    root = tmp_path / "root"
    make_har(root / "uci-har")
    (served / "UCI HAR Dataset.zip").write_bytes(b"not the archive")
    (root / "uci-har" / "UCI HAR Dataset.zip").write_bytes(b"half a download")
    with pytest.raises(DataError, match="sha256"):  # fetched and checked, not taken as present
        download("uci-har", root, base_url=url)
    assert (root / "uci-har" / "UCI HAR Dataset.zip").read_bytes() == b"half a download"


def test_verified_official_files_are_reported_present(fake, capfd):
    root, target, _ = fake
    download("fake", root)
    capfd.readouterr()
    assert download("fake", root, base_url=f"http://127.0.0.1:{closed_port()}") == [target]
    assert (
        capfd.readouterr().err == f"fake: {target} is present (sha256 verified); not downloaded\n"
    )
    download("fake", root, progress=False)
    assert capfd.readouterr().err == ""
