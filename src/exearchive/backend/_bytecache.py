"""Bytecode kept in the build cache: each module compiled once per interpreter, not once per build.

``python -m build`` makes a new environment for every isolated build and
installs the backend there without bytecode, so every build compiled the
archive step's own modules again (exearchive, installer, packaging: 0.27 s
of CPU on this project's 2-core reference machine), and the launcher's
modules once more for the archive (0.1 s).  This module keeps the results
in the build cache (and the launcher's files as deflated for an archive,
``_launcher.Launcher.deflated``, the same in every build)::

    <cache>/bytecode/<tag>/<key>   SHA-256 of the rest of the file, then the bytecode

``<tag>`` names the interpreter that compiled (its cache tag and a hash of
its full version and magic number); ``<key>`` is the SHA-256 of what was
compiled and how (:func:`key`).  Every read checks the file's hash: a
damaged file is compiled anew and replaced, never used.  Files are written
to a temporary name in their directory and renamed into place, so readers
see whole files only; two builds that race write the same bytes.  A use
touches a file at most once a day; ``exearchive cache prune --build --days N``
removes the files unused for N days, ``clear`` all of them.

Run as a script (``python -I -S _bytecache.py FOLDER PATH...``, by
``_warmup``, stdlib only) it writes the ``__pycache__`` file of every module
under each PATH that has none, from FOLDER where it has the module (an empty
FOLDER: compiled, nothing kept).  Those are checked hash-based pycs: the
import compares the source's hash with the one in the file, whatever the
source's mtime, so the same bytes serve every environment the module is
installed in (and the import fixes the code's file name to where it is).
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import sys
import time

DIRECTORY = "bytecode"
_DIGEST = 32  # the SHA-256 before the bytecode in each file
_TOUCH_AFTER = 86400.0  # a use marks a file used when it was last marked longer ago than this
_CHECKED_HASH = (3).to_bytes(4, "little")  # a pyc's flags: hash-based, checked against the source


def folder(cache: str | os.PathLike[str]) -> str:
    """The directory of ``cache`` that holds this interpreter's bytecode."""
    identity = f"{sys.implementation.name}\0{sys.version}\0{importlib.util.MAGIC_NUMBER.hex()}".encode()
    tag = sys.implementation.cache_tag or sys.implementation.name
    return os.path.join(cache, DIRECTORY, f"{tag}-{hashlib.sha256(identity).hexdigest()[:16]}")


def key(kind: str, source: bytes) -> str:
    """The name of the bytecode that ``kind`` (what is compiled, and how) makes of ``source``."""
    return hashlib.sha256(kind.encode() + b"\0" + source).hexdigest()


def load(directory: str, name: str) -> bytes | None:
    """The bytecode kept as ``name`` in ``directory``, or None when there is none or it is damaged."""
    path = os.path.join(directory, name)
    try:
        with open(path, "rb") as file:
            data = file.read()
            used = os.fstat(file.fileno()).st_mtime
    except OSError:
        return None
    body = data[_DIGEST:]
    if len(data) <= _DIGEST or hashlib.sha256(body).digest() != data[:_DIGEST]:
        return None
    if time.time() - used > _TOUCH_AFTER:
        try:
            os.utime(path)
        except OSError:
            pass
    return body


def keep(directory: str, name: str, body: bytes) -> None:
    """Keep ``body`` as ``name`` in ``directory`` (made if need be); a cache that cannot be written is skipped."""
    _write(os.path.join(directory, name), hashlib.sha256(body).digest() + body, 0o600, 0o700)


def forget(cache: str | os.PathLike[str], days: float | None = None, dry_run: bool = False) -> int:
    """Remove the bytecode kept in ``cache`` (what is unused for ``days``, when given); how many files."""
    limit = None if days is None else time.time() - days * 86400
    top = os.path.join(cache, DIRECTORY)
    removed = 0
    for tag in sorted(_names(top)):
        directory = os.path.join(top, tag)
        for name in sorted(_names(directory)):
            path = os.path.join(directory, name)
            try:
                if limit is None or os.stat(path).st_mtime < limit:
                    if not dry_run:
                        os.unlink(path)
                    removed += 1
            except OSError:
                continue
        if not dry_run:
            try:
                os.rmdir(directory)  # once empty
            except OSError:
                pass
    return removed


def stored(cache: str | os.PathLike[str]) -> tuple[int, int]:
    """How many bytecode files ``cache`` keeps, and their bytes."""
    top = os.path.join(cache, DIRECTORY)
    count = size = 0
    for tag in _names(top):
        for name in _names(os.path.join(top, tag)):
            try:
                size += os.stat(os.path.join(top, tag, name)).st_size
                count += 1
            except OSError:
                continue
    return count, size


def compile_trees(directory: str | None, paths: list[str]) -> None:
    """Write the missing ``__pycache__`` file of every module in ``paths`` (directories, recursively, and
    files), from ``directory`` where it keeps the module, compiled (and kept there) otherwise."""
    for path in paths:
        if not os.path.isdir(path):
            _module(directory, path)
            continue
        for top, subdirectories, files in os.walk(path):
            subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    _module(directory, os.path.join(top, name))


def _module(directory: str | None, path: str) -> None:
    try:
        cfile = importlib.util.cache_from_source(path)
    except (NotImplementedError, ValueError):  # no bytecode on this interpreter
        return
    if os.path.exists(cfile):  # the import checks it, and writes a new one if it is stale
        return
    try:
        with open(path, "rb") as file:
            source = file.read()
    except OSError:
        return
    name = key(f"module optimize={sys.flags.optimize}", source)
    pyc = load(directory, name) if directory else None
    if pyc is None:
        try:
            code = compile(source, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):  # the import says what is wrong with it
            return
        pyc = importlib.util.MAGIC_NUMBER + _CHECKED_HASH + importlib.util.source_hash(source) + marshal.dumps(code)
        if directory:
            keep(directory, name, pyc)
    _write(cfile, pyc, 0o666, 0o777)  # as the import writes them (less the umask)


def _write(path: str, data: bytes, mode: int, directory_mode: int) -> None:
    """Write ``path`` whole or not at all: a temporary file beside it, renamed into place."""
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), mode=directory_mode, exist_ok=True)
        handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            with open(handle, "wb") as file:
                file.write(data)
            os.replace(temp, path)
        except BaseException:
            os.unlink(temp)
            raise
    except OSError:  # no bytecode here: the import compiles, the next build compiles again
        pass


def _names(directory: str) -> list[str]:
    try:
        return os.listdir(directory)
    except OSError:
        return []


if __name__ == "__main__":
    compile_trees(sys.argv[1] or None, sys.argv[2:])
