"""Write the payload and the archive, deterministically and atomically.

The archive is ``#!<python>`` followed by a zip holding, in this order,
``__exearchive__/payload.zip`` — the staging trees as a zip of their own
(``_multi``), stored uncompressed so the launcher can stream it from the
archive, and written in place (its bytes are written once) —, ``__main__.py``
(the manifest and a call into the launcher), the launcher package
``_exearchive_runtime`` (``_launcher``), ``__exearchive__/manifest.json`` and,
with several targets, their file lists.  Readers find the members through the
central directory, so the order is the writer's choice.  The archive is
written to a temporary file beside the target and renamed into place.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..runtime import LAUNCHER_FILES, MANIFEST_JSON, PAYLOAD, RUNTIME
from . import _compile, _deflate, _launcher, _zip, _zipwrite
from ._errors import ExearchiveError
from ._stage import SITE

logger = logging.getLogger(__name__)

# What a warm start imports from the archive: their bytecode is stored, not deflated, so that zipimport
# reads it without importing zlib or inflating anything (about 0.7 ms of every start).  On other
# interpreters zipimport compiles the first two from source (and takes the rest from the cache entry's
# compiled copy of the launcher), so their sources are stored too.
_WARM_PATH = frozenset({"__main__.py", f"{RUNTIME}/__init__.py", f"{RUNTIME}/_boot.py"})
_WARM_SOURCES = frozenset({"__main__.py", f"{RUNTIME}/__init__.py"})
_SMALLEST = 9  # compression-level 9 deflates the warm path's launcher files too

# The first statement refuses an interpreter older than the launcher's oldest (3.8) in one line; the file
# must parse and run that far on Python 2.7 and 3.0-3.7 (an ASCII literal, no newer syntax before it).
_MAIN = """\
# Made by exearchive {version}: run it with "python ARCHIVE [ARGS]" or "./ARCHIVE [ARGS]".
# Set EXEARCHIVE_TOOLS=1 and run it with "info" to see what it holds.
import sys

if sys.version_info < (3, 8):
    sys.stderr.write(
        "%s: error: this archive needs Python 3.8 or newer; this is Python %s at %s; run it with a newer "
        "interpreter, e.g. python3.8 %s\\n"
        % (sys.argv[0].split("/")[-1], sys.version.split()[0], sys.executable, sys.argv[0])
    )
    sys.exit(1)
MANIFEST = {manifest}
if __name__ == "__main__":
    import {runtime}

    # bytecode for this Python or the entry's copy; checked when cold; the chosen target's manifest
    manifest = {runtime}.start(MANIFEST, __loader__)
    from {runtime}._boot import main

    main(manifest, __loader__)
"""


@dataclass(frozen=True)
class Payload:
    """The payload written into an archive: its SHA-256 and size, how many files, their total size."""

    sha256: str
    size: int
    files: int
    unpacked: int


def compile_site(root: Path, skip: str | None = None) -> str | None:
    """Compile the tree's sources for this interpreter as unchecked-hash pycs.

    Returns the cache tag the bytecode is for (``cpython-311``), or None when
    this interpreter writes no bytecode.  Code objects name the file by its
    path inside the payload, so the bytes do not depend on the build directory;
    importlib puts the real path in when it loads them.  ``skip``: a regular
    expression of the paths below site-packages (``pkg/tests/x.py``) not compiled.
    """
    tag = sys.implementation.cache_tag
    if tag is None:
        return None
    logger.debug("compiling bytecode for %s", tag)
    site = root / SITE
    if site.is_dir():
        try:
            _compile.compile_dir(str(site), SITE, skip or "")  # on every core, in chunks
        except OSError as error:
            raise ExearchiveError(f"cannot compile the payload's bytecode: {error}") from None
    return tag


def walk(root: Path) -> Iterator[tuple[str, Path]]:
    """Every file under ``root`` as a payload member ``(posix name, path)``, in a stable sorted order:
    per directory its files (sorted), then each subdirectory (sorted), as ``os.walk`` goes.

    A symbolic link (to a file or a directory) is an error.  ``os.scandir``: its entries say what they are
    without another system call per file (half the time of ``os.walk`` + ``is_symlink``).
    """
    if root.is_dir():
        yield from _walk(str(root), "")


def _walk(directory: str, prefix: str) -> Iterator[tuple[str, Path]]:
    with os.scandir(directory) as listing:
        entries = sorted(listing, key=lambda entry: entry.name)
    subdirectories = []
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            subdirectories.append(entry)
        elif entry.is_symlink():
            raise ExearchiveError(f"the staging tree holds a symbolic link {prefix}{entry.name}; links are not packed")
        else:
            yield prefix + entry.name, Path(entry.path)
    for entry in subdirectories:
        yield from _walk(entry.path, f"{prefix}{entry.name}/")


def main_source(manifest: dict[str, Any], version: str) -> str:
    """The archive's ``__main__.py``: the manifest as a literal and a call into the launcher."""
    canonical = json.loads(json.dumps(manifest, sort_keys=True))
    return _MAIN.format(version=version, manifest=ascii(canonical), runtime=RUNTIME)


