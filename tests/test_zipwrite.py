"""The payload writer (``backend/_zipwrite.py``): what zipfile and the launcher's reader read, deterministic."""

from __future__ import annotations

import hashlib
import os
import random
import zipfile
import zlib
from pathlib import Path

import pytest

from exearchive.backend import _deflate, _pack, _zip, _zipwrite
from test_runtime_unpack import _extract, _members, _tree


def _sample_tree(root: Path) -> Path:
    rng = random.Random(3)
    files = {
        "pkg/__init__.py": b"",
        "pkg/mod.py": b"VALUE = 1\n" * 500,
        "pkg/noise.bin": rng.randbytes(3000),
        "pkg/run.sh": b"#!/bin/sh\necho hi\n",
        "caf\u00e9/na\u00efve.txt": b"utf-8 names\n",
        # larger than one block: compressed in blocks by several threads, one deflate stream
        "big/mixed.bin": rng.randbytes(_deflate.CHUNK + 5) + b"abc" * _deflate.CHUNK + rng.randbytes(7),
        "big/exact.bin": b"x" * (2 * _deflate.CHUNK),
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "pkg/run.sh").chmod(0o755)
    return root


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_zipfile_and_the_launchers_reader_read_what_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(_zipwrite, "workers", lambda: workers)
    root = _sample_tree(tmp_path / "tree")
    target = tmp_path / "payload.zip"
    written = _zipwrite.write(_pack.walk(root), target, (2020, 5, 17, 10, 11, 12))
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None
        infos = archive.infolist()
        assert [i.filename for i in infos] == [name for name, _ in _pack.walk(root)]
        for info in infos:
            assert archive.read(info) == (root / info.filename).read_bytes()
            assert info.date_time == (2020, 5, 17, 10, 11, 12)
            assert info.create_system == 3
            assert info.external_attr >> 16 == (0o100755 if info.filename == "pkg/run.sh" else 0o100644)
        assert infos[0].compress_type == zipfile.ZIP_DEFLATED
        assert archive.getinfo("pkg/noise.bin").compress_type == zipfile.ZIP_STORED  # deflate would not help
    members = _members(target)
    assert [(m[0], m[2], m[3], m[4]) for m in members] == [
        (i.filename, i.compress_size, i.file_size, i.CRC) for i in infos
    ]
    assert _extract(target, tmp_path / "out", workers=2) == len(infos)
    assert _tree(tmp_path / "out") == _tree(root)
    assert written.files == len(infos) and written.unpacked == sum(i.file_size for i in infos)
    for name, packed in written.members:  # where each member's bytes are: what the build cache keeps
        with target.open("rb") as handle:
            handle.seek(packed.offset)
            assert zipfile.ZipFile(target).getinfo(name).compress_size == packed.csize
            assert len(handle.read(packed.csize)) == packed.csize


def test_members_are_deflated_at_the_level_with_no_extra_fields(tmp_path: Path) -> None:
    text = b"".join(path.read_bytes() for path in sorted(Path(_deflate.__file__).parent.glob("*.py")))[: _deflate.WHOLE]
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "words.txt").write_bytes(text)
    target = tmp_path / "payload.zip"
    written = _zipwrite.write(_pack.walk(tmp_path / "tree"), target, _zip.FIXED_DATE)
    [(_, packed)] = written.members

    def deflated(level: int) -> bytes:
        deflater = zlib.compressobj(level, zlib.DEFLATED, -15)
        return deflater.compress(text) + deflater.flush()

    assert _deflate.LEVEL == 6 and deflated(9) != deflated(6)
    raw = target.read_bytes()
    assert raw[packed.offset : packed.offset + packed.csize] == deflated(_deflate.LEVEL)
    # the local header ends with the name, straight before the data: no extra field, no data descriptor flag
    with zipfile.ZipFile(target) as archive:
        [info] = archive.infolist()
    assert raw[info.header_offset + 28 : info.header_offset + 30] == b"\0\0"
    assert info.extra == b"" and info.flag_bits == 0
    assert packed.offset == info.header_offset + 30 + len(b"words.txt")


def test_output_is_the_same_whatever_the_number_of_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _sample_tree(tmp_path / "tree")
    outputs = set()
    for workers in (1, 3, 8):
        monkeypatch.setattr(_zipwrite, "workers", lambda workers=workers: workers)
        _zipwrite.write(_pack.walk(root), tmp_path / f"{workers}.zip", _zip.FIXED_DATE)
        outputs.add((tmp_path / f"{workers}.zip").read_bytes())
    assert len(outputs) == 1


def test_packed_members_are_copied_as_they_are(tmp_path: Path) -> None:
    root = _sample_tree(tmp_path / "tree")
    first = _zipwrite.write(_pack.walk(root), tmp_path / "first.zip", _zip.FIXED_DATE)
    packed = {root / name: member for name, member in first.members}
    _zipwrite.write(_pack.walk(root), tmp_path / "again.zip", _zip.FIXED_DATE, packed)
    assert (tmp_path / "again.zip").read_bytes() == (tmp_path / "first.zip").read_bytes()


