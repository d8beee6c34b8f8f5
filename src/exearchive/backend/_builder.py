"""The archive step: a built wheel in, an executable archive out.

For each target: resolve (pip) -> stage (installer) -> read what was staged
-> choose the entry point -> compile bytecode; then one payload for all of
them (``_multi``: files stored once) -> write archive.  The backend's
``build_wheel`` and the ``exearchive`` command both call :func:`build_archive`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.utils import parse_wheel_filename

from .. import __version__
from ..runtime import FORMAT, ID_LENGTH, PAYLOAD, SINGLE_FORMAT, TARGET_LISTS
from . import (
    _buildcache,
    _bytecode,
    _cachedir,
    _collector,
    _entry,
    _extras,
    _launcher,
    _multi,
    _pack,
    _pipstart,
    _prefill,
    _resolve,
    _shebang,
    _staged,
    _targets,
    _uv,
    _zipwrite,
)
from ._cachestore import Compile
from ._config import Config, input_files
from ._errors import ConfigError

logger = logging.getLogger(__name__)


def build_archive(
    wheel: Path, config: Config, outdir: Path, project_dir: Path, early: _pipstart.Early | None = None
) -> Path:
    """Build the archive for the project ``wheel`` into ``outdir``; return its path.

    ``project_dir`` is where relative paths of the configuration (lock,
    constraints, requirements files) are found.  ``early``: a pip started
    while the wheel was built, for the first resolution (``_pipstart``).
    """
    _check_shebang(config)
    _check_input_files(config, project_dir)
    name = parse_wheel_filename(wheel.name)[0]
    targets = _targets_of(config, project_dir)
    _extras.check(config.extras, _extras.declared_in_wheel(wheel), name, config.where("extras"))
    with (
        _buildcache.in_use(),
        _collector.older_objects_frozen(),
        tempfile.TemporaryDirectory(prefix="exearchive-") as temp,
        _launcher.Launcher(_cachedir.bytecode_folder()) as launcher,
    ):
        work = Path(temp)
        prepared = []
        for k, target in enumerate(targets):
            wheel_dir = work / f"target-{k}" / "wheels"
            with _prefill.Prefill(name, *_compilers(config, target), config.compression_level) as prefill:
                on_line = prefill.add if target.is_host else None
                wheels = _wheels(wheel, config, project_dir, wheel_dir, target, on_line, early)
            prepared.append(_prepare(wheels, name, config, work, k, target))
        return _assemble(
            prepared,
            config,
            lambda stageds: outdir / combined_name([archive_name(wheel.name, s) for s in stageds]),
            launcher,
        )


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
    targets = _targets_of(config, base)
    if config.lock and any(not _resolve.is_name(item) for item in requirements):
        raise ConfigError(
            f"with {config.where('lock')}, the lock file says what goes into the archive: "
            "name only the app (a distribution in the lock), not paths or requirements files"
        )
    with (
        _buildcache.in_use(),
        _collector.older_objects_frozen(),
        tempfile.TemporaryDirectory(prefix="exearchive-") as temp,
        _launcher.Launcher(_cachedir.bytecode_folder()) as launcher,
    ):
        work = Path(temp)
        prepared = []
        for k, target in enumerate(targets):
            wheel_dir = work / f"target-{k}" / "wheels"
            if config.lock:
                from . import _lock

                wheels = _lock.wheels_from_lock(
                    base / config.lock, config.where("lock"), None, config.extras, wheel_dir, target
                )
            else:
                first = requirements[0] if requirements and _resolve.is_name(requirements[0]) else ""
                app = project or (Requirement(first).name if first else "")  # its wheel is not cached
                with _prefill.Prefill(app, *_compilers(config, target), config.compression_level) as early:
                    wheels = _resolve.resolve_requirements(
                        _resolve.with_extras(requirements, project, config.extras),
                        wheel_dir,
                        constraints=[base / path for path in config.constraints],
                        requirements_files=[base / path for path in config.requirements],
                        target=target,
                        on_line=early.add if target.is_host else None,
                    )
            name = project or _resolve.first_project(requirements, wheels)
            prepared.append(_prepare(wheels, name, config, work, k, target))
        return _assemble(prepared, config, lambda stageds: output, launcher)


def _targets_of(config: Config, base_dir: Path) -> list[_targets.Target]:
    """The targets of the configuration, in its order (the host by default)."""
    where = config.where("targets")
    return [_targets.parse(value, base_dir, where) for value in config.targets] or [_targets.host()]


@dataclass(frozen=True)
class _Prepared:
    """One target staged and compiled, with what its manifest says."""

    target: _targets.Target
    staged: _staged.Staged
    dist: _staged.Distribution
    entry: _entry.EntryPoint | None
    pyc_tags: list[str]
    needs: dict[str, object]
    files: list[_multi.TreeFile]
    packed: dict[Path, _zipwrite.Packed]
    """Compressed bytes the build cache holds for some of the files."""


def _prepare(
    wheels: list[Path], name: str, config: Config, work: Path, index: int, target: _targets.Target
) -> _Prepared:
    """Stage ``wheels`` for ``target`` (into its own directory), check them, compile its bytecode."""
    compile_tree, compiler = _compilers(config, target)
    staging = _buildcache.stage(
        wheels, work / f"target-{index}" / "stage", name, compile_tree, compiler, level=config.compression_level
    )
    staged = _staged.read(staging.root, wheels, staging.trees)
    dist = staged.find(name)
    if dist is None:
        raise ConfigError(f"{name!r} is not one of the distributions in the archive")
    _extras.check(config.extras, dist.extras, dist.name, config.where("extras"))
    _staged.check_complete(staged, config.extras, name, "the lock file" if config.lock else "pip", target)
    entry = None if config.interpreter else _entry.choose(staged, name, config.entry_point, config.where("entry-point"))
    needs = _staged.needs(staged, config.extras, dist.name, target)
    pyc_tags = [staging.pyc_tag] if staging.pyc_tag else []
    return _Prepared(
        target, staged, dist, entry, pyc_tags, needs, _multi.tree_files(staging.members, staging.packed), staging.packed
    )


def _compilers(config: Config, target: _targets.Target) -> tuple[Compile | None, Callable[[], str]]:
    """What compiles a staged tree's bytecode for ``target`` (None: no bytecode), and who that is."""
    compile_tree = (
        (lambda tree: _bytecode.compile_for(target, tree, config.python, config.compile_tests))
        if config.compile
        else None
    )
    return compile_tree, lambda: _bytecode.compiler_identity(target, config.python, config.compile_tests)


