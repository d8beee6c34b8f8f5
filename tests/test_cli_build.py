"""``exearchive build``: any project's wheel from its own backend, packed; the archives run as documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cli_support import cli_env, copy_sample, exearchive, one_line_error, read_manifest, succeeded
from helpers import expected_runs, run_archive

# sample -> the backend its pyproject.toml names ("hello-setuptools" is hello with plain setuptools)
BACKENDS = {
    "hatch-app": "hatchling.build",
    "flit-app": "flit_core.buildapi",
    "hello-setuptools": "setuptools.build_meta",
    "hello": "exearchive.backend",
}


def _project(name: str, dest: Path) -> Path:
    if name != "hello-setuptools":
        return copy_sample(name, dest)
    project = copy_sample("hello", dest)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace('requires = ["exearchive"]', 'requires = ["setuptools>=64"]')
    pyproject.write_text(text.replace('"exearchive.backend"', '"setuptools.build_meta"'))
    renamed = dest / name
    project.rename(renamed)
    return renamed


@pytest.fixture(scope="module")
def built(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Each sample built once with ``exearchive build -v``: (project directory, standard error)."""
    results = {}
    for name in BACKENDS:
        work = tmp_path_factory.mktemp(f"cli-build-{name}")
        project = _project(name, work)
        result = succeeded(exearchive("build", "-v", project, env=cli_env(wheelhouse), cwd=work))
        results[name] = (project, result.stderr)
    return results


def _archive(project: Path) -> Path:
    archives = sorted((project / "dist").glob("*.pyz"))
    assert len(archives) == 1, archives
    return archives[0]


def _cases() -> list[tuple[str, int]]:
    return [(name, index) for name in BACKENDS for index in range(len(expected_runs(name.split("-setuptools")[0])))]


@pytest.mark.parametrize(("name", "index"), _cases(), ids=[f"{n}-{i}" for n, i in _cases()])
def test_archive_of_each_backend_runs_as_documented(
    name: str, index: int, built: dict[str, tuple[Path, str]], tmp_path: Path
) -> None:
    project, _stderr = built[name]
    case = expected_runs(name.split("-setuptools")[0])[index]
    result = run_archive(_archive(project), *case["args"], root=tmp_path / "cache", env=case["env"])  # type: ignore[arg-type,misc]
    assert (result.stdout, result.returncode) == (case["stdout"], case["returncode"]), result.stderr


@pytest.mark.parametrize("name", list(BACKENDS))
def test_wheel_comes_from_the_projects_own_backend(name: str, built: dict[str, tuple[Path, str]]) -> None:
    project, stderr = built[name]
    assert "building the wheel of " in stderr
    assert f"with {BACKENDS[name]} in an isolated environment" in stderr
    wheels = sorted((project / "dist").glob("*.whl"))
    assert len(wheels) == 1, wheels
    archive = _archive(project)
    # named like the backend names it: the wheel's NAME-VERSION
    assert archive.name == "-".join(wheels[0].name.split("-")[:2]) + ".pyz"
    manifest = read_manifest(archive)
    assert {d["wheel"] for d in manifest["distributions"]} >= {wheels[0].name}


def test_table_is_read_whatever_the_backend(built: dict[str, tuple[Path, str]]) -> None:
    project, _stderr = built["flit-app"]  # two scripts; [tool.exearchive] entry-point chooses one
    manifest = read_manifest(_archive(project))
    assert (manifest["entry_point_name"], manifest["entry_point"]) == ("flit-app", "flit_app:main")
    assert set(manifest["scripts"]) == {"flit-app", "flit-app-version"}


def test_exearchive_backend_project_is_packed_once(built: dict[str, tuple[Path, str]]) -> None:
    project, stderr = built["hello"]
    # the backend ran with its archive step off: only the command's own archive step ran
    assert len(re.findall(r"built /\S+/hello-1\.0\.pyz", stderr)) == 1, stderr
    assert sorted(p.name for p in (project / "dist").iterdir()) == ["hello-1.0-py3-none-any.whl", "hello-1.0.pyz"]


def test_dependencies_are_resolved_with_pip(built: dict[str, tuple[Path, str]]) -> None:
    project, stderr = built["hatch-app"]
    assert "resolving dependencies of hatch-app with pip" in stderr
    assert "pip: " in stderr  # --verbose shows pip's output
    names = {d["name"] for d in read_manifest(_archive(project))["distributions"]}
    assert names == {"hatch-app", "greetlib"}


