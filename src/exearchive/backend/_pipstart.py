"""pip started while setuptools builds the project's wheel, so that its imports are done when it is needed.

A small app's resolution is mostly pip starting: of the 500 ms a ``pip
wheel`` of click takes, pip imports for 450 ms before it reads anything.
The archive step cannot run pip before the project's wheel exists, but it
can start it: :func:`early` starts ``_piprun.py --early wheel`` when
``build_wheel`` begins, on the core setuptools leaves free; that process
imports pip and waits.  The first pip run of the build (:meth:`Early.take`,
from ``_resolve.run_pip``) hands it its arguments instead of starting a new
pip, when its command, environment and working directory are the ones it
was started with; otherwise it starts pip as usual.  What pip does and says
is the same either way.  An early pip that was not taken is stopped when the
build is done.

It is started only when the build will run pip: the archive is wanted, the
resolver is pip, there is no lock file, and the build cache remembers no
resolution of this project (``_resolutions``: a build that changes only the
app's code runs no pip).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

from ._config import Config, project_name

logger = logging.getLogger(__name__)

COMMAND = "wheel"  # the pip command the archive step runs first (``_resolve``)
_STOP_WAIT = 1.0
# Set in os.environ by setuptools' distutils while it builds (check_environ), read by distutils alone: pip
# started before it runs the same
_SET_BY_SETUPTOOLS = frozenset({"PLAT"})


def pip_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment pip runs in: the build's, unbuffered (its lines are read as they come), no virtualenv check."""
    env = {k: v for k, v in (os.environ if environ is None else environ).items() if k != "PIP_REQUIRE_VIRTUALENV"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Early:
    """A pip process started before its arguments are known (``_piprun.py --early``), taken at most once."""

    def __init__(self, pip: list[str], env: dict[str, str]) -> None:
        self._pip = pip
        self._env = env
        self._cwd = Path.cwd()
        self._process: subprocess.Popen[str] | None = subprocess.Popen(
            [*pip, "--early", COMMAND],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def take(self, pip: list[str], arguments: list[str], env: dict[str, str]) -> subprocess.Popen[str] | None:
        """The early pip, now running ``arguments``; None when it does not fit (another pip, environment or
        working directory), was taken already, or has died."""
        process, self._process = self._process, None
        if process is None:
            return None
        changed = {k for k in {*env, *self._env} if env.get(k) != self._env.get(k)} - _SET_BY_SETUPTOOLS
        if changed or (pip, Path.cwd()) != (self._pip, self._cwd) or process.poll() is not None:
            logger.debug("pip: not the pip started early (%s)", changed or "its command, directory or exit")
            _stop(process)
            return None
        assert process.stdin is not None
        try:
            process.stdin.write(json.dumps(arguments) + "\n")
            process.stdin.close()
        except OSError:  # it died meanwhile
            _stop(process)
            return None
        logger.debug("pip: arguments handed to the pip started early")
        return process

    def stop(self) -> None:
        """Stop the early pip if it was not taken."""
        process, self._process = self._process, None
        if process is not None:
            _stop(process)


def _stop(process: subprocess.Popen[str]) -> None:
    """End a pip that runs nothing yet (it imports, or waits for its arguments)."""
    with contextlib.suppress(OSError):
        if process.stdin is not None:
            process.stdin.close()
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(_STOP_WAIT)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


@contextlib.contextmanager
def early(config: Config, project_dir: Path) -> Iterator[Early | None]:
    """An early pip for this build when it will run pip (see the module's docstring), stopped at the end."""
    pip = _wanted(config, project_dir)
    started = None
    if pip is not None:
        try:
            started = Early(pip, pip_env())
            logger.debug("pip: started early, before the project's wheel is built")
        except OSError as error:  # pip starts the usual way later, and says what is wrong
            logger.debug("not starting pip early: %s", error)
    try:
        yield started
    finally:
        if started is not None:
            started.stop()


def _wanted(config: Config, project_dir: Path) -> list[str] | None:
    """The pip command when this build will run pip, else None.  Imports little: setuptools waits for it."""
    from . import _cachedir, _pip

    if config.lock or config.resolver == "uv" or (config.resolver == "auto" and os.environ.get("UV")):
        return None  # uv, or the lock file, says what goes in
    pip = _pip.command()
    if pip is None:
        return None
    name = project_name(project_dir)
    cache = _cachedir.location()
    if name and cache and _cachedir.pip_sees_no_index() and _cachedir.remembers_resolution_of(cache, name):
        return None
    return pip
