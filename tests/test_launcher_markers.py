"""Compatibility from markers: an archive runs wherever its dependencies would install the same.

``markerapp`` (see sample_projects/README.md) depends on ``needshim``, which
needs the backport ``shimlib`` where ``python_version < '3.11'`` (as pytest
needs tomli), and on ``fullver``, which needs it where ``python_full_version
< '3.11'`` (as cryptography does).  Built on 3.11, the archive carries no
shimlib: it must run on every 3.11.x, 3.12 and 3.13, and refuse 3.10 and
older in one sentence that names shimlib and who needs it, writing nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import SAMPLES, Build, build_project
from launcher_support import launcher_env, one_line_error, python_or_skip, read_manifest, run_python

pytestmark = pytest.mark.skipif(
    sys.version_info[:2] != (3, 11), reason="the expectations are for archives built on Python 3.11"
)
OUTPUT = "needshim uses the standard library; fullver 1.0\n"
NEEDS_SHIMLIB = (
    'this archive needs shimlib>=1 (fullver 1.0 requires it where python_full_version < "3.11"; '
    'needshim 2.0 requires it where python_version < "3.11"), which it does not carry; this interpreter is '
)


def _python(name: str) -> str:
    return sys.executable if name == "build" else python_or_skip(name)


def _version(python: str) -> str:
    """E.g. "CPython 3.11.2"."""
    code = "import platform; print(platform.python_implementation(), platform.python_version())"
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def test_the_manifest_records_every_marker_that_decided_the_payload(build_sample: Callable[[str], Build]) -> None:
    needs = read_manifest(build_sample("markerapp").archive())["needs"]
    assert "environment" not in needs
    assert needs["effective_requires_python"] == ">=3.9,!=3.9.0,!=3.9.1"
    assert {"spec": "!=3.9.0,!=3.9.1,>=3.9", "by": "fullver 1.0"} in needs["requires_python"]  # as setuptools wrote it
    assert sorted(needs["markers"], key=lambda m: (m["by"], m["marker"])) == [
        {"marker": 'python_full_version < "3.11"', "outcome": False, "requirement": "shimlib>=1", "by": "fullver 1.0"},
        {"marker": 'python_version < "3.11"', "outcome": False, "requirement": "shimlib>=1", "by": "needshim 2.0"},
        {"marker": 'python_version < "3.12"', "outcome": True, "requirement": "greetlib>=2", "by": "needshim 2.0"},
        {"marker": 'sys_platform == "win32"', "outcome": False, "requirement": "winonly>=1", "by": "needshim 2.0"},
    ]


@pytest.mark.parametrize("name", ["build", "debian-3.11", "3.12", "3.13"])
def test_runs_where_every_marker_decides_the_same(
    name: str, build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    python = _python(name)
    result = run_python(python, build_sample("markerapp").archive(), env=launcher_env(tmp_path / "cache"))
    assert (result.stdout, result.returncode) == (OUTPUT, 0), result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("name", ["3.10", "3.9", "pypy3"])
def test_refused_where_a_marker_would_install_what_the_archive_lacks(
    name: str, build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    python = _python(name)
    archive = build_sample("markerapp").archive()
    root = tmp_path / "cache"
    result = run_python(python, archive, env=launcher_env(root))
    line = one_line_error(result)
    assert result.returncode == 1
    assert line.startswith(f"{archive.name}: error: {NEEDS_SHIMLIB}"), line
    implementation, version = _version(python).split()
    if implementation == "CPython":
        assert f"this interpreter is CPython {version} at {python}; " in line
    else:
        assert f"(Python {version}) at {python}; " in line
    # the nearest interpreter that fits every need: 3.10 and 3.9 would install shimlib too
    assert line.endswith(f"run it with a matching interpreter, e.g. python3.11 {archive}"), line
    assert not root.exists()


def test_too_old_for_requires_python_gets_the_one_effective_spec(
    build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    python = python_or_skip("3.8")
    archive = build_sample("markerapp").archive()
    root = tmp_path / "cache"
    line = one_line_error(run_python(python, archive, env=launcher_env(root)))
    assert line.startswith(
        f"{archive.name}: error: this archive needs Python >=3.9,!=3.9.0,!=3.9.1 (requires-python of fullver 1.0) "
        "but this is CPython 3.8."
    ), line
    assert line.endswith(f"e.g. python3.11 {archive}"), line
    assert not root.exists()


def test_a_full_version_marker_that_flips_within_the_minor_version_refuses(wheelhouse: Path, tmp_path: Path) -> None:
    python = python_or_skip("debian-3.11")
    here, there = _version(sys.executable).split()[1], _version(python).split()[1]
    if not _numbers(there) < (3, 11, 5) <= _numbers(here):
        pytest.skip(f"needs a build on 3.11.5 or newer ({here}) and another interpreter older ({there})")
    project = tmp_path / "markerapp"
    shutil.copytree(SAMPLES / "markerapp", project)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            '["needshim>=2", "fullver>=1"]',
            """["needshim>=2", "fullver>=1", 'shimlib>=1; python_full_version < "3.11.5"']""",
        )
    )
    build = build_project(project, tmp_path / "dist", wheelhouse, "--wheel")
    assert build.returncode == 0, build.output
    archive = build.archive()
    root = tmp_path / "cache"
    assert run_python(sys.executable, archive, env=launcher_env(root)).stdout == OUTPUT
    line = one_line_error(run_python(python, archive, env=launcher_env(root)))
    assert line.startswith(
        f"{archive.name}: error: this archive needs shimlib>=1 (markerapp 1.0 requires it where "
        f'python_full_version < "3.11.5"), which it does not carry; this interpreter is CPython {there} at {python}; '
    ), line
    assert line.endswith(f"e.g. python3.12 {archive}"), line


def test_info_lists_the_markers_and_says_why_it_cannot_run(
    build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    archive = build_sample("markerapp").archive()
    env = launcher_env(tmp_path / "cache", {"EXEARCHIVE_TOOLS": "1"})
    text = run_python(sys.executable, archive, "info", env=env).stdout
    assert "requires-python: >=3.9,!=3.9.0,!=3.9.1 (fullver 1.0: !=3.9.0,!=3.9.1,>=3.9, " in text
    assert '  markers:         python_full_version < "3.11": left out shimlib>=1 (of fullver 1.0)\n' in text
    assert '                   python_version < "3.12": took greetlib>=2 (of needshim 2.0)\n' in text
    assert text.rstrip().endswith("can run it")
    other = run_python(python_or_skip("3.10"), archive, "info", env=env)
    assert other.returncode == 0, other.stderr
    assert NEEDS_SHIMLIB in other.stdout
