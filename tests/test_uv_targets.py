"""uv as the resolver for another target: ``uv pip compile --python-platform --python-version`` where uv can name
the target, the same wheels as pip's for the same inputs, and pip (or one line) where it cannot."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from cli_support import cli_env, copy_sample, exearchive, one_line_error, read_manifest, succeeded
from exearchive.backend import _targets, _uv
from helpers import SAMPLES, check, offline_env, run_archive
from launcher_support import python_or_skip
from test_targets import FAKENATIVE_TAGS, make_wheel

uv_module = pytest.importorskip("uv", reason="the uv package (in the test extra) is not installed")

CP39 = "cp39-manylinux_2_17_x86_64"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (CP39, ("x86_64-manylinux_2_17", {})),
        ("cp312-manylinux_2_28_aarch64", ("aarch64-manylinux_2_28", {})),
        ("cp313-macosx_11_0_arm64", ("aarch64-apple-darwin", {"MACOSX_DEPLOYMENT_TARGET": "11.0"})),
        ("cp312-win_amd64", ("x86_64-pc-windows-msvc", {})),
    ],
)
def test_uv_names_the_platforms_it_knows(target: str, expected: tuple[str, dict[str, str]]) -> None:
    assert _uv.platform_for(_targets.parse(target, Path(), "--target")) == expected


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("pp39-manylinux_2_17_x86_64", "not PyPy"),
        ("cp311-manylinux_2_27_x86_64", "has no name for manylinux_2_27_x86_64"),
        ("cp311-musllinux_1_2_x86_64", "has no name for musllinux_1_2_x86_64"),
    ],
)
def test_uv_cannot_name_every_target_and_says_why(target: str, reason: str) -> None:
    found = _uv.platform_for(_targets.parse(target, Path(), "--target"))
    assert isinstance(found, str) and reason in found, found


def test_a_complete_platform_with_other_tags_than_a_shorthand_is_not_given_to_uv() -> None:
    shorthand = _targets.parse(CP39, Path(), "--target")
    fewer = _targets.Target("fewer.json", shorthand.environment, shorthand.tags[:-1])
    assert _uv.platform_for(_targets.Target("same.json", shorthand.environment, shorthand.tags)) == _uv.platform_for(
        shorthand
    )
    found = _uv.platform_for(fewer)
    assert isinstance(found, str) and f"not those of {CP39}" in found


@pytest.fixture(scope="module")
def links(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake wheels targetapp needs, for every tag."""
    fakes = tmp_path_factory.mktemp("uv-target-fakes")
    for tag in FAKENATIVE_TAGS:
        make_wheel(fakes, "fakenative", "1.0", tag, {"fakenative.py": f"TAG = {tag!r}\n"})
    make_wheel(fakes, "tomli", "2.0.1", "py3-none-any", {"tomli/__init__.py": "LOADS = 'fake'\n"})
    make_wheel(fakes, "winonly", "1.0", "py3-none-any", {"winonly.py": "ON = 'windows'\n"})
    return fakes


def _build(project: Path, out: Path, env: dict[str, str], *settings: str) -> Path:
    args = ["build", project, "--no-isolation", "--target", CP39, "-o", f"{out}/", *settings]
    succeeded(exearchive(*args, env=env, cwd=project.parent))
    [archive] = out.glob("*.pyz")
    return archive


