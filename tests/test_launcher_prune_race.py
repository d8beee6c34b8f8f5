"""A start that races a prune never runs from an entry the prune removes (Linux: it watches ``/proc``)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from helpers import Build, clean_env, run_archive


def test_start_during_prune_waits_and_runs_from_a_fresh_entry(
    build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    archive = build_sample("hello").archive()
    root = tmp_path / "cache"
    assert run_archive(archive, root=root).returncode == 0
    (entry,) = [p for p in root.iterdir() if not p.name.startswith(".")]
    record = entry / ".exearchive" / "complete"
    env = clean_env({"EXEARCHIVE_ROOT": str(root), "EXEARCHIVE_INTERPRETER": "1", "EXEARCHIVE_VERBOSE": "1"})
    code = "import sys; sys.stdin.readline(); import hello.cli; print('imported', hello.cli.__name__)"
    with record.open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # what `cache prune` holds while it renames an entry away
        process = subprocess.Popen(
            [sys.executable, str(archive), "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        # the start has opened the completion record and waits for its shared lock (we hold it exclusively)
        assert _waits_on(process.pid, record), "the start never reached the completion record"
        trash = root / f".trash-{entry.name}-1-test"
        entry.rename(trash)
        shutil.rmtree(trash)
    out, err = process.communicate("\n", timeout=60)
    assert (out, process.returncode) == ("imported hello.cli\n", 0), err
    assert (entry / ".exearchive" / "complete").is_file()  # made again, not run from the removed one
    assert f"] cold: {entry} (not ready)" in err, err  # it came out of the wait onto the cold path


def _waits_on(pid: int, record: Path, timeout: float = 30.0) -> bool:
    """Whether process ``pid`` comes to hold ``record`` open while its lock is taken (``/proc``)."""
    deadline = time.monotonic() + timeout
    fds = Path(f"/proc/{pid}/fd")
    while time.monotonic() < deadline:
        try:
            if any(os.readlink(fd) == str(record) for fd in fds.iterdir()):
                time.sleep(0.2)  # from the open to the flock call: a few instructions
                return True
        except OSError:
            pass  # an fd closed while we looked
        time.sleep(0.02)
    return False
