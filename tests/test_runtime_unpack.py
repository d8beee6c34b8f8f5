"""The launcher's own zip reading and parallel extraction (``runtime/_zipdir.py``, ``runtime/_unpack.py``).

``zipfile`` is the reference: every member ``_zipdir`` reports must be the
one ``zipfile`` reads (names, sizes, CRCs, where the data is), including Zip64
members, data before the zip (the archive's shebang), comments and names in
cp437.  ``_unpack`` must write the same bytes with one worker or several,
stream members larger than its in-memory limit, and refuse damaged data with
``Damaged`` (never a partial file passed off as good).
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import zipfile
import zlib
from pathlib import Path

import pytest

from exearchive.runtime import _unpack, _zipdir


def _make_zip(path: Path, members: dict[str, bytes], prefix: bytes = b"", comment: bytes = b"") -> None:
    with path.open("wb") as out:
        out.write(prefix)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                info = zipfile.ZipInfo(name)
                info.external_attr = (0o100755 if name.endswith(".sh") else 0o100644) << 16
                info.compress_type = zipfile.ZIP_STORED if name.endswith(".raw") else zipfile.ZIP_DEFLATED
                with archive.open(info, "w", force_zip64=name.startswith("z64")) as target:
                    target.write(data)
            archive.comment = comment


def _members(path: Path, start: int = 0, size: int | None = None) -> list[tuple]:
    fd = os.open(path, os.O_RDONLY)
    try:
        return list(_zipdir.members(fd, start, size))
    finally:
        os.close(fd)


def _sample() -> dict[str, bytes]:
    rng = random.Random(7)
    return {
        "pkg/__init__.py": b"",
        "pkg/mod.py": b"VALUE = 1\n" * 500,
        "pkg/data.raw": bytes(rng.getrandbits(8) for _ in range(3000)),
        "pkg/run.sh": b"#!/bin/sh\necho hi\n",
        "z64/big.txt": b"zip64 member\n" * 100,
        "caf\u00e9/na\u00efve.txt": b"utf-8 names\n",
        "other/empty": b"",
    }


@pytest.mark.parametrize("prefix", [b"", b"#!/usr/bin/env python3\n"])
@pytest.mark.parametrize("comment", [b"", b"a comment"])
def test_members_match_zipfile(tmp_path: Path, prefix: bytes, comment: bytes) -> None:
    path = tmp_path / "a.zip"
    _make_zip(path, _sample(), prefix, comment)
    ours = _members(path)
    with zipfile.ZipFile(path) as archive:
        reference = archive.infolist()
    assert [m[0] for m in ours] == [i.filename for i in reference]
    for member, info in zip(ours, reference, strict=True):
        _name, offset, csize, size, crc, method, mode, _extra = member
        assert (csize, size, crc, method) == (info.compress_size, info.file_size, info.CRC, info.compress_type)
        assert offset == info.header_offset  # both count the bytes before the zip (the shebang)
        assert mode == info.external_attr >> 16


def test_members_of_a_zip64_directory(tmp_path: Path) -> None:
    """More than 65,535 members: the count lives in the Zip64 end record only."""
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for i in range(70_000):
            archive.writestr(f"d/{i}", b"")
    ours = _members(path)
    assert len(ours) == 70_000
    assert ours[-1][0] == "d/69999"


def test_members_with_cp437_names(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("plain.txt", b"x")
    raw = bytearray(buffer.getvalue())
    at = raw.index(b"plain.txt", raw.index(b"PK\x01\x02"))
    raw[at] = 0x82  # cp437 "é", flag 0x800 not set
    path = tmp_path / "cp437.zip"
    path.write_bytes(bytes(raw))
    with zipfile.ZipFile(path) as archive:
        expected = archive.namelist()
    assert [m[0] for m in _members(path)] == expected == ["\u00e9lain.txt"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[:-10],  # truncated end record
        lambda raw: raw[: len(raw) // 2],  # no end record at all
        lambda raw: raw.replace(b"PK\x01\x02", b"PK\x01\x03", 1),  # bad directory entry
        lambda raw: b"",
    ],
)
def test_damaged_directories_raise_damaged(tmp_path: Path, damage) -> None:
    path = tmp_path / "a.zip"
    _make_zip(path, _sample())
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(_zipdir.Damaged):
        _members(path)


def _extract(path: Path, dest: Path, workers: int) -> int:
    return len(_write(path, dest, workers))


def _write(path: Path, dest: Path, workers: int, hashed: bool = False) -> list[_unpack.Job]:
    fd = os.open(path, os.O_RDONLY)
    try:
        jobs = []
        for member in _zipdir.members(fd):
            if member[0].endswith("/"):
                continue
            target = dest.joinpath(*member[0].split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            jobs.append(_unpack.Job(member, str(target), 0o755 if member[6] & 0o111 else 0o644, hashed=hashed))
        _unpack.write_all(fd, jobs, workers=workers)
        return jobs
    finally:
        os.close(fd)


def _tree(root: Path) -> dict[str, tuple[bytes, bool]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), os.access(p, os.X_OK)) for p in root.rglob("*") if p.is_file()
    }


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_write_all_writes_what_zipfile_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    monkeypatch.setattr(_unpack, "_WHOLE", 1024)  # members above 1 KiB take the streaming path
    monkeypatch.setattr(_unpack, "_CHUNK", 700)
    monkeypatch.setattr(_unpack, "_BATCH", 2)
    members = _sample()
    members.update({f"many/m{i:03d}.py": (b"x = %d\n" % i) * (i % 300) for i in range(200)})
    members["big/deflated.bin"] = b"compressible " * 10_000
    members["big/stored.raw"] = os.urandom(5000)
    path = tmp_path / "a.zip"
    _make_zip(path, members, b"#!/usr/bin/env python3\n")
    count = _extract(path, tmp_path / "out", workers)
    assert count == len(members)
    tree = _tree(tmp_path / "out")
    assert {name: data for name, (data, _) in tree.items()} == members
    assert tree["pkg/run.sh"][1] and not tree["pkg/mod.py"][1]


@pytest.mark.parametrize("name", ["small.raw", "big.raw"])
def test_write_all_refuses_a_crc_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """One changed byte of a member's data (in memory or streamed) is caught by the CRC-32 check."""
    monkeypatch.setattr(_unpack, "_WHOLE", 1024)
    monkeypatch.setattr(_unpack, "_CHUNK", 700)
    path = tmp_path / "a.zip"
    _make_zip(path, {"small.raw": b"VALUE = 1\n" * 50, "big.raw": b"x" * 5000})
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    raw = bytearray(path.read_bytes())
    raw[info.header_offset + 30 + len(name) + 100] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(_zipdir.Damaged, match="CRC-32"):
        _extract(path, tmp_path / "out", 2)


