"""Check the interpreter of the archive's ``#!`` line against what the archive needs.

When the ``python`` key names an interpreter that exists on the build machine
(an absolute path, or ``/usr/bin/env NAME`` with NAME on ``PATH``), it is run
once with the launcher's own check (:func:`exearchive.runtime._compat.check`,
loaded from the runtime's files, so that it runs on that interpreter) against
the archive's needs: Requires-Python, native wheel tags, markers.  An
interpreter that cannot run the archive stops the build (``check-python =
false`` builds it anyway); one that is not on this machine is not checked.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
from pathlib import Path

from .. import runtime
from ._errors import ConfigError

logger = logging.getLogger(__name__)

# Runs on any Python (2.7 too): the version first, then the launcher's check, its package imported as
# ``runtime`` from the directory that holds it (its modules import each other relatively).
_PROBE = """\
import sys
sys.stdout.write("%d.%d\\n" % sys.version_info[:2])
sys.stdout.flush()
if sys.version_info < (3, 8):
    sys.exit(0)
sys.path.insert(0, sys.argv[1])
import json
from runtime._compat import check
sys.stdout.write((check(json.loads(sys.argv[2]), sys.argv[3]) or "") + "\\n")
"""

_OLDEST = (3, 8)
"""The oldest Python the launcher runs on."""

_TIMEOUT = 60


def interpreter(shebang: str) -> str | None:
    """The interpreter a ``#!`` line starts, when it exists on this machine; else None."""
    words = shlex.split(shebang)
    if not words:
        return None
    if Path(words[0]).name == "env":
        names = [word for word in words[1:] if not word.startswith("-") and "=" not in word]
        return shutil.which(names[0]) if names else None
    path = words[0]
    return path if Path(path).is_file() and os.access(path, os.X_OK) else None


def problem(shebang: str, needs: dict[str, object], archive_name: str) -> str | None:
    """Why the interpreter of ``shebang`` cannot run an archive with these ``needs``; None if it can or is absent."""
    python = interpreter(shebang)
    if python is None:
        logger.debug("the archive's interpreter %s is not on this machine: not checked", shebang)
        return None
    holder = str(Path(runtime.__file__).parent.parent)
    command = [python, "-E", "-s", "-B", "-c", _PROBE, holder, json.dumps(needs), archive_name]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return f"{python} does not run ({error})"
    lines = result.stdout.splitlines()
    try:
        version = tuple(int(part) for part in lines[0].split("."))
    except (IndexError, ValueError):
        said = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return f"{python} does not run as a Python interpreter ({said})"
    if version < _OLDEST:
        return f"{python} is Python {lines[0]}, but the archive's launcher needs Python 3.8 or later"
    if result.returncode != 0 or len(lines) < 2:
        said = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return f"{python} cannot run the archive's launcher check ({said})"
    sentence = lines[1].strip()
    if not sentence:
        logger.debug("the archive's interpreter %s (Python %s) can run it", python, lines[0])
        return None
    return sentence.split("; run it with", 1)[0]


def check(shebang: str, where: str, needs: dict[str, object], archive_name: str) -> None:
    """A :class:`ConfigError` when the ``#!`` interpreter exists here and cannot run the archive."""
    found = problem(shebang, needs, archive_name)
    if found:
        raise ConfigError(
            f"{where} = {shebang!r} cannot run the archive: {found}; choose an interpreter that fits, "
            "or set the key check-python to false to build it anyway"
        )
