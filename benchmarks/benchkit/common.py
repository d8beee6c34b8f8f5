"""Shared plumbing of the benchmark: logging, running commands, scratch directories, medians."""

from __future__ import annotations

import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent  # benchmarks/
REPO = HERE.parent
_STARTED = time.monotonic()


def elapsed() -> float:
    """Seconds since the driver started."""
    return time.monotonic() - _STARTED


def log(message: str) -> None:
    sys.stderr.write(f"[{elapsed():7.1f}s] {message}\n")
    sys.stderr.flush()


class BenchError(Exception):
    """A step failed; the message says which and why."""


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Our environment without anything that would change what the tools do."""
    drop = ("PYTHON", "PIP_", "EXEARCHIVE_", "SHIV_", "PEX", "VIRTUAL_ENV", "SOURCE_DATE_EPOCH", "__PYVENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(extra or {})
    return env


def run(command: Sequence[str | Path], env: dict[str, str], cwd: Path | None = None, what: str = "") -> float:
    """Run a command to completion; return its wall time; raise BenchError with its output if it fails."""
    argv = [str(c) for c in command]
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        result = subprocess.run(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        if result.returncode != 0:
            out.seek(0)
            tail = out.read().decode(errors="replace")[-4000:]
            raise BenchError(f"{what or argv[0]} failed ({result.returncode}): {shlex.join(argv)}\n{tail}")
    return wall


def run_marked(
    command: Sequence[str | Path], env: dict[str, str], start: str, end: str, cwd: Path | None = None, what: str = ""
) -> tuple[float, float | None]:
    """Like :func:`run`, and also the time from the first output line holding ``start`` to the first holding
    ``end`` after it (None if either is missing): e.g. one hook of ``python -m build``."""
    argv = [str(c) for c in command]
    marks: dict[str, float] = {}
    kept: list[str] = []
    begun = time.perf_counter()
    with subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    ) as process:
        assert process.stdout is not None
        for raw in process.stdout:
            now = time.perf_counter()
            line = raw.decode(errors="replace")
            if start not in marks and start in line:
                marks[start] = now
            elif start in marks and end not in marks and end in line:
                marks[end] = now
            kept = [*kept[-200:], line]
        returncode = process.wait()
    wall = time.perf_counter() - begun
    if returncode != 0:
        tail = "".join(kept)[-4000:]
        raise BenchError(f"{what or argv[0]} failed ({returncode}): {shlex.join(argv)}\n{tail}")
    span = marks[end] - marks[start] if start in marks and end in marks else None
    return wall, span


def output_of(command: Sequence[str | Path], env: dict[str, str] | None = None) -> str:
    result = subprocess.run([str(c) for c in command], env=env, capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def write_report(report: str, output: Path) -> None:
    """Print the Markdown ``report`` and write it to ``output``."""
    print(report)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report + "\n")
    log(f"wrote {output}; {elapsed() / 60:.1f} min in all")


def rmtree(path: Path) -> None:
    if path.exists():
        # Extracted caches can hold read-only directories (pex); make them writable first.
        for directory, dirs, _files in os.walk(path):
            for name in dirs:
                full = os.path.join(directory, name)
                if not os.path.islink(full):
                    os.chmod(full, 0o700)
        shutil.rmtree(path)


def fresh_dir(path: Path) -> Path:
    rmtree(path)
    path.mkdir(parents=True)
    return path


def rotate(items: Sequence[str], by: int) -> list[str]:
    """``items`` starting at position ``by``: alternate the order between rounds."""
    by %= max(len(items), 1)
    return list(items[by:]) + list(items[:by])


def median(values: Iterable[float]) -> float | None:
    values = list(values)
    return statistics.median(values) if values else None
