"""The cache is as trustworthy as the archive: roots, entries, payloads and locks that others planted.

The attacker is another local user (``nobody``, through ``setpriv``) where the
test runs as root; each test also says what the launcher did before it
checked (in its docstring).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from exearchive.runtime import interpreter_key
from helpers import Build, run_archive
from launcher_support import (
    entries,
    launcher_env,
    leftovers,
    one_line_error,
    python_or_skip,
    read_manifest,
    rewrite_archive,
    run_python,
)

HELLO_OUT = "Hello from hello 1.0!\nargv: x\nargv0-is-archive: yes\n"
NOBODY = 65534
SRC = Path(__file__).resolve().parent.parent / "src"


def as_nobody(*command: str) -> list[str]:
    """``command`` run as the user nobody; skip the test where that cannot be."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to act as another user")
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]


@pytest.fixture
def open_tmp(tmp_path: Path) -> Iterator[Path]:
    """A fresh directory that other users can reach (pytest's own are 0700): /tmp/exearchive-test-XXXX, 0755."""
    path = Path(tempfile.mkdtemp(prefix="exearchive-test-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    subprocess.run(["chmod", "-R", "u+rwx", str(path)], check=False)
    shutil.rmtree(path, ignore_errors=True)


def sticky_temp(parent: Path) -> Path:
    """A temp dir like /tmp: owned by root, writable by all, sticky."""
    temp = parent / "temp"
    temp.mkdir()
    temp.chmod(0o1777)
    return temp


def unusable_default_env(temp: Path) -> dict[str, str]:
    """An environment whose default root cannot be made (a container user's HOME), and TMPDIR=temp."""
    return launcher_env(None, {"XDG_CACHE_HOME": "/proc/no-such-home/.cache", "TMPDIR": str(temp)})


# --------------------------------------------------------------------------
# 1. the root


def test_planted_fallback_symlink_is_refused(build_sample: Callable[[str], Build], open_tmp: Path) -> None:
    """Another user plants the fallback name as a symlink to their directory: refused, nothing written there.

    Before: root's cache went into the attacker's directory (and ran from it).
    """
    archive = build_sample("hello").archive()
    temp = sticky_temp(open_tmp)
    attacker = temp / "attacker"
    fallback = temp / f"exearchive-{os.geteuid()}"
    subprocess.run(as_nobody("sh", "-c", f'mkdir -m 777 "{attacker}" && ln -s "{attacker}" "{fallback}"'), check=True)
    line = one_line_error(run_python(sys.executable, archive, "x", env=unusable_default_env(temp)))
    assert f"nor the fallback {fallback} (it is a symbolic link)" in line
    assert "set EXEARCHIVE_ROOT to a private directory you own" in line
    assert list(attacker.iterdir()) == []


@pytest.mark.parametrize("problem", ["writable-by-others", "owned-by-another-user", "sticky-of-another-user"])
def test_root_below_a_directory_others_control_is_refused(
    problem: str, build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    """A root whose parent another user can change (rename it, swap in a fake tree) is refused.

    Before: only the root itself was checked, and the root was made inside.
    """
    archive = build_sample("hello").archive()
    parent = tmp_path / "shared"
    parent.mkdir()
    if problem == "writable-by-others":
        parent.chmod(0o777)
        expected = f"others can write to the directory {parent} above it (mode 777)"
    else:
        as_nobody("true")
        os.chown(parent, NOBODY, NOBODY)
        parent.chmod(0o1777 if problem.startswith("sticky") else 0o755)
        expected = f"the directory {parent} above it is owned by another user (uid {NOBODY})"
    line = one_line_error(run_archive(archive, "x", root=parent / "cache"))
    assert f"cannot use the cache root {parent / 'cache'}: {expected}; " in line
    assert list(parent.iterdir()) == []


def test_symlinked_root_is_refused_even_once_warm(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    """The root swapped for a symlink (to a real, warm cache) is refused: the warm path ``lstat``s the root.

    Before: the warm path followed it (``stat``).
    """
    archive = build_sample("hello").archive()
    real = tmp_path / "real"
    assert run_archive(archive, "x", root=real).stdout == HELLO_OUT
    link = tmp_path / "link"
    link.symlink_to(real)
    line = one_line_error(run_archive(archive, "x", root=link))
    assert f"cannot use the cache root {link}: it is a symbolic link; " in line


def test_root_under_a_symlinked_directory_is_used_resolved(
    build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    """A symlink above the root in directories only we control is fine: every step uses the resolved path."""
    archive = build_sample("hello").archive()
    (tmp_path / "data").mkdir()
    (tmp_path / "home").symlink_to(tmp_path / "data")
    root = tmp_path / "home" / "cache"
    code = "import hello, sys; print(hello.__file__); print(sys.path[-1])"
    result = run_archive(archive, "-c", code, root=root, env={"EXEARCHIVE_INTERPRETER": "1"})
    assert result.returncode == 0, result.stderr
    entry = tmp_path / "data" / "cache" / read_manifest(archive)["id"]
    assert result.stdout.splitlines() == [
        str(entry / "site-packages" / "hello" / "__init__.py"),
        str(entry / "site-packages"),
    ]


# --------------------------------------------------------------------------
# 2. entries


def test_entry_planted_by_another_user_is_not_trusted(build_sample: Callable[[str], Build], open_tmp: Path) -> None:
    """An entry made by another user (completion record ``{}``, ready marker, their code) is replaced, never run.

    Before: it ran, as root.
    """
    archive = build_sample("hello").archive()
    root = open_tmp / "cache"
    root.mkdir(mode=0o700)
    staging = open_tmp / "staging"
    staging.mkdir()
    staging.chmod(0o777)
    fake = staging / read_manifest(archive)["id"]
    script = (
        f'mkdir -p "{fake}/.exearchive" "{fake}/site-packages/hello" && echo "{{}}" > "{fake}/.exearchive/complete"'
        f' && touch "{fake}/.exearchive/ready-{interpreter_key()}"'
        f' && echo "def main(): print(\\"PWNED\\")" > "{fake}/site-packages/hello/cli.py"'
    )
    subprocess.run(as_nobody("sh", "-c", script), check=True)
    fake.rename(root / fake.name)  # how it got there does not matter: it is there, and not ours
    result = run_archive(archive, "x", root=root)
    assert (result.stdout, result.returncode) == (HELLO_OUT, 0), result.stderr
    [entry] = entries(root)
    assert entry.stat().st_uid == os.geteuid()
    assert (entry / ".exearchive" / "complete").stat().st_uid == os.geteuid()


@pytest.mark.parametrize("record", ["other-id", "fewer-files", "damaged"])
def test_completion_record_is_checked_on_the_cold_path(
    record: str, build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    """An entry whose record names another archive, another file count, or nothing readable is re-extracted.

    (The cold path reads the record; a start on an interpreter the entry is not
    ready for takes it.)  Before: any record was trusted.
    """
    archive = build_sample("hello").archive()
    root = tmp_path / "cache"
    assert run_archive(archive, "x", root=root).stdout == HELLO_OUT
    [entry] = entries(root)
    state = entry / ".exearchive"
    complete = state / "complete"
    text = complete.read_text()
    complete.write_text(
        {
            "other-id": text.replace(entry.name, "0" * 32),
            "fewer-files": text.replace('"files": 12', '"files": 11'),
            "damaged": "{",
        }[record]
    )
    assert complete.read_text() != text
    (entry / "site-packages" / "hello" / "cli.py").unlink()  # what a wrong record hides
    for marker in state.glob("ready-*"):
        marker.unlink()
    result = run_archive(archive, "x", root=root, env={"EXEARCHIVE_VERBOSE": "1"})
    assert (result.stdout, result.returncode) == (HELLO_OUT, 0), result.stderr
    assert f"] not trusting {entry}: its completion record" in result.stderr
    assert (entry / "site-packages" / "hello" / "cli.py").is_file()
    assert '"files": 12' in complete.read_text()


def test_archive_claiming_another_archives_id_is_refused(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    """A payload that is not the one its content id names: one line, nothing written, the real archive unharmed.

    Before: it was extracted under the other archive's id, which every later start of that archive then ran.
    """
    original = build_sample("hello").archive()
    manifest = read_manifest(original)
    with zipfile.ZipFile(original) as outer:
        payload = outer.read("__exearchive__/payload.zip")
    source = io.BytesIO(payload)
    target = io.BytesIO()
    with zipfile.ZipFile(source) as inner, zipfile.ZipFile(target, "w") as out:
        for info in inner.infolist():
            data = inner.read(info)
            if info.filename.endswith("hello/cli.py"):
                data = b"def main():\n    print('EVIL')\n"
            out.writestr(info, data)
    impostor = tmp_path / "impostor.pyz"
    rewrite_archive(original, impostor, payload=target.getvalue(), recompute_id=False)
    assert read_manifest(impostor)["id"] == manifest["id"]
    root = tmp_path / "cache"
    line = one_line_error(run_archive(impostor, "x", root=root))
    assert (
        f"the archive {impostor} is damaged: its files are not the ones its content id {manifest['id']} names" in line
    )
    assert "nothing was written to the cache" in line
    assert entries(root) == [] and leftovers(root) == []
    assert run_archive(original, "x", root=root).stdout == HELLO_OUT


def test_renamed_payload_member_is_refused(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    """A payload whose central directory names a member differently than it was built: refused, nothing written.

    Before: extracted under the new name and trusted.
    """
    original = build_sample("hello").archive()
    raw = original.read_bytes()
    with zipfile.ZipFile(original) as outer:
        payload = outer.read("__exearchive__/payload.zip")
    name = raw.index(payload) + payload.rindex(b"hello/cli.py")  # its last mention: the central directory
    damaged = tmp_path / "damaged.pyz"
    damaged.write_bytes(raw[:name] + b"hello/clj.py" + raw[name + len(b"hello/cli.py") :])
    damaged.chmod(0o755)
    root = tmp_path / "cache"
    line = one_line_error(run_archive(damaged, "x", root=root))
    assert f"the archive {damaged} is damaged" in line
    assert entries(root) == [] and leftovers(root) == []


# --------------------------------------------------------------------------
# 3. locks


def test_planted_lock_symlink_is_not_followed(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    """A dangling ``.locks/<id>.lock`` symlink does not create its target; the start takes a real lock.

    Before: ``O_CREAT`` through the link created the target.
    """
    archive = build_sample("hello").archive()
    root = tmp_path / "cache"
    (root / ".locks").mkdir(parents=True, mode=0o700)
    root.chmod(0o700)
    target = tmp_path / "victim"
    lock = root / ".locks" / (read_manifest(archive)["id"] + ".lock")
    lock.symlink_to(target)
    result = run_archive(archive, "x", root=root, env={"EXEARCHIVE_VERBOSE": "1"})
    assert (result.stdout, result.returncode) == (HELLO_OUT, 0), result.stderr
    assert "] lock taken" in result.stderr
    assert not os.path.lexists(target)
    assert lock.is_file() and not lock.is_symlink()


def test_waiting_for_the_lock_says_so_once(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    """A start blocked by another start's lock says once, after a second, who it waits for and how to change it.

    Before: it waited silently (up to 300 s).
    """
    archive = build_sample("hello").archive()
    root = tmp_path / "cache"
    entry_id = read_manifest(archive)["id"]
    holder_code = (
        "import sys, time\n"
        "from exearchive.runtime import _cache\n"
        f"with _cache.Lock({str(root)!r}, {entry_id!r}, {{}}, lambda message: None):\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(60)\n"
    )
    root.mkdir(mode=0o700)
    holder = subprocess.Popen(
        [sys.executable, "-c", holder_code],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        started = time.monotonic()
        result = run_archive(archive, "x", root=root, env={"EXEARCHIVE_LOCK_TIMEOUT": "2.5"})
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert (result.stdout, result.returncode) == (HELLO_OUT, 0), result.stderr
    assert waited >= 2.5
    [line] = result.stderr.splitlines()
    assert line.startswith(f"exearchive: waiting for pid {holder.pid} (since ")
    assert f"to finish preparing the cache entry {root / entry_id}; giving up the lock after 2.5 s" in line
    assert line.endswith("(set EXEARCHIVE_LOCK_TIMEOUT=SECONDS to change that)")


# --------------------------------------------------------------------------
# 7. the fallback root is a root like the others


def test_tools_see_the_fallback_root(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    """``info``, ``verify``, ``cache list`` and ``cache clear`` (in the archive and the command) use the fallback too.

    Before: they looked only at the default root, so fallback entries were never pruned.
    """
    archive = build_sample("hello").archive()
    temp = sticky_temp(tmp_path)
    env = unusable_default_env(temp)
    fallback = temp / f"exearchive-{os.geteuid()}"
    first = run_python(sys.executable, archive, "x", env=env)
    assert (first.stdout, first.returncode) == (HELLO_OUT, 0), first.stderr
    [entry] = entries(fallback)
    tools = {**env, "EXEARCHIVE_TOOLS": "1"}
    info = run_python(sys.executable, archive, "info", env=tools)
    assert str(entry) in info.stdout, info.stdout + info.stderr
    verify = run_python(sys.executable, archive, "verify", env=tools)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"intact: the archive (every member) and {entry} (" in verify.stdout, verify.stdout
    listing = run_python(sys.executable, archive, "cache", "list", env=tools)
    assert f"cache root: {fallback}" in listing.stdout and entry.name in listing.stdout, listing.stdout
    command = [sys.executable, "-m", "exearchive.cli", "cache", "list"]
    cli = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert f"cache root: {fallback}" in cli.stdout and entry.name in cli.stdout, cli.stdout + cli.stderr
    cleared = run_python(sys.executable, archive, "cache", "clear", env=tools)
    assert cleared.returncode == 0, cleared.stdout + cleared.stderr
    assert entries(fallback) == []


# --------------------------------------------------------------------------
# 11. the launcher's compiled copy, whatever the spelling of the archive's path


@pytest.mark.parametrize("spelling", ["app.pyz", "./app.pyz", "../d/app.pyz"])
def test_compiled_copy_is_used_whatever_the_path_spelling(
    spelling: str, build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    """On another interpreter the second start imports ``_boot`` from the entry's compiled copy.

    Before: with ``./app.pyz`` or ``../d/app.pyz`` no copy was ever made, and
    ``_boot`` was compiled from source on every start.
    """
    python = python_or_skip("3.12")
    directory = tmp_path / "d"
    directory.mkdir()
    archive = directory / "app.pyz"
    shutil.copy2(build_sample("hello").archive(), archive)
    (tmp_path / "e").mkdir()
    cwd = tmp_path / ("e" if spelling.startswith("..") else "d")
    env = launcher_env(tmp_path / "cache", {"EXEARCHIVE_INTERPRETER": "1"})
    code = "import sys; print(sys.modules['_exearchive_runtime._boot'].__file__)"
    command = [python, spelling, "-c", code]
    for _ in range(2):
        result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
    [entry] = entries(tmp_path / "cache")
    copy = entry / ".exearchive" / ("launcher-" + read_manifest(archive)["launcher"])
    assert result.stdout == f"{copy / '_boot.py'}\n"


# --------------------------------------------------------------------------
# issue 12: a relative EXEARCHIVE_ROOT


def test_relative_root_is_made_absolute_for_children(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    """The app changes directory and starts the archive again with ``sys.executable``: same root, warm.

    Before: the child resolved ``EXEARCHIVE_ROOT=cache`` against its new
    directory and extracted a second cache there.
    """
    archive = build_sample("hello").archive()
    work = tmp_path / "work"
    elsewhere = tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    code = (
        "import os, subprocess, sys\n"
        f"os.chdir({str(elsewhere)!r})\n"
        "env = dict(os.environ, EXEARCHIVE_VERBOSE='1')\n"
        "del env['EXEARCHIVE_INTERPRETER']\n"
        "print(os.environ['EXEARCHIVE_ROOT'], flush=True)\n"
        "sys.exit(subprocess.call([sys.executable, os.environ['EXEARCHIVE_ARCHIVE'], 'x'], env=env))\n"
    )
    env = launcher_env(None, {"EXEARCHIVE_ROOT": "cache", "EXEARCHIVE_INTERPRETER": "1"})
    result = subprocess.run(
        [sys.executable, str(archive), "-c", code], env=env, cwd=work, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == str(work / "cache")
    assert "] warm: " + str(work / "cache" / read_manifest(archive)["id"]) in result.stderr
    assert list(elsewhere.iterdir()) == []
    assert len(entries(work / "cache")) == 1


def test_launcher_hash_that_is_not_a_plain_name_is_not_joined(
    build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    """On another interpreter, a manifest ``launcher`` of ``../evil`` never makes a path to import from.

    Before: ``use_compiled_copy`` joined it and imported ``_boot`` from wherever it led.
    """
    python = python_or_skip("3.12")
    archive = tmp_path / "app.pyz"
    manifest = rewrite_archive(
        build_sample("hello").archive(), archive, edit_manifest=lambda m: m.update(launcher="../evil")
    )
    key_code = (
        f"import sys; sys.path.insert(0, {str(SRC / 'exearchive')!r}); import runtime; print(runtime.interpreter_key())"
    )
    key = subprocess.run([python, "-c", key_code], capture_output=True, text=True, check=True).stdout.strip()
    root = tmp_path / "cache"
    evil = root / manifest["id"] / ".exearchive" / "launcher-.." / "evil"
    evil.mkdir(parents=True)
    (evil / f"ready-{key}").touch()
    (evil / "_boot.py").write_text("print('PWNED')\ndef main(manifest, loader):\n    pass\n")
    result = run_python(python, archive, "x", env=launcher_env(root))
    assert "PWNED" not in result.stdout
    assert (result.stdout, result.returncode) == (HELLO_OUT, 0), result.stderr
