"""The build side's bytecode, compiled in the background while setuptools builds the wheel (``_warmup``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import installer
import packaging
import pytest

import exearchive
from exearchive.backend import _warmup
from helpers import check, clean_env

# In a copy of the three packages with no bytecode: compile them as build_wheel does, then list the bytecode files
# there; then import what the archive step imports, with bytecode written, and list them again.
_SCRIPT = """\
import pathlib, sys
top = pathlib.Path(sys.argv[1])
def listed():
    return sorted(str(p.relative_to(top)) for p in top.rglob("*.pyc"))
from exearchive.backend import _warmup
with _warmup.compiled_in_background() as process:
    assert process is not None and process.wait() == 0
before = listed()
sys.dont_write_bytecode = False
import exearchive.backend._builder, exearchive.backend._hooks
print(len(before), sorted(set(listed()) - set(before)))
"""


def _copy(package: object, into: Path) -> None:
    source = Path(package.__file__).parent  # type: ignore[attr-defined]
    shutil.copytree(source, into / source.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def test_compiles_everything_the_archive_step_imports(tmp_path: Path) -> None:
    for package in (exearchive, installer, packaging):
        _copy(package, tmp_path)
    env = clean_env({"PYTHONPATH": str(tmp_path)})
    del env["PYTHONDONTWRITEBYTECODE"]  # the bytecode the imports would write is what is compiled ahead
    result = check([sys.executable, "-c", _SCRIPT, tmp_path], env=env, cwd=tmp_path)
    count, written_by_imports = result.stdout.split(" ", 1)
    assert int(count) > 40
    assert written_by_imports.strip() == "[]", "modules the archive step imports are missing from _warmup"


def test_nothing_is_started_without_bytecode(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a process was started")

    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    with _warmup.compiled_in_background() as process:
        assert process is None


def test_a_failed_build_stops_the_compiler(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    script = tmp_path / "sleep.py"
    script.write_text("import time; time.sleep(60)\n")
    monkeypatch.setattr(_warmup, "_COMPILE", str(script))
    with pytest.raises(RuntimeError), _warmup.compiled_in_background() as process:
        assert process is not None
        raise RuntimeError("setuptools failed")
    assert process.returncode is not None and process.returncode < 0
