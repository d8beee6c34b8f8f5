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

import csv
import importlib.metadata
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename

from ..runtime import _markers
from . import _targets
from ._errors import ExearchiveError
from ._stage import SCRIPTS, SITE
from ._targets import Target

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
    extras: list[str] = field(default_factory=list)
    """The extras it declares (``Provides-Extra``)."""
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
    more_roots: list[Path] = field(default_factory=list)
    """Trees whose files are in the payload too, but not under ``root`` (the build cache's entries)."""

    @property
    def site(self) -> Path:
        return self.root / SITE

    @property
    def sites(self) -> list[Path]:
        """Every ``site-packages`` whose modules the payload holds: ``site``, then those of ``more_roots``."""
        return [self.site, *(r / SITE for r in self.more_roots)]

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
    # RECORD read as text: a PackagePath per row (``meta.files``) costs more than the rest of reading the tree
    for row in csv.reader((meta.read_text("RECORD") or "").splitlines()):
        if not row or row[0].rpartition("/")[0].rpartition("/")[2] != SCRIPTS:  # most rows are never in bin/
            continue
        path = Path(os.path.normpath(str(meta.locate_file(row[0]))))
        if path.parent != bin_dir or path.name in entry_points or not path.is_file():
            continue
        with path.open("rb") as handle:
            first = handle.readline(_SHEBANG_MAX).rstrip(b"\r\n")
        if _PYTHON_SHEBANG.match(first) or (not first.startswith(b"#!") and path.suffix == ".py"):
            python.append(path.name)
        else:
            other[path.name] = first[2:].decode(errors="replace").strip() if first.startswith(b"#!") else ""
    return sorted(python), dict(sorted(other.items()))


def read(root: Path, wheels: Iterable[Path], more_roots: Iterable[Path] = ()) -> Staged:
    """Describe the staging tree at ``root``, staged from ``wheels`` (``more_roots``: see ``Staged``).

    Each distribution is read where it was staged: in ``root`` or in one of
    ``more_roots`` (a build cache entry's tree, read in place), in the order
    of their ``.dist-info`` names, as one tree holding them all lists them."""
    by_project = {canonicalize_name(parse_wheel_filename(w.name)[0]): w for w in wheels}
    trees = [root, *more_roots]
    infos = sorted((info.name, tree, info) for tree in trees for info in (tree / SITE).glob("*.dist-info"))
    distributions = []
    for _, tree, info in infos:
        meta = importlib.metadata.PathDistribution(info)
        metadata = meta.metadata  # parsed once: each of meta's properties parses METADATA again
        name = metadata["Name"]
        wheel = by_project.get(canonicalize_name(name))
        tags = sorted(str(t) for t in parse_wheel_filename(wheel.name)[3]) if wheel else []
        scripts = {ep.name: ep.value for ep in meta.entry_points if ep.group in ("console_scripts", "gui_scripts")}
        python_scripts, other_scripts = _plain_scripts(tree, meta, scripts)
        distributions.append(
            Distribution(
                name=name,
                version=metadata["Version"],
                requires_python=(metadata.get_all("Requires-Python") or [None])[0],
                # as meta.requires reads them (a .dist-info has no requires.txt to fall back on)
                requires=list(metadata.get_all("Requires-Dist") or []),
                console_scripts=scripts,
                tags=tags,
                pure=all(t.endswith("-none-any") for t in tags),
                wheel=wheel.name if wheel else "",
                extras=list(metadata.get_all("Provides-Extra") or []),
                python_scripts=python_scripts,
                other_scripts=other_scripts,
            )
        )
    pth = sorted({p.name for tree in trees for p in (tree / SITE).glob("*.pth") if not p.name.startswith(".")})
    return Staged(root, distributions, pth, list(more_roots))


def needs(staged: Staged, extras: Iterable[str], project: str, target: Target | None = None) -> dict[str, object]:
    """What an interpreter must provide to run the staged tree (the manifest's ``needs``, see ``runtime/_boot.py``);
    markers are evaluated for ``target`` (default: this interpreter)."""
    result: dict[str, object] = {}
    requires_python = [
        {"spec": d.requires_python, "by": d.label} for d in staged.distributions if _valid_spec(d.requires_python)
    ]
    if requires_python:
        result["requires_python"] = requires_python
        result["effective_requires_python"] = effective_requires_python(str(e["spec"]) for e in requires_python)
    native = [{"dist": d.label, "tags": d.tags} for d in staged.distributions if not d.pure]
    if native:
        result["native"] = native
    markers = marker_records(staged, extras, project, target)
    if markers:
        result["markers"] = markers
    return result


def _valid_spec(spec: str | None) -> bool:
    """Whether a Requires-Python is a valid specifier set (pip, too, ignores one that is not)."""
    if not spec:
        return False
    try:
        SpecifierSet(spec)
    except InvalidSpecifier:
        return False
    return True


_BOUND_ORDER = {">=": 0, ">": 0, "~=": 1, "==": 2, "===": 2, "!=": 3, "<=": 4, "<": 4}


def effective_requires_python(specs: Iterable[str]) -> str:
    """The intersection of Requires-Python specifier sets, simplified (``>=3.8`` and ``>=3.10,<4``: ``>=3.10,<4``)."""
    combined = SpecifierSet()
    for spec in specs:
        combined &= SpecifierSet(spec)
    simplified = combined.to_range().to_specifier_set()
    if simplified is None or not list(simplified):  # not expressible, or unsatisfiable: say it as given
        simplified = combined
    # each clause as a distribution wrote it where one did (>=3.9, not the range's >=3.9.0)
    given = list(combined)
    clauses = [next((g for g in given if g == s), s) for s in simplified]
    return ",".join(str(s) for s in sorted(clauses, key=lambda s: (_BOUND_ORDER[s.operator], s.version)))


