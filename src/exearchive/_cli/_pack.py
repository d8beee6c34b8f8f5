"""``exearchive pack``: an archive from requirements, as shiv makes them, with exearchive's launcher.

pip resolves the requirements (names with specifiers, ``-r FILE``, local
wheels or project directories) for this interpreter; the backend's builder
stages and packs them (:func:`exearchive.backend._builder.pack_requirements`).
The archive is written into a temporary directory beside its target and
renamed into place once it is checked, under its usual name
(``NAME-VERSION.pyz``, like the backend's) unless ``-o FILE`` names it.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import parse_wheel_filename

from ..backend._builder import archive_name, combined_name, pack_requirements
from ..backend._errors import ConfigError, ExearchiveError
from ..backend._resolve import first_project
from ..backend._staged import Distribution, Staged
from . import _archive
from ._errors import CommandError, UsageError
from ._output import Output
from ._parser import Parser, existing_file
from ._settings import Settings
from ._target import Target, place, scratch, shown

_DESCRIPTION = """\
Pack requirements into an executable archive: pip resolves them (with this
Python's pip, so its configuration and PIP_* variables apply) into wheels,
which are installed into one tree and packed with exearchive's launcher.
A requirement is a name with optional extras and specifiers ('httpie>=3'),
a local wheel file, or a project directory; -r adds a requirements file.

The app is the first requirement's distribution (or --name): the archive
takes its name and version, and runs its only console script unless -e or
-c says what to run. The archive's path is printed on standard output.
"""

_EPILOG = """\
examples:
  exearchive pack httpie -c http -o http.pyz
  exearchive pack 'black==24.*' -e black:patched_main
  exearchive pack -r requirements.txt --name myservice -o dist/
  PIP_NO_INDEX=1 PIP_FIND_LINKS=./wheels exearchive pack ./wheels/myapp-1.0-py3-none-any.whl
"""

# The backend's advice names [tool.exearchive]; pack has options instead.
_NO_TABLE = (
    ("choose one with [tool.exearchive] entry-point = ", "choose one with -c "),
    (
        "set [tool.exearchive] entry-point to a script name, 'module:function' or 'module'",
        "say what the archive runs with -c SCRIPT or -e MODULE:FUNCTION",
    ),
)


def add_parser(commands: argparse._SubParsersAction[Parser], common: Parser) -> None:
    """Add ``pack`` and its options to the command's parser."""
    parser = commands.add_parser(
        "pack",
        parents=[common],
        help="pack requirements (names, requirements files, wheels) into an archive",
        description=_DESCRIPTION,
        epilog=_EPILOG,
    )
    parser.add_argument(
        "requirements",
        nargs="*",
        metavar="REQUIREMENT",
        help="a requirement ('name', 'name[extra]>=1.2'), a wheel file or a project directory",
    )
    parser.add_argument(
        "-r",
        "--requirement",
        action="append",
        default=[],
        dest="requirement_files",
        type=existing_file,
        metavar="FILE",
        help="pack the requirements listed in FILE too, pip's requirements file format (repeatable)",
    )
    entry = parser.add_mutually_exclusive_group()
    entry.add_argument(
        "-e",
        "--entry-point",
        metavar="MODULE:FUNCTION",
        help="what the archive runs: 'module:function', or 'module' to run it like python -m "
        "(default: the app's only console script)",
    )
    entry.add_argument(
        "-c",
        "--console-script",
        metavar="NAME",
        help="what the archive runs: the console script or plain Python script NAME of any distribution in the archive",
    )
    entry.add_argument(
        "--interpreter",
        action="store_true",
        help="make an interpreter archive: it runs no entry point and takes what python takes "
        "(-c CODE, -m MODULE, a script, options), for engines that start Python by path (PYSPARK_PYTHON)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="the archive's file; or a directory (an existing one, or a path ending in /) to write it into "
        "under its usual name, NAME-VERSION.pyz (default: the current directory)",
    )
    parser.add_argument(
        "--name",
        metavar="DISTRIBUTION",
        help="the distribution that is the app, when it is not the first requirement: the archive takes its "
        "name and version, and its console script is the default entry point",
    )
    parser.add_argument(
        "--python",
        metavar="INTERPRETER",
        help="the interpreter of the archive's #! line, an absolute path (default: '/usr/bin/env python3')",
    )
    parser.add_argument(
        "--extras",
        action="append",
        metavar="EXTRA[,EXTRA...]",
        help="extras of the app whose dependencies go into the archive too (repeatable)",
    )
    parser.add_argument(
        "--target",
        action="append",
        metavar="TARGET",
        help="the interpreter and platform to build for: host (the default), a shorthand such as "
        "cp312-manylinux_2_28_aarch64 or cp312-win_amd64, or a complete platform file (.json)",
    )
    parser.add_argument(
        "--lock",
        type=existing_file,
        metavar="FILE",
        help="take every package from this PEP 751 lock file (pylock.toml) instead of resolving; "
        "a REQUIREMENT then only names the app",
    )
    parser.add_argument(
        "--constraints",
        action="append",
        type=existing_file,
        metavar="FILE",
        help="a pip constraints file for the resolution (repeatable)",
    )
    parser.add_argument(
        "--no-compile",
        action="store_true",
        help="ship no bytecode (by default the archive holds .pyc files for this Python)",
    )
    parser.set_defaults(run=run)


def run(options: argparse.Namespace, output: Output) -> int:
    """Resolve, stage and pack the requirements; print the archive's path."""
    if not options.requirements and not options.requirement_files and not options.lock:
        raise UsageError(
            "nothing to pack: give at least one REQUIREMENT, -r FILE or --lock FILE (see: exearchive pack --help)"
        )
    requirements = [_requirement(text) for text in options.requirements]
    for path in options.requirement_files:
        requirements += ["-r", path]
    name = options.name or (None if options.requirements else _first_in_files(options.requirement_files))
    settings = (
        Settings(phrases=_NO_TABLE)
        .with_option("entry-point", "--entry-point", options.entry_point)
        .with_option("entry-point", "--console-script", options.console_script)
        .with_option("python", "--python", options.python)
        .with_option("extras", "--extras", options.extras)
        .with_option("lock", "--lock", options.lock)
        .with_option("targets", "--target", options.target)
        .with_option("constraints", "--constraints", options.constraints)
        .with_option("compile", "--no-compile", "false" if options.no_compile else None)
        .with_option("interpreter", "--interpreter", "true" if options.interpreter else None)
    )
    config = settings.load_without_project()
    target = Target.parse(options.output, Path.cwd())
    try:
        with settings.naming(), scratch(target.directory) as temp:
            built = pack_requirements(
                requirements, config, temp / (target.filename or _guess(requirements, name)), name
            )
            manifest = _archive.read(built).manifest
            if options.console_script:
                _check_console_script(options.console_script, manifest)
            archive = place(built, target.path_for(usual_name(manifest)))
    except ConfigError as error:
        if options.console_script is None:
            raise
        raise ConfigError(_script_message(options.console_script, str(error))) from None
    output.line(shown(archive))
    return 0


def _script_message(name: str, message: str) -> str:
    """The backend tried a name that is not a console script as a module; -c asked for a script: say so."""
    if not message.startswith(f"--console-script {name!r}") or " is a plain script of " in message:
        return message  # not about a missing script: the backend's own words say it
    found = re.search(r"; console scripts in the archive: (.*?)(; did you mean '.*'\?)?$", message)
    if found is None:
        return f"--console-script {name!r} is not a console script in the archive, which has none"
    return f"--console-script {name!r} is not a console script in the archive; its console scripts: " + "".join(
        part or "" for part in found.groups()
    )


def _guess(requirements: list[str], name: str | None) -> str:
    """A file name to build the archive under before its version is known (the log names it)."""
    try:
        project = name or first_project(requirements, [])
    except ExearchiveError:
        project = "archive"
    return f"{project}.pyz"


def _requirement(text: str) -> str:
    """A requirement as pip gets it: local paths made absolute (and checked), anything else as it is."""
    looks_like_path = text.endswith(".whl") or text.startswith(".") or os.sep in text or "/" in text
    if not looks_like_path or "://" in text or " @ " in text:
        return text
    path = Path(text)
    if not path.exists():
        raise CommandError(f"the requirement {text!r} looks like a path, but it does not exist")
    return str(path.resolve())


def _first_in_files(files: list[str]) -> str | None:
    """The name of the first requirement in the first requirements file that has one (None if unclear)."""
    for file in files:
        with open(file, encoding="utf-8") as handle:
            for raw in handle:
                line = raw.split(" #", 1)[0].strip().rstrip("\\").strip()
                if not line or line.startswith(("#", "-")):
                    continue
                if line.endswith(".whl"):
                    try:
                        return str(parse_wheel_filename(Path(line).name)[0])
                    except ValueError:
                        return None
                try:
                    return str(Requirement(line).name)
                except InvalidRequirement:
                    return None
    return None


def _check_console_script(name: str, manifest: dict[str, Any]) -> None:
    if manifest.get("entry_point_name") != name:
        scripts = ", ".join(sorted({**(manifest.get("scripts") or {}), **(manifest.get("script_files") or {})}))
        scripts = scripts or "none"
        raise CommandError(f"--console-script {name!r} is not a console script in the archive (its scripts: {scripts})")


def usual_name(manifest: dict[str, Any]) -> str:
    """The archive's file name as the backend names it: ``NAME-VERSION.pyz``, plus tags for native code."""
    if manifest.get("targets"):
        return combined_name([usual_name({**manifest, **target, "targets": None}) for target in manifest["targets"]])
    distributions = []
    app_wheel = None
    for entry in manifest.get("distributions") or []:
        wheel = str(entry.get("wheel") or "")
        tags = sorted(str(tag) for tag in parse_wheel_filename(wheel)[3]) if wheel.endswith(".whl") else []
        distributions.append(
            Distribution(
                name=str(entry.get("name")),
                version=str(entry.get("version")),
                requires_python=None,
                requires=[],
                console_scripts={},
                tags=tags,
                pure=all(tag.endswith("-none-any") for tag in tags),
                wheel=wheel,
            )
        )
        if entry.get("name") == manifest["name"] and wheel.endswith(".whl"):
            app_wheel = wheel
    if app_wheel is None:
        app_wheel = f"{manifest['name'].replace('-', '_')}-{manifest['version']}-py3-none-any.whl"
    return archive_name(app_wheel, Staged(Path(), distributions))
