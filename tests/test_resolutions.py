"""Which pip the archive step runs, and resolutions remembered in the build cache (``_pip``, ``_resolutions``)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from exearchive.backend import _hooks, _pip, _piprun, _resolutions, _resolve
from exearchive.backend._buildcache import ENV
from helpers import SAMPLES
from test_stage import make_wheel


def _app(directory: Path, requires: list[str], code: bytes = b"X = 1\n") -> Path:
    """A project wheel ``app`` 1.0 that requires ``requires``."""
    wheel = make_wheel(directory, "app", {"app/__init__.py": code})
    import zipfile

    with zipfile.ZipFile(wheel) as source:
        contents = {name: source.read(name) for name in source.namelist()}
    meta = "app-1.0.dist-info/METADATA"
    contents[meta] += "".join(f"Requires-Dist: {r}\n" for r in requires).encode()
    with zipfile.ZipFile(wheel, "w") as out:  # RECORD is not checked by pip wheel for a local wheel's metadata
        for name, data in contents.items():
            out.writestr(name, data)
    return wheel


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A find-links directory and an environment in which pip sees only it, with a fresh build cache."""
    house = tmp_path / "house"
    house.mkdir()
    make_wheel(house, "dep", {"dep.py": b"V = '1.0'\n"})
    for name in [n for n in os.environ if n.startswith("PIP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(house))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv(ENV, str(tmp_path / "cache"))
    return house


def _resolve_app(tmp_path: Path, name: str, requires: list[str], code: bytes = b"X = 1\n") -> list[Path]:
    project = tmp_path / f"project-{name}"
    project.mkdir()
    return _resolve.resolve(_app(project, requires, code), (), tmp_path / name / "wheels")


def test_the_same_inputs_are_resolved_once(offline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _resolve_app(tmp_path, "first", ["dep"])
    assert [w.name for w in first] == ["app-1.0-py3-none-any.whl", "dep-1.0-py3-none-any.whl"]
    assert len(list((tmp_path / "cache" / _resolutions.DIRECTORY).glob("*.json"))) == 1

    def no_pip(arguments: list[str], subject: str) -> str:
        raise AssertionError("pip ran again")

    monkeypatch.setattr(_resolve, "run_pip", no_pip)
    # only the app's code changed: the same resolution, its wheels in the new wheel directory
    again = _resolve_app(tmp_path, "again", ["dep"], code=b"X = 2\n")
    assert [w.name for w in again] == [w.name for w in first]
    assert all(w.parent == tmp_path / "again" / "wheels" for w in again)
    assert again[1].read_bytes() == (offline / "dep-1.0-py3-none-any.whl").read_bytes()
    assert b"X = 2" in again[0].read_bytes()  # the new project wheel, not the remembered one


def test_a_new_wheel_in_the_find_links_directory_is_seen(offline: Path, tmp_path: Path) -> None:
    _resolve_app(tmp_path, "first", ["dep"])
    make_wheel(offline, "dep", {"dep.py": b"V = '1.1'\n"}, version="1.1")
    assert [w.name for w in _resolve_app(tmp_path, "second", ["dep"])][1] == "dep-1.1-py3-none-any.whl"


def test_a_wheel_changed_in_place_is_not_recalled(offline: Path, tmp_path: Path) -> None:
    _resolve_app(tmp_path, "first", ["dep"])
    wheel = offline / "dep-1.0-py3-none-any.whl"
    record = _record(tmp_path, ["dep"])
    stat = wheel.stat()
    make_wheel(offline, "dep", {"dep.py": b"V = 'other'\n"})
    os.utime(wheel, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same time; the size differs
    assert record is not None and record.recall(tmp_path / "x.whl", tmp_path / "w") is None


def _record(tmp_path: Path, requires: list[str], files: list[Path] | None = None) -> _resolutions.Record | None:
    directory = tmp_path / f"probe-{len(list(tmp_path.glob('probe-*')))}"
    directory.mkdir()
    pip = _pip.command()
    assert pip is not None
    return _resolutions.record_for(tmp_path / "cache", _app(directory, requires), (), files or [], pip)


def test_what_names_a_resolution(offline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = _record(tmp_path, ["dep"])
    assert base is not None
    assert _record(tmp_path, ["dep"]).path == base.path  # type: ignore[union-attr]
    assert _record(tmp_path, ["dep", "other>=2"]).path != base.path  # type: ignore[union-attr]
    hashed = tmp_path / "hashed.txt"
    hashed.write_text("dep==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    assert _record(tmp_path, ["dep"], [hashed]) is not None
    monkeypatch.setenv("PIP_FIND_LINKS", f"{offline} https://example.org/wheels/")
    assert _record(tmp_path, ["dep"]) is None  # a URL: not only local files


@pytest.mark.parametrize(
    ("requires", "text", "env"),
    [
        (["dep"], None, {"PIP_NO_INDEX": None}),
        (["dep"], None, {"PIP_NO_INDEX": "0"}),
        (["dep"], "-c more.txt\n", {"PIP_CONSTRAINT": "REQUIREMENTS"}),
        (["dep @ https://example.org/dep-1.0.tar.gz"], None, {}),
        (["dep"], "-r other.txt\n", {}),
        (["dep"], "--index-url https://example.org/simple\ndep\n", {}),
        (["dep"], "./local/dep\n", {}),
    ],
)
def test_what_is_never_remembered(
    offline: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    requires: list[str],
    text: str | None,
    env: dict[str, str | None],
) -> None:
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value)
    files = []
    if text is not None:
        files.append(tmp_path / "requirements.txt")
        files[0].write_text(text)
    if os.environ.get("PIP_CONSTRAINT") == "REQUIREMENTS":  # a file named by pip's configuration is read too
        monkeypatch.setenv("PIP_CONSTRAINT", str(files.pop()))
    assert _record(tmp_path, requires, files) is None


def test_pip_configuration_files_and_the_files_they_name_are_part_of_the_key(
    offline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "pip.conf"
    config.write_text("[global]\nfind-links = https://example.org/wheels/\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    assert _record(tmp_path, ["dep"]) is None
    config.write_text(f"[global]\nfind-links = {offline}\n")
    first = _record(tmp_path, ["dep"])
    config.write_text(f"[global]\nfind-links = {offline}\ntimeout = 5\n")
    assert first is not None and _record(tmp_path, ["dep"]).path != first.path  # type: ignore[union-attr]
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("dep<2\n")
    config.write_text(f"[global]\nfind-links = {offline}\nconstraint = {constraints}\n")
    named = _record(tmp_path, ["dep"])
    constraints.write_text("dep<3\n")
    assert named is not None and _record(tmp_path, ["dep"]).path != named.path  # type: ignore[union-attr]


def _fake_pip(directory: Path, version: str) -> Path:
    package = directory / "pip"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f'__version__ = "{version}"\n')
    (package / "__pip-runner__.py").write_text("")
    return package


@pytest.mark.parametrize(("version", "found"), [("24.0", True), ("23.1", True), ("23.0.1", False), ("nonsense", False)])
def test_the_pip_of_the_base_interpreter_runs_for_the_build_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str, found: bool
) -> None:
    package = _fake_pip(tmp_path / "base-site", version)
    project = tmp_path / "hello"
    shutil.copytree(SAMPLES / "hello", project)
    monkeypatch.chdir(project)  # the hook reads the project in the current directory, as under a frontend
    monkeypatch.setattr(_pip, "_own_spec", lambda: None)
    monkeypatch.setattr(sys, "base_prefix", str(tmp_path / "base"))
    monkeypatch.setattr(_pip.site, "getsitepackages", lambda prefixes=None: [str(tmp_path / "base-site")])
    expected = [sys.executable, _piprun.__file__, str(package)] if found else None
    assert _pip.command() == expected
    wanted = any(r.startswith("pip") for r in _hooks.get_requires_for_build_wheel({}))
    assert wanted is not found  # the frontend installs pip only when none is found


def test_without_any_pip_resolving_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pip, "command", lambda: None)
    with pytest.raises(_resolve.ResolutionError, match=r"pip \(pip>=23.1\) is not installed for .*; install it"):
        _resolve.run_pip(["wheel", "x"], "x")
