"""End to end: lock files, hash-checked requirements, reproducible bytes, recorded needs."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from helpers import SAMPLES, build_project, hook_build, run_archive


def _greetcli(tmp_path: Path, table: str = "", manifest_in: str = "") -> Path:
    project = tmp_path / "greetcli"
    shutil.copytree(SAMPLES / "greetcli", project)
    if table:
        with (project / "pyproject.toml").open("a") as handle:
            handle.write(f"\n[tool.exearchive]\n{table}\n")
    if manifest_in:
        (project / "MANIFEST.in").write_text(manifest_in)
    return project


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _lock(project: Path, wheelhouse: Path, *, digest: str | None = None, with_greetlib: bool = True) -> None:
    wheel = next(wheelhouse.glob("greetlib-2.3-*.whl"))
    text = 'lock-version = "1.0"\ncreated-by = "exearchive tests"\nrequires-python = ">=3.8"\n\n'
    if with_greetlib:
        text += (
            '[[packages]]\nname = "greetlib"\nversion = "2.3"\n\n[[packages.wheels]]\n'
            f'name = "{wheel.name}"\nurl = "{wheel.as_uri()}"\n'
            f'hashes = {{sha256 = "{digest or _sha256(wheel)}"}}\n\n'
        )
    text += '[[packages]]\nname = "greetcli"\ndirectory = { path = "." }\n'
    (project / "pylock.toml").write_text(text)


def _manifest(archive: Path) -> dict[str, object]:
    with zipfile.ZipFile(archive) as handle:
        manifest: dict[str, object] = json.loads(handle.read("__exearchive__/manifest.json"))
        return manifest


def _error(output: str) -> str:
    errors = [line for line in output.splitlines() if line.startswith("exearchive: error:")]
    assert len(errors) == 1, output
    assert "Traceback" not in output
    return errors[0]


def test_lock_file_provides_the_dependencies(wheelhouse: Path, tmp_path: Path) -> None:
    project = _greetcli(tmp_path, 'lock = "pylock.toml"', "include pylock.toml\n")
    _lock(project, wheelhouse)
    build = build_project(project, tmp_path / "dist", wheelhouse)
    assert build.returncode == 0, build.output
    assert "taking 1 locked package(s) from pylock.toml" in build.output
    assert "resolving dependencies" not in build.output
    ran = run_archive(build.archive(), "Ada", root=tmp_path / "cache")
    assert (ran.stdout, ran.returncode) == ("Greetings, Ada!\n", 0), ran.stderr
    names = {d["name"] for d in _manifest(build.archive())["distributions"]}  # type: ignore[attr-defined]
    assert names == {"greetcli", "greetlib"}


def test_lock_hash_mismatch_stops_the_build_naming_the_package(wheelhouse: Path, tmp_path: Path) -> None:
    project = _greetcli(tmp_path, 'lock = "pylock.toml"', "include pylock.toml\n")
    _lock(project, wheelhouse, digest="0" * 64)
    build = build_project(project, tmp_path / "dist", wheelhouse)
    assert build.returncode != 0
    assert "exearchive: error: greetlib does not match the hash in pylock.toml" in _error(build.output)
    assert not list((tmp_path / "dist").glob("*.pyz"))


def test_lock_without_a_dependency_stops_the_build(wheelhouse: Path, tmp_path: Path) -> None:
    project = _greetcli(tmp_path, 'lock = "pylock.toml"', "include pylock.toml\n")
    _lock(project, wheelhouse, with_greetlib=False)
    build = build_project(project, tmp_path / "dist", wheelhouse)
    assert build.returncode != 0
    assert _error(build.output) == (
        "exearchive: error: greetcli 0.5 requires greetlib>=2, which the lock file does not provide"
    )


def test_lock_file_travels_in_the_sdist_without_manifest_in(wheelhouse: Path, tmp_path: Path) -> None:
    project = _greetcli(tmp_path, 'lock = "locks/pylock.toml"')
    _lock(project, wheelhouse)
    (project / "locks").mkdir()
    (project / "pylock.toml").rename(project / "locks" / "pylock.toml")
    assert not (project / "MANIFEST.in").exists()
    build = build_project(project, tmp_path / "dist", wheelhouse)  # the wheel and the archive from the sdist
    assert build.returncode == 0, build.output
    assert "added locks/pylock.toml to greetcli-0.5.tar.gz" in build.output
    assert "taking 1 locked package(s) from pylock.toml" in build.output
    with tarfile.open(build.one("*.tar.gz")) as sdist:
        names = sdist.getnames()
    assert names[-2:] == ["greetcli-0.5/locks", "greetcli-0.5/locks/pylock.toml"]
    ran = run_archive(build.archive(), "Ada", root=tmp_path / "cache")
    assert (ran.stdout, ran.returncode) == ("Greetings, Ada!\n", 0), ran.stderr


@pytest.mark.parametrize("path", ["../pylock.toml", "/etc/pylock.toml"])
def test_lock_file_outside_the_project_cannot_travel_in_the_sdist(path: str, wheelhouse: Path, tmp_path: Path) -> None:
    project = _greetcli(tmp_path, f'lock = "{path}"')
    build = build_project(project, tmp_path / "dist", wheelhouse, "--sdist")
    assert build.returncode != 0
    assert _error(build.output) == (
        f"exearchive: error: [tool.exearchive] lock = {path!r} is outside the project, so the sdist cannot carry it "
        "and a wheel built from the sdist cannot read it; move it into the project directory"
    )


def test_lock_with_constraints_is_a_config_error(wheelhouse: Path, tmp_path: Path) -> None:
    project = _greetcli(tmp_path, 'lock = "pylock.toml"\nconstraints = ["c.txt"]')
    build = hook_build(project, tmp_path / "dist", wheelhouse)
    assert "[tool.exearchive] lock and [tool.exearchive] constraints cannot be used together" in _error(build.output)


def test_hashed_requirements_put_pip_in_hash_checking_mode(wheelhouse: Path, tmp_path: Path) -> None:
    wheel = next(wheelhouse.glob("greetlib-2.3-*.whl"))
    project = _greetcli(tmp_path, 'requirements = ["requirements.txt"]', "include requirements.txt\n")
    (project / "requirements.txt").write_text(f"greetlib==2.3 --hash=sha256:{'1' * 64}\n")
    build = build_project(project, tmp_path / "dist", wheelhouse)
    assert build.returncode != 0
    assert "cannot resolve the dependencies of greetcli with pip" in _error(build.output)
    assert "HASHES" in build.output
    (project / "requirements.txt").write_text(f"greetlib==2.3 --hash=sha256:{_sha256(wheel)}\n")
    build = build_project(project, tmp_path / "dist2", wheelhouse)
    assert build.returncode == 0, build.output


def test_constraints_file_limits_resolution(wheelhouse: Path, tmp_path: Path) -> None:
    project = _greetcli(tmp_path, 'constraints = ["constraints.txt"]', "include constraints.txt\n")
    (project / "constraints.txt").write_text("greetlib<2\n")
    build = hook_build(project, tmp_path / "dist", wheelhouse)
    assert build.returncode != 0
    assert "greetlib" in build.output and "cannot resolve the dependencies of greetcli" in build.output


def test_builds_in_different_places_give_identical_bytes(wheelhouse: Path, tmp_path: Path) -> None:
    archives = []
    for place in ("one", "two/deeper"):
        project = _greetcli(tmp_path / place)
        build = build_project(project, tmp_path / place / "dist", wheelhouse)
        assert build.returncode == 0, build.output
        archives.append(build.archive())
    first, second = (a.read_bytes() for a in archives)
    assert first == second
    manifest = _manifest(archives[0])
    text = json.dumps(manifest)
    assert str(tmp_path) not in text
    with zipfile.ZipFile(archives[0]) as outer, zipfile.ZipFile(outer.open("__exearchive__/payload.zip")) as payload:
        for name in payload.namelist():
            assert str(tmp_path).encode() not in payload.read(name), name
            assert payload.getinfo(name).date_time == (1980, 1, 1, 0, 0, 0)


def test_source_date_epoch_sets_the_dates(wheelhouse: Path, tmp_path: Path) -> None:
    project = _greetcli(tmp_path)
    build = build_project(project, tmp_path / "dist", wheelhouse, "--wheel", env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert build.returncode == 0, build.output
    with zipfile.ZipFile(build.archive()) as outer:
        assert outer.getinfo("__main__.py").date_time == (2023, 11, 14, 22, 13, 20)


@pytest.mark.parametrize(
    ("dependency", "markers"),
    [
        ("greetlib>=2", None),
        (
            'greetlib>=2; sys_platform == "linux"',
            [
                {
                    "marker": 'sys_platform == "linux"',
                    "outcome": True,
                    "requirement": "greetlib>=2",
                    "by": "greetcli 0.5",
                }
            ],
        ),
    ],
)
def test_needs_record_the_markers_that_decided(
    dependency: str, markers: list[dict[str, object]] | None, wheelhouse: Path, tmp_path: Path
) -> None:
    project = _greetcli(tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"greetlib>=2"', f"'{dependency}'"))
    build = hook_build(project, tmp_path / "dist", wheelhouse)
    assert build.returncode == 0, build.output
    needs = _manifest(build.archive())["needs"]
    assert needs.get("markers") == markers  # type: ignore[attr-defined]
    assert "environment" not in needs  # type: ignore[operator]
    assert {"spec": ">=3.8", "by": "greetcli 0.5"} in needs["requires_python"]  # type: ignore[index]
    assert needs["effective_requires_python"] == ">=3.8"  # type: ignore[index]
    assert "native" not in needs  # type: ignore[operator]
