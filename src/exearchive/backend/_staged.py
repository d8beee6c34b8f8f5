"""What a staging tree holds: distributions, scripts, and what they need.

Reads the ``*.dist-info`` directories that ``installer`` wrote, with
``importlib.metadata``, and the wheel tags of the wheels they came from.
A distribution's scripts are its console (and GUI) script entry points and
its plain scripts: the files its RECORD puts into ``bin/`` that are not
entry points' wrappers (a wheel's ``.data/scripts/``).  A plain script is a
Python script when its ``#!`` line names python (installer leaves
``#!python`` there) or, without one, its name ends in ``.py``.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from ._errors import ExearchiveError
from ._stage import SCRIPTS, SITE

# Marker variables whose value depends on the interpreter or the platform.
_ENV_VARIABLES = tuple(sorted(k for k in default_environment() if k != "extra"))
_EXTRA = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")
# A "#!" line that runs Python (the pattern distutils' build_scripts rewrites, and pypy).
_PYTHON_SHEBANG = re.compile(rb"^#!.*\b(python|pypy)[\d.]*w?(\s.*)?$")
_SHEBANG_MAX = 512


@dataclass
class Distribution:
    """One staged distribution."""

    name: str
    version: str
    requires_python: str | None
    requires: list[str]
    console_scripts: dict[str, str]
    tags: list[str]
    pure: bool
    wheel: str
    python_scripts: list[str] = field(default_factory=list)
    """Its plain scripts that are Python scripts, by name (in ``bin/``)."""
    other_scripts: dict[str, str] = field(default_factory=dict)
    """Its other plain scripts: name -> the interpreter of its ``#!`` line ("" without one)."""

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


@dataclass
class Staged:
    """The staging tree and what is in it."""

    root: Path
    distributions: list[Distribution]
    pth_files: list[str] = field(default_factory=list)

    @property
    def site(self) -> Path:
        return self.root / SITE

    def find(self, name: str) -> Distribution | None:
        wanted = canonicalize_name(name)
        for dist in self.distributions:
            if canonicalize_name(dist.name) == wanted:
                return dist
        return None

    def scripts(self) -> dict[str, str]:
        """Console scripts of every staged distribution: name -> ``module:attr``."""
        result: dict[str, str] = {}
        for dist in self.distributions:
            result.update(dist.console_scripts)
        return dict(sorted(result.items()))

    def script_files(self) -> dict[str, str]:
        """Plain Python scripts of every staged distribution: name -> its path in the payload (``bin/NAME``)."""
        return {name: f"{SCRIPTS}/{name}" for dist in self.distributions for name in sorted(dist.python_scripts)}

    def other_scripts(self) -> dict[str, str]:
        """Plain scripts that are not Python: name -> what they are, for messages."""
        return {
            name: f"a plain script of {dist.label} " + (f"run by {runner}" if runner else "without a #! line")
            for dist in self.distributions
            for name, runner in dist.other_scripts.items()
        }


def _plain_scripts(
    root: Path, meta: importlib.metadata.PathDistribution, entry_points: dict[str, str]
) -> tuple[list[str], dict[str, str]]:
    """The distribution's plain scripts in ``bin/``: the Python ones, and the others with their ``#!`` interpreter."""
    bin_dir = Path(os.path.normpath(root / SCRIPTS))
    python: list[str] = []
    other: dict[str, str] = {}
    for file in meta.files or []:
        path = Path(os.path.normpath(str(meta.locate_file(file))))
        if path.parent != bin_dir or path.name in entry_points or not path.is_file():
            continue
        with path.open("rb") as handle:
            first = handle.readline(_SHEBANG_MAX).rstrip(b"\r\n")
        if _PYTHON_SHEBANG.match(first) or (not first.startswith(b"#!") and path.suffix == ".py"):
            python.append(path.name)
        else:
            other[path.name] = first[2:].decode(errors="replace").strip() if first.startswith(b"#!") else ""
    return sorted(python), dict(sorted(other.items()))


