"""uv as a resolver, not a requirement: under ``uv build`` the user's uv settings decide.

The case that went wrong: a local package given to uv (``UV_FIND_LINKS``) was
replaced by an unrelated one of the same name that pip's settings found. Here
pip's settings point at a decoy ``greetlib 9.0`` that greets differently; the
archive built by ``uv build`` must hold uv's ``greetlib 2.3``, and be the same
archive that pip makes from the same wheels.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from helpers import SAMPLES, build_project, check, clean_env, hook_build, run_archive
from launcher_support import read_manifest

uv_module = pytest.importorskip("uv", reason="the uv package (in the test extra) is not installed")


def _uv() -> str:
    return str(uv_module.find_uv_bin())


def _decoy(tmp_path: Path, wheelhouse: Path) -> Path:
    """A wheelhouse for pip: the build requirements and an unrelated greetlib 9.0."""
    decoys = tmp_path / "decoys"
    shutil.copytree(wheelhouse, decoys)
    for old in decoys.glob("greetlib-*.whl"):
        old.unlink()
    project = tmp_path / "decoy-greetlib"
    shutil.copytree(SAMPLES / "greetlib", project, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "2.3"', 'version = "9.0"'))
    init = project / "src" / "greetlib" / "__init__.py"
    init.write_text(init.read_text().replace('"Greetings, {}!"', '"Decoy, {}!"'))
    check([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", decoys, project])
    return decoys


def _uv_env(wheelhouse: Path, decoys: Path) -> dict[str, str]:
    env = clean_env({"UV_FIND_LINKS": str(wheelhouse), "UV_OFFLINE": "1", "UV_NO_CACHE": "1"})
    env.update({"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(decoys)})  # what pip would take
    return env


def _greetlib(archive: Path) -> str:
    versions = {d["name"]: d["version"] for d in read_manifest(archive)["distributions"]}
    return str(versions["greetlib"])


def test_uv_build_resolves_with_uvs_settings_not_pips(wheelhouse: Path, tmp_path: Path) -> None:
    decoys = _decoy(tmp_path, wheelhouse)
    project = tmp_path / "greetcli"
    shutil.copytree(SAMPLES / "greetcli", project, ignore=shutil.ignore_patterns("build", "*.egg-info"))

    def uv_build(dist: Path, *settings: str) -> Path:
        command = [_uv(), "build", "--wheel", "--out-dir", str(dist), *settings, str(project)]
        result = subprocess.run(command, env=_uv_env(wheelhouse, decoys), capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        [archive] = dist.glob("*.pyz")
        return archive

    archive = uv_build(tmp_path / "dist")
    assert _greetlib(archive) == "2.3"
    assert _greetlib(uv_build(tmp_path / "dist-forced-pip", "-Cexearchive.resolver=pip")) == "9.0"  # the old way
    ran = run_archive(archive, "Ada", root=tmp_path / "cache")
    assert (ran.stdout, ran.returncode) == ("Greetings, Ada!\n", 0), ran.stderr

    # pip, from the same wheels, makes the same archive (python -m build: no UV in its environment)
    same = build_project(project, tmp_path / "dist-pip", wheelhouse, "--wheel")
    assert same.returncode == 0, same.output
    with zipfile.ZipFile(archive) as ours, zipfile.ZipFile(same.archive()) as theirs:
        payload = "__exearchive__/payload.zip"
        assert ours.read(payload) == theirs.read(payload)
    assert read_manifest(archive)["id"] == read_manifest(same.archive())["id"]


def test_resolver_uv_is_used_without_uv_as_the_frontend(wheelhouse: Path, tmp_path: Path) -> None:
    project = tmp_path / "greetcli"
    shutil.copytree(SAMPLES / "greetcli", project, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    env_extra = {"PATH": f"{Path(_uv()).parent}:/usr/bin:/bin", "UV_FIND_LINKS": str(wheelhouse), "UV_OFFLINE": "1"}
    # pip's settings (the hook's offline environment) see only the wheelhouse; uv's see it too
    built = hook_build(project, tmp_path / "dist", wheelhouse, {"exearchive.resolver": "uv"}, env_extra)
    assert built.returncode == 0, built.output
    assert _greetlib(built.archive()) == "2.3"


def test_an_unknown_resolver_is_a_config_error(wheelhouse: Path, tmp_path: Path) -> None:
    project = tmp_path / "greetcli"
    shutil.copytree(SAMPLES / "greetcli", project, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    built = hook_build(project, tmp_path / "dist", wheelhouse, {"exearchive.resolver": "poetry"})
    assert built.returncode != 0
    assert (
        "exearchive: error: -C exearchive.resolver = 'poetry' is not a resolver; use one of: auto, pip, uv"
        in built.output
    )


def test_resolver_uv_without_uv_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from exearchive.backend import _uv
    from exearchive.backend._errors import ConfigError

    monkeypatch.setattr(_uv, "_packaged_uv", lambda: None)
    with pytest.raises(ConfigError, match=r"\[tool.exearchive\] resolver = 'uv' but uv is not installed here"):
        _uv.chosen("uv", "[tool.exearchive] resolver", {"PATH": "/nonexistent"})
    assert _uv.chosen("auto", "[tool.exearchive] resolver", {"PATH": "/nonexistent"}) is None
    assert _uv.chosen("pip", "[tool.exearchive] resolver", {"UV": sys.executable}) is None
    assert _uv.chosen("auto", "[tool.exearchive] resolver", {"UV": sys.executable}) == sys.executable
