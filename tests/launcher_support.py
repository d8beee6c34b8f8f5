"""Helpers for the launcher tests (``test_launcher_*.py``): craft archives, look at cache roots."""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from helpers import clean_env

PAYLOAD = "__exearchive__/payload.zip"
MANIFEST = "__exearchive__/manifest.json"
ID_LENGTH = 32

# Interpreters the launcher must run on, besides the one running the tests.
OTHER_PYTHONS = {
    "3.8": "/root/.pyenv/versions/3.8.18/bin/python",
    "3.9": "/root/.pyenv/versions/3.9.18/bin/python",
    "3.10": "/root/.pyenv/versions/3.10.13/bin/python",
    "3.12": "/root/.pyenv/versions/3.12.1/bin/python",
    "3.13": "/root/.pyenv/versions/3.13.0/bin/python",
    "pypy3": "/usr/bin/pypy3",
    "debian-3.11": "/usr/bin/python3",  # another 3.11.x than pyenv's
}

# Interpreters too old for the launcher: the archive must refuse them in one line.
OLD_PYTHONS = {
    "2.7": "/root/.pyenv/versions/2.7.18/bin/python",
    "3.6": "/root/.pyenv/versions/3.6.15/bin/python",
    "3.7": "/root/.pyenv/versions/3.7.16/bin/python",
}


def python_or_skip(name: str) -> str:
    """The path of an interpreter from OTHER_PYTHONS or OLD_PYTHONS; skip the test if this machine lacks it."""
    import pytest

    path = {**OTHER_PYTHONS, **OLD_PYTHONS}[name]
    if not os.access(path, os.X_OK):
        hint = " (.ci/run installs it with apt-get)" if name == "pypy3" else ""
        pytest.skip(f"{name} is not installed at {path}{hint}")
    return path


def read_manifest(archive: Path) -> dict[str, Any]:
    with zipfile.ZipFile(archive) as outer:
        manifest: dict[str, Any] = json.loads(outer.read(MANIFEST))
    return manifest


def read_payload(archive: Path) -> bytes:
    with zipfile.ZipFile(archive) as outer:
        return outer.read(PAYLOAD)


def payload_members(archive: Path) -> list[tuple[zipfile.ZipInfo, bytes]]:
    """The payload's members with their contents."""
    with zipfile.ZipFile(io.BytesIO(read_payload(archive))) as payload:
        return [(info, payload.read(info)) for info in payload.infolist()]


