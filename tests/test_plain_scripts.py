"""Plain scripts (files a distribution installs into bin/, like awscli 1.x's ``aws``) as entry points."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cli_support import cli_env, copy_sample, exearchive, read_manifest, succeeded
from cli_support import one_line_error as command_error
from helpers import Build, build_project, check, clean_env, offline_env, run_archive
from launcher_support import entries, python_or_skip, run_python

REPORT = "ps-report"


def _app(work: Path, entry_point: str) -> Path:
    """A copy of the hello sample that depends on plainscripts and runs ``entry_point``."""
    project = copy_sample("hello", work)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace(
        "\n[project.scripts]", '\ndependencies = ["plainscripts"]\n\n[project.scripts]'
    )
    pyproject.write_text(text + f'\n[tool.exearchive]\nentry-point = "{entry_point}"\n')
    return project


@pytest.fixture(scope="module")
def script_app(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Build:
    """An app whose entry point (the ``entry-point`` key) is a dependency's plain Python script."""
    work = tmp_path_factory.mktemp("script-app")
    build = build_project(_app(work, REPORT), work / "dist", wheelhouse)
    assert build.returncode == 0, build.output
    return build


@pytest.fixture(scope="module")
def hello_wheel(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    sources = tmp_path_factory.mktemp("hello-source")
    house = tmp_path_factory.mktemp("hello-wheel")
    check(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", house, copy_sample("hello", sources)],
        env=offline_env(wheelhouse),
    )
    return next(house.glob("hello-*.whl"))


def _report(stdout: str) -> dict[str, str]:
    lines = stdout.splitlines()
    fields = dict(line.split(": ", 1) for line in lines[1:])
    return {"first": lines[0], **fields}


@pytest.mark.parametrize("python", ["build", "3.12", "pypy3"])
def test_a_plain_script_runs_as_the_installed_script_would(python: str, script_app: Build, tmp_path: Path) -> None:
    interpreter = sys.executable if python == "build" else python_or_skip(python)
    archive = script_app.archive()
    manifest = read_manifest(archive)
    assert (manifest["entry_point"], manifest["entry_point_name"]) == ("bin/ps-report", REPORT)
    assert manifest["script_files"] == {REPORT: "bin/ps-report"}
    assert "ps-shell" not in manifest["script_files"] and REPORT not in manifest["scripts"]
    root = tmp_path / "cache"
    env = {"EXEARCHIVE_ROOT": str(root)}
    result = run_python(interpreter, archive, "a", "b", "--exit", "3", env=clean_env(env))
    assert result.returncode == 3, result.stderr
    [entry] = entries(root)
    assert _report(result.stdout) == {
        "first": "plainscripts 1.2: a b --exit 3",
        "name": "__main__",
        "file": str(entry / "bin" / REPORT),
        "path0-is-script-dir": "yes",
        "argv0-is-archive": "yes",
    }
    assert result.stderr == ""
    # an uncaught exception: the script's frames only, as python SCRIPT prints them
    crash = run_python(interpreter, archive, "--crash", env=clean_env(env))
    assert crash.returncode == 1
    lines = crash.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):", crash.stderr
    assert lines[1].startswith(f'  File "{entry / "bin" / REPORT}", line '), crash.stderr
    assert lines[-1] == "RuntimeError: ps-report crashed on purpose"
    assert "_exearchive_runtime" not in crash.stderr and "runpy" not in crash.stderr
    # the app's console script is still there by name
    hello = run_python(interpreter, archive, "x", env=clean_env({**env, "EXEARCHIVE_ENTRY_POINT": "hello"}))
    assert hello.stdout.splitlines()[0] == "Hello from hello 1.0!", hello.stderr


