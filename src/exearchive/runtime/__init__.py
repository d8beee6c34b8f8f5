"""The exearchive launcher: the code that goes into every archive.

Copied into each archive as ``_exearchive_runtime``, with bytecode for the
build interpreter; the *run side* of exearchive.  Rules: standard library
only, never ``exearchive`` (modules import each other relatively); CPython 3.8
and newer and PyPy 3; the warm path (this module and ``_boot``) imports
nothing beyond ``os``, ``sys`` and ``fcntl``, the rest only when needed.
The protocol is the ``MANIFEST`` literal in the archive's ``__main__.py``
(see ``_boot``).

On any other interpreter zipimport would compile ``_boot`` from source on
every start, 10-20 ms.  So the archive's ``__main__`` calls
``use_compiled_copy`` first: it puts the copy of the warm-path modules that
a start on this interpreter left in the cache entry, with their bytecode,
ahead of the archive on ``__path__``.  ``_extract.install_copy`` makes that
copy.  This module is compiled on every such start: keep it short.
"""

import os
import sys

STATE_DIR = ".exearchive"
READY = "ready-"
COPY = "launcher-"


def interpreter_key():
    """Name this interpreter for ready markers: bytecode and check results."""
    impl = sys.implementation
    tag = impl.cache_tag or impl.name
    version = "%d.%d.%d" % sys.version_info[:3]
    return "%s%s-%s-%s" % (tag, getattr(sys, "abiflags", ""), version, sys.platform)


def default_root(env):
    """The cache root and whether it was chosen: ``EXEARCHIVE_ROOT`` or the platform's cache directory."""
    root = env.get("EXEARCHIVE_ROOT")
    if root:
        return os.path.abspath(root), True
    if sys.platform == "win32":
        base = env.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    else:
        base = env.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "exearchive"), False


def unsafe_reason(st):
    """Why a directory with this ``stat`` result must not hold a cache, or None."""
    if not hasattr(os, "geteuid"):
        return None
    if st.st_uid not in (os.geteuid(), 0):
        return "it is owned by another user (uid %d)" % st.st_uid
    if st.st_mode & 0o022:
        return "others can write to it (mode %o)" % (st.st_mode & 0o7777)  # 1777, not 777, for /tmp
    return None


def copy_dir(entry, manifest):
    """Where the cache entry keeps its copy of the launcher's warm path (named by the launcher's hash)."""
    return os.path.join(entry, STATE_DIR, COPY + manifest["launcher"])


def use_compiled_copy(manifest):
    """Import the launcher's warm-path modules from the entry's copy if it is ready for this interpreter."""
    root = default_root(os.environ)[0]
    try:
        if unsafe_reason(os.stat(root)) is None:
            copy = copy_dir(os.path.join(root, manifest["id"]), manifest)
            os.stat(os.path.join(copy, READY + interpreter_key()))
            __path__.insert(0, copy)
    except (OSError, KeyError):
        pass
