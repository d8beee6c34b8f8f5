"""Helpers for the tests of the ``exearchive`` command (``test_cli_*.py``)."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from helpers import SAMPLES, offline_env, run

MANIFEST = "__exearchive__/manifest.json"
ERROR = "exearchive: error: "


def cli_env(wheelhouse: Path, *more_links: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An offline environment for the command: pip finds wheels only in ``wheelhouse`` and ``more_links``."""
    links = " ".join(str(p) for p in (wheelhouse, *more_links))
    return offline_env(wheelhouse, {"PIP_FIND_LINKS": links, **(extra or {})})


def exearchive(*args: str | Path, env: Mapping[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m exearchive.cli ARGS`` (what the console script runs); capture its output."""
    return run([sys.executable, "-m", "exearchive.cli", *args], env=dict(env), cwd=str(cwd) if cwd else None)


def succeeded(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """``result``, after checking that the command succeeded."""
    assert result.returncode == 0, f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    return result


def one_line_error(result: subprocess.CompletedProcess[str], status: int = 1) -> str:
    """The error line of a failed command, after checking it is one line with no traceback."""
    assert result.returncode == status, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(ERROR), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0][len(ERROR) :]


def copy_sample(name: str, dest: Path) -> Path:
    """A copy of ``sample_projects/NAME`` in ``dest``, without build output, for a build to write into."""
    copy = dest / name
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(SAMPLES / name, copy, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
    return copy


def read_manifest(archive: Path) -> dict[str, Any]:
    with zipfile.ZipFile(archive) as outer:
        manifest: dict[str, Any] = json.loads(outer.read(MANIFEST))
    return manifest


def rewrite_manifest(archive: Path, target: Path, manifest: bytes) -> Path:
    """A copy of ``archive`` at ``target`` whose manifest member holds ``manifest``."""
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            out.writestr(info, manifest if info.filename == MANIFEST else source.read(info.filename))
    return target


def on_a_terminal(
    command: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 300.0
) -> tuple[int, str, str]:
    """Run ``command`` with its standard error on a pseudo-terminal: (status, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    with subprocess.Popen(command, env=dict(env), cwd=cwd, stdout=subprocess.PIPE, stderr=slave) as process:
        os.close(slave)
        chunks = []
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                process.kill()
                raise AssertionError(f"no output on the terminal for {timeout}s: {command}")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        stdout = process.stdout.read().decode() if process.stdout else ""
        status = process.wait()
    os.close(master)
    return status, stdout, b"".join(chunks).decode(errors="replace")
