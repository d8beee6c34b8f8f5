"""SHA-256 of large files that every build reads again, remembered by what ``stat`` says of them.

A warm build would hash the same bytes each time: the dependency wheels of a
find-links directory (a build cache entry's key is its wheel's hash) and each
entry's ``packed.zip`` (checked before it is copied into the archive).  Their
hashes are kept in the build cache (``<cache>/hashes.json``), each under the
file's device and inode, with its size and modification time: a file whose
``stat`` still says all four is not read again, under whatever path it is.

That is the trust the remembered resolutions already place in a find-links
file's size and modification time: changing a file's bytes while keeping its
inode, size and mtime takes a deliberate ``utime``.  A hard link shares the
inode, so the wheels a remembered resolution links into each build's own
directory keep their hashes; a copy is hashed again.  Two guards keep a stale hash out:

- a file is remembered only once its mtime is ``SETTLED_NS`` old, so that a
  write within the clock's granularity after the hash cannot keep its stat;
- a file whose ``stat`` changed while it was hashed is not remembered.

The file holds the newest ``KEEP`` hashes; it is replaced atomically, and a
file that cannot be read or written only costs the hashing (never an error).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path

from ._hashing import sha256_file

logger = logging.getLogger(__name__)

FILE = "hashes.json"
KEEP = 4096
SETTLED_NS = 2 * 10**9

_Stamp = list[int]


class Hashes:
    """The remembered hashes of the build cache at ``cache`` (None: nothing remembered)."""

    def __init__(self, cache: Path | None) -> None:
        self._path = cache / FILE if cache is not None else None
        self._known: dict[str, list[object]] | None = None
        self._new: dict[str, list[object]] = {}

    def sha256(self, file: Path) -> str:
        """The hex SHA-256 of ``file``: remembered while its stat is the same, else read (and remembered)."""
        stamp = _stamp(file)
        key = f"{stamp[0]}:{stamp[1]}"
        known = self._new.get(key) or self._load().get(key)
        if known is not None and known[:2] == stamp[2:] and isinstance(known[2], str):
            return known[2]
        digest = sha256_file(file)
        if time.time_ns() - stamp[3] >= SETTLED_NS and _stamp(file) == stamp:
            self._new[key] = [*stamp[2:], digest]
        return digest

    def save(self) -> None:
        """Write what was hashed anew, merged with what the file holds now (another build may have added to it)."""
        if not self._new or self._path is None:
            return
        merged = _read(self._path)
        for key in self._new:  # hashed anew: moved to the end, the newest, whatever position it had
            merged.pop(key, None)
        merged.update(self._new)
        kept = dict(list(merged.items())[-KEEP:])
        try:
            handle, temp = tempfile.mkstemp(dir=self._path.parent, prefix=".hashes-")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    json.dump(kept, out)
                Path(temp).replace(self._path)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        except OSError as error:
            logger.debug("could not remember the hashes in %s: %s", self._path, error)
            return
        self._known, self._new = kept, {}

    def _load(self) -> dict[str, list[object]]:
        if self._known is None:
            self._known = _read(self._path) if self._path is not None else {}
        return self._known


def _stamp(file: Path) -> _Stamp:
    """Device, inode, size, mtime (ns)."""
    info = file.stat()
    return [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns]


def _read(path: Path) -> dict[str, list[object]]:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {key: value for key, value in found.items() if isinstance(value, list) and len(value) == 3}


def forget(cache: Path) -> None:
    """Remove the remembered hashes of the build cache at ``cache`` (``exearchive cache clear``)."""
    try:
        (cache / FILE).unlink(missing_ok=True)
    except OSError as error:
        logger.debug("could not remove %s: %s", cache / FILE, error)