def write_archive(
    target: Path,
    shebang: str,
    members: list[tuple[str, Path]],
    manifest_for: Callable[[Payload], dict[str, Any]],
    version: str,
    packed: Mapping[Path, _zipwrite.Packed] | None = None,
    extra: Iterable[tuple[str, bytes]] = (),
    level: int = _deflate.LEVEL,
    launcher: _launcher.Launcher | None = None,
) -> Payload:
    """Write the archive to ``target`` atomically (temp file + rename); return what its payload holds.

    The payload comes first, written in place: ``members`` (``(name in the
    payload, file)``, in the order given, e.g. ``walk(root)``; ``packed``: the
    compressed bytes the build cache holds for some, the same bytes this would
    make).  Then the launcher (``launcher``: its files, compiling since the
    build started; made here if not given), ``__main__.py`` and the manifest
    that ``manifest_for`` makes of the payload, and ``extra``: more ``(name,
    bytes)`` members (the file lists of several targets); all deflated at
    ``level``, but for what a warm start reads.
    """
    if launcher is None:
        with _launcher.Launcher() as made:
            return write_archive(target, shebang, members, manifest_for, version, packed, extra, level, made)
    date = _zip.build_date()
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "w+b") as out:
            out.write(f"#!{shebang}\n".encode())
            archive = _zipwrite.Archive(out, temp, date)
            logger.debug("writing the payload")
            written, size, digest = archive.nested(PAYLOAD, members, packed, level)
            payload = Payload(digest, size, written.files, written.unpacked)
            manifest = {**manifest_for(payload), **launcher.keys()}
            files = launcher.members(main_source(manifest, version).encode())
            runtime = [(name, data) for name, data in files if name.removesuffix("c") != "__main__.py"]
            logger.debug("writing %s (payload %.1f MB)", target.name, payload.size / 1e6)
            for name, data in files:
                warm = _WARM_PATH if name.endswith(".pyc") else _WARM_SOURCES
                # stored: a warm start then never loads zlib (0.7 ms); deflated at level 9, the smallest archive
                if level != _SMALLEST and name.removesuffix("c") in warm:
                    archive.add(name, data, False)
                elif name.removesuffix("c") == "__main__.py":  # it holds the manifest: new in every build
                    archive.add(name, data, True, level)
                else:
                    archive.add_compressed(name, launcher.deflated(name, data, level))
            # the launcher's hashes only here: a warm start never needs them, the literal stays small
            text = json.dumps({**manifest, LAUNCHER_FILES: _launcher.hashes(runtime)}, indent=2, sort_keys=True)
            archive.add(MANIFEST_JSON, (text + "\n").encode(), True, level)
            for name, data in extra:
                archive.add(name, data, True, level)
            archive.finish()
        # Not synced to disk, as the wheel beside it is not (setuptools, pip and flit sync nothing): the rename
        # shows every process the whole archive or none, and syncing 19 MB cost a warm build 22 ms.
        temp.chmod(0o755)
        temp.replace(target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return payload
