"""Fixtures: a local wheelhouse and sample projects built once per session."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers import LIBRARIES, ROOT, SAMPLES, TESTS, Build, build_project, check, offline_env


@pytest.fixture(scope="session", autouse=True)
def build_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One build cache for the session's builds (``EXEARCHIVE_BUILD_CACHE``), so none uses the user's."""
    path = tmp_path_factory.mktemp("build-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EXEARCHIVE_BUILD_CACHE", str(path))
        yield path


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pinned build requirements, exearchive itself and the sample libraries, as wheels."""
    house = tmp_path_factory.mktemp("wheelhouse")
    check(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--only-binary=:all:",
            "--dest",
            house,
            "-r",
            TESTS / "build-requirements.txt",
        ]
    )
    env = offline_env(house)
    source = tmp_path_factory.mktemp("exearchive-source")
    # Build exearchive from a copy of the tracked sources, the way a user's pip would.
    shutil.copytree(ROOT / "src", source / "src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, source / name)
    check([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", house, source], env=env)
    for library in LIBRARIES:
        check(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", house, SAMPLES / library],
            env=env,
        )
    return house


@pytest.fixture(scope="session")
def build_sample(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Build]:
    """Build a sample app with ``python -m build`` once per session; return the result."""
    cache: dict[str, Build] = {}

    def build(app: str) -> Build:
        if app not in cache:
            dist = tmp_path_factory.mktemp(f"dist-{app}")
            result = build_project(SAMPLES / app, dist, wheelhouse)
            assert result.returncode == 0, result.output
            cache[app] = result
        return cache[app]

    return build
