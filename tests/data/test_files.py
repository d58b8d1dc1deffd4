import gzip
import io
import lzma
import zipfile

import numpy as np
import pytest

from nnzoo.data import DataError
from nnzoo.data.files import FileTree, parse_table, read_bytes


def corrupt_member(archive: bytes, member: str) -> bytes:
    """Flip bytes in the middle of ``member``'s compressed data, leaving the directory intact."""
    info = zipfile.ZipFile(io.BytesIO(archive)).getinfo(member)
    raw = bytearray(archive)
    name_len, extra_len = np.frombuffer(raw[info.header_offset + 26 :][:4], "<u2")
    start = info.header_offset + 30 + int(name_len) + int(extra_len)
    for i in range(start + info.compress_size // 3, start + info.compress_size // 2):
        raw[i] ^= 0x5A
    return bytes(raw)


def test_parse_table_reads_the_uci_number_format_with_crlf_and_blank_lines():
    text = "  1.0412160e+000 -2.5000000e-003\r\n\r\n  3.0000000e+000  0.0000000e+000\r\n"
    table = parse_table(text, 2, source="t.txt")
    np.testing.assert_array_equal(table, [[1.041216, -0.0025], [3.0, 0.0]])
    assert parse_table("5\n6\n", None, source="t.txt").shape == (2, 1)


@pytest.mark.parametrize(
    ("text", "columns", "message"),
    [
        ("1 2\n\n3\n", None, "t.txt: line 3 has 1 values; expected 2"),
        ("1 2 3\n4 5\n", 2, "t.txt: line 1 has 3 values; expected 2"),
        # a short row and a long row hold the right number of values between them
        ("1 2 3\n4\n5 6\n", 2, "t.txt: line 1 has 3 values; expected 2"),
        (
            "1 2\n3 abc\n",
            2,
            "t.txt: line 2: value 2 is not a number; fix that line or get a fresh copy of the file",
        ),
        ("\n  \r\n", 2, "t.txt: empty file; replace it with a fresh copy"),
    ],
)
def test_parse_table_names_file_and_line(text, columns, message):
    with pytest.raises(DataError) as e:
        parse_table(text, columns, source="t.txt")
    assert str(e.value) == message


@pytest.mark.parametrize(("suffix", "compress"), [(".gz", gzip.compress), (".xz", lzma.compress)])
def test_read_bytes_decompresses_and_names_a_truncated_file(tmp_path, suffix, compress):
    data = b"".join(b"%d\r\n" % i for i in range(5000))
    path = tmp_path / f"a.txt{suffix}"
    path.write_bytes(compress(data))
    assert read_bytes(path) == data
    path.write_bytes(compress(data)[:-40])
    with pytest.raises(DataError, match="corrupt or truncated") as e:
        read_bytes(path)
    assert str(e.value).startswith(f"{path}: ")


def test_file_tree_in_a_zip_finds_compressed_members_under_the_prefix(tmp_path):
    path = tmp_path / "data.zip"
    text = "".join(f"{v:.7e}\n" for v in np.random.default_rng(0).normal(size=3000))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("top/a.txt.xz", lzma.compress(text.encode()))
        z.writestr("top/b.txt", text)
    tree = FileTree(path, prefix="top/")
    assert tree.read_text("a.txt") == text
    assert tree.exists("b.txt") and not tree.exists("c.txt")
    with pytest.raises(DataError) as e:
        tree.read_text("c.txt")
    assert str(e.value) == (
        f"{path}!top/c.txt: missing (also looked for .xz and .gz); restore it from a fresh copy "
        "of the dataset"
    )

    path.write_bytes(corrupt_member(path.read_bytes(), "top/b.txt"))
    with pytest.raises(DataError, match="corrupt archive") as e:
        FileTree(path, prefix="top/").read_text("b.txt")
    assert str(e.value).startswith(f"{path}!top/b.txt: ")


def test_file_tree_names_a_file_that_is_not_a_zip(tmp_path):
    path = tmp_path / "data.zip"
    path.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(DataError, match="not a readable zip archive") as e:
        FileTree(path)
    assert str(e.value).startswith(f"{path}: ")


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-Infinity"])
@pytest.mark.parametrize("columns", [2, None])
def test_parse_table_rejects_non_finite_values_by_line_and_position(bad, columns):
    text = f"1 2\r\n\r\n3 4\r\n5 {bad}\r\n"  # line 4, the second value
    with pytest.raises(DataError) as e:
        parse_table(text, columns, source="t.txt")
    assert str(e.value) == (
        "t.txt: line 4: value 2 is not finite (NaN or infinity); "
        "fix that line or get a fresh copy of the file"
    )


def test_parse_table_finds_a_non_finite_value_in_a_ragged_file_too():
    # loadtxt fails on the ragged rows; the line-by-line check finds the nan first
    with pytest.raises(DataError, match=r"^t\.txt: line 2: value 1 is not finite"):
        parse_table("1 2\nnan 3\n4\n", 2, source="t.txt")
