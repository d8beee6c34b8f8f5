"""Bytecode for the archive step's own modules, compiled on another core while setuptools builds the wheel.

``python -m build`` installs the backend into a new environment with ``pip
install --no-compile``, so every isolated build starts without bytecode for
exearchive, installer and packaging, and the archive step's first imports
compile some fifty modules from their sources (50-60 ms on one core, in
every build).  Importing setuptools and building the wheel, which come first,
take longer than that on one core, so ``build_wheel`` starts ``compileall`` on
those packages in another process before it (:func:`compiled_in_background`).
It writes the ``__pycache__`` files that the imports would look for
(atomically, as py_compile does), so the imports find them; what it has not
finished by then is compiled by the import as before.  That process is
``_bytecache`` run as a script: it takes the bytecode from the build cache
where an earlier build kept it (with the cache off, it compiles as
``compileall`` would), so a warm build compiles nothing.  Nothing is started
where this process writes no bytecode (``-B``, ``PYTHONDONTWRITEBYTECODE``) or
cannot write beside the packages.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from . import _bytecache, _cachedir

# the packages the archive step imports, besides the build side itself
_PACKAGES = ("installer", "packaging")
# and what it imports of the rest of exearchive (the runtime is mostly the launcher's, which it does not import)
_FILES = ("__init__.py", "runtime/__init__.py", "runtime/_markers.py", "runtime/_versions.py")
# compiles the directories (recursively) and the files it is given, from the build cache's bytecode; -I -S:
# nothing else is imported (the script is stdlib only)
_COMPILE = _bytecache.__file__


@contextlib.contextmanager
def compiled_in_background() -> Iterator[subprocess.Popen[bytes] | None]:
    """Compile the archive step's packages in the background while the block runs (then stop, if still at it).

    Gives the compiling process, or None where none was started.
    """
    paths = [] if sys.dont_write_bytecode or not sys.executable else _paths()
    if not paths:
        yield None
        return
    flags = ["-" + "O" * sys.flags.optimize] if sys.flags.optimize else []
    if sys.pycache_prefix:  # where this process's imports look for bytecode (-I below ignores the variable)
        flags += ["-X", f"pycache_prefix={sys.pycache_prefix}"]
    try:
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", *flags, _COMPILE, _cachedir.bytecode_folder() or "", *paths],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError:  # no bytecode ahead of time; the imports compile what they need
        yield None
        return
    try:
        yield process
    finally:
        if process.poll() is None:  # a failed or very short build: the files written so far are whole
            process.kill()
        process.wait()


def _paths() -> list[str]:
    """The packages' directories (and exearchive's files) this process can write bytecode into."""
    here = Path(__file__).resolve().parent
    found = [here, *(here.parent / name for name in _FILES)]
    for name in _PACKAGES:
        spec = importlib.util.find_spec(name)  # found, not imported
        found += [Path(path) for path in spec.submodule_search_locations or []] if spec else []
    return [str(path) for path in found if os.access(path if path.is_dir() else path.parent, os.W_OK)]
