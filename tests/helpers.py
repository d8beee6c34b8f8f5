"""Shared helpers for the tests: building sample projects and running archives."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_projects"
TESTS = ROOT / "tests"
APPS = ["hello", "greetcli", "legacy", "cext", "nsapp", "multitool", "markerapp"]
LIBRARIES = ["greetlib", "nsplugin", "shimlib", "needshim", "fullver", "plainscripts"]


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a subprocess, without anything that leaks in from ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXEARCHIVE_", "PYTHON", "PIP_", "VIRTUAL_ENV"))}
    # builds share the session's build cache (conftest.py), never the user's
    if "EXEARCHIVE_BUILD_CACHE" in os.environ:
        env["EXEARCHIVE_BUILD_CACHE"] = os.environ["EXEARCHIVE_BUILD_CACHE"]
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # A refused interpreter would otherwise look on PATH for one that fits and run the archive with it;
    # tests of that (test_launcher_reexec.py) turn it on.
    env["EXEARCHIVE_REEXEC"] = "0"
    env.update(extra or {})
    return env


def offline_env(wheelhouse: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment in which pip installs only from ``wheelhouse``."""
    env = clean_env({"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse), "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    env.update(extra or {})
    return env


def run(command: Sequence[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command, capture text output, do not raise."""
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload,no-any-return]


def check(command: Sequence[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command and fail the test with its output if it fails."""
    result = run(command, **kwargs)
    if result.returncode != 0:
        raise AssertionError(
            f"command failed ({result.returncode}): {' '.join(map(str, command))}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


@dataclass
class Build:
    """The result of ``python -m build`` of a project."""

    returncode: int
    output: str
    dist: Path

    def archive(self) -> Path:
        archives = sorted(self.dist.glob("*.pyz"))
        assert len(archives) == 1, f"expected one archive in {self.dist}: {archives}\n{self.output}"
        return archives[0]

    def one(self, pattern: str) -> Path:
        found = sorted(self.dist.glob(pattern))
        assert len(found) == 1, f"expected one {pattern} in {self.dist}: {found}\n{self.output}"
        return found[0]


def build_project(
    project: Path,
    dist: Path,
    wheelhouse: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
) -> Build:
    """``python -m build`` (isolated, sdist then wheel from it) with only the wheelhouse as index.

    The project is copied first, so that setuptools' build output never lands in the repository.
    """
    copy = dist.parent / "src" / project.name
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    result = run(
        [sys.executable, "-m", "build", "--outdir", str(dist), *args, str(copy)],
        env=offline_env(wheelhouse, env),
        cwd=str(dist.parent),
    )
    return Build(result.returncode, result.stdout + result.stderr, dist)


def hook_build(
    project: Path,
    dist: Path,
    wheelhouse: Path,
    settings: dict[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Build:
    """``build_wheel`` of ``project`` into ``dist`` through pyproject-hooks, in this environment (not isolated).

    For cases whose check an isolated build adds nothing to (config errors,
    settings): several times faster than :func:`build_project`.  ``output``
    is the hook's stdout and stderr; pip finds only ``wheelhouse``; ``env``
    adds variables to the hook's environment.
    """
    from pyproject_hooks import BuildBackendHookCaller

    captured: list[subprocess.CompletedProcess[str]] = []

    def runner(cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None) -> None:
        environ = offline_env(wheelhouse, {**(env or {}), **(extra_environ or {})})
        done = subprocess.run(list(cmd), cwd=cwd, env=environ, capture_output=True, text=True, check=False)
        captured.append(done)
        if done.returncode:
            raise subprocess.CalledProcessError(done.returncode, list(cmd))

    dist.mkdir(parents=True, exist_ok=True)
    hooks = BuildBackendHookCaller(str(project), "exearchive.backend", python_executable=sys.executable, runner=runner)
    try:
        hooks.build_wheel(str(dist), settings)
        code = 0
    except subprocess.CalledProcessError as error:
        code = error.returncode
    return Build(code, "".join(done.stdout + done.stderr for done in captured), dist)


def run_archive(
    archive: Path,
    *args: str,
    root: Path,
    env: Mapping[str, str] | None = None,
    python: str | None = sys.executable,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run an archive with its own cache root: ``python ARCHIVE ARGS`` (or directly if python is None)."""
    command = [str(archive), *args] if python is None else [python, str(archive), *args]
    full_env = clean_env({"EXEARCHIVE_ROOT": str(root)})
    full_env.update(env or {})
    return run(command, env=full_env, cwd=str(cwd or archive.parent))


def expected_runs(app: str) -> list[dict[str, object]]:
    """The runs a sample app documents in its expected.json."""
    runs: list[dict[str, object]] = json.loads((SAMPLES / app / "expected.json").read_text())
    return runs


RUNTIME = ROOT / "src" / "exearchive" / "runtime"
RUNTIME_PACKAGE = "_exearchive_runtime_under_test"


def load_runtime(module: str) -> types.ModuleType:
    """A module of the launcher runtime, imported from the sources as the archive imports its copy.

    The package is loaded by path under its own name, without the ``exearchive``
    package: the runtime must work alone.
    """
    if RUNTIME_PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            RUNTIME_PACKAGE, RUNTIME / "__init__.py", submodule_search_locations=[str(RUNTIME)]
        )
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules[RUNTIME_PACKAGE] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"{RUNTIME_PACKAGE}.{module}")


# Run by another interpreter as ``python -c RUNTIME_LOADER RUNTIME_DIR``: defines load(module) the same way.
RUNTIME_LOADER = """
import importlib, importlib.util, sys
def load(module, _name="_exearchive_runtime_under_test"):
    if _name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            _name, sys.argv[1] + "/__init__.py", submodule_search_locations=[sys.argv[1]]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[_name] = package
        spec.loader.exec_module(package)
    return importlib.import_module(_name + "." + module)
"""
