"""Build cache entries made while pip still resolves: of each wheel pip says it takes from a local file.

pip names every distribution it settles on as it goes (``Processing
/wheelhouse/click-8.1.7-py3-none-any.whl``), a few hundred milliseconds
before it exits (it copies the wheels and tidies up after that).  A wheel
named so that is a local file is made into its cache entry (staged, compiled,
compressed: ``_cachestore``) in a background thread meanwhile, on the core
pip leaves free; when pip is done, the build finds the entry made.  The entry
is keyed by the wheel's bytes like any other, so this changes what the build
does when, never what it packs: a wheel pip named and then dropped costs the
time it took, nothing more.  With an index, pip names URLs and nothing is made
early.

Only for the build interpreter's own target, with the build cache on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from . import _buildcache, _deflate
from ._cachestore import Compile

logger = logging.getLogger(__name__)

_PREFIX = "Processing "
_FROM = " (from "


def local_wheel(line: str, cwd: Path) -> Path | None:
    """The local wheel file a line of pip's output says it takes (``Processing PATH [(from ...)]``), or None.

    pip shows a path under its working directory ``cwd`` relative to it (``Processing ./wheels/x.whl``).
    """
    if not line.startswith(_PREFIX):
        return None
    path = Path(line[len(_PREFIX) :].split(_FROM)[0].strip())
    if path.suffix != ".whl":
        return None
    path = path if path.is_absolute() else cwd / path
    return path if path.is_file() else None


class Prefill:
    """Makes the cache entries of the wheels handed to :meth:`add`, one at a time, in a background thread.

    A context manager: leaving it waits for what was handed over (the build
    needs those entries next), or, when the block failed, for the entry in
    the making only.
    """

    def __init__(
        self,
        requested: str,
        compile_tree: Compile | None,
        compiler: Callable[[], str],
        level: int = _deflate.LEVEL,
    ) -> None:
        self._requested = canonicalize_name(requested)
        self._compile_tree = compile_tree
        self._compiler = compiler
        self._identity = ""
        self._level = level
        self._cache = _buildcache.usable_cache()
        self._stack = ExitStack()
        self._pool: ThreadPoolExecutor | None = None
        self._seen: set[str] = set()
        self._cwd = Path.cwd()  # pip's: it runs in this process's working directory

    def __enter__(self) -> Prefill:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=kind is not None)
        self._stack.close()

    def add(self, line: str) -> None:
        """Take a line of pip's output: a local wheel it names is made into its entry."""
        wheel = local_wheel(line, self._cwd)
        if wheel is None or self._cache is None or wheel.name in self._seen:
            return
        try:
            name = canonicalize_name(parse_wheel_filename(wheel.name)[0])
        except InvalidWheelFilename:
            return
        if name == self._requested:  # the project's own wheel is staged afresh, never cached
            return
        self._seen.add(wheel.name)
        if self._pool is None:
            self._identity = _buildcache.compiler_identity(self._compile_tree, self._compiler)
            try:
                self._stack.enter_context(self._cache.shared())  # pruning waits until this build is done
            except OSError as error:
                logger.debug("build cache: not preparing wheels while pip resolves: %s", error)
                self._cache = None
                return
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="exearchive-prefill")
        self._pool.submit(self._make, wheel)

    def _make(self, wheel: Path) -> None:
        assert self._cache is not None
        try:
            self._cache.entries_for([wheel], self._identity, self._compile_tree, self._level)
        except Exception as error:  # the build makes it again after pip, and says what is wrong
            logger.debug("build cache: could not prepare %s while pip resolved: %s", wheel.name, error)