def _assemble(
    prepared: list[_Prepared],
    config: Config,
    target_for: Callable[[list[_staged.Staged]], Path],
    launcher: _launcher.Launcher,
) -> Path:
    """Write the archive of the prepared targets: one payload, each target's files stored once (``launcher``:
    its files, compiled while the targets were prepared)."""
    merged = _multi.merge([p.files for p in prepared])
    packed = {path: item for p in prepared for path, item in p.packed.items()}
    first = prepared[0]
    lists = [("\n".join(names) + "\n").encode() for names in merged.lists]
    # a list the same as an earlier target's (same files: the same id too) is stored once, under that one's index
    overlays = [_overlay(p, lists.index(lists[k]), lists[k]) for k, p in enumerate(prepared)]
    extra: list[tuple[str, bytes]] = []
    if len(prepared) > 1:
        extra = [(TARGET_LISTS + str(k), data) for k, data in enumerate(lists) if lists.index(data) == k]

    def manifest_for(payload: _pack.Payload) -> dict[str, Any]:
        if len(prepared) == 1:
            return _manifest(first, payload, overlays[0], SINGLE_FORMAT)
        return _manifest(first, payload, {"targets": overlays}, FORMAT)

    path = target_for([p.staged for p in prepared])
    if config.check_python and "python" in config.sources:
        _check_shebang_fits(config, [p.needs for p in prepared], path.name)
    payload = _pack.write_archive(
        path,
        config.python,
        merged.members,
        manifest_for,
        __version__,
        packed,
        extra,
        config.compression_level,
        launcher,
    )
    entry = first.entry
    logger.info(
        "built %s (%d files, %.1f MB; %s%s)",
        path.resolve(),
        payload.files,
        path.stat().st_size / 1e6,
        f"entry point {entry.name or entry.spec}" if entry else "an interpreter archive",
        f"; {len(prepared)} targets" if len(prepared) > 1 else "",
    )
    return path


