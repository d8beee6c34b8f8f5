"""Damage is detected everywhere: ``inspect --verify``, the in-archive ``verify`` and the launcher agree.

Every archive here is a real one (the hello sample) damaged the way disks,
copies and hands damage files: zeroed bytes in the launcher's bytecode, a
launcher member replaced (its CRC-32 right, its hash wrong), payload members
the launcher refuses (twice, a link), bytes appended, a damaged
``manifest.json``, a truncated copy.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from cli_support import exearchive
from helpers import Build, clean_env, run_archive
from launcher_support import (
    entries,
    launcher_env,
    leftovers,
    member,
    one_line_error,
    payload_members,
    python_or_skip,
    read_manifest,
    rewrite_archive,
    run_python,
)

BOOT_PYC = "_exearchive_runtime/_boot.pyc"
TOOLS = {"EXEARCHIVE_TOOLS": "1"}


@pytest.fixture(scope="module")
def hello(build_sample: Callable[[str], Build]) -> Path:
    return build_sample("hello").archive()


def _zero(archive: Path, target: Path, name: str, at: int = 64, count: int = 16) -> Path:
    """A copy of ``archive`` with ``count`` bytes of member ``name``'s stored data zeroed."""
    raw = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as outer:
        info = outer.getinfo(name)
    offset = info.header_offset
    name_len, extra_len = struct.unpack("<HH", raw[offset + 26 : offset + 30])
    data = offset + 30 + name_len + extra_len
    raw[data + at : data + at + count] = bytes(count)
    target.write_bytes(bytes(raw))
    target.chmod(0o755)
    return target


def _replace_member(archive: Path, target: Path, name: str, data: bytes) -> Path:
    """A copy of ``archive`` with member ``name`` holding ``data`` (its CRC-32 correct for it)."""
    raw = archive.read_bytes()
    with zipfile.ZipFile(archive) as outer:
        members = [(info, outer.read(info)) for info in outer.infolist()]
    with target.open("wb") as out:
        out.write(raw[: raw.index(b"\n") + 1])
        with zipfile.ZipFile(out, "w") as copy:
            for info, content in members:
                copy.writestr(info, data if info.filename == name else content)
    target.chmod(0o755)
    return target


