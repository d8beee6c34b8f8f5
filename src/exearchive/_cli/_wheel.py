"""A project's wheel, built by the project's own build backend through ``build``.

Isolated by default: ``build`` makes a fresh virtual environment and installs
the project's ``[build-system] requires`` and what the backend asks for into
it with pip (so ``PIP_*`` variables and pip's configuration apply);
``isolated=False`` runs the backend with this interpreter, which must have
them installed.  A project whose backend is exearchive's own gets
``exearchive.enabled=false``, so that its backend makes only the wheel and the
command packs it once.

The backend's output is captured: it is logged as debug lines (``--verbose``
shows it), and its last line names the problem when the build fails.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from build import BuildBackendException, BuildException, FailedProcessError, ProjectBuilder
from build.env import DefaultIsolatedEnv

from ..backend._resolve import pip_reason
from ._errors import CommandError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

logger = logging.getLogger(__name__)

OWN_BACKEND = "exearchive.backend"
_LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
_TAIL = 40


@dataclass(frozen=True)
class Project:
    """A project directory and what its pyproject.toml says about building it."""

    path: Path
    name: str
    backend: str

    @classmethod
    def at(cls, path: Path) -> Project:
        """The project in ``path``; a :class:`CommandError` when there is none."""
        if not path.exists():
            raise CommandError(f"the project directory {str(path)!r} does not exist")
        if not path.is_dir():
            raise CommandError(f"{str(path)!r} is not a directory; give the directory of a Python project")
        pyproject = path / "pyproject.toml"
        if not pyproject.is_file():
            if (path / "setup.py").is_file():
                return cls(path.resolve(), path.resolve().name, _LEGACY_BACKEND)
            raise CommandError(f"{str(path)!r} is not a Python project: it has neither pyproject.toml nor setup.py")
        try:
            with pyproject.open("rb") as handle:
                data = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise CommandError(f"cannot read {pyproject}: {error}") from None
        system = data.get("build-system")
        backend = system.get("build-backend") if isinstance(system, dict) else None
        project = data.get("project")
        name = project.get("name") if isinstance(project, dict) else None
        return cls(
            path.resolve(),
            name if isinstance(name, str) else path.resolve().name,
            backend if isinstance(backend, str) else _LEGACY_BACKEND,
        )

    @property
    def uses_exearchive(self) -> bool:
        """The project's backend is exearchive's own (which would make an archive itself)."""
        return self.backend.partition(":")[0].strip() == OWN_BACKEND


def build_wheel(project: Project, outdir: Path, settings: Mapping[str, Any], isolated: bool = True) -> Path:
    """Build the wheel of ``project`` into ``outdir`` with its backend; return the wheel's path."""
    settings = dict(settings)
    if project.uses_exearchive:
        settings["exearchive.enabled"] = "false"  # the command packs it; do not build the archive twice
    how = "in an isolated environment" if isolated else f"with {sys.executable}"
    logger.info("building the wheel of %s with %s %s", project.name, project.backend, how)
    runner = _Runner(project.backend)
    try:
        if isolated:
            with DefaultIsolatedEnv() as env:
                builder = ProjectBuilder.from_isolated_env(env, project.path, runner=runner)
                _install(env, builder.build_system_requires, project)
                _install(env, builder.get_requires_for_build("wheel", settings or None), project)
                wheel = builder.build("wheel", outdir, settings or None)
        else:
            builder = ProjectBuilder(project.path, runner=runner)
            missing = builder.check_dependencies("wheel", settings or None)
            if missing:
                names = ", ".join(sorted(chain[0] for chain in missing))
                raise CommandError(
                    f"--no-isolation: the build requirements of {project.name} are not installed for "
                    f"{sys.executable}: {names}; install them, or build without --no-isolation"
                )
            wheel = builder.build("wheel", outdir, settings or None)
    except BuildBackendException as error:
        raise CommandError(_backend_failure(project, error, runner, isolated)) from None
    except FailedProcessError as error:
        raise CommandError(_install_failure(project, error)) from None
    except BuildException as error:
        raise CommandError(f"cannot build {project.name}: {error}") from None
    path = Path(wheel)
    logger.info("built %s", path.name)
    return path


def _install(env: DefaultIsolatedEnv, requirements: Collection[str], project: Project) -> None:
    """Install build requirements into the isolated environment; pip's reason when it cannot."""
    try:
        env.install(requirements)
    except subprocess.CalledProcessError as error:  # build runs pip with its output captured
        out, err = (_text(stream) for stream in (error.stdout, error.stderr))
        raise CommandError(
            f"cannot install the build requirements of {project.name} ({', '.join(sorted(requirements))}) "
            f"in an isolated environment with pip:\n  {pip_reason(out, err)}"
        ) from None


def _text(stream: str | bytes | None) -> str:
    return stream.decode(errors="replace") if isinstance(stream, bytes) else stream or ""


class _Runner:
    """Runs a backend hook's subprocess, logging its output and keeping the last lines."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.tail: deque[str] = deque(maxlen=_TAIL)

    def __call__(
        self, cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None
    ) -> None:
        env = {**os.environ, **(extra_environ or {})}
        with subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as process:
            assert process.stdout is not None
            for raw in process.stdout:
                line = raw.rstrip()
                self.tail.append(line)
                logger.debug("%s: %s", self.backend, line)
            code = process.wait()
        if code:
            raise subprocess.CalledProcessError(code, list(cmd), output="\n".join(self.tail))

    def last_line(self) -> str | None:
        """The backend's last line of output that says something."""
        for line in reversed(self.tail):
            text = line.strip()
            if text and not text.startswith(("^", "~")):
                return text
        return None


def _backend_failure(project: Project, error: BuildBackendException, runner: _Runner, isolated: bool) -> str:
    cause = error.exception
    if type(cause).__name__ == "BackendUnavailable":
        where = (
            "in its isolated build environment; check [build-system] requires in its pyproject.toml"
            if isolated
            else f"for {sys.executable}; install it, or build without --no-isolation"
        )
        return f"the build backend {project.backend!r} of {project.name} is not available {where}"
    if isinstance(cause, subprocess.CalledProcessError):
        last = runner.last_line()
        said = f": {last}" if last else ""
        return f"{project.backend} failed to build the wheel of {project.name}{said} (--verbose shows all its output)"
    return f"{project.backend} failed to build the wheel of {project.name}: {cause}"


def _install_failure(project: Project, error: FailedProcessError) -> str:
    process = error.exception
    text = process.stderr or process.stdout or b""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    reason = next((line for line in lines if line.startswith("ERROR")), lines[-1] if lines else str(error))
    return f"cannot install the build requirements of {project.name} in an isolated environment: {reason}"