def marker_records(
    staged: Staged, extras: Iterable[str], project: str, target: Target | None = None
) -> list[dict[str, object]]:
    """Every marker that decided what went into the payload, with its outcome on ``target`` (default: this
    interpreter; a marker reading a variable the target does not say is a ConfigError).

    The requirements of every staged distribution (the project's own with the
    chosen extras, and transitively all the others with the extras requested
    of each) whose marker reads the environment.  A marker that reads only
    ``extra`` is left out (the extras are fixed at build time, so it decides
    the same everywhere), as is one that those extras make false whatever the
    rest holds (``python_version < "3.11" and extra == "dev"`` without dev).
    Any other marker that reads ``extra`` is recorded with ``extras``,
    the extras requested of its distribution, for the launcher to evaluate
    it with each of them (none: with ``extra == ""``).
    A requirement left out but met by the payload anyway (its distribution
    is staged in a matching version, with its extras) decided nothing and is
    not recorded; one left out whose distribution is staged in another
    version records that one as ``carried``.  Identical records are kept once.
    """
    target = target or _targets.host()
    requested = _requested_extras(staged, extras, project, target)
    records: list[dict[str, object]] = []
    seen: set[str] = set()
    for dist in staged.distributions:
        wanted = sorted(requested.get(canonicalize_name(dist.name), set()))
        for line in dist.requires:
            try:
                req = Requirement(line)
            except InvalidRequirement:
                continue
            if req.marker is None:
                continue
            variables = _targets.marker_variables(req.marker)
            if not variables - {"extra"} or ("extra" in variables and _never_true(str(req.marker), wanted)):
                continue
            label = f"{dist.label} requires {req}"
            outcome = any(_targets.evaluate(req.marker, target, extra, label) for extra in (wanted or [""]))
            record: dict[str, object] = {
                "marker": str(req.marker),
                "outcome": outcome,
                "requirement": _without_marker(req),
                "by": dist.label,
            }
            if "extra" in variables:
                record["extras"] = wanted
            if not outcome:
                found = staged.find(req.name)
                if found is not None and _meets(found, req, requested):
                    continue
                if found is not None:
                    record["carried"] = found.label
            key = json.dumps(record, sort_keys=True)
            if key not in seen:
                seen.add(key)
                records.append(record)
    return records


def _never_true(marker: str, extras: list[str]) -> bool:
    """Whether, with these extras asked, no environment makes the marker true (``python_version < "3.11" and
    extra == "dev"`` without dev): then it decides nothing anywhere."""
    try:
        return all(_markers.evaluate_known(marker, {"extra": extra}) is False for extra in (extras or [""]))
    except (ValueError, KeyError):
        return False


def _without_marker(req: Requirement) -> str:
    """The requirement as written, without its marker: ``tomli>=1``."""
    copy = Requirement(str(req))
    copy.marker = None
    return str(copy)


def _meets(found: Distribution, req: Requirement, requested: dict[str, set[str]]) -> bool:
    """Whether a staged distribution meets a requirement: its version, and the extras asked of it."""
    if req.specifier and not req.specifier.contains(found.version, prereleases=True):
        return False
    asked = {canonicalize_name(e) for e in requested.get(canonicalize_name(found.name), set())}
    return {canonicalize_name(e) for e in req.extras} <= asked


def check_complete(
    staged: Staged, extras: Iterable[str], project: str, source: str, target: Target | None = None
) -> None:
    """Every requirement of every staged distribution is met by a staged distribution.

    ``source`` names where the set came from ("pip", "the lock file") for the
    message.  Requirements are evaluated for ``target`` (default: this
    interpreter), with the extras requested of each distribution.
    """
    target = target or _targets.host()
    requested = _requested_extras(staged, extras, project, target)
    for dist in staged.distributions:
        wanted = requested.get(canonicalize_name(dist.name), set())
        for line in dist.requires:
            try:
                req = Requirement(line)
            except InvalidRequirement as error:
                raise ExearchiveError(f"{dist.label} has an invalid requirement {line!r}: {error}") from None
            if req.marker is not None and not any(
                _targets.evaluate(req.marker, target, extra, f"{dist.label} requires {req}")
                for extra in (wanted or {""})
            ):
                continue
            found = staged.find(req.name)
            if found is None:
                raise ExearchiveError(f"{dist.label} requires {req}, which {source} does not provide")
            if req.specifier and not req.specifier.contains(found.version, prereleases=True):
                raise ExearchiveError(f"{dist.label} requires {req}, but {source} provides {found.label}")


def _requested_extras(staged: Staged, extras: Iterable[str], project: str, target: Target) -> dict[str, set[str]]:
    """The extras requested of each distribution: by the user for the project, and by
    the requirements of the others — counting only requirements whose own marker applies
    (``botocore[crt]; extra == "crt"`` requests nothing unless ``crt`` was requested)."""
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
                    _targets.evaluate(req.marker, target, extra, f"{dist.label} requires {req}")
                    for extra in (wanted or {""})
                ):
                    continue
                asked = requested.setdefault(canonicalize_name(req.name), set())
                if not req.extras <= asked:
                    asked.update(req.extras)
                    changed = True
    return requested
