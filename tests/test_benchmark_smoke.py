"""The benchmark driver still runs: tiny payload, exearchive and the venv baseline, one iteration.

The benchmark itself (benchmarks/run.py) is not part of the test suite: it
downloads numpy, pandas, boto3, shiv and PEX and takes most of an hour.  This
test runs it in the mode that needs nothing but the pinned build requirements
(a dependency made on the fly, no third-party tool), in a scratch directory,
and checks that every measurement was made.  It asserts no timings.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from helpers import ROOT, clean_env, run
from launcher_support import python_or_skip


@pytest.mark.parametrize("run_python", [None, "3.12"], ids=["build-python", "run-on-3.12"])
def test_benchmark_driver_runs_the_tiny_payload(run_python: str | None, tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    raw = tmp_path / "raw.json"
    other = ["--run-python", python_or_skip(run_python)] if run_python else []
    result = run(
        [
            sys.executable,
            ROOT / "benchmarks" / "run.py",
            "--payload", "tiny",
            "--tools", "exearchive,venv",
            "--runs", "1",
            "--warm-runs", "2",
            "--warm-build-runs", "1",
            "--concurrency", "4",
            "--work", tmp_path / "work",
            "--output", report,
            "--json", raw,
            *other,
        ],
        env=clean_env(),
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr

    results = json.loads(raw.read_text())["tiny"]
    unzip = results.pop("unzip -q", None)  # the reference row, where unzip is installed
    assert set(results) == {"exearchive", "venv"}
    if shutil.which("unzip"):
        assert unzip is not None and unzip["error"] is None and len(unzip["cold"]) == 1, unzip
        assert unzip["files"] == results["exearchive"]["files"]
    for tool, measured in results.items():
        assert measured["error"] is None, (tool, measured["error"])
        assert len(measured["build_s"]) == 1, tool
        assert measured["files"] > 0, tool
        assert len(measured["warm"]) == 2 and measured["warm"][0]["rss_kb"] > 0, tool
        assert [(c["ok"], c["count"]) for c in measured["concurrent"]] == [(4, 4)], tool
    assert len(results["exearchive"]["cold"]) == 1
    assert len(results["exearchive"]["without_archive_s"]) == 1
    # the build_wheel hook's span, inside each build
    for hooks, builds in (("hook_s", "build_s"), ("hook_without_archive_s", "without_archive_s")):
        assert 0 < results["exearchive"][hooks][0] < results["exearchive"][builds][0], (hooks, results["exearchive"])

    text = report.read_text()
    assert "## tiny" in text
    assert "| exearchive | " in text and "| venv | " in text
    assert "- Caches on: " in text
    assert "failed" not in text
    if run_python:  # archives built by this Python, run (like the venv baseline) on the other one
        assert f"- Runner: {other[1]} " in text and "; they were built by " in text
        assert "Python: 3.12." in text
