"""The build cache: dependency wheels staged, compiled and compressed once; archives byte-identical without it."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from cli_support import exearchive, one_line_error, succeeded
from exearchive.backend import _buildcache, _bytecache, _cachestore, _entry, _hashmemo, _pack, _staged, _zip, _zipwrite
from exearchive.backend._buildcache import ENV
from exearchive.backend._errors import ConfigError, StagingError
from helpers import SAMPLES, build_project, clean_env, expected_runs, run_archive
from test_stage import make_wheel

_INIT = b"__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n"


def _wheels(directory: Path) -> list[Path]:
    directory.mkdir(exist_ok=True)
    return [
        make_wheel(directory, "app", {"app/__init__.py": b"def main(): pass\n", "app/data.txt": b"x" * 5000}),
        make_wheel(directory, "first", {"nspkg/__init__.py": _INIT, "nspkg/a.py": b"A = 1\n" * 300}),
        make_wheel(
            directory,
            "second",
            {
                "nspkg/__init__.py": _INIT,
                "nspkg/b.py": b"B = 2\n",
                "second.pth": b"\n",
                "second-1.0.data/scripts/second-tool": b"#!python\nprint(2)\n",
            },
        ),
    ]


def _payload(wheels: list[Path], work: Path, cache: str) -> tuple[bytes, _buildcache.Staging]:
    """The payload bytes of ``wheels`` (app requested) staged and compiled with ``EXEARCHIVE_BUILD_CACHE=cache``."""
    work.mkdir()
    staging = _buildcache.stage(
        wheels, work / "stage", "app", _pack.compile_site, lambda: "this interpreter", {"EXEARCHIVE_BUILD_CACHE": cache}
    )
    _zipwrite.write(staging.members, work / "payload.zip", _zip.FIXED_DATE, staging.packed)
    return (work / "payload.zip").read_bytes(), staging


def test_payload_is_the_same_with_a_cold_cache_a_warm_one_and_none(tmp_path: Path) -> None:
    wheels = _wheels(tmp_path / "wheels")
    cache = tmp_path / "cache"
    off, plain = _payload(wheels, tmp_path / "off", "off")
    cold, _ = _payload(wheels, tmp_path / "cold", str(cache))
    warm, staging = _payload(wheels, tmp_path / "warm", str(cache))
    assert cold == off
    assert warm == off
    assert not plain.packed
    assert len(list((cache / "entries").iterdir())) == 2  # first and second; the app is never cached
    # the warm build compressed only the app's files: the rest came from the cache's packed bytes
    fresh = [name for name, path in staging.members if path not in staging.packed]
    assert fresh and all(name.startswith(("site-packages/app/", "site-packages/app-1.0.dist-info/")) for name in fresh)
    names = zipfile.ZipFile(tmp_path / "warm" / "payload.zip").namelist()
    assert f"site-packages/nspkg/__pycache__/a.{sys.implementation.cache_tag}.pyc" in names
    assert names.count("site-packages/nspkg/__init__.py") == 1
    # the cached wheels' metadata is read in their entries' trees: what the build learns is the same
    assert not (tmp_path / "warm" / "stage" / "site-packages" / "second.pth").exists()
    read_off, read_warm = (_staged.read(s.root, wheels, s.trees) for s in (plain, staging))
    assert read_warm.distributions == read_off.distributions
    assert [d.name for d in read_warm.distributions] == ["app", "first", "second"]
    assert read_warm.distributions[2].python_scripts == ["second-tool"]  # its bin/ is the entry's
    assert read_warm.pth_files == read_off.pth_files == ["second.pth"]


def test_a_damaged_entry_is_made_again_never_packed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    wheels = _wheels(tmp_path / "wheels")
    cache = tmp_path / "cache"
    off, _ = _payload(wheels, tmp_path / "off", "off")
    _payload(wheels, tmp_path / "cold", str(cache))
    for packed in (cache / "entries").glob("*/packed.zip"):
        data = bytearray(packed.read_bytes())
        data[40] ^= 0xFF
        packed.write_bytes(bytes(data))
    warm, _ = _payload(wheels, tmp_path / "warm", str(cache))
    assert warm == off
    assert caplog.text.count("is damaged") == 2
    for record in (cache / "entries").glob("*/tree/site-packages/*.dist-info/RECORD"):
        record.unlink()
    again, _ = _payload(wheels, tmp_path / "again", str(cache))
    assert again == off


def test_remembered_hashes_still_let_a_damaged_entry_be_found(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    wheels = _wheels(tmp_path / "wheels")
    cache = tmp_path / "cache"
    off, _ = _payload(wheels, tmp_path / "off", "off")
    _payload(wheels, tmp_path / "cold", str(cache))
    past = time.time_ns() - 10 * _hashmemo.SETTLED_NS
    packed = sorted((cache / "entries").glob("*/packed.zip"))
    for path in [*wheels, *packed]:
        os.utime(path, ns=(past, past))
    warm, _ = _payload(wheels, tmp_path / "warm", str(cache))
    assert warm == off
    remembered = {value[2] for value in json.loads((cache / _hashmemo.FILE).read_text()).values()}
    assert {hashlib.sha256(p.read_bytes()).hexdigest() for p in [*wheels[1:], *packed]} <= remembered
    data = bytearray(packed[0].read_bytes())
    data[40] ^= 0xFF
    packed[0].write_bytes(bytes(data))  # a write: its mtime is new, its remembered hash no longer applies
    again, _ = _payload(wheels, tmp_path / "again", str(cache))
    assert again == off
    assert caplog.text.count("is damaged") == 1


def test_a_damaged_metadata_file_is_detected(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    wheels = _wheels(tmp_path / "wheels")
    cache = tmp_path / "cache"
    off, _ = _payload(wheels, tmp_path / "off", "off")
    _payload(wheels, tmp_path / "cold", str(cache))
    metadata = next((cache / "entries").glob("*/tree/site-packages/first-1.0.dist-info/METADATA"))
    metadata.write_text("Name: evil\n")
    warm, _ = _payload(wheels, tmp_path / "warm", str(cache))
    assert warm == off
    assert "is damaged" in caplog.text


def test_different_files_from_two_cached_wheels_stop_the_build(tmp_path: Path) -> None:
    first = make_wheel(tmp_path, "first", {"shared/mod.py": b"A = 1\n"})
    second = make_wheel(tmp_path, "second", {"shared/mod.py": b"A = 2\n"})
    app = make_wheel(tmp_path, "app", {"app.py": b""})
    for cache in ("off", str(tmp_path / "cache")):
        with pytest.raises(StagingError) as caught:
            _buildcache.stage(
                [app, first, second], tmp_path / cache[-5:], "app", None, str, {"EXEARCHIVE_BUILD_CACHE": cache}
            )
        assert str(caught.value) == (
            "first-1.0-py3-none-any.whl and second-1.0-py3-none-any.whl "
            "both install 'shared/mod.py' with different contents"
        )


def test_concurrent_builds_share_the_cache(tmp_path: Path) -> None:
    wheels = _wheels(tmp_path / "wheels")
    off, _ = _payload(wheels, tmp_path / "off", "off")
    results: list[bytes] = []
    errors: list[BaseException] = []

    def build(index: int) -> None:
        try:
            results.append(_payload(wheels, tmp_path / f"build-{index}", str(tmp_path / "cache"))[0])
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=build, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == [off] * 4
    assert len(list((tmp_path / "cache" / "entries").iterdir())) == 2  # one entry per wheel, leftovers gone


def test_pruning_keeps_the_most_recently_used_within_the_bound(tmp_path: Path) -> None:
    wheels = _wheels(tmp_path / "wheels")
    cache = _cachestore.Cache(tmp_path / "cache")
    _payload(wheels, tmp_path / "cold", str(cache.path))
    listed = cache.listing()
    assert sorted(item.wheel for item in listed) == ["first-1.0-py3-none-any.whl", "second-1.0-py3-none-any.whl"]
    removed = cache.prune(limit=listed[0].bytes)
    assert removed is not None
    assert [item.key for item in cache.listing()] == [listed[0].key]
    assert [item.key for item in removed] == [listed[1].key]
    assert cache.prune(limit=0, dry_run=True) and len(cache.listing()) == 1
    cache.prune(limit=0)
    assert cache.listing() == []


def test_location_and_size_come_from_the_environment(tmp_path: Path) -> None:
    assert _buildcache.location({"EXEARCHIVE_BUILD_CACHE": "off"}) is None
    assert _buildcache.location({"EXEARCHIVE_BUILD_CACHE": str(tmp_path)}) == tmp_path
    assert (
        _buildcache.location({"XDG_CACHE_HOME": str(tmp_path), "EXEARCHIVE_ROOT": "/x"})
        == (tmp_path / "exearchive" / "build")
        or sys.platform == "darwin"
    )
    assert _buildcache.size_limit({}) == 2 * 10**9
    assert _buildcache.size_limit({"EXEARCHIVE_BUILD_CACHE_SIZE": "500M"}) == 500 * 10**6
    with pytest.raises(Exception, match="EXEARCHIVE_BUILD_CACHE_SIZE='lots' is not a size"):
        _buildcache.size_limit({"EXEARCHIVE_BUILD_CACHE_SIZE": "lots"})


def test_isolated_builds_reuse_the_cache_and_make_the_same_archive(wheelhouse: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    archives = {}
    for run_name, setting in (("cold", str(cache)), ("warm", str(cache)), ("off", "off")):
        build = build_project(SAMPLES / "nsapp", tmp_path / run_name / "dist", wheelhouse, env={ENV: setting})
        assert build.returncode == 0, build.output
        archives[run_name] = build.archive().read_bytes()
        remembered = "pip's resolution of the same inputs" in build.output
        assert remembered is (run_name == "warm"), build.output  # the warm build ran no pip
        if run_name == "cold":
            made = sorted(p.name for p in (cache / "entries").iterdir())
    assert archives["warm"] == archives["cold"] == archives["off"]
    assert sorted(p.name for p in (cache / "entries").iterdir()) == made and len(made) == 1  # acme-plugin
    archive = tmp_path / "warm" / "dist" / "acme_app-3.0.pyz"
    for case in expected_runs("nsapp"):
        result = run_archive(archive, *case["args"], root=tmp_path / "root", env=case.get("env"))
        assert (result.stdout, result.returncode) == (case["stdout"], case["returncode"]), result.stderr


def test_pruning_waits_for_running_builds(tmp_path: Path) -> None:
    wheels = _wheels(tmp_path / "wheels")
    cache = _cachestore.Cache(tmp_path / "cache")
    _payload(wheels, tmp_path / "cold", str(cache.path))
    with cache.shared():  # a build is using the cache
        assert cache.prune(limit=0, wait=0.0) is None
        assert len(cache.listing()) == 2
    assert cache.prune(limit=0, wait=0.0) is not None
    assert cache.listing() == []


def test_a_build_over_the_bound_packs_its_entries_before_they_are_pruned(tmp_path: Path) -> None:
    """Entries are read until the archive is written: pruning (by this build or another) waits until then."""
    wheels = _wheels(tmp_path / "wheels")
    env = {"EXEARCHIVE_BUILD_CACHE": str(tmp_path / "cache"), "EXEARCHIVE_BUILD_CACHE_SIZE": "1"}
    off, _ = _payload(wheels, tmp_path / "off", "off")
    cache = _cachestore.Cache(tmp_path / "cache")
    for run in ("cold", "warm"):
        work = tmp_path / run
        work.mkdir()
        with _buildcache.in_use(env):
            staging = _buildcache.stage(
                wheels, work / "stage", "app", _pack.compile_site, lambda: "this interpreter", env
            )
            assert len(cache.listing()) == 2
            assert cache.prune(limit=0, wait=0.0) is None  # another build's pruning
            _zipwrite.write(staging.members, work / "payload.zip", _zip.FIXED_DATE, staging.packed)
        assert (work / "payload.zip").read_bytes() == off
        assert cache.listing() == []  # over the bound: pruned once the build was done


def test_an_isolated_build_with_a_bound_below_its_dependencies_succeeds(wheelhouse: Path, tmp_path: Path) -> None:
    env = {ENV: str(tmp_path / "cache"), "EXEARCHIVE_BUILD_CACHE_SIZE": "1"}
    build = build_project(SAMPLES / "nsapp", tmp_path / "dist", wheelhouse, env=env)
    assert build.returncode == 0, build.output
    assert list((tmp_path / "cache" / "entries").iterdir()) == []
    for case in expected_runs("nsapp"):
        result = run_archive(build.archive(), *case["args"], root=tmp_path / "root", env=case.get("env"))
        assert (result.stdout, result.returncode) == (case["stdout"], case["returncode"]), result.stderr


def test_the_command_lists_prunes_and_clears_the_build_cache(tmp_path: Path) -> None:
    wheels = _wheels(tmp_path / "wheels")
    place = tmp_path / "cache"
    _payload(wheels, tmp_path / "cold", str(place))
    env = clean_env({ENV: str(place)})
    (place / "resolutions").mkdir()
    (place / "resolutions" / "0123.json").write_text('{"format": 1, "wheels": []}')
    _bytecache.keep(_bytecache.folder(place), "0123", b"bytecode")
    listed = succeeded(exearchive("cache", "list", "--build", env=env)).stdout.splitlines()
    assert listed[0] == f"build cache: {place}"
    assert sorted(line.split()[1] for line in listed[1:3]) == [
        "first-1.0-py3-none-any.whl",
        "second-1.0-py3-none-any.whl",
    ]
    assert listed[3].startswith("2 entries, ")
    assert listed[4] == "1 remembered resolution"
    assert listed[5] == "1 file of the build side's own bytecode and launcher, 40 bytes"
    dry = succeeded(exearchive("cache", "prune", "--build", "--max-size", "0", "--dry-run", env=env)).stdout
    assert dry.splitlines()[-1].startswith("would remove 2 entries")
    assert len(_cachestore.Cache(place).listing()) == 2
    cleared = succeeded(exearchive("cache", "clear", "--build", "--root", place, env=clean_env())).stdout
    assert cleared.splitlines()[-3].startswith("removed 2 entries")
    assert cleared.splitlines()[-2:] == [
        "removed 1 remembered resolution",
        "removed 1 file of the build side's own bytecode and launcher",
    ]
    assert _cachestore.Cache(place).listing() == [] and not list((place / "resolutions").iterdir())
    assert _bytecache.stored(place) == (0, 0)
    off = exearchive("cache", "list", "--build", env=clean_env({ENV: "off"}))
    assert (
        one_line_error(off, status=2) == "the build cache is off (EXEARCHIVE_BUILD_CACHE=off); name one with --root DIR"
    )


def test_an_entry_point_in_a_cached_dependency_is_found(tmp_path: Path) -> None:
    wheels = _wheels(tmp_path / "wheels")
    for setting in ("off", str(tmp_path / "cache"), str(tmp_path / "cache")):
        work = tmp_path / f"work-{len(list(tmp_path.glob('work-*')))}"
        _, staging = _payload(wheels, work, setting)
        staged = _staged.read(staging.root, wheels, staging.trees)
        assert _entry.choose(staged, "app", "nspkg.a:A", "entry-point").spec == "nspkg.a:A"
        with pytest.raises(ConfigError, match=r"module 'nspkg\.b' defines no 'A' at top level"):
            _entry.choose(staged, "app", "nspkg.b:A", "entry-point")


def test_an_unusable_default_location_builds_without_the_cache(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wheels = _wheels(tmp_path / "wheels")
    blocker = tmp_path / "file"
    blocker.write_text("")
    staging = _buildcache.stage(wheels, tmp_path / "stage", "app", None, str, {"XDG_CACHE_HOME": str(blocker)})
    assert not staging.packed and "building without it" in caplog.text
    with pytest.raises(ConfigError, match=r"cannot use the build cache .*; set EXEARCHIVE_BUILD_CACHE to another"):
        _buildcache.stage(wheels, tmp_path / "again", "app", None, str, {ENV: str(blocker / "x")})


def test_a_file_where_another_wheel_has_a_directory_stops_the_build(tmp_path: Path) -> None:
    first = make_wheel(tmp_path, "first", {"shared/mod.py": b"A = 1\n"})
    second = make_wheel(tmp_path, "second", {"shared": b"not a directory\n"})
    app = make_wheel(tmp_path, "app", {"app.py": b""})
    with pytest.raises(StagingError, match="installs 'site-packages/shared', a file where another wheel has a dir"):
        _buildcache.stage([app, first, second], tmp_path / "s", "app", None, str, {ENV: str(tmp_path / "cache")})


def test_a_build_cache_others_can_write_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # what the cache holds goes into archives as it is: a directory another user can write is never used
    wheels = _wheels(tmp_path / "wheels")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    with pytest.raises(ConfigError) as refused:
        _buildcache.stage(wheels, tmp_path / "stage", "app", None, str, {ENV: str(shared)})
    assert f"cannot use the build cache {shared} (others can write to it (mode 1777))" in str(refused.value)
    assert not (shared / "entries").exists()
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(ConfigError, match="it is a symbolic link"):
        _buildcache.stage(wheels, tmp_path / "stage2", "app", None, str, {ENV: str(link)})
    # the default location (the platform's cache dir) made private, and used
    home = tmp_path / "xdg"
    staging = _buildcache.stage(wheels, tmp_path / "stage3", "app", None, str, {"XDG_CACHE_HOME": str(home)})
    made = home / "exearchive" / "build"
    assert staging.packed and (made.stat().st_mode & 0o777) == 0o700
    assert (made.parent.stat().st_mode & 0o777) == 0o700  # the runtime's cache root, made here first
    # and an unsafe default one is left alone with a warning, the build going on without it
    made.chmod(0o777)
    staging = _buildcache.stage(wheels, tmp_path / "stage4", "app", None, str, {"XDG_CACHE_HOME": str(home)})
    assert not staging.packed and "others can write to it" in caplog.text


def _deflated(wheel: Path, level: int) -> Path:
    """``wheel`` rewritten with its members deflated at ``level``."""
    with zipfile.ZipFile(wheel) as source:
        contents = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as out:
        for info, data in contents:
            out.writestr(info.filename, data)
    return wheel


def _raw(archive: Path, name: str) -> bytes:
    """A member's compressed bytes, as they are in ``archive``."""
    with zipfile.ZipFile(archive) as opened, archive.open("rb") as raw:
        info = opened.getinfo(name)
        raw.seek(info.header_offset + 26)
        skip = int.from_bytes(raw.read(2), "little") + int.from_bytes(raw.read(2), "little")
        raw.seek(info.header_offset + 30 + skip)
        return raw.read(info.compress_size)


