"""Which pip the archive step runs, found without installing one when the machine has it.

The archive step resolves with pip for the build interpreter (``sys.executable``).
In order:

1. pip importable by the build interpreter: ``python -m pip`` (a build without
   isolation, or an isolated environment that lists pip in its requirements);
2. the pip of the interpreter the build environment was made from (an
   isolated environment of ``python -m build`` or ``uv build`` is a venv of it,
   without pip): run for the build interpreter through its
   ``__pip-runner__.py``, exactly as ``pip --python`` runs itself, so that it
   imports nothing else of that interpreter's site-packages and resolves for
   the build interpreter's markers and tags;
3. none: ``get_requires_for_build_wheel`` asks the frontend for
   :data:`REQUIREMENT`, and pip is then in case 1.

A pip older than :data:`REQUIREMENT` allows is not used.  Case 2 saves the
frontend installing pip into every isolated build environment (about a
second a build).
"""

from __future__ import annotations

import re
import site
import sys
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

REQUIREMENT = "pip>=23.1"
_RUNNER = "__pip-runner__.py"
_VERSION = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)


def command() -> list[str] | None:
    """The command that runs a suitable pip for the build interpreter, or None when there is none here."""
    own = _own_spec()
    if own is not None and own.origin and _fits(Path(own.origin).parent):
        return [sys.executable, "-m", "pip"]
    for directory in _base_site_packages():
        package = directory / "pip"
        if (package / _RUNNER).is_file() and _fits(package):
            return [sys.executable, str(package / _RUNNER)]
    return None


def where(pip: list[str]) -> str:
    """How the log names ``pip`` (a :func:`command`)."""
    return "pip" if pip[1] == "-m" else f"pip from {Path(pip[1]).parent.parent}"


def _own_spec() -> ModuleSpec | None:
    """Where the build interpreter would import pip from, found on ``sys.path`` without importing it.

    Not ``importlib.util.find_spec``: setuptools' distutils shim watches for
    a search for pip on the meta path and turns itself off.
    """
    return PathFinder.find_spec("pip", sys.path)


def _base_site_packages() -> list[Path]:
    """The site-packages of the interpreter the build environment was made from (none when it is that one)."""
    if sys.prefix == sys.base_prefix:
        return []
    seen: list[Path] = []
    for name in site.getsitepackages([sys.base_prefix, sys.base_exec_prefix]):
        path = Path(name)
        if path not in seen:
            seen.append(path)
    return seen


def version(pip: list[str]) -> str:
    """The version of the pip that ``pip`` (a :func:`command`) runs; empty when it cannot be told."""
    if pip[1] == "-m":
        spec = _own_spec()
        return _version(Path(spec.origin).parent) if spec and spec.origin else ""
    return _version(Path(pip[1]).parent)


def _version(package: Path) -> str:
    try:
        found = _VERSION.search((package / "__init__.py").read_text(encoding="utf-8"))
    except (OSError, UnicodeError):
        return ""
    return found.group(1) if found else ""


def _fits(package: Path) -> bool:
    """Whether the pip package in ``package`` is a version :data:`REQUIREMENT` allows."""
    try:
        return Requirement(REQUIREMENT).specifier.contains(Version(_version(package)), prereleases=True)
    except InvalidVersion:
        return False
