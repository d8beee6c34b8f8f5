"""An app that dies of an ImportError or SyntaxError from its cache entry's files gets one line of advice."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import Build, run_archive
from launcher_support import read_manifest

_GREETLIB = Path("site-packages", "greetlib")


def _zero_marshal_data(site: Path) -> None:
    for pyc in (site / _GREETLIB / "__pycache__").glob("__init__.*.pyc"):
        data = bytearray(pyc.read_bytes())
        data[20:60] = bytes(40)
        pyc.write_bytes(bytes(data))


def _delete_package(site: Path) -> None:
    shutil.rmtree(site / _GREETLIB)


def _break_source(site: Path) -> None:
    shutil.rmtree(site / _GREETLIB / "__pycache__")
    (site / _GREETLIB / "__init__.py").write_text("def greet(:\n")


def _import_undeclared(site: Path) -> None:  # the app's own bug: not damage
    shutil.rmtree(site / _GREETLIB / "__pycache__")
    (site / _GREETLIB / "__init__.py").write_text("import nosuch_dependency\n")


@pytest.mark.parametrize(
    ("damage", "error", "advice"),
    [
        (_zero_marshal_data, "ValueError: bad marshal data", "a bytecode file of the app cannot be loaded; "),
        (_delete_package, "ModuleNotFoundError: No module named 'greetlib'", "the archive holds the module greetlib "),
        (_break_source, "SyntaxError: ", "site-packages/greetlib/__init__.py is in the cache entry "),
        (_import_undeclared, "ModuleNotFoundError: No module named 'nosuch_dependency'", None),
    ],
)
def test_damage_in_the_entry_gets_the_repair_command(
    damage: Callable[[Path], None],
    error: str,
    advice: str | None,
    build_sample: Callable[[str], Build],
    tmp_path: Path,
) -> None:
    archive = build_sample("greetcli").archive()
    root = tmp_path / "root"
    assert run_archive(archive, "World", root=root).returncode == 0
    entry = root / read_manifest(archive)["id"]
    damage(entry)
    ran = run_archive(archive, "World", root=root)
    assert ran.returncode == 1, ran.stderr
    lines = ran.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):", ran.stderr  # the app's traceback is kept
    last = lines[-1] if advice is None else lines[-2]
    assert last.startswith(error), ran.stderr
    if advice is None:
        assert "verify --repair" not in ran.stderr
        return
    assert lines[-1].startswith(f"{archive.name}: {advice}"), ran.stderr
    assert lines[-1].endswith(f"; check and repair it with: EXEARCHIVE_TOOLS=1 {archive} verify --repair")
    assert str(entry) in lines[-1]
    repaired = run_archive(archive, "verify", "--repair", root=root, env={"EXEARCHIVE_TOOLS": "1"})
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert run_archive(archive, "World", root=root).returncode == 0
