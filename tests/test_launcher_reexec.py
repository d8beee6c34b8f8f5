"""A compatible interpreter elsewhere: a refused interpreter gives way to one on PATH that fits.

``markerapp`` built on 3.11 refuses 3.10 (it would need shimlib, which it
does not carry).  Started with 3.10, it looks on ``PATH`` for ``python3.X``,
``python3`` and ``pypy3``, asks each whether it fits, and re-executes with the
first that does; ``EXEARCHIVE_PYTHON`` names the only candidate,
``EXEARCHIVE_REEXEC=0`` turns it off.  Where nothing fits, the refusal is the
one line it always was and nothing is written to the cache.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import Build
from launcher_support import launcher_env, one_line_error, python_or_skip, run_python

pytestmark = pytest.mark.skipif(
    sys.version_info[:2] != (3, 11), reason="the expectations are for archives built on Python 3.11"
)
OUTPUT = "needshim uses the standard library; fullver 1.0\n"
PYENV_311 = "/root/.pyenv/versions/3.11.7/bin/python3.11"


def _fitting() -> str:
    """A real 3.11 binary (not a shim): the build interpreter's own."""
    real = os.path.realpath(sys.executable)
    return real if os.path.basename(real).startswith("python3.11") else PYENV_311


def _bin(tmp_path: Path, **links: str) -> Path:
    """A directory of links NAME -> interpreter, to be PATH."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for name, target in links.items():
        (directory / name.replace("_", ".")).symlink_to(target)
    return directory


def _env(tmp_path: Path, path: Path, **extra: str) -> dict[str, str]:
    env = launcher_env(tmp_path / "cache", {"PATH": str(path), **extra})
    env.pop("EXEARCHIVE_REEXEC", None)
    env.update(extra)
    return env


def test_a_refused_interpreter_runs_the_archive_with_one_on_path_that_fits(
    build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    old = python_or_skip("3.10")
    older = python_or_skip("3.9")
    path = _bin(tmp_path, python3_9=older, python3_12=python_or_skip("3.12"))  # nearest first: 3.9, then 3.12
    env = _env(tmp_path, path, EXEARCHIVE_VERBOSE="1")
    result = run_python(old, build_sample("markerapp").archive(), env=env)
    assert (result.stdout, result.returncode) == (OUTPUT, 0), result.stderr
    assert f"{path / 'python3.9'} does not fit this archive" in result.stderr
    assert f"{path / 'python3.12'} fits this archive: running it with that" in result.stderr
    entries = [p.name for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1, entries  # extracted once, by the interpreter that fits


def test_the_command_line_and_the_environment_reach_the_interpreter_that_takes_over(
    build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    old = python_or_skip("3.10")
    path = _bin(tmp_path, python3_11=_fitting())
    code = "import os, sys; print(sys.version_info[:2], sys.argv[1:], os.environ.get('EXEARCHIVE_REEXECED'))"
    env = _env(tmp_path, path, EXEARCHIVE_INTERPRETER="1")
    result = run_python(old, build_sample("markerapp").archive(), "-c", code, "a b", "--x", env=env)
    assert (result.stdout, result.returncode) == ("(3, 11) ['a b', '--x'] None\n", 0), result.stderr


def test_exearchive_python_names_the_interpreter(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    old = python_or_skip("3.10")
    debian = python_or_skip("debian-3.11")
    env = _env(tmp_path, _bin(tmp_path), EXEARCHIVE_PYTHON=debian)
    result = run_python(old, build_sample("markerapp").archive(), env=env)
    assert (result.stdout, result.returncode) == (OUTPUT, 0), result.stderr


def test_an_exearchive_python_that_does_not_fit_is_named_in_the_refusal(
    build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    old = python_or_skip("3.10")
    older = python_or_skip("3.9")
    env = _env(tmp_path, _bin(tmp_path, python3_11=_fitting()), EXEARCHIVE_PYTHON=older)
    archive = build_sample("markerapp").archive()
    line = one_line_error(run_python(old, archive, env=env))
    assert line.startswith(f"{archive.name}: error: this archive needs shimlib>=1"), line
    assert line.endswith(f"(EXEARCHIVE_PYTHON={older} cannot run it either)"), line
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_exearchive_reexec_0_turns_it_off(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    old = python_or_skip("3.10")
    env = _env(tmp_path, _bin(tmp_path, python3_11=_fitting()), EXEARCHIVE_REEXEC="0")
    line = one_line_error(run_python(old, build_sample("markerapp").archive(), env=env))
    assert "this archive needs shimlib>=1" in line
    assert "cannot run it either" not in line


def test_nothing_on_path_fits_the_refusal_stands_and_nothing_is_written(
    build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    old = python_or_skip("3.10")
    older = python_or_skip("3.9")
    path = _bin(tmp_path, python3_9=older, python3=older)
    broken = path / "pypy3"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    too_old = path / "python3.6"
    too_old.symlink_to(python_or_skip("3.6"))
    line = one_line_error(run_python(old, build_sample("markerapp").archive(), env=_env(tmp_path, path)))
    assert "this archive needs shimlib>=1" in line and "cannot run it either" not in line
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
