"""Resolve the project's wheel and its dependencies to a set of wheels with pip.

pip runs as a subprocess of the build interpreter (``python -m pip wheel``),
so it honours the user's pip configuration files and ``PIP_*`` variables:
``PIP_NO_INDEX=1 PIP_FIND_LINKS=./wheelhouse`` builds offline, an index URL
or ``--require-hashes`` style constraints in pip's configuration apply.  The
dependencies are resolved for the interpreter that runs the build.
"""

from __future__ import annotations

import configparser
import email.parser
import logging
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from . import _buildcache, _pip, _pipstart, _resolutions
from ._errors import ResolutionError
from ._hashing import sha256_file
from ._targets import Target, evaluate

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

logger = logging.getLogger(__name__)

_ERROR_LINES = 12


def resolve(
    wheel: Path,
    extras: tuple[str, ...],
    wheel_dir: Path,
    constraints: list[Path] | None = None,
    requirements: list[Path] | None = None,
    target: Target | None = None,
    on_line: Callable[[str], None] | None = None,
    early: _pipstart.Early | None = None,
) -> list[Path]:
    """Return every wheel needed to install ``wheel`` (itself included), one per project.

    ``constraints`` and ``requirements`` are pip's ``-c`` and ``-r`` files.  The
    project's own wheel is passed with its hash, so that requirements files
    pinned with ``--hash`` put pip in hash-checking mode for every dependency.
    ``target``, when not the host, is resolved with :func:`download_for`.
    ``on_line``: each line of pip's output as pip writes it, for the host (``_prefill``).
    ``early``: a pip started before the wheel existed, which resolves it when it fits (``_pipstart``).
    """
    name = parse_wheel_filename(wheel.name)[0]
    extra = f"[{','.join(extras)}]" if extras else ""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    hashed = any("--hash" in path.read_text() for path in requirements or [])
    pin = f" --hash=sha256:{sha256_file(wheel)}" if hashed else ""
    own = wheel_dir.parent / "project-requirement.txt"
    own.write_text(f"{name}{extra} @ {wheel.resolve().as_uri()}{pin}\n")
    options = ["-r", str(own)]
    for path in constraints or []:
        options += ["-c", str(path)]
    for path in requirements or []:
        options += ["-r", str(path)]
    if target is not None and not target.is_host:
        return download_for(target, options, [(name, set(extras), f"{name}{extra}")], wheel_dir, name)
    record = _record(wheel, extras, [*(constraints or []), *(requirements or [])])
    remembered = record.recall(wheel, wheel_dir) if record else None
    if remembered is not None:
        logger.info(
            "%d wheel(s) for %s%s: pip's resolution of the same inputs (no index, the same find-links), "
            "from the build cache",
            len(remembered),
            name,
            extra,
        )
        return remembered
    logger.info("resolving dependencies of %s%s with pip", name, extra)
    run_pip([_pipstart.COMMAND, "--wheel-dir", str(wheel_dir), *options], name, on_line, early)
    wheels = sorted(wheel_dir.glob("*.whl"))
    _check_one_per_project(wheels)
    logger.info("resolved %d wheel(s)", len(wheels))
    if record is not None:
        record.remember(wheels, name)
    return wheels


def _record(wheel: Path, extras: tuple[str, ...], files: list[Path]) -> _resolutions.Record | None:
    """Where the build cache keeps this resolution, when it can be remembered (``_resolutions``)."""
    cache = _buildcache.usable_location()
    pip = _pip.command()
    return None if cache is None or pip is None else _resolutions.record_for(cache, wheel, extras, files, pip)


