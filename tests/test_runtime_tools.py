"""End to end: the tools inside every archive, ``EXEARCHIVE_TOOLS=1 ./app.pyz TOOL``.

The samples are built with ``python -m build`` (once per session, by the
``build_sample`` fixture); every tool runs in a subprocess with its own cache
root.  "In use" is a real process of the archive, started in interpreter mode
and paused on its standard input.
"""

from __future__ import annotations

import glob
import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers import Build, clean_env, expected_runs, run, run_archive

PAYLOAD = "__exearchive__/payload.zip"
TOOLS = {"EXEARCHIVE_TOOLS": "1"}
PYENV_ROOT = os.environ.get("PYENV_ROOT", "/root/.pyenv")

# Interpreter mode: import the app, wait for a line on stdin, then import the
# rest of the app (lazily, after whatever the test did meanwhile) and run it.
PAUSED_HELLO = (
    "import sys, hello\n"
    "print('started', flush=True)\n"
    "sys.stdin.readline()\n"
    "import hello.cli\n"
    "sys.exit(hello.cli.main(['late']))\n"
)


def tool(archive: Path, *args: str, root: Path, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    """Run one tool of the archive; no tool ever answers with a traceback."""
    result = run_archive(archive, *args, root=root, env=TOOLS, python=python)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def manifest_of(archive: Path) -> dict[str, object]:
    with zipfile.ZipFile(archive) as outer:
        manifest: dict[str, object] = json.loads(outer.read("__exearchive__/manifest.json"))
    return manifest


def payload_of(archive: Path) -> dict[str, bytes]:
    """The payload's files and their contents."""
    with zipfile.ZipFile(archive) as outer:
        data = outer.read(PAYLOAD)
    with zipfile.ZipFile(io.BytesIO(data)) as payload:
        return {name: payload.read(name) for name in payload.namelist() if not name.endswith("/")}


def entry_of(archive: Path, root: Path) -> Path:
    return root / str(manifest_of(archive)["id"])


def extract_by_running(archive: Path, root: Path, *args: str) -> Path:
    result = run_archive(archive, *args, root=root)
    assert result.returncode == 0, result.stderr
    entry = entry_of(archive, root)
    assert (entry / ".exearchive" / "complete").is_file()
    return entry


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture(scope="module")
def hello(build_sample: Callable[[str], Build]) -> Path:
    return build_sample("hello").archive()


@pytest.fixture(scope="module")
def greetcli(build_sample: Callable[[str], Build]) -> Path:
    return build_sample("greetcli").archive()


class Paused:
    """A process running the hello archive in interpreter mode, paused on stdin."""

    def __init__(self, archive: Path, root: Path) -> None:
        env = clean_env({"EXEARCHIVE_ROOT": str(root), "EXEARCHIVE_INTERPRETER": "1"})
        self.process = subprocess.Popen(
            [sys.executable, str(archive), "-c", PAUSED_HELLO],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line != "started\n":
            _, err = self.process.communicate(timeout=60)
            raise AssertionError(f"the paused process did not start: {line!r}\n{err}")

    def finish(self) -> tuple[int, str, str]:
        """Let it go on; its exit status, output and errors."""
        out, err = self.process.communicate("go\n", timeout=60)
        return self.process.returncode, out, err


@pytest.fixture
def paused() -> Iterator[Callable[[Path, Path], Paused]]:
    started: list[Paused] = []

    def start(archive: Path, root: Path) -> Paused:
        started.append(Paused(archive, root))
        return started[-1]

    yield start
    for item in started:
        if item.process.poll() is None:
            item.process.kill()
            item.process.communicate()


# --------------------------------------------------------------------------
# info


def test_info_json_before_and_after_extraction(hello: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    manifest = manifest_of(hello)
    with zipfile.ZipFile(hello) as outer:
        stored = outer.getinfo(PAYLOAD).file_size
    files = payload_of(hello)

    before = tool(hello, "info", "--json", root=root)
    assert before.returncode == 0, before.stderr
    info = json.loads(before.stdout)
    assert (info["name"], info["version"], info["id"], info["format"]) == ("hello", "1.0", manifest["id"], 1)
    assert info["entry_point"] == "hello.cli:main"
    assert info["entry_point_name"] == "hello"
    assert info["scripts"] == {"hello": "hello.cli:main"}
    assert info["distributions"] == [{"name": "hello", "version": "1.0"}]
    assert info["needs"]["requires_python"] == [{"spec": ">=3.8", "by": "hello 1.0"}]
    assert info["needs"]["native"] == []
    assert info["payload"] == {
        "size": stored,
        "files": len(files),
        "unpacked_size": sum(len(v) for v in files.values()),
    }
    assert info["cache"]["root"] == str(root)
    assert info["cache"]["entry"] == str(root / str(manifest["id"]))
    assert (info["cache"]["extracted"], info["cache"]["ready"]) == (False, False)
    assert info["interpreter"]["can_run"] is True
    assert info["interpreter"]["problem"] is None
    assert not root.exists()  # info only looks

    extract_by_running(hello, root)
    after = json.loads(tool(hello, "info", "--json", root=root).stdout)
    assert (after["cache"]["extracted"], after["cache"]["ready"]) == (True, True)


def test_info_text(greetcli: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    manifest = manifest_of(greetcli)
    extract_by_running(greetcli, root, "World")
    result = tool(greetcli, "info", root=root)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    lines = text.splitlines()
    assert lines[0] == "greetcli 0.5"
    assert str(manifest["id"]) in text
    assert "greetcli = greetcli.__main__:main" in text
    assert any(line.split() == ["greetlib", "2.3"] for line in lines)
    assert "requires-python: >=3.8 (greetcli 0.5: >=3.8, greetlib 2.3: >=3.8)" in text
    assert "markers:         none decided what the archive holds" in text
    assert "native code:     none (pure Python)" in text
    assert f"{root / str(manifest['id'])}: extracted, ready for " in text
    assert text.rstrip().endswith("can run it")


# --------------------------------------------------------------------------
# verify


def test_verify_names_missing_and_damaged_files_and_repair_restores_them(greetcli: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    entry = extract_by_running(greetcli, root, "World")
    intact = tool(greetcli, "verify", root=root)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "intact" in intact.stdout

    missing = "site-packages/greetlib/styles.py"
    damaged = "site-packages/greetcli/__main__.py"  # same size, one byte changed: only the CRC can tell
    (entry / missing).unlink()
    content = bytearray((entry / damaged).read_bytes())
    content[10] ^= 0x20
    (entry / damaged).write_bytes(bytes(content))

    broken = tool(greetcli, "verify", root=root)
    assert broken.returncode == 1
    lines = broken.stdout.splitlines()
    assert [line for line in lines if missing in line] == [f"missing  {missing}"]
    assert [line.split(":")[0] for line in lines if damaged in line] == [f"damaged  {damaged}"]
    assert "content differs" in broken.stdout
    assert "verify --repair" in broken.stdout
    assert len([line for line in lines if line.startswith(("missing", "damaged"))]) == 2

    repaired = tool(greetcli, "verify", "--repair", root=root)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    payload = payload_of(greetcli)
    assert (entry / missing).read_bytes() == payload[missing]
    assert (entry / damaged).read_bytes() == payload[damaged]
    assert not [p.name for p in root.iterdir() if p.name.startswith((".tmp-", ".trash-"))]

    again = tool(greetcli, "verify", root=root)
    assert again.returncode == 0, again.stdout
    for case in expected_runs("greetcli"):
        app = run_archive(greetcli, *case["args"], root=root)  # type: ignore[misc]
        assert (app.stdout, app.returncode) == (case["stdout"], case["returncode"]), app.stderr


def test_verify_checks_the_completion_record(hello: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    entry = extract_by_running(hello, root)
    (entry / ".exearchive" / "complete").unlink()
    result = tool(hello, "verify", root=root)
    assert result.returncode == 1
    assert "missing  .exearchive/complete" in result.stdout
    repaired = tool(hello, "verify", "--repair", root=root)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    record = json.loads((entry / ".exearchive" / "complete").read_text())
    assert record["id"] == manifest_of(hello)["id"]
    assert run_archive(hello, root=root).stdout.startswith("Hello from hello 1.0!")


def test_verify_of_an_entry_not_extracted_yet(hello: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    result = tool(hello, "verify", root=root)
    assert result.returncode == 1
    assert "not extracted" in result.stdout
    assert not (root / str(manifest_of(hello)["id"])).exists()
    extracted = tool(hello, "verify", "--repair", root=root)
    assert extracted.returncode == 0, extracted.stdout + extracted.stderr
    entry = entry_of(hello, root)
    record = entry / ".exearchive" / "complete"
    before = record.stat().st_mtime_ns
    app = run_archive(hello, "x", root=root)
    assert app.stdout.splitlines()[:2] == ["Hello from hello 1.0!", "argv: x"], app.stderr
    assert record.stat().st_mtime_ns == before  # the repaired entry was trusted: no second extraction


def test_verify_refuses_to_repair_from_a_damaged_archive(hello: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    damaged = tmp_path / "damaged.pyz"
    shutil.copy2(hello, damaged)
    with zipfile.ZipFile(hello) as outer:
        info = outer.getinfo(PAYLOAD)
    with damaged.open("r+b") as handle:
        handle.seek(info.header_offset)
        header = handle.read(30)
        start = (
            info.header_offset + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
        )
        handle.seek(start + 40)  # inside the first member's data, far from any zip structure
        byte = handle.read(1)
        handle.seek(start + 40)
        handle.write(bytes([byte[0] ^ 0xFF]))
    for args in (["verify"], ["verify", "--repair"]):
        result = tool(damaged, *args, root=root)
        assert result.returncode == 1
        assert f"the archive {damaged} is damaged" in result.stdout
    assert not (root / str(manifest_of(hello)["id"])).exists()


def test_repair_does_not_disturb_a_running_process(
    hello: Path, tmp_path: Path, paused: Callable[[Path, Path], Paused]
) -> None:
    root = tmp_path / "cache"
    running = paused(hello, root)  # extracts the entry and holds its use lock
    entry = entry_of(hello, root)
    # What the process imports next is gone: without the repair it would fail.
    (entry / "site-packages" / "hello" / "cli.py").unlink()
    for pyc in (entry / "site-packages" / "hello" / "__pycache__").glob("cli.*.pyc"):
        pyc.unlink()
    assert tool(hello, "verify", root=root).returncode == 1

    repaired = tool(hello, "verify", "--repair", root=root)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "swapped it in" in repaired.stdout
    # The running process's use lock still protects the repaired entry.
    pruned = tool(hello, "cache", "clear", root=root)
    assert pruned.returncode == 0, pruned.stdout
    assert f"kept     {entry.name} hello 1.0: in use" in pruned.stdout
    assert (entry / "site-packages" / "hello" / "cli.py").is_file()

    code, out, err = running.finish()
    assert code == 0, err
    assert out.splitlines()[:2] == ["Hello from hello 1.0!", "argv: late"]
    assert tool(hello, "verify", root=root).returncode == 0


# --------------------------------------------------------------------------
# extract


def test_extract_a_plain_tree(greetcli: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    target = tmp_path / "image" / "app"
    result = tool(greetcli, "extract", str(target), root=root)
    assert result.returncode == 0, result.stderr
    assert str(target) in result.stdout
    written = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    payload = payload_of(greetcli)
    assert written == set(payload)
    assert (target / "site-packages" / "greetcli" / "__main__.py").read_bytes() == payload[
        "site-packages/greetcli/__main__.py"
    ]
    assert os.access(target / "bin" / "greetcli", os.X_OK)
    assert not root.exists()  # the cache is not involved
    env = clean_env({"PYTHONPATH": str(target / "site-packages")})
    app = run([sys.executable, target / "bin" / "greetcli", "World", "--style", "shout"], env=env)
    assert (app.stdout, app.returncode) == ("GREETINGS, WORLD!\n", 0), app.stderr


def test_extract_a_venv_runs_hello(hello: Path, tmp_path: Path) -> None:
    target = tmp_path / "venv"
    target.mkdir()  # an existing empty directory is fine
    result = tool(hello, "extract", str(target), "--venv", root=tmp_path / "cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (target / "pyvenv.cfg").is_file()
    script = target / "bin" / "hello"
    first, second = script.read_text().splitlines()[:2]
    # "#!<venv>/bin/python", or for a path too long for the kernel, sh running it
    assert first.startswith(f"#!{target}/bin/python") or (first == "#!/bin/sh" and f'"{target}/bin/python' in second)
    assert f"run it with: {script}" in result.stdout
    app = run([script, "one", "two"], env=clean_env())
    assert app.returncode == 0, app.stderr
    assert app.stdout.splitlines()[:2] == ["Hello from hello 1.0!", "argv: one two"]
    assert not (target / "site-packages").exists()  # the payload's layout became the venv's


def test_extract_a_venv_runs_greetcli_with_its_dependency_and_plugins(greetcli: Path, tmp_path: Path) -> None:
    target = tmp_path / "venv"
    result = tool(greetcli, "extract", str(target), "--venv", root=tmp_path / "cache")
    assert result.returncode == 0, result.stdout + result.stderr
    for case in expected_runs("greetcli"):
        app = run([target / "bin" / "greetcli", *case["args"]], env=clean_env())  # type: ignore[misc]
        assert (app.stdout, app.returncode) == (case["stdout"], case["returncode"]), app.stderr
    assert not [p for p in target.iterdir() if p.name.startswith(".exearchive")]


def test_extract_refuses_a_directory_that_is_not_empty(hello: Path, tmp_path: Path) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine\n")
    for extra in ([], ["--venv"]):
        result = tool(hello, "extract", str(target), *extra, root=tmp_path / "cache")
        assert result.returncode != 0
        assert result.stdout == ""
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert "not empty" in result.stderr
        assert [p.name for p in target.iterdir()] == ["keep.txt"]
        assert (target / "keep.txt").read_text() == "mine\n"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    result = tool(hello, "extract", str(a_file), root=tmp_path / "cache")
    assert result.returncode != 0
    assert len(result.stderr.splitlines()) == 1
    assert "not a directory" in result.stderr


# --------------------------------------------------------------------------
# bad usage


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["frobnicate"], "unknown tool 'frobnicate'"),
        ([], "no tool given"),
        (["cache", "zap"], "unknown cache tool 'zap'"),
        (["cache"], "cache needs an action"),
        (["cache", "prune", "--days", "soon"], "--days"),
        (["extract"], "DIR"),
        (["info", "--bogus"], "--bogus"),
    ],
)
def test_bad_usage_is_one_line(hello: Path, tmp_path: Path, args: list[str], says: str) -> None:
    result = tool(hello, *args, root=tmp_path / "cache")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert says in result.stderr
    if args in (["frobnicate"], []):
        for name in ("info", "verify", "extract", "cache"):
            assert name in result.stderr


# --------------------------------------------------------------------------
# cache


def test_cache_list(hello: Path, greetcli: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    hello_entry = extract_by_running(hello, root)
    greet_entry = extract_by_running(greetcli, root, "World")
    text = tool(hello, "cache", "list", root=root)
    assert text.returncode == 0, text.stderr
    assert f"cache root: {root}" in text.stdout
    ids = {hello_entry.name, greet_entry.name}
    rows = {cells[0]: cells for cells in map(str.split, text.stdout.splitlines()) if cells and cells[0] in ids}
    assert set(rows) == ids
    assert rows[hello_entry.name][1:4] == ["*", "hello", "1.0"]
    assert rows[greet_entry.name][1:3] == ["greetcli", "0.5"]
    assert all(row[-1] == "no" for row in rows.values())

    listing = json.loads(tool(hello, "cache", "list", "--json", root=root).stdout)
    assert listing["root"] == str(root)
    entries = {e["id"]: e for e in listing["entries"]}
    assert set(entries) == {hello_entry.name, greet_entry.name}
    assert (entries[hello_entry.name]["name"], entries[hello_entry.name]["version"]) == ("hello", "1.0")
    assert (entries[greet_entry.name]["name"], entries[greet_entry.name]["version"]) == ("greetcli", "0.5")
    assert entries[hello_entry.name]["this_archive"] is True
    assert entries[greet_entry.name]["this_archive"] is False
    for item in entries.values():
        assert item["in_use"] is False
        assert item["complete"] is True
        assert item["size"] > 0
        assert abs(time.time() - item["last_use"]) < 600


def test_cache_prune_never_removes_an_entry_in_use(
    hello: Path, greetcli: Path, tmp_path: Path, paused: Callable[[Path, Path], Paused]
) -> None:
    root = tmp_path / "cache"
    greet_entry = extract_by_running(greetcli, root, "World")
    running = paused(hello, root)
    hello_entry = entry_of(hello, root)
    leftover = root / f".tmp-{greet_entry.name}-{dead_pid()}-0badf00d"
    (leftover / "site-packages").mkdir(parents=True)
    (leftover / "site-packages" / "half.py").write_text("x = 1\n")
    (leftover / ".exearchive").mkdir()
    (leftover / ".exearchive" / "extracting").write_text(f"{dead_pid()} here 0\n")  # its lock, not held

    listing = json.loads(tool(hello, "cache", "list", "--json", root=root).stdout)
    assert {e["id"]: e["in_use"] for e in listing["entries"]} == {hello_entry.name: True, greet_entry.name: False}
    assert [item["name"] for item in listing["leftovers"]] == [leftover.name]

    recent = tool(hello, "cache", "prune", root=root)  # 30 days: both were used just now
    assert recent.returncode == 0, recent.stdout + recent.stderr
    assert hello_entry.is_dir() and greet_entry.is_dir()
    assert not leftover.exists()  # its process is gone
    assert f"removed  {leftover.name}" in recent.stdout

    dry = tool(hello, "cache", "prune", "--days", "0", "--dry-run", root=root)
    assert dry.returncode == 0, dry.stdout
    assert f"would remove {greet_entry.name} greetcli 0.5" in dry.stdout
    assert hello_entry.is_dir() and greet_entry.is_dir()

    pruned = tool(hello, "cache", "prune", "--days", "0", root=root)
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert not greet_entry.exists()
    assert hello_entry.is_dir()
    assert f"removed  {greet_entry.name} greetcli 0.5" in pruned.stdout
    assert f"kept     {hello_entry.name} hello 1.0: in use by a running process" in pruned.stdout
    assert not [p.name for p in root.iterdir() if p.name.startswith((".tmp-", ".trash-"))]

    code, out, err = running.finish()  # the entry it runs from was left alone
    assert code == 0, err
    assert "Hello from hello 1.0!" in out

    cleared = tool(hello, "cache", "clear", root=root)
    assert cleared.returncode == 0, cleared.stdout
    assert not hello_entry.exists()
    assert not [p for p in root.iterdir() if not p.name.startswith(".")]


def test_cache_prune_by_last_use(hello: Path, greetcli: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    old = extract_by_running(greetcli, root, "World")
    new = extract_by_running(hello, root)
    long_ago = time.time() - 40 * 86400
    for path in (old / ".exearchive").iterdir():
        os.utime(path, (long_ago, long_ago))
    listing = json.loads(tool(hello, "cache", "list", "--json", root=root).stdout)
    assert {e["id"]: round(e["last_use"]) for e in listing["entries"]}[old.name] == round(long_ago)
    result = tool(hello, "cache", "prune", "--days", "30", root=root)
    assert result.returncode == 0, result.stdout
    assert not old.exists()
    assert new.is_dir()
    assert "unused for 40 days" in result.stdout
    # The pruned archive just extracts again.
    again = run_archive(greetcli, "World", root=root)
    assert (again.stdout, again.returncode) == ("Greetings, World!\n", 0), again.stderr


# --------------------------------------------------------------------------
# other interpreters


def _interpreter(which: str) -> str | None:
    if which == "pypy3":
        return shutil.which("pypy3")
    found = sorted(glob.glob(os.path.join(PYENV_ROOT, "versions", which + ".*", "bin", "python")))
    return found[-1] if found else None


@pytest.mark.parametrize("which", ["3.8", "3.9", "3.10", "3.12", "3.13", "pypy3"])
def test_tools_on_other_interpreters(hello: Path, tmp_path: Path, which: str) -> None:
    python = _interpreter(which)
    if python is None:
        pytest.skip(f"no {which} interpreter on this machine")
    root = tmp_path / "cache"
    app = run_archive(hello, "x", root=root, python=python)
    assert app.stdout.splitlines()[:2] == ["Hello from hello 1.0!", "argv: x"], app.stderr
    info = json.loads(tool(hello, "info", "--json", root=root, python=python).stdout)
    assert info["cache"]["ready"] is True
    assert info["interpreter"]["can_run"] is True
    entry = entry_of(hello, root)
    (entry / "site-packages" / "hello" / "cli.py").unlink()
    assert tool(hello, "verify", root=root, python=python).returncode == 1
    repaired = tool(hello, "verify", "--repair", root=root, python=python)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    target = tmp_path / "venv"
    made = tool(hello, "extract", str(target), "--venv", root=root, python=python)
    assert made.returncode == 0, made.stdout + made.stderr
    venv_app = run([target / "bin" / "hello", "y"], env=clean_env())
    assert venv_app.stdout.splitlines()[:2] == ["Hello from hello 1.0!", "argv: y"], venv_app.stderr
    cleared = tool(hello, "cache", "clear", root=root, python=python)
    assert cleared.returncode == 0, cleared.stdout
    assert not entry.exists()