def test_options_override_the_table(wheelhouse: Path, tmp_path: Path) -> None:
    project = copy_sample("flit-app", tmp_path)
    result = exearchive(
        "build",
        project,
        "--entry-point",
        "flit-app-version",
        "-o",
        tmp_path / "out" / "words.pyz",
        "--outdir",
        tmp_path / "wheels",
        "--python",
        "/usr/bin/python3",
        "--no-compile",
        env=cli_env(wheelhouse),
        cwd=tmp_path,
    )
    succeeded(result)
    archive = tmp_path / "out" / "words.pyz"
    assert result.stdout == "out/words.pyz\n"
    assert result.stderr == ""  # not a terminal: quiet
    assert sorted(p.name for p in (tmp_path / "wheels").iterdir()) == ["flit_app-1.2-py3-none-any.whl"]
    assert sorted(p.name for p in archive.parent.iterdir()) == ["words.pyz"]  # no temporary files left
    with archive.open("rb") as handle:
        assert handle.readline() == b"#!/usr/bin/python3\n"
    manifest = read_manifest(archive)
    assert manifest["pyc"] == []
    assert manifest["entry_point_name"] == "flit-app-version"
    ran = run_archive(archive, root=tmp_path / "cache")
    assert (ran.stdout, ran.returncode) == ("1.2\n", 0), ran.stderr


def test_output_directory_and_no_isolation(tmp_path: Path) -> None:
    # hello's backend (exearchive, editable in this environment) and setuptools are installed here
    project = copy_sample("hello", tmp_path)
    (tmp_path / "out").mkdir()
    result = succeeded(exearchive("build", "--no-isolation", "-o", "out", project, env=cli_env(tmp_path), cwd=tmp_path))
    assert result.stdout == "out/hello-1.0.pyz\n"
    ran = run_archive(tmp_path / "out" / "hello-1.0.pyz", "x", root=tmp_path / "cache")
    assert ran.stdout.splitlines()[:2] == ["Hello from hello 1.0!", "argv: x"], ran.stderr


def test_a_failing_backend_is_one_line(wheelhouse: Path, tmp_path: Path) -> None:
    project = copy_sample("flit-app", tmp_path)
    for path in (project / "flit_app").iterdir():
        path.unlink()
    (project / "flit_app").rmdir()
    message = one_line_error(exearchive("build", project, env=cli_env(wheelhouse), cwd=tmp_path))
    assert message.startswith("flit_core.buildapi failed to build the wheel of flit-app: "), message
    assert "flit_app" in message  # flit's own reason: no module flit_app
    assert "--verbose" in message


@pytest.mark.parametrize("requirement", ["hatchlingg", "exearchive"])
def test_an_uninstallable_build_requirement_shows_pips_reason(requirement: str, tmp_path: Path) -> None:
    project = copy_sample("hatch-app", tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('requires = ["hatchling"]', f'requires = ["{requirement}"]'))
    result = exearchive("build", project, env=cli_env(tmp_path), cwd=tmp_path)  # an empty wheelhouse
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == (
        f"exearchive: error: cannot install the build requirements of hatch-app ({requirement}) "
        "in an isolated environment with pip:"
    ), result.stderr
    assert f"  ERROR: No matching distribution found for {requirement}" in lines, result.stderr
    assert len(lines) <= 4 and "Traceback" not in result.stderr


def test_a_bad_table_stops_before_the_wheel_is_built(tmp_path: Path) -> None:
    project = copy_sample("hatch-app", tmp_path)
    with (project / "pyproject.toml").open("a") as handle:
        handle.write('\n[tool.exearchive]\nentry-piont = "hatch-app"\n')
    message = one_line_error(exearchive("build", project, env=cli_env(tmp_path), cwd=tmp_path))
    assert message == "unknown key 'entry-piont' in [tool.exearchive]; did you mean 'entry-point'?"
    assert not (project / "dist").exists()


def test_bad_option_values_name_the_option(tmp_path: Path) -> None:
    project = copy_sample("hello", tmp_path)
    env = cli_env(tmp_path)
    message = one_line_error(exearchive("build", "--no-isolation", "--python", "python3", project, env=env))
    assert message.startswith("--python 'python3' must be an absolute path"), message
    message = one_line_error(exearchive("build", "--no-isolation", "-e", "nosuch", project, env=env))
    assert message.startswith("--entry-point 'nosuch'"), message
    assert "console scripts in the archive: hello" in message
    assert list((project / "dist").iterdir()) == []  # no archive, and no wheel without it
    message = one_line_error(exearchive("build", "--constraints", tmp_path / "missing.txt", project, env=env), 2)
    assert "argument --constraints: " in message and "does not exist" in message


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing", "the project directory '{path}' does not exist"),
        ("empty", "'{path}' is not a Python project: it has neither pyproject.toml nor setup.py"),
        ("file", "'{path}' is not a directory; give the directory of a Python project"),
    ],
)
def test_no_project_is_one_line(setup: str, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "project"
    if setup == "empty":
        path.mkdir()
    elif setup == "file":
        path.write_text("")
    message = one_line_error(exearchive("build", path, env=cli_env(tmp_path)))
    assert message == expected.format(path=path)
