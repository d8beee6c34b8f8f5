"""What cold starts, ``cache prune`` and ``cache clear`` remove, and what they must leave alone.

A temp directory is live while a process holds the lock inside it, whatever
its PID says (another PID namespace, another host); only names that are
exactly ours are touched; an entry stays in use while a process that
inherited its use lock runs; leftovers that resist removal (a file, mode-000
directories) go anyway.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cli_support import exearchive, succeeded
from helpers import Build, clean_env, run_archive
from launcher_support import ID_LENGTH, read_manifest

HOUR = 3600.0
# a PID that no process has here: the start that made such a temp dir runs in another PID namespace (or host)
FOREIGN_PID = 4_000_000_000


@pytest.fixture(scope="module")
def hello(build_sample: Callable[[str], Build]) -> Path:
    return build_sample("hello").archive()


def _tmp_dir(root: Path, entry_id: str, token: str, *, lock_text: str = "1 otherhost 0\n") -> Path:
    """A temp dir as a start makes it: its state directory and the lock file inside."""
    tmp = root / f".tmp-{entry_id}-{FOREIGN_PID}-{token}"
    (tmp / "site-packages").mkdir(parents=True)
    (tmp / "site-packages" / "half.py").write_text("x = 1\n")
    (tmp / ".exearchive").mkdir()
    (tmp / ".exearchive" / "extracting").write_text(lock_text)
    return tmp


def _backdate(path: Path, seconds: float) -> None:
    when = time.time() - seconds
    os.utime(path, (when, when))


@pytest.fixture
def held_lock() -> Iterator[Callable[[Path], None]]:
    """Hold a temp dir's lock from a live process (this one), as a start in another PID namespace would."""
    held: list[int] = []

    def hold(tmp: Path) -> None:
        fd = os.open(tmp / ".exearchive" / "extracting", os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)
        held.append(fd)

    yield hold
    for fd in held:
        os.close(fd)


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    result = exearchive(*args, env=clean_env())
    assert "Traceback" not in result.stderr, result.stderr
    return result


# --------------------------------------------------------------------------
# 4. a live extraction is not a leftover


def test_a_live_extraction_of_another_namespace_is_left_alone(
    hello: Path, tmp_path: Path, held_lock: Callable[[Path], None]
) -> None:
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    other_id = "0" * ID_LENGTH
    live = _tmp_dir(root, other_id, "0badf00d")
    _backdate(live, 2 * HOUR)  # old, and its PID is not a process here: only its lock says it is live
    held_lock(live)
    dead = _tmp_dir(root, other_id, "deadbeef")
    _backdate(dead, 2 * HOUR)
    young = _tmp_dir(root, other_id, "5ca1ab1e", lock_text="")  # made, lock not yet written: within the grace

    result = run_archive(hello, root=root, env={"EXEARCHIVE_VERBOSE": "1"})  # a cold start sweeps leftovers
    assert result.returncode == 0, result.stderr
    assert live.is_dir() and (live / "site-packages" / "half.py").is_file()
    assert young.is_dir()
    assert not dead.exists()
    assert f"removed leftover {dead.name}" in result.stderr

    for action in (("prune",), ("clear",), ("prune", "--days", "0")):
        pruned = _cli("cache", *action, "--root", root)
        assert pruned.returncode == 0, pruned.stdout + pruned.stderr
        assert live.is_dir() and young.is_dir(), action
        assert f"kept     {live.name}: a running start is writing it" in pruned.stdout
    _backdate(young, 2 * HOUR)
    assert young.name in succeeded(_cli("cache", "prune", "--root", root)).stdout
    assert not young.exists()  # old, and no lock to tell: gone
    assert live.is_dir()


