"""Bytecode for the running interpreter: compile a tree's sources, in several processes when it pays.

Used on the cold path when the payload ships no bytecode for this interpreter
(another Python than the build's, or ``compile = false``), so that no later
start compiles; and for the launcher's compiled copy.  Every ``.pyc`` is an
unchecked-hash pyc (the sources in a cache entry never change) written
atomically by ``py_compile`` into the usual ``__pycache__`` place; sources that
do not compile (tests for other Python versions, templates) are skipped, as
pip does.

Compiling holds the GIL, so threads do not help.  For a tree of at least
``_PARALLEL_FILES`` sources on a machine with several cores, helper processes
(this interpreter, ``-I -S``, running ``_HELPER``, which reads NUL-separated
paths on stdin) each compile a share while this process compiles its own;
shares are balanced by source size.  Whatever a helper did not compile (it
failed, or could not start) is compiled here afterwards, so the result never
depends on the helpers.  No ``multiprocessing``: it needs a working
``/dev/shm`` and forks this process, extraction lock and all.
"""

import os
import sys

_PARALLEL_FILES = 64  # fewer sources compile faster than helpers start (15-20 ms each)
_MAX_PROCESSES = 4
_HELPER = (
    "import os, sys, py_compile\n"
    "mode = py_compile.PycInvalidationMode.UNCHECKED_HASH\n"
    "for path in sys.stdin.buffer.read().split(b'\\0'):\n"
    "    if path:\n"
    "        try:\n"
    "            py_compile.compile(os.fsdecode(path), doraise=True, invalidation_mode=mode)\n"
    "        except Exception:\n"
    "            pass\n"
)


def compile_tree(top, after_each=None, processes=None, executable=None):
    """Compile every source under ``top`` for this interpreter; return how many have bytecode now.

    ``after_each`` is called after each source this process compiles (the
    kill hook of the tests); ``processes`` and ``executable`` override how
    many processes share the work and which interpreter the helpers run.
    """
    sources = _sources(top)
    if processes is None:
        processes = _processes(sources)
    executable = sys.executable if executable is None else executable
    if processes <= 1 or not executable:
        return _compile([path for path, _ in sources], after_each)
    shares = _shares(sources, processes)
    helpers = [_Helper(executable, share) for share in shares[1:]]
    compiled = _compile([path for path, _ in shares[0]], after_each)
    import importlib.util

    for helper in helpers:
        helper.wait()
        share = helper.share
        missing = [path for path, _ in share if not os.path.exists(importlib.util.cache_from_source(path))]
        compiled += len(share) - len(missing) + _compile(missing, after_each)
    return compiled


def _sources(top):
    """``(path, size)`` of every ``.py`` file under ``top``, outside ``__pycache__``."""
    found = []
    for directory, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                try:
                    found.append((path, os.stat(path).st_size))
                except OSError:
                    continue
    return found


def _processes(sources):
    if len(sources) < _PARALLEL_FILES:
        return 1
    return max(1, min(_MAX_PROCESSES, os.cpu_count() or 1, len(sources) // (_PARALLEL_FILES // 2)))


def _shares(sources, count):
    """Split ``sources`` into ``count`` lists of about equal total size, the largest files first."""
    shares = [[] for _ in range(count)]  # type: list[list[tuple[str, int]]]
    loads = [0] * count
    for item in sorted(sources, key=lambda item: item[1], reverse=True):
        lightest = loads.index(min(loads))
        shares[lightest].append(item)
        loads[lightest] += item[1] + 1024  # a file costs something whatever its size
    return shares


def _compile(paths, after_each):
    import py_compile

    mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
    compiled = 0
    for path in paths:
        try:
            py_compile.compile(path, doraise=True, invalidation_mode=mode)
            compiled += 1
        except (py_compile.PyCompileError, SyntaxError, ValueError, UnicodeError):
            continue
        if after_each is not None:
            after_each()
    return compiled


class _Helper:
    """A helper process compiling a share; its input is fed from a thread so that nobody waits on the pipe."""

    def __init__(self, executable, share):
        import subprocess
        import threading

        self.share = share
        self.process = None
        self.feeder = None
        flags = ["-O"] * sys.flags.optimize  # bytecode for the same optimization level as this process's
        try:
            self.process = subprocess.Popen(
                [executable, "-I", "-S", *flags, "-c", _HELPER],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            return  # its share is compiled here afterwards
        data = b"\0".join(os.fsencode(path) for path, _ in share)
        self.feeder = threading.Thread(target=self._feed, args=(data,))
        self.feeder.daemon = True
        self.feeder.start()

    def _feed(self, data):
        stdin = self.process.stdin if self.process is not None else None
        if stdin is None:
            return
        try:
            stdin.write(data)
        except OSError:
            pass  # it died: its share is compiled here afterwards
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def wait(self):
        if self.process is None or self.feeder is None:
            return
        self.feeder.join()
        self.process.wait()
