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

For another target, ``uv pip compile --python-platform --python-version
--only-binary :all:`` resolves where uv can name the target's platform
(:func:`platform_for`: manylinux levels uv knows, macOS, Windows; CPython
only, since uv takes the implementation from the interpreter running it).
uv evaluates some markers for values it guesses (``--python-platform`` sets
only a few variables), so its wheels are checked again with the target's own
markers in rounds, as pip's are (``_resolve.in_rounds``): the same inputs give
the same wheels with either resolver.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name, parse_wheel_filename

from . import _resolve, _targets
from ._errors import ConfigError, ResolutionError

if TYPE_CHECKING:
    from packaging.pylock import PackageWheel

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
    subject, command = _compile_command(uv, wheel, extras, wheel_dir.parent, constraints, requirements)
    lock = wheel_dir.parent / "pylock.uv.toml"  # uv insists on a PEP 751 name
    logger.info("resolving dependencies of %s with uv", subject)
    _run([*command, "--output-file", str(lock)], subject)
    # the extras were resolved already: the lock holds what they need, unconditionally
    from . import _lock  # imported when used, as _builder does

    return _lock.wheels_from_lock(lock, "uv's resolution", wheel, (), wheel_dir)


def _compile_command(
    uv: str,
    wheel: Path,
    extras: tuple[str, ...],
    work: Path,
    constraints: list[Path] | None,
    requirements: list[Path] | None,
) -> tuple[str, list[str]]:
    """The project's requirement (``name[extras]``) and ``uv pip compile``'s command for it into a PEP 751 lock
    (without ``--output-file``); the requirement's file is written into ``work``."""
    name = parse_wheel_filename(wheel.name)[0]
    subject = f"{name}[{','.join(extras)}]" if extras else name
    work.mkdir(parents=True, exist_ok=True)
    source = work / "uv-requirements.in"
    source.write_text(f"{subject} @ {wheel.resolve().as_uri()}\n")
    command = [uv, "pip", "compile", str(source), *[str(p) for p in requirements or []]]
    for path in constraints or []:
        command += ["--constraint", str(path)]
    command += ["--format", "pylock.toml", "--python", sys.executable, "--quiet", "--no-header"]
    return subject, command


# the manylinux levels uv's --python-platform names (``uv pip compile --help``), for x86_64 and aarch64
_UV_GLIBC = (17, 28, *range(31, 41))
_UV_WINDOWS = {
    "win_amd64": "x86_64-pc-windows-msvc",
    "win32": "i686-pc-windows-msvc",
    "win_arm64": "aarch64-pc-windows-msvc",
}
_UV_MACOS = {"arm64": "aarch64-apple-darwin", "x86_64": "x86_64-apple-darwin"}


def platform_for(target: _targets.Target) -> tuple[str, dict[str, str]] | str:
    """uv's ``--python-platform`` for ``target`` and the variables it needs, or why uv cannot resolve for it.

    uv can name a target when the target's tags are exactly those of a shorthand (a complete platform of
    such a machine qualifies) whose platform uv knows, and it is CPython like the interpreter running uv.
    """
    if target.implementation != "cp" or sys.implementation.name != "cpython":
        return "uv resolves for the implementation of the interpreter that runs it (CPython here), not PyPy"
    platforms = target.platforms()
    version = target.python_version or ""
    if not platforms or not version:
        return f"target {target.name} names no platform or Python version"
    platform = platforms[0]
    shorthand = f"cp{version.replace('.', '')}-{platform}"
    try:
        expressible = _targets.parse(shorthand, Path(), "").tags == target.tags
    except ConfigError:
        expressible = False
    if not expressible:
        return f"its tags are not those of {shorthand}, and uv takes only the names of its own platforms"
    manylinux = re.match(r"^manylinux_2_(\d+)_(x86_64|aarch64)$", platform)
    macos = re.match(r"^macosx_(\d+)_(\d+)_(arm64|x86_64)$", platform)
    if manylinux and int(manylinux[1]) in _UV_GLIBC:
        return f"{manylinux[2]}-manylinux_2_{manylinux[1]}", {}
    if macos:
        return _UV_MACOS[macos[3]], {"MACOSX_DEPLOYMENT_TARGET": f"{macos[1]}.{macos[2]}"}
    if platform in _UV_WINDOWS:
        return _UV_WINDOWS[platform], {}
    return f"uv's --python-platform has no name for {platform}"


