"""The build cache: each dependency wheel staged, compiled and compressed once, then reused.

What the archive step does to a dependency wheel depends only on the wheel's
bytes, on who compiles its bytecode (implementation, cache tag and full
version of that interpreter), on the deflate level and on this cache's
format; so it is done once per such key and kept in an *entry*::

    <cache>/entries/<key>/tree/         the wheel staged alone (installer), with its bytecode
    <cache>/entries/<key>/packed.zip    that tree written by the payload writer: the members' compressed bytes
    <cache>/entries/<key>/index.json    per member: name, offset of its data in packed.zip, sizes, CRC-32, method, mode
    <cache>/entries/<key>/entry.json    the key's parts, the cache tag of the bytecode, SHA-256 of the two above, size
    <cache>/entries/<key>/used          touched at every use (least recently used entries are pruned first)

A later build stages only the project's own wheel (it changes every commit)
into its staging tree, copies there the cached wheels' metadata (their
``.dist-info``, scripts and ``.pth`` files: what reading the staging tree
needs) and packs every other member from ``packed.zip`` as it is, without
compressing it again.  The members are merged in the order in which
``_pack.walk`` lists one tree staged from every wheel, and a file written by two
wheels is refused unless both wrote the same bytes, as in ``_stage``: the
archive is byte for byte the one built without the cache.

Entries are made in a temporary directory beside them and renamed into place
(a concurrent build that made the same entry keeps the first one).  Every use
checks the SHA-256 of ``packed.zip`` and ``index.json`` and the CRC-32 of each
metadata file it copies; an entry that fails is set aside and made again,
never packed.  Nothing is linked: cached files are only read.  Builds hold a
shared lock on ``<cache>/lock`` while they use the cache; pruning (after a
build, when the cache is over its size, or ``exearchive cache prune --build``)
takes it exclusively, so it never removes an entry a build is using.

``EXEARCHIVE_BUILD_CACHE`` moves the cache (default: the platform's cache
directory + ``exearchive/build``) or, set to ``off``, disables it;
``EXEARCHIVE_BUILD_CACHE_SIZE`` bounds it (default 2 GB).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from installer import __version__ as installer_version
from packaging.utils import canonicalize_name, parse_wheel_filename

from ..runtime import default_root
from . import _deflate, _pack, _stage, _zip, _zipwrite
from ._errors import ConfigError, StagingError
from ._hashing import sha256_file
from ._zipwrite import Packed

logger = logging.getLogger(__name__)

FORMAT = 1
ENV = "EXEARCHIVE_BUILD_CACHE"
SIZE_ENV = "EXEARCHIVE_BUILD_CACHE_SIZE"
DEFAULT_SIZE = 2 * 10**9
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_ENTRIES = "entries"
_LOCK_WAIT = 10.0

Compile = Callable[[Path], "str | None"]


@dataclass
class Staging:
    """What the payload is made of: the staging tree, its members in order, and the ones already compressed."""

    root: Path
    members: list[tuple[str, Path]]
    packed: dict[Path, Packed] = field(default_factory=dict)
    pyc_tag: str | None = None
    trees: list[Path] = field(default_factory=list)
    """The cache entries' trees that members outside ``root`` are in."""


def location(env: Mapping[str, str] | None = None) -> Path | None:
    """The build cache's directory, or None when ``EXEARCHIVE_BUILD_CACHE=off``."""
    env = os.environ if env is None else env
    value = env.get(ENV, "").strip()
    if value.lower() == "off":
        return None
    if value:
        return Path(value).expanduser().absolute()
    base = default_root({k: v for k, v in env.items() if k != "EXEARCHIVE_ROOT"})[0]
    return Path(base) / "build"


def size_limit(env: Mapping[str, str] | None = None) -> int:
    """The cache's size bound in bytes: ``EXEARCHIVE_BUILD_CACHE_SIZE`` (``500M``, ``2G``, bytes) or 2 GB."""
    env = os.environ if env is None else env
    value = env.get(SIZE_ENV, "").strip()
    return parse_size(value, SIZE_ENV) if value else DEFAULT_SIZE


def parse_size(value: str, where: str) -> int:
    """``500M``, ``2G``, ``1.5g``, ``1000000``: a size in bytes (powers of 1000)."""
    text = value.strip().lower().removesuffix("b")
    unit = text[-1:] if text[-1:] in _UNITS else ""
    try:
        number = float(text[: len(text) - len(unit)])
    except ValueError:
        number = -1.0
    if number < 0:
        raise ConfigError(f"{where}={value!r} is not a size; write it like 500M, 2G or a number of bytes")
    return int(number * _UNITS[unit])