def test_a_dependency_keeps_its_wheels_compressed_bytes_with_the_cache_and_without(tmp_path: Path) -> None:
    text = b"".join(b"line %d of a data file that deflates well\n" % i for i in range(20000))  # large: > 1 MiB
    wheels = _wheels(tmp_path / "wheels")
    files = {"data/big.txt": text, "data/small.py": b"S = 1\n" * 99}
    wheels.append(_deflated(make_wheel(tmp_path / "wheels", "data", files), 1))
    off, plain = _payload(wheels, tmp_path / "off", "off")
    cold, _ = _payload(wheels, tmp_path / "cold", str(tmp_path / "cache"))
    warm, _ = _payload(wheels, tmp_path / "warm", str(tmp_path / "cache"))
    assert cold == off == warm
    payload = tmp_path / "warm" / "payload.zip"
    for name in ("data/big.txt", "data/small.py"):
        # level 1's bytes, not the writer's level 6: copied from the wheel, not compressed again
        assert _raw(payload, f"site-packages/{name}") == _raw(wheels[-1], name)
        assert zipfile.ZipFile(payload).read(f"site-packages/{name}") == zipfile.ZipFile(wheels[-1]).read(name)
    level6 = zlib.compressobj(6, zlib.DEFLATED, -15)
    assert _raw(payload, "site-packages/data/small.py") != level6.compress(b"S = 1\n" * 99) + level6.flush()
    record = "site-packages/data-1.0.dist-info/RECORD"  # written anew by staging: compressed here
    assert _raw(payload, record) != _raw(wheels[-1], "data-1.0.dist-info/RECORD")
    assert any(p.source == wheels[-1] for p in plain.packed.values())
    # each reused file carries its SHA-256 (read with its CRC), and so does each member of a cache entry
    reused = [(path, p) for path, p in plain.packed.items() if p.source == wheels[-1]]
    assert reused and all(p.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() for path, p in reused)
    for entry in (tmp_path / "cache" / "entries").iterdir():
        for name, *_, digest in json.loads((entry / "index.json").read_text()):
            assert digest == hashlib.sha256((entry / "tree" / name).read_bytes()).hexdigest(), name


