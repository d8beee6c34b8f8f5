"""Deterministic zip writing: fixed dates, normalised modes, streamed contents.

Two builds of the same inputs give the same bytes: entries are added in a
sorted order by the callers, every entry gets the same date
(``SOURCE_DATE_EPOCH`` or 1980-01-01), modes are 0644 or 0755 (only the
executable bit survives), and the creating system is always recorded as Unix.
Contents are copied with a bounded buffer, never read whole.
"""

from __future__ import annotations

import os
import shutil
import time
import zipfile
from pathlib import Path

from ._errors import ExearchiveError

DateTime = tuple[int, int, int, int, int, int]

FIXED_DATE: DateTime = (1980, 1, 1, 0, 0, 0)
_MIN_EPOCH = 315532800  # 1980-01-01, the earliest date a zip can hold
_MAX_EPOCH = 4354819199  # 2107-12-31
_BUFFER = 1024 * 1024


def build_date(env: dict[str, str] | None = None) -> DateTime:
    """The date for every entry: ``SOURCE_DATE_EPOCH`` (clamped to zip's range) or a fixed one."""
    value = (env if env is not None else os.environ).get("SOURCE_DATE_EPOCH")
    if not value:
        return FIXED_DATE
    try:
        epoch = int(value)
    except ValueError:
        raise ExearchiveError(
            f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds; unset it or fix it"
        ) from None
    epoch = min(max(epoch, _MIN_EPOCH), _MAX_EPOCH)
    return time.gmtime(epoch)[:6]


def entry(name: str, date: DateTime, executable: bool = False, compress: bool = True) -> zipfile.ZipInfo:
    """A ZipInfo with normalised metadata."""
    info = zipfile.ZipInfo(name, date_time=date)
    info.create_system = 3  # Unix, whatever the build host
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    return info


def add_file(archive: zipfile.ZipFile, name: str, path: Path, date: DateTime, compress: bool = True) -> int:
    """Stream ``path`` into ``archive`` as ``name``; return its size."""
    executable = bool(path.stat().st_mode & 0o111)
    info = entry(name, date, executable, compress)
    size = path.stat().st_size
    with path.open("rb") as source, archive.open(info, "w", force_zip64=size > 0x7FFF0000) as target:
        shutil.copyfileobj(source, target, _BUFFER)
    return size


def add_bytes(
    archive: zipfile.ZipFile,
    name: str,
    data: bytes,
    date: DateTime,
    executable: bool = False,
    compress: bool = True,
    level: int | None = None,
) -> None:
    """Add a small in-memory member (deflated at ``level``, zlib's default when None)."""
    archive.writestr(entry(name, date, executable, compress), data, compresslevel=level)
