"""Bytecode kept in the build cache (``_bytecache``): the build side's modules and the launcher's, compiled once."""

from __future__ import annotations

import os
import stat
import sys
import zlib
from pathlib import Path

import pytest

from exearchive.backend import _bytecache, _cachedir, _deflate, _launcher
from helpers import check, clean_env, run

_MODULES = {
    "pkg/__init__.py": "VALUE = 1\n",
    "pkg/sub/__init__.py": "",
    "pkg/sub/fails.py": "def fail():\n    raise ValueError('from fails')\n",
}
_RUN = "import pkg, pkg.sub.fails\nprint(pkg.VALUE)\npkg.sub.fails.fail()\n"


def _tree(top: Path, modules: dict[str, str] = _MODULES) -> Path:
    for name, text in modules.items():
        (top / name).parent.mkdir(parents=True, exist_ok=True)
        (top / name).write_text(text)
    return top / "pkg"


def _pycs(top: Path) -> dict[str, bytes]:
    return {str(p.relative_to(top)): p.read_bytes() for p in sorted(top.rglob("*.pyc"))}


def _run_script(folder: str, *paths: Path) -> None:
    """As ``_warmup`` runs it: a stdlib-only script in an isolated interpreter."""
    check([sys.executable, "-I", "-S", _bytecache.__file__, folder, *paths], env=clean_env())


def test_another_environment_takes_the_bytecode_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _bytecache.folder(tmp_path / "cache")
    _run_script(folder, _tree(tmp_path / "first"))
    first = _pycs(tmp_path / "first")
    assert len(first) == 3
    assert len(os.listdir(folder)) == 3

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled, not taken from the cache")

    monkeypatch.setattr(_bytecache, "compile", refuse, raising=False)
    _bytecache.compile_trees(folder, [str(_tree(tmp_path / "second"))])
    assert _pycs(tmp_path / "second") == first

    # the import uses them as they are (checked against the sources' hashes) and names the files where they are
    env = clean_env({"PYTHONPATH": str(tmp_path / "second")})
    del env["PYTHONDONTWRITEBYTECODE"]
    result = run([sys.executable, "-c", _RUN], env=env)
    assert result.returncode == 1 and result.stdout == "1\n"
    assert str(tmp_path / "second" / "pkg" / "sub" / "fails.py") in result.stderr
    assert _pycs(tmp_path / "second") == first


def test_a_changed_source_is_compiled_not_taken(tmp_path: Path) -> None:
    folder = _bytecache.folder(tmp_path / "cache")
    _run_script(folder, _tree(tmp_path / "first"))
    changed = {**_MODULES, "pkg/__init__.py": "VALUE = 2\n"}
    _bytecache.compile_trees(folder, [str(_tree(tmp_path / "second", changed))])
    assert len(os.listdir(folder)) == 4
    env = clean_env({"PYTHONPATH": str(tmp_path / "second")})
    result = run([sys.executable, "-c", _RUN], env=env)
    assert result.stdout == "2\n"
    # a source changed after its pyc was written, keeping size and mtime: the pyc's source hash no longer fits
    source = tmp_path / "second" / "pkg" / "__init__.py"
    before = source.stat()
    source.write_text("VALUE = 3\n")
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert run([sys.executable, "-c", _RUN], env=env).stdout == "3\n"


def test_a_damaged_file_is_compiled_again_and_replaced(tmp_path: Path) -> None:
    folder = _bytecache.folder(tmp_path / "cache")
    _run_script(folder, _tree(tmp_path / "first"))
    first = _pycs(tmp_path / "first")
    damaged = sorted(Path(folder).iterdir())
    for path in damaged:
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
        assert _bytecache.load(folder, path.name) is None
    _run_script(folder, _tree(tmp_path / "second"))
    assert _pycs(tmp_path / "second").keys() == first.keys()
    assert run([sys.executable, "-c", _RUN], env=clean_env({"PYTHONPATH": str(tmp_path / "second")})).stdout == "1\n"
    assert all(_bytecache.load(folder, path.name) is not None for path in damaged)


