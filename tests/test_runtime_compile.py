"""Bytecode for the running interpreter (``runtime/_compile.py``), in one process or several.

The reference is the code object ``compile()`` makes of each source: every
``.pyc`` written, by this process or by a helper, must hold exactly that, as
an unchecked-hash pyc in the usual ``__pycache__`` place.  Helpers that fail
or cannot start must change nothing but the time it takes.
"""

from __future__ import annotations

import importlib.util
import marshal
import sys
from pathlib import Path

import pytest

from exearchive.runtime import _compile
from helpers import run
from launcher_support import python_or_skip


def _tree(root: Path, modules: int) -> list[Path]:
    sources = []
    for index in range(modules):
        package = root / f"pkg{index % 7}"
        package.mkdir(parents=True, exist_ok=True)
        source = package / f"mod{index}.py"
        body = "".join(f"def f{n}(x):\n    return x * {n} + {index}\n" for n in range(index % 40))
        source.write_text(f'"""module {index}"""\nVALUE = {index}\n{body}')
        sources.append(source)
    (root / "pkg0" / "broken.py").write_text("def broken(:\n")  # skipped, as pip does
    (root / "pkg0" / "__pycache__").mkdir()
    (root / "pkg0" / "__pycache__" / "stale.py").write_text("not compiled: inside __pycache__\n")
    return sources


def _check(sources: list[Path]) -> None:
    for source in sources:
        data = Path(importlib.util.cache_from_source(str(source))).read_bytes()
        assert data[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(data[4:8], "little") == 0b01  # hash-based, unchecked
        assert data[8:16] == importlib.util.source_hash(source.read_bytes())
        assert marshal.loads(data[16:]) == compile(source.read_bytes(), str(source), "exec", dont_inherit=True)


@pytest.mark.parametrize("processes", [1, 2, 4])
def test_every_source_gets_the_same_bytecode_in_one_process_or_several(processes: int, tmp_path: Path) -> None:
    sources = _tree(tmp_path, 150)
    seen = []
    assert _compile.compile_tree(str(tmp_path), lambda: seen.append(1), processes=processes) == len(sources)
    _check(sources)
    # this process compiled its share and called the hook for each; the helpers did the rest
    assert 0 < len(seen) <= len(sources)
    if processes == 1:
        assert len(seen) == len(sources)
    else:
        assert len(seen) < len(sources)
    assert not (tmp_path / "pkg0" / "__pycache__" / "__pycache__").exists()
    assert not list((tmp_path / "pkg0" / "__pycache__").glob("broken.*"))


@pytest.mark.parametrize("executable", ["/nonexistent/python", "/bin/false"], ids=["cannot-start", "fails"])
def test_what_helpers_do_not_compile_is_compiled_here(executable: str, tmp_path: Path) -> None:
    sources = _tree(tmp_path, 100)
    seen = []
    compiled = _compile.compile_tree(str(tmp_path), lambda: seen.append(1), processes=3, executable=executable)
    assert compiled == len(sources) == len(seen)
    _check(sources)


def test_small_trees_and_single_cores_compile_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    few = [(f"m{i}.py", 100) for i in range(_compile._PARALLEL_FILES - 1)]
    many = [(f"m{i}.py", 100) for i in range(1000)]
    assert _compile._processes(few) == 1
    monkeypatch.setattr(_compile.os, "cpu_count", lambda: 1)
    assert _compile._processes(many) == 1
    monkeypatch.setattr(_compile.os, "cpu_count", lambda: 64)
    assert _compile._processes(many) == _compile._MAX_PROCESSES


def test_shares_are_balanced_by_size() -> None:
    sources = [("big.py", 100_000), *((f"m{i}.py", 1_000) for i in range(100))]
    shares = _compile._shares(sources, 2)
    assert sorted(item for share in shares for item in share) == sorted(sources)
    assert shares[0][0] == ("big.py", 100_000)  # the largest first, alone at first
    loads = [sum(size + 1024 for _, size in share) for share in shares]
    assert abs(loads[0] - loads[1]) <= 1_000 + 1024  # within one small file of each other
    assert len(shares[0]) < len(shares[1])


def test_helpers_compile_for_this_interpreter(tmp_path: Path) -> None:
    # the helpers run sys.executable: their pycs carry this interpreter's magic number and tag
    sources = _tree(tmp_path, 80)
    assert _compile.compile_tree(str(tmp_path), processes=2, executable=sys.executable) == len(sources)
    tag = sys.implementation.cache_tag
    assert all(Path(importlib.util.cache_from_source(str(s))).name.endswith(f".{tag}.pyc") for s in sources)
    _check(sources)


_ON_ANOTHER = """
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("_compile", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
top = sys.argv[2]
for index in range(100):
    with open(os.path.join(top, "m%d.py" % index), "w") as handle:
        handle.write("VALUE = %d\\n" % index)
print(module.compile_tree(top, processes=2))
sys.path.insert(0, top)
sys.dont_write_bytecode = True
import m7, m99
print(m7.VALUE + m99.VALUE, os.path.exists(m7.__cached__), os.path.exists(m99.__cached__))
"""


@pytest.mark.parametrize("other", ["3.8", "pypy3"])
def test_helpers_work_on_other_interpreters(other: str, tmp_path: Path) -> None:
    python = python_or_skip(other)
    result = run([python, "-c", _ON_ANOTHER, Path(_compile.__file__), tmp_path])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["100", "106", "True", "True"]