def stage(
    wheels: list[Path],
    root: Path,
    requested: str,
    compile_tree: Compile | None,
    compiler: Callable[[], str],
    env: Mapping[str, str] | None = None,
) -> Staging:
    """Stage ``wheels`` into ``root`` and compile them (``compile_tree``, None: no bytecode), from the cache
    where it has them; ``requested`` names the project (staged afresh); ``compiler()`` says who compiles."""
    place = location(env)
    if place is None:
        _stage.stage(wheels, root, requested=requested)
        root.mkdir(parents=True, exist_ok=True)
        tag = compile_tree(root) if compile_tree else None
        return Staging(root, list(_pack.walk(root)), {}, tag)
    wanted = canonicalize_name(requested)
    fresh = [w for w in wheels if canonicalize_name(parse_wheel_filename(w.name)[0]) == wanted]
    cached = [w for w in wheels if w not in fresh]
    identity = (compiler() if compile_tree else "no bytecode") if cached else ""
    cache = Cache(place, size_limit(env))
    try:
        cache.entries.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        if (env if env is not None else os.environ).get(ENV):
            raise ConfigError(
                f"cannot use the build cache {place} ({error.strerror}); set {ENV} to another directory or to off"
            ) from None
        logger.warning("cannot use the build cache %s (%s); building without it", place, error.strerror)
        return stage(wheels, root, requested, compile_tree, compiler, {**(env or os.environ), ENV: "off"})
    with cache.shared():
        _stage.stage(fresh, root, requested=requested)
        root.mkdir(parents=True, exist_ok=True)
        tag = compile_tree(root) if compile_tree else None
        entries = cache.entries_for(cached, identity, compile_tree)
        staging = _merge(root, fresh, entries, tag)
    cache.prune_if_over()
    return staging


@dataclass
class _Entry:
    """A usable cache entry (checked)."""

    path: Path
    index: list[tuple[str, Packed]]
    tag: str | None

    @property
    def tree(self) -> Path:
        return self.path / "tree"


class _Damaged(Exception):
    """A cache entry is not what its records say."""


def _merge(root: Path, fresh: list[Path], entries: dict[Path, _Entry], tag: str | None) -> Staging:
    """The members of one tree staged from every wheel, as ``_stage`` would make it (first writer wins, identical
    collisions allowed); the cached wheels' metadata copied into ``root``."""
    fresh_members = list(_pack.walk(root))
    owners: dict[str, tuple[str, Path, Packed | None]] = {}
    for wheel in sorted([*fresh, *entries], key=lambda p: p.name.lower()):
        entry = entries.get(wheel)
        items = (
            [(name, entry.tree / name, packed) for name, packed in entry.index]
            if entry
            else [(name, path, None) for name, path in fresh_members]
        )
        for name, path, packed in items:
            seen = owners.get(name)
            if seen is None:
                owners[name] = (wheel.name, path, packed)
            elif not _same(seen[1], seen[2], path, packed):
                shown = name.removeprefix(f"{_stage.SITE}/")  # as _stage names it: the path in the wheel
                raise StagingError(f"{seen[0]} and {wheel.name} both install {shown!r} with different contents")
    directories = {parent for name in owners for parent in _parents(name)}
    clash = next((name for name in owners if name in directories), None)
    if clash is not None:
        raise StagingError(f"{owners[clash][0]} installs {clash!r}, a file where another wheel has a directory")
    packed_by_path: dict[Path, Packed] = {}
    members = []
    for name in sorted(owners, key=_walk_key):
        _, path, packed = owners[name]
        if packed is not None:
            if _is_metadata(name):
                target = root / name
                _copy_checked(path, target, packed)
                path = target
            packed_by_path[path] = packed
        members.append((name, path))
    pyc_tag = tag if fresh else next((e.tag for e in entries.values()), None)
    return Staging(root, members, packed_by_path, pyc_tag, [e.tree for e in entries.values()])


def _parents(name: str) -> Iterator[str]:
    """``a/b/c``: ``a/b``, ``a``."""
    end = name.rfind("/")
    while end > 0:
        yield name[:end]
        end = name.rfind("/", 0, end)


def _same(first: Path, first_packed: Packed | None, second: Path, second_packed: Packed | None) -> bool:
    if (
        first_packed
        and second_packed
        and (first_packed.size, first_packed.crc)
        != (
            second_packed.size,
            second_packed.crc,
        )
    ):
        return False
    return sha256_file(first) == sha256_file(second)


def _walk_key(name: str) -> list[tuple[int, str]]:
    """Sort key giving ``_pack.walk``'s order: per directory its files (sorted), then its subdirectories (sorted)."""
    parts = name.split("/")
    return [(1, part) for part in parts[:-1]] + [(0, parts[-1])]


def _is_metadata(name: str) -> bool:
    """What reading the staging tree needs from a cached wheel: its dist-info, scripts and ``.pth`` files."""
    parts = name.split("/")
    if parts[0] == _stage.SCRIPTS:
        return True
    if parts[0] != _stage.SITE or len(parts) < 2:
        return False
    return parts[1].endswith(".dist-info") or (len(parts) == 2 and parts[1].endswith(".pth"))


