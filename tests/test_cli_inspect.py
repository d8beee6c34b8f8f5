"""``exearchive inspect``: what an archive is, holds and needs, read without running it."""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from cli_support import MANIFEST, exearchive, one_line_error, read_manifest, rewrite_manifest, succeeded
from helpers import Build, clean_env


@pytest.fixture
def hello(build_sample: Callable[[str], Build]) -> Path:
    return build_sample("hello").archive()


def test_text(hello: Path, tmp_path: Path) -> None:
    # no cache root is touched: the archive is read, not run
    result = succeeded(exearchive("inspect", hello, env=clean_env({"EXEARCHIVE_ROOT": str(tmp_path / "root")})))
    assert not (tmp_path / "root").exists()
    lines = result.stdout.splitlines()
    manifest = read_manifest(hello)
    assert lines[0] == "hello 1.0"
    fields = {line[2:20].strip(): line[20:] for line in lines[1:] if line[2:20].strip()}
    assert fields["archive"].startswith(f"{hello} (")
    assert fields["format"] == "1, built with exearchive 0.1.0"
    assert fields["content id"] == manifest["id"]
    assert fields["#! line"] == "/usr/bin/env python3"
    assert fields["entry point"] == "hello = hello.cli:main"
    assert fields["console scripts"] == "hello = hello.cli:main"
    assert fields["distributions"] == "hello 1.0"
    assert fields["needs"] == "Python >=3.8 (hello 1.0: >=3.8)"
    assert f"{manifest['payload']['files']} files, " in fields["payload"]
    assert fields["this interpreter"].endswith(f"({sys.executable}): can run it")
    assert "native code: none (pure Python)" in result.stdout
    assert result.stderr == ""


def test_json(build_sample: Callable[[str], Build]) -> None:
    archive = build_sample("greetcli").archive()
    data = json.loads(succeeded(exearchive("inspect", "--json", "--verify", archive, env=clean_env())).stdout)
    manifest = read_manifest(archive)
    assert (data["name"], data["version"], data["id"], data["format"]) == ("greetcli", "0.5", manifest["id"], 1)
    assert data["archive"] == str(archive)
    assert data["size"] == archive.stat().st_size
    assert data["built_with"] == "exearchive 0.1.0"
    assert data["entry_point"] == {"name": "greetcli", "spec": "greetcli.__main__:main"}
    assert data["scripts"] == {"greetcli": "greetcli.__main__:main"}
    assert [(d["name"], d["version"], d["native"]) for d in data["distributions"]] == [
        ("greetcli", "0.5", False),
        ("greetlib", "2.3", False),
    ]
    assert data["payload"]["files"] == manifest["payload"]["files"]
    assert data["payload"]["verified"] is True
    assert data["payload"]["bytecode_for"] == [sys.implementation.cache_tag]
    assert data["needs"]["native"] == []
    assert data["this_interpreter"]["can_run"] is True
    assert data["this_interpreter"]["problem"] is None


def test_native_code(build_sample: Callable[[str], Build]) -> None:
    data = json.loads(
        succeeded(exearchive("inspect", "--json", build_sample("cext").archive(), env=clean_env())).stdout
    )
    assert [d["native"] for d in data["distributions"]] == [True]
    assert data["needs"]["native"][0]["dist"] == "cext-demo 1.0"
    assert data["this_interpreter"]["can_run"] is True


def test_an_interpreter_that_cannot_run_it(hello: Path, tmp_path: Path) -> None:
    manifest = read_manifest(hello)
    manifest["needs"] = {"requires_python": [{"spec": ">=4.0", "by": "hello 1.0"}]}
    archive = rewrite_manifest(hello, tmp_path / "future.pyz", json.dumps(manifest).encode())
    text = succeeded(exearchive("inspect", archive, env=clean_env())).stdout
    line = next(line for line in text.splitlines() if line.startswith("  this interpreter"))
    assert ": cannot run it: " in line and ">=4.0" in line, line
    data = json.loads(succeeded(exearchive("inspect", "--json", archive, env=clean_env())).stdout)
    assert data["this_interpreter"]["can_run"] is False
    assert ">=4.0" in data["this_interpreter"]["problem"]


def _truncated(hello: Path, path: Path) -> Path:
    path.write_bytes(hello.read_bytes()[: hello.stat().st_size // 2])
    return path


def _plain_zip(hello: Path, path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    return path


def _bad_manifest(hello: Path, path: Path) -> Path:
    return rewrite_manifest(hello, path, b"{not json")


def _newer_format(hello: Path, path: Path) -> Path:
    manifest = read_manifest(hello)
    manifest["format"] = 99
    return rewrite_manifest(hello, path, json.dumps(manifest).encode())


def _text_file(hello: Path, path: Path) -> Path:
    path.write_text("print('hello')\n")
    return path


def _no_payload(hello: Path, path: Path) -> Path:
    with zipfile.ZipFile(hello) as source, zipfile.ZipFile(path, "w") as out:
        for info in source.infolist():
            if not info.filename.endswith("payload.zip"):
                out.writestr(info, source.read(info.filename))
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_text_file, "'{path}' is not an exearchive archive (it is not a zip file)"),
        (_plain_zip, f"'{{path}}' is a zip file but not an exearchive archive (it has no {MANIFEST})"),
        (_truncated, "the archive '{path}' is damaged: it is cut short (a truncated copy of "),
        (_bad_manifest, "the archive '{path}' is damaged: its manifest is not valid JSON ("),
        (_no_payload, "the archive '{path}' is damaged: it has no payload (__exearchive__/payload.zip)"),
        (_newer_format, "'{path}' has archive format 99, newer than this exearchive reads (2)"),
        (lambda hello, path: path, "'{path}' does not exist"),
        (lambda hello, path: path.parent, "'{path}' is a directory, not an archive"),
    ],
    ids=["text", "zip", "truncated", "manifest", "payload", "format", "missing", "directory"],
)
def test_not_an_archive_or_damaged_is_one_line(
    make: Callable[[Path, Path], Path], expected: str, hello: Path, tmp_path: Path
) -> None:
    path = make(hello, tmp_path / "file.pyz")
    message = one_line_error(exearchive("inspect", path, env=clean_env()))
    assert message.startswith(expected.format(path=path)), message
    as_json = exearchive("inspect", "--json", path, env=clean_env())
    assert one_line_error(as_json) == message
    assert json.loads(as_json.stdout) == {"archive": str(path), "error": message}


def test_verify_finds_a_damaged_payload(hello: Path, tmp_path: Path) -> None:
    data = bytearray(hello.read_bytes())
    with zipfile.ZipFile(hello) as archive:
        info = archive.getinfo("__exearchive__/payload.zip")
    middle = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    data[middle] ^= 0xFF
    damaged = tmp_path / "damaged.pyz"
    damaged.write_bytes(bytes(data))
    succeeded(exearchive("inspect", damaged, env=clean_env()))  # only the manifest is read
    message = one_line_error(exearchive("inspect", "--verify", damaged, env=clean_env()))
    assert message.startswith(f"the archive '{damaged}' is damaged: its payload"), message
