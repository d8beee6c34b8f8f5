"""Bytecode for a distribution's test directories is not shipped by default: an import of one compiles it.

``withtests`` (a wheel made here) holds a package, its ``tests/`` and ``test/`` directories and a ``testing``
module that the app imports at run time (compiled: only directories named ``tests`` or ``test`` are left out).
"""

from __future__ import annotations

import sys
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from cli_support import cli_env, exearchive, read_manifest, succeeded
from exearchive.backend import _bytecode, _targets
from exearchive.backend._stage import SITE
from helpers import clean_env, run, run_archive
from launcher_support import python_or_skip
from test_targets import make_wheel

FILES = {
    "withtests/__init__.py": "",
    "withtests/testing.py": "HELPER = 'testing'\n",
    "withtests/app.py": (
        "def main():\n"
        "    import withtests.testing, withtests.tests.test_one, withtests.sub.test.test_two\n"
        "    print(withtests.testing.HELPER, withtests.tests.test_one.ONE, withtests.sub.test.test_two.TWO)\n"
    ),
    "withtests/tests/__init__.py": "",
    "withtests/tests/test_one.py": "ONE = 1\n",
    "withtests/sub/__init__.py": "",
    "withtests/sub/test/__init__.py": "",
    "withtests/sub/test/test_two.py": "TWO = 2\n",
}
TAG = sys.implementation.cache_tag


def _site(tmp_path: Path) -> Path:
    root = tmp_path / "stage"
    for name, text in FILES.items():
        path = root / SITE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _compiled(root: Path) -> set[str]:
    return {
        p.relative_to(root / SITE).parent.parent.as_posix() + "/" + p.name.split(".")[0] for p in root.rglob("*.pyc")
    }


COMPILED = {"withtests/__init__", "withtests/testing", "withtests/app", "withtests/sub/__init__"}
TESTS = {
    "withtests/tests/__init__",
    "withtests/tests/test_one",
    "withtests/sub/test/__init__",
    "withtests/sub/test/test_two",
}


def test_test_directories_get_no_bytecode_unless_asked(tmp_path: Path) -> None:
    root = _site(tmp_path / "default")
    assert _bytecode.compile_for(_targets.host(), root, sys.executable) == TAG
    assert _compiled(root) == COMPILED
    asked = _site(tmp_path / "asked")
    assert _bytecode.compile_for(_targets.host(), asked, sys.executable, tests=True) == TAG
    assert _compiled(asked) == COMPILED | TESTS


def test_a_directory_named_like_a_test_directory_above_the_tree_changes_nothing(tmp_path: Path) -> None:
    root = _site(tmp_path / "tests" / "test")
    _bytecode.compile_for(_targets.host(), root, sys.executable)
    assert _compiled(root) == COMPILED


def test_another_interpreter_compiling_for_its_target_leaves_out_test_directories_too(tmp_path: Path) -> None:
    python = python_or_skip("3.9")
    root = _site(tmp_path)
    assert _bytecode.compile_with(python, root, _bytecode.TESTS) == "cpython-39"
    assert _compiled(root) == COMPILED


