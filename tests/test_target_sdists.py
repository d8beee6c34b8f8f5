"""Dependencies published only as an sdist, for another target: built here, kept only where the wheel fits.

``sdistonly`` (pure, depends on ``fakenative``) and ``sdistnative`` (a C extension) are served as sdists
from a find-links directory made here, beside the fake ``fakenative`` wheels of test_targets.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cli_support import cli_env, exearchive, one_line_error, read_manifest, succeeded
from helpers import SAMPLES, check, offline_env, run_archive
from launcher_support import python_or_skip
from test_targets import FAKENATIVE_TAGS, make_wheel

CP39 = "cp39-manylinux_2_17_x86_64"


@pytest.fixture(scope="module")
def sdist_links(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A find-links directory with the two samples as sdists only, and the fakenative wheels."""
    links = tmp_path_factory.mktemp("sdist-links")
    for sample in ("sdistonly", "sdistnative"):
        check(
            [sys.executable, "-m", "build", "--sdist", "--outdir", links, SAMPLES / sample],
            env=offline_env(wheelhouse),
        )
    for tag in FAKENATIVE_TAGS:
        make_wheel(links, "fakenative", "1.0", tag, {"fakenative.py": f"TAG = {tag!r}\n"})
    make_wheel(links, "tomli", "2.0.1", "py3-none-any", {"tomli/__init__.py": ""})
    assert not list(links.glob("sdist*.whl"))
    return links


def _wheels(archive: Path) -> dict[str, str]:
    return {d["name"]: d["wheel"] for d in read_manifest(archive)["distributions"]}


def test_a_pure_sdist_only_dependency_is_built_here_and_kept_for_another_target(
    wheelhouse: Path, sdist_links: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "cp39.pyz"
    env = cli_env(wheelhouse, sdist_links)
    # pip (on 3.11) leaves tomli out for the host's markers: a second round adds it, and keeps the built wheel
    asked = ["sdistonly", "tomli; python_version < '3.11'"]
    succeeded(exearchive("pack", *asked, "--target", CP39, "-o", archive, env=env))
    assert _wheels(archive) == {
        "sdistonly": "sdistonly-1.0-py3-none-any.whl",
        "fakenative": "fakenative-1.0-cp39-cp39-manylinux_2_17_x86_64.whl",
        "tomli": "tomli-2.0.1-py3-none-any.whl",
    }
    result = run_archive(archive, root=tmp_path / "cache", python=python_or_skip("3.9"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "sdistonly tag=cp39-cp39-manylinux_2_17_x86_64 python=3.9"


def test_a_native_sdist_only_dependency_is_refused_for_another_target_naming_it_and_the_fix(
    wheelhouse: Path, sdist_links: Path, tmp_path: Path
) -> None:
    env = cli_env(wheelhouse, sdist_links)
    args = ("pack", "sdistonly", "sdistnative", "-e", "sdistonly", "--target", CP39, "-o", tmp_path / "a.pyz")
    message = one_line_error(exearchive(*args, env=env))
    assert message.startswith(f"sdistnative has no wheel for target {CP39}, only an sdist"), message
    assert "-cp311-" in message or f"-cp{sys.version_info[0]}{sys.version_info[1]}-" in message
    assert "PIP_FIND_LINKS" in message and "complete platform" in message
    assert not (tmp_path / "a.pyz").exists()


def test_the_same_native_sdist_is_built_and_kept_for_the_host(
    wheelhouse: Path, sdist_links: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "host.pyz"
    env = cli_env(wheelhouse, sdist_links)
    succeeded(exearchive("pack", "sdistonly", "sdistnative", "-e", "sdistonly", "-o", archive, env=env))
    host = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    assert _wheels(archive)["sdistnative"].startswith(f"sdistnative-1.0-{host}-{host}-")
