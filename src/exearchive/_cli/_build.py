"""``exearchive build``: a project's wheel from its own backend, packed into an archive."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from ..backend import _config
from ..backend._builder import build_archive
from ..backend._config import Config
from ..backend._errors import ConfigError
from ._output import Output
from ._parser import Parser, existing_file
from ._settings import Settings, parse_config_settings
from ._target import Target, place, scratch, shown
from ._wheel import Project, build_wheel

_DESCRIPTION = """\
Build the project's wheel with the project's own build backend (setuptools,
hatchling, flit_core, pdm-backend, ...: whatever its pyproject.toml names) in
an isolated environment, as "python -m build" does; then resolve its
dependencies with pip, stage them and pack everything into an executable
archive, exactly as the exearchive backend does. The wheel stays beside the
archive. The archive's path is printed on standard output.

The project's [tool.exearchive] table is read whatever its backend is; the
options below override its keys (they mean what -C exearchive.KEY=VALUE means
to the backend). A project whose backend is exearchive itself gets its wheel
built once, with the archive step of its backend turned off.

Dependencies are resolved with "python -m pip" of the Python running this
command, so pip's configuration and PIP_* variables apply
(PIP_NO_INDEX=1 PIP_FIND_LINKS=./wheels builds offline).
"""

_EPILOG = """\
examples:
  exearchive build                              # ./dist/NAME-VERSION.pyz
  exearchive build path/to/project -o app.pyz
  exearchive build --entry-point mytool.cli:main --python /usr/bin/python3.12
  exearchive build --extras fast,yaml --constraints constraints.txt
  exearchive build --no-isolation -C exearchive.compile=false
"""


def add_parser(commands: argparse._SubParsersAction[Parser], common: Parser) -> None:
    """Add ``build`` and its options to the command's parser."""
    parser = commands.add_parser(
        "build",
        parents=[common],
        help="build a project's wheel with its own backend and pack it into an archive",
        description=_DESCRIPTION,
        epilog=_EPILOG,
    )
    parser.add_argument(
        "project_dir",
        nargs="?",
        default=".",
        metavar="PROJECT_DIR",
        help="the project's directory, holding its pyproject.toml or setup.py (default: the current directory)",
    )
    where = parser.add_argument_group("where the results go")
    where.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="the archive's file; or a directory (an existing one, or a path ending in /) to write it into "
        "under its usual name, NAME-VERSION.pyz (plus the interpreter and platform when it holds native code). "
        "Overrides [tool.exearchive] outdir",
    )
    where.add_argument(
        "--outdir",
        metavar="DIR",
        help="where the wheel goes, and the archive unless -o or [tool.exearchive] outdir (relative to DIR) "
        "says otherwise (default: PROJECT_DIR/dist)",
    )
    archive = parser.add_argument_group("the archive ([tool.exearchive] keys)")
    archive.add_argument(
        "-e",
        "--entry-point",
        metavar="ENTRY_POINT",
        help="what the archive runs: a console script or plain Python script of any distribution in it, "
        "'module:function' or 'module' "
        "(default: the project's only console script)",
    )
    archive.add_argument(
        "--python",
        metavar="INTERPRETER",
        help="the interpreter of the archive's #! line, an absolute path (default: '/usr/bin/env python3')",
    )
    archive.add_argument(
        "--extras",
        action="append",
        metavar="EXTRA[,EXTRA...]",
        help="extras of the project whose dependencies go into the archive too (repeatable)",
    )
    archive.add_argument(
        "--target",
        action="append",
        metavar="TARGET",
        help="the interpreter and platform to build for: host (the default), a shorthand such as "
        "cp312-manylinux_2_28_aarch64 or cp312-win_amd64, or a complete platform file (.json)",
    )
    archive.add_argument(
        "--lock",
        type=existing_file,
        metavar="FILE",
        help="take the dependencies from this PEP 751 lock file (pylock.toml) instead of resolving them",
    )
    archive.add_argument(
        "--constraints",
        action="append",
        type=existing_file,
        metavar="FILE",
        help="a pip constraints file for the resolution (repeatable)",
    )
    archive.add_argument(
        "--requirements",
        action="append",
        type=existing_file,
        metavar="FILE",
        help="a pip requirements file added to the resolution, e.g. pinned with --hash (repeatable)",
    )
    archive.add_argument(
        "--interpreter",
        action="store_true",
        help="make an interpreter archive: it runs no entry point and takes what python takes "
        "(-c CODE, -m MODULE, a script, options), for engines that start Python by path (PYSPARK_PYTHON)",
    )
    archive.add_argument(
        "--no-compile",
        action="store_true",
        help="ship no bytecode (by default the archive holds .pyc files for this Python)",
    )
    wheel = parser.add_argument_group("the wheel")
    wheel.add_argument(
        "--no-isolation",
        action="store_true",
        help="build the wheel with this Python's installed packages instead of an isolated environment; "
        "the project's build requirements must be installed",
    )
    wheel.add_argument(
        "-C",
        "--config-setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config setting for the project's build backend (repeatable); exearchive.KEY=VALUE sets a "
        "[tool.exearchive] key, as with the backend",
    )
    parser.set_defaults(run=run)


def run(options: argparse.Namespace, output: Output) -> int:
    """Build the wheel, then the archive; print the archive's path."""
    project = Project.at(Path(options.project_dir))
    settings = (
        Settings()
        .with_option("entry-point", "--entry-point", options.entry_point)
        .with_option("python", "--python", options.python)
        .with_option("extras", "--extras", options.extras)
        .with_option("lock", "--lock", options.lock)
        .with_option("targets", "--target", options.target)
        .with_option("constraints", "--constraints", options.constraints)
        .with_option("requirements", "--requirements", options.requirements)
        .with_option("compile", "--no-compile", "false" if options.no_compile else None)
        .with_option("interpreter", "--interpreter", "true" if options.interpreter else None)
    )
    passed = parse_config_settings(options.config_setting)
    config = settings.load(project.path, passed)
    _check_input_files(config, project.path, settings)
    wheel_dir = Path(options.outdir).resolve() if options.outdir else project.path / "dist"
    target = Target.parse(options.output, wheel_dir / config.outdir if config.outdir else wheel_dir)
    # The wheel joins the archive only once the archive is written: a failed step leaves the directory as it was.
    with scratch(wheel_dir) as wheel_temp:
        wheel = build_wheel(project, wheel_temp, _config.theirs(passed) or {}, isolated=not options.no_isolation)
        with settings.naming():
            archive = write(target, lambda directory: build_archive(wheel, config, directory, project.path))
        wheel.replace(wheel_dir / wheel.name)
    output.line(shown(archive))
    return 0


def write(target: Target, make: Callable[[Path], Path]) -> Path:
    """Make the archive with ``make(directory)`` and put it where ``target`` says."""
    if target.filename is None:
        return make(target.directory)
    with scratch(target.directory) as temp:
        built = make(temp)
        return place(built, target.path_for(built.name))


def _check_input_files(config: Config, project_dir: Path, settings: Settings) -> None:
    """Fail before the wheel is built when a file the archive step reads is missing."""
    for where, path in _config.input_files(config):
        if not (project_dir / path).is_file():
            raise ConfigError(settings.rename(f"{where}: {path!r} does not exist in {project_dir}"))
