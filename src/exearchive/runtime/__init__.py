"""The exearchive launcher: the code that goes into every archive.

Copied into each archive as ``_exearchive_runtime``, with bytecode for the
build interpreter; the *run side* of exearchive.  Rules: standard library
only, never ``exearchive`` (modules import each other relatively); CPython 3.8
and newer and PyPy 3; the warm path (this module and ``_boot``) imports
nothing beyond ``os``, ``sys`` and ``fcntl``, the rest only when needed.
The protocol is the ``MANIFEST`` literal in the archive's ``__main__.py``
(see ``_boot``).

On any other interpreter zipimport would compile ``_boot`` from source on
every start, 10-20 ms.  So ``start``, which the archive's ``__main__`` calls
first, calls ``use_compiled_copy``: it puts the copy of the warm-path modules that
a start on this interpreter left in the cache entry, with their bytecode,
ahead of the archive on ``__path__``.  ``_extract.install_copy`` makes that
copy.  This module is compiled on every such start: keep it short.
"""

import os
import sys

# The archive format and the cache layout, defined here once (``_boot``'s docstring describes them; the
# backend and the command import these names).
FORMAT = 2  # the manifest's "format": the newest version of the layout below this launcher reads
SINGLE_FORMAT = 1  # the format of a single-target archive (2: several targets, see ``_boot``)
RUNTIME = "_exearchive_runtime"  # this package, as the archive holds it
PAYLOAD = "__exearchive__/payload.zip"  # the payload member: a zip stored in the archive
MANIFEST_JSON = "__exearchive__/manifest.json"  # the manifest as JSON, for tools that do not run the archive
LAUNCHER_FILES = "launcher_files"  # manifest.json only: member name -> SHA-256 of every launcher member
ID_LENGTH = 32  # hex digits of a content id (a hash of a target's files): an entry's name
TARGET_LISTS = "__exearchive__/targets/"  # + k: target k's file list (payload member names), several targets
VARIANT = "~"  # payload members "~<k>/<path>": a variant of <path> first held by target k
CHOSEN = ".chosen"  # in the root: <archive id>-<interpreter key> -> the chosen target's id (a symlink)
STATE_DIR = ".exearchive"  # in an entry: the launcher's own files
COMPLETE = "complete"  # in STATE_DIR: the completion record
READY = "ready-"  # in STATE_DIR: READY + interpreter_key(), the entry is ready for that interpreter
COPY = "launcher-"  # in STATE_DIR: COPY + the launcher's hash, its warm path compiled for another interpreter
RUNTIME_PREFIX = RUNTIME + "/"  # the launcher in the archive; also how its shipped bytecode names files
REEXECED = "EXEARCHIVE_REEXECED"  # names the interpreter that gave way to this one (``_reexec``)
OWNERS = (os.geteuid(), 0) if hasattr(os, "geteuid") else None  # who may own a trusted entry


class LauncherError(Exception):
    """A problem the launcher reports as one line and a non-zero exit."""

    def __init__(self, message, code=1):
        Exception.__init__(self, message)
        self.code = code


def interpreter_key():
    """Name this interpreter for ready markers: bytecode and check results.

    The machine is part of it (``os.uname().machine``): a home directory
    mounted on x86_64 and aarch64 machines holds one cache, and an entry
    checked on one must be checked again on the other.
    """
    impl = sys.implementation
    tag = impl.cache_tag or impl.name
    version = "%d.%d.%d" % sys.version_info[:3]
    machine = os.uname().machine if hasattr(os, "uname") else os.environ.get("PROCESSOR_ARCHITECTURE", "")
    return "%s%s-%s-%s-%s" % (tag, getattr(sys, "abiflags", ""), version, sys.platform, machine.lower())


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


def fallback_root(env):
    """The per-user root in the temp dir used when the default root cannot be: ``$TMPDIR/exearchive-<uid>``.

    The temp dir is the first of ``TMPDIR``, ``TEMP`` and ``TMP`` that is set,
    else ``/tmp`` (the user's local temp dir on Windows): computed without
    ``tempfile``, the same way on the warm path, the cold path and in the tools.
    """
    temp = env.get("TMPDIR") or env.get("TEMP") or env.get("TMP")
    if not temp:
        temp = os.path.expanduser("~\\AppData\\Local\\Temp") if sys.platform == "win32" else "/tmp"
    uid = os.geteuid() if hasattr(os, "geteuid") else 0
    return os.path.join(os.path.abspath(temp), "exearchive-%d" % uid)


def cache_roots(env):
    """Every root a start may use, in the order it looks: ``[(path, explicit)]``.

    ``EXEARCHIVE_ROOT`` alone when it is set; else the platform's cache
    directory, then the fallback root (``fallback_root``).  The tools list and
    prune all of them.
    """
    root, explicit = default_root(env)
    if explicit:
        return [(root, True)]
    return [(root, False), (fallback_root(env), False)]


