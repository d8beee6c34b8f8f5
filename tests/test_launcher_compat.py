"""Interpreters: the compatibility check comes first, archives run on every interpreter, bytecode is used."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers import ROOT, Build, expected_runs, run_archive
from launcher_support import (
    OLD_PYTHONS,
    OTHER_PYTHONS,
    entries,
    launcher_env,
    one_line_error,
    python_or_skip,
    read_manifest,
    rewrite_archive,
    run_python,
)

# --------------------------------------------------------------------------
# 6. the check comes before anything is written


def _needs(archive: Path, target: Path, needs: dict[str, Any]) -> Path:
    def edit(manifest: dict[str, Any]) -> None:
        manifest["needs"] = needs

    rewrite_archive(archive, target, edit_manifest=edit)
    return target


@pytest.mark.parametrize(
    ("needs", "message"),
    [
        (
            {"requires_python": [{"spec": ">=99", "by": "hello 1.0"}]},
            "this archive needs Python >=99 (requires-python of hello 1.0) but this is CPython ",
        ),
        (
            {"native": [{"dist": "fastthing 1.0", "tags": ["cp311-cp311-win_amd64"]}]},
            "this archive holds native code built for cp311-cp311-win_amd64 (fastthing 1.0) but this interpreter is ",
        ),
        (
            {"markers": [{"marker": 'os_name == "posix"', "outcome": False, "requirement": "pwd2", "by": "hello 1.0"}]},
            'this archive needs pwd2 (hello 1.0 requires it where os_name == "posix"), which it does not carry; ',
        ),
    ],
    ids=["requires-python", "native-tags", "markers"],
)
def test_incompatible_interpreter_gets_one_sentence_and_nothing_is_written(
    needs: dict[str, Any], message: str, build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    archive = _needs(build_sample("hello").archive(), tmp_path / "hello-1.0.pyz", needs)
    root = tmp_path / "cache"
    for python in [sys.executable, *(p for p in OTHER_PYTHONS.values() if Path(p).exists())][:3]:
        result = run_python(python, archive, "x", env=launcher_env(root))
        line = one_line_error(result)
        assert line.startswith("hello-1.0.pyz: error: " + message), line
        assert result.stdout == ""
        assert not root.exists() or list(root.iterdir()) == []
    # also with the default root
    xdg = tmp_path / "xdg"
    result = run_python(sys.executable, archive, "x", env=launcher_env(None, {"XDG_CACHE_HOME": str(xdg)}))
    one_line_error(result)
    assert not (xdg / "exearchive").exists()


def test_check_passes_on_a_matching_interpreter(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = _needs(
        build_sample("hello").archive(),
        tmp_path / "hello-1.0.pyz",
        {
            "requires_python": [{"spec": ">=3.8", "by": "hello 1.0"}],
            "markers": [{"marker": 'os_name == "nt"', "outcome": False, "requirement": "pywin32", "by": "hello 1.0"}],
            "environment": {"python_version": "2.7"},  # from an archive made before markers were recorded: ignored
        },
    )
    result = run_archive(archive, "x", root=tmp_path / "cache", env={"EXEARCHIVE_VERBOSE": "1"})
    assert result.returncode == 0, result.stderr
    assert "] compatibility check passed" in result.stderr


# --------------------------------------------------------------------------
# 6/11. every interpreter runs the pure archives built here (on the build interpreter)

INTERPRETERS = ["3.8", "3.9", "3.10", "3.12", "3.13", "pypy3"]


@pytest.mark.parametrize("app", ["hello", "greetcli"])
@pytest.mark.parametrize("name", INTERPRETERS)
def test_sample_runs_on_every_interpreter(
    name: str, app: str, build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    python = python_or_skip(name)
    archive = build_sample(app).archive()
    root = tmp_path / "cache"
    for case in expected_runs(app):
        env = launcher_env(root, case["env"])  # type: ignore[arg-type]
        result = run_python(python, archive, *case["args"], env=env)  # type: ignore[misc]
        assert (result.stdout, result.returncode) == (case["stdout"], case["returncode"]), result.stderr
        assert "Traceback" not in result.stderr
    [entry] = entries(root)
    assert len(list((entry / ".exearchive").glob("ready-*"))) == 1


# --------------------------------------------------------------------------
# 9. bytecode: a warm start compiles nothing

_CODE_FROM = re.compile(r"^# code object from '?(.*?)'?$")


def _loaded_code(python: str, archive: Path, root: Path, *args: str) -> dict[str, str]:
    """Run a warm start with ``-v`` and no bytecode writing; module file -> where its code came from."""
    env = launcher_env(root, {"PYTHONDONTWRITEBYTECODE": "1"})
    result = subprocess.run([python, "-v", str(archive), *args], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = {}
    for line in result.stderr.splitlines():
        match = _CODE_FROM.match(line)
        if match and match.group(1).startswith(str(root)):
            loaded[match.group(1)] = "pyc" if match.group(1).endswith(".pyc") else "source"
    return loaded


@pytest.mark.parametrize(
    ("first", "then"),
    [("build", "build"), ("3.12", "3.12"), ("build", "3.12"), ("3.12", "build"), ("build", "3.8"), ("build", "pypy3")],
    ids=["build", "other", "build-then-other", "other-then-build", "build-then-3.8", "build-then-pypy"],
)
def test_warm_start_uses_bytecode_for_every_app_module(
    first: str, then: str, build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    pythons = {"build": sys.executable}
    for name in {first, then} - {"build"}:
        pythons[name] = python_or_skip(name)
    archive = build_sample("greetcli").archive()
    root = tmp_path / "cache"
    # the first start on each interpreter makes the entry ready for it
    for name in (first, then):
        assert run_python(pythons[name], archive, "World", env=launcher_env(root)).returncode == 0
    loaded = _loaded_code(pythons[then], archive, root, "World", "--style", "shout")
    assert loaded, "no module of the app was imported from the cache entry"
    # the app, its dependency and its plugin: each loaded from a pyc, none compiled from source
    modules = {Path(p).name.split(".")[0] for p in loaded}
    assert {"__init__", "__main__", "styles"} <= modules
    assert {p: k for p, k in loaded.items() if k != "pyc"} == {}


_LOADED = re.compile(r"^import '?(_exearchive_runtime[\w.]*)'? # (.*)$")


def _launcher_origins(python: str, archive: Path, root: Path) -> dict[str, str]:
    """Run a warm start with ``-v`` and no bytecode writing; launcher module -> how it was loaded."""
    env = launcher_env(root, {"PYTHONDONTWRITEBYTECODE": "1"})
    result = subprocess.run([python, "-v", str(archive), "World"], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    origins = {}
    compiled_from = {}
    for line in result.stderr.splitlines():
        code = _CODE_FROM.match(line)
        if code:
            compiled_from[Path(code.group(1)).name.split(".")[0]] = code.group(1)
        loaded = _LOADED.match(line)
        if loaded:
            name = loaded.group(1)
            short = name.rpartition(".")[2]
            origins[name] = compiled_from.get(short, "") if "SourceFileLoader" in loaded.group(2) else "archive"
    return origins


@pytest.mark.parametrize("other", ["3.12", "3.8", "pypy3"])
def test_other_interpreter_runs_the_launcher_from_a_compiled_copy(
    other: str, build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    python = python_or_skip(other)
    archive = build_sample("greetcli").archive()
    root = tmp_path / "cache"
    # the build interpreter uses the launcher bytecode in the archive: no copy
    assert run_python(sys.executable, archive, "World", env=launcher_env(root)).returncode == 0
    [entry] = entries(root)
    assert not list((entry / ".exearchive").glob("launcher-*"))
    # the first start on another interpreter leaves a copy compiled for it, marked ready last
    assert run_python(python, archive, "World", env=launcher_env(root)).returncode == 0
    [copy] = (entry / ".exearchive").glob("launcher-*")
    assert copy.name == "launcher-" + read_manifest(archive)["launcher"]
    # what a warm start imports after the package: the rest of the launcher runs once, from the archive
    copied = ["_boot.py", "_interpreter.py"]
    assert sorted(p.name for p in copy.glob("*.py")) == copied
    assert all(
        (ROOT / "src" / "exearchive" / "runtime" / name).read_bytes() == (copy / name).read_bytes() for name in copied
    )
    [ready] = copy.glob("ready-*")
    pycs = list((copy / "__pycache__").glob("*.pyc"))
    assert len(pycs) == len(copied)
    assert all(p.stat().st_mtime_ns <= ready.stat().st_mtime_ns for p in pycs)
    assert not list((entry / ".exearchive").glob(".tmp-*"))
    # warm: the launcher's modules come from the copy's bytecode; only the package itself is compiled
    origins = _launcher_origins(python, archive, root)
    assert origins["_exearchive_runtime"] == "archive"
    [boot_pyc] = (copy / "__pycache__").glob("_boot.*.pyc")
    assert origins["_exearchive_runtime._boot"] == str(boot_pyc)
    assert set(origins) == {"_exearchive_runtime", "_exearchive_runtime._boot"}


def test_a_damaged_launcher_copy_is_not_trusted_or_is_completed(
    build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    python = python_or_skip("3.12")
    archive = build_sample("greetcli").archive()
    root = tmp_path / "cache"
    env = launcher_env(root, {"PYTHONDONTWRITEBYTECODE": "1"})
    expected = run_python(python, archive, "World", env=env)
    assert expected.returncode == 0, expected.stderr
    [entry] = entries(root)
    [copy] = (entry / ".exearchive").glob("launcher-*")
    # a file gone from a trusted copy: the archive's own module stands in
    (copy / "_boot.py").unlink()
    assert run_python(python, archive, "World", env=env).stdout == expected.stdout
    # no ready marker (a start killed while compiling): not used, completed by the next start
    [ready] = copy.glob("ready-*")
    ready.unlink()
    for pyc in (copy / "__pycache__").glob("_interpreter.*"):
        pyc.unlink()
    assert run_python(python, archive, "World", env=env).stdout == expected.stdout
    assert ready.exists() and list((copy / "__pycache__").glob("_interpreter.*.pyc"))
    # a start killed while writing the copy left only its temp directory: the next one cleans it up
    tmp = copy.parent / ".tmp-launcher-999999999-deadbeef"
    copy.rename(tmp)
    old = time.time() - 3600  # it holds no lock file: removed once older than the grace age
    os.utime(tmp, (old, old))
    assert run_python(python, archive, "World", env=env).stdout == expected.stdout
    assert ready.exists() and (copy / "_boot.py").exists()
    assert not list(copy.parent.glob(".tmp-*"))
    # (a read-only cache without the copy: test_read_only_root_holding_the_entry_runs_without_writing)


def test_simultaneous_first_starts_on_another_interpreter_make_one_copy(
    build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    python = python_or_skip("3.12")
    archive = build_sample("greetcli").archive()
    root = tmp_path / "cache"
    # the entry exists (made by the build interpreter); 16 starts on 3.12 race to make it ready and copy the launcher
    assert run_python(sys.executable, archive, "World", env=launcher_env(root)).returncode == 0
    env = launcher_env(root)
    processes = [
        subprocess.Popen(
            [python, str(archive), "World"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(16)
    ]
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        assert (stdout, process.returncode) == ("Greetings, World!\n", 0), stderr
        # a start that waits more than a second for another's lock says so, once; nothing else
        assert all(line.startswith("exearchive: waiting for pid ") for line in stderr.splitlines()), stderr
    [entry] = entries(root)
    state = entry / ".exearchive"
    [copy] = state.glob("launcher-*")
    [ready] = copy.glob("ready-*")
    assert sorted(p.name for p in copy.iterdir()) == sorted(["__pycache__", "_boot.py", "_interpreter.py", ready.name])
    assert not list(state.glob(".tmp-*"))
    [boot_pyc] = (copy / "__pycache__").glob("_boot.*.pyc")
    assert _launcher_origins(python, archive, root)["_exearchive_runtime._boot"] == str(boot_pyc)


# --------------------------------------------------------------------------
# interpreters older than the launcher's oldest (3.8): one line, nothing written

OLD = ["2.7", "3.6", "3.7"]


def _old_version(python: str) -> str:
    result = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True)
    return result.stdout.strip()


@pytest.mark.parametrize("name", OLD)
def test_too_old_interpreter_gets_one_line_and_nothing_is_written(
    name: str, build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    python = python_or_skip(name)
    version = _old_version(python)
    built = build_sample("greetcli").archive()
    # started by the interpreter, and by the #! line naming it
    direct = tmp_path / "greetcli.pyz"
    data = built.read_bytes()
    direct.write_bytes(b"#!" + python.encode() + data[data.index(b"\n") :])
    direct.chmod(0o755)
    root = tmp_path / "cache"
    xdg = tmp_path / "xdg"
    env = launcher_env(root, {"XDG_CACHE_HOME": str(xdg), "EXEARCHIVE_VERBOSE": "1"})
    for command, shown in (([python, str(built)], str(built)), ([str(direct), "World"], str(direct))):
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=str(tmp_path))
        line = one_line_error(result)
        assert result.returncode == 1
        assert line == (
            f"{Path(shown).name}: error: this archive needs Python 3.8 or newer; this is Python {version} at "
            f"{python}; run it with a newer interpreter, e.g. python3.8 {shown}"
        )
        assert result.stdout == ""
    assert not root.exists() and not xdg.exists()


def test_main_parses_and_refuses_on_old_interpreters_whatever_the_manifest_holds(tmp_path: Path) -> None:
    from exearchive.backend._pack import main_source

    manifest = {
        "name": "caf\u00e9-\u4e2d\u6587-\U0001f600",
        "long": "x" * 100_000,
        "flags": [True, False, None],
        "numbers": [0, -1, 2**70],
        "nested": {"quote'\"": "back\\slash\nnewline\ttab\x00"},
        "launcher_pyc": "none-such",
    }
    source = main_source(manifest, "0.0")
    assert source.isascii()
    namespace: dict[str, Any] = {"__name__": "not main"}
    exec(compile(source, "__main__.py", "exec"), namespace)
    assert namespace["MANIFEST"] == manifest
    script = tmp_path / "__main__.py"
    script.write_text(source)
    for name in OLD:
        python = OLD_PYTHONS[name]
        if not Path(python).exists():
            continue
        result = subprocess.run([python, str(script)], capture_output=True, text=True, check=False, cwd=str(tmp_path))
        line = one_line_error(result)
        assert line.startswith("__main__.py: error: this archive needs Python 3.8 or newer; this is Python "), line
        assert result.returncode == 1
