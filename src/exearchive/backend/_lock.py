"""Take the dependencies from a PEP 751 lock file (``pylock.toml``) instead of resolving.

``packaging.pylock`` validates the file and selects the packages for the
build interpreter's environment and the requested extras.  Every selected
artifact — a wheel, an sdist or an archive, by URL or by a path relative to
the lock file — is fetched by pip with ``--require-hashes`` and the lock's
hashes, so a mismatch stops the build naming the package; sdists are built
into wheels by pip.  The project's own entry (usually ``directory = "."``)
is replaced by the wheel just built.  Packages from a directory are built
without a hash; VCS packages are refused.  For another target (a complete
platform: selecting needs every marker variable) the selection uses its
environment and tags, and pip downloads the locked wheels with its flags.
"""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path
from typing import Any, cast

from packaging.markers import Environment
from packaging.pylock import (
    Package,
    PackageArchive,
    PackageDirectory,
    PackageSdist,
    PackageVcs,
    PackageWheel,
    Pylock,
    PylockSelectError,
    PylockValidationError,
)
from packaging.utils import canonicalize_name, parse_wheel_filename

from ._errors import ConfigError, ResolutionError
from ._resolve import PipFailed, run_pip, target_flags
from ._targets import VARIABLES, Target

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

logger = logging.getLogger(__name__)

_PIP_HASHES = ("sha256", "sha384", "sha512")


def read(path: Path, where: str) -> Pylock:
    """Load and validate a lock file; errors name the file and the key."""
    if not path.is_file():
        raise ConfigError(
            f"{where} = {path.name!r}: the lock file {path} does not exist; when building from an sdist, "
            f"make sure it is in the sdist (add 'include {path.name}' to MANIFEST.in)"
        )
    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
        return Pylock.from_dict(data)
    except (OSError, tomllib.TOMLDecodeError, PylockValidationError) as error:
        raise ConfigError(f"{where} = {path.name!r} is not a valid PEP 751 lock file: {error}") from None


def wheels_from_lock(
    lock_path: Path,
    where: str,
    project_wheel: Path | None,
    extras: tuple[str, ...],
    wheel_dir: Path,
    target: Target | None = None,
) -> list[Path]:
    """Fetch (and build where needed) every locked package for this environment, hash-checked.

    ``project_wheel`` (when building a project) stands for the project's own entry of the lock.
    ``target``, when not the host, selects with its environment and tags (it must say every marker
    variable: a complete platform); its packages must be wheels.
    """
    lock = read(lock_path, where)
    project = canonicalize_name(parse_wheel_filename(project_wheel.name)[0]) if project_wheel else None
    foreign = target is not None and not target.is_host
    try:
        if target is not None and foreign:
            selected = list(lock.select(environment=_environment(target, where), tags=target.tags, extras=extras))
        else:
            selected = list(lock.select(extras=extras))
    except PylockSelectError as error:
        raise ResolutionError(f"{lock_path.name} does not fit this build: {error}") from None
    return fetch_selected(selected, lock_path, project, project_wheel, wheel_dir, target)


Selected = list[tuple[Package, PackageVcs | PackageDirectory | PackageArchive | PackageSdist | PackageWheel]]


def fetch_selected(
    selected: Selected,
    lock_path: Path,
    project: str | None,
    project_wheel: Path | None,
    wheel_dir: Path,
    target: Target | None,
) -> list[Path]:
    """Fetch the ``selected`` packages of a lock into ``wheel_dir``, hash-checked; ``project`` (its entry) is
    replaced by ``project_wheel``.  For a ``target`` that is not the host, only wheels, fetched with its flags."""
    foreign = target is not None and not target.is_host
    hashed: list[str] = []
    unhashed: list[str] = []
    base = lock_path.parent
    for package, source in selected:
        if package.name == project:
            continue
        label = f"{package.name} {package.version}" if package.version else package.name
        if isinstance(source, PackageVcs):
            raise ResolutionError(
                f"{lock_path.name}: {label} comes from version control, which exearchive cannot verify; "
                "lock a wheel or an sdist of it instead"
            )
        if foreign and not isinstance(source, PackageWheel):
            raise ResolutionError(
                f"{lock_path.name}: {label} has no wheel for target {target.name if target else ''} in the lock, "
                "and sdists are not built for other targets"
            )
        if isinstance(source, PackageDirectory):
            unhashed.append(f"{package.name} @ {(base / source.path).resolve().as_uri()}")
            continue
        assert isinstance(source, (PackageWheel, PackageSdist, PackageArchive))
        location = source.url or (base / (source.path or "")).resolve().as_uri()
        hashes = [f"--hash={algo}:{value}" for algo, value in sorted(source.hashes.items()) if algo in _PIP_HASHES]
        if not hashes:
            raise ResolutionError(f"{lock_path.name}: {label} has no sha256, sha384 or sha512 hash to verify it with")
        hashed.append(f"{package.name} @ {location} {' '.join(hashes)}")
    wheel_dir.mkdir(parents=True, exist_ok=True)
    logger.info("taking %d locked package(s) from %s", len(hashed) + len(unhashed), lock_path.name)
    for lines, checked in ((hashed, True), (unhashed, False)):
        if not lines:
            continue
        requirements = wheel_dir.parent / ("locked-hashed.txt" if checked else "locked-directories.txt")
        requirements.write_text("\n".join(lines) + "\n")
        options = ["--require-hashes"] if checked else []
        command = ["wheel", "--no-deps", *options, "--wheel-dir", str(wheel_dir), "-r", str(requirements)]
        if target is not None and foreign:
            command = ["download", "--no-deps", *options, *target_flags(target), "-d", str(wheel_dir)]
            command += ["-r", str(requirements)]
        try:
            run_pip(command, lock_path.name)
        except PipFailed as failure:
            raise ResolutionError(_explain(failure, lines, lock_path.name)) from None
    if project_wheel is not None:
        shutil.copy2(project_wheel, wheel_dir / project_wheel.name)
    return sorted(wheel_dir.glob("*.whl"))


def _environment(target: Target, where: str) -> Environment:
    """The target's complete marker environment, which selecting from a lock needs."""
    unknown = [key for key in VARIABLES if key not in target.environment]
    if unknown:
        raise ConfigError(
            f"{where}: selecting from the lock for target {target.name} needs every marker variable, and "
            f"{', '.join(unknown)} are unknown; give a complete platform (a JSON file from `exearchive platform` "
            "run on such a machine)"
        )
    return cast(Environment, dict(target.environment))


def _explain(failure: PipFailed, lines: list[str], lock_name: str) -> str:
    """Name the locked packages pip failed on (a hash mismatch, a missing file)."""
    names = [line.split(" @ ", 1)[0] for line in lines]
    blamed = [name for name in names if f"{name}@" in failure.output.replace(" ", "") or f"/{name}-" in failure.output]
    if "DO NOT MATCH THE HASHES" in failure.output:
        what = "does not match the hash in"
    else:
        what = "cannot be fetched or built as locked in"
    if blamed:
        return f"{', '.join(sorted(set(blamed)))} {what} {lock_name}:\n  " + str(failure).split("\n", 1)[-1].strip()
    return str(failure)
