"""One start of a command, measured (wall time, CPU time, peak RSS), and what a tool's results hold."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXPECTED = "ok"  # what every payload's app prints first


@dataclass
class Sample:
    wall: float
    rss_kb: int
    returncode: int
    stdout: str
    stderr: str
    cpu: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.stdout.startswith(EXPECTED)


class Starter:
    """Starts commands and measures them: with the C helper ``measure`` if it could be built, else in-process."""

    def __init__(self, helper: Path | None, cwd: Path) -> None:
        self.helper = helper
        self.cwd = cwd

    def spawn(self, command: Sequence[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Any, Any, str]:
        out = tempfile.TemporaryFile()  # noqa: SIM115 - closed in reap()
        err = tempfile.TemporaryFile()  # noqa: SIM115
        result = ""
        argv = list(command)
        if self.helper:
            handle, result = tempfile.mkstemp(prefix="measure-", dir=self.cwd)
            os.close(handle)
            argv = [str(self.helper), result, *argv]
        proc = subprocess.Popen(argv, env=env, cwd=self.cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        return proc, out, err, result

    def reap(self, proc: subprocess.Popen[bytes], out: Any, err: Any, result: str, start: float) -> Sample:
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        rss = usage.ru_maxrss
        cpu = usage.ru_utime + usage.ru_stime
        texts = []
        for handle in (out, err):
            handle.seek(0)
            texts.append(handle.read().decode(errors="replace"))
            handle.close()
        code = proc.returncode
        if result:
            try:
                fields = Path(result).read_text().split()
                wall, rss, code = int(fields[0]) / 1e9, int(fields[1]), os.waitstatus_to_exitcode(int(fields[2]))
                cpu = int(fields[3]) / 1e9
            except (OSError, IndexError, ValueError):
                code = code or 1  # the helper itself failed; its message is in stderr
            Path(result).unlink(missing_ok=True)
        return Sample(wall, rss, code, texts[0], texts[1], cpu)

    def measure(self, command: Sequence[str], env: dict[str, str]) -> Sample:
        """Wall time and peak RSS (KiB, ``ru_maxrss``) of one start."""
        os.sync()  # what earlier steps wrote must not be flushed during this one
        start = time.perf_counter()
        return self.reap(*self.spawn(command, env), start)

    def concurrent(self, command: Sequence[str], env: dict[str, str], count: int) -> dict[str, Any]:
        """Start ``count`` copies at once; wall time until the last one exits, and how many succeeded."""
        os.sync()
        start = time.perf_counter()
        procs = [self.spawn(command, env) for _ in range(count)]
        samples = [self.reap(*proc, start) for proc in procs]
        wall = time.perf_counter() - start
        failures = [s for s in samples if not s.ok]
        return {
            "count": count,
            "ok": count - len(failures),
            "wall": wall,
            "max_rss_kb": max(s.rss_kb for s in samples),
            "failure": (failures[0].stderr[-800:] or f"exit {failures[0].returncode}") if failures else None,
        }


def count_zip_files(path: Path) -> int:
    """Files in a zip archive; an exearchive payload zip inside it is counted by its own files."""
    with zipfile.ZipFile(path) as archive:
        names = [i for i in archive.infolist() if not i.is_dir()]
        total = len(names)
        for info in names:
            if info.filename == "__exearchive__/payload.zip":
                with archive.open(info) as inner_file, zipfile.ZipFile(inner_file) as inner:
                    total += sum(1 for i in inner.infolist() if not i.is_dir()) - 1
    return total


def tree_stats(path: Path) -> tuple[int, int]:
    """(files, bytes) under ``path``."""
    files = size = 0
    for directory, _dirs, names in os.walk(path):
        for name in names:
            full = os.path.join(directory, name)
            if not os.path.islink(full):
                files += 1
                size += os.path.getsize(full)
    return files, size


@dataclass
class Result:
    build: list[float] = field(default_factory=list)
    without_archive: list[float] = field(default_factory=list)
    warm_build: list[float] = field(default_factory=list)
    # exearchive: the build_wheel hook alone, in each of the three kinds of build above (see tools.build)
    hook: list[float] = field(default_factory=list)
    hook_without_archive: list[float] = field(default_factory=list)
    hook_warm: list[float] = field(default_factory=list)
    size: int | None = None
    files: int | None = None
    cold: list[Sample] = field(default_factory=list)
    warm: list[Sample] = field(default_factory=list)
    concurrent: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "build_s": self.build,
            "without_archive_s": self.without_archive,
            "warm_build_cache_build_s": self.warm_build,
            "hook_s": self.hook,
            "hook_without_archive_s": self.hook_without_archive,
            "hook_warm_build_cache_s": self.hook_warm,
            "size_bytes": self.size,
            "files": self.files,
            "cold": [{"wall_s": s.wall, "rss_kb": s.rss_kb, "cpu_s": s.cpu} for s in self.cold],
            "warm": [{"wall_s": s.wall, "rss_kb": s.rss_kb, "cpu_s": s.cpu} for s in self.warm],
            "concurrent": self.concurrent,
            "error": self.error,
        }
