"""pip run through ``backend/_piprun.py``: the same output and exit status as ``python -m pip``, a faster exit."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from exearchive.backend import _pip, _piprun
from test_stage import make_wheel

# Found, not imported: importing pip turns setuptools' distutils shim off for the later tests
_SPEC = _pip._own_spec()
assert _SPEC is not None and _SPEC.origin
_PIP = str(Path(_SPEC.origin).parent)
_VERSION = _pip.version([sys.executable, _piprun.__file__, _PIP])
_ENV = {"PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": "/dev/null", "PIP_NO_INDEX": "1"}
_STDLIB = {
    "__future__",
    "atexit",
    "collections",
    "contextlib",
    "os",
    "pathlib",
    "runpy",
    "sys",
    "importlib",
    "json",
    "types",
}


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, _piprun.__file__, _PIP, *args], capture_output=True, text=True, cwd=cwd, env=_ENV, check=False
    )


def test_pip_runs_and_writes_what_it_says(tmp_path: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    make_wheel(links, "first", {"first.py": b"A = 1\n"})
    result = _run("wheel", "--find-links", str(links), "-w", str(tmp_path / "out"), "first", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Saved ./out/first-1.0-py3-none-any.whl" in result.stdout  # flushed before the process ended
    assert (tmp_path / "out" / "first-1.0-py3-none-any.whl").is_file()


def test_pip_version_and_its_failures_keep_their_status(tmp_path: Path) -> None:
    version = _run("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith(f"pip {_VERSION} from {_PIP}")
    missing = _run("wheel", "-w", str(tmp_path / "out"), "no-such-project-here", cwd=tmp_path)
    assert missing.returncode == 1
    assert "No matching distribution found for no-such-project-here" in missing.stderr
    unknown = _run("no-such-command", cwd=tmp_path)
    assert unknown.returncode == 1 and 'unknown command "no-such-command"' in unknown.stderr


def test_the_scripts_directory_is_not_importable_by_pip(tmp_path: Path) -> None:
    # exearchive's backend modules sit beside the script: pip must not import a module of theirs by its name
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    shutil.copy(_piprun.__file__, scripts / "_piprun.py")
    (scripts / "csv.py").write_text("raise ImportError('the decoy csv beside the script was imported')\n")
    links = tmp_path / "links"
    links.mkdir()
    make_wheel(links, "first", {"first.py": b"A = 1\n"})
    command = [sys.executable, str(scripts / "_piprun.py"), _PIP, "wheel", "--find-links", str(links), "first"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=_ENV, check=False)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "first-1.0-py3-none-any.whl").is_file()


def test_the_command_runs_the_script_with_the_pip_found() -> None:
    assert _pip.command() == [sys.executable, _piprun.__file__, _PIP]


def test_the_script_imports_only_the_standard_library() -> None:
    tree = ast.parse(Path(_piprun.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports: it runs as a script"
            imported.add((node.module or "").split(".")[0])
    assert imported <= _STDLIB | {"pip"}, imported - _STDLIB  # and pip, which it runs
