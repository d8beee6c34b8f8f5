"""Several targets in one payload: every distinct file stored once, a file list and a cache id per target.

Each target is staged into a tree of its own.  A file that is the same (path,
bytes and mode) in several trees is stored once under its path; a variant of
a path that differs from the one stored there is stored as ``~<k>/<path>``,
``k`` the index of the first target that has that variant.  A target's file
list names the payload members it is made of (a ``~k/`` member extracts to
its plain path).  Its cache id is a hash of its sorted ``(path, mode,
sha256)`` list: two archives whose target holds the same files share the
extracted entry, and two different targets never do (see ``runtime/_boot``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..runtime import ID_LENGTH, VARIANT
from ._hashing import sha256_file
from ._zipwrite import Packed


@dataclass(frozen=True)
class TreeFile:
    """One file of a staged tree."""

    path: str
    """Its name in the payload (posix)."""
    mode: int
    """0o755 or 0o644: only the executable bit is stored."""
    sha256: str
    source: Path


@dataclass(frozen=True)
class Merged:
    """The payload's members and each target's list of them."""

    members: list[tuple[str, Path]]
    """``(member name, file)``, sorted by name: what ``_pack.write_payload`` takes."""
    lists: list[list[str]]
    """Per target, the member names it is made of, sorted."""


def tree_files(members: Iterable[tuple[str, Path]], known: Mapping[Path, Packed] | None = None) -> list[TreeFile]:
    """The files of one target's staged tree (``(name, file)`` members, e.g. ``_pack.walk``), with mode and hash;
    ``known``: the build cache's members, whose mode and hash its index records (they are not read again)."""
    found = known or {}
    files = []
    for name, path in members:
        packed = found.get(path)
        if packed is not None and packed.sha256:
            files.append(TreeFile(name, 0o755 if packed.executable else 0o644, packed.sha256, path))
        else:
            files.append(TreeFile(name, 0o755 if path.stat().st_mode & 0o111 else 0o644, sha256_file(path), path))
    return files


def target_id(files: Iterable[TreeFile]) -> str:
    """The cache id of a target: a hash of its sorted ``(path, mode, sha256)`` list, ``ID_LENGTH`` hex digits."""
    digest = hashlib.sha256()
    for item in sorted(files, key=lambda f: f.path):
        digest.update(b"%s\0%o\0%s\n" % (item.path.encode("utf-8"), item.mode, item.sha256.encode()))
    return digest.hexdigest()[:ID_LENGTH]


def merge(trees: list[list[TreeFile]]) -> Merged:
    """One payload for every tree: identical files once, differing variants under ``~<k>/``."""
    stored: dict[str, Path] = {}
    variants: dict[tuple[str, int, str], str] = {}  # (path, mode, sha256) -> the member that holds it
    lists = []
    for index, files in enumerate(trees):
        names = []
        for item in files:
            key = (item.path, item.mode, item.sha256)
            member = variants.get(key)
            if member is None:
                member = item.path if item.path not in stored else f"{VARIANT}{index}/{item.path}"
                variants[key] = member
                stored[member] = item.source
            names.append(member)
        lists.append(sorted(names))
    return Merged(sorted(stored.items()), lists)


def plain_path(member: str) -> str:
    """Where a payload member goes in a target's tree: ``~k/`` taken off."""
    if member.startswith(VARIANT):
        return member.split("/", 1)[1]
    return member
