"""Resolve with uv when the build runs under uv (or ``resolver = "uv"``).

Under ``uv build`` the user's settings are uv's (``UV_INDEX_URL``,
``UV_FIND_LINKS``, ``uv.toml``), not pip's: resolving with pip there would
look in other places, and could take an unrelated package of the same name
from an index instead of the local one the user pointed uv at.  So when uv is
the frontend (it sets ``UV`` to its own path in the backend's environment),
or ``resolver = "uv"`` asks for it, ``uv pip compile`` resolves the project's
wheel and its dependencies into a PEP 751 lock (for the build interpreter,
``--python``), and the wheels are taken from that lock exactly as from a
user's lock file (``_lock``): every one fetched by its URL or path and
checked against its hash.  The same inputs give the same wheels, so the
archive does not depend on which resolver ran.  pip stays the default and
the fallback (``resolver = "pip"`` forces it).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.utils import parse_wheel_filename

from . import _lock
from ._errors import ConfigError, ResolutionError

logger = logging.getLogger(__name__)

_ERROR_LINES = 12


def chosen(resolver: str, where: str, env: dict[str, str] | None = None) -> str | None:
    """The uv binary to resolve with, or None for pip.

    ``auto``: uv when the build runs under uv (``UV`` names an executable);
    ``uv``: uv wherever it can be found (``UV``, ``PATH``, the ``uv`` package),
    else a ConfigError; ``pip``: never.
    """
    environ = os.environ if env is None else env
    if resolver == "pip":
        return None
    frontend = environ.get("UV")
    if frontend and os.access(frontend, os.X_OK):
        return frontend
    if resolver == "auto":
        return None
    found = shutil.which("uv", path=environ.get("PATH")) or _packaged_uv()
    if found is None:
        raise ConfigError(
            f"{where} = 'uv' but uv is not installed here; add 'uv' to the build requirements "
            "(or install it), or set it to 'pip'"
        )
    return found


def _packaged_uv() -> str | None:
    try:
        import uv  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    try:
        return str(uv.find_uv_bin())
    except (FileNotFoundError, AttributeError):
        return None


def resolve(
    uv: str,
    wheel: Path,
    extras: tuple[str, ...],
    wheel_dir: Path,
    constraints: list[Path] | None = None,
    requirements: list[Path] | None = None,
) -> list[Path]:
    """Every wheel needed to install ``wheel`` (itself included), resolved by uv and fetched hash-checked."""
    name = parse_wheel_filename(wheel.name)[0]
    extra = f"[{','.join(extras)}]" if extras else ""
    work = wheel_dir.parent
    work.mkdir(parents=True, exist_ok=True)
    source = work / "uv-requirements.in"
    source.write_text(f"{name}{extra} @ {wheel.resolve().as_uri()}\n")
    lock = work / "pylock.uv.toml"  # uv insists on a PEP 751 name
    command = [uv, "pip", "compile", str(source), *[str(p) for p in requirements or []]]
    for path in constraints or []:
        command += ["--constraint", str(path)]
    command += ["--format", "pylock.toml", "--output-file", str(lock), "--python", sys.executable, "--quiet"]
    command += ["--no-header"]
    logger.info("resolving dependencies of %s%s with uv", name, extra)
    _run(command, f"{name}{extra}")
    # the extras were resolved already: the lock holds what they need, unconditionally
    return _lock.wheels_from_lock(lock, "uv's resolution", wheel, (), wheel_dir)


def _run(command: list[str], subject: str) -> None:
    logger.debug("running %s", " ".join(command))
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as error:
        raise ResolutionError(f"cannot run uv ({error}); set [tool.exearchive] resolver = 'pip'") from None
    if result.returncode != 0:
        lines = [line.rstrip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        reason = "\n  ".join(lines[:_ERROR_LINES]) or "uv exited with an error and said nothing"
        raise ResolutionError(f"cannot resolve the dependencies of {subject} with uv:\n  {reason}")
