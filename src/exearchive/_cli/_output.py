"""Everything the command writes to the terminal.

Results (an archive's path, what an archive holds, the cache's entries) go to
standard output; messages, progress and errors go to standard error.  The
build side reports its work through the ``exearchive`` logger (and ``build``
through the ``build`` logger); :meth:`Output.logging` attaches a handler to
both for the duration of a command and restores them afterwards:

- ``--quiet``, or standard error is not a terminal: warnings only;
- a terminal: one line per step with a spinner and the step's time
  (:mod:`._progress`), details of the current step beside it;
- ``--verbose``: every message, including pip's and the build backend's output.
"""

from __future__ import annotations

import enum
import logging
import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from ._progress import Progress

PREFIX = "exearchive: "
_LOGGERS = ("exearchive", "build")


class Verbosity(enum.IntEnum):
    """How much the command says on standard error."""

    QUIET = -1
    NORMAL = 0
    VERBOSE = 1


class Output:
    """The command's two streams, how talkative it is, and its progress display while one is shown."""

    def __init__(self, stdout: TextIO, stderr: TextIO, verbosity: Verbosity = Verbosity.NORMAL) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.verbosity = verbosity
        self._progress: Progress | None = None

    def line(self, text: str = "") -> None:
        """A line of the command's result, on standard output (below any progress line)."""
        if self._progress is not None:
            self._progress.pause()
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def error(self, message: str) -> None:
        """The one line that says why the command failed, on standard error."""
        if self._progress is not None:
            self._progress.pause()
        self.stdout.flush()
        self.stderr.write(f"{PREFIX}error: {message}\n")
        self.stderr.flush()

    def traceback(self) -> None:
        """The traceback of the exception being handled, on standard error (``--verbose``)."""
        self.stdout.flush()
        self.stderr.write(traceback.format_exc())
        self.stderr.flush()

    @property
    def interactive(self) -> bool:
        """Standard error is a terminal that can redraw a line."""
        isatty = getattr(self.stderr, "isatty", None)
        return bool(isatty and isatty()) and os.environ.get("TERM", "") != "dumb"

    @contextmanager
    def logging(self) -> Iterator[None]:
        """Show the build side's log records as this output's verbosity says, while the block runs."""
        progress = None
        handler: logging.Handler
        if self.verbosity == Verbosity.NORMAL and self.interactive:
            progress = self._progress = Progress(self.stderr, PREFIX)
            handler = _ProgressHandler(progress)
        else:
            handler = _LineHandler(self.stderr)
            handler.setLevel(logging.DEBUG if self.verbosity == Verbosity.VERBOSE else logging.WARNING)
        saved = [(logger, logger.level, logger.propagate) for logger in map(logging.getLogger, _LOGGERS)]
        for logger, _level, _propagate in saved:
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)
            logger.propagate = False
        try:
            yield
        finally:
            for logger, level, propagate in saved:
                logger.removeHandler(handler)
                logger.setLevel(level)
                logger.propagate = propagate
            if progress is not None:
                progress.close()
                self._progress = None


def _is_ours(record: logging.LogRecord) -> bool:
    return record.name == "exearchive" or record.name.startswith("exearchive.")


class _LineHandler(logging.Handler):
    """Each record as ``exearchive: message`` lines (continuation lines indented)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.levelno >= logging.WARNING:
                message = f"{record.levelname.lower()}: {message}"
            elif not _is_ours(record):
                message = f"[{record.name}] {message}"
            lines = message.rstrip("\n").splitlines() or [""]
            self._stream.write("".join(f"{PREFIX}{'' if i == 0 else '  '}{line}\n" for i, line in enumerate(lines)))
            self._stream.flush()
        except Exception:
            self.handleError(record)


class _ProgressHandler(logging.Handler):
    """Records on a terminal: the build side's INFO records are steps, the rest are details of a step."""

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self._progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.levelno >= logging.WARNING:
                self._progress.note(f"{PREFIX}{record.levelname.lower()}: {message}")
            elif record.levelno >= logging.INFO and _is_ours(record):
                self._progress.step(message)
            else:
                self._progress.detail(message)
        except Exception:
            self.handleError(record)
