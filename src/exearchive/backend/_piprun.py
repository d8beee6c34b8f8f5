"""Run pip for the build interpreter from a given pip package, and end the process as soon as pip is done.

Run as a script by the build interpreter (``_pip.command``)::

    python _piprun.py PIP_PACKAGE_DIR ARGS...

``PIP_PACKAGE_DIR`` is the directory of the ``pip`` package to run (the
build environment's own, or that of the interpreter the environment was made
from).  As pip's own ``__pip-runner__.py`` does for ``pip --python``, the
package is imported from there and nothing else of that directory's
site-packages is, so pip resolves for this interpreter's markers and tags.

When pip's ``main`` returns, its work is done: the wheels are written, its
temporary directories removed, its output written.  Tearing down the
interpreter after that (pip leaves some hundred thousand objects) took
150 ms of the 600 ms a ``pip wheel`` of one small app took; so the exit
functions (``atexit``: logging's flush, ``weakref.finalize``) run, other
threads are waited for, both streams are flushed, and the process ends with
``os._exit`` and pip's exit status.  The exit status and the output are those
of ``python -m pip ARGS``.

Standard library only: it runs before pip is imported and imports nothing of exearchive.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import runpy
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from types import ModuleType


class _PipFinder:
    """Finds the top-level ``pip`` package in one directory only (its subpackages come from its ``__path__``)."""

    def __init__(self, root: str) -> None:
        self._root = root

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "pip":
            return None
        return PathFinder.find_spec(fullname, [self._root], target)


def _status(code: object) -> int:
    """The exit status ``sys.exit(code)`` gives (a message is written to stderr, as the interpreter does)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    sys.stderr.write(f"{code}\n")
    return 1


def _finish(status: int) -> None:
    atexit._run_exitfuncs()
    threading = sys.modules.get("threading")
    if threading is not None:
        for thread in threading.enumerate():
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


def main() -> None:
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        del sys.path[0]  # this script's directory (exearchive's modules) is not pip's to import from
    package = Path(sys.argv[1])
    sys.argv = [str(package / "__main__.py"), *sys.argv[2:]]
    sys.meta_path.insert(0, _PipFinder(str(package.parent)))
    try:
        runpy.run_module("pip", run_name="__main__", alter_sys=True)
    except SystemExit as done:
        _finish(_status(done.code))
    _finish(0)


if __name__ == "__main__":
    main()
