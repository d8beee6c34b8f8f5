"""A wheel's own compressed bytes, reused for the files staged from it unchanged.

Most of what a wheel installs is its members' bytes as they are (only
RECORD, INSTALLER, REQUESTED and scripts are written anew), and most members
are already deflated, by the same zlib the payload writer uses.  Inflating
them to stage them and deflating them again to pack them is most of a cold
build's work on a large dependency (botocore's 13 MB of JSON, numpy's shared
libraries), so a staged file whose size and CRC-32 are those of a deflated
member of the wheel it came from is packed with that member's compressed
bytes, copied as they are (``_zipwrite.Packed``, as the build cache's bytes
are).  The payload then holds each such file exactly as its wheel did.  The
staged file's SHA-256, which the content id needs, is computed in the same
read as its CRC-32 (``Packed.sha256``), so the file is not read again.

The files are matched by path: a member ``a/b.py`` (or
``NAME.data/purelib/a/b.py``, ``.../platlib/...``) is staged as
``site-packages/a/b.py``.  The same choice is made with the build cache and
without it, so the archives are byte-identical either way.
"""

from __future__ import annotations

import hashlib
import struct
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path

from ._deflate import DEFLATED
from ._stage import SITE, Unchanged
from ._zipwrite import Packed

_LOCAL = struct.Struct("<4s22xHH")  # a local header: its signature, then the lengths of name and extra field
_LOCAL_SIGNATURE = b"PK\x03\x04"
_LIBS = ("/purelib/", "/platlib/")
_READ = 1 << 20


def from_wheels(
    wheels: Iterable[Path], root: Path, unchanged: Mapping[str, Unchanged] | None = None
) -> dict[Path, Packed]:
    """For files staged into ``root`` from ``wheels`` (the first wheel in staging order wins): their members' bytes."""
    found: dict[Path, Packed] = {}
    for wheel in sorted(wheels, key=lambda p: p.name.lower()):
        for path, packed in from_wheel(wheel, root, unchanged).items():
            found.setdefault(path, packed)
    return found


def from_wheel(wheel: Path, root: Path, unchanged: Mapping[str, Unchanged] | None = None) -> dict[Path, Packed]:
    """The deflated members of ``wheel`` that ``root`` holds unchanged, each as its compressed bytes in the wheel;
    ``unchanged``: what staging saw written unchanged (those files are not read again)."""
    found: dict[Path, Packed] = {}
    written = unchanged or {}
    site = root / SITE
    with zipfile.ZipFile(wheel) as archive, wheel.open("rb") as raw:
        for info in archive.infolist():
            if info.compress_type != DEFLATED or info.flag_bits & 0x1 or info.is_dir():
                continue
            staged = _staged_name(info.filename)
            if staged is None:
                continue
            path = site / staged
            known = written.get(str(path))
            if known is not None and known.wheel == wheel.name and known.member == info.filename:
                digest, executable = known.sha256, known.executable
            else:
                try:
                    stat = path.lstat()
                except OSError:
                    continue
                if stat.st_size != info.file_size:
                    continue
                crc, digest = _digests(path)
                if crc != info.CRC:
                    continue
                executable = bool(stat.st_mode & 0o111)
            raw.seek(info.header_offset)
            signature, name_length, extra_length = _LOCAL.unpack(raw.read(_LOCAL.size))
            if signature != _LOCAL_SIGNATURE:
                continue
            offset = info.header_offset + _LOCAL.size + name_length + extra_length
            found[path] = Packed(
                wheel, offset, info.compress_size, info.file_size, info.CRC, DEFLATED, executable, digest
            )
    return found


def _staged_name(member: str) -> str | None:
    """Where ``member`` is staged, relative to site-packages; None for what is not staged there as it is."""
    top, _, rest = member.partition("/")
    if not top.endswith(".data"):
        return None if top.endswith(".dist-info") and rest == "RECORD" else member
    for lib in _LIBS:
        if member.startswith(top + lib):
            return member[len(top) + len(lib) :]
    return None


def _digests(path: Path) -> tuple[int, str]:
    """The file's CRC-32 and SHA-256 (hex), in one read: the SHA-256 is what the content id needs of it."""
    crc = 0
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_READ):
            crc = zlib.crc32(chunk, crc)
            digest.update(chunk)
    return crc, digest.hexdigest()
