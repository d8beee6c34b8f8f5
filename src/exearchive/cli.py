"""The ``exearchive`` command: archives for any project, and archives you can look into.

``exearchive build [PROJECT_DIR]`` builds a project's wheel with the project's
own build backend and packs it with its dependencies into an executable
archive; ``exearchive pack REQUIREMENT...`` packs requirements; ``exearchive
inspect ARCHIVE`` says what an archive is, holds and needs; ``exearchive cache``
lists and prunes the launcher's cache.  The commands live in
:mod:`exearchive._cli`; this module is the console script's entry point.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``exearchive`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    from ._cli._main import run

    return run(sys.argv[1:] if argv is None else list(argv))


if __name__ == "__main__":
    sys.exit(main())
