"""Argument parsing whose errors are one line, and the options every command shares."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from ._errors import UsageError

Command = Callable[[argparse.Namespace, Any], int]
"""A command's ``run(options, output)``: its exit status."""


class Parser(argparse.ArgumentParser):
    """An argument parser that raises :class:`UsageError` instead of printing usage and exiting."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see: {self.prog} --help)")


def verbosity_options() -> Parser:
    """A parent parser for ``-q/--quiet`` and ``-v/--verbose``."""
    parent = Parser(add_help=False)
    group = parent.add_argument_group("output")
    exclusive = group.add_mutually_exclusive_group()
    exclusive.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="say nothing on standard error but warnings and errors",
    )
    exclusive.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="say everything on standard error, as plain lines: each step, the commands run, "
        "pip's and the build backend's output",
    )
    return parent


def existing_file(text: str) -> str:
    """An argparse type: a path to an existing file, made absolute."""
    path = Path(text)
    if not path.is_file():
        problem = "is a directory" if path.is_dir() else "does not exist"
        raise argparse.ArgumentTypeError(f"{text!r} {problem}; expected a file")
    return str(path.resolve())
