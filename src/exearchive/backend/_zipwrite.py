"""Write the payload zip: members compressed in threads, written in order, deterministically.

``zipfile`` can neither take bytes compressed elsewhere (the build cache's)
nor compress several members at once, so the payload is written here, as
APPNOTE.TXT describes the format: per member a local file header (sizes and
CRC-32 in it, no data descriptor) and its data; then the central directory and
the end records, with the Zip64 forms where a size, an offset or the number of
members needs them.  Every entry gets the same date, mode 0644 or 0755 and
"made on Unix"; names are UTF-8 (flagged when not ASCII).  The runtime's
reader (``runtime/_zipdir.py``) and ``zipfile`` both read it.

Members up to ``_deflate.WHOLE`` bytes are compressed by a pool of threads
(``zlib`` releases the GIL) while earlier ones are written, in batches of up
to ``_BATCH`` files and about ``_deflate.WHOLE`` bytes a task; at most
``_IN_FLIGHT`` tasks per worker are queued, so memory is bounded by that many
batches.  A larger file is compressed by the same pool in blocks of
``_deflate.CHUNK`` bytes, a few at a time, that make one deflate stream (its
header is patched with its CRC-32 and compressed size afterwards).  A member whose
bytes the build cache holds (``Packed``) is copied from there as it is.
"""

from __future__ import annotations

import collections
import hashlib
import os
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from . import _deflate
from ._zip import DateTime

_LOCAL = struct.Struct("<4s5H3L2H")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_EOCD = struct.Struct("<4s4H2LH")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_LOCATOR = struct.Struct("<4sLQL")
_LIMIT = 0xFFFFFFFF
_COUNT_LIMIT = 0xFFFF
_UTF8 = 0x800
_IN_FLIGHT = 8  # tasks queued per worker
_BATCH = 32  # small files compressed by one task (at most _deflate.WHOLE bytes of them, unless one is that big)
_COPY = 1 << 20
_RUN = 8 << 20  # at most this many bytes of members that follow one another in a source are copied at once
_ZIP64_FROM = 0x7FFF0000  # a nested zip that may pass this gets Zip64 headers (zipfile's margin)


@dataclass(frozen=True)
class Packed:
    """A member's compressed bytes kept elsewhere (the build cache): ``csize`` bytes at ``offset`` of ``source``."""

    source: Path
    offset: int
    csize: int
    size: int
    crc: int
    method: int
    executable: bool
    sha256: str = ""
    """The SHA-256 of the member's content (hex), where the build cache recorded it; else empty."""


@dataclass(frozen=True)
class Written:
    """What was written: how many members, their total uncompressed size, and where each one's data is."""

    files: int
    unpacked: int
    members: list[tuple[str, Packed]]


@dataclass
class _Entry:
    name: bytes
    flags: int
    method: int
    crc: int
    csize: int
    size: int
    offset: int
    executable: bool
    data: int = 0
    sha256: str = ""


def workers() -> int:
    """Compression threads: one per core."""
    return max(1, os.cpu_count() or 1)


def write(
    members: Iterable[tuple[str, Path]],
    target: Path,
    date: DateTime,
    packed: Mapping[Path, Packed] | None = None,
    level: int = _deflate.LEVEL,
    digests: bool = False,
) -> Written:
    """Write ``members`` (``(name, file)``, in the order given) as a zip at ``target``; ``digests``: each member's
    ``Packed`` in the result has the SHA-256 of its content, hashed in the read that compressed it (a member of
    ``packed`` keeps the one it has)."""
    with target.open("wb") as out:
        return _write_zip(_Writer(out, *_dos(date)), members, target, packed, level, digests)