def resolve_requirements(
    requirements: list[str],
    wheel_dir: Path,
    constraints: list[Path] | None = None,
    requirements_files: list[Path] | None = None,
    target: Target | None = None,
    on_line: Callable[[str], None] | None = None,
) -> list[Path]:
    """Every wheel needed to install pip ``requirements`` (names, ``-r FILE``, paths), one per project
    (``on_line``: as for :func:`resolve`)."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    options = list(requirements)
    for path in constraints or []:
        options += ["-c", str(path)]
    for path in requirements_files or []:
        options += ["-r", str(path)]
    if target is not None and not target.is_host:
        roots = _roots(requirements, [str(path) for path in requirements_files or []], target)
        return download_for(target, options, roots, wheel_dir, " ".join(requirements))
    logger.info("resolving %s with pip", " ".join(requirements))
    run_pip(["wheel", "--wheel-dir", str(wheel_dir), *options], " ".join(requirements), on_line)
    wheels = sorted(wheel_dir.glob("*.whl"))
    _check_one_per_project(wheels)
    logger.info("resolved %d wheel(s)", len(wheels))
    return wheels


_ROUNDS = 5
Root = tuple[str, set[str], str]
"""A project asked for: its name, the extras asked of it, the requirement that asks for it (without marker)."""


def download_for(
    target: Target, options: list[str], roots: list[Root] | None, wheel_dir: Path, subject: str
) -> list[Path]:
    """Every wheel needed on ``target``: pip downloads with the target's flags, then the set is checked again
    with the target's markers (pip evaluates them for the build host), as :func:`in_rounds` does.
    """
    flags = target_flags(target)

    def fetch(directory: Path, more: list[str]) -> None:
        _download_building_sdists(target, [*flags, *options, *more], directory, subject)

    return in_rounds(target, roots, wheel_dir, subject, fetch, "pip")


Fetch = Callable[[Path, list[str]], None]
"""Fill a directory with the wheels a resolver chose, given more pip options (``-r FILE`` of added requirements)."""


def in_rounds(
    target: Target, roots: list[Root] | None, wheel_dir: Path, subject: str, fetch: Fetch, resolver: str
) -> list[Path]:
    """The wheels ``fetch`` chose, checked with the target's markers (a resolver evaluates some for the host).

    A requirement the target needs that the resolver left out is added and it runs again (a few rounds at
    most); a wheel that no requirement reaches on the target is dropped.  ``roots`` are the projects asked
    for, with their extras; None when they cannot be told (then nothing is dropped).
    """
    added: list[str] = []
    for round_ in range(1, _ROUNDS + 1):
        directory = wheel_dir.parent / f"download-{round_}"
        extra: list[str] = []
        if added:
            more = wheel_dir.parent / f"target-requirements-{round_}.txt"
            more.write_text("\n".join(added) + "\n")
            extra = ["-r", str(more)]
        logger.info("resolving %s for target %s with %s (round %d)", subject, target.name, resolver, round_)
        fetch(directory, extra)
        wheels = sorted(directory.glob("*.whl"))
        _check_one_per_project(wheels)
        kept, missing = _closure(wheels, roots, target)
        if not missing:
            wheel_dir.mkdir(parents=True, exist_ok=True)
            for wheel in kept:
                shutil.copy2(wheel, wheel_dir / wheel.name)
            dropped = sorted(set(w.name for w in wheels) - set(w.name for w in kept))
            if dropped:
                logger.info("not needed on %s: %s", target.name, ", ".join(dropped))
            result = sorted(wheel_dir.glob("*.whl"))
            logger.info("resolved %d wheel(s) for %s", len(result), target.name)
            return result
        added += [line for line in missing if line not in added]
    raise ResolutionError(
        f"cannot resolve {subject} for target {target.name}: {resolver} does not provide {', '.join(missing)} "
        f"after {_ROUNDS} rounds"
    )


_BUILDS = 20


def _download_building_sdists(target: Target, options: list[str], directory: Path, subject: str) -> None:
    """``pip download`` for ``target``; a requirement with only an sdist is built here and kept where it fits
    (``_hostbuilt``), then pip runs again with the built wheels on its ``--find-links``."""
    from . import _hostbuilt  # for other targets only: not compiled in most builds (see _builder._wheels)

    work = directory.parent
    constraints = [item for i, item in enumerate(options) if item == "-c" or (i and options[i - 1] == "-c")]
    built: set[str] = set()
    kept = _hostbuilt.directory(work)
    links = ["--find-links", str(kept)] if kept.is_dir() else []  # built in an earlier round
    while True:
        try:
            run_pip(["download", "-d", str(directory), *options, *links], subject)
            return
        except PipFailed as failure:
            wanted = _hostbuilt.missing_requirement(failure.output)
            key = canonicalize_name(wanted.name) if wanted else ""
            wheel = None
            if wanted is not None and key not in built and len(built) < _BUILDS:
                built.add(key)
                wheel = _hostbuilt.build(wanted, target, constraints, work, run_pip)
            if wheel is None:
                raise PipFailed(
                    f"{failure}\n  (for target {target.name}, pip takes only wheels that fit it; an sdist is built "
                    "here and kept only where its wheel fits, and none was found)",
                    failure.output,
                ) from None
            links = ["--find-links", str(wheel.parent)]


def target_flags(target: Target) -> list[str]:
    """pip's options that make it take wheels for ``target``: every platform and ABI of its tags (pip does not
    expand manylinux levels), its version and implementation, wheels only."""
    flags = ["--only-binary=:all:", "--python-version", (target.python_version or "").replace(".", "")]
    if target.implementation:
        flags += ["--implementation", target.implementation]
    for platform in target.platforms():
        flags += ["--platform", platform]
    for abi in target.abis():
        flags += ["--abi", abi]
    return flags


def _closure(wheels: list[Path], roots: list[Root] | None, target: Target) -> tuple[list[Path], list[str]]:
    """The wheels reached from ``roots`` with the target's markers, and the requirements reached but missing."""
    by_name: dict[str, Path] = {canonicalize_name(parse_wheel_filename(w.name)[0]): w for w in wheels}
    requires = {name: _requires_dist(wheel) for name, wheel in by_name.items()}
    requested: dict[str, set[str]] = {}
    queue: list[str] = []
    missing: list[str] = []
    for name, extras, line in roots or [(name, set(), name) for name in by_name]:
        root: str = canonicalize_name(name)
        if root not in by_name:
            missing.append(line)
        requested.setdefault(root, set()).update(extras)
        queue.append(root)
    while queue:
        name = queue.pop()
        for req in requires.get(name, []):
            wanted = sorted(requested[name]) or [""]
            label = f"{name} requires {req}"
            if req.marker is not None and not any(evaluate(req.marker, target, e, label) for e in wanted):
                continue
            key: str = canonicalize_name(req.name)
            if key not in by_name:
                copy = Requirement(str(req))
                copy.marker = None
                missing.append(str(copy))
            if key not in requested or not req.extras <= requested[key]:
                requested.setdefault(key, set()).update(req.extras)
                queue.append(key)
    kept = [wheel for name, wheel in by_name.items() if roots is None or name in requested]
    return sorted(kept), missing


