"""The ``exearchive`` command: parse, dispatch, and turn every failure into one line.

Exit status: 0 when the command did what it was asked, 1 when it failed (the
reason is one line on standard error, prefixed ``exearchive: error:``), 2 for
bad usage, 130 when interrupted, 70 for a failure the command did not foresee
(``--verbose`` shows its traceback).
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..backend._errors import ExearchiveError
from ..runtime._boot import LauncherError
from . import _build, _cache, _inspect, _pack, _platform
from ._errors import UsageError
from ._output import Output, Verbosity
from ._parser import Parser, verbosity_options

_COMMANDS = "build, pack, inspect, cache, platform"

_DESCRIPTION = """\
Executable archives (.pyz) of Python apps with all their dependencies, which
run with only a Python interpreter; and what is in them.

"""

_EPILOG = """\
examples:
  exearchive build                      # the project in this directory -> dist/NAME-VERSION.pyz
  exearchive pack httpie -c http -o http.pyz
  exearchive inspect dist/myapp-1.0.pyz
  exearchive cache prune --days 7
  exearchive platform > targets/prod.json   # this machine, as a build target

Run "exearchive COMMAND --help" for a command's options.
"""


def run(argv: list[str]) -> int:
    """Run the command line ``argv``; return the exit status."""
    output = Output(sys.stdout, sys.stderr)
    try:
        options, unknown = _parser().parse_known_args(argv)
        if unknown:  # argparse would name the top-level command's --help; name the subcommand's
            prog = getattr(options, "help_prog", "exearchive")
            raise UsageError(f"unrecognized arguments: {' '.join(unknown)} (see: {prog} --help)")
    except UsageError as error:
        output.error(str(error))
        return 2
    except SystemExit as done:  # --help and --version
        return done.code if isinstance(done.code, int) else 0
    if getattr(options, "run", None) is None:
        output.error(f"no command given; the commands are: {_COMMANDS} (see: exearchive --help)")
        return 2
    quiet, verbose = getattr(options, "quiet", False), getattr(options, "verbose", False)
    verbosity = Verbosity.QUIET if quiet else Verbosity.VERBOSE if verbose else Verbosity.NORMAL
    output = Output(sys.stdout, sys.stderr, verbosity)
    return _run_command(options, output)


def _run_command(options: argparse.Namespace, output: Output) -> int:
    try:
        with output.logging():
            status: int = options.run(options, output)
            return status
    except UsageError as error:
        output.error(str(error))
        return 2
    except ExearchiveError as error:
        output.error(str(error))
        return 1
    except LauncherError as error:
        output.error(str(error))
        return int(error.code)
    except KeyboardInterrupt:
        output.error("interrupted")
        return 130
    except OSError as error:
        output.error(_os_error(error))
        return 1
    except Exception as error:
        if output.verbosity == Verbosity.VERBOSE:
            output.traceback()
        output.error(
            f"unexpected failure: {error or type(error).__name__} ({type(error).__name__}); "
            "run with --verbose to see where"
        )
        return 70


def _os_error(error: OSError) -> str:
    text = error.strerror or str(error)
    return f"{error.filename}: {text}" if error.filename else text


def _parser() -> Parser:
    parser = Parser(prog="exearchive", description=_DESCRIPTION, epilog=_EPILOG)
    parser.add_argument("--version", action="version", version=f"exearchive {__version__}")
    commands = parser.add_subparsers(
        title="commands", metavar="COMMAND", parser_class=Parser, help="one of these; COMMAND --help says more"
    )
    common = verbosity_options()
    for module in (_build, _pack, _inspect, _cache, _platform):
        module.add_parser(commands, common)
    _name_help(parser)
    return parser


def _name_help(parser: argparse.ArgumentParser) -> None:
    """Let every subcommand's parser record its own name, for "see: exearchive COMMAND --help"."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.set_defaults(help_prog=sub.prog)
                _name_help(sub)
