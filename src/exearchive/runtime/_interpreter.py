"""``EXEARCHIVE_INTERPRETER=1``: behave like ``python`` inside the archive's environment.

Supported forms, as for the ``python`` command: ``-c CODE [ARGS]``,
``-m MODULE [ARGS]``, ``SCRIPT [ARGS]`` (a file, a directory or a zip with a
``__main__.py``), ``- [ARGS]`` (code from standard input) and no arguments
(an interactive console when standard input is a terminal, else standard
input is run as a script).  ``sys.argv``, ``sys.path[0]`` and ``__main__``
are set up as ``python`` sets them.  Interpreter options (``-u``, ``-X``...)
are not supported: pass them to the interpreter that runs the archive.
"""

import os
import sys

from ._boot import LauncherError, _run_module

_USAGE = "the archive's interpreter mode takes [-c CODE | -m MODULE | SCRIPT | -] [ARGS...]"


def prepare(args):
    """A function that runs ``args`` as the ``python`` command would; bad usage raises LauncherError."""
    args = list(args)
    if not args:
        return _console
    first = args[0]
    if first == "-":
        return lambda: _run_stdin(args)
    if first == "-c":
        if len(args) < 2:
            raise LauncherError("argument expected for the -c option; " + _USAGE, 2)
        return lambda: _run_source(args[1], "<string>", ["-c", *args[2:]], "")
    if first == "-m":
        if len(args) < 2:
            raise LauncherError("argument expected for the -m option; " + _USAGE, 2)
        return lambda: _run_module_args(args[1], args[2:])
    if first.startswith("-"):
        raise LauncherError("unknown option %s; %s" % (first, _USAGE), 2)
    if not os.path.exists(first):
        raise LauncherError("can't open file %r: no such file or directory" % first, 2)
    return lambda: _run_script(first, args[1:])


def run(args):
    """Run ``args`` as the ``python`` command would; called after path setup."""
    from ._boot import run_app

    run_app(prepare(args))


def _main_namespace():
    """The ``__main__`` module's namespace, emptied as for ``python -c``."""
    namespace = sys.modules["__main__"].__dict__
    builtins = namespace.get("__builtins__") or __builtins__
    namespace.clear()
    frozen = sys.modules.get("_frozen_importlib")
    namespace.update(
        {
            "__name__": "__main__",
            "__doc__": None,
            "__package__": None,
            "__spec__": None,
            "__loader__": getattr(frozen, "BuiltinImporter", None),
            "__builtins__": builtins,
        }
    )
    return namespace


def _insert_path0(path0):
    """Put the script's directory (or the current one) first on ``sys.path``, unless ``-P``/``-I``."""
    if not (getattr(sys.flags, "safe_path", False) or sys.flags.isolated):
        sys.path.insert(0, path0)


def _run_source(source, filename, argv, path0):
    sys.argv = argv
    _insert_path0(path0)
    code = compile(source, filename, "exec")
    exec(code, _main_namespace())


def _run_stdin(args):
    source = sys.stdin.read()
    _run_source(source, "<stdin>", args or [""], "")


def _run_module_args(module, rest):
    sys.argv = ["-m", *rest]
    _insert_path0(os.getcwd())
    _run_module(module, True)


def _run_script(path, rest):
    import runpy

    sys.argv = [path, *rest]
    if os.path.isfile(path) and not _is_zip(path):
        _insert_path0(os.path.dirname(os.path.realpath(path)))
    # a directory or a zip with __main__.py: run_path puts it on sys.path itself
    runpy.run_path(path, run_name="__main__")


def _is_zip(path):
    import zipfile

    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _console():
    """``python`` without arguments: a console on a terminal, else run standard input."""
    stdin = sys.stdin
    if stdin is None or not stdin.isatty():
        _run_stdin([])
        return
    import code

    sys.argv = [""]
    _insert_path0("")
    try:
        import readline  # noqa: F401 - line editing and history, as in python's console
    except ImportError:
        pass
    archive = os.environ.get("EXEARCHIVE_ARCHIVE", "the archive")
    banner = "Python %s on %s\nexearchive interpreter: the environment of %s" % (sys.version, sys.platform, archive)
    code.interact(banner=banner, local=_main_namespace(), exitmsg="")
