"""Interpreter archives: built to be a Python (``interpreter = true``, ``pack --interpreter``).

They run no entry point: like ``python``, they take ``-c``, ``-m``, a script,
``-`` or nothing, with CPython's options, inside the archive's environment.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli_support import cli_env, exearchive, read_manifest, succeeded
from exearchive.backend import _config
from exearchive.backend._errors import ConfigError
from helpers import SAMPLES, build_project, clean_env, run_archive


@pytest.fixture(scope="module")
def interpreter_archive(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("interpreter") / "python-greet.pyz"
    succeeded(exearchive("pack", "--interpreter", "-o", out, "greetlib", env=cli_env(wheelhouse)))
    return out


def test_pack_interpreter_runs_like_python(interpreter_archive: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    manifest = read_manifest(interpreter_archive)
    assert manifest["interpreter"] is True and manifest["entry_point"] is None
    code = "import sys, greetlib; print(greetlib.__file__.startswith(sys.argv[1]), sys.argv[2:], __name__)"
    result = run_archive(interpreter_archive, "-c", code, str(root), "x", root=root)
    assert (result.stdout, result.returncode) == ("True ['x'] __main__\n", 0), result.stderr
    # options, as python takes them
    unbuffered = run_archive(interpreter_archive, "-uc", "import sys; print(sys.stdout.write_through)", root=root)
    assert unbuffered.stdout == "True\n", unbuffered.stderr
    # -m of a module in the archive, standard input, a script
    stdin = subprocess.run(
        [sys.executable, str(interpreter_archive)],
        input="import greetlib\nprint('from stdin', greetlib.__name__)\n",
        capture_output=True,
        text=True,
        env=clean_env({"EXEARCHIVE_ROOT": str(root)}),
        check=False,
    )
    assert stdin.stdout == "from stdin greetlib\n", stdin.stderr
    script = tmp_path / "job.py"
    script.write_text("import sys, greetlib\nsys.exit(len(sys.argv))\n")
    assert run_archive(interpreter_archive, str(script), "a", "b", root=root).returncode == 3
    # started directly, by its #! line
    direct = run_archive(interpreter_archive, "-c", "print('direct')", root=root, python=None)
    assert direct.stdout == "direct\n", direct.stderr


def test_entry_point_override_still_works(interpreter_archive: Path, tmp_path: Path) -> None:
    result = run_archive(
        interpreter_archive,
        root=tmp_path / "cache",
        env={"EXEARCHIVE_ENTRY_POINT": "greetlib"},
    )
    # greetlib has no __main__: the override is honoured (and says so), not ignored for interpreter mode
    assert result.returncode == 1 and "greetlib" in result.stderr


def test_inspect_and_info_say_it_is_an_interpreter(interpreter_archive: Path, wheelhouse: Path, tmp_path: Path) -> None:
    text = succeeded(exearchive("inspect", interpreter_archive, env=cli_env(wheelhouse))).stdout
    assert "none: an interpreter archive" in text
    data = json.loads(succeeded(exearchive("inspect", "--json", interpreter_archive, env=cli_env(wheelhouse))).stdout)
    assert data["interpreter_archive"] is True
    info = run_archive(interpreter_archive, "info", root=tmp_path / "cache", env={"EXEARCHIVE_TOOLS": "1"})
    assert info.returncode == 0 and "none: an interpreter archive" in info.stdout, info.stderr


def test_backend_key_makes_an_interpreter_archive(wheelhouse: Path, tmp_path: Path) -> None:
    built = build_project(SAMPLES / "greetcli", tmp_path / "dist", wheelhouse, "-C", "exearchive.interpreter=true")
    assert built.returncode == 0, built.output
    assert "an interpreter archive" in built.output
    archive = built.archive()
    assert read_manifest(archive)["interpreter"] is True
    root = tmp_path / "cache"
    # no arguments: python reads standard input (empty here); the project's console script does not run
    assert run_archive(archive, root=root).stdout == ""
    # -m runs the app's __main__ as python -m does
    result = run_archive(archive, "-m", "greetcli", "World", root=root)
    assert (result.stdout, result.returncode) == ("Greetings, World!\n", 0), result.stderr


def test_interpreter_and_entry_point_together_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.exearchive]\ninterpreter = true\nentry-point = "app:main"\n')
    with pytest.raises(ConfigError, match=r"interpreter and .*entry-point cannot be used together"):
        _config.load(tmp_path, None)
    with pytest.raises(ConfigError, match="interpreter must be a boolean"):
        _config.load(tmp_path, {"exearchive.interpreter": "maybe"})
