"""The remembered hashes of the build cache (``_hashmemo``)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from exearchive.backend import _hashmemo


def _old_file(path: Path, data: bytes) -> Path:
    """A file whose mtime is well past the settling time."""
    path.write_bytes(data)
    past = time.time_ns() - 10 * _hashmemo.SETTLED_NS
    os.utime(path, ns=(past, past))
    return path


def _same_stat_other_bytes(path: Path, data: bytes) -> None:
    """Rewrite ``path`` in place with other bytes of the same size, then put its mtime back."""
    info = path.stat()
    assert len(data) == info.st_size
    with path.open("r+b") as handle:
        handle.write(data)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def _remembered(tmp_path: Path) -> tuple[Path, Path]:
    """A build cache that remembers the hash of a settled file ``a.whl`` (``b"first"``)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    wheel = _old_file(tmp_path / "a.whl", b"first")
    hashes = _hashmemo.Hashes(cache)
    hashes.sha256(wheel)
    hashes.save()
    return cache, wheel


def test_a_settled_file_is_hashed_once_and_remembered_across_builds(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    wheel = _old_file(tmp_path / "a.whl", b"first")
    hashes = _hashmemo.Hashes(cache)
    assert hashes.sha256(wheel) == hashlib.sha256(b"first").hexdigest()
    hashes.save()
    assert (cache / _hashmemo.FILE).is_file()
    # the same inode, size and mtime: the next build takes the remembered hash without reading the file
    _same_stat_other_bytes(wheel, b"other")
    assert _hashmemo.Hashes(cache).sha256(wheel) == hashlib.sha256(b"first").hexdigest()


def test_a_hard_link_shares_the_remembered_hash(tmp_path: Path) -> None:
    cache, wheel = _remembered(tmp_path)
    _same_stat_other_bytes(wheel, b"other")
    linked = tmp_path / "build" / "a.whl"
    linked.parent.mkdir()
    os.link(wheel, linked)
    assert _hashmemo.Hashes(cache).sha256(linked) == hashlib.sha256(b"first").hexdigest()


def test_a_changed_stat_is_hashed_again(tmp_path: Path) -> None:
    cache, wheel = _remembered(tmp_path)
    wheel.write_bytes(b"second!")  # size and mtime differ
    assert _hashmemo.Hashes(cache).sha256(wheel) == hashlib.sha256(b"second!").hexdigest()
    _old_file(wheel, b"third!!")  # same size as before, another mtime
    assert _hashmemo.Hashes(cache).sha256(wheel) == hashlib.sha256(b"third!!").hexdigest()


def test_a_copy_is_hashed_again(tmp_path: Path) -> None:
    cache, wheel = _remembered(tmp_path)
    copy = _old_file(tmp_path / "b.whl", b"other")
    os.utime(copy, ns=(wheel.stat().st_atime_ns, wheel.stat().st_mtime_ns))  # same size and mtime, another inode
    assert _hashmemo.Hashes(cache).sha256(copy) == hashlib.sha256(b"other").hexdigest()


def test_a_recent_file_is_not_remembered(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    wheel = tmp_path / "a.whl"
    wheel.write_bytes(b"first")  # written just now: a write within the clock's granularity could keep its stat
    hashes = _hashmemo.Hashes(cache)
    assert hashes.sha256(wheel) == hashlib.sha256(b"first").hexdigest()
    hashes.save()
    assert not (cache / _hashmemo.FILE).exists()
    _same_stat_other_bytes(wheel, b"other")
    assert _hashmemo.Hashes(cache).sha256(wheel) == hashlib.sha256(b"other").hexdigest()


def test_saving_merges_with_what_another_build_remembered(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    first, second = _old_file(tmp_path / "a.whl", b"aaaa"), _old_file(tmp_path / "b.whl", b"bbbb")
    one, two = _hashmemo.Hashes(cache), _hashmemo.Hashes(cache)
    one.sha256(first)
    two.sha256(second)
    one.save()
    two.save()
    assert len(json.loads((cache / _hashmemo.FILE).read_text())) == 2


def test_a_damaged_or_missing_file_only_costs_the_hashing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / _hashmemo.FILE).write_text("{not json")
    wheel = _old_file(tmp_path / "a.whl", b"first")
    hashes = _hashmemo.Hashes(cache)
    assert hashes.sha256(wheel) == hashlib.sha256(b"first").hexdigest()
    hashes.save()  # replaces the damaged file
    (remembered,) = json.loads((cache / _hashmemo.FILE).read_text()).values()
    assert remembered[2] == hashlib.sha256(b"first").hexdigest()
    unwritable = _hashmemo.Hashes(tmp_path / "missing")
    assert unwritable.sha256(wheel) == hashlib.sha256(b"first").hexdigest()
    unwritable.save()  # nowhere to write: no error
    assert not (tmp_path / "missing").exists()
    _hashmemo.forget(cache)
    assert not (cache / _hashmemo.FILE).exists()
    _hashmemo.forget(cache)  # twice: nothing to remove


def test_only_the_newest_hashes_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_hashmemo, "KEEP", 2)
    cache = tmp_path / "cache"
    cache.mkdir()
    for index in range(3):
        hashes = _hashmemo.Hashes(cache)
        hashes.sha256(_old_file(tmp_path / f"{index}.whl", b"%d" % index))
        hashes.save()
    kept = json.loads((cache / _hashmemo.FILE).read_text())
    assert sorted(value[2] for value in kept.values()) == sorted(
        hashlib.sha256(b"%d" % index).hexdigest() for index in (1, 2)
    )


def test_a_file_hashed_again_counts_as_the_newest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file rewritten (same inode, new stat) is remembered as new, not dropped where its old hash stood."""
    monkeypatch.setattr(_hashmemo, "KEEP", 2)
    cache = tmp_path / "cache"
    cache.mkdir()
    first = _old_file(tmp_path / "first.whl", b"one")
    for path in (first, _old_file(tmp_path / "second.whl", b"two")):
        hashes = _hashmemo.Hashes(cache)
        hashes.sha256(path)
        hashes.save()
    with first.open("r+b") as handle:  # the same inode, other bytes and size
        handle.write(b"one, again")
    past = time.time_ns() - 10 * _hashmemo.SETTLED_NS
    os.utime(first, ns=(past, past))
    hashes = _hashmemo.Hashes(cache)
    assert hashes.sha256(first) == hashlib.sha256(b"one, again").hexdigest()
    hashes.save()
    hashes = _hashmemo.Hashes(cache)
    hashes.sha256(_old_file(tmp_path / "third.whl", b"three"))
    hashes.save()
    kept = json.loads((cache / _hashmemo.FILE).read_text())
    assert sorted(value[2] for value in kept.values()) == sorted(
        hashlib.sha256(data).hexdigest() for data in (b"one, again", b"three")
    )
