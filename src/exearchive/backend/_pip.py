"""Which pip the archive step runs, found without installing one when the machine has it.

The archive step resolves with pip for the build interpreter (``sys.executable``).
In order:

1. pip importable by the build interpreter (a build without isolation, or an
   isolated environment that lists pip in its requirements);
2. the pip of the interpreter the build environment was made from (an
   isolated environment of ``python -m build`` or ``uv build`` is a venv of it,
   without pip), run for the build interpreter the way ``pip --python`` runs
   itself, so that it imports nothing else of that interpreter's
   site-packages and resolves for the build interpreter's markers and tags
   (its ``__pip-runner__.py``, which does that for ``pip --python``, marks a
   pip that can be run so);
3. none: ``get_requires_for_build_wheel`` asks the frontend for
   :data:`REQUIREMENT`, and pip is then in case 1.

Either pip runs through ``_piprun.py`` (``python _piprun.py PIP_PACKAGE_DIR
ARGS``), which imports pip from that directory only and ends the process as
soon as pip is done.  A pip older than :data:`REQUIREMENT` allows is not
used.  Case 2 saves the frontend installing pip into every isolated build
environment (about a second a build).
"""

from __future__ import annotations

import re
import site
import sys
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

from . import _piprun

REQUIREMENT = "pip>=23.1"
_RUNNER = "__pip-runner__.py"
_VERSION = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)


def command() -> list[str] | None:
    """The command that runs a suitable pip for the build interpreter, or None when there is none here."""
    package = _package()
    return None if package is None else [sys.executable, _piprun.__file__, str(package)]


def _package() -> Path | None:
    """The directory of the pip package to run (see the module's docstring), or None."""
    own = _own_spec()
    if own is not None and own.origin and _fits(Path(own.origin).parent):
        return Path(own.origin).parent
    for directory in _base_site_packages():
        package = directory / "pip"
        if (package / _RUNNER).is_file() and _fits(package):
            return package
    return None


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
    return _version(Path(pip[2]))


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
