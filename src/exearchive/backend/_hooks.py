"""PEP 517 and PEP 660 hooks: setuptools does the wheel, exearchive adds the archive.

Every hook delegates to ``setuptools.build_meta`` with the config settings that
are not ``exearchive.*``, so the sdist and the wheel are exactly what
setuptools alone makes — except that ``build_sdist`` adds the lock,
constraints and requirements files that ``[tool.exearchive]`` names when
setuptools left them out (``_sdist``).  ``build_wheel`` then builds the archive, unless it is
disabled, or the build runs under pip (which discards it) and the user did
not ask for it with ``-C exearchive.enabled=true``.

Problems the user can fix end the hook with one line on stderr and a non-zero
exit (``SystemExit``), not a traceback.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from . import _config, _pip, _pipstart, _sdist, _warmup
from ._errors import ExearchiveError

logger = logging.getLogger("exearchive")

ConfigSettings = Mapping[str, Any] | None
_T = TypeVar("_T")


def _boundary(hook: Callable[..., _T]) -> Callable[..., _T]:
    """Report :class:`ExearchiveError` as one line and exit non-zero."""

    @functools.wraps(hook)
    def wrapper(*args: Any, **kwargs: Any) -> _T:
        _log_to_stderr()
        try:
            return hook(*args, **kwargs)
        except ExearchiveError as error:
            raise SystemExit(f"exearchive: error: {error}") from None

    return wrapper


def _log_to_stderr() -> None:
    """Show exearchive's progress in the frontend's output (once per process)."""
    if logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("exearchive: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if os.environ.get("EXEARCHIVE_DEBUG") else logging.INFO)
    logger.propagate = False


def _setuptools() -> ModuleType:
    """``setuptools.build_meta``, imported when a hook needs it (``build_wheel`` starts the warm-up first)."""
    return importlib.import_module("setuptools.build_meta")


def _load(config_settings: ConfigSettings) -> _config.Config:
    return _config.load(Path.cwd(), config_settings)


def _archive_wanted(config: _config.Config) -> bool:
    if not config.enabled:
        return False
    if "PIP_BUILD_TRACKER" in os.environ and not config.enabled_explicitly:
        logger.info("building under pip, which keeps only the wheel: no archive (-C exearchive.enabled=true builds it)")
        return False
    return True


@_boundary
def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> list[str]:
    requires = list(_setuptools().get_requires_for_build_wheel(_config.theirs(config_settings)))
    if _archive_wanted(_load(config_settings)) and _pip.command() is None:
        requires.append(_pip.REQUIREMENT)
    return requires


@_boundary
def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> list[str]:
    _load(config_settings)
    return list(_setuptools().get_requires_for_build_sdist(_config.theirs(config_settings)))


@_boundary
def get_requires_for_build_editable(config_settings: ConfigSettings = None) -> list[str]:
    _load(config_settings)
    return list(_setuptools().get_requires_for_build_editable(_config.theirs(config_settings)))


@_boundary
def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: ConfigSettings = None) -> str:
    _load(config_settings)
    return str(_setuptools().prepare_metadata_for_build_wheel(metadata_directory, _config.theirs(config_settings)))


@_boundary
def prepare_metadata_for_build_editable(metadata_directory: str, config_settings: ConfigSettings = None) -> str:
    _load(config_settings)
    return str(_setuptools().prepare_metadata_for_build_editable(metadata_directory, _config.theirs(config_settings)))


@_boundary
def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    config = _load(config_settings)
    name = str(_setuptools().build_sdist(sdist_directory, _config.theirs(config_settings)))
    if config.enabled:
        # the files the archive step reads travel in the sdist, so that a wheel built from it can read them
        _sdist.add_inputs(Path(sdist_directory) / name, _config.input_files(config), Path.cwd())
    return name


@_boundary
def build_editable(
    wheel_directory: str, config_settings: ConfigSettings = None, metadata_directory: str | None = None
) -> str:
    _load(config_settings)
    return str(_setuptools().build_editable(wheel_directory, _config.theirs(config_settings), metadata_directory))


@_boundary
def build_wheel(
    wheel_directory: str, config_settings: ConfigSettings = None, metadata_directory: str | None = None
) -> str:
    config = _load(config_settings)
    if not _archive_wanted(config):
        return str(_setuptools().build_wheel(wheel_directory, _config.theirs(config_settings), metadata_directory))
    wheel_dir = Path(wheel_directory).resolve()
    outdir = wheel_dir / config.outdir if config.outdir else wheel_dir
    # The wheel is made beside its place and moved there only once the archive is built,
    # so that a failed archive step leaves the wheel directory as it was.
    wheel_dir.mkdir(parents=True, exist_ok=True)
    with (
        _warmup.compiled_in_background(),  # while setuptools is imported and builds the wheel
        _pipstart.early(config, Path.cwd()) as early,  # pip imports itself meanwhile, and waits
        tempfile.TemporaryDirectory(prefix=".exearchive-wheel-", dir=wheel_dir) as temp,
    ):
        name = str(_setuptools().build_wheel(temp, _config.theirs(config_settings), metadata_directory))
        from ._builder import build_archive

        build_archive(Path(temp) / name, config, outdir, Path.cwd(), early)
        (Path(temp) / name).replace(wheel_dir / name)
    return name
