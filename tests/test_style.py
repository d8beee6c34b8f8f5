"""The project's rules, checked: the runtime's imports, ruff, mypy strict on the build side."""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

import pytest

from helpers import ROOT, run

RUNTIME = ROOT / "src" / "exearchive" / "runtime"
RUNTIME_FILES = sorted(RUNTIME.glob("*.py"))


@pytest.mark.parametrize("path", RUNTIME_FILES, ids=[p.name for p in RUNTIME_FILES])
def test_runtime_imports_only_the_standard_library(path: Path) -> None:
    tree = ast.parse(path.read_text(), feature_version=(3, 8))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names, f"{path.name}:{node.lineno} imports {name}, not in the stdlib"
            assert top != "exearchive"


@pytest.mark.parametrize("path", RUNTIME_FILES, ids=[p.name for p in RUNTIME_FILES])
def test_runtime_is_python38_syntax(path: Path) -> None:
    python38 = sorted(Path("/root/.pyenv/versions").glob("3.8*/bin/python3.8"))
    if not python38:
        pytest.skip("no CPython 3.8 on this machine; checked with ast's feature_version only")
    result = run([python38[0], "-c", "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')", path])
    assert result.returncode == 0, result.stderr


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if not found:
        pytest.skip(f"{name} is not installed in this environment (pip install -e '.[test]')")
    return found


def test_ruff_check() -> None:
    result = run([_tool("ruff"), "check", "--output-format", "concise", "src", "tests", "benchmarks"], cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = run([_tool("ruff"), "format", "--check", "src", "tests", "benchmarks"], cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_on_the_build_side() -> None:
    result = run([_tool("mypy")], cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_on_the_runtime() -> None:
    result = run([_tool("mypy"), "--config-file", "mypy-runtime.ini"], cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
