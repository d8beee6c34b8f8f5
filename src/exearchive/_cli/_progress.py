"""A status line on a terminal: the current step, a spinner, and how long the step has taken.

Each step becomes a finished line (``exearchive: resolving ... (2.1s)``) when
the next one starts.  While a step runs, a background thread redraws its line
ten times a second, with the latest detail beside it (the wheel being staged,
the package pip is downloading), cut to the terminal's width so that a
redraw never wraps.
"""

from __future__ import annotations

import shutil
import threading
import time
from typing import TextIO

_SPINNER = "|/-\\"
_INTERVAL = 0.1
_SHOW_TIME_AFTER = 0.1  # seconds; shorter steps get no time


class Progress:
    """Steps of long work shown on a terminal stream; call :meth:`close` at the end."""

    def __init__(self, stream: TextIO, prefix: str) -> None:
        self._stream = stream
        self._prefix = prefix
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._step: str | None = None
        self._detail = ""
        self._started = 0.0
        self._frame = 0

    def step(self, message: str) -> None:
        """Finish the current step's line and start a new step."""
        with self._lock:
            self._finish()
            self._step = _one_line(message)
            self._detail = ""
            self._started = time.monotonic()
            self._draw()
        if self._thread is None:
            self._thread = threading.Thread(target=self._spin, name="exearchive-progress", daemon=True)
            self._thread.start()

    def detail(self, message: str) -> None:
        """Show ``message`` beside the current step."""
        with self._lock:
            self._detail = _one_line(message)
            self._draw()

    def note(self, line: str) -> None:
        """Print ``line`` above the status line (a warning)."""
        with self._lock:
            self._stream.write("\r\x1b[K" + line + "\n")
            self._draw()

    def pause(self) -> None:
        """Finish the current step's line, so that other output can follow it."""
        with self._lock:
            self._finish()

    def close(self) -> None:
        """Stop the spinner and finish the last step's line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            self._finish()

    def _spin(self) -> None:
        while not self._stop.wait(_INTERVAL):
            with self._lock:
                self._frame += 1
                self._draw()

    def _elapsed(self) -> str:
        seconds = time.monotonic() - self._started
        return f" ({seconds:.1f}s)" if seconds >= _SHOW_TIME_AFTER else ""

    def _draw(self) -> None:
        if self._step is None:
            return
        spinner = _SPINNER[self._frame % len(_SPINNER)]
        text = f"{self._prefix}{spinner} {self._step}{self._elapsed()}"
        if self._detail:
            text += f" - {self._detail}"
        width = shutil.get_terminal_size().columns - 1
        if len(text) > width:
            text = text[: max(width - 3, 0)] + "..."
        self._stream.write("\r\x1b[K" + text)
        self._stream.flush()

    def _finish(self) -> None:
        if self._step is None:
            return
        self._stream.write(f"\r\x1b[K{self._prefix}{self._step}{self._elapsed()}\n")
        self._stream.flush()
        self._step = None


def _one_line(message: str) -> str:
    return " ".join(message.split())