def _copy_checked(source: Path, target: Path, packed: Packed) -> None:
    data = source.read_bytes()
    if len(data) != packed.size or zlib.crc32(data) != packed.crc:  # changed since it was checked
        raise StagingError(f"the build cache's {source} changed during the build; build again")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    if packed.executable:
        target.chmod(0o755)


class Cache:
    """The build cache at ``path``, bounded to ``limit`` bytes."""

    def __init__(self, path: Path, limit: int = DEFAULT_SIZE) -> None:
        self.path = path
        self.limit = limit
        self.entries = path / _ENTRIES

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the cache's lock shared (what a build does while it uses entries)."""
        self.entries.mkdir(parents=True, exist_ok=True)
        with _locked(self.path / "lock", exclusive=False, wait=None) as held:
            assert held
            yield

    def entries_for(self, wheels: list[Path], compiler: str, compile_tree: Compile | None) -> dict[Path, _Entry]:
        """The checked entry of each wheel, made now where missing or damaged.

        Entries are made in the wheels' order: staging and compiling one wheel
        (installer is Python, compileall runs in processes) overlaps with
        compressing the one before it in a thread (zlib releases the GIL).
        """
        found: dict[Path, _Entry] = {}
        with ThreadPoolExecutor(1, thread_name_prefix="exearchive-cache") as packer:
            jobs = {}
            for wheel in wheels:
                key = _key(wheel, compiler)
                entry = self._lookup(wheel, self.entries / key)
                if entry is not None:
                    found[wheel] = entry
                    continue
                logger.info("build cache: staging, compiling and compressing %s", wheel.name)
                temp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=self.entries))
                try:
                    tree = temp / "tree"
                    _stage.stage([wheel], tree)
                    tree.mkdir(exist_ok=True)
                    tag = compile_tree(tree) if compile_tree else None
                except BaseException:
                    shutil.rmtree(temp, ignore_errors=True)
                    raise
                jobs[wheel] = packer.submit(self._finish, wheel, key, compiler, temp, tag)
            for wheel, job in jobs.items():
                found[wheel] = job.result()
        return found

    def _lookup(self, wheel: Path, path: Path) -> _Entry | None:
        if not path.is_dir():
            return None
        try:
            found = _load(path)
        except _Damaged as error:
            logger.warning("build cache: the entry of %s is damaged (%s); making it again", wheel.name, error)
            _set_aside(path)
            return None
        _touch(path / "used")
        logger.debug("build cache: %s from %s", wheel.name, path)
        return found

    def _finish(self, wheel: Path, key: str, compiler: str, temp: Path, tag: str | None) -> _Entry:
        """Compress the staged and compiled tree in ``temp``, write the entry's records, publish it."""
        try:
            written = _zipwrite.write(_pack.walk(temp / "tree"), temp / "packed.zip", _zip.FIXED_DATE)
            index = json.dumps(
                [[name, p.offset, p.csize, p.size, p.crc, p.method, p.executable] for name, p in written.members]
            ).encode()
            (temp / "index.json").write_bytes(index)
            size = sum(p.size for _, p in written.members) + (temp / "packed.zip").stat().st_size
            record = {
                "format": FORMAT,
                "wheel": wheel.name,
                "wheel_sha256": _wheel_hash(wheel),
                "compiler": compiler,
                "level": _deflate.LEVEL,
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
                return _load(final)
            packed = final / "packed.zip"
            return _Entry(final, [(name, dataclasses.replace(p, source=packed)) for name, p in written.members], tag)
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


def _key(wheel: Path, compiler: str) -> str:
    parts = [FORMAT, _wheel_hash(wheel), compiler, _deflate.LEVEL, installer_version]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def _wheel_hash(wheel: Path) -> str:
    return sha256_file(wheel)


def _load(path: Path) -> _Entry:
    """The entry at ``path``, checked: its records parse and the hashes of its index and packed bytes match."""
    try:
        record = json.loads((path / "entry.json").read_text())
        index_bytes = (path / "index.json").read_bytes()
        if record.get("format") != FORMAT or hashlib.sha256(index_bytes).hexdigest() != record["index_sha256"]:
            raise _Damaged("its index does not match its record")
        packed = path / "packed.zip"
        if sha256_file(packed) != record["packed_sha256"]:
            raise _Damaged("its packed bytes do not match their hash")
        if not (path / "tree").is_dir():
            raise _Damaged("its tree is missing")
        index = [
            (name, Packed(packed, offset, csize, size, crc, method, bool(executable)))
            for name, offset, csize, size, crc, method, executable in json.loads(index_bytes)
        ]
        for name, member in index:
            if _is_metadata(name):  # read by the build: checked here, copied later
                data = (path / "tree" / name).read_bytes()
                if len(data) != member.size or zlib.crc32(data) != member.crc:
                    raise _Damaged(f"{name} does not match its index")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise _Damaged(str(error)) from None
    return _Entry(path, index, record.get("pyc_tag"))


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