def test_another_compression_level_compresses_the_dependencies_anew(tmp_path: Path) -> None:
    wheels = _wheels(tmp_path / "wheels")
    wheels.append(_deflated(make_wheel(tmp_path / "wheels", "data", {"data/small.py": b"S = 1\n" * 99}), 1))
    found = {}
    for setting in ("off", str(tmp_path / "cache")):
        work = tmp_path / f"level-{len(found)}"
        work.mkdir()
        staging = _buildcache.stage(
            wheels, work / "stage", "app", None, lambda: "", {"EXEARCHIVE_BUILD_CACHE": setting}, level=9
        )
        payload = work / "payload.zip"
        _zipwrite.write(staging.members, payload, _zip.FIXED_DATE, staging.packed, level=9)
        found[setting] = payload.read_bytes()
        nine = zlib.compressobj(9, zlib.DEFLATED, -15)
        assert _raw(payload, "site-packages/data/small.py") == nine.compress(b"S = 1\n" * 99) + nine.flush()
    assert len(set(found.values())) == 1  # the same bytes with the cache and without


def test_the_smallest_archive_runs_cold_and_warm(wheelhouse: Path, tmp_path: Path) -> None:
    """``compression-level = 9``: every member deflated at 9, the launcher's warm-path files too."""
    build = build_project(SAMPLES / "hello", tmp_path / "dist", wheelhouse, "-Cexearchive.compression-level=9")
    assert build.returncode == 0, build.output
    archive = build.archive()
    with zipfile.ZipFile(archive) as outer:
        launcher = [i for i in outer.infolist() if not i.filename.startswith("__exearchive__/payload")]
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in launcher if i.file_size > 100)
        assert "__main__.pyc" in outer.namelist()
    for _ in ("cold", "warm"):
        for case in expected_runs("hello"):
            result = run_archive(archive, *case["args"], root=tmp_path / "root", env=case.get("env"))
            assert (result.stdout, result.returncode) == (case["stdout"], case["returncode"]), result.stderr
