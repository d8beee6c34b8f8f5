"""The launcher's files as an archive ships them: its sources, and bytecode for the build interpreter.

zipimport loads ``name.pyc`` beside ``name.py`` when its magic number is this
interpreter's and compiles the source otherwise, so a start on the build
interpreter skips compiling the launcher (several ms on every start).

The bytecode must be the same in every build of the same sources.  marshal's
output depends on the reference counts of the objects it writes (an object
referenced more than once is written with a back-reference flag), so code
compiled inside a build, whose state varies, would differ from build to
build.  Hence:

- the runtime package's modules are compiled in a fresh interpreter
  (``-I -S``; before 3.11, with ``PYTHONHASHSEED=0`` instead of ``-I``, as
  ``_compile`` explains), started when the build starts (:class:`Launcher`) so that it
  runs while the build resolves and stages, not after;
- ``__main__.py`` holds the manifest, so it is known only at the end.  It is
  compiled here and marshalled in format 2, which writes no back-references:
  the same source gives the same bytes in any process.  The file is small
  and its code runs once, so format 4's sharing buys nothing there.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import marshal
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from types import TracebackType

from ..runtime import ID_LENGTH, RUNTIME
from . import _bytecache, _compile, _deflate

# The launcher modules that ship bytecode: what a start imports (the warm path, and in interpreter mode
# ``_interpreter``) and what a cold start on the build interpreter does.  The rest is imported only when
# asked for (the tools and their checks), when several targets are chosen from, when a payload is compiled
# or when something went wrong; zipimport compiles each of those from its source when it is used (0.1-1.4 ms
# a module), which keeps 60 KB of bytecode out of every archive.
BYTECODE = frozenset(
    [
        "__main__.py",
        f"{RUNTIME}/__init__.py",
        f"{RUNTIME}/_boot.py",
        f"{RUNTIME}/_cache.py",
        f"{RUNTIME}/_compat.py",
        f"{RUNTIME}/_extract.py",
        f"{RUNTIME}/_interpreter.py",
        f"{RUNTIME}/_markers.py",
        f"{RUNTIME}/_unpack.py",
        f"{RUNTIME}/_versions.py",
        f"{RUNTIME}/_zipdir.py",
    ]
)

# Compiles each file named on the command line (source, cfile, dfile), skipping any that does not compile here;
# without docstrings (optimize=2: nothing reads the launcher's; its bytecode is a fifth smaller).
_COMPILE = """\
import py_compile, sys
args = sys.argv[1:]
for source, cfile, dfile in zip(args[0::3], args[1::3], args[2::3]):
    try:
        py_compile.compile(source, cfile=cfile, dfile=dfile, doraise=True, optimize=2,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except py_compile.PyCompileError:
        pass
"""

_UNCHECKED_HASH = (1).to_bytes(4, "little")  # a pyc's flags: hash-based, not checked against the source
_MAIN_MARSHAL = 2  # the newest marshal format without back-references


class Launcher:
    """The runtime package's files, its modules compiled in the background from the moment this is made.

    ``cache``: the build cache's folder of this interpreter's bytecode
    (``_cachedir.bytecode_folder``): the modules compiled once are taken from
    there, the same bytes, and no compiler is started when it has them all.

    Use it as a context manager around the build: leaving it ends the
    compiler if the build failed before :meth:`members` was asked.
    """

    def __init__(self, cache: str | None = None) -> None:
        package = importlib.resources.files("exearchive.runtime")
        self.runtime = [
            (f"{RUNTIME}/{item.name}", item.read_bytes())
            for item in sorted(package.iterdir(), key=lambda p: p.name)
            if item.name.endswith(".py")
        ]
        self._compiled: dict[str, bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._temp: tempfile.TemporaryDirectory[str] | None = None
        self._outputs: dict[str, Path] = {}
        self._cache = cache
        self._kept: dict[str, bytes] = {}
        if sys.implementation.cache_tag is None:
            self._compiled = {}
            return
        missing = []
        for index, (name, source) in enumerate(self.runtime):
            if name not in BYTECODE:
                continue
            kept = _bytecache.load(cache, _key(name, source)) if cache else None
            if kept is not None:
                self._kept[name] = kept
            else:
                missing.append((index, name, source))
        if not missing:  # all from the build cache: no compiler to start
            self._compiled = self._kept
            return
        self._temp = tempfile.TemporaryDirectory(prefix="exearchive-pyc-")
        args = []
        for index, name, source in missing:
            path = Path(self._temp.name) / f"m{index}.py"
            path.write_bytes(source)
            self._outputs[name] = path.with_suffix(".pyc")
            args += [str(path), str(path.with_suffix(".pyc")), name]
        # before 3.11 marshal writes a frozenset constant in hash order: there the seed is fixed (_compile)
        command, env = (
            _compile.seeded(_COMPILE, *args)
            if sys.version_info < (3, 11)
            else ([sys.executable, "-I", "-S", "-c", _COMPILE, *args], None)
        )
        self._process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def __enter__(self) -> Launcher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """End the compiler (if it still runs) and remove its files."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            self._process = None
        if self._temp is not None:
            self._temp.cleanup()
            self._temp = None

    def keys(self) -> dict[str, str | None]:
        """The manifest keys that describe the launcher written into every archive.

        ``launcher``: a hash of its sources, naming the copy that a start on
        another interpreter keeps in the cache entry; ``launcher_pyc``: the cache
        tag of the bytecode shipped beside them (None when there is none).
        """
        digest = hashlib.sha256()
        for name, data in self.runtime:
            digest.update(b"%d:%s\0%d:" % (len(name), name.encode(), len(data)) + data)
        return {"launcher": digest.hexdigest()[:ID_LENGTH], "launcher_pyc": sys.implementation.cache_tag}

    def members(self, main: bytes) -> list[tuple[str, bytes]]:
        """``__main__.py`` (``main``: its source) and the runtime's files, each followed by its bytecode."""
        compiled = {**self._runtime_bytecode()}
        main_code = main_bytecode(main)
        if main_code is not None:
            compiled["__main__.py"] = main_code
        members = []
        for name, data in [("__main__.py", main), *self.runtime]:
            members.append((name, data))
            if name in compiled:
                members.append((name + "c", compiled[name]))
        return members

    def deflated(self, name: str, data: bytes, level: int) -> _deflate.Compressed:
        """The launcher's file ``name`` (``data``: one of :meth:`members`) as ``_deflate.compress_bytes`` makes it
        at ``level``; from the build cache, where an earlier build kept it (every build ships the same files:
        deflating them took 10 ms of each).  A file of the cache holds the method, then the bytes."""
        key = _bytecache.key(f"deflate {level} zlib {zlib.ZLIB_RUNTIME_VERSION}", name.encode() + b"\0" + data)
        kept = _bytecache.load(self._cache, key) if self._cache else None
        if kept and kept[0] in (_deflate.STORED, _deflate.DEFLATED):
            return _deflate.Compressed(kept[1:], len(data), zlib.crc32(data), kept[0], False)
        member = _deflate.compress_bytes(data, False, level)
        if self._cache:
            _bytecache.keep(self._cache, key, bytes([member.method]) + member.data)
        return member

    def _runtime_bytecode(self) -> dict[str, bytes]:
        if self._compiled is None:
            assert self._process is not None
            self._process.wait()
            compiled = {name: path.read_bytes() for name, path in self._outputs.items() if path.is_file()}
            self.close()
            if self._cache:
                sources = dict(self.runtime)
                for name, data in compiled.items():
                    _bytecache.keep(self._cache, _key(name, sources[name]), data)
            self._compiled = {**self._kept, **compiled}
        return self._compiled


def _key(name: str, source: bytes) -> str:
    """The build cache's name for the bytecode of the launcher's module ``name`` (``_bytecache``)."""
    return _bytecache.key(f"launcher {_COMPILE}", name.encode() + b"\0" + source)


def main_bytecode(source: bytes) -> bytes | None:
    """Unchecked-hash bytecode of ``__main__.py`` for this interpreter, the same bytes in any process."""
    if sys.implementation.cache_tag is None:
        return None
    try:
        code = compile(source, "__main__.py", "exec", dont_inherit=True, optimize=2)
    except SyntaxError:
        return None
    header = importlib.util.MAGIC_NUMBER + _UNCHECKED_HASH + importlib.util.source_hash(source)
    return header + marshal.dumps(code, _MAIN_MARSHAL)


def hashes(members: list[tuple[str, bytes]]) -> dict[str, str]:
    """``manifest.json``'s ``launcher_files``: the SHA-256 of every launcher member (sources and bytecode).

    ``__main__.py`` holds the manifest, so it cannot be listed; the checks
    compare its ``MANIFEST`` with ``manifest.json`` instead.  The key is not
    in that ``MANIFEST``: every start parses it, only a cold one needs this.
    """
    return {name: hashlib.sha256(data).hexdigest() for name, data in members}
