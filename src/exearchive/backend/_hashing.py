"""SHA-256 of streams and files, read in bounded chunks (never whole)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO

CHUNK = 1024 * 1024


def sha256_stream(stream: IO[bytes]) -> tuple[hashlib._Hash, int]:
    """The SHA-256 of what is left in ``stream``, and how many bytes that was."""
    digest = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: stream.read(CHUNK), b""):
        digest.update(chunk)
        size += len(chunk)
    return digest, size


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file."""
    with path.open("rb") as handle:
        return sha256_stream(handle)[0].hexdigest()
