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

Nor ``compileall.compile_file`` per source: around the compiling it looks for
an up-to-date pyc, stats the source and writes through a temporary file and a
rename, which together took as long as compiling 20,000 small modules.  The
tree is new and private, so each pyc is made here with the functions
``py_compile`` uses (``compile``, ``importlib.util.source_hash`` and
``importlib._bootstrap_external._code_to_hash_pyc``: the same bytes) and
written once (a pyc a wheel ships in ``__pycache__`` is replaced).  An
interpreter without that private function goes through
``compileall.compile_file``.

CPython keeps one object per one-character Latin-1 string, and marshal
flags it as interned or not as it is in the compiling process at that
moment (earlier code may have interned ``"*"``, say), so the same source
compiled after different files gave different bytes: every process that
compiles here interns all of them first.  Other strings get the same
treatment from ``_strings``.

Before 3.11, marshal writes a frozenset constant (``x in {"a", "b"}``) in
its iteration order, which follows the strings' hashes: random per process.
There ``compile_dir`` runs this file again in an interpreter with
``PYTHONHASHSEED=0`` (and no other ``PYTHON*`` variable), which compiles.

Not solved: PyPy marshals a name as interned or not as the process holds it
at that moment, which varies from run to run (even in one process), so a few
of its pycs can differ between two compiles of the same tree.
"""

from __future__ import annotations

import compileall
import importlib.util
import os
import py_compile
import re
import sys
from types import CodeType

try:
    from importlib._bootstrap_external import _code_to_hash_pyc  # type: ignore[attr-defined]  # py_compile uses it
except ImportError:  # not on this interpreter: compileall.compile_file does it all
    _code_to_hash_pyc = None

_MODE = py_compile.PycInvalidationMode.UNCHECKED_HASH
_CHUNKS_PER_WORKER = 16
_SERIAL_BELOW = 64  # fewer sources than this are compiled in this process


def intern_latin1() -> None:
    """Intern every one-character Latin-1 string (see the module's docstring)."""
    for code in range(256):
        sys.intern(chr(code))


def compile_dir(directory: str, ddir: str, skip: str = "") -> None:
    """Compile every ``.py`` file under ``directory`` (see the module's docstring)."""
    if sys.version_info < (3, 11) and sys.flags.hash_randomization:
        _compile_with_fixed_seed(directory, ddir, skip)
        return
    intern_latin1()
    sources = _sources(directory, ddir, re.compile(skip) if skip else None)
    workers = os.cpu_count() or 1
    if workers > 1 and len(sources) >= _SERIAL_BELOW:
        try:
            from concurrent.futures import ProcessPoolExecutor

            size = max(1, len(sources) // (workers * _CHUNKS_PER_WORKER))
            chunks = [sources[start : start + size] for start in range(0, len(sources), size)]
            with ProcessPoolExecutor(workers, initializer=intern_latin1) as pool:
                for _ in pool.map(_compile_all, chunks):
                    pass
            return
        except (ImportError, NotImplementedError, OSError):  # no working multiprocessing here: one process
            pass
    _compile_all(sources)


def _compile_with_fixed_seed(directory: str, ddir: str, skip: str) -> None:
    """``compile_dir`` in this interpreter started again with ``PYTHONHASHSEED=0`` (see the module's docstring)."""
    import subprocess

    command, env = seeded(_RUN, os.path.abspath(__file__), directory, ddir, skip)
    result = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    if result.returncode != 0:
        reason = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no reason given"]
        raise OSError(f"{sys.executable} could not compile {directory}: {reason[0]}")


def seeded(code: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run ``code`` (``args`` in ``sys.argv[1:]``) in this interpreter with
    ``PYTHONHASHSEED=0``: no other ``PYTHON*`` variable, no site, and ``sys.path[0]`` dropped, so that no module
    in the working directory shadows the standard library (``-I`` would ignore the seed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"
    return [sys.executable, "-S", "-s", "-c", "import sys; del sys.path[0]\n" + code, *args], env


_RUN = "import runpy; runpy.run_path(sys.argv.pop(1), run_name='__main__')"


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


def _compile_all(sources: list[tuple[str, str]]) -> None:
    """Compile ``sources`` (``(source, its directory's name in the payload)``), each into its ``__pycache__``."""
    if _code_to_hash_pyc is None:
        for path, inside in sources:
            _compile_file(path, inside)
        return
    made = set()
    for path, inside in sources:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
            code = compile(data, os.path.join(inside, os.path.basename(path)), "exec", dont_inherit=True)
        except Exception:  # as py_compile: what does not compile gets no bytecode
            continue
        target = importlib.util.cache_from_source(path)
        directory = os.path.dirname(target)
        if directory not in made:
            os.makedirs(directory, exist_ok=True)
            made.add(directory)
        held = _strings(code, [])  # noqa: F841 - see _strings: referenced while marshal runs
        pyc = _code_to_hash_pyc(code, importlib.util.source_hash(data), False)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # the wheel shipped one: replaced, as a fresh tree would get it
            fd = os.open(target, os.O_WRONLY | os.O_TRUNC)
        with os.fdopen(fd, "wb") as out:
            out.write(pyc)


def _strings(code: CodeType, found: list[object]) -> list[object]:
    """Every string ``code`` refers to (its names, constants, nested code objects'), appended to ``found``.

    marshal writes an object that has one reference without a back-reference
    flag, and one with more with it.  An identifier the compiled module uses
    once has one reference, unless the compiling process holds the same
    interned string for its own reasons (a module it imported, a file it
    compiled before): so, before 3.11, a worker of the pool wrote different
    bytes for the same source depending on what it had compiled.  Holding
    every string while marshal runs flags them all, whatever the process.
    """
    for name in ("co_name", "co_qualname", "co_filename", "co_names", "co_varnames", "co_freevars", "co_cellvars"):
        _collect(getattr(code, name, ()), found)
    _collect(code.co_consts, found)
    return found


def _collect(value: object, found: list[object]) -> None:
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, (tuple, frozenset)):
        for item in value:
            _collect(item, found)
    elif isinstance(value, CodeType):
        _strings(value, found)


def _compile_file(path: str, inside: str) -> None:
    compileall.compile_file(path, ddir=inside, quiet=2, invalidation_mode=_MODE)


if __name__ == "__main__":
    compile_dir(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
    sys.stdout.write(sys.implementation.cache_tag + "\n")