def test_without_a_cache_it_compiles_and_keeps_nothing(tmp_path: Path) -> None:
    _run_script("", _tree(tmp_path / "first"))
    assert len(_pycs(tmp_path / "first")) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first"]


def test_forget_and_stored(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    folder = _bytecache.folder(cache)
    _run_script(folder, _tree(tmp_path / "first"))
    count, size = _bytecache.stored(cache)
    assert count == 3 and size > 0
    old = sorted(Path(folder).iterdir())[0]
    os.utime(old, (0, 0))
    assert _bytecache.forget(cache, days=1, dry_run=True) == 1
    assert _bytecache.forget(cache, days=1) == 1
    assert not old.exists() and _bytecache.stored(cache)[0] == 2
    assert _bytecache.forget(cache) == 2
    assert _bytecache.stored(cache) == (0, 0)


def test_the_folder_is_private_or_not_used(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    folder = _cachedir.bytecode_folder({"EXEARCHIVE_BUILD_CACHE": str(cache)})
    assert folder == _bytecache.folder(cache)
    for path in (Path(folder), Path(folder).parent, cache):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert _cachedir.bytecode_folder({"EXEARCHIVE_BUILD_CACHE": str(shared)}) is None
    assert _cachedir.bytecode_folder({"EXEARCHIVE_BUILD_CACHE": "off"}) is None


@pytest.mark.skipif(sys.implementation.cache_tag is None, reason="no bytecode on this interpreter")
def test_the_launcher_bytecode_is_compiled_once(tmp_path: Path) -> None:
    folder = _bytecache.folder(tmp_path / "cache")
    with _launcher.Launcher(folder) as first:
        assert first._process is not None
        compiled = first.members(b"MANIFEST = {}\n")
    assert len(os.listdir(folder)) == len(_launcher.BYTECODE) - 1  # all but __main__.py, compiled in the build
    with _launcher.Launcher(folder) as second:
        assert second._process is None and second._temp is None
        assert second.members(b"MANIFEST = {}\n") == compiled
    with _launcher.Launcher() as uncached:
        assert uncached.members(b"MANIFEST = {}\n") == compiled
    # a damaged file is compiled again
    damaged = sorted(Path(folder).iterdir())[0]
    damaged.write_bytes(damaged.read_bytes()[:-1])
    with _launcher.Launcher(folder) as third:
        assert third._process is not None
        assert third.members(b"MANIFEST = {}\n") == compiled
    assert _bytecache.load(folder, damaged.name) is not None


def test_the_launcher_files_are_deflated_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _bytecache.folder(tmp_path / "cache")
    os.makedirs(folder)
    with _launcher.Launcher() as uncached:
        name, data = uncached.runtime[1]
        stored_name, tiny = "tiny.py", b"x"
        expected = _deflate.compress_bytes(data, False, 6)
        assert uncached.deflated(name, data, 6) == expected
        assert _deflate.compress_bytes(tiny, False, 6).method == _deflate.STORED  # deflate makes it no smaller
    with _launcher.Launcher(folder) as first:
        assert first.deflated(name, data, 6) == expected
        assert first.deflated(stored_name, tiny, 6).method == _deflate.STORED
        assert first.deflated(name, data, 9) == _deflate.compress_bytes(data, False, 9)  # each level its own
    kept = len(os.listdir(folder))
    with monkeypatch.context() as patch:
        patch.setattr(_deflate, "compress_bytes", _fails)
        with _launcher.Launcher(folder) as second:
            assert second.deflated(name, data, 6) == expected  # from the cache, not deflated again
            assert second.deflated(stored_name, tiny, 6) == _stored(tiny)
    assert len(os.listdir(folder)) == kept
    # a damaged file is deflated again and replaced
    for item in Path(folder).iterdir():
        item.write_bytes(item.read_bytes()[:-1])
    with _launcher.Launcher(folder) as third:
        assert third.deflated(name, data, 6) == expected
        assert third.deflated(stored_name, tiny, 6).data == tiny


def _stored(data: bytes) -> _deflate.Compressed:
    return _deflate.Compressed(data, len(data), zlib.crc32(data), _deflate.STORED, False)


def _fails(*args: object, **kwargs: object) -> _deflate.Compressed:
    raise AssertionError("deflated again")