def _dos(date: DateTime) -> tuple[int, int]:
    """A zip's (time, date) fields."""
    return (date[3] << 11) | (date[4] << 5) | (date[5] // 2), ((date[0] - 1980) << 9) | (date[1] << 5) | date[2]


def _write_zip(
    writer: _Writer,
    members: Iterable[tuple[str, Path]],
    target: Path,
    packed: Mapping[Path, Packed] | None,
    level: int,
    digests: bool = False,
) -> Written:
    """The members, the central directory and the end records through ``writer`` (``target``: the file it writes;
    ``digests``: as :func:`write` says)."""
    known = packed or {}
    entries: list[_Entry] = []
    sources: dict[Path, BinaryIO] = {}
    count = workers()
    # small files go to the pool in batches (one task per file cost more than compressing a tiny one)
    pending: collections.deque[tuple[list[tuple[str, Path]], Future[list[_deflate.Compressed]] | None]]
    pending = collections.deque()
    unpacked = 0
    with ThreadPoolExecutor(count, thread_name_prefix="exearchive-deflate") as pool:
        try:
            feed = iter(members)
            batch: list[tuple[str, Path]] = []
            batched = 0
            done = False
            run: _Run | None = None  # the last of pending while it is a run of known members (copy_run)
            while True:
                while not done and len(pending) < _IN_FLIGHT * count:
                    item = next(feed, None)
                    packed_item = known.get(item[1]) if item is not None else None
                    size = -1 if item is None or packed_item is not None else item[1].stat().st_size
                    small = 0 <= size <= _deflate.WHOLE
                    if item is not None and small:
                        batch.append(item)
                        batched += size
                    if batch and (not small or len(batch) == _BATCH or batched >= _deflate.WHOLE):
                        pending.append((batch, pool.submit(_compress_batch, [p for _, p in batch], level, digests)))
                        batch, batched, run = [], 0, None
                    if item is None:
                        done = True
                    elif packed_item is not None and run is not None and run.takes(item[0], packed_item):
                        run.items.append(item)
                        run.last = packed_item
                    elif not small:
                        pending.append(([item], None))
                        run = _Run(pending[-1][0], packed_item, packed_item) if packed_item is not None else None
                if not pending:
                    break
                items, future = pending.popleft()
                if future is not None:
                    for (name, _), member in zip(items, future.result(), strict=True):
                        entries.append(writer.whole(name, member))
                        unpacked += member.size
                    continue
                name, path = items[0]
                if run is not None and items is run.items:  # written now: what follows starts a new run
                    run = None
                if path in known:
                    copied = writer.copy_run([(n, known[p]) for n, p in items], sources)
                    entries += copied
                    unpacked += sum(e.size for e in copied[:-1])
                else:
                    entries.append(writer.large(name, path, _blocks(pool, path, level, 2 * count), digests))
                unpacked += entries[-1].size
            writer.finish(entries)
        finally:
            for _, future_ in pending:
                if future_ is not None:
                    future_.cancel()
            for source in sources.values():
                source.close()
    base = writer.base
    return Written(
        len(entries),
        unpacked,
        [
            (
                e.name.decode("utf-8"),
                Packed(target, base + e.data, e.csize, e.size, e.crc, e.method, e.executable, e.sha256),
            )
            for e in entries
        ],
    )


class Archive:
    """A zip written into ``out`` after what it already holds (a ``#!`` line), as zipfile would append it:
    offsets count from the file's start.

    :meth:`nested` writes a zip as a stored member in place (the payload: its bytes are written once), then
    :meth:`add` writes small members and :meth:`finish` the central directory.
    """

    def __init__(self, out: BinaryIO, target: Path, date: DateTime) -> None:
        self._out = out
        self._target = target
        self._dos = _dos(date)
        self._writer = _Writer(out, *self._dos, offset=out.tell())
        self._entries: list[_Entry] = []

    def nested(
        self,
        name: str,
        members: list[tuple[str, Path]],
        packed: Mapping[Path, Packed] | None = None,
        level: int = _deflate.LEVEL,
    ) -> tuple[Written, int, str]:
        """A zip of ``members`` (as :func:`write` makes it) stored as member ``name``; with its size and SHA-256."""
        known = packed or {}
        bound = sum(known[p].size if p in known else p.stat().st_size for _, p in members)
        zip64 = bound * 1.05 + 200 * len(members) >= _ZIP64_FROM
        outer = self._writer
        entry = outer._entry(name, _deflate.STORED, 0, 0, 0, False)
        start = outer.offset
        outer._start(entry, zip64)
        inner = _Writer(self._out, *self._dos, base=outer.offset)
        written = _write_zip(inner, members, self._target, known, level)
        self._out.flush()
        entry.size = entry.csize = inner.offset
        entry.crc, digest = _digests(self._out.fileno(), outer.offset, inner.offset)
        self._out.seek(start)
        self._out.write(outer._header(entry, zip64))
        outer.offset += inner.offset
        self._out.seek(outer.offset)
        self._entries.append(entry)
        return written, inner.offset, digest

    def add(self, name: str, data: bytes, compress: bool, level: int = _deflate.LEVEL) -> None:
        """A small member from memory, deflated at ``level`` (stored if that is no smaller) or stored."""
        member = (
            _deflate.compress_bytes(data, False, level)
            if compress
            else _deflate.Compressed(data, len(data), zlib.crc32(data), _deflate.STORED, False)
        )
        self.add_compressed(name, member)

    def add_compressed(self, name: str, member: _deflate.Compressed) -> None:
        """A small member already compressed (``_deflate.compress_bytes``)."""
        self._entries.append(self._writer.whole(name, member))

    def finish(self) -> None:
        """The central directory and the end records."""
        self._writer.finish(self._entries)


def _digests(fd: int, offset: int, size: int) -> tuple[int, str]:
    """CRC-32 and SHA-256 (hex) of ``size`` bytes at ``offset`` of ``fd``, read back from the page cache."""
    crc = 0
    digest = hashlib.sha256()
    end = offset + size
    while offset < end:
        chunk = os.pread(fd, min(_COPY, end - offset), offset)
        if not chunk:
            raise OSError("the archive is shorter than what was written to it")
        crc = zlib.crc32(chunk, crc)
        digest.update(chunk)
        offset += len(chunk)
    return crc, digest.hexdigest()


@dataclass
class _Run:
    """Known members whose headers and data follow one another in one source (``_Writer.copy_run``)."""

    items: list[tuple[str, Path]]
    first: Packed
    last: Packed

    def takes(self, name: str, packed: Packed) -> bool:
        """Whether ``packed``'s local header (no extra field) starts right after the run's last data in the same
        source, with the run then still at most ``_RUN`` bytes."""
        last = self.last
        return (
            (packed.source is last.source or packed.source == last.source)
            and last.offset + last.csize + _LOCAL.size + len(name.encode("utf-8")) == packed.offset
            and packed.offset + packed.csize - self.first.offset <= _RUN
            and max(packed.size, packed.csize, last.size, last.csize) < _LIMIT
        )


def _opened(sources: dict[Path, BinaryIO], path: Path) -> BinaryIO:
    """``path`` open for reading, once per write (``sources`` keeps it; the writer closes them at the end)."""
    source = sources.get(path)
    if source is None:
        source = sources[path] = path.open("rb", buffering=0)
    return source


def _compress_batch(paths: list[Path], level: int, digests: bool) -> list[_deflate.Compressed]:
    return [_deflate.compress_small(path, level, digests) for path in paths]


def _blocks(pool: ThreadPoolExecutor, path: Path, level: int, ahead: int) -> Iterator[tuple[bytes, bytes]]:
    """The deflated blocks of a large file, in order, compressed by the pool at most ``ahead`` at a time."""
    count = max(1, -(-path.stat().st_size // _deflate.CHUNK))
    queue: collections.deque[Future[tuple[bytes, bytes]]] = collections.deque()
    submitted = 0
    try:
        while submitted < count or queue:
            while submitted < count and len(queue) < ahead:
                queue.append(pool.submit(_deflate.compress_block, path, submitted, submitted == count - 1, level))
                submitted += 1
            yield queue.popleft().result()
    finally:
        for future in queue:
            future.cancel()


class _Writer:
    """Headers and data into ``out``, keeping count of the offset (from ``base``, where the zip starts in ``out``;
    ``offset``: what the zip's offsets count from there, e.g. a prefix already written)."""

    def __init__(self, out: BinaryIO, dos_time: int, dos_date: int, base: int = 0, offset: int = 0) -> None:
        self.out = out
        self.time = dos_time
        self.date = dos_date
        self.base = base
        self.offset = offset

    def _start(self, entry: _Entry, zip64: bool) -> None:
        header = self._header(entry, zip64)
        self._put(header)
        entry.data = self.offset

    def _put(self, data: bytes | memoryview) -> None:
        self.out.write(data)
        self.offset += len(data)

    def _header(self, entry: _Entry, zip64: bool) -> bytes:
        extra = struct.pack("<2H2Q", 1, 16, entry.size, entry.csize) if zip64 else b""
        sizes = (_LIMIT, _LIMIT) if zip64 else (entry.csize, entry.size)
        return (
            _LOCAL.pack(
                b"PK\x03\x04",
                45 if zip64 else 20,
                entry.flags,
                entry.method,
                self.time,
                self.date,
                entry.crc,
                *sizes,
                len(entry.name),
                len(extra),
            )
            + entry.name
            + extra
        )

    def _entry(self, name: str, method: int, crc: int, csize: int, size: int, executable: bool) -> _Entry:
        encoded = name.encode("utf-8")
        flags = 0 if encoded.isascii() else _UTF8
        return _Entry(encoded, flags, method, crc, csize, size, self.offset, executable)

    def whole(self, name: str, member: _deflate.Compressed) -> _Entry:
        entry = self._entry(name, member.method, member.crc, len(member.data), member.size, member.executable)
        entry.sha256 = member.sha256
        self._start(entry, False)
        self._put(member.data)
        return entry

    def copy(self, name: str, packed: Packed, sources: dict[Path, BinaryIO]) -> _Entry:
        entry = self._entry(name, packed.method, packed.crc, packed.csize, packed.size, packed.executable)
        entry.sha256 = packed.sha256
        self._start(entry, max(packed.size, packed.csize) >= _LIMIT)
        source = _opened(sources, packed.source)
        source.seek(packed.offset)
        left = packed.csize
        while left:
            chunk = source.read(min(_COPY, left))
            if not chunk:
                raise OSError(f"{packed.source} is shorter than its index says")
            self._put(chunk)
            left -= len(chunk)
        return entry

    def copy_run(self, members: list[tuple[str, Packed]], sources: dict[Path, BinaryIO]) -> list[_Entry]:
        """Members whose headers and data lie one after another in one source (``_Run``): read and written
        at once where every header there is the one this writer would write (the same date, no extra field),
        else member by member."""
        if len(members) == 1:
            return [self.copy(*members[0], sources)]
        first, last = members[0][1], members[-1][1]
        start = first.offset - _LOCAL.size - len(members[0][0].encode("utf-8"))
        source = _opened(sources, first.source)
        source.seek(start)
        data = bytearray()
        while len(data) < last.offset + last.csize - start:
            chunk = source.read(last.offset + last.csize - start - len(data))
            if not chunk:
                raise OSError(f"{first.source} is shorter than its index says")
            data += chunk
        entries = []
        at = 0
        for name, packed in members:
            entry = self._entry(name, packed.method, packed.crc, packed.csize, packed.size, packed.executable)
            header = self._header(entry, False)
            if data[at : at + len(header)] != header or packed.offset - start != at + len(header):
                return [self.copy(name, packed, sources) for name, packed in members]
            entry.offset, entry.data, entry.sha256 = self.offset + at, self.offset + at + len(header), packed.sha256
            entries.append(entry)
            at += len(header) + packed.csize
        self._put(memoryview(data))
        return entries

    def large(self, name: str, path: Path, blocks: Iterator[tuple[bytes, bytes]], digest: bool = False) -> _Entry:
        """A large file from its deflated blocks; its header is patched with the CRC-32 and sizes at the end;
        ``digest``: the entry gets the SHA-256 of the blocks."""
        size = path.stat().st_size
        zip64 = size * 1.05 >= _LIMIT  # deflate can grow incompressible data a little
        entry = self._entry(name, _deflate.DEFLATED, 0, 0, size, _deflate.executable(path))
        start = self.offset
        self._start(entry, zip64)
        entry.size = entry.crc = entry.csize = 0
        hashed = hashlib.sha256() if digest else None
        for block, packed in blocks:
            entry.size += len(block)
            entry.crc = zlib.crc32(block, entry.crc)
            if hashed is not None:
                hashed.update(block)
            entry.csize += len(packed)
            self._put(packed)
        if entry.size != size:
            raise OSError(f"{path} changed while it was packed")
        entry.sha256 = hashed.hexdigest() if hashed is not None else ""
        self.out.seek(self.base + start)
        self.out.write(self._header(entry, zip64))
        self.out.seek(self.base + self.offset)
        return entry

    def finish(self, entries: list[_Entry]) -> None:
        start = self.offset
        for entry in entries:
            self._put(_central(entry, self.time, self.date))
        size = self.offset - start
        if len(entries) >= _COUNT_LIMIT or size >= _LIMIT or start >= _LIMIT:
            record = self.offset
            self._put(_EOCD64.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, len(entries), len(entries), size, start))
            self._put(_LOCATOR.pack(b"PK\x06\x07", 0, record, 1))
        count = min(len(entries), _COUNT_LIMIT)
        self._put(_EOCD.pack(b"PK\x05\x06", 0, 0, count, count, min(size, _LIMIT), min(start, _LIMIT), 0))


def _central(entry: _Entry, dos_time: int, dos_date: int) -> bytes:
    """The central directory record of ``entry``, with a Zip64 extra field for what does not fit 32 bits."""
    wide = [value for value in (entry.size, entry.csize, entry.offset) if value >= _LIMIT]
    extra = struct.pack(f"<2H{len(wide)}Q", 1, 8 * len(wide), *wide) if wide else b""
    mode = 0o100755 if entry.executable else 0o100644
    version = 45 if wide or entry.size >= _LIMIT else 20
    return (
        _CENTRAL.pack(
            b"PK\x01\x02",
            (3 << 8) | version,
            version,
            entry.flags,
            entry.method,
            dos_time,
            dos_date,
            entry.crc,
            min(entry.csize, _LIMIT),
            min(entry.size, _LIMIT),
            len(entry.name),
            len(extra),
            0,
            0,
            0,
            mode << 16,
            min(entry.offset, _LIMIT),
        )
        + entry.name
        + extra
    )
