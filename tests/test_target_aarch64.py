"""An aarch64 target for real: targetapp built here (x86_64) for Linux aarch64, run by Debian's arm64 CPython
under qemu-user.

The interpreter comes from Debian's own arm64 packages, fetched with apt into a private state directory (the
machine's apt configuration is not changed) and unpacked into a sysroot for ``qemu-aarch64 -L``; it is kept in
``EXEARCHIVE_TEST_ARM64_ROOT`` (default: ``~/.cache/exearchive-tests/debian-arm64``) for later runs.  qemu-user
is installed with apt-get when it is missing and the tests run as root.  Where any of it cannot be had, the
test is skipped saying which.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_support import cli_env, copy_sample, exearchive, read_manifest, succeeded
from helpers import clean_env, offline_env
from test_targets import make_wheel

_QEMU = ("qemu-aarch64-static", "qemu-aarch64")
_PYTHON = "python3"  # Debian's default CPython for the release: its packages pull in the stdlib and libc


def _qemu() -> str:
    found = next((path for path in map(shutil.which, _QEMU) if path), None)
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "qemu-user-static"], capture_output=True, check=False)
        found = next((path for path in map(shutil.which, _QEMU) if path), None)
    if found is None:
        pytest.skip("qemu-user is not installed (apt-get install qemu-user-static) and could not be installed here")
    return found


def _apt(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    options = [
        "-o", "APT::Architecture=arm64",
        "-o", "APT::Architectures::=arm64",
        "-o", f"Dir::State::Lists={state / 'lists'}",
        "-o", f"Dir::Cache={state / 'cache'}",
        "-o", f"Dir::State::status={state / 'status'}",
        "-o", "Debug::NoLocking=1",
    ]  # fmt: skip
    return subprocess.run(["apt-get", *options, "-q", *args], capture_output=True, text=True, check=False)


def _sysroot() -> Path:
    """A directory holding Debian's arm64 python3 and what it needs (libc, the stdlib), made once."""
    root = Path(os.environ.get("EXEARCHIVE_TEST_ARM64_ROOT") or Path.home() / ".cache/exearchive-tests/debian-arm64")
    done = root / "ready"
    if done.exists():
        return root / "root"
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        pytest.skip("no apt-get and dpkg-deb here to fetch Debian's arm64 python3")
    state = root / "apt"
    for made in (state, root / "root"):  # a run stopped half-way; nothing else under root is touched
        shutil.rmtree(made, ignore_errors=True)
    for directory in (state / "lists/partial", state / "cache/archives/partial"):
        directory.mkdir(parents=True)
    (state / "status").touch()
    for step in (("update",), ("install", "--download-only", "-y", "--no-install-recommends", _PYTHON)):
        result = _apt(state, *step)
        if result.returncode != 0:
            reason = (result.stderr.strip().splitlines() or ["no reason given"])[-1]
            pytest.skip(f"cannot fetch Debian's arm64 {_PYTHON} with apt-get {step[0]}: {reason}")
    for package in sorted((state / "cache/archives").glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(package), str(root / "root")], check=True)
    done.touch()
    return root / "root"


def _arm64_python() -> tuple[list[str], str]:
    """The command that runs the arm64 interpreter under qemu, and its X.Y."""
    if platform.machine() == "aarch64":
        pytest.skip("this machine is aarch64 itself: the test is for building on another architecture")
    qemu = _qemu()
    root = _sysroot()
    command = [qemu, "-L", str(root), str(root / "usr/bin" / _PYTHON)]
    probe = subprocess.run(
        [*command, "-c", "import platform, sys; print(platform.machine(), '%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    words = probe.stdout.split()
    if probe.returncode != 0 or len(words) != 2 or words[0] != "aarch64":
        pytest.skip(f"Debian's arm64 {_PYTHON} does not run under {qemu}: {probe.stderr.strip()[-200:]}")
    return command, words[1]


@pytest.mark.network  # Debian's mirror, the first time
def test_an_archive_built_here_for_aarch64_runs_on_an_aarch64_cpython_under_qemu(
    wheelhouse: Path, tmp_path: Path
) -> None:
    command, version = _arm64_python()
    xy = version.replace(".", "")
    tag = f"cp{xy}-cp{xy}-manylinux_2_17_aarch64"
    links = tmp_path / "links"
    links.mkdir()
    for other in (tag, f"cp{xy}-cp{xy}-manylinux_2_17_x86_64"):
        make_wheel(links, "fakenative", "1.0", other, {"fakenative.py": f"TAG = {other!r}\n"})
    make_wheel(links, "tomli", "2.0.1", "py3-none-any", {"tomli/__init__.py": ""})
    source = copy_sample("targetapp", tmp_path / "sources")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(links), str(source)],
        env=offline_env(wheelhouse),
        check=True,
    )
    target = f"cp{xy}-manylinux_2_28_aarch64"
    archive = tmp_path / "app.pyz"
    succeeded(exearchive("pack", "targetapp", "--target", target, "-o", archive, env=cli_env(wheelhouse, links)))
    assert {d["wheel"] for d in read_manifest(archive)["distributions"]} >= {f"fakenative-1.0-{tag}.whl"}

    env = clean_env({"EXEARCHIVE_ROOT": str(tmp_path / "cache")})
    expected = f"tag={tag} python={version} with={'tomli' if tuple(map(int, version.split('.'))) < (3, 11) else '-'}"
    for start in ("cold", "warm"):
        result = subprocess.run([*command, str(archive)], capture_output=True, text=True, env=env, check=False)
        assert result.returncode == 0, f"{start}: {result.stderr}"
        assert result.stdout.strip() == expected, start
    here = subprocess.run([sys.executable, str(archive)], capture_output=True, text=True, env=env, check=False)
    assert here.returncode == 1 and "aarch64" in here.stderr, here.stderr