def _requires_dist(wheel: Path) -> list[Requirement]:
    """The Requires-Dist of a wheel, from its METADATA."""
    name, version = parse_wheel_filename(wheel.name)[:2]
    with zipfile.ZipFile(wheel) as archive:
        member = next((n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")), None)
        if member is None:
            raise ResolutionError(f"{wheel.name} has no .dist-info/METADATA")
        metadata = email.parser.BytesParser().parsebytes(archive.read(member), headersonly=True)
    result = []
    for line in metadata.get_all("Requires-Dist") or []:
        try:
            result.append(Requirement(line))
        except InvalidRequirement as error:
            raise ResolutionError(f"{name} {version} has an invalid requirement {line!r}: {error}") from None
    return result


def _roots(requirements: list[str], files: list[str], target: Target) -> list[Root] | None:
    """The projects ``requirements`` and requirements ``files`` ask for, with extras; None when one cannot be told."""
    items = list(requirements)
    position = 0
    while position < len(items):
        if items[position] == "-r" and position + 1 < len(items):
            files.append(items[position + 1])
            del items[position : position + 2]
            continue
        position += 1
    for file in files:
        try:
            lines = Path(file).read_text().splitlines()
        except OSError:
            return None
        items += [
            line.split(" #", 1)[0].strip() for line in lines if line.strip() and not line.lstrip().startswith("#")
        ]
    roots: list[Root] = []
    for item in items:
        path = Path(item)
        if item.startswith("-"):
            return None
        if path.suffix == ".whl":
            roots.append((str(parse_wheel_filename(path.name)[0]), set(), item))
            continue
        if path.is_dir():
            name = _directory_project(path, [])
            if name is None:
                return None
            roots.append((name, set(), item))
            continue
        try:
            req = Requirement(item.split(" --hash", 1)[0])
        except InvalidRequirement:
            if "[" in item and Path(item.split("[", 1)[0]).is_dir():
                name = _directory_project(Path(item.split("[", 1)[0]), [])
                if name is None:
                    return None
                roots.append((name, set(item.split("[", 1)[1].rstrip("]").split(",")), item))
                continue
            return None
        if req.marker is None or evaluate(req.marker, target, "", f"the requirement {item!r}"):
            req.marker = None
            roots.append((req.name, set(req.extras), str(req)))
    return roots


def is_name(item: str) -> bool:
    """``item`` is a plain requirement by name (not a path, a URL or an option)."""
    if item.startswith("-") or "/" in item or os.sep in item or item.endswith(".whl"):
        return False
    try:
        return Requirement(item).url is None
    except InvalidRequirement:
        return False


def with_extras(requirements: list[str], project: str | None, extras: tuple[str, ...]) -> list[str]:
    """``requirements`` with ``extras`` asked of the app: ``project``, else the first requirement."""
    if not extras:
        return requirements
    wanted = ",".join(extras)
    app = canonicalize_name(project) if project else None
    result = list(requirements)
    for index, item in enumerate(result):
        if item.startswith("-") or (index and result[index - 1] in ("-r", "-c")):
            continue
        if app is None or _project_of(item) == app:
            if is_name(item):
                req = Requirement(item)
                req.extras |= set(extras)
                result[index] = str(req)
            else:
                result[index] = f"{item}[{wanted}]"
            return result
    if app is None:
        raise ResolutionError("cannot tell which requirement is the app to give extras to; name it with --name")
    return [*result, f"{project}[{wanted}]"]


def _project_of(item: str) -> str | None:
    try:
        return canonicalize_name(first_project([item], []))
    except ResolutionError:
        return None


def first_project(requirements: list[str], wheels: list[Path]) -> str:
    """The project the first requirement names (a name, a wheel path, a project directory, or the first
    line of a ``-r`` file)."""
    for item in requirements:
        if item.startswith("-"):
            continue
        path = Path(item)
        if path.suffix == ".whl":
            return str(parse_wheel_filename(path.name)[0])
        if path.is_dir():
            name = _directory_project(path, wheels)
            if name:
                return name
            break
        try:
            return str(Requirement(item).name)
        except InvalidRequirement:
            continue
    if len(wheels) == 1:
        return str(parse_wheel_filename(wheels[0].name)[0])
    raise ResolutionError("cannot tell which requirement is the app; name it (the first requirement, or --name)")


def _directory_project(path: Path, wheels: list[Path]) -> str | None:
    """The name of the project in directory ``path``: its pyproject.toml's, setup.cfg's, or a wheel named after it."""
    try:
        with (path / "pyproject.toml").open("rb") as handle:
            name = tomllib.load(handle).get("project", {}).get("name")
        if isinstance(name, str):
            return name
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        pass
    config = configparser.ConfigParser(interpolation=None)
    try:
        config.read(path / "setup.cfg", encoding="utf-8")
        name = config.get("metadata", "name", fallback=None)
    except configparser.Error:
        name = None
    if name:
        return str(name)
    named = [w for w in wheels if canonicalize_name(parse_wheel_filename(w.name)[0]) == canonicalize_name(path.name)]
    return str(parse_wheel_filename(named[0].name)[0]) if named else None


def run_pip(
    arguments: list[str],
    subject: str,
    on_line: Callable[[str], None] | None = None,
    early: _pipstart.Early | None = None,
) -> str:
    """Run pip (``_pip.command``) with ``ARGUMENTS`` quietly; its output, or a ResolutionError with pip's reason.

    ``on_line`` is handed each line of pip's output as pip writes it (``_prefill``).  ``early``: a pip started
    before the arguments were known, which runs them if it fits (``_pipstart``).
    """
    pip = _pip.command()
    if pip is None:
        raise ResolutionError(
            f"pip ({_pip.REQUIREMENT}) is not installed for {sys.executable}; install it, "
            "or build with a frontend that installs the backend's build requirements (python -m build)"
        )
    command = [
        *pip,
        *arguments[:1],
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
        *arguments[1:],
    ]
    logger.info("pip %s from %s", _pip.version(pip) or "(version unknown)", Path(pip[2]).parent)
    logger.debug("running %s", " ".join(command))
    env = _pipstart.pip_env()
    try:
        started = early.take(pip, command[len(pip) :], env) if early is not None else None
        if started is None:
            started = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        result = _collected(started, command, on_line)
    except OSError as error:
        raise ResolutionError(f"cannot run pip ({error}); is pip installed for {sys.executable}?") from None
    for line in result.stdout.splitlines():
        logger.debug("pip: %s", line)
    if result.returncode != 0:
        raise PipFailed(_pip_failure(result.stdout, result.stderr, subject), result.stderr)
    return result.stdout


def _streamed(
    command: list[str], env: dict[str, str], on_line: Callable[[str], None]
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run`` capturing both streams, with each line of stdout handed to ``on_line`` as it comes."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return _collected(process, command, on_line)


def _collected(
    process: subprocess.Popen[str], command: list[str], on_line: Callable[[str], None] | None
) -> subprocess.CompletedProcess[str]:
    """Both streams of ``process`` until it exits, each line of stdout handed to ``on_line`` as it comes."""
    with process:
        stdout, stderr = process.stdout, process.stderr
        assert stdout is not None and stderr is not None
        errors: list[str] = []
        drain = threading.Thread(target=lambda: errors.append(stderr.read()), daemon=True)  # a full pipe would block
        drain.start()
        lines = []
        for line in stdout:
            lines.append(line)
            if on_line is not None:
                on_line(line.rstrip("\r\n"))
        drain.join()
        returncode = process.wait()
    return subprocess.CompletedProcess(command, returncode, "".join(lines), "".join(errors))


class PipFailed(ResolutionError):
    """pip exited with an error; ``output`` is what it said on stderr."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


def _pip_failure(stdout: str, stderr: str, name: str) -> str:
    return f"cannot resolve the dependencies of {name} with pip:\n  {pip_reason(stdout, stderr)}"


def pip_reason(stdout: str, stderr: str) -> str:
    """pip's reason for failing, in one short block: its ERROR lines and, for conflicts, their causes."""
    lines = [line.rstrip() for line in stderr.splitlines() if line.strip()]
    first = next((i for i, line in enumerate(lines) if line.startswith("ERROR")), None)
    chosen = lines[first:] if first is not None else lines or stdout.strip().splitlines()
    out = stdout.splitlines()
    cause = next((i for i, line in enumerate(out) if "conflict is caused by" in line), None)
    if cause is not None:
        block = []
        for line in out[cause:]:
            if not line.strip():
                break
            block.append(line.rstrip())
        chosen = block + chosen
    return "\n  ".join(chosen[:_ERROR_LINES]) if chosen else "pip exited with an error and said nothing"


def _check_one_per_project(wheels: list[Path]) -> None:
    seen: dict[str, Path] = {}
    for wheel in wheels:
        project = canonicalize_name(parse_wheel_filename(wheel.name)[0])
        if project in seen:
            raise ResolutionError(f"pip produced two wheels for {project}: {seen[project].name} and {wheel.name}")
        seen[project] = wheel
