"""pip started before its arguments are known (``backend/_pipstart.py``, ``_piprun.py --early``)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from exearchive.backend import _buildcache, _cachedir, _config, _pip, _piprun, _pipstart, _resolve
from test_stage import make_wheel


@pytest.fixture
def links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A find-links directory with one wheel, and pip pointed at it alone."""
    found = tmp_path / "links"
    found.mkdir()
    make_wheel(found, "first", {"first.py": b"A = 1\n"})
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(found))
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    return found


def _pip_command() -> list[str]:
    pip = _pip.command()
    assert pip is not None
    return pip


def test_the_first_pip_run_takes_the_early_pip(links: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    early = _pipstart.Early(_pip_command(), _pipstart.pip_env())
    with caplog.at_level(logging.DEBUG, logger="exearchive"):
        out = _resolve.run_pip(["wheel", "-w", str(tmp_path / "out"), "first"], "first", early=early)
    assert "arguments handed to the pip started early" in caplog.text
    assert "Saved" in out and (tmp_path / "out" / "first-1.0-py3-none-any.whl").is_file()
    # taken once: the next run starts its own pip
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="exearchive"):
        _resolve.run_pip(["wheel", "-w", str(tmp_path / "again"), "first"], "first", early=early)
    assert "started early" not in caplog.text and (tmp_path / "again" / "first-1.0-py3-none-any.whl").is_file()


def test_an_early_pip_that_does_not_fit_is_stopped_and_pip_runs_as_usual(
    links: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    early = _pipstart.Early(_pip_command(), _pipstart.pip_env())
    process = early._process
    assert process is not None
    monkeypatch.setenv("PIP_FIND_LINKS", str(links) + " ")  # pip's settings changed since it started
    with caplog.at_level(logging.DEBUG, logger="exearchive"):
        _resolve.run_pip(["wheel", "-w", str(tmp_path / "out"), "first"], "first", early=early)
    assert "not the pip started early ({'PIP_FIND_LINKS'})" in caplog.text
    assert process.returncode is not None  # stopped, and waited for
    assert (tmp_path / "out" / "first-1.0-py3-none-any.whl").is_file()


def test_pip_failures_through_the_early_pip_say_what_pip_said(links: Path, tmp_path: Path) -> None:
    early = _pipstart.Early(_pip_command(), _pipstart.pip_env())
    with pytest.raises(_resolve.ResolutionError, match="no-such-project"):
        _resolve.run_pip(["wheel", "-w", str(tmp_path / "out"), "no-such-project"], "no-such-project", early=early)


def test_an_early_pip_not_taken_is_stopped(links: Path) -> None:
    early = _pipstart.Early(_pip_command(), _pipstart.pip_env())
    process = early._process
    assert process is not None
    early.stop()
    assert process.returncode is not None


def test_an_empty_stdin_ends_the_early_pip_running_nothing(tmp_path: Path) -> None:
    pip = _pip_command()
    result = subprocess.run(
        [*pip, "--early", "wheel"], input="", capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert pip[:2] == [sys.executable, _piprun.__file__]


def _project(tmp_path: Path, name: str = "My.App") -> Path:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "1"\n')
    return tmp_path


def test_pip_is_started_early_only_when_the_build_will_run_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project(tmp_path)
    cache = tmp_path / "cache"
    monkeypatch.setenv(_buildcache.ENV, str(cache))
    monkeypatch.delenv("UV", raising=False)
    monkeypatch.delenv("PIP_NO_INDEX", raising=False)
    plain = _config.Config()
    assert _pipstart._wanted(plain, project) == _pip.command()
    assert _pipstart._wanted(_config.Config(lock="pylock.toml"), project) is None
    assert _pipstart._wanted(_config.Config(resolver="uv"), project) is None
    monkeypatch.setenv("UV", "/usr/bin/uv")  # under uv build: uv resolves
    assert _pipstart._wanted(plain, project) is None
    monkeypatch.delenv("UV")
    # a remembered resolution of this project is recalled (no pip) only when pip sees no index
    _cachedir.resolution_record(cache, "my-app", "0" * 32).parent.mkdir(parents=True)
    _cachedir.resolution_record(cache, "my-app", "0" * 32).write_text("{}")
    _cachedir.resolution_record(cache, "my-app-two", "1" * 32).write_text("{}")
    assert _pipstart._wanted(plain, project) == _pip.command()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    assert _pipstart._wanted(plain, project) is None
    assert _pipstart._wanted(plain, _project(tmp_path / "other", "my-app-three")) == _pip.command()
    monkeypatch.setenv(_buildcache.ENV, "off")
    assert _pipstart._wanted(plain, project) == _pip.command()


def test_the_record_of_a_resolution_is_named_by_its_project(tmp_path: Path) -> None:
    from exearchive.backend import _resolutions

    wheel = make_wheel(tmp_path, "My_App", {"my_app.py": b""})
    record = _resolutions.record_for(tmp_path / "cache", wheel, (), [], _pip_command(), {"PIP_NO_INDEX": "1"})
    assert record is not None and record.path.name.startswith("my-app.") and record.path.suffix == ".json"
