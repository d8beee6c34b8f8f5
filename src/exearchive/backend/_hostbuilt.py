"""Dependencies published only as an sdist, built on this machine for another target.

pip takes only wheels for another target (``--only-binary=:all:``), so a
dependency without a wheel stops its resolution with "No matching distribution
found for REQ".  Such a requirement is fetched as an sdist (``pip download
--no-binary=NAME --no-deps``, which takes no target flags), built here with
``pip wheel --no-deps``, and the wheel is kept only where its tags are among
the target's: a pure ``py3-none-any`` wheel fits every target, one with a
native extension fits only the build interpreter's.  The caller puts the
directory of kept wheels on pip's ``--find-links`` and resolves again, so the
built wheel's own dependencies are resolved for the target like any other's.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import parse_wheel_filename

from ._errors import ResolutionError
from ._targets import Target

logger = logging.getLogger(__name__)

_NO_MATCH = re.compile(r"^ERROR: No matching distribution found for (?P<requirement>\S+)\s*$", re.MULTILINE)


def missing_requirement(pip_output: str) -> Requirement | None:
    """The requirement pip found no distribution for (from its stderr), or None when it failed otherwise."""
    match = _NO_MATCH.search(pip_output)
    if match is None:
        return None
    try:
        return Requirement(match["requirement"])
    except InvalidRequirement:
        return None


def build(
    requirement: Requirement,
    target: Target,
    constraints: list[str],
    work: Path,
    run_pip: Callable[[list[str], str], str],
) -> Path | None:
    """Build ``requirement`` from its sdist into ``work/built`` and return the wheel, if it fits ``target``.

    None when no sdist satisfies it either (pip's own error then stands);
    a ResolutionError naming the distribution and the fix when the wheel
    built here does not fit the target.  ``constraints`` are pip's ``-c``
    options, which the sdist and its build honour; ``run_pip`` runs pip (``_resolve.run_pip``).
    """
    sdists = Path(tempfile.mkdtemp(prefix="sdist-", dir=work))
    try:
        run_pip(
            [
                "download",
                "--no-deps",
                f"--no-binary={requirement.name}",
                "-d",
                str(sdists),
                *constraints,
                str(requirement),
            ],
            requirement.name,
        )
    except ResolutionError:
        return None
    fetched = sorted(sdists.iterdir())
    if not fetched:
        return None
    scratch = sdists / "wheel"
    logger.info("building %s from its sdist on this machine for target %s", fetched[0].name, target.name)
    try:
        run_pip(["wheel", "--no-deps", "--wheel-dir", str(scratch), *constraints, str(fetched[0])], requirement.name)
    except ResolutionError as failure:
        raise ResolutionError(
            f"{requirement.name} has no wheel for target {target.name}, and its sdist {fetched[0].name} does not "
            f"build here: {str(failure).splitlines()[-1].strip()}"
        ) from None
    wheels = sorted(scratch.glob("*.whl"))
    if not wheels:
        raise ResolutionError(f"{requirement.name}: pip built no wheel from its sdist {fetched[0].name}")
    wheel = wheels[0]
    tags = parse_wheel_filename(wheel.name)[3]
    if not tags & set(target.tags):
        raise ResolutionError(
            f"{requirement.name} has no wheel for target {target.name}, only an sdist, and the wheel built from it "
            f"here ({wheel.name}) does not fit that target; put a wheel of {requirement.name} built for "
            f"{target.name} in a --find-links directory (PIP_FIND_LINKS), or build for a complete platform "
            "with a lock that names such a wheel"
        )
    built = directory(work)
    built.mkdir(parents=True, exist_ok=True)
    return wheel.replace(built / wheel.name)


def directory(work: Path) -> Path:
    """Where :func:`build` keeps the wheels that fit, for pip's ``--find-links`` (in later rounds too)."""
    return work / "built"
