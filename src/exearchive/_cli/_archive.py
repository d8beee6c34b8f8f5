"""An archive read without running it: its ``#!`` line, its manifest, its payload member.

An archive is a ``#!`` line and a zip holding ``__exearchive__/manifest.json``
(what the launcher's ``__main__.py`` holds as a literal) and the payload,
``__exearchive__/payload.zip``, stored uncompressed.  Anything else is not an
exearchive archive; an archive whose zip, manifest or payload is broken is
damaged.  Either is one :class:`CommandError` line.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..runtime import FORMAT, PAYLOAD, RUNTIME, _integrity
from ..runtime import MANIFEST_JSON as MANIFEST
from ._errors import CommandError

_SNIFF = 256 * 1024  # how much of a broken zip to look at for our member names
_REQUIRED = {"format": int, "id": str, "name": str, "version": str}


@dataclass(frozen=True)
class Archive:
    """What an archive file says about itself."""

    path: Path
    size: int
    shebang: str | None
    manifest: dict[str, Any]
    payload_size: int
    """The stored size of the payload member."""


def read(path: Path) -> Archive:
    """Read the archive at ``path``; a :class:`CommandError` if it is not an intact exearchive archive."""
    try:
        path = path.absolute()
    except FileNotFoundError:  # os.getcwd() of a deleted directory
        raise CommandError(
            f"the current directory no longer exists, so {str(path)!r} has no meaning; "
            "run this from an existing directory or give the archive's absolute path"
        ) from None
    if not path.exists():
        raise CommandError(f"{str(path)!r} does not exist")
    if path.is_dir():
        raise CommandError(f"{str(path)!r} is a directory, not an archive")
    try:
        with path.open("rb") as handle:
            first = handle.readline(512)
            shebang = first[2:].decode(errors="replace").strip() if first.startswith(b"#!") else None
            try:
                with zipfile.ZipFile(handle) as archive:
                    manifest = _manifest(archive, path)
                    payload = _payload(archive, path, manifest)
            except (zipfile.BadZipFile, EOFError) as error:
                raise _not_a_zip(path, handle, error) from None
        size = path.stat().st_size
    except OSError as error:
        raise CommandError(f"cannot read {str(path)!r}: {error.strerror or error}") from None
    return Archive(path, size, shebang, manifest, payload.file_size)


def problems(archive: Archive) -> list[str]:
    """Why the archive is damaged or would be refused by the launcher; ``[]`` when every member is intact.

    The launcher's own check (:mod:`exearchive.runtime._integrity`, the one its
    ``verify`` tool makes): every member's CRC-32, the launcher's hashes, the
    payload's hash and members, the manifest.
    """
    found: list[str] = _integrity.problems(str(archive.path))
    return found


def _manifest(archive: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    try:
        data = archive.read(MANIFEST)
    except KeyError:
        raise CommandError(
            f"{str(path)!r} is a zip file but not an exearchive archive (it has no {MANIFEST})"
        ) from None
    except (zlib.error, zipfile.BadZipFile, EOFError) as error:
        raise _damaged(path, f"its manifest cannot be read ({error})") from None
    try:
        manifest = json.loads(data)
    except ValueError as error:
        raise _damaged(path, f"its manifest is not valid JSON ({error})") from None
    if not isinstance(manifest, dict):
        raise _damaged(path, "its manifest is not a JSON object")
    fmt = manifest.get("format")
    if isinstance(fmt, int) and fmt > FORMAT:
        raise CommandError(
            f"{str(path)!r} has archive format {fmt}, newer than this exearchive reads ({FORMAT}); "
            "inspect it with a newer exearchive"
        )
    for key, kind in _REQUIRED.items():
        if not isinstance(manifest.get(key), kind):
            raise _damaged(path, f"its manifest has no valid {key!r}")
    if not isinstance(manifest.get("entry_point"), str) and not manifest.get("interpreter"):
        raise _damaged(path, "its manifest has no valid 'entry_point'")
    return manifest


def _payload(archive: zipfile.ZipFile, path: Path, manifest: dict[str, Any]) -> zipfile.ZipInfo:
    try:
        info = archive.getinfo(PAYLOAD)
    except KeyError:
        raise _damaged(path, f"it has no payload ({PAYLOAD})") from None
    expected = (manifest.get("payload") or {}).get("size")
    if isinstance(expected, int) and info.file_size != expected:
        raise _damaged(path, f"its payload is {info.file_size} bytes, its manifest says {expected}")
    return info


def _not_a_zip(path: Path, handle: Any, error: Exception) -> CommandError:
    handle.seek(0)
    head = handle.read(_SNIFF)
    if RUNTIME.encode() in head or MANIFEST.encode() in head:
        found = _integrity.problems(str(path))
        return _damaged(path, found[0] if found else f"it is not a readable zip file ({error})")
    return CommandError(f"{str(path)!r} is not an exearchive archive (it is not a zip file)")


def _damaged(path: Path, why: str) -> CommandError:
    return CommandError(f"the archive {str(path)!r} is damaged: {why}; rebuild it or get an intact copy")