def _inspect(archive: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = exearchive("inspect", *args, str(archive), env=clean_env(), cwd=cwd)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _verify_tool(archive: Path, root: Path) -> subprocess.CompletedProcess[str]:
    result = run_archive(archive, "verify", root=root, env=TOOLS)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_an_intact_archive_is_verified_everywhere(hello: Path, tmp_path: Path) -> None:
    manifest = read_manifest(hello)
    with zipfile.ZipFile(hello) as outer:
        runtime = sorted(n for n in outer.namelist() if n.startswith("_exearchive_runtime/"))
    assert sorted(manifest["launcher_files"]) == runtime
    assert BOOT_PYC in runtime
    result = _inspect(hello, "--verify")
    assert result.returncode == 0, result.stderr
    assert "every member verified" in result.stdout
    root = tmp_path / "cache"
    assert run_archive(hello, root=root).returncode == 0
    verified = _verify_tool(hello, root)
    assert verified.returncode == 0, verified.stdout
    assert "verify: intact: the archive (every member)" in verified.stdout


@pytest.mark.parametrize("how", ["zeroed bytes", "replaced, CRC-32 right"])
def test_a_damaged_launcher_is_refused_before_it_runs(hello: Path, tmp_path: Path, how: str) -> None:
    damaged = tmp_path / "damaged.pyz"
    if how == "zeroed bytes":
        _zero(hello, damaged, BOOT_PYC)
    else:
        with zipfile.ZipFile(hello) as outer:
            boot = bytearray(outer.read(BOOT_PYC))
        boot[200:216] = bytes(16)
        _replace_member(hello, damaged, BOOT_PYC, bytes(boot))
    line = one_line_error(run_archive(damaged, root=tmp_path / "cache"))
    assert f"is damaged: its launcher file {BOOT_PYC} is not what was built" in line
    assert not (tmp_path / "cache").exists() or not any(p for p in (tmp_path / "cache").iterdir())
    said = _inspect(damaged, "--verify")
    assert said.returncode == 1
    assert BOOT_PYC in said.stderr and "is damaged" in said.stderr
    # the tools check the launcher they run on even where the entry is ready (made by an intact copy)
    root = tmp_path / "cache2"
    assert run_archive(hello, root=root).returncode == 0
    tool = _verify_tool(damaged, root)
    assert f"is damaged: its launcher file {BOOT_PYC} is not what was built" in one_line_error(tool)


@pytest.mark.parametrize("which", ["3.8", "3.12", "pypy3"])
def test_another_interpreter_refuses_damaged_launcher_sources(hello: Path, tmp_path: Path, which: str) -> None:
    python = python_or_skip(which)
    damaged = _zero(hello, tmp_path / "damaged.pyz", "_exearchive_runtime/_boot.py", at=100)  # deflated bytes
    result = run_python(python, damaged, env=launcher_env(tmp_path / "cache"))
    assert "is damaged: its launcher file _exearchive_runtime/_boot.py is not what was built" in one_line_error(result)
    intact = run_python(python, hello, env=launcher_env(tmp_path / "cache"))
    assert intact.returncode == 0, intact.stderr


def _payload_variant(hello: Path, tmp_path: Path, kind: str) -> Path:
    members = [(info, data) for info, data in payload_members(hello)]
    if kind == "twice":
        first = next((info, data) for info, data in members if not info.filename.endswith("/"))
        members.append((first[0], b"# another copy\n"))
    else:
        members.append((member("site-packages/hello/link.py", 0o120777), b"/etc/passwd"))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as payload:
            for info, data in members:
                payload.writestr(info, data)
    target = tmp_path / f"{kind}.pyz"
    rewrite_archive(hello, target, payload=buffer.getvalue(), edit_manifest=lambda m: m["payload"].update(files=None))
    return target


@pytest.mark.parametrize("kind", ["twice", "link"])
def test_payload_members_the_launcher_refuses_are_damage_for_inspect(hello: Path, tmp_path: Path, kind: str) -> None:
    archive = _payload_variant(hello, tmp_path, kind)
    refused = run_archive(archive, root=tmp_path / "cache")
    assert refused.returncode != 0
    one_line_error(refused)
    said = _inspect(archive, "--verify")
    assert said.returncode == 1, said.stdout
    assert ("twice" if kind == "twice" else "a link or device") in said.stderr
    assert "can run it" not in said.stdout


def _with_crc(payload: bytes, name: str, crc: int) -> bytes:
    """``payload`` with member ``name``'s CRC-32 set to ``crc`` in its local header and its directory entry."""
    data = bytearray(payload)
    with zipfile.ZipFile(io.BytesIO(payload)) as inner:
        struct.pack_into("<I", data, inner.getinfo(name).header_offset + 14, crc)
    pos = struct.unpack_from("<I", payload, payload.rindex(b"PK\x05\x06") + 16)[0]
    while payload[pos : pos + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", payload, pos + 28)
        if payload[pos + 46 : pos + 46 + name_len] == name.encode():
            struct.pack_into("<I", data, pos + 16, crc)
        pos += 46 + name_len + extra_len + comment_len
    return bytes(data)


def test_a_damaged_file_is_named_and_nothing_is_kept(hello: Path, tmp_path: Path) -> None:
    """A member whose bytes changed since the build (same size, a valid deflate stream, its CRC-32 now wrong).

    The cold path hashes the files it writes instead of checking their CRC-32;
    when they do not hash to the content id, the CRC-32s name the damaged one.
    """
    assert read_manifest(hello)["target"]  # an archive whose content id is a hash of its files
    members = payload_members(hello)
    info, data = next((i, d) for i, d in members if i.filename.endswith("hello/cli.py"))
    changed = data.replace(b"Hello", b"Jello")
    assert changed != data and len(changed) == len(data)
    crc = info.CRC  # writestr sets the new data's
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as payload:
        for item, content in members:
            payload.writestr(item, changed if item is info else content)
    damaged = tmp_path / "damaged.pyz"
    rewrite_archive(hello, damaged, payload=_with_crc(buffer.getvalue(), info.filename, crc), recompute_id=False)
    root = tmp_path / "cache"
    line = one_line_error(run_archive(damaged, "x", root=root))
    assert f"the archive {damaged} is damaged ({info.filename}: its data does not match its size and CRC-32)" in line
    assert entries(root) == [] and leftovers(root) == []
    said = _inspect(damaged, "--verify")
    assert said.returncode == 1 and info.filename in said.stderr
    assert run_archive(hello, "x", root=root).returncode == 0


def test_a_misstated_payload_hash_is_left_to_verify(hello: Path, tmp_path: Path) -> None:
    """The manifest's ``payload.sha256`` wrong, every member intact: the launcher runs, ``verify`` names it.

    The cold path checks what it writes, every byte, against the content id
    (a hash of the files); it does not hash the payload as a whole as well.
    """
    archive = tmp_path / "misstated.pyz"
    rewrite_archive(hello, archive, edit_manifest=lambda m: m["payload"].update(sha256="0" * 64))
    root = tmp_path / "cache"
    ran = run_archive(archive, "x", root=root)
    assert ran.returncode == 0, ran.stderr
    assert len(entries(root)) == 1
    said = _inspect(archive, "--verify")
    assert said.returncode == 1
    assert "its payload's SHA-256 is" in said.stderr and "the manifest says " + "0" * 64 in said.stderr


def test_appended_bytes(hello: Path, tmp_path: Path) -> None:
    archive = tmp_path / "appended.pyz"
    archive.write_bytes(hello.read_bytes() + b"appended by a careless copy\n")
    archive.chmod(0o755)
    assert "is damaged" in one_line_error(run_archive(archive, root=tmp_path / "cache"))
    said = _inspect(archive, "--verify")
    assert said.returncode == 1
    assert "28 bytes were appended after the end of its zip" in said.stderr


def test_a_damaged_manifest_json(hello: Path, tmp_path: Path) -> None:
    archive = _zero(hello, tmp_path / "manifest.pyz", "__exearchive__/manifest.json", at=8)
    for args in ((), ("--verify",), ("--json",)):
        said = _inspect(archive, *args)
        assert said.returncode == 1, (args, said.stdout, said.stderr)
        assert "is damaged: its manifest" in said.stderr
        assert len(said.stderr.strip().splitlines()) == 1
    tool = _verify_tool(archive, tmp_path / "cache")
    assert tool.returncode == 1
    assert "manifest.json" in tool.stdout


def test_a_truncated_archive_is_explained_by_inspect(hello: Path, tmp_path: Path) -> None:
    raw = hello.read_bytes()
    archive = tmp_path / "truncated.pyz"
    archive.write_bytes(raw[: len(raw) // 2])
    archive.chmod(0o755)
    ran = run_archive(archive, root=tmp_path / "cache")
    assert ran.returncode != 0
    assert "source code cannot contain null bytes" in ran.stderr  # Python's own words, before any of ours
    for args in ((), ("--verify",)):
        said = _inspect(archive, *args)
        assert said.returncode == 1
        [line] = said.stderr.strip().splitlines()
        assert "is damaged: it is cut short (a truncated copy" in line, line


def test_a_deleted_working_directory_with_a_relative_path(hello: Path, tmp_path: Path) -> None:
    (tmp_path / "a" / "gone").mkdir(parents=True)
    archive = tmp_path / "app.pyz"
    archive.write_bytes(hello.read_bytes())
    archive.chmod(0o755)
    code = (
        "import os, subprocess, sys\n"
        "os.chdir(sys.argv[1]); os.rmdir(sys.argv[1])\n"
        "r = subprocess.run(sys.argv[2:], capture_output=True, text=True)\n"
        "sys.stdout.write(r.stderr); sys.exit(r.returncode)\n"
    )
    env = clean_env({"EXEARCHIVE_ROOT": str(tmp_path / "cache")})
    relative = os.path.join("..", "..", "app.pyz")
    for command in (
        [sys.executable, relative],
        [sys.executable, "-m", "exearchive.cli", "inspect", relative],
    ):
        result = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / "a" / "gone"), *command],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert result.returncode == 1, result.stdout
        assert "Traceback" not in result.stdout
        [line] = result.stdout.strip().splitlines()
        assert "the current directory no longer exists" in line, line
        (tmp_path / "a" / "gone").mkdir()
