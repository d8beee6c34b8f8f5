"""The ``exearchive`` command (placeholder until the command lands)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``exearchive`` command."""
    sys.stderr.write("exearchive: the command is not available yet; use the build backend\n")
    return 2
