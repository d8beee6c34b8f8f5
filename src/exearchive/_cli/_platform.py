"""``exearchive platform``: this interpreter's complete platform, for building archives that target it.

The JSON object is PEX's complete-platform format, made by the launcher's own
``_compat.complete_platform`` (so that what a build targets is exactly what
the launcher checks at run time): every PEP 508 marker variable and the wheel
tags this interpreter takes, most specific first.  On a machine without
exearchive, any archive prints the same with ``EXEARCHIVE_TOOLS=1 ARCHIVE platform``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..runtime import _compat
from ._errors import UsageError
from ._output import Output
from ._parser import Parser

_DESCRIPTION = """\
Print this Python's complete platform as JSON: its PEP 508 marker environment
and the wheel tags it accepts, most specific first (PEX's --complete-platform
format). Save it on a machine you deploy to and give the file to a build as a
target, e.g. [tool.exearchive] targets = ["targets/prod.json"]. A machine
without exearchive prints the same with: EXEARCHIVE_TOOLS=1 python3 ANY.pyz platform
"""

_EPILOG = """\
examples:
  exearchive platform > targets/laptop.json
  exearchive platform -o targets/prod.json
  EXEARCHIVE_TOOLS=1 python3.12 app.pyz platform > targets/prod.json
"""


def add_parser(commands: argparse._SubParsersAction[Parser], common: Parser) -> None:
    """Add ``platform`` to the command's parser."""
    parser = commands.add_parser(
        "platform",
        parents=[common],
        help="print this Python's complete platform (JSON), to build archives for it",
        description=_DESCRIPTION,
        epilog=_EPILOG,
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write it to FILE instead of standard output")
    parser.set_defaults(run=run)


def run(options: argparse.Namespace, output: Output) -> int:
    """Print (or write) the complete platform."""
    text = json.dumps(_compat.complete_platform(), indent=2, sort_keys=True) + "\n"
    if options.output is None:
        output.line(text.rstrip("\n"))
        return 0
    path = Path(options.output)
    if path.is_dir():
        raise UsageError(f"-o {options.output}: is a directory; name the file to write")
    path.write_text(text, encoding="utf-8")
    output.line(str(path))
    return 0
