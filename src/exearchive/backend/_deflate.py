"""Compress one file into a payload member's bytes: raw deflate, or stored when deflate does not help.

The same function makes a member's bytes for the payload writer and for the
build cache, so an archive packed from cached bytes is the one packed without
the cache.  ``zlib`` releases the GIL while it compresses, so callers run this
in threads.  Files up to ``WHOLE`` bytes are compressed in memory; larger ones
are compressed in ``CHUNK`` blocks (``compress_block``), never held whole.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

STORED, DEFLATED = 0, 8
LEVEL = 6
"""The deflate level of the members compressed here: zlib's default 6, the level most wheels are
deflated at, whose bytes a dependency's unchanged files keep (``_reuse``).  Level 9 packs numpy +
pandas 0.7% smaller for about 2.5 times the CPU of a cold build (README, "Benchmark results")."""
WHOLE = 1 << 20
CHUNK = 1 << 20
_WINDOW = 32 * 1024  # deflate's window: what a block may refer back to


@dataclass(frozen=True)
class Compressed:
    """A member's bytes and what its zip entry records about them."""

    data: bytes
    size: int
    crc: int
    method: int
    executable: bool
    sha256: str = ""
    """The SHA-256 (hex) of the uncompressed bytes, where it was asked for; else empty."""


def executable(path: Path) -> bool:
    """Whether the file's mode has an executable bit (the only mode bit a payload keeps)."""
    return bool(path.stat().st_mode & 0o111)


def compress_small(path: Path, level: int = LEVEL, digest: bool = False) -> Compressed:
    """A file of at most ``WHOLE`` bytes, compressed in one call (stored when deflate makes it no smaller);
    ``digest``: with its SHA-256, from the same read."""
    data = path.read_bytes()
    return compress_bytes(data, executable(path), level, digest)


def compress_bytes(data: bytes, is_executable: bool, level: int = LEVEL, digest: bool = False) -> Compressed:
    """In-memory bytes as a member's: raw deflate at ``level``, or stored when that is no smaller."""
    deflater = zlib.compressobj(level, zlib.DEFLATED, -15)
    packed = deflater.compress(data) + deflater.flush()
    crc = zlib.crc32(data)
    sha256 = hashlib.sha256(data).hexdigest() if digest else ""
    if len(packed) >= len(data):
        return Compressed(data, len(data), crc, STORED, is_executable, sha256)
    return Compressed(packed, len(data), crc, DEFLATED, is_executable, sha256)


def compress_block(path: Path, index: int, last: bool, level: int = LEVEL) -> tuple[bytes, bytes]:
    """Block ``index`` (``CHUNK`` bytes) of a large file, deflated on its own: ``(its bytes, deflated)``.

    The blocks of one file, concatenated in order, are one raw deflate stream
    (as pigz makes it): each block starts with the 32 KiB before it as its
    dictionary and ends with a sync flush (the last: the end of the stream), so
    they are compressed in parallel yet decompress as one member.  The output
    depends only on the file, ``CHUNK`` and ``level``.
    """
    start = index * CHUNK
    before = min(start, _WINDOW)
    with path.open("rb", buffering=0) as source:
        source.seek(start - before)
        data = source.read(before + CHUNK)
    dictionary, block = data[:before], data[before:]
    if dictionary:
        deflater = zlib.compressobj(level, zlib.DEFLATED, -15, zdict=dictionary)
    else:
        deflater = zlib.compressobj(level, zlib.DEFLATED, -15)
    packed = deflater.compress(block) + deflater.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
    return block, packed
