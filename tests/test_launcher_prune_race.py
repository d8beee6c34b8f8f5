"""A start that races a prune never runs from an entry the prune removes."""

from __future__ import annotations

import fcntl
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
    env = clean_env({"EXEARCHIVE_ROOT": str(root), "EXEARCHIVE_INTERPRETER": "1"})
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
        time.sleep(1.0)  # let the start reach the completion record
        trash = root / f".trash-{entry.name}-1-test"
        entry.rename(trash)
        shutil.rmtree(trash)
    out, err = process.communicate("\n", timeout=60)
    assert (out, process.returncode) == ("imported hello.cli\n", 0), err
    assert (entry / ".exearchive" / "complete").is_file()  # made again, not run from the removed one
