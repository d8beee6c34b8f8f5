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

(Beside the entries: ``resolutions/``, the remembered resolutions (``_resolutions``), ``hashes.json``
(``_hashmemo``) and ``bytecode/``, the build side's own compiled modules (``_bytecache``).)

A later build stages only the project's own wheel (it changes every commit)
into its staging tree, reads the cached wheels' metadata (their
``.dist-info``, scripts and ``.pth`` files) in their entries' trees, and packs
every member of theirs from ``packed.zip`` as it is, without compressing it
again.  The members are merged in the order in which
``_pack.walk`` lists one tree staged from every wheel, and a file written by two
wheels is refused unless both wrote the same bytes, as in ``_stage``: the
archive is byte for byte the one built without the cache.

Entries are made in a temporary directory beside them and renamed into place
(a concurrent build that made the same entry keeps the first one).  Every use
checks the SHA-256 of ``packed.zip`` (as ``_hashmemo`` remembers it while its
stat is unchanged) and ``index.json`` and the CRC-32 of each metadata file it
reads; an entry that fails is set aside and made again, never packed.
Nothing is linked: cached files are only read.  A build holds a
shared lock on ``<cache>/lock`` from its first use of the cache until its
archive is written (``in_use``: the members it packs are read from the
entries then); pruning (after a build, when the cache is over its size, or
``exearchive cache prune --build``) takes it exclusively, so it never removes
an entry a build is using.

``EXEARCHIVE_BUILD_CACHE`` moves the cache (default: the platform's cache
directory + ``exearchive/build``) or, set to ``off``, disables it;
``EXEARCHIVE_BUILD_CACHE_SIZE`` bounds it (default 2 GB).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

from . import _deflate, _pack, _reuse, _stage
from ._cachedir import ENV as ENV  # re-exported: the cache's variable and place, named here too
from ._cachedir import location as location
from ._cachedir import make_private
from ._cachedir import usable_location as usable_location
from ._cachestore import DEFAULT_SIZE, Cache, Compile, Entry
from ._errors import ConfigError, StagingError
from ._hashing import sha256_file
from ._zipwrite import Packed

logger = logging.getLogger(__name__)

SIZE_ENV = "EXEARCHIVE_BUILD_CACHE_SIZE"
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


@dataclass
class Staging:
    """What the payload is made of: the staging tree, its members in order, and the ones already compressed."""

    root: Path
    members: list[tuple[str, Path]]
    packed: dict[Path, Packed] = field(default_factory=dict)
    pyc_tag: str | None = None
    trees: list[Path] = field(default_factory=list)
    """The cache entries' trees that members outside ``root`` are in."""


def usable_cache(env: Mapping[str, str] | None = None) -> Cache | None:
    """The build cache, its directories made private if need be; None when it is off or cannot be used safely."""
    place = usable_location(env)
    if place is None:
        return None
    cache = Cache(place, size_limit(env))
    try:
        make_private(cache.entries)
    except OSError as error:
        logger.debug("not using the build cache %s: %s", place, error.strerror)
        return None
    return cache


@contextlib.contextmanager
def in_use(env: Mapping[str, str] | None = None) -> Iterator[None]:
    """Hold the cache's lock shared for a whole build (its entries are read until the archive is written),
    then prune the cache to its bound if it is over it (``Cache.prune_if_over``)."""
    cache = usable_cache(env)
    if cache is None:
        yield
        return
    with cache.shared():
        yield
    cache.prune_if_over()


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
    level: int = _deflate.LEVEL,
) -> Staging:
    """Stage ``wheels`` into ``root`` and compile them (``compile_tree``, None: no bytecode), from the cache
    where it has them; ``requested`` names the project (staged afresh); ``compiler()`` says who compiles;
    ``level``: the deflate level (at another than ``_deflate.LEVEL``, no wheel's bytes are kept: ``_reuse``).
    The staging's members are read from the cache's entries: hold ``in_use`` until they are packed."""
    place = location(env)
    wanted = canonicalize_name(requested)
    fresh = [w for w in wheels if canonicalize_name(parse_wheel_filename(w.name)[0]) == wanted]
    cached = [w for w in wheels if w not in fresh]
    if place is None:
        unchanged: dict[str, _stage.Unchanged] = {}
        _stage.stage(wheels, root, requested=requested, unchanged=unchanged)
        root.mkdir(parents=True, exist_ok=True)
        tag = compile_tree(root) if compile_tree else None
        # the dependencies' unchanged files keep their wheels' bytes, as their cache entries do
        kept = _reuse.from_wheels(cached, root, unchanged) if level == _deflate.LEVEL else {}
        return Staging(root, list(_pack.walk(root)), kept, tag)
    identity = compiler_identity(compile_tree, compiler) if cached else ""
    cache = Cache(place, size_limit(env))
    try:
        make_private(place)
        make_private(cache.entries)
    except OSError as error:
        if (env if env is not None else os.environ).get(ENV):
            raise ConfigError(
                f"cannot use the build cache {place} ({error.strerror}); set {ENV} to another directory or to off"
            ) from None
        logger.warning("cannot use the build cache %s (%s); building without it", place, error.strerror)
        return stage(wheels, root, requested, compile_tree, compiler, {**(env or os.environ), ENV: "off"}, level)
    with cache.shared():
        _stage.stage(fresh, root, requested=requested)
        root.mkdir(parents=True, exist_ok=True)
        tag = compile_tree(root) if compile_tree else None
        entries = cache.entries_for(cached, identity, compile_tree, level)
        return _merge(root, fresh, entries, tag)


