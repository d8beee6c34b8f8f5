"""Bytecode for a target: compiled by the build interpreter, or by a matching one found on this machine.

Bytecode depends only on the interpreter's implementation and X.Y (not the
platform), so a target whose interpreter is the build's gets it from the build
interpreter; another target gets it from an interpreter of its kind found here
(the ``python`` shebang's interpreter when it is one, else ``python3.X`` /
``pypy3.X`` on ``PATH``), asked who it is before it is trusted.  Where none is
found, the payload ships no bytecode for the target and the launcher compiles
it once, at the first start, as on any other interpreter.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

from . import _compile, _pack, _shebang, _targets
from ._stage import SITE

logger = logging.getLogger(__name__)

_IDENTITY = "import sys; print(sys.implementation.name, '%d.%d' % sys.version_info[:2], sys.implementation.cache_tag)"
_VERSION = "import sys; print(sys.implementation.cache_tag, sys.version)"
# Test directories: the sources of a distribution's own test suite, which an app does not import.  Their
# bytecode is most of numpy's and pandas' (11 of 17 MB); an import of one compiles it, as without bytecode.
TESTS = r"(?:[^/\\]+[/\\])*tests?[/\\]"


def compile_for(target: _targets.Target, root: Path, shebang: str, tests: bool = False) -> str | None:
    """Compile the staged tree for ``target``; the cache tag of the bytecode made, or None (none shipped).

    ``tests``: compile the sources in test directories (:data:`TESTS`) too.
    """
    skip = None if tests else TESTS
    if _runs_here(target):
        return _pack.compile_site(root, skip)
    python = interpreter_for(target, shebang)
    return compile_with(python, root, skip) if python else None


def compiler_identity(target: _targets.Target, shebang: str, tests: bool = False) -> str:
    """Who compiles the bytecode for ``target`` (implementation, cache tag, full version), or ``none``.

    Part of the build cache's key: bytecode made by another interpreter release, or with test
    directories compiled (``tests``) when they are not, is not reused.
    """
    return _compiler(target, shebang) + (" with tests" if tests else "")


def _compiler(target: _targets.Target, shebang: str) -> str:
    if _runs_here(target):
        tag = sys.implementation.cache_tag
        return f"{tag} {sys.version}" if tag else "none"
    python = interpreter_for(target, shebang)
    if python is None:
        return "none"
    try:
        result = subprocess.run(
            [python, "-I", "-S", "-c", _VERSION], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "none"
    return " ".join(result.stdout.split()) if result.returncode == 0 else "none"


def _runs_here(target: _targets.Target) -> bool:
    """Whether the build interpreter is the target's (same implementation and X.Y): its bytecode fits."""
    if target.is_host:
        return True
    here = _targets.host().environment
    return all(target.environment.get(key) == here[key] for key in ("implementation_name", "python_version"))


def interpreter_for(target: _targets.Target, shebang: str) -> str | None:
    """An interpreter on this machine with the target's implementation and X.Y, or None."""
    implementation = target.environment.get("implementation_name")
    version = target.python_version
    if implementation not in ("cpython", "pypy") or not version:
        return None
    names = [f"python{version}"] if implementation == "cpython" else [f"pypy{version}", "pypy3"]
    for path in [_shebang.interpreter(shebang), *(shutil.which(name) for name in names)]:
        if path and _identity(path)[:2] == (implementation, version):
            return path
    return None


def _identity(python: str) -> tuple[str, ...]:
    try:
        result = subprocess.run(
            [python, "-I", "-S", "-c", _IDENTITY], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(result.stdout.split()) if result.returncode == 0 else ()


def compile_with(python: str, root: Path, skip: str | None = None) -> str | None:
    """Compile the tree's sources with ``python`` (less the paths ``skip`` matches below site-packages); its
    cache tag, or None if it failed (then nothing is shipped)."""
    site = root / SITE
    if not site.is_dir():
        return None
    logger.info("compiling bytecode with %s", python)
    result = subprocess.run(
        [python, "-I", _compile.__file__, str(site), SITE, skip or ""], capture_output=True, text=True, check=False
    )
    tag = result.stdout.strip().splitlines()[-1:] if result.returncode == 0 else []
    if not tag:
        logger.warning(
            "%s could not compile the payload (%s); the launcher compiles it at the first start",
            python,
            result.stderr.strip().splitlines()[-1:] or "no reason given",
        )
        _remove_bytecode(site)
        return None
    return tag[0]


def _remove_bytecode(site: Path) -> None:
    for cache in site.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
