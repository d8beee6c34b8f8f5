"""Run pip for the build interpreter from a given pip package, and end the process as soon as pip is done.

Run as a script by the build interpreter (``_pip.command``)::

    python _piprun.py PIP_PACKAGE_DIR ARGS...
    python _piprun.py PIP_PACKAGE_DIR --early COMMAND     # then ARGS as one JSON list on stdin

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

With ``--early COMMAND``, pip is started before its arguments are known
(``_pipstart``: while setuptools builds the project's wheel): it imports
pip's command line, the module of pip's ``COMMAND`` (``wheel``) and what
pip imports once it resolves (its resolver, its metadata backends), most of
a small resolution's time, then reads one line from stdin, the arguments as a
JSON list, and runs pip with them as above.  An empty stdin (the build did
not need pip after all) ends it with status 0, running nothing.

Standard library only: it runs before pip is imported and imports nothing of exearchive.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import runpy
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from types import ModuleType

# What pip imports only once it resolves (its resolver, both metadata backends, what its user agent reads):
# a third of a small resolution when imported then
_RESOLVING = (
    "pip._internal.resolution.resolvelib.resolver",
    "pip._internal.metadata.importlib",
    "pip._internal.metadata.pkg_resources",
    "pip._vendor.distro",
)


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


def _arguments_after_imports(command: str) -> list[str]:
    """Import what pip's ``command`` needs, then the arguments from stdin (none: end the process)."""
    try:
        importlib.import_module("pip._internal.cli.main")
        from pip._internal.commands import commands_dict

        modules = [commands_dict[command].module_path] if command in commands_dict else []
    except Exception:  # pip's internals changed: it imports them itself when it runs
        modules = []
    for name in [*modules, *_RESOLVING]:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    line = sys.stdin.readline()
    if not line.strip():
        _finish(0)
    arguments = json.loads(line)
    null = os.open(os.devnull, os.O_RDONLY)  # pip and what it runs read no more of the pipe
    os.dup2(null, 0)
    os.close(null)
    return [str(argument) for argument in arguments]


def main() -> None:
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        del sys.path[0]  # this script's directory (exearchive's modules) is not pip's to import from
    package = Path(sys.argv[1])
    arguments = sys.argv[2:]
    sys.meta_path.insert(0, _PipFinder(str(package.parent)))
    if arguments[:1] == ["--early"]:
        arguments = _arguments_after_imports(arguments[1] if len(arguments) > 1 else "")
    sys.argv = [str(package / "__main__.py"), *arguments]
    try:
        runpy.run_module("pip", run_name="__main__", alter_sys=True)
    except SystemExit as done:
        _finish(_status(done.code))
    _finish(0)


if __name__ == "__main__":
    main()