def resolve_for(
    uv: str,
    platform: tuple[str, dict[str, str]],
    target: _targets.Target,
    wheel: Path,
    extras: tuple[str, ...],
    wheel_dir: Path,
    constraints: list[Path] | None = None,
    requirements: list[Path] | None = None,
) -> list[Path]:
    """Every wheel needed to install ``wheel`` on ``target``, resolved by uv for ``platform`` (:func:`platform_for`)
    and checked with the target's markers."""
    subject, base = _compile_command(uv, wheel, extras, wheel_dir.parent, constraints, requirements)
    base += ["--python-platform", platform[0], "--python-version", target.python_version or ""]
    base += ["--only-binary", ":all:"]
    name = parse_wheel_filename(wheel.name)[0]

    def fetch(directory: Path, more: list[str]) -> None:
        lock = directory.parent / f"pylock.{directory.name}.toml"
        try:
            _run([*base, *more[1::2], "--output-file", str(lock)], f"{subject} for target {target.name}", platform[1])
        except ResolutionError as error:
            raise ResolutionError(
                f"{error}\n  (for another target uv takes only wheels; resolver = 'pip' builds a dependency "
                "published only as an sdist here, and keeps it where its wheel fits the target)"
            ) from None
        _fetch_wheels(lock, target, canonicalize_name(name), wheel, directory)

    roots: list[_resolve.Root] = [(name, set(extras), subject)]
    return _resolve.in_rounds(target, roots, wheel_dir, subject, fetch, "uv")


def _fetch_wheels(lock_path: Path, target: _targets.Target, project: str, wheel: Path, directory: Path) -> None:
    """Every package of uv's lock, as its wheel that fits ``target`` best, fetched hash-checked into ``directory``.

    The lock's markers are uv's (evaluated with values it guessed): every package is fetched, and the
    target's markers decide afterwards which are kept.
    """
    from . import _lock

    lock = _lock.read(lock_path, "uv's resolution")
    rank = {tag: index for index, tag in enumerate(target.tags)}
    selected: _lock.Selected = []
    for package in lock.packages:
        if canonicalize_name(package.name) == project:
            continue
        fitting = [
            (min((rank[t] for t in parse_wheel_filename(_filename(w))[3] if t in rank), default=None), w)
            for w in package.wheels or []
        ]
        ranked = sorted((r, i, w) for i, (r, w) in enumerate(fitting) if r is not None)
        if not ranked:
            raise ResolutionError(f"uv chose {package.name} {package.version} for {target.name} with no wheel for it")
        selected.append((package, ranked[0][2]))
    _lock.fetch_selected(selected, lock_path, project, wheel, directory, target)


def _filename(wheel: PackageWheel) -> str:
    return wheel.name or Path(wheel.path or "").name or (wheel.url or "").rsplit("/", 1)[-1]


def _run(command: list[str], subject: str, env: dict[str, str] | None = None) -> None:
    logger.debug("running %s", " ".join(command))
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})})
    except OSError as error:
        raise ResolutionError(f"cannot run uv ({error}); set [tool.exearchive] resolver = 'pip'") from None
    if result.returncode != 0:
        lines = [line.rstrip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        reason = "\n  ".join(lines[:_ERROR_LINES]) or "uv exited with an error and said nothing"
        raise ResolutionError(f"cannot resolve the dependencies of {subject} with uv:\n  {reason}")
