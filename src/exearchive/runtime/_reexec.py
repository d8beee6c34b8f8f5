"""Run the archive with another interpreter when this one cannot run it (cold path only).

When the compatibility check refuses the running interpreter, the launcher
looks for one that fits before it gives up, the way PEX does:
``EXEARCHIVE_PYTHON=/path`` names the only candidate; else every
``python3.X``, ``python3.Xt``, ``python3`` and ``pypy3`` on ``PATH`` is a
candidate, nearest version first, never the running interpreter itself.
``EXEARCHIVE_REEXEC=0`` turns the search off.

A candidate fits when it runs this archive's own ``_compat.check`` on the
needs of the archive (of any of its targets) and finds nothing: it is started as ``CANDIDATE -I -S -c CODE
ARCHIVE`` with the needs on standard input (a candidate too old or broken
simply fails and is skipped).  The first that fits replaces this process
(``exec``) with the same command line, and ``REEXECED`` in its environment
names the interpreter that gave way: the next one does not search again, and
a refusal there names both.  Nothing is written to the cache before that.
"""

import os
import sys

from . import REEXECED

_OFF = ("0", "false", "no", "off")
_PROBE_TIMEOUT = 20.0

# Run by a candidate: exit 0 when this archive's launcher finds that it fits.  Python-2 compatible up to
# the import, so that an old candidate fails cleanly rather than with a syntax error in the probe.
_PROBE = (
    "import sys, json\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "from _exearchive_runtime import _compat\n"
    "needs = json.loads(sys.stdin.read())\n"
    "sys.exit(0 if any(_compat.check(n, sys.argv[1]) is None for n in needs) else 1)\n"
)


def allowed(env):
    """Whether this start may look for another interpreter: not turned off, not itself started by one."""
    return env.get("EXEARCHIVE_REEXEC", "").strip().lower() not in _OFF and not env.get(REEXECED)


def other_interpreter(needs, archive, env, trace):
    """The path of an interpreter that can run this archive, or None (searched only when ``allowed``).

    ``needs``: the manifest's, or a list of them (one per target): a
    candidate fits when it fits any.
    """
    if not allowed(env):
        return None
    if isinstance(needs, dict):
        needs = [needs]
    chosen = env.get("EXEARCHIVE_PYTHON")
    candidates = [chosen] if chosen else _on_path(env.get("PATH", os.defpath))
    import json

    data = json.dumps(needs).encode("utf-8")
    here = _real(sys.executable)
    for candidate in candidates:
        if _real(candidate) == here:
            continue
        if _fits(candidate, archive, data):
            trace("%s fits this archive: running it with that" % candidate)
            return candidate
        trace("%s does not fit this archive" % candidate)
    return None


def reexec(python, archive):
    """Replace this process with ``python`` running the archive with the same arguments; never returns."""
    argv0 = sys.argv[0] if sys.argv and os.path.isfile(sys.argv[0]) else archive  # a busybox link stays one
    argv = [python, argv0, *sys.argv[1:]]
    os.environ[REEXECED] = sys.executable or "python"
    sys.stdout.flush()
    sys.stderr.flush()
    if sys.platform == "win32":  # exec is not a replacement there: wait and pass the status on
        import subprocess

        sys.exit(subprocess.call(argv))
    os.execv(python, argv)


def _real(path):
    try:
        return os.path.realpath(path) if path else None
    except (OSError, ValueError):
        return None


def _on_path(path):
    """Interpreters on ``path``: python3.X (nearest this version first, newer before older at a tie), python3, pypy3."""
    found = {}
    for directory in path.split(os.pathsep):
        try:
            names = os.listdir(directory or ".")
        except OSError:
            continue
        for name in names:
            rank = _rank(name)
            if rank is not None and name not in found:
                full = os.path.join(directory, name)
                if os.access(full, os.X_OK) and not os.path.isdir(full):
                    found[name] = (rank, full)
    return [full for _rank_, full in sorted(found.values())]


def _rank(name):
    """Sort key of an interpreter's name, None for other names."""
    current = sys.version_info[1]
    if name.startswith("python3.") and name[8:].rstrip("t").isdigit():
        minor = int(name[8:].rstrip("t"))
        return (0, abs(minor - current), -minor, name.endswith("t"))
    if name == "python3":
        return (1, 0, 0, False)
    if name == "pypy3":
        return (2, 0, 0, False)
    return None


def _fits(candidate, archive, data):
    import subprocess

    try:
        result = subprocess.run(
            [candidate, "-I", "-S", "-c", _PROBE, archive],
            input=data,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=_PROBE_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return False
    return result.returncode == 0