def make_payload(members: Iterable[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    """A payload zip holding ``members`` (a ZipInfo keeps its name, mode and type bits)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as payload:
        for info, data in members:
            payload.writestr(info, data)
    return buffer.getvalue()


def member(name: str, mode: int = 0o100644) -> zipfile.ZipInfo:
    """A ZipInfo for a payload member with a given Unix mode (type bits included)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.create_system = 3
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def files_id(payload: bytes) -> str:
    """The content id of a single-target payload as the backend computes it: a hash of its files."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(io.BytesIO(payload)) as inner:
        files = sorted(
            (info.filename, 0o755 if (info.external_attr >> 16) & 0o111 else 0o644, inner.read(info))
            for info in inner.infolist()
            if not info.filename.endswith("/")
        )
    for name, mode, data in files:
        digest.update(b"%s\0%o\0%s\n" % (name.encode(), mode, hashlib.sha256(data).hexdigest().encode()))
    return digest.hexdigest()[:ID_LENGTH]


def rewrite_archive(
    source: Path,
    target: Path,
    *,
    payload: bytes | None = None,
    edit_manifest: Callable[[dict[str, Any]], None] | None = None,
    recompute_id: bool = True,
) -> dict[str, Any]:
    """Copy an archive, optionally with another payload and an edited manifest; return the new manifest.

    With ``recompute_id`` the content id (in ``__main__.py``'s MANIFEST literal
    and in manifest.json) becomes the hash of the new payload, as the backend
    computes it.
    """
    raw = source.read_bytes()
    shebang = raw[: raw.index(b"\n") + 1]
    with zipfile.ZipFile(source) as outer:
        members = [(info, outer.read(info)) for info in outer.infolist()]
    manifest = json.loads(dict((i.filename, d) for i, d in members)[MANIFEST])
    if payload is None:
        payload = dict((i.filename, d) for i, d in members)[PAYLOAD]
    digest = hashlib.sha256(payload).hexdigest()
    manifest["payload"].update(sha256=digest, size=len(payload))
    if recompute_id:
        manifest["id"] = files_id(payload) if manifest.get("target") else digest[:ID_LENGTH]
    if edit_manifest is not None:
        edit_manifest(manifest)
    buffer = io.BytesIO()
    buffer.write(shebang)
    with zipfile.ZipFile(buffer, "w") as outer:
        for info, data in members:
            if info.filename == "__main__.pyc":
                continue  # compiled from the old manifest; zipimport would prefer it to the edited source
            if info.filename == "__main__.py":
                literal = {k: v for k, v in manifest.items() if k != "launcher_files"}  # manifest.json's alone
                data = _replace_manifest_literal(data.decode(), literal).encode()
            elif info.filename == MANIFEST:
                data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
            elif info.filename == PAYLOAD:
                data = payload
            outer.writestr(info, data)
    target.write_bytes(buffer.getvalue())
    target.chmod(0o755)
    return manifest


def _replace_manifest_literal(source: str, manifest: dict[str, Any]) -> str:
    lines = source.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.startswith("MANIFEST = "):
            ast.literal_eval(line[len("MANIFEST = ") :])  # it is one literal on one line
            lines[index] = f"MANIFEST = {manifest!r}\n"
            return "".join(lines)
    raise AssertionError("no MANIFEST literal in __main__.py")


def entries(root: Path) -> list[Path]:
    """The published cache entries under ``root``."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if not p.name.startswith("."))


def leftovers(root: Path) -> list[str]:
    """Temp and trash directories under ``root``."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.name.startswith((".tmp-", ".trash-")))


def listing(tree: Path) -> dict[str, int]:
    """Relative path -> size of every file under ``tree`` (state records and bytecode aside)."""
    found = {}
    for path in tree.rglob("*"):
        relative = path.relative_to(tree).as_posix()
        if path.is_file() and not relative.startswith(".exearchive/") and "__pycache__" not in relative:
            found[relative] = path.stat().st_size
    return found


def snapshot(tree: Path) -> dict[str, tuple[int, int, int]]:
    """Everything under ``tree``: relative path -> (mode, size, mtime_ns), to see that nothing changed."""
    result = {}
    for path in [tree, *tree.rglob("*")]:
        st = path.lstat()
        result[path.relative_to(tree).as_posix()] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return result


def launcher_env(root: Path | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment for an archive run, with ``EXEARCHIVE_ROOT`` when ``root`` is given."""
    env = clean_env({"EXEARCHIVE_ROOT": str(root)} if root is not None else None)
    env.update(extra or {})
    return env


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """Check that a failed run said one line on stderr and no traceback; return the line."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def ro_mount_command(directory: Path, command: list[str]) -> list[str] | None:
    """``command`` run with ``directory`` bind-mounted read-only (root in a private mount namespace), or None."""
    if not (hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("unshare") and shutil.which("mount")):
        return None
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    wrapped = ["unshare", "--mount", "sh", "-c", script, "sh", str(directory), *command]
    probe = subprocess.run(
        [
            "unshare",
            "--mount",
            "sh",
            "-c",
            script + " 2>/dev/null",
            "sh",
            str(directory),
            "sh",
            "-c",
            f'! touch "{directory}/.probe"',
        ],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        (directory / ".probe").unlink(missing_ok=True)
        return None
    return wrapped


def tmpfs_command(directory: Path, size: str, command: list[str]) -> list[str] | None:
    """``command`` run with a tmpfs of ``size`` mounted on ``directory`` (private mount namespace), or None."""
    if not (hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("unshare") and shutil.which("mount")):
        return None
    script = 'mount -t tmpfs -o "size=$2,mode=0700" tmpfs "$1" && shift 2 && exec "$@"'
    probe = subprocess.run(
        ["unshare", "--mount", "sh", "-c", script, "sh", str(directory), size, "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        return None
    return ["unshare", "--mount", "sh", "-c", script, "sh", str(directory), size, *command]


def run_python(
    python: str, archive: Path, *args: str, env: Mapping[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, str(archive), *args],
        env=dict(env),
        cwd=str(cwd or archive.parent),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def on_a_terminal(command: list[str], env: Mapping[str, str], typed: bytes, timeout: float = 60.0) -> tuple[str, int]:
    """Run ``command`` on a pseudo-terminal (stdin, stdout, stderr), type ``typed``: (what it showed, exit code)."""
    import pty
    import select
    import time

    primary, secondary = pty.openpty()
    process = subprocess.Popen(command, stdin=secondary, stdout=secondary, stderr=secondary, env=dict(env))
    os.close(secondary)
    os.write(primary, typed)
    output = b""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.5)
        if ready:
            try:
                output += os.read(primary, 4096)
            except OSError:
                break
    process.wait(timeout=10)
    os.close(primary)
    return output.decode(errors="replace"), process.returncode
