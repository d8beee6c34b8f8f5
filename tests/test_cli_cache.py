"""``exearchive cache list|prune|clear``: the launcher's cache, managed from outside any archive."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cli_support import exearchive, one_line_error, read_manifest, succeeded
from helpers import Build, clean_env, run_archive

DAY = 86400


@pytest.fixture
def root(build_sample: Callable[[str], Build], tmp_path: Path) -> Path:
    """A cache root holding the entries of hello and greetcli, each run once."""
    cache = tmp_path / "cache"
    for app, args in (("hello", ()), ("greetcli", ("World",))):
        result = run_archive(build_sample(app).archive(), *args, root=cache)
        assert result.returncode == 0, result.stderr
    return cache


def _id(build_sample: Callable[[str], Build], app: str) -> str:
    manifest_id: str = read_manifest(build_sample(app).archive())["id"]
    return manifest_id


def _age(entry: Path, days: float) -> None:
    """Make ``entry`` look last used ``days`` ago."""
    when = time.time() - days * DAY
    for path in [*(entry / ".exearchive").iterdir(), entry]:
        os.utime(path, (when, when))


def test_list(root: Path, build_sample: Callable[[str], Build]) -> None:
    result = succeeded(exearchive("cache", "list", "--root", root, env=clean_env()))
    lines = result.stdout.splitlines()
    assert lines[0] == f"cache root: {root}"
    assert lines[1].split() == ["ID", "NAME", "VERSION", "SIZE", "LAST", "USE", "IN", "USE"]
    rows = {line.split()[0]: line.split() for line in lines[2:4]}
    hello = rows[_id(build_sample, "hello")]
    assert hello[1:3] == ["hello", "1.0"]
    assert hello[4] in ("KiB", "MiB")  # the size on disk
    assert "(today)" in lines[2] and "(today)" in lines[3]  # the last use
    assert hello[-1] == "no"  # in use?
    assert lines[-1].startswith("2 entries, ")


def test_list_json_and_the_environment_root(root: Path, build_sample: Callable[[str], Build]) -> None:
    result = succeeded(exearchive("cache", "list", "--json", env=clean_env({"EXEARCHIVE_ROOT": str(root)})))
    data = json.loads(result.stdout)
    assert data["root"] == str(root)
    entries = {entry["id"]: entry for entry in data["entries"]}
    assert set(entries) == {_id(build_sample, "hello"), _id(build_sample, "greetcli")}
    greetcli = entries[_id(build_sample, "greetcli")]
    assert (greetcli["name"], greetcli["version"], greetcli["in_use"], greetcli["complete"]) == (
        "greetcli",
        "0.5",
        False,
        True,
    )
    assert greetcli["size"] > 0
    assert time.time() - greetcli["last_use"] < DAY


def test_prune_by_age(root: Path, build_sample: Callable[[str], Build]) -> None:
    old = root / _id(build_sample, "greetcli")
    recent = root / _id(build_sample, "hello")
    _age(old, 10)
    dry = succeeded(exearchive("cache", "prune", "--days", "5", "--dry-run", "--root", root, env=clean_env()))
    assert f"would remove {old.name} greetcli 0.5: unused for 10 days" in dry.stdout
    assert old.is_dir()
    result = succeeded(exearchive("cache", "prune", "--days", "5", "--root", root, env=clean_env()))
    assert f"removed  {old.name} greetcli 0.5: unused for 10 days" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("prune: removed 1, freeing ")
    assert "kept 1 used in the last 5 days" in result.stdout
    assert not old.exists()
    assert recent.is_dir()
    # the pruned archive still runs: it is extracted again
    again = run_archive(build_sample("greetcli").archive(), "Ada", root=root)
    assert again.stdout == "Greetings, Ada!\n", again.stderr


def test_clear_keeps_an_entry_in_use(root: Path, build_sample: Callable[[str], Build]) -> None:
    archive = build_sample("hello").archive()
    in_use = root / _id(build_sample, "hello")
    other = root / _id(build_sample, "greetcli")
    env = clean_env({"EXEARCHIVE_ROOT": str(root), "EXEARCHIVE_INTERPRETER": "1"})
    code = "import sys; print('ready', flush=True); sys.stdin.read()"
    with subprocess.Popen(
        [sys.executable, str(archive), "-c", code], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None and process.stdin is not None
        try:
            assert process.stdout.readline() == "ready\n"
            listed = succeeded(exearchive("cache", "list", "--root", root, env=clean_env())).stdout
            assert next(line for line in listed.splitlines() if line.startswith(in_use.name)).endswith("  yes")
            cleared = succeeded(exearchive("cache", "clear", "--root", root, env=clean_env())).stdout
            assert f"kept     {in_use.name} hello 1.0: in use by a running process" in cleared
            assert f"removed  {other.name} greetcli 0.5" in cleared
            assert in_use.is_dir() and not other.exists()
        finally:
            process.stdin.close()
            process.wait(timeout=60)
    cleared = succeeded(exearchive("cache", "clear", "--root", root, env=clean_env())).stdout
    assert f"removed  {in_use.name} hello 1.0" in cleared
    assert cleared.splitlines()[-1].startswith("clear: removed 1, freeing "), cleared
    assert [p.name for p in root.iterdir() if not p.name.startswith(".")] == []


def test_a_root_that_does_not_exist(tmp_path: Path) -> None:
    listed = succeeded(exearchive("cache", "list", "--root", tmp_path / "none", env=clean_env()))
    assert listed.stdout == f"cache root: {tmp_path / 'none'} (does not exist: nothing is cached)\n"
    pruned = succeeded(exearchive("cache", "prune", "--root", tmp_path / "none", env=clean_env()))
    assert pruned.stdout == f"nothing to prune: the cache root {tmp_path / 'none'} does not exist\n"
    cleared = succeeded(exearchive("cache", "clear", "--root", tmp_path / "none", env=clean_env()))
    assert cleared.stdout == f"nothing to clear: the cache root {tmp_path / 'none'} does not exist\n"


@pytest.mark.parametrize(("action", "mode"), [("clear", 0o1777), ("prune", 0o777)])
def test_a_root_others_can_write_is_refused(action: str, mode: int, tmp_path: Path) -> None:
    root = tmp_path / "shared"
    root.mkdir()
    root.chmod(mode)
    message = one_line_error(exearchive("cache", action, "--root", root, env=clean_env()))
    assert message == f"refusing to {action} the cache root {root}: others can write to it (mode {mode:o})"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("cache",), "cache needs an action: list, prune or clear (see: exearchive cache --help)"),
        (("cache", "purge"), "argument ACTION: invalid choice: 'purge'"),
        (("cache", "prune", "--days", "soon"), "argument --days: expected a number of days >= 0, got 'soon'"),
        (("cache", "prune", "--days", "-1"), "argument --days: expected a number of days >= 0, got '-1'"),
    ],
)
def test_bad_usage_is_one_line(args: tuple[str, ...], expected: str) -> None:
    message = one_line_error(exearchive(*args, env=clean_env()), 2)
    assert message.startswith(expected), message
