"""Unit tests: the archive step's input files appended to an sdist that setuptools made."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from exearchive.backend._errors import ConfigError
from exearchive.backend._sdist import add_inputs


def _sdist(tmp_path: Path, project: Path) -> Path:
    """An sdist written as setuptools writes it (tarfile's ``w|gz`` stream of the release tree)."""
    sdist = tmp_path / "dist" / "app-1.0.tar.gz"
    sdist.parent.mkdir()
    with tarfile.open(str(sdist), "w|gz") as archive:
        archive.add(project / "pyproject.toml", arcname="app-1.0/pyproject.toml")
    return sdist


def _plain_tar(sdist: Path) -> bytes:
    with gzip.open(sdist) as handle:
        return handle.read()


def test_missing_inputs_are_appended_and_the_rest_is_kept_byte_for_byte(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "reqs").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\n")
    (project / "reqs" / "pins.txt").write_text("a<2\n")
    sdist = _sdist(tmp_path, project)
    before, header = _plain_tar(sdist), sdist.read_bytes()[:22]
    files = [("-C exearchive.constraints", "./reqs/pins.txt"), ("[tool.exearchive] lock", "pyproject.toml")]
    assert add_inputs(sdist, files, project) == ["reqs/pins.txt"]
    after = _plain_tar(sdist)
    # setuptools' members are untouched: the new tar starts with the old one's members
    with tarfile.open(fileobj=io.BytesIO(before)) as old:
        end = old.getmembers()[-1].offset_data + 512
    assert after[:end] == before[:end]
    with tarfile.open(sdist) as archive:
        assert archive.getnames() == ["app-1.0/pyproject.toml", "app-1.0/reqs", "app-1.0/reqs/pins.txt"]
        assert archive.extractfile("app-1.0/reqs/pins.txt").read() == b"a<2\n"  # type: ignore[union-attr]
    assert sdist.read_bytes()[:22] == header  # gzip header: flags, date, name
    # nothing missing: the sdist is left as it is
    same = sdist.read_bytes()
    assert add_inputs(sdist, files, project) == []
    assert sdist.read_bytes() == same


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("../pins.txt", "is outside the project"),
        ("/etc/hosts", "is outside the project"),
        ("reqs/../../x", "is outside the project"),
        ("nope.txt", "does not exist in"),
    ],
)
def test_inputs_the_sdist_cannot_carry_are_errors(path: str, problem: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\n")
    sdist = _sdist(tmp_path, project)
    with pytest.raises(ConfigError, match=problem):
        add_inputs(sdist, [("[tool.exearchive] constraints", path)], project)
