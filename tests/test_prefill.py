"""Cache entries made while pip resolves (``backend/_prefill.py``) and pip's output read as it comes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from exearchive.backend import _buildcache, _cachestore, _pack, _prefill, _resolve
from test_stage import make_wheel

_IDENTITY = "this interpreter"


def _entries(cache: Path) -> list[Path]:
    entries = cache / "entries"
    return sorted(p for p in entries.iterdir() if not p.name.startswith(".")) if entries.is_dir() else []


def test_the_local_wheel_a_line_of_pip_names(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "first", {"first.py": b""})
    elsewhere = tmp_path / "elsewhere"
    assert _prefill.local_wheel(f"Processing {wheel}", elsewhere) == wheel
    assert _prefill.local_wheel(f"Processing {wheel} (from app==1.0->-r requirements.txt (line 1))", elsewhere) == wheel
    spaced = tmp_path / "a dir"
    spaced.mkdir()
    other = make_wheel(spaced, "second", {"second.py": b""})
    assert _prefill.local_wheel(f"Processing {other} (from first)", elsewhere) == other
    # pip shows a wheel under its working directory relative to it
    assert _prefill.local_wheel("Processing ./a dir/second-1.0-py3-none-any.whl (from first)", tmp_path) == other
    for line in (
        f"  Processing {wheel}",  # not pip's line
        f"Saved {wheel}",
        f"Processing {tmp_path / 'missing-1.0-py3-none-any.whl'}",
        f"Processing {tmp_path / 'pkg-1.0.tar.gz'}",
        "Processing ./first-1.0-py3-none-any.whl",  # not in the working directory
        "Collecting click",
    ):
        assert _prefill.local_wheel(line, elsewhere) is None, line


def test_wheels_pip_names_get_their_entries_the_projects_own_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv(_buildcache.ENV, str(cache))
    app = make_wheel(tmp_path, "app", {"app.py": b"def main(): pass\n"})
    first = make_wheel(tmp_path, "first", {"first/__init__.py": b"A = 1\n" * 50})
    with _prefill.Prefill("app", _pack.compile_site, lambda: _IDENTITY) as early:
        for line in (f"Processing {app}", f"Processing {first} (from app)", f"Processing {first}", "Saved x"):
            early.add(line)
    entries = _entries(cache)
    assert len(entries) == 1  # first, once; never the app
    entry = _cachestore.Cache(cache).entries_for([first], _IDENTITY, _pack.compile_site)[first]
    assert entry.tree.parent == entries[0]
    assert (entry.tree / "site-packages" / "first" / "__pycache__").is_dir()  # compiled, as the build would


def test_a_wheelhouse_under_the_working_directory_is_prefilled_from_real_pip_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pip prints "Processing ./wheels/first-1.0-py3-none-any.whl" for a wheel under its working directory
    cache = tmp_path / "cache"
    monkeypatch.setenv(_buildcache.ENV, str(cache))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", "wheels")
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wheels").mkdir()
    first = make_wheel(tmp_path / "wheels", "first", {"first/__init__.py": b"A = 1\n"})
    lines: list[str] = []

    def add(line: str) -> None:
        lines.append(line)
        early.add(line)

    with _prefill.Prefill("app", _pack.compile_site, lambda: _IDENTITY) as early:
        _resolve.resolve_requirements(["first"], tmp_path / "out", on_line=add)
    assert any(line.startswith("Processing ./wheels/") for line in lines), lines
    assert len(_entries(cache)) == 1
    entry = _cachestore.Cache(cache).entries_for([first], _IDENTITY, _pack.compile_site)[first]
    assert entry.tree.parent == _entries(cache)[0]


def test_a_wheel_that_cannot_be_prepared_is_left_to_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv(_buildcache.ENV, str(cache))
    broken = tmp_path / "broken-1.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip")
    with _prefill.Prefill("app", None, lambda: _IDENTITY) as early:
        early.add(f"Processing {broken}")
    assert _entries(cache) == []


def test_nothing_is_prepared_with_the_build_cache_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_buildcache.ENV, "off")
    first = make_wheel(tmp_path, "first", {"first.py": b""})
    asked = []
    with _prefill.Prefill("app", None, lambda: asked.append(1) or _IDENTITY) as early:
        early.add(f"Processing {first}")
    assert not asked and not list(tmp_path.glob("**/entries"))


def test_a_failed_block_waits_only_for_the_entry_in_the_making(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv(_buildcache.ENV, str(cache))
    wheels = [make_wheel(tmp_path, f"dep{k}", {f"dep{k}.py": b"X = 1\n"}) for k in range(20)]
    with pytest.raises(RuntimeError), _prefill.Prefill("app", None, lambda: _IDENTITY) as early:
        for wheel in wheels:
            early.add(f"Processing {wheel}")
        raise RuntimeError("pip failed")
    assert len(_entries(cache)) < len(wheels)
    assert not [p for p in (cache / "entries").iterdir() if p.name.startswith(".tmp-")]  # nothing half made left


_TALKER = """\
import sys
for k in range(3):
    print("line", k, flush=True)
    sys.stderr.write("e" * 100000)  # more than a pipe holds: stderr must be read meanwhile
sys.exit(3)
"""


def test_pip_output_is_handed_over_line_by_line_and_both_streams_kept() -> None:
    seen: list[str] = []
    result = _resolve._streamed([sys.executable, "-c", _TALKER], {}, seen.append)
    assert seen == ["line 0", "line 1", "line 2"]
    assert result.returncode == 3
    assert result.stdout == "line 0\nline 1\nline 2\n"
    assert result.stderr == "e" * 300000