def compiler_identity(compile_tree: Compile | None, compiler: Callable[[], str]) -> str:
    """Who compiles the dependencies' bytecode, as the entries' keys name it (``compiler()``; no bytecode)."""
    return compiler() if compile_tree else "no bytecode"


def _merge(root: Path, fresh: list[Path], entries: dict[Path, Entry], tag: str | None) -> Staging:
    """The members of one tree staged from every wheel, as ``_stage`` would make it (first writer wins, identical
    collisions allowed); a cached wheel's members stay in its entry's tree, metadata too (``_staged.read`` reads
    it there)."""
    fresh_members = list(_pack.walk(root))
    owners: dict[str, tuple[str, Path, Packed | None]] = {}
    for wheel in sorted([*fresh, *entries], key=lambda p: p.name.lower()):
        entry = entries.get(wheel)
        if entry:
            tree = entry.tree  # once: a Path per member is most of this loop
            items: list[tuple[str, Path, Packed | None]] = [(name, tree / name, packed) for name, packed in entry.index]
        else:
            items = [(name, path, None) for name, path in fresh_members]
        for name, path, packed in items:
            seen = owners.get(name)
            if seen is None:
                owners[name] = (wheel.name, path, packed)
            elif not _same(seen[1], seen[2], path, packed):
                shown = name.removeprefix(f"{_stage.SITE}/")  # as _stage names it: the path in the wheel
                raise StagingError(f"{seen[0]} and {wheel.name} both install {shown!r} with different contents")
    directories = _directories(owners)
    clash = next((name for name in owners if name in directories), None)
    if clash is not None:
        raise StagingError(f"{owners[clash][0]} installs {clash!r}, a file where another wheel has a directory")
    packed_by_path: dict[Path, Packed] = {}
    members = []
    for name in sorted(owners, key=_walk_key):
        _, path, packed = owners[name]
        if packed is not None:
            packed_by_path[path] = packed
        members.append((name, path))
    pyc_tag = tag if fresh else next((e.tag for e in entries.values()), None)
    return Staging(root, members, packed_by_path, pyc_tag, [e.tree for e in entries.values()])


def _directories(names: Iterable[str]) -> set[str]:
    """Every directory above ``names`` (``a/b/c``: ``a/b``, ``a``): a name's parents are walked up only until one
    is known, as the rest above it then is."""
    found: set[str] = set()
    for name in names:
        end = name.rfind("/")
        while end > 0:
            parent = name[:end]
            if parent in found:
                break
            found.add(parent)
            end = name.rfind("/", 0, end)
    return found


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


def _walk_key(name: str) -> str:
    """Sort key giving ``_pack.walk``'s order: per directory its files (sorted), then its subdirectories (sorted).

    Each directory part becomes ``\x02 part \x00`` and the file name ``\x01 name``: at the first part where two
    names differ, a file (``\x01``) sorts before a directory (``\x02``), and two parts of the same kind compare
    as the parts do (``\x00``, which no name holds, ends a part before any character)."""
    cut = name.rfind("/")
    if cut < 0:
        return "\x01" + name
    return "\x02" + name[:cut].replace("/", "\x00\x02") + "\x00\x01" + name[cut + 1 :]
