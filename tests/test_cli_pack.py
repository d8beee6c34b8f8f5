"""``exearchive pack``: archives from requirements, resolved by pip from a local wheelhouse only."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from cli_support import cli_env, copy_sample, exearchive, on_a_terminal, one_line_error, read_manifest, succeeded
from helpers import check, expected_runs, offline_env, run_archive

APPS = ("hello", "greetcli", "multitool")


@pytest.fixture(scope="module")
def apps(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of the sample apps (not in the session's wheelhouse), built with pip from copies."""
    sources = tmp_path_factory.mktemp("app-sources")
    house = tmp_path_factory.mktemp("app-wheels")
    copies = [copy_sample(app, sources) for app in APPS]
    check(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", house, *copies],
        env=offline_env(wheelhouse),
    )
    return house


@pytest.fixture
def env(wheelhouse: Path, apps: Path) -> dict[str, str]:
    return cli_env(wheelhouse, apps)


@pytest.mark.parametrize("index", range(len(expected_runs("greetcli"))))
def test_pack_a_requirement_with_its_dependencies(
    index: int, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    work = tmp_path_factory.getbasetemp() / "pack-greetcli"
    archive = work / "greetcli-0.5.pyz"
    if not archive.exists():
        work.mkdir(exist_ok=True)
        result = succeeded(exearchive("pack", "greetcli>=0.5", env=env, cwd=work))
        assert result.stdout == "greetcli-0.5.pyz\n"  # the backend's name, in the current directory
        assert result.stderr == ""
    manifest = read_manifest(archive)
    assert {d["name"] for d in manifest["distributions"]} == {"greetcli", "greetlib"}
    case = expected_runs("greetcli")[index]
    ran = run_archive(archive, *case["args"], root=tmp_path / "cache", env=case["env"])  # type: ignore[arg-type,misc]
    assert (ran.stdout, ran.returncode) == (case["stdout"], case["returncode"]), ran.stderr


def test_pack_a_local_wheel_into_a_file(env: dict[str, str], apps: Path, tmp_path: Path) -> None:
    wheel = apps / "hello-1.0-py3-none-any.whl"
    result = succeeded(exearchive("pack", wheel, "-o", tmp_path / "out" / "hi.pyz", "--no-compile", env=env))
    archive = tmp_path / "out" / "hi.pyz"
    assert result.stdout.strip() == str(archive)
    assert sorted(p.name for p in archive.parent.iterdir()) == ["hi.pyz"]
    assert read_manifest(archive)["pyc"] == []
    ran = run_archive(archive, "a", root=tmp_path / "cache")
    assert ran.stdout.splitlines()[:2] == ["Hello from hello 1.0!", "argv: a"], ran.stderr


def test_pack_with_a_console_script(env: dict[str, str], tmp_path: Path) -> None:
    succeeded(exearchive("pack", "-c", "mt-lower", "multitool", "-o", "lower.pyz", env=env, cwd=tmp_path))
    manifest = read_manifest(tmp_path / "lower.pyz")
    assert (manifest["entry_point_name"], manifest["entry_point"]) == ("mt-lower", "multitool.tools:lower")
    ran = run_archive(tmp_path / "lower.pyz", "MiXeD", "Case", root=tmp_path / "cache")
    assert (ran.stdout, ran.returncode) == ("mixed case\n", 0), ran.stderr


def test_pack_with_module_function(env: dict[str, str], tmp_path: Path) -> None:
    succeeded(exearchive("pack", "-e", "multitool.tools:count", "multitool", "-o", "count.pyz", env=env, cwd=tmp_path))
    assert read_manifest(tmp_path / "count.pyz")["entry_point"] == "multitool.tools:count"
    ran = run_archive(tmp_path / "count.pyz", "a", "b", "c", root=tmp_path / "cache")
    assert (ran.stdout, ran.returncode) == ("3\n", 0), ran.stderr


def test_pack_from_a_requirements_file_with_name_and_python(env: dict[str, str], tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# the app, and a library it does not need\ngreetlib==2.3\ngreetcli==0.5  # the app\n")
    (tmp_path / "dist").mkdir()
    result = exearchive(
        "pack",
        "-r",
        requirements,
        "--name",
        "greetcli",
        "--python",
        "/usr/bin/python3",
        "-o",
        "dist",
        env=env,
        cwd=tmp_path,
    )
    succeeded(result)
    assert result.stdout == "dist/greetcli-0.5.pyz\n"
    archive = tmp_path / "dist" / "greetcli-0.5.pyz"
    with archive.open("rb") as handle:
        assert handle.readline() == b"#!/usr/bin/python3\n"
    ran = run_archive(archive, "Ada", root=tmp_path / "cache")
    assert ran.stdout == "Greetings, Ada!\n", ran.stderr


def test_pack_takes_the_app_from_a_requirements_file(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "reqs.txt").write_text("--only-binary :all:\n\nmultitool \\\n  >=0.1\n")
    result = succeeded(exearchive("pack", "-r", "reqs.txt", "-c", "mt-upper", env=env, cwd=tmp_path))
    assert result.stdout == "multitool-0.1.pyz\n"


def test_pack_with_constraints(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "constraints.txt").write_text("greetlib<2\n")
    result = exearchive("pack", "greetcli", "--constraints", "constraints.txt", env=env, cwd=tmp_path)
    # pip's reason follows, indented, as the backend reports it
    assert result.returncode == 1
    assert result.stderr.startswith("exearchive: error: cannot resolve the dependencies of greetcli with pip:\n")
    assert "The user requested (constraint) greetlib<2" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*.pyz"))


@pytest.mark.parametrize("name", ["multitool", "mt-uper"])
def test_a_console_script_that_is_not_one(name: str, env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    message = one_line_error(exearchive("pack", "-c", name, "multitool", "-o", "out/", env=env, cwd=tmp_path))
    assert message.startswith(f"--console-script {name!r} is not a console script in the archive"), message
    assert "mt-count, mt-lower, mt-upper" in message
    assert "module" not in message
    if name == "mt-uper":
        assert message.endswith("; did you mean 'mt-upper'?"), message
    assert list((tmp_path / "out").iterdir()) == []  # nothing written, nothing left behind


def test_an_app_with_several_scripts_needs_a_choice(env: dict[str, str], tmp_path: Path) -> None:
    message = one_line_error(exearchive("pack", "multitool", env=env, cwd=tmp_path))
    assert message == (
        "multitool declares several console scripts (mt-count, mt-lower, mt-upper); choose one with -c 'mt-count'"
    )


@pytest.mark.parametrize(
    ("args", "status", "expected"),
    [
        ((), 2, "nothing to pack: give at least one REQUIREMENT, -r FILE or --lock FILE (see: exearchive pack --help)"),
        (
            ("-e", "a:b", "-c", "b", "hello"),
            2,
            "argument -c/--console-script: not allowed with argument -e/--entry-point",
        ),
        (("--python", "python3", "hello"), 1, "--python 'python3' must be an absolute path"),
        (("./missing-1.0-py3-none-any.whl",), 1, "the requirement './missing-1.0-py3-none-any.whl' looks like a path"),
        (("-r", "missing.txt"), 2, "argument -r/--requirement: 'missing.txt' does not exist; expected a file"),
    ],
)
def test_bad_input_is_one_line(
    args: tuple[str, ...], status: int, expected: str, env: dict[str, str], tmp_path: Path
) -> None:
    message = one_line_error(exearchive("pack", *args, env=env, cwd=tmp_path), status)
    assert message.startswith(expected), message


def test_quiet_normal_and_verbose(env: dict[str, str], apps: Path, tmp_path: Path) -> None:
    wheel = str(apps / "hello-1.0-py3-none-any.whl")
    quiet = succeeded(exearchive("pack", "-q", wheel, "-o", "q.pyz", env=env, cwd=tmp_path))
    assert (quiet.stdout, quiet.stderr) == ("q.pyz\n", "")
    normal = succeeded(exearchive("pack", wheel, "-o", "n.pyz", env=env, cwd=tmp_path))
    assert (normal.stdout, normal.stderr) == ("n.pyz\n", "")  # not a terminal: no progress
    verbose = succeeded(exearchive("pack", "--verbose", wheel, "-o", "v.pyz", env=env, cwd=tmp_path))
    assert verbose.stdout == "v.pyz\n"
    lines = verbose.stderr.splitlines()
    assert all(line.startswith("exearchive: ") for line in lines), lines
    assert any("resolving " in line and "with pip" in line for line in lines), lines
    assert any(
        line.startswith("exearchive: running ") and "_piprun.py" in line and " wheel " in line for line in lines
    ), lines
    assert any(line.startswith("exearchive: pip: ") for line in lines), lines  # pip's own output
    assert any(line.startswith("exearchive: staging hello-1.0") for line in lines), lines
    assert lines[-2].startswith("exearchive: built /") and "/v.pyz (" in lines[-2], lines
    assert lines[-1] == f"exearchive: saved {(tmp_path / 'v.pyz').resolve()}", lines  # the full path


def test_progress_on_a_terminal(env: dict[str, str], apps: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "exearchive.cli", "pack", str(apps / "hello-1.0-py3-none-any.whl"), "-o", "t.pyz"]
    status, stdout, terminal = on_a_terminal(command, {**env, "TERM": "xterm"}, tmp_path)
    assert (status, stdout) == (0, "t.pyz\n"), terminal
    assert "\r\x1b[K" in terminal  # the status line is redrawn in place
    finished = [line.split("\x1b[K")[-1] for line in terminal.replace("\r\n", "\n").split("\n") if line]
    assert finished[0].startswith("exearchive: resolving "), finished
    assert finished[-1] == f"exearchive: saved {(tmp_path / 't.pyz').resolve()}", finished
    assert finished[-2].startswith("exearchive: built /") and "/t.pyz (" in finished[-2], finished
    assert "pip:" not in "\n".join(finished)  # details only beside the spinner, never as lines of their own


def test_a_local_project_with_dependencies_is_the_app(env: dict[str, str], tmp_path: Path) -> None:
    project = copy_sample("greetcli", tmp_path / "src")
    result = succeeded(exearchive("pack", project, env=env, cwd=tmp_path))
    assert result.stdout == "greetcli-0.5.pyz\n"
    ran = run_archive(tmp_path / "greetcli-0.5.pyz", "Ada", root=tmp_path / "cache")
    assert ran.stdout == "Greetings, Ada!\n", ran.stderr


def test_extras_of_the_app(env: dict[str, str], tmp_path: Path) -> None:
    project = copy_sample("extras-app", tmp_path / "src")
    succeeded(exearchive("pack", project, "--extras", "greet", "-o", "with.pyz", env=env, cwd=tmp_path))
    succeeded(exearchive("pack", project, "-o", "without.pyz", env=env, cwd=tmp_path))
    assert run_archive(tmp_path / "with.pyz", "Ada", root=tmp_path / "cache").stdout == "Greetings, Ada!\n"
    plain = run_archive(tmp_path / "without.pyz", "Ada", root=tmp_path / "cache")
    assert plain.stdout == "hello, Ada (without greetlib)\n"
    message = one_line_error(exearchive("pack", project, "--extras", "gret", env=env, cwd=tmp_path))
    assert message == "--extras: extras-app has no extra 'gret' (its extras: greet); did you mean 'greet'?"
    assert not list(tmp_path.glob("*extras*.pyz"))


def test_packages_from_a_lock_file(env: dict[str, str], wheelhouse: Path, tmp_path: Path) -> None:
    project = copy_sample("extras-app", tmp_path / "src")
    greetlib = next(wheelhouse.glob("greetlib-2.3-*.whl"))
    digest = hashlib.sha256(greetlib.read_bytes()).hexdigest()
    lock = tmp_path / "pylock.toml"
    lock.write_text(
        'lock-version = "1.0"\ncreated-by = "exearchive tests"\n\n'
        f'[[packages]]\nname = "greetlib"\nversion = "2.3"\n\n[[packages.wheels]]\nname = "{greetlib.name}"\n'
        f'url = "{greetlib.as_uri()}"\nhashes = {{sha256 = "{digest}"}}\n\n'
        f'[[packages]]\nname = "extras-app"\ndirectory = {{ path = "src/extras-app" }}\n'
    )
    result = succeeded(exearchive("pack", "--lock", lock, "extras-app", env=env, cwd=tmp_path))
    assert result.stdout == "extras_app-0.3.pyz\n"
    ran = run_archive(tmp_path / "extras_app-0.3.pyz", "Ada", root=tmp_path / "cache")
    assert ran.stdout == "Greetings, Ada!\n", ran.stderr  # greetlib came from the lock
    message = one_line_error(exearchive("pack", "--lock", lock, env=env, cwd=tmp_path))
    assert message.startswith("cannot tell which requirement is the app"), message
    message = one_line_error(exearchive("pack", "--lock", lock, str(project), env=env, cwd=tmp_path))
    assert message.startswith("with --lock, the lock file says what goes into the archive: name only the app"), message
