"""The app's environment: isolated from the host by default, .pth files run, child processes see the packages."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import Build, expected_runs, run_archive
from launcher_support import launcher_env

PROBE = """
import importlib.util, json, sys
names = ["hello", "from_pythonpath", "from_site", "pth_imported_mod"]
found = {n: importlib.util.find_spec(n) is not None for n in names}
found["pth_loaded"] = "pth_imported_mod" in sys.modules
print(json.dumps(found))
"""
NOTHING = {"hello": False, "from_pythonpath": False, "from_site": False, "pth_imported_mod": False, "pth_loaded": False}


@pytest.fixture(params=["venv", "user-site"])
def host(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """An interpreter and environment whose site dir (a venv's, or the user site) and PYTHONPATH hold
    modules the archive's app must not see, and a .pth file that imports one at start-up (as
    _distutils_hack and coverage do)."""
    pythonpath = tmp_path / "pythonpath"
    pythonpath.mkdir()
    (pythonpath / "from_pythonpath.py").write_text("")
    env = {"PYTHONPATH": str(pythonpath)}
    if request.param == "venv":
        venv = tmp_path / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        query = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        site_dir = Path(
            subprocess.run([python, "-c", query], capture_output=True, text=True, check=True).stdout.strip()
        )
    else:  # venvs have no user site: use the base interpreter
        python = getattr(sys, "_base_executable", None) or sys.executable
        userbase = tmp_path / "userbase"
        query = "import site; print(site.getusersitepackages())"
        env["PYTHONUSERBASE"] = str(userbase)
        site_dir = Path(
            subprocess.run(
                [python, "-c", query], env=launcher_env(None, env), capture_output=True, text=True, check=True
            ).stdout.strip()
        )
        assert site_dir.is_relative_to(userbase)
        site_dir.mkdir(parents=True)
    (site_dir / "from_site.py").write_text("")
    (site_dir / "pth_imported_mod.py").write_text("")
    (site_dir / "host_hook.pth").write_text("import pth_imported_mod\n")
    return [python], env


def test_host_paths_are_not_visible_by_default(
    build_sample: Callable[[str], Build], tmp_path: Path, host: tuple[list[str], dict[str, str]]
) -> None:
    archive = build_sample("hello").archive()
    python, host_env = host

    def probe(*args: str, **extra: str) -> dict[str, bool]:
        env = launcher_env(tmp_path / "cache", {**host_env, **extra})
        result = subprocess.run([*python, *args, "-c", PROBE], env=env, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        found: dict[str, bool] = json.loads(result.stdout)
        return found

    # the same interpreter without the archive sees all of them: the test is not vacuous
    everything = {**{k: True for k in NOTHING}, "hello": False}
    assert probe() == everything
    interpreter = {"EXEARCHIVE_INTERPRETER": "1"}
    assert probe(str(archive), **interpreter) == {**NOTHING, "hello": True}
    inherited = probe(str(archive), EXEARCHIVE_INHERIT_PATH="1", **interpreter)
    assert inherited == {**everything, "hello": True}


def test_archive_packages_come_before_the_hosts_when_inheriting(
    build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    archive = build_sample("hello").archive()
    shadow = tmp_path / "shadow" / "hello"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise SystemExit('the host copy of hello was imported')\n")
    for inherit in ("", "1"):
        env = {"PYTHONPATH": str(shadow.parent), "EXEARCHIVE_INHERIT_PATH": inherit}
        result = run_archive(archive, "x", root=tmp_path / "cache", env=env)
        assert (result.returncode, result.stdout.splitlines()[0]) == (0, "Hello from hello 1.0!"), result.stderr


def test_pth_files_of_the_payload_are_processed(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("nsapp").archive()
    root = tmp_path / "cache"
    for case in expected_runs("nsapp"):
        result = run_archive(archive, *case["args"], root=root, env=case["env"])  # type: ignore[arg-type,misc]
        assert (result.stdout, result.returncode) == (case["stdout"], case["returncode"]), result.stderr
    # in interpreter mode too
    code = "import os, acme.plugin; print(os.environ.get('ACME_PTH_LOADED'))"
    result = run_archive(archive, "-c", code, root=root, env={"EXEARCHIVE_INTERPRETER": "1"})
    assert result.stdout == "1\n", result.stderr


@pytest.mark.parametrize("index", range(len(expected_runs("spawner"))))
def test_child_processes_see_the_archive_packages(
    index: int, build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    archive = build_sample("spawner").archive()
    case = expected_runs("spawner")[index]
    result = run_archive(archive, *case["args"], root=tmp_path / "cache", env=case["env"])  # type: ignore[arg-type,misc]
    assert (result.stdout, result.returncode) == (case["stdout"], case["returncode"]), result.stderr


def test_child_processes_of_a_module_entry_point(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    """With ``module`` as entry point, multiprocessing re-imports the main module in its workers."""
    archive = build_sample("spawner").archive()
    result = run_archive(archive, root=tmp_path / "cache", env={"EXEARCHIVE_ENTRY_POINT": "spawner.cli"})
    assert result.stdout == expected_runs("spawner")[0]["stdout"], result.stderr
    assert result.returncode == 0
