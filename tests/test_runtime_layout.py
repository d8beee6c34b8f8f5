"""The runtime's module boundaries: no private name crosses one, and no import goes back up a lazy import.

Read from the sources with ``ast``: in every runtime module (and every module of the command,
which calls the runtime), ``from .X import _y`` and ``X._y`` on a sibling module ``X`` are what
a private name used across modules looks like; a module that another imports lazily (inside a
function, as ``_boot`` imports the cold path and the tools) must not import from that module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "exearchive"
RUNTIME = SRC / "runtime"
RUNTIME_MODULES = {path.stem for path in RUNTIME.glob("*.py")}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _runtime_module(node: ast.ImportFrom, in_runtime: bool) -> str | None:
    """The runtime module an import names (``""`` for the package itself), or None for anything else."""
    if in_runtime and node.level == 1:
        return node.module or ""
    if not in_runtime and node.level == 2 and (node.module or "").split(".")[0] == "runtime":
        return (node.module or "").partition(".")[2]
    return None


def _violations(path: Path, in_runtime: bool | None = None) -> list[str]:
    in_runtime = path.parent == RUNTIME if in_runtime is None else in_runtime
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    modules = set()  # names bound to runtime modules
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        module = _runtime_module(node, in_runtime)
        if module is None:
            continue
        for alias in node.names:
            if module == "" and alias.name in RUNTIME_MODULES:
                modules.add(alias.asname or alias.name)  # a module of the package: private by convention
            elif _private(alias.name):
                found.append(f"{path.name}:{node.lineno} imports {alias.name} from .{module}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and _private(node.attr)
        ):
            found.append(f"{path.name}:{node.lineno} uses {node.value.id}.{node.attr}")
    return found


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """The sibling runtime modules a runtime module imports: ``(at import time, inside functions)``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    lazy: set[str] = set()
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom):
                    lazy |= _named(node)
    every: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            every |= _named(node)
    return every - lazy, lazy


def _named(node: ast.ImportFrom) -> set[str]:
    module = _runtime_module(node, True)
    if module is None:
        return set()
    if module:
        return {module}
    return {alias.name for alias in node.names if alias.name in RUNTIME_MODULES}


@pytest.mark.parametrize(
    "path",
    sorted(RUNTIME.glob("*.py")) + sorted((SRC / "_cli").glob("*.py")),
    ids=lambda path: f"{path.parent.name}/{path.name}",
)
def test_no_private_name_crosses_a_module_boundary(path: Path) -> None:
    assert _violations(path) == []


def test_no_runtime_module_imports_back_from_a_module_that_imports_it_lazily() -> None:
    imports = {path.stem: _imports(path) for path in RUNTIME.glob("*.py")}
    back = [
        f"{importer} imports {imported} lazily, and {imported} imports from {importer}"
        for importer, (_eager, lazy) in sorted(imports.items())
        for imported in sorted(lazy)
        if imported in imports and importer in imports[imported][0] | imports[imported][1]
    ]
    assert back == []
    assert "_boot" in imports and imports["_boot"][1] >= {"_extract", "_tools", "_interpreter"}  # what it checks


def test_the_check_finds_a_private_name(tmp_path: Path) -> None:
    module = tmp_path / "_probe.py"
    module.write_text("from ._boot import _hold\nfrom . import _extract\n\n\ndef f():\n    return _extract._x\n")
    assert _violations(module, in_runtime=True) == [
        "_probe.py:1 imports _hold from ._boot",
        "_probe.py:6 uses _extract._x",
    ]
    command = tmp_path / "_command.py"
    command.write_text("from ..runtime import _tools\nfrom ..runtime._boot import _x\n\n_tools._days\n")
    assert _violations(command, in_runtime=False) == [
        "_command.py:2 imports _x from ._boot",
        "_command.py:4 uses _tools._days",
    ]
