"""The archive step: a built wheel in, an executable archive out.

resolve (pip) -> stage (installer) -> read what was staged -> choose the entry
point -> compile bytecode -> write payload -> write archive.  The backend's
``build_wheel`` and the ``exearchive`` command both call :func:`build_archive`.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from packaging.tags import Tag
from packaging.utils import parse_wheel_filename

from .. import __version__
from ..runtime import FORMAT, PAYLOAD
from . import (
    _buildcache,
    _bytecode,
    _entry,
    _extras,
    _lock,
    _pack,
    _resolve,
    _shebang,
    _staged,
    _targets,
    _uv,
    _zip,
)
from ._config import Config, input_files
from ._errors import ConfigError

logger = logging.getLogger(__name__)


def build_archive(wheel: Path, config: Config, outdir: Path, project_dir: Path) -> Path:
    """Build the archive for the project ``wheel`` into ``outdir``; return its path.

    ``project_dir`` is where relative paths of the configuration (lock,
    constraints, requirements files) are found.
    """
    _check_shebang(config)
    _check_input_files(config, project_dir)
    name = parse_wheel_filename(wheel.name)[0]
    target = _target(config, project_dir)
    _extras.check(config.extras, _extras.declared_in_wheel(wheel), name, config.where("extras"))
    with tempfile.TemporaryDirectory(prefix="exearchive-") as temp:
        work = Path(temp)
        wheels = _wheels(wheel, config, project_dir, work / "wheels", target)
        return _assemble(wheels, name, config, work, lambda staged: outdir / archive_name(wheel.name, staged), target)


def pack_requirements(
    requirements: list[str], config: Config, output: Path, project: str | None = None, base_dir: Path | None = None
) -> Path:
    """Build an archive at ``output`` from pip requirements (names, ``-r FILE``, wheel paths, directories).

    ``project`` names the distribution whose name and version the archive
    takes (default: the first requirement's); its console script is the
    default entry point, and ``config.extras`` are its extras.  ``base_dir``
    resolves the configuration's relative lock, constraints and requirements
    files (default: the current directory).  With a lock file, the lock says
    what goes in: ``requirements`` may only name the app.
    """
    _check_shebang(config)
    base = base_dir or Path.cwd()
    target = _target(config, base)
    with tempfile.TemporaryDirectory(prefix="exearchive-") as temp:
        work = Path(temp)
        if config.lock:
            if any(not _resolve.is_name(item) for item in requirements):
                raise ConfigError(
                    f"with {config.where('lock')}, the lock file says what goes into the archive: "
                    "name only the app (a distribution in the lock), not paths or requirements files"
                )
            wheels = _lock.wheels_from_lock(
                base / config.lock, config.where("lock"), None, config.extras, work / "wheels", target
            )
        else:
            wheels = _resolve.resolve_requirements(
                _resolve.with_extras(requirements, project, config.extras),
                work / "wheels",
                constraints=[base / path for path in config.constraints],
                requirements_files=[base / path for path in config.requirements],
                target=target,
            )
        name = project or _resolve.first_project(requirements, wheels)
        return _assemble(wheels, name, config, work, lambda staged: output, target)


def _target(config: Config, base_dir: Path) -> _targets.Target:
    """The one target of the configuration (the host by default)."""
    where = config.where("targets")
    return _targets.parse(config.targets[0], base_dir, where) if config.targets else _targets.host()


def _assemble(
    wheels: list[Path],
    name: str,
    config: Config,
    work: Path,
    target_for: Callable[[_staged.Staged], Path],
    target: _targets.Target,
) -> Path:
    """Stage ``wheels``, check them, and write the archive for project ``name`` to run on ``target``."""
    staging = _buildcache.stage(
        wheels,
        work / "stage",
        name,
        (lambda tree: _bytecode.compile_for(target, tree, config.python, config.compile_tests))
        if config.compile
        else None,
        lambda: _bytecode.compiler_identity(target, config.python, config.compile_tests),
    )
    root = staging.root
    staged = _staged.read(root, wheels, staging.trees)
    dist = staged.find(name)
    if dist is None:
        raise ConfigError(f"{name!r} is not one of the distributions in the archive")
    _extras.check(config.extras, dist.extras, dist.name, config.where("extras"))
    _staged.check_complete(staged, config.extras, name, "the lock file" if config.lock else "pip", target)
    entry = None if config.interpreter else _entry.choose(staged, name, config.entry_point, config.where("entry-point"))
    pyc_tags = [staging.pyc_tag] if staging.pyc_tag else []
    payload = _pack.write_payload(staging.members, work / "payload.zip", _zip.build_date(), staging.packed)
    manifest = _manifest(staged, dist.name, dist.version, entry, payload, pyc_tags, config, target)
    path = target_for(staged)
    if config.check_python and "python" in config.sources:
        _shebang.check(config.python, config.where("python"), manifest["needs"], path.name)
    _pack.write_archive(path, config.python, manifest, payload, __version__)
    logger.info(
        "built %s (%d files, %.1f MB; %s)",
        path.resolve(),
        payload.files,
        path.stat().st_size / 1e6,
        f"entry point {entry.name or entry.spec}" if entry else "an interpreter archive",
    )
    return path


def _wheels(wheel: Path, config: Config, project_dir: Path, wheel_dir: Path, target: _targets.Target) -> list[Path]:
    if config.lock:
        return _lock.wheels_from_lock(
            project_dir / config.lock, config.where("lock"), wheel, config.extras, wheel_dir, target
        )
    constraints = [project_dir / path for path in config.constraints]
    requirements = [project_dir / path for path in config.requirements]
    uv = _uv.chosen(config.resolver, config.where("resolver"))
    if uv is not None and target.is_host:
        return _uv.resolve(uv, wheel, config.extras, wheel_dir, constraints=constraints, requirements=requirements)
    platform = _uv.platform_for(target) if uv is not None else ""
    if uv is not None and not isinstance(platform, str):
        files = {"constraints": constraints, "requirements": requirements}
        return _uv.resolve_for(uv, platform, target, wheel, config.extras, wheel_dir, **files)
    if uv is not None and config.resolver == "uv":
        raise ConfigError(
            f"{config.where('resolver')} = 'uv' with {config.where('targets')} = {target.name!r}: uv cannot resolve "
            f"for it ({platform}); set it to 'pip' (pip resolves with the target's flags)"
        )
    if uv is not None:
        logger.info("resolving for %s with pip, not uv: %s", target.name, platform)
    return _resolve.resolve(
        wheel, config.extras, wheel_dir, constraints=constraints, requirements=requirements, target=target
    )


def _check_input_files(config: Config, project_dir: Path) -> None:
    for where, path in input_files(config):
        if not (project_dir / path).is_file():
            raise ConfigError(
                f"{where}: {path!r} does not exist in {project_dir}; when building from an sdist, "
                f"make sure it is in the sdist (add 'include {path}' to MANIFEST.in)"
            )


def _manifest(
    staged: _staged.Staged,
    project: str,
    version: str,
    entry: _entry.EntryPoint | None,
    payload: _pack.Payload,
    pyc_tags: list[str],
    config: Config,
    target: _targets.Target,
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "id": _pack.content_id(payload),
        "name": project,
        "version": version,
        "entry_point": entry.spec if entry else None,
        "entry_point_name": entry.name if entry else None,
        "interpreter": entry is None,
        "scripts": staged.scripts(),
        "script_files": staged.script_files(),
        "pth": staged.pth_files,
        "pyc": pyc_tags,
        "needs": _staged.needs(staged, config.extras, project, target),
        "distributions": [{"name": d.name, "version": d.version, "wheel": d.wheel} for d in staged.distributions],
        "payload": {
            "member": PAYLOAD,
            "sha256": payload.sha256,
            "size": payload.size,
            "files": payload.files,
            "unpacked_size": payload.unpacked,
        },
        "built_with": f"exearchive {__version__}",
    }


def archive_name(wheel_name: str, staged: _staged.Staged) -> str:
    """``{name}-{version}.pyz``, plus ``-{interpreter}-{platform}`` when the payload holds native code."""
    parts = wheel_name[: -len(".whl")].split("-")
    base = f"{parts[0]}-{parts[1]}"
    native = [Tag(*t.split("-")) for d in staged.distributions if not d.pure for t in d.tags]
    if not native:
        return f"{base}.pyz"
    return f"{base}-{_interpreter_tag(native)}-{_platform_tag(native)}.pyz"


def _interpreter_tag(tags: list[Tag]) -> str:
    specific = sorted({t.interpreter for t in tags if t.abi not in ("none", "abi3")})
    if specific:
        return specific[-1]
    return sorted({t.interpreter for t in tags})[-1]


def _platform_tag(tags: list[Tag]) -> str:
    platforms = {t.platform for t in tags if t.platform != "any"}
    if not platforms:
        return "any"
    plain = sorted(p for p in platforms if not p.startswith(("manylinux", "musllinux")))
    if plain:
        return plain[-1]

    def glibc(platform: str) -> tuple[int, int]:
        match = re.match(r"(?:many|musl)linux_(\d+)_(\d+)_", platform)
        return (int(match[1]), int(match[2])) if match else (0, 0)

    return max(platforms, key=lambda p: (glibc(p), p))


def _check_shebang(config: Config) -> None:
    where = config.where("python")
    if not config.python.startswith("/"):
        raise ConfigError(
            f"{where} = {config.python!r} must be an absolute path such as /usr/bin/python3 or '/usr/bin/env python3'"
        )
    if len(config.python) > 125 or "\n" in config.python:
        raise ConfigError(f"{where} = {config.python!r} is too long for a shebang line (at most 125 characters)")