def test_info_and_inspect_list_plain_scripts_apart_from_console_scripts(script_app: Build, tmp_path: Path) -> None:
    archive = script_app.archive()
    env = clean_env({"EXEARCHIVE_ROOT": str(tmp_path / "cache"), "EXEARCHIVE_TOOLS": "1"})
    info = run_python(sys.executable, archive, "info", "--json", env=env)
    data = json.loads(info.stdout)
    assert (data["scripts"], data["script_files"]) == ({"hello": "hello.cli:main"}, {REPORT: "bin/ps-report"})
    text = run_python(sys.executable, archive, "info", env=env).stdout
    assert "console scripts:  hello = hello.cli:main\n" in text
    assert "scripts:          ps-report (bin/ps-report)\n" in text
    inspected = succeeded(exearchive("inspect", archive, env=clean_env()))
    assert "  console scripts   hello = hello.cli:main\n" in inspected.stdout
    assert "  scripts           ps-report (bin/ps-report)\n" in inspected.stdout
    described = json.loads(succeeded(exearchive("inspect", "--json", archive, env=clean_env())).stdout)
    assert described["script_files"] == {REPORT: "bin/ps-report"}
    assert described["entry_point"] == {"name": REPORT, "spec": "bin/ps-report"}


def test_override_busybox_and_pack_with_plain_scripts(hello_wheel: Path, wheelhouse: Path, tmp_path: Path) -> None:
    python = python_or_skip("3.10")
    env = cli_env(wheelhouse, hello_wheel.parent)
    archive = tmp_path / "hello.pyz"
    succeeded(exearchive("pack", hello_wheel, "plainscripts", "-o", archive, env=env))
    root = tmp_path / "cache"
    # the default is the app's console script; the plain script by override and by the name of a link
    default = run_archive(archive, "x", root=root)
    assert default.stdout.splitlines()[0] == "Hello from hello 1.0!", default.stderr
    override = run_python(
        python, archive, "o", env=clean_env({"EXEARCHIVE_ROOT": str(root), "EXEARCHIVE_ENTRY_POINT": REPORT})
    )
    assert _report(override.stdout)["first"] == "plainscripts 1.2: o", override.stderr
    links = tmp_path / "bin"
    links.mkdir()
    (links / REPORT).symlink_to(archive)
    linked = run_archive(links / REPORT, "l", root=root, python=None, env={"EXEARCHIVE_VERBOSE": "1"})
    assert _report(linked.stdout)["first"] == "plainscripts 1.2: l", linked.stderr
    assert "] running bin/ps-report (invoked as ps-report)\n" in linked.stderr
    assert _report(linked.stdout)["argv0-is-archive"] == "yes"
    # pack -c names it
    chosen = tmp_path / "report.pyz"
    succeeded(exearchive("pack", hello_wheel, "plainscripts", "-c", REPORT, "-o", chosen, env=env))
    assert read_manifest(chosen)["entry_point"] == "bin/ps-report"
    ran = run_archive(chosen, "c", root=root)
    assert _report(ran.stdout)["first"] == "plainscripts 1.2: c", ran.stderr
    # a shell script cannot be the entry point: one line at build time
    refused = exearchive("pack", hello_wheel, "plainscripts", "-c", "ps-shell", "-o", tmp_path / "no.pyz", env=env)
    assert command_error(refused) == (
        "--console-script 'ps-shell' is a plain script of plainscripts 1.2 run by /bin/sh, not Python, so the "
        "archive cannot run it; choose a console script, a Python script, 'module:function' or 'module'"
    )
    assert not (tmp_path / "no.pyz").exists()


def test_entry_point_key_refuses_a_shell_script(wheelhouse: Path, tmp_path: Path) -> None:
    build = build_project(_app(tmp_path, "ps-shell"), tmp_path / "dist", wheelhouse, "--wheel")
    assert build.returncode != 0
    errors = [line for line in build.output.splitlines() if line.startswith("exearchive: error:")]
    assert errors == [
        "exearchive: error: [tool.exearchive] entry-point = 'ps-shell' is a plain script of plainscripts 1.2 run by "
        "/bin/sh, not Python, so the archive cannot run it; choose a console script, a Python script, "
        "'module:function' or 'module'"
    ], build.output
    assert "Traceback" not in build.output
