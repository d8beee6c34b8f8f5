"""Resolve the project's wheel and its dependencies to a set of wheels with pip.

pip runs as a subprocess of the build interpreter (``python -m pip wheel``),
so it honours the user's pip configuration files and ``PIP_*`` variables:
``PIP_NO_INDEX=1 PIP_FIND_LINKS=./wheelhouse`` builds offline, an index URL
or ``--require-hashes`` style constraints in pip's configuration apply.  The
dependencies are resolved for the interpreter that runs the build.
"""

from __future__ import annotations

import configparser
import logging
import os
import subprocess
import sys
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from ._errors import ResolutionError
from ._hashing import sha256_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

logger = logging.getLogger(__name__)

_ERROR_LINES = 12


def resolve(
    wheel: Path,
    extras: tuple[str, ...],
    wheel_dir: Path,
    constraints: list[Path] | None = None,
    requirements: list[Path] | None = None,
) -> list[Path]:
    """Return every wheel needed to install ``wheel`` (itself included), one per project.

    ``constraints`` and ``requirements`` are pip's ``-c`` and ``-r`` files.  The
    project's own wheel is passed with its hash, so that requirements files
    pinned with ``--hash`` put pip in hash-checking mode for every dependency.
    """
    name = parse_wheel_filename(wheel.name)[0]
    extra = f"[{','.join(extras)}]" if extras else ""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    hashed = any("--hash" in path.read_text() for path in requirements or [])
    pin = f" --hash=sha256:{sha256_file(wheel)}" if hashed else ""
    own = wheel_dir.parent / "project-requirement.txt"
    own.write_text(f"{name}{extra} @ {wheel.resolve().as_uri()}{pin}\n")
    options = ["-r", str(own)]
    for path in constraints or []:
        options += ["-c", str(path)]
    for path in requirements or []:
        options += ["-r", str(path)]
    logger.info("resolving dependencies of %s%s with pip", name, extra)
    run_pip(["wheel", "--wheel-dir", str(wheel_dir), *options], name)
    wheels = sorted(wheel_dir.glob("*.whl"))
    _check_one_per_project(wheels)
    logger.info("resolved %d wheel(s)", len(wheels))
    return wheels


def resolve_requirements(
    requirements: list[str],
    wheel_dir: Path,
    constraints: list[Path] | None = None,
    requirements_files: list[Path] | None = None,
) -> list[Path]:
    """Every wheel needed to install pip ``requirements`` (names, ``-r FILE``, paths), one per project."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    options = list(requirements)
    for path in constraints or []:
        options += ["-c", str(path)]
    for path in requirements_files or []:
        options += ["-r", str(path)]
    logger.info("resolving %s with pip", " ".join(requirements))
    run_pip(["wheel", "--wheel-dir", str(wheel_dir), *options], " ".join(requirements))
    wheels = sorted(wheel_dir.glob("*.whl"))
    _check_one_per_project(wheels)
    logger.info("resolved %d wheel(s)", len(wheels))
    return wheels


def is_name(item: str) -> bool:
    """``item`` is a plain requirement by name (not a path, a URL or an option)."""
    if item.startswith("-") or "/" in item or os.sep in item or item.endswith(".whl"):
        return False
    try:
        return Requirement(item).url is None
    except InvalidRequirement:
        return False


def with_extras(requirements: list[str], project: str | None, extras: tuple[str, ...]) -> list[str]:
    """``requirements`` with ``extras`` asked of the app: ``project``, else the first requirement."""
    if not extras:
        return requirements
    wanted = ",".join(extras)
    app = canonicalize_name(project) if project else None
    result = list(requirements)
    for index, item in enumerate(result):
        if item.startswith("-") or (index and result[index - 1] in ("-r", "-c")):
            continue
        if app is None or _project_of(item) == app:
            if is_name(item):
                req = Requirement(item)
                req.extras |= set(extras)
                result[index] = str(req)
            else:
                result[index] = f"{item}[{wanted}]"
            return result
    if app is None:
        raise ResolutionError("cannot tell which requirement is the app to give extras to; name it with --name")
    return [*result, f"{project}[{wanted}]"]


def _project_of(item: str) -> str | None:
    try:
        return canonicalize_name(first_project([item], []))
    except ResolutionError:
        return None


def first_project(requirements: list[str], wheels: list[Path]) -> str:
    """The project the first requirement names (a name, a wheel path, a project directory, or the first
    line of a ``-r`` file)."""
    for item in requirements:
        if item.startswith("-"):
            continue
        path = Path(item)
        if path.suffix == ".whl":
            return str(parse_wheel_filename(path.name)[0])
        if path.is_dir():
            name = _directory_project(path, wheels)
            if name:
                return name
            break
        try:
            return str(Requirement(item).name)
        except InvalidRequirement:
            continue
    if len(wheels) == 1:
        return str(parse_wheel_filename(wheels[0].name)[0])
    raise ResolutionError("cannot tell which requirement is the app; name it (the first requirement, or --name)")


def _directory_project(path: Path, wheels: list[Path]) -> str | None:
    """The name of the project in directory ``path``: its pyproject.toml's, setup.cfg's, or a wheel named after it."""
    try:
        with (path / "pyproject.toml").open("rb") as handle:
            name = tomllib.load(handle).get("project", {}).get("name")
        if isinstance(name, str):
            return name
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        pass
    config = configparser.ConfigParser(interpolation=None)
    try:
        config.read(path / "setup.cfg", encoding="utf-8")
        name = config.get("metadata", "name", fallback=None)
    except configparser.Error:
        name = None
    if name:
        return str(name)
    named = [w for w in wheels if canonicalize_name(parse_wheel_filename(w.name)[0]) == canonicalize_name(path.name)]
    return str(parse_wheel_filename(named[0].name)[0]) if named else None


def run_pip(arguments: list[str], subject: str) -> str:
    """Run ``python -m pip ARGUMENTS`` quietly; its output, or a ResolutionError with pip's reason."""
    command = [
        sys.executable,
        "-m",
        "pip",
        *arguments[:1],
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
        *arguments[1:],
    ]
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
        raise PipFailed(_pip_failure(result.stdout, result.stderr, subject), result.stderr)
    return result.stdout


class PipFailed(ResolutionError):
    """pip exited with an error; ``output`` is what it said on stderr."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


def _pip_failure(stdout: str, stderr: str, name: str) -> str:
    return f"cannot resolve the dependencies of {name} with pip:\n  {pip_reason(stdout, stderr)}"


def pip_reason(stdout: str, stderr: str) -> str:
    """pip's reason for failing, in one short block: its ERROR lines and, for conflicts, their causes."""
    lines = [line.rstrip() for line in stderr.splitlines() if line.strip()]
    first = next((i for i, line in enumerate(lines) if line.startswith("ERROR")), None)
    chosen = lines[first:] if first is not None else lines or stdout.strip().splitlines()
    out = stdout.splitlines()
    cause = next((i for i, line in enumerate(out) if "conflict is caused by" in line), None)
    if cause is not None:
        block = []
        for line in out[cause:]:
            if not line.strip():
                break
            block.append(line.rstrip())
        chosen = block + chosen
    return "\n  ".join(chosen[:_ERROR_LINES]) if chosen else "pip exited with an error and said nothing"


def _check_one_per_project(wheels: list[Path]) -> None:
    seen: dict[str, Path] = {}
    for wheel in wheels:
        project = canonicalize_name(parse_wheel_filename(wheel.name)[0])
        if project in seen:
            raise ResolutionError(f"pip produced two wheels for {project}: {seen[project].name} and {wheel.name}")
        seen[project] = wheel
