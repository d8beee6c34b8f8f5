"""The launcher's bytecode: the same bytes from any build process, and what zipimport accepts."""

from __future__ import annotations

import importlib.util
import json
import marshal
import sys
from pathlib import Path

import pytest

from exearchive.backend import _launcher, _pack
from helpers import clean_env, run

_MANIFEST = {
    "name": "benchapp",
    "entry_point": "benchapp:main",
    "pyc": [sys.implementation.cache_tag],
    "distributions": [{"name": "click", "version": "8.1.7", "wheel": "click-8.1.7-py3-none-any.whl"}],
}

# Prints the SHA-256 of __main__'s bytecode; "busy": after the process holds references to the manifest's
# strings (as a build does: it made the manifest), which marshal's format 4 would write with a back-reference flag
_MAIN_BYTECODE = """\
import hashlib, json, sys
from exearchive.backend import _launcher, _pack
manifest = json.loads(sys.argv[1])
held = []
if sys.argv[2] == "busy":
    held = [sys.intern(s) for s in ("benchapp", "entry_point", "click", "name", "pyc", "wheel")] * 3
print(hashlib.sha256(_launcher.main_bytecode(_pack.main_source(manifest, "0.0").encode())).hexdigest())
"""


def test_main_bytecode_does_not_depend_on_the_compiling_process() -> None:
    found = set()
    for state in ("busy", "fresh"):
        result = run([sys.executable, "-c", _MAIN_BYTECODE, json.dumps(_MANIFEST), state], env=clean_env())
        assert result.returncode == 0, result.stderr
        found.add(result.stdout.strip())
    assert len(found) == 1


@pytest.mark.skipif(sys.implementation.cache_tag is None, reason="this interpreter writes no bytecode")
def test_main_bytecode_is_an_unchecked_hash_pyc_of_its_source() -> None:
    source = _pack.main_source(_MANIFEST, "0.0").encode()
    data = _launcher.main_bytecode(source)
    assert data is not None
    assert data[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(data[4:8], "little") == 0b01  # hash-based, unchecked
    assert data[8:16] == importlib.util.source_hash(source)
    namespace: dict[str, object] = {"__name__": "not_main"}
    exec(marshal.loads(data[16:]), namespace)
    assert namespace["MANIFEST"] == _MANIFEST


def test_the_runtime_compiles_while_the_build_goes_on_and_once_ended_leaves_nothing(tmp_path: Path) -> None:
    with _launcher.Launcher() as launcher:
        members = dict(launcher.members(b"MANIFEST = {}\n"))
    expected = {name + "c" for name in _launcher.BYTECODE} if sys.implementation.cache_tag else set()
    assert expected <= set(members)
    assert not {name for name in members if name.endswith(".pyc")} - expected
    assert launcher._process is None and launcher._temp is None
    # left before the bytecode was asked for (a failed build): the compiler is ended, its files removed
    with pytest.raises(RuntimeError), _launcher.Launcher() as unused:
        temp = unused._temp
        raise RuntimeError("the build failed")
    assert temp is None or not Path(temp.name).exists()