def test_uv_resolves_a_foreign_target_to_the_same_archive_as_pip(wheelhouse: Path, links: Path, tmp_path: Path) -> None:
    project = copy_sample("targetapp", tmp_path)
    # pip's settings point at a decoy fakenative 2.0 for cp39: the uv build must take uv's 1.0
    decoys = tmp_path / "decoys"
    decoys.mkdir()
    make_wheel(decoys, "fakenative", "2.0", "cp39-cp39-manylinux_2_17_x86_64", {"fakenative.py": "TAG = 'decoy'\n"})
    uv_env = cli_env(wheelhouse, decoys, links, extra={"UV_FIND_LINKS": str(links), "UV_OFFLINE": "1"})
    uv_env["UV_NO_CACHE"] = "1"
    by_uv = _build(project, tmp_path / "uv", uv_env, "-C", "exearchive.resolver=uv")
    by_pip = _build(project, tmp_path / "pip", cli_env(wheelhouse, links), "-C", "exearchive.resolver=pip")

    wheels = {d["name"]: d["wheel"] for d in read_manifest(by_uv)["distributions"]}
    assert wheels == {
        "targetapp": "targetapp-1.0-py3-none-any.whl",
        "fakenative": "fakenative-1.0-cp39-cp39-manylinux_2_17_x86_64.whl",
        "tomli": "tomli-2.0.1-py3-none-any.whl",
    }
    payload = "__exearchive__/payload.zip"
    with zipfile.ZipFile(by_uv) as ours, zipfile.ZipFile(by_pip) as theirs:
        assert ours.read(payload) == theirs.read(payload)
    ran = run_archive(by_uv, root=tmp_path / "cache", python=python_or_skip("3.9"))
    assert ran.stdout.strip() == "tag=cp39-cp39-manylinux_2_17_x86_64 python=3.9 with=tomli", ran.stderr


def test_resolver_uv_for_a_target_uv_cannot_name_is_refused_in_one_line(
    wheelhouse: Path, links: Path, tmp_path: Path
) -> None:
    project = copy_sample("targetapp", tmp_path)
    args = ["build", project, "--no-isolation", "--target", "pp39-manylinux_2_17_x86_64", "-o", f"{tmp_path / 'out'}/"]
    message = one_line_error(exearchive(*args, "-C", "exearchive.resolver=uv", env=cli_env(wheelhouse, links)))
    assert "resolver = 'uv' with" in message and "'pp39-manylinux_2_17_x86_64': uv cannot resolve for it" in message
    assert "set it to 'pip'" in message


def test_uv_as_the_frontend_falls_back_to_pip_for_a_target_uv_cannot_name(
    wheelhouse: Path, links: Path, tmp_path: Path
) -> None:
    project = copy_sample("targetapp", tmp_path)
    env = cli_env(wheelhouse, links, extra={"UV": str(uv_module.find_uv_bin())})
    args = ["build", project, "--no-isolation", "--target", "pp39-manylinux_2_17_x86_64", "-o", f"{tmp_path / 'out'}/"]
    result = succeeded(exearchive(*args, "-v", env=env, cwd=tmp_path))
    assert "resolving for pp39-manylinux_2_17_x86_64 with pip, not uv: uv resolves for the implementation" in (
        result.stderr
    )
    [archive] = (tmp_path / "out").glob("*.pyz")
    assert {d["name"] for d in read_manifest(archive)["distributions"]} == {"targetapp", "fakenative", "tomli"}


def test_uv_for_another_target_with_an_sdist_only_dependency_says_that_pip_builds_it(
    wheelhouse: Path, links: Path, tmp_path: Path
) -> None:
    sdists = tmp_path / "sdists"
    check(
        [sys.executable, "-m", "build", "--sdist", "--outdir", sdists, SAMPLES / "sdistonly"],
        env=offline_env(wheelhouse),
    )
    project = tmp_path / "needsdist"
    project.mkdir()
    (project / "needsdist.py").write_text("def main():\n    pass\n")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "needsdist"\nversion = "1.0"\ndependencies = ["sdistonly"]\n'
        '[project.scripts]\nneedsdist = "needsdist:main"\n'
    )
    env = cli_env(wheelhouse, links, sdists, extra={"UV_FIND_LINKS": f"{links},{sdists}", "UV_OFFLINE": "1"})
    args = ["build", project, "--no-isolation", "--target", CP39, "-o", f"{tmp_path / 'out'}/"]
    result = exearchive(*args, "-C", "exearchive.resolver=uv", env=env, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "sdistonly" in result.stderr
    assert "for another target uv takes only wheels; resolver = 'pip' builds a dependency" in result.stderr
    succeeded(exearchive(*args, "-C", "exearchive.resolver=pip", env=env, cwd=tmp_path))
