"""The build cache's store: its entries on disk, checked on use, made atomically, pruned least recently used first.

The layout, the checks and the locking are described in :mod:`._buildcache`, which merges entries into a build.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from installer import __version__ as installer_version

from . import _deflate, _hashmemo, _pack, _reuse, _stage, _zip, _zipwrite
from ._hashing import sha256_file
from ._zipwrite import Packed

logger = logging.getLogger(__name__)

FORMAT = 3  # 2: members the wheel holds deflated keep the wheel's bytes (_reuse); 3: each member's SHA-256
DEFAULT_SIZE = 2 * 10**9
_ENTRIES = "entries"
_LOCK_WAIT = 10.0

Compile = Callable[[Path], "str | None"]


@dataclass
class Entry:
    """A usable cache entry (checked)."""

    path: Path
    index: list[tuple[str, Packed]]
    tag: str | None

    @property
    def tree(self) -> Path:
        return self.path / "tree"


class Damaged(Exception):
    """A cache entry is not what its records say."""


def is_metadata(name: str) -> bool:
    """What reading the staging tree needs from a cached wheel: its dist-info, scripts and ``.pth`` files."""
    parts = name.split("/")
    if parts[0] == _stage.SCRIPTS:
        return True
    if parts[0] != _stage.SITE or len(parts) < 2:
        return False
    return parts[1].endswith(".dist-info") or (len(parts) == 2 and parts[1].endswith(".pth"))


class Cache:
    """The build cache at ``path``, bounded to ``limit`` bytes."""

    def __init__(self, path: Path, limit: int = DEFAULT_SIZE) -> None:
        self.path = path
        self.limit = limit
        self.entries = path / _ENTRIES
        self.hashes = _hashmemo.Hashes(path)

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the cache's lock shared (what a build does while it uses entries)."""
        self.entries.mkdir(parents=True, exist_ok=True)
        with _locked(self.path / "lock", exclusive=False, wait=None) as held:
            assert held
            yield

    def entries_for(
        self, wheels: list[Path], compiler: str, compile_tree: Compile | None, level: int = _deflate.LEVEL
    ) -> dict[Path, Entry]:
        """The checked entry of each wheel, made now where missing or damaged.

        Entries are made in the wheels' order: staging and compiling one wheel
        (installer is Python, compileall runs in processes) overlaps with
        compressing the one before it in a thread (zlib releases the GIL).
        """
        found: dict[Path, Entry] = {}
        with ThreadPoolExecutor(1, thread_name_prefix="exearchive-cache") as packer:
            jobs = {}
            for wheel in wheels:
                digest = self.hashes.sha256(wheel)
                key = _key(digest, compiler, level)
                entry = self._lookup(wheel, self.entries / key)
                if entry is not None:
                    found[wheel] = entry
                    continue
                logger.info("build cache: staging, compiling and compressing %s", wheel.name)
                temp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=self.entries))
                try:
                    tree = temp / "tree"
                    unchanged: dict[str, _stage.Unchanged] = {}
                    _stage.stage([wheel], tree, unchanged=unchanged)
                    tree.mkdir(exist_ok=True)
                    tag = compile_tree(tree) if compile_tree else None
                except BaseException:
                    shutil.rmtree(temp, ignore_errors=True)
                    raise
                jobs[wheel] = packer.submit(self._finish, wheel, digest, key, compiler, temp, tag, level, unchanged)
            for wheel, job in jobs.items():
                found[wheel] = job.result()
        self.hashes.save()
        return found

    def _lookup(self, wheel: Path, path: Path) -> Entry | None:
        if not path.is_dir():
            return None
        try:
            found = _load(path, self.hashes)
        except Damaged as error:
            logger.warning("build cache: the entry of %s is damaged (%s); making it again", wheel.name, error)
            _set_aside(path)
            return None
        _touch(path / "used")
        logger.debug("build cache: %s from %s", wheel.name, path)
        return found

    def _finish(
        self,
        wheel: Path,
        wheel_sha256: str,
        key: str,
        compiler: str,
        temp: Path,
        tag: str | None,
        level: int,
        unchanged: dict[str, _stage.Unchanged],
    ) -> Entry:
        """Compress the staged and compiled tree in ``temp``, write the entry's records, publish it."""
        try:
            tree = temp / "tree"
            reused = _reuse.from_wheel(wheel, tree, unchanged) if level == _deflate.LEVEL else {}
            written = _zipwrite.write(
                _pack.walk(tree), temp / "packed.zip", _zip.FIXED_DATE, reused, level, digests=True
            )
            # the SHA-256 of each file, from the read that packed it (or _reuse's, for the files found in the wheel)
            members = [(name, p, p.sha256 or sha256_file(tree / name)) for name, p in written.members]
            index = json.dumps(
                [[n, p.offset, p.csize, p.size, p.crc, p.method, p.executable, d] for n, p, d in members]
            ).encode()
            (temp / "index.json").write_bytes(index)
            size = sum(p.size for _, p in written.members) + (temp / "packed.zip").stat().st_size
            record = {
                "format": FORMAT,
                "wheel": wheel.name,
                "wheel_sha256": wheel_sha256,
                "compiler": compiler,
                "level": level,
                "installer": installer_version,
                "pyc_tag": tag,
                "packed_sha256": sha256_file(temp / "packed.zip"),
                "index_sha256": hashlib.sha256(index).hexdigest(),
                "bytes": size,
                "created": time.time(),
            }
            (temp / "entry.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
            (temp / "used").touch()
            final = self.entries / key
            try:
                temp.rename(final)
            except OSError:  # another build made it first: use that one
                shutil.rmtree(temp, ignore_errors=True)
                return _load(final, self.hashes)
            packed = final / "packed.zip"  # just written and hashed: not read again
            kept = [  # as _load makes them (not dataclasses.replace: on 40,000 members that cost 0.4 s)
                (n, Packed(packed, p.offset, p.csize, p.size, p.crc, p.method, p.executable, d)) for n, p, d in members
            ]
            return Entry(final, kept, tag)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise

    def listing(self) -> list[Listed]:
        """Every entry, most recently used first."""
        found = []
        for path in sorted(self.entries.glob("*")) if self.entries.is_dir() else []:
            if path.name.startswith("."):
                continue
            try:
                record = json.loads((path / "entry.json").read_text())
                found.append(
                    Listed(path.name, str(record["wheel"]), int(record["bytes"]), (path / "used").stat().st_mtime)
                )
            except (OSError, ValueError, KeyError, TypeError):
                found.append(Listed(path.name, "(damaged)", _tree_size(path), 0.0))
        return sorted(found, key=lambda item: -item.last_used)

    def prune(
        self, limit: int | None = None, days: float | None = None, dry_run: bool = False, wait: float = _LOCK_WAIT
    ) -> list[Listed] | None:
        """Remove entries unused for ``days`` and then the least recently used ones until the cache holds at most
        ``limit`` bytes (default: its bound), and leftovers of builds that were killed; the removed entries.

        None when a build is using the cache (nothing is removed then)."""
        limit = self.limit if limit is None else limit
        if not self.entries.is_dir():
            return []
        with _locked(self.path / "lock", exclusive=True, wait=wait) as held:
            if not held:
                return None
            now = time.time()
            keep: list[Listed] = []
            removed: list[Listed] = []
            for item in self.listing():
                old = days is not None and now - item.last_used > days * 86400
                (removed if old else keep).append(item)
            total = sum(item.bytes for item in keep)
            while keep and total > limit:
                item = keep.pop()  # the least recently used
                total -= item.bytes
                removed.append(item)
            if not dry_run:
                for item in removed:
                    _set_aside(self.entries / item.key)
                for leftover in self.entries.glob(".*"):  # no build runs: these are leftovers
                    shutil.rmtree(leftover, ignore_errors=True)
            return removed

    def prune_if_over(self) -> None:
        """After a build: prune to the bound when the cache is over it and no other build uses it."""
        if sum(item.bytes for item in self.listing()) <= self.limit:
            return
        removed = self.prune(wait=0.0)
        if removed:
            logger.info(
                "build cache: removed %d least recently used entries (bound %d bytes)", len(removed), self.limit
            )


@dataclass(frozen=True)
class Listed:
    """An entry as listed: its key, its wheel, its size on disk and when a build last used it."""

    key: str
    wheel: str
    bytes: int
    last_used: float


def _key(wheel_sha256: str, compiler: str, level: int) -> str:
    parts = [FORMAT, wheel_sha256, compiler, level, installer_version]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def _load(path: Path, hashes: _hashmemo.Hashes) -> Entry:
    """The entry at ``path``, checked: its records parse and the hashes of its index and packed bytes match
    (the packed bytes' hash as ``hashes`` remembers it while their stat is the same)."""
    try:
        record = json.loads((path / "entry.json").read_text())
        index_bytes = (path / "index.json").read_bytes()
        if record.get("format") != FORMAT or hashlib.sha256(index_bytes).hexdigest() != record["index_sha256"]:
            raise Damaged("its index does not match its record")
        packed = path / "packed.zip"
        if hashes.sha256(packed) != record["packed_sha256"]:
            raise Damaged("its packed bytes do not match their hash")
        if not (path / "tree").is_dir():
            raise Damaged("its tree is missing")
        index = [
            (name, Packed(packed, offset, csize, size, crc, method, bool(executable), str(digest)))
            for name, offset, csize, size, crc, method, executable, digest in json.loads(index_bytes)
        ]
        for name, member in index:
            if is_metadata(name):  # read by the build in the entry's tree: checked here
                data = (path / "tree" / name).read_bytes()
                if len(data) != member.size or zlib.crc32(data) != member.crc:
                    raise Damaged(f"{name} does not match its index")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise Damaged(str(error)) from None
    return Entry(path, index, record.get("pyc_tag"))


def _set_aside(path: Path) -> None:
    """Rename an entry out of the way (atomic: no build finds it after this), then delete it."""
    trash = path.with_name(f".trash-{path.name}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        path.rename(trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.utime(path)


def _tree_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@contextlib.contextmanager
def _locked(path: Path, exclusive: bool, wait: float | None) -> Iterator[bool]:
    """flock ``path``: shared or exclusive; ``wait`` None blocks, else gives up after that many seconds (False)."""
    if sys.platform == "win32":  # no flock: builds and pruning are not kept apart there
        yield True
        return
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        if wait is None:
            fcntl.flock(fd, mode)
            held = True
        else:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    held = True
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        held = False
                        break
                    time.sleep(0.1)
        yield held
    finally:
        os.close(fd)
