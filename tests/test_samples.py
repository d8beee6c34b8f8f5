"""End to end: every sample app, built with ``python -m build``, runs from its archive."""

from __future__ import annotations

import ast
import json
import os
import re
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from exearchive.backend import _launcher
from helpers import APPS, ROOT, Build, clean_env, expected_runs, run, run_archive


def _cases() -> list[tuple[str, int]]:
    return [(app, index) for app in APPS for index in range(len(expected_runs(app)))]


@pytest.mark.parametrize(("app", "index"), _cases(), ids=[f"{a}-{i}" for a, i in _cases()])
def test_sample_runs_as_documented(app: str, index: int, build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample(app).archive()
    case = expected_runs(app)[index]
    result = run_archive(archive, *case["args"], root=tmp_path / "cache", env=case["env"])  # type: ignore[arg-type,misc]
    assert (result.stdout, result.returncode) == (case["stdout"], case["returncode"]), result.stderr


@pytest.mark.parametrize("app", APPS)
def test_build_leaves_sdist_wheel_and_archive(app: str, build_sample: Callable[[str], Build]) -> None:
    build = build_sample(app)
    sdist = build.one("*.tar.gz")
    wheel = build.one("*.whl")
    archive = build.archive()
    stem = wheel.name.split("-")
    assert sdist.name.startswith(f"{stem[0]}-{stem[1]}.tar.gz".split(".tar")[0])
    pure = wheel.name.endswith("-none-any.whl")
    if pure:
        assert archive.name == f"{stem[0]}-{stem[1]}.pyz"
    else:
        # named like the wheel, plus the interpreter and platform of its native code
        assert archive.name == f"{stem[0]}-{stem[1]}-{stem[2]}-{stem[4][: -len('.whl')]}.pyz"
    assert os.access(archive, os.X_OK)
    with archive.open("rb") as handle:
        assert handle.readline() == b"#!/usr/bin/env python3\n"


def test_archive_runs_directly_through_its_shebang(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("hello").archive()
    result = run_archive(archive, "x", root=tmp_path / "cache", python=None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["Hello from hello 1.0!", "argv: x"]


def test_archive_outer_zip_is_small_and_payload_is_stored(build_sample: Callable[[str], Build]) -> None:
    with zipfile.ZipFile(build_sample("greetcli").archive()) as archive:
        names = archive.namelist()
        payload = archive.getinfo("__exearchive__/payload.zip")
        manifest = json.loads(archive.read("__exearchive__/manifest.json"))
        stored = {i.filename for i in archive.infolist() if i.compress_type == zipfile.ZIP_STORED}
    # the outer central directory holds only the launcher and the manifest, whatever the payload
    runtime = sorted(p.name for p in (ROOT / "src" / "exearchive" / "runtime").glob("*.py"))
    launcher = ["__main__.py", *(f"_exearchive_runtime/{name}" for name in runtime)]
    # bytecode for what a start imports (test_launcher_bytecode_covers_what_a_start_imports), not the tools'
    bytecode = {name + "c" for name in launcher if name in _launcher.BYTECODE}
    assert "_exearchive_runtime/_tools.pyc" not in bytecode
    expected = {*launcher, *bytecode, "__exearchive__/manifest.json", payload.filename}
    assert set(names) == expected
    assert payload.compress_type == zipfile.ZIP_STORED
    # what a warm start reads from the archive is stored, so zipimport needs neither zlib nor inflating:
    # the bytecode on the build interpreter, the two sources that it compiles on any other
    warm = {"__main__.pyc", "_exearchive_runtime/__init__.pyc", "_exearchive_runtime/_boot.pyc"}
    assert stored == {payload.filename, *warm, "__main__.py", "_exearchive_runtime/__init__.py"}
    assert manifest["launcher_pyc"] == sys.implementation.cache_tag
    assert len(manifest["launcher"]) == 32
    assert manifest["name"] == "greetcli"
    assert manifest["entry_point"] == "greetcli.__main__:main"
    assert {d["name"] for d in manifest["distributions"]} == {"greetcli", "greetlib"}


def test_cache_entry_is_extracted_once_and_complete(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("legacy").archive()
    root = tmp_path / "cache"
    first = run_archive(archive, root=root)
    assert first.returncode == 0, first.stderr
    entries = [p for p in root.iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1
    entry = entries[0]
    assert (entry / ".exearchive" / "complete").is_file()
    assert (entry / "site-packages" / "legacy_report" / "templates" / "report.txt").is_file()
    assert not [p for p in root.iterdir() if p.name.startswith((".tmp-", ".trash-"))]
    before = entry.stat().st_ino
    second = run_archive(archive, root=root, env={"EXEARCHIVE_VERBOSE": "1"})
    assert second.stdout == first.stdout
    # a warm start: the trace says so, nothing was extracted, the entry is the same directory
    assert f"] warm: {entry}\n" in second.stderr and "] extracted " not in second.stderr, second.stderr
    assert entry.stat().st_ino == before
    assert oct(root.stat().st_mode & 0o777) == oct(0o700)


def test_launcher_ships_bytecode_that_zipimport_uses(build_sample: Callable[[str], Build]) -> None:
    archive = build_sample("hello").archive()
    with zipfile.ZipFile(archive) as handle:
        names = set(handle.namelist())
    assert {"__main__.pyc", "_exearchive_runtime/_boot.pyc"} <= names
    # compiled from source, the code would name the file by its full path inside the archive
    code = (
        "import sys, zipimport; z = zipimport.zipimporter(sys.argv[1] + '/_exearchive_runtime/'); "
        "print(z.get_code('_boot').co_filename)"
    )
    result = run([sys.executable, "-c", code, str(archive)])
    assert result.stdout.strip() == "_exearchive_runtime/_boot.py", result.stderr
    main = "import sys, zipimport; print(zipimport.zipimporter(sys.argv[1]).get_code('__main__').co_filename)"
    result = run([sys.executable, "-c", main, str(archive)])
    assert result.stdout.strip() == "__main__.py", result.stderr


_IMPORTED = re.compile(r"^import '(_exearchive_runtime(?:\.\w+)?)' # <zipimporter", re.MULTILINE)


def test_launcher_bytecode_covers_what_a_start_imports(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("hello").archive()
    with zipfile.ZipFile(archive) as handle:
        names = set(handle.namelist())
        boot_source = handle.read("_exearchive_runtime/_boot.py")
        boot_code = handle.read("_exearchive_runtime/_boot.pyc")
    env = clean_env({"EXEARCHIVE_ROOT": str(tmp_path / "cache")})
    imported = set()
    for start in ("cold", "warm"):
        result = run([sys.executable, "-v", archive], env=env)
        assert result.returncode == 0, (start, result.stderr[-2000:])
        imported |= set(_IMPORTED.findall(result.stderr))
    assert {"_exearchive_runtime._boot", "_exearchive_runtime._extract"} <= imported
    # every launcher module a cold or a warm start imports from the archive is loaded from its bytecode
    modules = {m.replace(".", "/") + ("/__init__" if m == "_exearchive_runtime" else "") for m in imported}
    assert sorted(m for m in modules if m + ".pyc" not in names) == []
    # the rest (the tools) is compiled from its source when asked for
    assert "_exearchive_runtime/_tools.pyc" not in names
    tools = run([sys.executable, archive, "info"], env={**env, "EXEARCHIVE_TOOLS": "1"})
    assert tools.returncode == 0 and "Traceback" not in tools.stderr, tools.stderr
    # the shipped bytecode holds no docstrings; the sources keep theirs
    docstring = ast.get_docstring(ast.parse(boot_source))
    assert docstring is not None
    first = docstring.splitlines()[0].encode()
    assert first in boot_source and first not in boot_code