def test_a_killed_start_leaves_a_lock_that_the_next_start_sees_is_free(hello: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    entry_id = read_manifest(hello)["id"]
    killed = run_archive(hello, root=root, env={"EXEARCHIVE_TEST_KILL_AT": "extracted"})
    assert killed.returncode == -9
    [tmp] = [p for p in root.iterdir() if p.name.startswith(".tmp-")]
    pid, _host, _since = (tmp / ".exearchive" / "extracting").read_text().split()
    assert int(pid) > 0
    after = run_archive(hello, root=root, env={"EXEARCHIVE_VERBOSE": "1"})
    assert after.returncode == 0, after.stderr
    assert not tmp.exists()  # young, but its lock was free: its start is gone
    assert (root / entry_id / ".exearchive" / "complete").is_file()
    assert not (root / entry_id / ".exearchive" / "extracting").exists()


def test_the_file_count_is_checked_before_publishing(tmp_path: Path) -> None:
    from exearchive.runtime import LauncherError, _extract

    tree = tmp_path / "tree"
    (tree / ".exearchive").mkdir(parents=True)
    (tree / ".exearchive" / "complete").write_text("{}")
    (tree / "site-packages" / "pkg").mkdir(parents=True)
    (tree / "site-packages" / "pkg" / "a.py").write_text("")
    (tree / "bin").mkdir()
    (tree / "bin" / "tool").write_text("")
    _extract.check_count(str(tree), 2, "app.pyz")
    with pytest.raises(LauncherError, match="wrote 2 files but its payload holds 3"):
        _extract.check_count(str(tree), 3, "app.pyz")


def test_the_build_sides_content_ids_are_names_prune_knows(tmp_path: Path) -> None:
    import hashlib

    from exearchive.backend import _multi
    from exearchive.runtime import _cache

    digest = hashlib.sha256(b"payload").hexdigest()
    made = _multi.target_id([_multi.TreeFile("site-packages/a.py", 0o644, digest, tmp_path / "a.py")])
    assert len(made) == ID_LENGTH and _cache.is_entry_name(made)
    assert not _cache.is_entry_name(made[:-1]) and not _cache.is_entry_name(made.upper())


# --------------------------------------------------------------------------
# 5. only what is ours


@pytest.mark.parametrize("action", [("prune",), ("prune", "--days", "0"), ("clear",)])
def test_prune_and_clear_touch_only_names_that_are_ours(hello: Path, tmp_path: Path, action: tuple[str, ...]) -> None:
    root = tmp_path / "F"
    assert run_archive(hello, root=root).returncode == 0
    ours = root / str(read_manifest(hello)["id"])
    short_hex = root / "3f2a9c1b7e"
    short_hex.mkdir()
    (short_hex / "data.txt").write_text("not a cache entry\n")
    full_hex = root / ("ab" * (ID_LENGTH // 2))  # the length of a content id, but no state directory inside
    full_hex.mkdir()
    (full_hex / "notes").write_text("mine\n")
    dotted = root / ".tmp-mine"
    dotted.mkdir()
    _backdate(short_hex, 40 * 86400.0)
    _backdate(full_hex, 40 * 86400.0)
    _backdate(dotted, 40 * 86400.0)
    incomplete = root / ("cd" * (ID_LENGTH // 2))  # ours, incomplete, but made just now
    (incomplete / ".exearchive").mkdir(parents=True)

    result = succeeded(_cli("cache", *action, "--root", root))
    assert (short_hex / "data.txt").is_file(), result.stdout
    assert (full_hex / "notes").is_file(), result.stdout
    assert dotted.is_dir()
    assert incomplete.is_dir(), result.stdout
    assert f"kept     {incomplete.name}: incomplete, but recent" in result.stdout
    assert ours.is_dir() == (action == ("prune",))
    _backdate(incomplete / ".exearchive", 2 * HOUR)
    _backdate(incomplete, 2 * HOUR)
    succeeded(_cli("cache", *action, "--root", root))
    assert not incomplete.exists()
    assert (short_hex / "data.txt").is_file() and (full_hex / "notes").is_file()


# --------------------------------------------------------------------------
# 6. children that outlive the archive's process keep its entry in use

CHILD = (
    "import sys\n"
    "print('child waiting', flush=True)\n"
    "sys.stdin.readline()\n"
    "import hello.cli\n"
    "print(hello.cli.__file__, flush=True)\n"
)


@pytest.mark.parametrize("how", ["exec", "fork-exec", "pass_fds"])
def test_a_child_that_outlives_the_archive_keeps_its_entry(hello: Path, tmp_path: Path, how: str) -> None:
    root = tmp_path / "cache"
    entry = root / str(read_manifest(hello)["id"])
    if how == "exec":  # the archive's process becomes the interpreter
        parent = "import os, sys; os.execv(sys.executable, [sys.executable, '-c', sys.argv[1]])\n"
    elif how == "fork-exec":  # an orphan: the parent exits at once
        parent = (
            "import os, sys\n"
            "if os.fork() == 0:\n"
            "    os.execv(sys.executable, [sys.executable, '-c', sys.argv[1]])\n"
            "os._exit(0)\n"
        )
    else:  # subprocess closes descriptors; the variable names the one to pass on
        parent = (
            "import os, subprocess, sys\n"
            "lock = int(os.environ['EXEARCHIVE_USE_LOCK_FD'])\n"
            "subprocess.Popen([sys.executable, '-c', sys.argv[1]], pass_fds=[lock])\n"
        )
    if how != "exec":  # a warm start (the cold one, which takes the lock in _extract.prepare, for exec)
        assert run_archive(hello, root=root).returncode == 0
    env = clean_env({"EXEARCHIVE_ROOT": str(root), "EXEARCHIVE_INTERPRETER": "1"})
    child = subprocess.Popen(
        [sys.executable, str(hello), "-c", parent, CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "child waiting\n"
        if how != "exec":
            child.wait(timeout=60)  # the archive's own process is gone; the child runs on
        cleared = succeeded(_cli("cache", "clear", "--root", root))
        assert "in use by a running process" in cleared.stdout, cleared.stdout
        assert entry.is_dir()
        out, err = child.communicate("go\n", timeout=60)  # the pipes are the child's (the grandchild's)
        assert out == str(entry / "site-packages" / "hello" / "cli.py") + "\n", err
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()


# --------------------------------------------------------------------------
# 9. durability


@pytest.mark.parametrize("sync", ["default", "0"])
def test_a_new_entry_is_synced_to_disk_before_it_is_published(hello: Path, tmp_path: Path, sync: str) -> None:
    env = {"EXEARCHIVE_VERBOSE": "1", **({"EXEARCHIVE_SYNC": sync} if sync != "default" else {})}
    result = run_archive(hello, root=tmp_path / "cache", env=env)
    assert result.returncode == 0, result.stderr
    steps = [line.split("] ", 1)[1] for line in result.stderr.splitlines() if "] " in line]
    synced = [index for index, step in enumerate(steps) if step.startswith("synced ")]
    if sync == "0":
        assert synced == [], steps
        return
    published = [index for index, step in enumerate(steps) if step.startswith("published ")]
    assert len(synced) == 1 and len(published) == 1 and synced[0] < published[0], steps
    assert ".tmp-" in steps[synced[0]]


# --------------------------------------------------------------------------
# 10. leftovers that resisted removal


def _no_dac_override(command: list[str]) -> list[str]:
    """``command`` without the capability to ignore file modes (root otherwise reads mode-000 directories)."""
    if os.geteuid() != 0:
        return command
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is needed to run as root without CAP_DAC_OVERRIDE")
    drop = "-dac_override,-dac_read_search"
    return ["setpriv", "--inh-caps", drop, "--bounding-set", drop, *command]


@pytest.mark.parametrize("how", ["cold start", "cache prune"])
def test_leftovers_that_are_files_or_unreadable_trees_are_removed(hello: Path, tmp_path: Path, how: str) -> None:
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    other_id = "1" * ID_LENGTH
    a_file = root / f".trash-{other_id}-{FOREIGN_PID}-0000beef"
    a_file.write_text("a file, not a directory\n")
    locked_up = root / f".trash-{other_id}-{FOREIGN_PID}-0000cafe"
    (locked_up / "site-packages" / "pkg" / "sub").mkdir(parents=True)
    (locked_up / "site-packages" / "pkg" / "sub" / "m.py").write_text("")
    (locked_up / "site-packages" / "pkg" / "sub").chmod(0)
    (locked_up / "site-packages").chmod(0)
    for path in (a_file, locked_up):
        _backdate(path, 2 * HOUR)
    try:
        if how == "cold start":
            command = [sys.executable, str(hello)]
        else:
            command = [sys.executable, "-m", "exearchive.cli", "cache", "prune", "--root", str(root)]
        env = clean_env({"EXEARCHIVE_ROOT": str(root)})
        result = subprocess.run(_no_dac_override(command), env=env, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Permission denied" not in result.stdout + result.stderr
        assert not a_file.exists()
        assert not locked_up.exists()
    finally:
        if locked_up.exists():
            for path in (locked_up / "site-packages", locked_up / "site-packages" / "pkg" / "sub"):
                path.chmod(0o700)


# --------------------------------------------------------------------------
# a temp dir that is not yet locked


@pytest.mark.parametrize("made", ["nothing", "state directory", "empty lock file"])
def test_a_temp_dir_made_but_not_yet_locked_is_removed_by_the_next_start(
    hello: Path, tmp_path: Path, made: str
) -> None:
    """A start killed before it locked its temp dir leaves a tree that the next one can judge at once."""
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    tmp = root / f".tmp-{'2' * ID_LENGTH}-{FOREIGN_PID}-0000f00d"
    tmp.mkdir()
    if made != "nothing":
        (tmp / ".exearchive").mkdir()
    if made == "empty lock file":
        (tmp / ".exearchive" / "extracting").write_text("")
    listed = json.loads(succeeded(_cli("cache", "list", "--root", root, "--json")).stdout)
    assert [(x["name"], x["state"]) for x in listed["leftovers"]] == [(tmp.name, "dead")]
    result = run_archive(hello, root=root, env={"EXEARCHIVE_VERBOSE": "1"})
    assert result.returncode == 0, result.stderr
    assert not tmp.exists()
    assert f"removed leftover {tmp.name}" in result.stderr


@pytest.mark.parametrize("when", ["state", "opened"])
def test_a_start_whose_new_temp_dir_a_sweeper_claims_makes_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """A sweeper that runs while a start makes its temp dir (no root lock) removes it; the start goes on elsewhere."""
    from exearchive.runtime import _cache, _extract

    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    swept: list[str] = []

    def sweep_once(point: str) -> None:
        if point == when and not swept:
            [name] = os.listdir(root)
            swept.append(name)
            _cache.remove_leftovers(str(root), lambda message: None)

    monkeypatch.setattr(_extract, "_checkpoint", sweep_once)
    tmp = _extract.Tmp(str(root), "3" * ID_LENGTH)
    try:
        assert swept and os.path.basename(tmp.path) != swept[0]
        assert os.listdir(root) == [os.path.basename(tmp.path)]  # the first was removed, the second stands
        assert _cache.leftover_state(tmp.path, time.time()) == "live"
        _cache.remove_leftovers(str(root), lambda message: None)
        assert os.path.isdir(tmp.path)
    finally:
        tmp.remove()
    assert os.listdir(root) == []


def test_a_published_entry_loses_its_temp_dirs_lock_file(tmp_path: Path) -> None:
    from exearchive.runtime import _extract

    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    tmp = _extract.Tmp(str(root), "4" * ID_LENGTH)
    entry = root / ("4" * ID_LENGTH)
    os.rename(tmp.path, entry)
    assert (entry / ".exearchive" / "extracting").is_file()
    tmp.published(str(entry))
    assert not (entry / ".exearchive" / "extracting").exists()
    assert tmp.fd == -1