def test_an_archive_without_test_bytecode_imports_its_tests_and_stays_intact(tmp_path: Path, wheelhouse: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    make_wheel(links, "withtests", "1.0", "py3-none-any", FILES)
    archive = tmp_path / "app.pyz"
    succeeded(
        exearchive("pack", "withtests", "-e", "withtests.app:main", "-o", archive, env=cli_env(wheelhouse, links))
    )
    assert read_manifest(archive)["pyc"] == [TAG]
    with zipfile.ZipFile(archive) as outer:
        names = zipfile.ZipFile(BytesIO(outer.read("__exearchive__/payload.zip"))).namelist()
    pycs = {n for n in names if n.endswith(".pyc")}
    assert f"{SITE}/withtests/__pycache__/testing.{TAG}.pyc" in pycs
    assert not [n for n in pycs if "/tests/" in n or "/test/" in n], pycs

    # where the entry is writable, the import system caches what it compiled beside the sources, as usual
    cache = tmp_path / "cache"
    env = {"PYTHONDONTWRITEBYTECODE": ""}
    for _ in range(2):
        ran = run_archive(archive, root=cache, env=env)
        assert (ran.returncode, ran.stdout) == (0, "testing 1 2\n"), ran.stderr
    written = [p for p in cache.rglob(f"test_one.{TAG}.pyc")]
    assert len(written) == 1
    tools = clean_env({"EXEARCHIVE_ROOT": str(cache), "EXEARCHIVE_TOOLS": "1"})
    verified = run([sys.executable, str(archive), "verify"], env=tools)
    assert verified.returncode == 0 and "verify: intact" in verified.stdout, verified.stdout + verified.stderr


@pytest.mark.parametrize("value", ["true", "false"])
def test_compile_tests_is_a_boolean_setting(value: str, tmp_path: Path) -> None:
    from exearchive.backend import _config

    config = _config.load(tmp_path, {"exearchive.compile-tests": value})
    assert config.compile_tests is (value == "true")


_SOURCE = "SIGNS = ['*', ']', '@', ',']\n"
_COMPILE_AFTER = """\
import sys
from pathlib import Path
from exearchive.backend import _pack
if sys.argv[2] == "interned":
    sys.intern("*"), sys.intern("]")  # what an earlier module may have done in the compiling process
_pack.compile_site(Path(sys.argv[1]))
"""


def test_bytecode_does_not_depend_on_what_the_compiling_process_interned(tmp_path: Path) -> None:
    """One-character strings are shared objects, marshalled as interned or not as they are at that moment."""
    found = []
    for state in ("interned", "fresh"):
        site = tmp_path / state / SITE
        site.mkdir(parents=True)
        (site / "signs.py").write_text(_SOURCE)
        result = run([sys.executable, "-c", _COMPILE_AFTER, tmp_path / state, state], env=clean_env())
        assert result.returncode == 0, result.stderr
        found.append((site / "__pycache__" / f"signs.{sys.implementation.cache_tag}.pyc").read_bytes())
    assert found[0] == found[1]


# A frozenset constant of strings (marshalled in hash order before 3.11) and names used once (flagged or not
# by marshal as the compiling process holds the same interned string or not); enough modules for the pool.
_SEEDED = "def pick(x):\n    return x in {{'alpha', 'beta', 'gamma', 'delta', 'epsilon'}}, 'once_{index}'\n"


# not PyPy: it marshals a name as interned or not as the process holds it then, which varies (see _compile)
@pytest.mark.parametrize("name", ["3.8", "3.10", "build", "3.13"])
def test_bytecode_is_the_same_whatever_the_hash_seed_and_the_worker(name: str, tmp_path: Path) -> None:
    """Three processes (random hash seeds, files shared out to workers as they come) write the same bytes."""
    python = sys.executable if name == "build" else python_or_skip(name)
    found = []
    for attempt in range(3):
        site = tmp_path / str(attempt) / SITE
        site.mkdir(parents=True)
        for index in range(100):
            (site / f"m{index}.py").write_text(_SEEDED.format(index=index))
        env = {k: v for k, v in clean_env().items() if k != "PYTHONHASHSEED"}
        result = run([python, "-I", _bytecode._compile.__file__, site, SITE, ""], env=env)
        assert result.returncode == 0, result.stderr
        found.append({p.name: p.read_bytes() for p in sorted(site.rglob("*.pyc"))})
        assert len(found[-1]) == 100, sorted(found[-1])
    assert found[0] == found[1] == found[2]
    check = "import m7; assert m7.pick('beta') == (True, 'once_7'), m7.pick('beta'); print(m7.__cached__)"
    result = run([python, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); {check}"], env=clean_env())
    assert result.returncode == 0 and result.stdout.strip().endswith(".pyc"), result.stderr


def test_the_seeded_interpreter_has_a_fixed_hash_seed_and_ignores_modules_in_its_directory(tmp_path: Path) -> None:
    """What compiles below 3.11 (``_compile.seeded``, also the launcher's compile there)."""
    (tmp_path / "py_compile.py").write_text("raise SystemExit('the working directory shadowed the stdlib')\n")
    code = "import py_compile; print(sys.flags.hash_randomization, hash('exearchive'), sys.argv[1:])"
    command, env = _bytecode._compile.seeded(code, "a", "b")
    found = set()
    for _ in range(2):
        result = run(command, env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        found.add(result.stdout)
    (line,) = found  # the same hash in two processes
    assert line.startswith("0 ") and line.strip().endswith("['a', 'b']"), line