@pytest.mark.parametrize("limit", [1, 4096, 1 << 30])
def test_runs_of_packed_members_are_copied_at_once_between_fresh_files(
    limit: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Members that follow one another in their source are copied as one block (at most ``_RUN`` bytes)."""
    root = _sample_tree(tmp_path / "tree")
    first = _zipwrite.write(_pack.walk(root), tmp_path / "first.zip", _zip.FIXED_DATE)
    packed = {root / name: member for name, member in first.members if name != "pkg/mod.py"}
    monkeypatch.setattr(_zipwrite, "_RUN", limit)
    again = _zipwrite.write(_pack.walk(root), tmp_path / "again.zip", _zip.FIXED_DATE, packed)
    assert (tmp_path / "again.zip").read_bytes() == (tmp_path / "first.zip").read_bytes()
    assert [(name, m.offset, m.crc) for name, m in again.members] == [(n, m.offset, m.crc) for n, m in first.members]


def test_packed_members_whose_headers_differ_are_copied_one_by_one(tmp_path: Path) -> None:
    """Bytes packed with another date: their data is kept, each header is written anew."""
    root = _sample_tree(tmp_path / "tree")
    first = _zipwrite.write(_pack.walk(root), tmp_path / "first.zip", (2001, 2, 3, 4, 5, 6))
    packed = {root / name: member for name, member in first.members}
    _zipwrite.write(_pack.walk(root), tmp_path / "again.zip", _zip.FIXED_DATE, packed)
    _zipwrite.write(_pack.walk(root), tmp_path / "plain.zip", _zip.FIXED_DATE)
    assert (tmp_path / "again.zip").read_bytes() == (tmp_path / "plain.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "again.zip") as archive:
        assert archive.testzip() is None
        assert archive.read("pkg/mod.py") == b"VALUE = 1\n" * 500


def test_more_members_than_a_plain_zip_holds_get_zip64_end_records(tmp_path: Path) -> None:
    one = tmp_path / "one.py"
    one.write_bytes(b"x = 1\n")
    count = 0xFFFF + 10
    target = tmp_path / "many.zip"
    _zipwrite.write(((f"m/{i:06d}.py", one) for i in range(count)), target, _zip.FIXED_DATE)
    with zipfile.ZipFile(target) as archive:
        assert len(archive.infolist()) == count
        assert archive.read("m/065544.py") == b"x = 1\n"
    members = _members(target)
    assert len(members) == count and members[-1][0] == "m/065544.py"
    assert os.path.getsize(target) < 10 * 2**20


def _prefixed_archive(path: Path, root: Path, packed: dict[Path, _zipwrite.Packed] | None = None) -> tuple[int, str]:
    """``#!`` + a zip whose first member is ``payload.zip`` (the tree, written in place) and then a small one."""
    with path.open("w+b") as out:
        out.write(b"#!/usr/bin/env python3\n")
        archive = _zipwrite.Archive(out, path, _zip.FIXED_DATE)
        written, size, digest = archive.nested("payload.zip", list(_pack.walk(root)), packed)
        archive.add("after.txt", b"after " * 100, compress=True)
        archive.finish()
    assert written.files == 7
    return size, digest


def test_a_nested_zip_is_written_in_place_as_write_makes_it_alone(tmp_path: Path) -> None:
    root = _sample_tree(tmp_path / "tree")
    alone = tmp_path / "alone.zip"
    first = _zipwrite.write(_pack.walk(root), alone, _zip.FIXED_DATE)
    target = tmp_path / "archive"
    size, digest = _prefixed_archive(target, root)
    with zipfile.ZipFile(target) as archive:
        info = archive.getinfo("payload.zip")
        assert info.compress_type == zipfile.ZIP_STORED and info.header_offset == len(b"#!/usr/bin/env python3\n")
        nested = archive.read("payload.zip")  # zipfile checks its CRC-32
        assert archive.read("after.txt") == b"after " * 100
        assert archive.testzip() is None
    assert nested == alone.read_bytes()
    assert (size, digest) == (len(nested), hashlib.sha256(nested).hexdigest())
    # the build cache's bytes copied in give the same archive
    again = tmp_path / "again"
    _prefixed_archive(again, root, {root / name: member for name, member in first.members})
    assert again.read_bytes() == target.read_bytes()


def test_a_nested_zip_that_may_pass_2_gib_gets_zip64_headers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What readers see of a Zip64 local header; the sizes fit in 32 bits, so the central directory needs none."""
    root = _sample_tree(tmp_path / "tree")
    monkeypatch.setattr(_zipwrite, "_ZIP64_FROM", 1000)
    target = tmp_path / "archive"
    _prefixed_archive(target, root)
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None
    data = target.read_bytes()
    header = data.index(b"PK\x03\x04")
    assert data[header + 4] == 45 and data[header + 18 : header + 26] == b"\xff" * 8  # version 4.5, sizes in the extra


_PEAK = """
import resource, sys
from pathlib import Path
from exearchive.backend import _zip, _zipwrite
big = Path(sys.argv[1])
_zipwrite.write([("big.bin", big)], big.with_suffix(".zip"), _zip.FIXED_DATE, {})
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_peak_memory_does_not_grow_with_the_largest_file(tmp_path: Path) -> None:
    """Writing a 100 MB member (incompressible) costs about what a 1 MB one does: it goes through in blocks."""
    import subprocess
    import sys

    peaks = {}
    for size in (1, 100):
        big = tmp_path / f"{size}.bin"
        with big.open("wb") as handle:
            for _ in range(size):
                handle.write(os.urandom(1 << 20))
        run = subprocess.run([sys.executable, "-c", _PEAK, str(big)], capture_output=True, text=True, check=True)
        peaks[size] = int(run.stdout) / 1024  # ru_maxrss: KiB on Linux
        with zipfile.ZipFile(big.with_suffix(".zip")) as written:
            assert written.getinfo("big.bin").file_size == size << 20
    assert peaks[100] - peaks[1] < 40, peaks  # MiB: reading the file whole would add 100
