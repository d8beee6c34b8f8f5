"""Unit tests: staging wheels with installer — RECORD checks, unsafe paths, collisions."""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from pathlib import Path

import pytest

from exearchive.backend._errors import ExearchiveError, StagingError
from exearchive.backend._stage import stage
from exearchive.backend._staged import Distribution, Staged, check_complete, read


def make_wheel(
    directory: Path, name: str, files: dict[str, bytes], version: str = "1.0", bad_record: str | None = None
) -> Path:
    """A minimal, valid (unless asked otherwise) pure wheel."""
    dist_info = f"{name}-{version}.dist-info"
    contents = dict(files)
    contents[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    contents[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    lines = []
    for path, data in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        if path == bad_record:
            digest = "A" * 43
        lines.append(f"{path},sha256={digest},{len(data)}")
    lines.append(f"{dist_info}/RECORD,,")
    contents[f"{dist_info}/RECORD"] = ("\n".join(lines) + "\n").encode()
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in contents.items():
            archive.writestr(path, data)
    return wheel


def test_wheels_are_staged_into_one_tree(tmp_path: Path) -> None:
    one = make_wheel(tmp_path, "one", {"one/__init__.py": b"A = 1\n", "ns/one.py": b""})
    two = make_wheel(tmp_path, "two", {"two.py": b"B = 2\n", "ns/two.py": b""})
    root = stage([one, two], tmp_path / "stage", requested="one")
    site = root / "site-packages"
    assert (site / "one" / "__init__.py").read_bytes() == b"A = 1\n"
    assert sorted(p.name for p in (site / "ns").iterdir()) == ["one.py", "two.py"]  # namespace packages merge
    assert (site / "one-1.0.dist-info" / "INSTALLER").read_text() == "exearchive\n"
    assert (site / "one-1.0.dist-info" / "REQUESTED").exists()
    assert not (site / "two-1.0.dist-info" / "REQUESTED").exists()
    record = (site / "one-1.0.dist-info" / "RECORD").read_text()
    assert str(tmp_path) not in record


def test_record_mismatch_stops_staging(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "bad", {"bad.py": b"x = 1\n"}, bad_record="bad.py")
    with pytest.raises(StagingError, match=r"cannot stage bad-1\.0-py3-none-any\.whl: .*bad\.py"):
        stage([wheel], tmp_path / "stage")


@pytest.mark.parametrize(
    ("path", "files"),
    [
        ("bad-1.0.dist-info/METADATA", {"bad.py": b"x = 1\n"}),  # metadata, checked as installer reads it
        ("bad-1.0.data/scripts/tool", {"bad-1.0.data/scripts/tool": b"#!python\nprint(1)\n"}),  # rewound by installer
        ("bad-1.0.data/data/share/x.txt", {"bad-1.0.data/data/share/x.txt": b"data\n"}),
    ],
)
def test_every_kind_of_file_is_checked_against_record(path: str, files: dict[str, bytes], tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "bad", files, bad_record=path)
    with pytest.raises(StagingError, match=rf"cannot stage bad-1\.0-py3-none-any\.whl: .*{re.escape(path)}"):
        stage([wheel], tmp_path / "stage")


def test_an_intact_wheel_with_scripts_and_data_stages(tmp_path: Path) -> None:
    files = {"good.py": b"", "good-1.0.data/scripts/tool": b"#!python\nprint(1)\n", "good-1.0.data/data/x": b"x"}
    root = stage([make_wheel(tmp_path, "good", files)], tmp_path / "stage")
    assert (root / "bin" / "tool").read_bytes().endswith(b"print(1)\n")
    assert (root / "data" / "x").read_bytes() == b"x"


def test_writing_outside_the_tree_stops_staging(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "evil", {"evil-1.0.data/data/../../../escaped.txt": b"x"})
    with pytest.raises(StagingError, match="evil"):
        stage([wheel], tmp_path / "stage")
    assert not list(tmp_path.rglob("escaped.txt"))


def test_two_wheels_writing_one_file_differently_stop_staging(tmp_path: Path) -> None:
    first = make_wheel(tmp_path, "first", {"shared/mod.py": b"A = 1\n"})
    second = make_wheel(tmp_path, "second", {"shared/mod.py": b"A = 2\n"})
    with pytest.raises(StagingError) as caught:
        stage([first, second], tmp_path / "stage")
    assert str(caught.value) == (
        "first-1.0-py3-none-any.whl and second-1.0-py3-none-any.whl "
        "both install 'shared/mod.py' with different contents"
    )


def test_identical_files_from_two_wheels_are_allowed(tmp_path: Path) -> None:
    init = b"__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n"
    first = make_wheel(tmp_path, "first", {"nspkg/__init__.py": init, "nspkg/a.py": b""})
    second = make_wheel(tmp_path, "second", {"nspkg/__init__.py": init, "nspkg/b.py": b""})
    site = stage([first, second], tmp_path / "stage") / "site-packages"
    assert (site / "nspkg" / "__init__.py").read_bytes() == init
    assert "nspkg/__init__.py" in (site / "second-1.0.dist-info" / "RECORD").read_text()


def _dist(name: str, requires: list[str]) -> Distribution:
    return Distribution(name, "1.0", None, requires, {}, ["py3-none-any"], True, f"{name}-1.0-py3-none-any.whl")


def test_extras_requested_under_an_unmet_marker_require_nothing(tmp_path: Path) -> None:
    # boto3 -> 'botocore[crt]; extra == "crt"' must not make botocore's crt extra required
    staged = Staged(
        tmp_path,
        [
            _dist("app", ["boto3"]),
            _dist("boto3", ['botocore[crt]; extra == "crt"', "botocore"]),
            _dist("botocore", ['awscrt==0.38; extra == "crt"']),
        ],
    )
    check_complete(staged, (), "app", "pip")
    with pytest.raises(ExearchiveError, match=r"botocore 1\.0 requires awscrt==0\.38; extra == \"crt\""):
        check_complete(staged, ("crt",), "boto3", "pip")


def test_extras_chain_through_distributions(tmp_path: Path) -> None:
    staged = Staged(tmp_path, [_dist("app", ["lib[fast]"]), _dist("lib", ['accel; extra == "fast"'])])
    with pytest.raises(ExearchiveError, match=r"lib 1\.0 requires accel"):
        check_complete(staged, (), "app", "pip")


def test_plain_scripts_are_found_and_told_apart_from_console_scripts(tmp_path: Path) -> None:
    scripts = "tool-1.0.data/scripts"
    wheel = make_wheel(
        tmp_path,
        "tool",
        {
            "tool.py": b"def main(): pass\n",
            "tool-1.0.dist-info/entry_points.txt": b"[console_scripts]\ntool-cli = tool:main\n",
            f"{scripts}/py-rewritten": b"#!python\nprint(1)\n",
            f"{scripts}/py-env": b"#!/usr/bin/env python3.12 -u\nprint(1)\n",
            f"{scripts}/py-pypy": b"#!/usr/bin/pypy3\nprint(1)\n",
            f"{scripts}/helper.py": b"print(1)\n",
            f"{scripts}/shell": b"#!/bin/bash\necho 1\n",
            f"{scripts}/cmd.bat": b"@echo off\r\n",
            f"{scripts}/binary": b"\x7fELF\x02\x01\x01\x00",
        },
    )
    root = stage([wheel], tmp_path / "stage")
    staged = read(root, [wheel])
    [dist] = staged.distributions
    assert dist.console_scripts == {"tool-cli": "tool:main"}
    assert dist.python_scripts == ["helper.py", "py-env", "py-pypy", "py-rewritten"]
    assert dist.other_scripts == {"binary": "", "cmd.bat": "", "shell": "/bin/bash"}
    assert staged.script_files()["py-env"] == "bin/py-env"
    assert staged.other_scripts()["shell"] == "a plain script of tool 1.0 run by /bin/bash"
    assert staged.other_scripts()["binary"] == "a plain script of tool 1.0 without a #! line"
