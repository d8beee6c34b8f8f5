"""Where an archive goes.

``-o PATH`` names the archive's file, or a directory to put it in under its
usual name (an existing directory, or a path ending in ``/``).  An archive
with a chosen file name is built into a temporary directory beside it and
renamed into place, so that the file appears whole or not at all and a
failed build never replaces an existing file.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """The archive's directory, and its file name when one was chosen."""

    directory: Path
    filename: str | None = None

    @classmethod
    def parse(cls, value: str | None, default_directory: Path) -> Target:
        """The target that ``-o value`` names (``default_directory`` without it)."""
        if value is None:
            return cls(default_directory.resolve())
        path = Path(value)
        if value.endswith(("/", os.sep)) or path.is_dir():
            return cls(path.resolve())
        return cls(path.parent.resolve(), path.name)

    def path_for(self, name: str) -> Path:
        """The archive's path when its usual name is ``name``."""
        return self.directory / (self.filename or name)


@contextmanager
def scratch(directory: Path) -> Iterator[Path]:
    """A temporary directory in ``directory`` (made if need be), removed with what it holds afterwards."""
    directory.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=".exearchive-", dir=directory))
    try:
        yield temp
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def place(built: Path, target: Path) -> Path:
    """Move the finished archive ``built`` to ``target`` (same file system: one atomic rename)."""
    placed = built.replace(target)
    logger.info("saved %s", placed.resolve())
    return placed


def shown(path: Path) -> str:
    """``path`` as the user would type it: relative to the current directory when it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