def read(root: Path, wheels: Iterable[Path]) -> Staged:
    """Describe the staging tree at ``root``, staged from ``wheels``."""
    by_project = {canonicalize_name(parse_wheel_filename(w.name)[0]): w for w in wheels}
    site = root / SITE
    distributions = []
    for info in sorted(site.glob("*.dist-info")):
        meta = importlib.metadata.PathDistribution(info)
        name = meta.metadata["Name"]
        wheel = by_project.get(canonicalize_name(name))
        tags = sorted(str(t) for t in parse_wheel_filename(wheel.name)[3]) if wheel else []
        scripts = {ep.name: ep.value for ep in meta.entry_points if ep.group in ("console_scripts", "gui_scripts")}
        python_scripts, other_scripts = _plain_scripts(root, meta, scripts)
        distributions.append(
            Distribution(
                name=name,
                version=meta.version,
                requires_python=(meta.metadata.get_all("Requires-Python") or [None])[0],
                requires=list(meta.requires or []),
                console_scripts=scripts,
                tags=tags,
                pure=all(t.endswith("-none-any") for t in tags),
                wheel=wheel.name if wheel else "",
                python_scripts=python_scripts,
                other_scripts=other_scripts,
            )
        )
    pth = sorted(p.name for p in site.glob("*.pth") if not p.name.startswith("."))
    return Staged(root, distributions, pth)


def needs(staged: Staged, extras: Iterable[str], project: str) -> dict[str, object]:
    """What an interpreter must provide to run the staged tree (the manifest's ``needs``)."""
    result: dict[str, object] = {}
    requires_python = [{"spec": d.requires_python, "by": d.label} for d in staged.distributions if d.requires_python]
    if requires_python:
        result["requires_python"] = requires_python
    native = [{"dist": d.label, "tags": d.tags} for d in staged.distributions if not d.pure]
    if native:
        result["native"] = native
    used = _marker_variables(staged, extras, project)
    if used:
        env = default_environment()
        result["environment"] = {k: env[k] for k in sorted(used)}  # type: ignore[literal-required]
    return result


def _marker_variables(staged: Staged, extras: Iterable[str], project: str) -> set[str]:
    """Marker variables that decided which dependencies were installed.

    A requirement guarded by ``extra == "x"`` counts only when extra ``x`` of
    its distribution was requested (by the user for the project, or by
    another staged distribution's requirement).
    """
    requested = _requested_extras(staged, extras, project)
    parsed: list[tuple[str, Requirement]] = []
    for dist in staged.distributions:
        for line in dist.requires:
            try:
                parsed.append((canonicalize_name(dist.name), Requirement(line)))
            except InvalidRequirement:
                continue
    used: set[str] = set()
    for owner, req in parsed:
        if req.marker is None:
            continue
        text = str(req.marker)
        wanted_extras = _EXTRA.findall(text)
        if wanted_extras and not set(wanted_extras) & requested.get(owner, set()):
            continue
        used.update(v for v in _ENV_VARIABLES if re.search(rf"\b{v}\b", text))
    return used


def check_complete(staged: Staged, extras: Iterable[str], project: str, source: str) -> None:
    """Every requirement of every staged distribution is met by a staged distribution.

    ``source`` names where the set came from ("pip", "the lock file") for the
    message.  Requirements are evaluated for this interpreter, with the extras
    requested of each distribution.
    """
    env = {key: str(value) for key, value in default_environment().items()}
    requested = _requested_extras(staged, extras, project)
    for dist in staged.distributions:
        wanted = requested.get(canonicalize_name(dist.name), set())
        for line in dist.requires:
            try:
                req = Requirement(line)
            except InvalidRequirement as error:
                raise ExearchiveError(f"{dist.label} has an invalid requirement {line!r}: {error}") from None
            if req.marker is not None and not any(
                req.marker.evaluate({**env, "extra": extra}) for extra in (wanted or {""})
            ):
                continue
            found = staged.find(req.name)
            if found is None:
                raise ExearchiveError(f"{dist.label} requires {req}, which {source} does not provide")
            if req.specifier and not req.specifier.contains(found.version, prereleases=True):
                raise ExearchiveError(f"{dist.label} requires {req}, but {source} provides {found.label}")


def _requested_extras(staged: Staged, extras: Iterable[str], project: str) -> dict[str, set[str]]:
    """The extras requested of each distribution: by the user for the project, and by
    the requirements of the others — counting only requirements whose own marker applies
    (``botocore[crt]; extra == "crt"`` requests nothing unless ``crt`` was requested)."""
    env = {key: str(value) for key, value in default_environment().items()}
    requested: dict[str, set[str]] = {canonicalize_name(project): set(extras)}
    changed = True
    while changed:  # an extra requested of one distribution can request extras of another
        changed = False
        for dist in staged.distributions:
            wanted = requested.get(canonicalize_name(dist.name), set())
            for line in dist.requires:
                try:
                    req = Requirement(line)
                except InvalidRequirement:
                    continue
                if not req.extras:
                    continue
                if req.marker is not None and not any(
                    req.marker.evaluate({**env, "extra": extra}) for extra in (wanted or {""})
                ):
                    continue
                target = requested.setdefault(canonicalize_name(req.name), set())
                if not req.extras <= target:
                    target.update(req.extras)
                    changed = True
    return requested
