"""The launcher's cache: content-keyed, extracted once under concurrency and kill -9, self-healing, safe.

Every test builds real archives from ``sample_projects/`` (or crafts one from
a built archive) and runs them in subprocesses with a private cache root.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import shutil
import signal
import stat
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import Build, expected_runs, run_archive
from launcher_support import (
    OTHER_PYTHONS,
    entries,
    launcher_env,
    leftovers,
    listing,
    make_payload,
    member,
    one_line_error,
    payload_members,
    python_or_skip,
    read_manifest,
    read_payload,
    rewrite_archive,
    ro_mount_command,
    run_python,
    snapshot,
    tmpfs_command,
)

HELLO_OUT = "Hello from hello 1.0!\nargv: x\nargv0-is-archive: yes\n"


def _extractions(stderr: str) -> int:
    return sum(1 for line in stderr.splitlines() if "] extracted " in line)


# --------------------------------------------------------------------------
# 1. the cache key is the content


def test_content_id_is_a_hash_of_the_files_and_the_payload_hash_is_recorded(
    build_sample: Callable[[str], Build],
) -> None:
    archive = build_sample("hello").archive()
    manifest = read_manifest(archive)
    assert manifest["payload"]["sha256"] == hashlib.sha256(read_payload(archive)).hexdigest()
    with zipfile.ZipFile(io.BytesIO(read_payload(archive))) as payload:
        lines = sorted(
            (info.filename, 0o755 if (info.external_attr >> 16) & 0o111 else 0o644, payload.read(info))
            for info in payload.infolist()
        )
    digest = hashlib.sha256()
    for name, mode, data in lines:
        digest.update(b"%s\0%o\0%s\n" % (name.encode(), mode, hashlib.sha256(data).hexdigest().encode()))
    assert manifest["id"] == digest.hexdigest()[:32]


def test_copied_and_renamed_archive_reuses_the_entry(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    original = build_sample("hello").archive()
    root = tmp_path / "cache"
    first = run_archive(original, "x", root=root, env={"EXEARCHIVE_VERBOSE": "1"})
    assert first.stdout == HELLO_OUT, first.stderr
    assert _extractions(first.stderr) == 1
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy = elsewhere / "renamed-copy.pyz"
    shutil.copy2(original, copy)
    moved = elsewhere / "moved.pyz"
    shutil.copy2(original, tmp_path / "tmp.pyz")
    (tmp_path / "tmp.pyz").rename(moved)
    for archive in (copy, moved):
        result = run_archive(archive, "x", root=root, env={"EXEARCHIVE_VERBOSE": "1"})
        assert result.stdout == HELLO_OUT, result.stderr
        assert _extractions(result.stderr) == 0, result.stderr
        assert "] warm: " in result.stderr
    assert len(entries(root)) == 1


def test_one_byte_change_of_the_payload_gives_another_entry(
    build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    original = build_sample("hello").archive()
    changed = []
    for info, data in payload_members(original):
        if info.filename.endswith(".dist-info/METADATA"):
            assert b"\nVersion: 1.0\n" in data
            data = data.replace(b"\nVersion: 1.0\n", b"\nVersion: 1.1\n")  # one byte
        changed.append((info, data))
    variant = tmp_path / "hello-1.0.pyz"
    manifest = rewrite_archive(original, variant, payload=make_payload(changed))
    assert manifest["id"] != read_manifest(original)["id"]
    root = tmp_path / "cache"
    first = run_archive(original, "x", root=root)
    second = run_archive(variant, "x", root=root, env={"EXEARCHIVE_VERBOSE": "1"})
    assert first.stdout == HELLO_OUT, first.stderr
    assert second.stdout == HELLO_OUT.replace("1.0", "1.1"), second.stderr
    assert _extractions(second.stderr) == 1
    assert [p.name for p in entries(root)] == sorted([manifest["id"], read_manifest(original)["id"]])


# --------------------------------------------------------------------------
# 2. extracted once: concurrency and kill -9


def test_32_simultaneous_first_starts_extract_once(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("greetcli").archive()
    root = tmp_path / "cache"
    env = launcher_env(root, {"EXEARCHIVE_VERBOSE": "1"})
    processes = [
        subprocess.Popen(
            [sys.executable, str(archive), "World"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(32)
    ]
    results = [(p.communicate(timeout=300), p.returncode) for p in processes]
    for (stdout, stderr), code in results:
        assert (stdout, code) == ("Greetings, World!\n", 0), stderr
        assert "Traceback" not in stderr
    assert sum(_extractions(stderr) for (_, stderr), _ in results) == 1
    assert len(entries(root)) == 1
    assert leftovers(root) == []


def _reference_listing(build: Build, tmp_path: Path) -> dict[str, int]:
    root = tmp_path / "reference"
    result = run_archive(build.archive(), "World", root=root)
    assert result.returncode == 0, result.stderr
    [entry] = entries(root)
    return listing(entry)


def _check_nothing_untrusted(root: Path, reference: dict[str, int]) -> None:
    """Whatever a killed start left, every published entry is complete and whole."""
    for entry in entries(root):
        assert (entry / ".exearchive" / "complete").is_file(), f"published without a completion record: {entry}"
        assert listing(entry) == reference


# (point, interpreter): where the start kills itself (EXEARCHIVE_TEST_KILL_AT); "other" is a second
# interpreter whose bytecode is compiled at first start (the payload ships pycs for the build one only).
KILL_POINTS = [
    ("locked", "build"),
    ("made", "build"),
    ("state", "build"),
    ("opened", "build"),
    ("tmp", "build"),
    ("file:1", "build"),
    ("file:10", "build"),
    ("extracted", "build"),
    ("recorded", "build"),
    ("renamed", "build"),
    ("published", "build"),
    ("compiled", "other"),
    ("compiling:2", "other"),
]


@pytest.mark.parametrize(("point", "which"), KILL_POINTS, ids=[f"{p}-{w}" for p, w in KILL_POINTS])
def test_start_killed_at_any_point_leaves_nothing_trusted(
    point: str, which: str, build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    build = build_sample("greetcli")
    archive = build.archive()
    reference = _reference_listing(build, tmp_path)
    python = sys.executable if which == "build" else python_or_skip("3.12")
    root = tmp_path / "cache"
    if point.startswith("compiling"):
        # the entry exists (made by the build interpreter); the other one makes it ready for itself
        assert run_python(sys.executable, archive, "World", env=launcher_env(root)).returncode == 0
    killed = run_python(python, archive, "World", env=launcher_env(root, {"EXEARCHIVE_TEST_KILL_AT": point}))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    _check_nothing_untrusted(root, reference)
    if point in ("renamed", "published", "compiling:2"):
        assert len(entries(root)) == 1
    else:
        assert entries(root) == []
    after = run_python(python, archive, "World", env=launcher_env(root, {"EXEARCHIVE_VERBOSE": "1"}))
    assert (after.stdout, after.returncode) == ("Greetings, World!\n", 0), after.stderr
    assert leftovers(root) == []
    _check_nothing_untrusted(root, reference)
    [entry] = entries(root)
    assert [p.name for p in (entry / ".exearchive").glob("ready-*")], "no ready marker after a good start"


def test_starts_killed_after_random_delays(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    build = build_sample("greetcli")
    archive = build.archive()
    reference = _reference_listing(build, tmp_path)
    began = time.monotonic()
    timing = run_python(sys.executable, archive, "World", env=launcher_env(tmp_path / "timing"))
    cold = time.monotonic() - began
    assert timing.returncode == 0, timing.stderr
    rng = random.Random(int(os.environ.get("EXEARCHIVE_TEST_SEED", "20261124")))
    outcomes = set()
    root = tmp_path / "cache"
    for iteration in range(16):
        if iteration % 3 == 0:
            shutil.rmtree(root, ignore_errors=True)  # a fresh cache, else what the last runs left
        process = subprocess.Popen(
            [sys.executable, str(archive), "World"],
            env=launcher_env(root),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(rng.uniform(0, cold * 1.2))
        process.kill()
        _, stderr = process.communicate(timeout=60)
        outcomes.add(process.returncode)
        assert b"Traceback" not in stderr
        _check_nothing_untrusted(root, reference)
        if iteration % 3 != 2:
            after = run_python(sys.executable, archive, "World", env=launcher_env(root))
            assert (after.stdout, after.returncode) == ("Greetings, World!\n", 0), after.stderr
            _check_nothing_untrusted(root, reference)
            assert len(entries(root)) == 1
            assert leftovers(root) == []
    assert -signal.SIGKILL in outcomes


# --------------------------------------------------------------------------
# 4. self-healing


@pytest.mark.parametrize("damage", ["no-record", "no-record-but-ready", "no-state-dir", "half-written"])
def test_entry_without_completion_record_is_extracted_again(
    damage: str, build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    archive = build_sample("hello").archive()
    root = tmp_path / "cache"
    assert run_archive(archive, "x", root=root).stdout == HELLO_OUT
    [entry] = entries(root)
    state = entry / ".exearchive"
    if damage == "no-record":
        for path in state.iterdir():
            path.unlink()
    elif damage == "no-record-but-ready":
        (state / "complete").unlink()
    elif damage == "no-state-dir":
        shutil.rmtree(state)
    else:  # as if an old launcher had published a half-written tree
        shutil.rmtree(state)
        (entry / "site-packages" / "hello" / "cli.py").write_text("raise SystemExit('stale code ran')\n")
        shutil.rmtree(entry / "site-packages" / "hello" / "__pycache__")
    result = run_archive(archive, "x", root=root, env={"EXEARCHIVE_VERBOSE": "1"})
    assert (result.stdout, result.returncode) == (HELLO_OUT, 0), result.stderr
    assert _extractions(result.stderr) == 1
    assert "Traceback" not in result.stderr
    assert (state / "complete").is_file()
    assert "raise SystemExit" not in (entry / "site-packages" / "hello" / "cli.py").read_text()
    assert leftovers(root) == []


# --------------------------------------------------------------------------
# 5. a safe cache root


def test_root_is_created_private(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("hello").archive()
    root = tmp_path / "a" / "cache"
    assert run_archive(archive, "x", root=root).stdout == HELLO_OUT
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE(entries(root)[0].stat().st_mode) == 0o700


@pytest.mark.parametrize("problem", ["writable-by-others", "owned-by-another-user"])
def test_unsafe_explicit_root_is_refused(problem: str, build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("hello").archive()
    root = tmp_path / "cache"
    root.mkdir()
    if problem == "writable-by-others":
        root.chmod(0o777)
        expected = "others can write to it (mode 777)"
    else:
        if os.geteuid() != 0:
            pytest.skip("only root can give a directory to another user")
        os.chown(root, 65534, 65534)
        root.chmod(0o700)
        expected = "it is owned by another user (uid 65534)"
    line = one_line_error(run_archive(archive, "x", root=root))
    assert f"cannot use the cache root {root}: {expected}; " in line
    assert "EXEARCHIVE_ROOT" in line
    assert list(root.iterdir()) == []


def test_unsafe_default_root_falls_back_to_a_private_dir(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("hello").archive()
    xdg = tmp_path / "xdg"
    (xdg / "exearchive").mkdir(parents=True)
    (xdg / "exearchive").chmod(0o777)
    temp = tmp_path / "temp"
    temp.mkdir()
    env = launcher_env(None, {"XDG_CACHE_HOME": str(xdg), "TMPDIR": str(temp)})
    fallback = temp / f"exearchive-{os.geteuid()}"
    result = run_python(sys.executable, archive, "x", env=env)
    assert (result.stdout, result.returncode) == (HELLO_OUT, 0), result.stderr
    assert result.stderr.splitlines() == [
        f"exearchive: warning: not using the cache root {xdg / 'exearchive'}: others can write to it "
        f"(mode 777); using {fallback} instead (said once; set EXEARCHIVE_ROOT to a private directory you own "
        "to choose the cache root)"
    ]
    # said once, when the fallback root was made; later starts through it are warm and quiet
    again = run_python(sys.executable, archive, "x", env={**env, "EXEARCHIVE_VERBOSE": "1"})
    assert (again.stdout, again.returncode) == (HELLO_OUT, 0), again.stderr
    assert f"] warm: {fallback / read_manifest(archive)['id']}" in again.stderr
    assert "warning" not in again.stderr
    assert list((xdg / "exearchive").iterdir()) == []
    assert len(entries(fallback)) == 1
    assert stat.S_IMODE(fallback.stat().st_mode) == 0o700


def test_default_root_is_the_xdg_cache(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("hello").archive()
    env = launcher_env(None, {"XDG_CACHE_HOME": str(tmp_path / "xdg")})
    result = run_python(sys.executable, archive, "x", env=env)
    assert (result.stdout, result.stderr) == (HELLO_OUT, "")
    assert len(entries(tmp_path / "xdg" / "exearchive")) == 1


def _read_only(root: Path, python: str, archive: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = ro_mount_command(root, [python, str(archive), "x"])
    if command is None:
        pytest.skip("needs root and unshare/mount to make a read-only bind mount")
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=str(archive.parent))


def test_read_only_root_holding_the_entry_runs_without_writing(
    build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    archive = build_sample("hello").archive()
    root = tmp_path / "cache"
    assert run_archive(archive, "x", root=root).returncode == 0
    # the last-use time is old: a writable cache would be touched
    [entry] = entries(root)
    for marker in (entry / ".exearchive").glob("ready-*"):
        os.utime(marker, (time.time() - 7200, time.time() - 7200))
    before = snapshot(root)
    env = launcher_env(root, {"EXEARCHIVE_VERBOSE": "1"})
    warm = _read_only(root, sys.executable, archive, env)
    assert (warm.stdout, warm.returncode) == (HELLO_OUT, 0), warm.stderr
    assert "] warm: " in warm.stderr
    # another interpreter: not ready for it, and no bytecode can be written; it still runs
    other = OTHER_PYTHONS["3.12"]
    if os.access(other, os.X_OK):
        cold = _read_only(root, other, archive, env)
        assert (cold.stdout, cold.returncode) == (HELLO_OUT, 0), cold.stderr
        assert "Traceback" not in cold.stderr
    assert snapshot(root) == before


def test_read_only_root_without_the_entry(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("hello").archive()
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    line = one_line_error(_read_only(root, sys.executable, archive, launcher_env(root)))
    assert line.endswith(
        f"error: cannot use the cache root {root}: it is read-only and does not hold this archive's files; "
        "set EXEARCHIVE_ROOT to a private directory you own"
    )
    # the default root falls back to a private directory instead, and says so in one line
    xdg = tmp_path / "xdg"
    (xdg / "exearchive").mkdir(parents=True, mode=0o700)
    temp = tmp_path / "temp"
    temp.mkdir()
    env = launcher_env(None, {"XDG_CACHE_HOME": str(xdg), "TMPDIR": str(temp)})
    result = _read_only(xdg / "exearchive", sys.executable, archive, env)
    assert (result.stdout, result.returncode) == (HELLO_OUT, 0), result.stderr
    [line] = result.stderr.splitlines()
    assert "read-only and does not hold this archive's files; using" in line
    assert len(entries(temp / f"exearchive-{os.geteuid()}")) == 1


def test_full_disk_is_one_line_and_leaves_nothing(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("greetcli").archive()
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    listing_script = 'python=$1; shift; "$python" "$@"; code=$?; ls -A "$EXEARCHIVE_ROOT"; exit $code'
    inner = ["sh", "-c", listing_script, "sh", sys.executable, str(archive), "World"]
    command = tmpfs_command(root, "40k", inner)
    if command is None:
        pytest.skip("needs root and unshare/mount to mount a small tmpfs")
    result = subprocess.run(command, env=launcher_env(root), capture_output=True, text=True, check=False)
    line = one_line_error(result)
    assert "No space left on device" in line, line
    assert result.stdout.split() == [".locks"]  # what the root held afterwards: no temp dir, no entry


UNSAFE_MEMBERS = {
    "absolute": (member("/tmp-evil-absolute.txt"), "unsafe member name"),
    "dotdot": (member("../evil.txt"), "unsafe member name"),
    "nested-dotdot": (member("site-packages/../../evil.txt"), "unsafe member name"),
    "backslash": (member("..\\evil.txt"), "unsafe member name"),
    "symlink": (member("site-packages/evil", stat.S_IFLNK | 0o777), "a link or device"),
    "char-device": (member("site-packages/evil", stat.S_IFCHR | 0o666), "a link or device"),
    "fifo": (member("site-packages/evil", stat.S_IFIFO | 0o666), "a link or device"),
}


@pytest.mark.parametrize("kind", sorted(UNSAFE_MEMBERS))
def test_unsafe_member_is_refused(kind: str, build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    original = build_sample("hello").archive()
    bad, message = UNSAFE_MEMBERS[kind]
    members = payload_members(original)
    data = b"/etc/passwd" if kind == "symlink" else b"evil\n"
    crafted = tmp_path / "dist" / "hello-1.0.pyz"
    crafted.parent.mkdir()
    # crafted payloads are not what the id says: the launcher does not hash on extraction
    rewrite_archive(
        original, crafted, payload=make_payload([*members[:3], (bad, data), *members[3:]]), recompute_id=False
    )
    root = tmp_path / "cache"
    line = one_line_error(run_archive(crafted, "x", root=root))
    assert message in line
    assert entries(root) == []
    assert leftovers(root) == []
    assert not list(tmp_path.rglob("evil*"))
    assert not Path("/tmp-evil-absolute.txt").exists()


def test_damaged_payload_is_one_line(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    original = build_sample("hello").archive()
    payload = bytearray(read_payload(original))
    info = max((i for i, _ in payload_members(original)), key=lambda i: i.compress_size)
    # flip one byte in the middle of a member's compressed data
    name_length, extra_length = struct.unpack("<HH", payload[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    payload[start + info.compress_size // 2] ^= 0xFF
    damaged = tmp_path / "hello-1.0.pyz"
    rewrite_archive(original, damaged, payload=bytes(payload), recompute_id=False)
    root = tmp_path / "cache"
    line = one_line_error(run_archive(damaged, "x", root=root))
    assert "is damaged" in line
    assert entries(root) == [] and leftovers(root) == []


def test_content_id_that_is_not_a_plain_name_is_refused(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    original = build_sample("hello").archive()
    crafted = tmp_path / "hello-1.0.pyz"

    def escape(manifest: dict[str, object]) -> None:
        manifest["id"] = "../escaped"

    rewrite_archive(original, crafted, edit_manifest=escape)
    root = tmp_path / "deep" / "cache"
    line = one_line_error(run_archive(crafted, "x", root=root))
    assert "content id '../escaped' is not a plain name" in line
    assert not (tmp_path / "deep" / "escaped").exists()


def test_runs_are_as_documented_after_cache_games(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    """A sanity check that the documented runs still hold on a reused, healed cache."""
    archive = build_sample("hello").archive()
    root = tmp_path / "cache"
    for case in expected_runs("hello"):
        result = run_archive(archive, *case["args"], root=root)  # type: ignore[misc]
        assert (result.stdout, result.returncode) == (case["stdout"], case["returncode"])


def test_unforeseen_launcher_failure_is_one_line_unless_verbose(
    build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    original = build_sample("hello").archive()
    crafted = tmp_path / "hello-1.0.pyz"

    def drop_id(manifest: dict[str, object]) -> None:
        del manifest["id"]

    rewrite_archive(original, crafted, edit_manifest=drop_id)
    result = run_archive(crafted, "x", root=tmp_path / "cache")
    line = one_line_error(result)
    assert result.returncode == 70
    assert line == (
        "hello-1.0.pyz: error: the launcher failed: 'id' (KeyError); run with EXEARCHIVE_VERBOSE=1 for details"
    )
    verbose = run_archive(crafted, "x", root=tmp_path / "cache", env={"EXEARCHIVE_VERBOSE": "1"})
    assert verbose.returncode == 70
    assert "Traceback (most recent call last):" in verbose.stderr
    assert verbose.stderr.endswith(line + "\n")
