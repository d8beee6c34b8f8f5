"""``exearchive platform`` and the archive's ``platform`` tool: this interpreter as a build target.

Both print PEX's complete-platform JSON (``marker_environment`` and
``compatible_tags``, most specific first), computed by the launcher's own
``_compat``; it must be exactly what packaging computes for the same
interpreter, since a build resolves a target's wheels with packaging.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from packaging.markers import default_environment
from packaging.tags import sys_tags

from cli_support import exearchive
from helpers import Build, clean_env
from launcher_support import launcher_env, python_or_skip, run_python


def test_the_command_prints_what_packaging_computes_for_this_interpreter(tmp_path: Path) -> None:
    result = exearchive("platform", env=clean_env())
    assert result.returncode == 0, result.stderr
    platform = json.loads(result.stdout)
    assert sorted(platform) == ["compatible_tags", "marker_environment"]
    assert platform["compatible_tags"] == [str(tag) for tag in sys_tags()]
    assert platform["marker_environment"] == default_environment()


def test_the_command_writes_a_file_with_o(tmp_path: Path) -> None:
    target = tmp_path / "prod.json"
    result = exearchive("platform", "-o", target, env=clean_env())
    assert (result.returncode, result.stdout.strip()) == (0, str(target)), result.stderr
    assert json.loads(target.read_text())["compatible_tags"] == [str(tag) for tag in sys_tags()]
    assert exearchive("platform", "-o", tmp_path, env=clean_env()).returncode == 2  # a directory


def test_any_archive_prints_the_platform_of_the_interpreter_that_runs_it(
    build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    python = python_or_skip("3.12")
    env = launcher_env(tmp_path / "cache", {"EXEARCHIVE_TOOLS": "1"})
    result = run_python(python, build_sample("hello").archive(), "platform", env=env)
    assert result.returncode == 0, result.stderr
    platform = json.loads(result.stdout)
    assert platform["marker_environment"]["python_version"] == "3.12"
    assert platform["compatible_tags"][0].startswith("cp312-cp312-")
    assert platform["compatible_tags"][-1] == "py30-none-any"
    assert not (tmp_path / "cache").exists()  # a look at the interpreter, not a start
