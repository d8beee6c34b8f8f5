"""Resolve the project's wheel and its dependencies to a set of wheels with pip.

pip runs as a subprocess of the build interpreter (``python -m pip wheel``),
so it honours the user's pip configuration files and ``PIP_*`` variables:
``PIP_NO_INDEX=1 PIP_FIND_LINKS=./wheelhouse`` builds offline, an index URL
or ``--require-hashes`` style constraints in pip's configuration apply.  The
dependencies are resolved for the interpreter that runs the build.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

from ._errors import ResolutionError

logger = logging.getLogger(__name__)

_ERROR_LINES = 12


def resolve(wheel: Path, extras: tuple[str, ...], wheel_dir: Path) -> list[Path]:
    """Return every wheel needed to install ``wheel`` (itself included), one per project."""
    name = parse_wheel_filename(wheel.name)[0]
    extra = f"[{','.join(extras)}]" if extras else ""
    requirement = f"{name}{extra} @ {wheel.resolve().as_uri()}"
    wheel_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
        "--wheel-dir",
        str(wheel_dir),
        requirement,
    ]
    logger.info("resolving dependencies of %s%s with pip", name, extra)
    logger.debug("running %s", " ".join(command))
    env = dict(os.environ)
    env.pop("PIP_REQUIRE_VIRTUALENV", None)
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    except OSError as error:
        raise ResolutionError(f"cannot run pip ({error}); is pip installed for {sys.executable}?") from None
    for line in result.stdout.splitlines():
        logger.debug("pip: %s", line)
    if result.returncode != 0:
        raise ResolutionError(_pip_failure(result.stdout, result.stderr, name))
    wheels = sorted(wheel_dir.glob("*.whl"))
    _check_one_per_project(wheels)
    logger.info("resolved %d wheel(s)", len(wheels))
    return wheels


def _pip_failure(stdout: str, stderr: str, name: str) -> str:
    """pip's reason, in one short block."""
    lines = [line.rstrip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "error" in line.lower()]
    chosen = (errors or lines or stdout.strip().splitlines())[-_ERROR_LINES:]
    reason = "\n  ".join(chosen) if chosen else "pip exited with an error and said nothing"
    return f"cannot resolve the dependencies of {name} with pip:\n  {reason}"


def _check_one_per_project(wheels: list[Path]) -> None:
    seen: dict[str, Path] = {}
    for wheel in wheels:
        project = canonicalize_name(parse_wheel_filename(wheel.name)[0])
        if project in seen:
            raise ResolutionError(f"pip produced two wheels for {project}: {seen[project].name} and {wheel.name}")
        seen[project] = wheel
