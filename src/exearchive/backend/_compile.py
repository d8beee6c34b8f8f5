"""Compile a tree's Python sources to bytecode on every core, the same bytes whoever compiles and in what order.

Used by the build interpreter (``compile_dir``, from ``_pack.compile_site``)
and, as a script, by another interpreter compiling for its own target
(``_bytecode``)::

    python _compile.py DIRECTORY DDIR SKIP      # prints that interpreter's cache tag

so this file uses the standard library only, in Python 3.8 syntax.  Each
source gets an unchecked-hash pyc in its ``__pycache__``, its code objects
naming the file ``DDIR/<path below DIRECTORY>`` (the path inside the payload,
not the build directory's).  ``SKIP`` is a regular expression matched at the
start of the path below ``DIRECTORY`` (``pkg/tests/x.py``); an empty one skips nothing.

Not ``compileall.compile_dir(workers=0)``, whose pool hands out one file per
task: on 20,000 small modules, passing tasks between processes took half the
time.  Here each worker takes the files in chunks.  Sources that do not
compile get no bytecode, as with ``compileall -q``.

CPython keeps one object per one-character Latin-1 string, and marshal
flags it as interned or not as it is in the compiling process at that
moment (earlier code may have interned ``"*"``, say), so the same source
compiled after different files gave different bytes: every process that
compiles here interns all of them first.
"""

from __future__ import annotations

import compileall
import os
import py_compile
import re
import sys

_MODE = py_compile.PycInvalidationMode.UNCHECKED_HASH
_CHUNKS_PER_WORKER = 16
_SERIAL_BELOW = 64  # fewer sources than this are compiled in this process


def intern_latin1() -> None:
    """Intern every one-character Latin-1 string (see the module's docstring)."""
    for code in range(256):
        sys.intern(chr(code))


def compile_dir(directory: str, ddir: str, skip: str = "") -> None:
    """Compile every ``.py`` file under ``directory`` (see the module's docstring)."""
    intern_latin1()
    sources = _sources(directory, ddir, re.compile(skip) if skip else None)
    workers = os.cpu_count() or 1
    if workers > 1 and len(sources) >= _SERIAL_BELOW:
        try:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(workers, initializer=intern_latin1) as pool:
                chunk = max(1, len(sources) // (workers * _CHUNKS_PER_WORKER))
                for _ in pool.map(_compile, sources, chunksize=chunk):
                    pass
            return
        except (ImportError, NotImplementedError, OSError):  # no working multiprocessing here: one process
            pass
    for source in sources:
        _compile(source)


def _sources(directory: str, ddir: str, skip: re.Pattern[str] | None) -> list[tuple[str, str]]:
    """``(source, its directory's name in the payload)`` for every source below ``directory``, in a stable order."""
    found = []
    top = len(directory.rstrip(os.sep)) + 1
    for parent, subdirs, files in os.walk(directory):
        subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
        below = parent[top:]
        inside = os.path.join(ddir, below) if below else ddir
        for name in sorted(files):
            path = os.path.join(parent, name)
            if name.endswith(".py") and not (skip and skip.match(path[top:])):
                found.append((path, inside))
    return found


def _compile(source: tuple[str, str]) -> None:
    compileall.compile_file(source[0], ddir=source[1], quiet=2, invalidation_mode=_MODE)


if __name__ == "__main__":
    compile_dir(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
    sys.stdout.write(sys.implementation.cache_tag + "\n")