@pytest.mark.parametrize("name", ["small.raw", "big.raw"])
def test_hashed_members_are_hashed_and_damaged_file_names_a_changed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A hashed member (the cold path's) gets the SHA-256 of what was written, in memory or streamed.

    Its CRC-32 is not checked while writing (the content id check covers every
    byte): ``damaged_file`` reads the files back and names the changed one.
    """
    monkeypatch.setattr(_unpack, "_WHOLE", 1024)
    monkeypatch.setattr(_unpack, "_CHUNK", 700)
    members = {"small.raw": b"VALUE = 1\n" * 50, "big.raw": b"x" * 5000}
    path = tmp_path / "a.zip"
    _make_zip(path, members)
    intact = _write(path, tmp_path / "intact", 2, hashed=True)
    assert {job.name: job.sha256 for job in intact} == {n: hashlib.sha256(d).hexdigest() for n, d in members.items()}
    assert _unpack.damaged_file(intact) is None
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    raw = bytearray(path.read_bytes())
    raw[info.header_offset + 30 + len(name) + 100] ^= 1
    path.write_bytes(bytes(raw))
    jobs = _write(path, tmp_path / "out", 2, hashed=True)
    written = (tmp_path / "out" / name).read_bytes()
    assert written != members[name] and len(written) == len(members[name])
    assert {job.name: job.sha256 for job in jobs}[name] == hashlib.sha256(written).hexdigest()
    assert _unpack.damaged_file(jobs) == name


def test_write_all_refuses_a_broken_deflate_stream(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    _make_zip(path, {"mod.py": b"".join(b"line %d\n" % i for i in range(2000))})
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("mod.py")
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len("mod.py")
    raw[start : start + 40] = bytes(40)
    path.write_bytes(bytes(raw))
    with pytest.raises((_zipdir.Damaged, zlib.error)):
        _extract(path, tmp_path / "out", 1)


def test_write_all_refuses_truncated_data(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    _make_zip(path, {"a.raw": os.urandom(4000)})
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("a.raw")
    fd = os.open(path, os.O_RDONLY)
    try:
        [member] = _zipdir.members(fd)
        lying = (member[0], member[1], member[2] + 10**6, *member[3:])  # says more data than the file holds
        job = _unpack.Job(lying, str(tmp_path / "a.raw"), 0o644)
        with pytest.raises(_zipdir.Damaged):
            _unpack.write_all(fd, [job], workers=1)
    finally:
        os.close(fd)
    assert info.file_size == 4000


def test_first_error_stops_every_worker(tmp_path: Path) -> None:
    """An existing target (O_EXCL) fails its job; the error reaches the caller from a worker thread."""
    members = {f"d{i % 7}/f{i}.txt": b"data %d\n" % i for i in range(300)}
    path = tmp_path / "a.zip"
    _make_zip(path, members)
    (tmp_path / "out" / "d3").mkdir(parents=True)
    (tmp_path / "out" / "d3" / "f3.txt").write_text("already here")
    with pytest.raises(FileExistsError):
        _extract(path, tmp_path / "out", 4)
    assert (tmp_path / "out" / "d3" / "f3.txt").read_text() == "already here"
