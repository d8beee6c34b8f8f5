"""Interpreter mode: behave like ``python`` inside the archive's environment.

An archive is in interpreter mode when it was built as an interpreter archive
(manifest ``interpreter``) or started with ``EXEARCHIVE_INTERPRETER=1``.  It
takes CPython's command line: options, then ``-c CODE [ARGS]``, ``-m MODULE
[ARGS]``, ``SCRIPT [ARGS]`` (a file, a directory or a zip with a
``__main__.py``), ``- [ARGS]`` (code from standard input) or nothing (an
interactive console when standard input is a terminal, else standard input is
run as a script).  ``sys.argv``, ``sys.path[0]`` and ``__main__`` are set up
as ``python`` sets them.

Options (``-u``, ``-B``, ``-E``, ``-s``, ``-S``, ``-I``, ``-O``, ``-q``,
``-W ARG``, ``-X OPT``, ``-i``, ..., combined as CPython combines them:
``-uc CODE``, ``-Wignore``) are what the interpreter reads at start-up
(``sys.flags``, warnings filters, stream buffering), so they cannot be applied
from here: the launcher re-executes the interpreter once with them before the
archive (``PYTHON OPTIONS ARCHIVE COMMAND``), keeping the flags this process
was started with.  CPython itself then parses and applies them, and prints
its own error (exit 2) for an unknown option or a missing argument.  Without
options nothing is re-executed.

Also here (copied with ``_boot`` for other interpreters): running a
distribution's plain script as the archive's entry point.
"""

import os
import sys

from ._boot import LauncherError, _run_module

# Options that take an argument (in the same word or the next one); -c and -m also end the options.
_WITH_ARGUMENT = "cmWX"
_LONG_WITH_ARGUMENT = ("--check-hash-based-pycs",)
_ARGUMENT_EXPECTED = tuple("-" + letter for letter in _WITH_ARGUMENT) + _LONG_WITH_ARGUMENT


def split_options(args):
    """``(options, command)``: the interpreter options at the front of ``args``, and the rest.

    Follows CPython's ``getopt``: options end at the first word that does not
    start with ``-``, at ``-`` alone, after ``--``, and at ``-c``/``-m``
    (whose argument may be glued on: ``-uc CODE``, ``-cCODE``).  ``command``
    starts with ``-c CODE`` / ``-m MODULE`` when one was given.  An option
    missing its argument stays in ``options`` (CPython reports it).
    """
    options = []  # type: list[str]
    index = 0
    while index < len(args):
        word = args[index]
        if word == "--":
            return options, args[index + 1 :]
        if word == "-" or not word.startswith("-"):
            break
        if word.startswith("--"):
            options.append(word)
            if word in _LONG_WITH_ARGUMENT and index + 1 < len(args):
                index += 1
                options.append(args[index])
            index += 1
            continue
        for position in range(1, len(word)):
            letter = word[position]
            if letter not in _WITH_ARGUMENT:
                options.append("-" + letter)
                continue
            value = word[position + 1 :]
            taken = 1
            if not value:
                if index + 1 >= len(args):
                    options.append("-" + letter)  # left for CPython to report
                    return options, []
                value = args[index + 1]
                taken = 2
            if letter in "cm":
                return options, ["-" + letter, value, *args[index + taken :]]
            options.extend(("-" + letter, value))
            index += taken - 1
            break
        index += 1
    return options, args[index:]


def reexec(options, command, archive):
    """Start the interpreter again with ``options`` before the archive; never returns."""
    own = [flag for flag in _own_options() if not (flag in options and flag.startswith("-") and flag[1:2] not in "WX")]
    argv = [sys.executable, *own, *options]
    if command or not options or options[-1] not in _ARGUMENT_EXPECTED:
        argv += [archive, *command]  # else CPython says "Argument expected for the -c option"
    sys.stdout.flush()
    sys.stderr.flush()
    if sys.platform == "win32":  # exec is not a replacement there: wait and pass the status on
        import subprocess

        sys.exit(subprocess.call(argv))
    os.execv(sys.executable, argv)


def _own_options():
    """The options this interpreter was started with (before the archive), to start the next one alike."""
    orig = getattr(sys, "orig_argv", None)  # 3.10+: the command line as given, so env-set flags stay env-set
    if orig is not None and 0 < len(sys.argv) < len(orig):
        return orig[1 : len(orig) - len(sys.argv)]
    import subprocess

    return getattr(subprocess, "_args_from_interpreter_flags", lambda: [])()


def prepare(args):
    """A function that runs ``args`` (without options) as the ``python`` command would."""
    args = list(args)
    if not args:
        return _console
    first = args[0]
    if first == "-":
        return lambda: _run_stdin(args)
    if first == "-c":
        return lambda: _run_source(args[1], "<string>", ["-c", *args[2:]], "")
    if first == "-m":
        return lambda: _run_module_args(args[1], args[2:])
    if not os.path.exists(first):
        raise LauncherError("can't open file %r: no such file or directory" % first, 2)
    return lambda: _run_script(first, args[1:])


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


def run_plain_script(path):
    """Run a distribution's plain script (``bin/NAME`` in the cache entry) as ``python SCRIPT`` runs it.

    In the ``__main__`` module, with ``__file__`` the script's path and its
    directory first on ``sys.path``; ``sys.argv`` stays as it is (its first
    item the archive).
    """
    import importlib.machinery

    with open(path, "rb") as handle:
        source = handle.read()
    code = compile(source, path, "exec", dont_inherit=True)
    namespace = _main_namespace()
    namespace["__file__"] = path
    namespace["__cached__"] = None
    namespace["__loader__"] = importlib.machinery.SourceFileLoader("__main__", path)
    _insert_path0(os.path.dirname(path))
    exec(code, namespace)


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
    code.interact(banner="" if sys.flags.quiet else banner, local=_main_namespace(), exitmsg="")