def unsafe_reason(st):
    """Why a directory with this ``lstat`` result must not hold a cache, or None."""
    if not hasattr(os, "geteuid"):
        return None
    kind = st.st_mode & 0o170000
    if kind != 0o040000:
        return "it is a symbolic link" if kind == 0o120000 else "it is not a directory"
    if st.st_uid not in (os.geteuid(), 0):
        return "it is owned by another user (uid %d)" % st.st_uid
    if st.st_mode & 0o022:
        return "others can write to it (mode %o)" % (st.st_mode & 0o7777)  # 1777, not 777, for /tmp
    return None


_NAME_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_.-")


def plain_name(value):
    """Whether a manifest value can name a directory in the cache: a content id or the launcher's hash."""
    return isinstance(value, str) and bool(value) and not value.startswith(".") and _NAME_CHARS.issuperset(value)


def copy_dir(entry, manifest):
    """Where the cache entry keeps its copy of the launcher's warm path (named by the launcher's hash)."""
    return os.path.join(entry, STATE_DIR, COPY + manifest["launcher"])


def use_compiled_copy(manifest):
    """Import the launcher's warm-path modules from the entry's copy if it is ready for this interpreter."""
    if not (plain_name(manifest.get("id")) and plain_name(manifest.get("launcher"))):
        return False
    uid = os.geteuid() if hasattr(os, "geteuid") else 0
    for root, _explicit in cache_roots(os.environ):
        try:
            if unsafe_reason(os.lstat(root)) is None:
                copy = copy_dir(os.path.join(root, manifest["id"]), manifest)
                if os.stat(os.path.join(copy, READY + interpreter_key())).st_uid in (uid, 0):
                    __path__.insert(0, copy)
                    return True
        except OSError:
            pass
    return False


# zipimport checks no CRC: a damaged _boot.pyc could crash the interpreter.  So a start that finds no
# ready marker for this interpreter (the first start of this content here, or after a prune), and every
# run of the tools, compares every launcher member with its SHA-256 in manifest.json first; a warm start
# pays one stat (the ready marker's, which _boot looks at again).  A copy of the archive damaged after
# its entry was made is not checked by a warm start: verify and exearchive inspect --verify find it.
# (Comments, not a docstring: this module's bytecode is read on every start.)
def link_name(archive_id):
    """The name of an archive's choice in ``ROOT/.chosen``: its id and this interpreter's key."""
    return "%s-%s" % (archive_id, interpreter_key())


def chosen(manifest, env):
    """The manifest of the target chosen for this interpreter (one ``readlink``: ``CHOSEN``), or None.

    An archive of several targets is ``{**manifest, **targets[k]}`` to the
    launcher; the link names target k's id, checked to be one of them.
    """
    name = link_name(manifest.get("id"))
    for root, _explicit in cache_roots(env):
        try:
            target_id = os.readlink(os.path.join(root, CHOSEN, name))
        except (OSError, ValueError):
            continue
        for target in manifest["targets"]:
            if target.get("id") == target_id:
                return dict(manifest, **target)
    return None


def start(manifest, loader):
    """Called by ``__main__`` before it imports ``_boot``: check the launcher unless the entry is ready.

    Returns the manifest to run with: of an archive of several targets, the
    chosen target's view when the choice is cached (else the cold path makes it).
    """
    tools = os.environ.get("EXEARCHIVE_TOOLS")  # the tools (verify) check the launcher whatever the entry's state
    if manifest.get("targets") and not tools:
        manifest = chosen(manifest, os.environ) or manifest
    if sys.implementation.cache_tag != manifest.get("launcher_pyc"):
        if use_compiled_copy(manifest) and not tools:
            return manifest
    elif not tools and plain_name(manifest.get("id")):
        for root, _explicit in cache_roots(os.environ):
            try:
                os.stat(os.path.join(root, manifest["id"], STATE_DIR, READY + interpreter_key()))
                return manifest
            except OSError:
                pass
    if not hasattr(loader, "archive"):
        return manifest  # not run from a zip
    try:
        import json

        expected = json.loads(loader.get_data(MANIFEST_JSON).decode("utf-8"))[LAUNCHER_FILES]
    except Exception:  # built before the hashes were recorded, or a damaged manifest.json (zlib.error and all)
        expected = {}  # the launcher runs with __main__.py's MANIFEST; verify names the damage
    if isinstance(expected, dict):
        import hashlib

        for name in sorted(expected):
            try:
                data = loader.get_data(name)
            except Exception:  # missing, or zlib.error for damaged deflated bytes
                data = None
            if data is None or hashlib.sha256(data).hexdigest() != expected[name]:
                sys.stderr.write(
                    "%s: error: the archive %s is damaged: its launcher file %s is not what was built; "
                    "rebuild it or get an intact copy\n" % (os.path.basename(sys.argv[0]), loader.archive, name)
                )
                sys.exit(1)
    return manifest