def _check_shebang_fits(config: Config, needs: list[dict[str, object]], name: str) -> None:
    """The ``#!`` interpreter must be able to run one of the targets (the first's problem is shown)."""
    problems = [_shebang.problem(config.python, each, name) for each in needs]
    if all(problems):
        _shebang.check(config.python, config.where("python"), needs[0], name)


def _wheels(
    wheel: Path,
    config: Config,
    project_dir: Path,
    wheel_dir: Path,
    target: _targets.Target,
    on_line: Callable[[str], None] | None = None,
    early: _pipstart.Early | None = None,
) -> list[Path]:
    """The wheels of the archive for ``target``: from the lock file, uv or pip (``on_line``: pip's output lines;
    ``early``: a pip started early, ``_pipstart``)."""
    if config.lock:
        # imported when used: a build without a lock file never compiles _lock and packaging.pylock (an isolated
        # build environment is installed without bytecode, so every module it imports is compiled there)
        from . import _lock

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
        wheel,
        config.extras,
        wheel_dir,
        constraints=constraints,
        requirements=requirements,
        target=target,
        on_line=on_line,
        early=early,
    )


def _check_input_files(config: Config, project_dir: Path) -> None:
    for where, path in input_files(config):
        if not (project_dir / path).is_file():
            raise ConfigError(
                f"{where}: {path!r} does not exist in {project_dir}; when building from an sdist, "
                f"make sure it is in the sdist (add 'include {path}' to MANIFEST.in)"
            )


def concrete_name(target: _targets.Target) -> str:
    """The target's name in the manifest: as written, ``host`` as this interpreter's."""
    if not target.is_host or not target.tags:
        return target.name
    first = target.tags[0]
    # packaging puts linux_<arch> first; the newest manylinux/musllinux level says more
    platform = next((p for p in target.platforms() if p.startswith(("manylinux_", "musllinux_"))), first.platform)
    return f"{first.interpreter}-{platform}"


def _overlay(prepared: _Prepared, list_index: int, listed: bytes) -> dict[str, Any]:
    """What the manifest says of one target (the whole manifest's keys for it; ``targets[k]`` of several)."""
    staged = prepared.staged
    overlay: dict[str, Any] = {
        "target": concrete_name(prepared.target),
        "id": _multi.target_id(prepared.files),
        "scripts": staged.scripts(),
        "script_files": staged.script_files(),
        "pth": staged.pth_files,
        "pyc": prepared.pyc_tags,
        "needs": prepared.needs,
        "distributions": [{"name": d.name, "version": d.version, "wheel": d.wheel} for d in staged.distributions],
        "files": len(prepared.files),
        "list": TARGET_LISTS + str(list_index),
        "list_sha256": hashlib.sha256(listed).hexdigest(),
    }
    return overlay


def _manifest(prepared: _Prepared, payload: _pack.Payload, overlay: dict[str, Any], fmt: int) -> dict[str, Any]:
    entry = prepared.entry
    manifest = {
        "format": fmt,
        "id": payload.sha256[:ID_LENGTH],
        "name": prepared.dist.name,
        "version": prepared.dist.version,
        "entry_point": entry.spec if entry else None,
        "entry_point_name": entry.name if entry else None,
        "interpreter": entry is None,
        "payload": {
            "member": PAYLOAD,
            "sha256": payload.sha256,
            "size": payload.size,
            "files": payload.files,
            "unpacked_size": payload.unpacked,
        },
        "built_with": f"exearchive {__version__}",
        **overlay,
    }
    if fmt == SINGLE_FORMAT:  # its one target is the whole payload: no list to read
        del manifest["files"], manifest["list"], manifest["list_sha256"]
    return manifest


def combined_name(names: list[str]) -> str:
    """The archive's file name: its targets' (``archive_name``) when alike, else ``NAME-VERSION-multi.pyz``."""
    if len(set(names)) == 1:
        return names[0]
    parts = names[0][: -len(".pyz")].split("-")
    return f"{parts[0]}-{parts[1]}-multi.pyz"


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
