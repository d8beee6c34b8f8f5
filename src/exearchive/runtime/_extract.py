"""Cold path of the launcher: check, extract once, publish atomically.

Called by ``_boot.open_entry`` when the entry for this archive is missing,
incomplete, or not yet ready for the running interpreter.  Steps:

1. compatibility check (``_compat.check``) before anything is written;
2. a usable cache root (``_cache.root_problem``): resolved, every directory above
   it owned by the user or root and not writable by others (unless sticky),
   the root itself a real directory created 0700 that only its owner can
   write (an explicit ``EXEARCHIVE_ROOT`` that is not is an error, the default
   root falls back to ``fallback_root``); then an existing entry is trusted
   only if ``entry_problem`` finds nothing (owner, content id, file count);
3. under an exclusive lock (``_cache.Lock``: flock, with a timeout; without a lock when none
   can be had, which stays correct because publishing is a rename), remove
   leftovers of killed starts, write every payload member into a unique
   temp directory beside the target (``_zipdir`` reads the central
   directories, ``_unpack`` writes the files with a few threads, streaming
   the large ones, hashing each file: files that do not hash to the
   content id are refused, and so, of an archive whose content id is its
   payload's hash, is a payload that is not the one the manifest names; of
   an archive of several targets, only the chosen one's files), compile
   bytecode for this interpreter unless the payload ships it
   (``_compile``, in several processes for large payloads), write the
   completion record and the ready marker for this interpreter, rename into
   place;
4. for an entry published by another interpreter: compile bytecode for this
   one in place (each ``.pyc`` is written atomically) and write its ready marker.

A start killed at any moment leaves at most a ``.tmp-*`` directory, which no
start trusts and the next extraction removes (no state of a live start's temp
directory is one a sweeper cannot judge: ``Tmp``, ``_cache.claim_leftover``),
or a ``.trash-*`` directory, removed once older than ``_cache.GRACE``; or, killed
just after publishing, the lock file of its temp directory in the entry's
state directory, which nothing reads.

Test hook: ``EXEARCHIVE_TEST_KILL_AT=POINT`` (or ``POINT:N``) makes the
process kill itself with SIGKILL when it reaches ``POINT`` (the N-th time);
see ``_checkpoint``.  It is read only here, on the cold path.
"""

import errno
import os
import sys

from . import (
    COMPLETE,
    OWNERS,
    PAYLOAD,
    READY,
    REEXECED,
    RUNTIME_PREFIX,
    STATE_DIR,
    VARIANT,
    LauncherError,
    _cache,
    copy_dir,
    interpreter_key,
    plain_name,
)
from ._cache import TMP_LOCK, remove_leftovers, remove_tree

# What a warm start imports of the launcher after its package: all that the entry's copy holds.  The rest
# runs once per entry and interpreter, or for the tools; it comes from the archive.
COPIED = ("_boot.py", "_interpreter.py")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_KILL_AT = os.environ.get("EXEARCHIVE_TEST_KILL_AT", "")
_reached = {}  # type: dict[str, int]


def _checkpoint(point):
    """Test hook: die here with SIGKILL if ``EXEARCHIVE_TEST_KILL_AT`` names this point.

    Points, in order: ``locked``, ``made`` (a temp dir made, nothing in it),
    ``state`` (its state directory made), ``opened`` (its lock file made, not
    yet locked), ``tmp``, ``file`` (after each extracted file), ``extracted``,
    ``compiled``, ``recorded`` (completion record and ready marker written,
    not yet published), ``renamed`` (published, the temp dir's lock file still
    in it), ``published``, and for an entry
    made ready for another interpreter: ``compiling`` (after each ``.pyc``)
    and ``ready``.
    """
    if _KILL_AT:
        count = _reached[point] = _reached.get(point, 0) + 1
        if _KILL_AT in (point, "%s:%d" % (point, count)):
            sys.stdout.flush()
            sys.stderr.flush()
            os.kill(os.getpid(), 9)


def prepare(manifest, archive, root, explicit, env, trace, hold_use_lock):
    """Return a ready entry for this archive, its use lock held (``hold_use_lock(fd)``); extract it if need be."""
    needs = manifest.get("needs")
    if needs and not manifest.get("checked"):  # checked: ``_choose`` chose this target for this interpreter
        from . import _compat

        problem = _compat.check(needs, archive)
        if problem:
            _run_elsewhere(needs, archive, env, trace)
            raise LauncherError(problem + elsewhere_note(env))
        trace("compatibility check passed")
    entry_id = str(manifest["id"])
    if not plain_name(entry_id):
        raise LauncherError(
            "the archive %s is damaged: its content id %r is not a plain name; rebuild it" % (archive, entry_id)
        )
    root = _cache.usable_root(root, explicit, entry_id, env, trace)
    entry = os.path.join(root, entry_id)
    state = os.path.join(entry, STATE_DIR)
    complete = os.path.join(state, COMPLETE)
    ready = os.path.join(state, READY + interpreter_key())
    for _attempt in range(3):
        if not os.path.exists(ready) or entry_problem(entry, manifest, archive) is not None:
            with _cache.Lock(root, entry_id, env, trace):
                _checkpoint("locked")
                problem = entry_problem(entry, manifest, archive)
                if problem is not None:
                    if problem is not _MISSING:
                        trace("not trusting %s: %s" % (entry, problem))
                    _extract(manifest, archive, root, entry, trace)
                elif not os.path.exists(ready):
                    _make_ready(manifest, entry, ready, trace)
        try:
            fd = os.open(complete, os.O_RDONLY | _NOFOLLOW)
        except OSError:
            continue  # pruned between publishing and opening: make it again
        hold_use_lock(fd)
        if os.path.exists(complete):  # a prune renames the whole entry away
            return entry
        os.close(fd)  # pruned while we waited for the use lock
    raise LauncherError(
        "the cache entry %s keeps disappearing while starting (is something pruning it?); run again" % entry
    )


def _run_elsewhere(needs, archive, env, trace):
    """Re-execute with an interpreter that fits, if there is one (``_reexec``); return if there is none."""
    from . import _reexec

    python = _reexec.other_interpreter(needs, archive, env, trace)
    if python is not None:
        _reexec.reexec(python, archive)


def elsewhere_note(env):
    """What the refusal adds about the interpreters tried instead."""
    from ._reexec import allowed

    if env.get(REEXECED):
        return " (%s started it with this interpreter, which cannot run it either)" % env[REEXECED]
    if env.get("EXEARCHIVE_PYTHON") and allowed(env):
        return " (EXEARCHIVE_PYTHON=%s cannot run it either)" % env["EXEARCHIVE_PYTHON"]
    return ""


_MISSING = "there is no completed entry"


def entry_problem(entry, manifest, archive=None, files=None):
    """Why the entry cannot be trusted for this archive, or None.

    Trusted: the entry is a directory and its completion record a file, both
    owned by the user or root (never followed through a symlink), and the
    record names this archive's content id and as many files as the payload
    holds (``files``, else counted in ``archive``'s payload directory).
    """
    try:
        st = os.lstat(entry)
        fd = os.open(os.path.join(entry, STATE_DIR, COMPLETE), os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    except FileNotFoundError:
        return _MISSING
    except OSError as error:
        return "its completion record cannot be read (%s)" % (error.strerror or error)
    try:
        record_st = os.fstat(fd)
        data = os.read(fd, 1 << 16)
    finally:
        os.close(fd)
    if (st.st_mode & 0o170000) != 0o040000:
        return "it is not a directory"
    if OWNERS is not None:
        for what, uid in (("the entry", st.st_uid), ("its completion record", record_st.st_uid)):
            if uid not in OWNERS:
                return "%s is owned by another user (uid %d)" % (what, uid)
    import json

    try:
        record = json.loads(data.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError too
        record = None
    if not isinstance(record, dict):
        return "its completion record is damaged"
    if record.get("id") != manifest["id"]:
        return "its completion record names another archive (%r)" % (record.get("id"),)
    if files is None:
        files = manifest["files"] if manifest.get("list") else payload_files(archive)
    if record.get("files") != files:
        return "its completion record counts %r files, the payload holds %d" % (record.get("files"), files)
    return None


def payload_files(archive):
    """How many files the archive's payload holds (its central directory, not its data)."""
    from . import _zipdir

    try:
        with open(archive, "rb") as handle:
            fd = handle.fileno()
            payload = _find_payload(fd, archive)
            return sum(1 for m in _zipdir.members(fd, payload[1], payload[3]) if not m[0].endswith("/"))
    except (OSError, ValueError) as error:  # _zipdir.Damaged is a ValueError
        raise LauncherError(
            "the archive %s is damaged (%s); rebuild it or get an intact copy" % (archive, error)
        ) from None


def _extract(manifest, archive, root, entry, trace):
    """Extract the payload into a temp dir beside ``entry``, then publish it."""
    remove_leftovers(root, trace)
    try:
        tmp = Tmp(root, manifest["id"])
    except OSError as error:
        raise LauncherError("cannot write to the cache root %s: %s" % (root, error.strerror or error)) from None
    try:
        count = fill(tmp, manifest, archive, os.environ, trace)[0]
        sync = sync_wanted(os.environ)
        _publish(tmp.path, entry, root, tmp.token, trace, lambda: entry_problem(entry, manifest, files=count) is None)
        if sync:
            _fsync_dir(root)
        _checkpoint("renamed")
        tmp.published(entry)
        _checkpoint("published")
    except OSError as error:
        tmp.remove()
        raise LauncherError("cannot write the cache entry %s: %s" % (entry, error.strerror or error)) from None
    except BaseException:
        tmp.remove()
        raise


def fill(tmp, manifest, archive, env, trace, verified=True, runnable=True, record=None):
    """Write the payload into ``tmp`` (a ``Tmp``) as a finished entry, to be renamed into place; ``(files, record)``.

    Every member, counted (``check_count``); checked against the content id
    (``unpack``) unless not ``verified`` (a repair, which checked the whole
    archive first);
    bytecode for this interpreter and its ready marker only if it can run the
    archive (``runnable``); the completion record written by
    ``record(path, manifest, count)`` (``write_complete``; a repair carries the
    old one over), whose result is returned; synced to disk
    (``sync_wanted(env)``).  The caller publishes it and calls
    ``Tmp.published``.  Used by the cold path and by ``verify --repair``.
    """
    _checkpoint("tmp")
    count = unpack(archive, tmp.path, manifest=manifest if verified else None, target=target_of(manifest))
    check_count(tmp.path, count, archive)
    trace("extracted %d files, content id checked" % count if verified else "extracted %d files" % count)
    _checkpoint("extracted")
    if runnable and needs_bytecode(manifest):
        compile_payload(tmp.path, trace)
        _checkpoint("compiled")
    state = os.path.join(tmp.path, STATE_DIR)
    written = (record or write_complete)(os.path.join(state, COMPLETE), manifest, count)
    if runnable:
        with open(os.path.join(state, READY + interpreter_key()), "w"):
            pass
    _checkpoint("recorded")
    if sync_wanted(env):
        sync_tree(tmp.path, trace)
    return count, written


class Tmp:
    """A new ``ROOT/.tmp-<id>-<pid>-<token>/`` (0700) that this process fills, holding a lock inside it.

    The lock (``TMP_LOCK``, an exclusive ``flock`` on a file of its state
    directory, taken before anything else is written) says "a live process
    fills this", whatever PID namespace or host that process runs in: a start
    that sweeps leftovers removes a temp directory only when it can take that
    lock itself, and holds it while it removes the tree (``_cache.claim_leftover``).
    The lock file says who made it, for ``cache list``.

    No moment of a start leaves a tree that a sweeper cannot judge.  Before
    the lock is held the tree holds nothing but its state directory: a
    sweeper claims such a tree by making (or locking) the lock file itself,
    and the start that made it, finding its lock file taken or gone, tries
    again under a new name (``_ATTEMPTS``).  Once filled, the tree is
    published with its lock file in it, and ``published`` removes that file
    from the entry before it releases the lock (a start killed in between
    leaves a lock file in the entry's state directory, which nothing reads).
    """

    def __init__(self, root, entry_id):
        for _attempt in range(_ATTEMPTS):
            self.token = os.urandom(4).hex()
            self.path = os.path.join(root, _cache.tmp_name(entry_id, self.token))
            self.fd = -1
            os.mkdir(self.path, 0o700)
            try:
                _checkpoint("made")
                state = os.path.join(self.path, STATE_DIR)
                os.mkdir(state, 0o700)
                _checkpoint("state")
                self.fd = _hold_tmp_lock(os.path.join(state, TMP_LOCK))
                return
            except (FileExistsError, FileNotFoundError, _Claimed):
                continue  # a sweeper took the tree for a leftover (it removes it): another name
            except BaseException:
                self.remove()
                raise
        raise OSError(errno.EAGAIN, "other starts removed %d temp directories as they were made" % _ATTEMPTS)

    def published(self, entry):
        """The tree is now ``entry``: remove its lock file from there (if it is this one's), then release the lock."""
        path = os.path.join(entry, STATE_DIR, TMP_LOCK)
        try:
            held, there = os.fstat(self.fd), os.lstat(path)
            if (held.st_dev, held.st_ino) == (there.st_dev, there.st_ino):
                os.unlink(path)
        except OSError:
            pass
        self.close()

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)  # releases the lock
            self.fd = -1

    def remove(self):
        """Remove the tree (a failed extraction), then release the lock."""
        remove_tree(self.path)
        self.close()


_ATTEMPTS = 8


class _Claimed(Exception):
    """A sweeper holds the lock of the temp dir being made: it is removing it."""


def _hold_tmp_lock(path):
    """Create the lock file of a new temp dir, lock it, then write who holds it; return its descriptor.

    Raises ``FileExistsError``, ``FileNotFoundError`` or ``_Claimed`` when a
    sweeper claimed the tree first (see ``_cache.claim_leftover``).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    _checkpoint("opened")
    try:
        import fcntl
    except ImportError:  # Windows: a directory in use cannot be removed anyway
        return fd
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _Claimed() from None
        except OSError:
            return fd  # flock unsupported here: sweepers fall back to the grace age
        if os.fstat(fd).st_nlink == 0:
            raise _Claimed()  # a sweeper locked it, removed it and let go before this lock was taken
    except BaseException:
        os.close(fd)
        raise
    import time

    host = os.uname().nodename if hasattr(os, "uname") else "?"
    # written only once locked: a lock file that is empty may not be locked yet
    os.write(fd, ("%d %s %d\n" % (os.getpid(), host, int(time.time()))).encode())
    return fd


def sync_wanted(env):
    """Whether a new tree is synced to disk before it is published: unless ``EXEARCHIVE_SYNC`` is false."""
    return env.get("EXEARCHIVE_SYNC", "1").lower() not in ("0", "false", "no", "off")


def sync_tree(tree, trace):
    """Put everything written under ``tree`` on disk before it is published (``EXEARCHIVE_SYNC=0``: skip).

    Linux: one ``syncfs`` of the tree's file system (measured on the boto3
    payload, 2,394 files, on a fresh ext4: 90-140 ms; an ``fsync`` of each
    file took 3.1-3.5 s in four threads, 11-23 s in one).  Elsewhere, or when
    ``syncfs`` cannot be called: ``os.sync``.
    """
    try:
        import ctypes

        syncfs = ctypes.CDLL(None, use_errno=True).syncfs if sys.platform.startswith("linux") else None
    except (ImportError, OSError, AttributeError):
        syncfs = None
    fd = os.open(tree, os.O_RDONLY)
    try:
        if (syncfs is None or syncfs(fd) != 0) and hasattr(os, "sync"):
            os.sync()
    finally:
        os.close(fd)
    trace("synced %s to disk" % tree)


def _fsync_dir(path):
    """Make a rename in ``path`` durable; best effort (some file systems refuse ``fsync`` on a directory)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def check_count(tree, count, archive):
    """Refuse a tree that does not hold exactly the ``count`` files the payload's directory lists."""
    found = _count_files(tree, True)
    if found != count:
        raise LauncherError(
            "extracting %s wrote %d files but its payload holds %d (did something remove files from %s?); run again"
            % (archive, found, count, tree)
        )


def _count_files(directory, top=False):
    count = 0
    with os.scandir(directory) as items:
        for item in items:
            if item.is_dir(follow_symlinks=False):
                if not (top and item.name == STATE_DIR):
                    count += _count_files(item.path)
            else:
                count += 1
    return count


def target_of(manifest):
    """``manifest`` when it is the view of one target of several (it has a file list), else None."""
    return manifest if manifest.get("list") else None


def unpack(archive, dest, members=None, manifest=None, target=None):
    """Extract the archive's payload into ``dest``; return the number of files.

    ``members``, when given, limits extraction to those names (for repairs).
    With ``manifest``, what is written is checked against the content id:
    when the manifest names a target, each file is hashed as it is written
    and files whose sorted paths, modes and hashes do not hash to the id are
    refused (``_check_id``; that covers every byte written, so the payload is
    not hashed as a whole as well); else (archives of before targets, whose
    id is the payload's hash, or only some ``members``) the payload is hashed
    meanwhile and a hash other than the manifest's (its ``payload.sha256``,
    else its content id) is refused.  With ``target`` (the view of one
    target of several, ``target_of``), only the members of its file list are
    written, each ``~k/`` variant to its plain path, and a list that is not
    the one the manifest names is refused.
    """
    import zlib

    from . import _unpack, _zipdir

    try:
        with open(archive, "rb") as handle:
            fd = handle.fileno()
            payload = _find_payload(fd, archive)
            renames = None if target is None else read_list(fd, archive, target)
            # an id that names its files, and all of them written: each hashed for _check_id, nothing else
            by_files = manifest is not None and bool(manifest.get("target")) and members is None
            jobs = _plan(_zipdir.members(fd, payload[1], payload[3]), dest, members, renames, by_files)
            if renames is not None and members is None and len(jobs) != len(renames):
                raise LauncherError(
                    "the archive %s is damaged: target %s lists %d files, its payload holds %d of them; rebuild it"
                    % (archive, target.get("target"), len(renames), len(jobs))
                )
            workers = _unpack.workers_for(jobs)
            digest = None if manifest is None or by_files else _unpack.Digest(fd, payload[1], payload[2], workers > 1)
            after_each = (lambda: _checkpoint("file")) if _KILL_AT else None
            try:
                _unpack.write_all(fd, jobs, after_each, workers)
            finally:
                found = None if digest is None else digest.hexdigest()
            if found is not None:
                _check_digest(archive, manifest, found)
            if by_files:
                _check_id(archive, manifest, jobs, dest)
            return len(jobs)
    except LauncherError:
        raise
    except (zlib.error, ValueError, UnicodeError) as error:  # _zipdir.Damaged is a ValueError
        raise LauncherError(
            "the archive %s is damaged (%s); rebuild it or get an intact copy" % (archive, error)
        ) from None
    except OSError as error:
        raise LauncherError("cannot extract %s into %s: %s" % (archive, dest, error.strerror or error)) from None


def read_payload(archive):
    """The payload's members and size.

    Members are ``(name, size, crc32, executable)``.  Only the payload's
    central directory is read (the same way ``unpack`` finds it).
    """
    from . import _zipdir

    try:
        with open(archive, "rb") as handle:
            fd = handle.fileno()
            payload = _find_payload(fd, archive)
            offset, size = payload[1], payload[3]
            members = [(m[0], m[3], m[4], bool(m[6] & 0o111)) for m in _zipdir.members(fd, offset, size)]
            return members, size
    except LauncherError:
        raise
    except (ValueError, UnicodeError) as error:  # _zipdir.Damaged is a ValueError
        raise LauncherError(
            "the archive %s is damaged (%s); rebuild it or get an intact copy" % (archive, error)
        ) from None
    except OSError as error:
        raise LauncherError("cannot read the archive %s: %s" % (archive, error.strerror or error)) from None


def read_list(fd, archive, target):
    """Target ``target``'s file list (``TARGET_LISTS`` + k): ``{payload member: path in the entry}``.

    The list is a member of the archive (deflated), one name a line; its
    SHA-256 is the one the target's manifest names, or the archive is damaged.
    """
    import hashlib
    import zlib

    from . import _zipdir

    name = target["list"]
    for member in _zipdir.members(fd):
        if member[0] == name:
            break
    else:
        raise LauncherError("the archive %s is damaged: it holds no %s; rebuild it" % (archive, name))
    skip = _zipdir.local_header_length(_zipdir.pread(fd, _zipdir.LOCAL_SIZE, member[1]), name)
    data = _zipdir.pread(fd, member[2], member[1] + skip)
    try:
        if member[5] == _zipdir.DEFLATED:
            data = zlib.decompressobj(-15).decompress(data, member[3] + 1)
    except zlib.error:
        data = b""
    if len(data) != member[3] or hashlib.sha256(data).hexdigest() != target.get("list_sha256"):
        raise LauncherError(
            "the archive %s is damaged: its file list %s is not the one its manifest names; rebuild it or get an "
            "intact copy" % (archive, name)
        )
    return dict((line, plain_path(line)) for line in data.decode("utf-8").splitlines() if line)


def plain_path(member):
    """Where a payload member goes in its target's entry: a ``~k/`` variant to its plain path."""
    return member.split("/", 1)[1] if member.startswith(VARIANT) else member


def _check_id(archive, manifest, jobs, dest):
    """Refuse files that are not the ones the content id names (a hash of their sorted paths, modes and hashes).

    So an archive cannot fill the entry of another archive's content with its
    own files: the id is computed from what was written, as the build did
    (``backend/_multi.target_id``).  One line per file, ``path NUL mode NUL
    sha256``: sorting the lines sorts the paths (a path holds no NUL).  When
    they do not match, a file whose CRC-32 is wrong is named: damage, not
    another archive's content (the writers check no CRC-32 of hashed files).
    """
    import hashlib

    skip = len(os.path.join(os.path.abspath(dest), ""))
    modes = {0o644: "\x00644\x00", 0o755: "\x00755\x00"}  # the only modes _plan gives
    lines = [j.target[skip:] + modes[j.mode] + j.sha256 for j in jobs]
    if os.sep != "/":
        lines = [line.replace(os.sep, "/") for line in lines]
    lines.sort()
    digest = hashlib.sha256()
    for start in range(0, len(lines), 1024):  # in pieces: one string of them all costs more than the hashing
        digest.update(("\n".join(lines[start : start + 1024]) + "\n").encode("utf-8"))
    found = digest.hexdigest()[: len(manifest["id"])]
    if found == manifest["id"]:
        return
    from ._unpack import damaged_file

    damaged = damaged_file(jobs)
    if damaged is not None:  # not another content: a member damaged since the build
        raise LauncherError(
            "the archive %s is damaged (%s: its data does not match its size and CRC-32); rebuild it or get an "
            "intact copy" % (archive, damaged)
        )
    raise LauncherError(
        "the archive %s is damaged: its files are not the ones its content id %s names (they hash to %s); "
        "nothing was written to the cache; rebuild it or get an intact copy" % (archive, manifest["id"], found)
    )


def _check_digest(archive, manifest, found):
    """Refuse a payload whose SHA-256 is not the one its manifest names.

    Archives whose manifest names no target: its content id is a prefix of
    the payload's hash too (newer ones: ``_check_id`` checks it).
    """
    expected = (manifest.get("payload") or {}).get("sha256")
    old = not manifest.get("target")
    if (found == expected or not expected) and not (old and not found.startswith(manifest["id"])):
        return
    raise LauncherError(
        "the archive %s is damaged: its payload's SHA-256 is %s, its manifest names %s (content id %s); nothing "
        "was written to the cache; rebuild it or get an intact copy" % (archive, found, expected, manifest["id"])
    )


def _find_payload(fd, archive):
    """The payload's member tuple, with ``offset`` moved to where its data starts."""
    from . import _zipdir

    for member in _zipdir.members(fd):
        if member[0] == PAYLOAD:
            break
    else:
        raise LauncherError("the archive %s is damaged: it holds no %s; rebuild it" % (archive, PAYLOAD))
    if member[5] != _zipdir.STORED:
        raise LauncherError("the archive %s is damaged: its payload is compressed; rebuild it" % archive)
    skip = _zipdir.local_header_length(_zipdir.pread(fd, _zipdir.LOCAL_SIZE, member[1]), PAYLOAD)
    return (member[0], member[1] + skip, *member[2:])


def _plan(found, dest, members, renames=None, hashed=False):
    """Check every member, make the directories, and list the files to write.

    ``renames``: only these members, each written to its path (``read_list``).
    """
    from ._unpack import Job

    dest = os.path.abspath(dest)  # so that the parents of every target end at dest itself
    prefix = os.path.join(dest, "")
    sep = os.sep
    dirs = set()
    jobs = []
    for member in found:
        name, mode = member[0], member[6]
        if members is not None and name not in members:
            continue
        path = name
        if renames is not None:
            path = renames.get(name)
            if path is None:
                continue
        kind = mode & 0o170000
        if kind not in (0, 0o100000, 0o040000):  # unknown (not from Unix), regular file, directory
            raise LauncherError(
                "the archive holds an unsafe member %r (a link or device); refusing to extract it" % name
            )
        if unsafe_name(name) or unsafe_name(path):
            raise LauncherError("the archive holds an unsafe member name %r; refusing to extract it" % name)
        target = prefix + (path if sep == "/" else path.replace("/", sep))  # a safe name: a plain join
        if name.endswith("/"):
            directory = target[:-1]
        else:
            directory = target.rpartition(sep)[0]
            jobs.append(Job(member, target, 0o755 if mode & 0o111 else 0o644, path != name, hashed))
        while len(directory) > len(dest) and directory not in dirs:  # and every parent below dest
            dirs.add(directory)
            directory = directory.rpartition(sep)[0]
    for directory in sorted(dirs):  # parents sort before their children
        try:
            os.mkdir(directory)
        except FileExistsError:
            pass
    return jobs


def unsafe_name(name):
    """Whether a payload member's name could write outside the target (absolute, ``..``, drive, NUL)."""
    parts = name.split("/")
    return (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\0" in name
        or ":" in parts[0]
        or any(p in ("..", ".") for p in parts)
        or "" in parts[:-1]
    )


def needs_bytecode(manifest):
    tag = sys.implementation.cache_tag
    return bool(tag) and tag not in manifest.get("pyc", ())


def compile_payload(tree, trace):
    """Compile every source under ``tree/site-packages`` for this interpreter (see ``_compile``)."""
    from ._compile import compile_tree

    after_each = (lambda: _checkpoint("compiling")) if _KILL_AT else None
    compiled = compile_tree(os.path.join(tree, "site-packages"), after_each)
    trace("compiled %d modules for %s" % (compiled, sys.implementation.cache_tag))


def install_copy(entry, manifest, archive, trace):
    """Keep a copy of the launcher in the entry, compiled for this interpreter.

    For starts on an interpreter the archive ships no launcher bytecode for:
    the next one imports the launcher's warm path (``COPIED``) from this copy
    (``use_compiled_copy``) instead of compiling it from the archive again;
    the rest of the launcher still comes from the archive.  The files go into a
    temp directory that is renamed into place, then get bytecode for this
    interpreter, then the copy's ready marker; a start killed on the way
    leaves nothing the next one trusts.  A copy already marked ready is left
    alone: where it cannot serve (a fallback root, a file deleted from it)
    the archive's own modules stand in, and ``verify --repair`` drops it with
    the rest of the entry.  When the cache is read-only this only costs each
    start the compile it would have paid anyway.
    """
    if not plain_name(manifest.get("launcher")):
        trace("no compiled copy of the launcher: the manifest names none")
        return
    copy = copy_dir(entry, manifest)
    ready = os.path.join(copy, READY + interpreter_key())
    if os.path.exists(ready):
        return
    try:
        if not os.path.isdir(copy):
            _write_copy(copy, archive, trace)
        from ._compile import compile_tree

        compile_tree(copy)
        with open(ready, "w"):
            pass
    except (OSError, ValueError) as error:  # _zipdir.Damaged is a ValueError
        trace("no compiled copy of the launcher (%s)" % (getattr(error, "strerror", None) or error))
        return
    trace("compiled a copy of the launcher for %s" % sys.implementation.cache_tag)


def _write_copy(copy, archive, trace):
    """Write the launcher's warm-path sources from the archive into ``copy``, atomically."""
    from . import _unpack, _zipdir

    state = os.path.dirname(copy)
    remove_leftovers(state, trace)
    tmp = Tmp(state, "launcher")
    try:
        with open(archive, "rb") as handle:
            fd = handle.fileno()
            wanted = set(RUNTIME_PREFIX + name for name in COPIED)
            found = (m for m in _zipdir.members(fd) if m[0] in wanted)
            _unpack.write_all(fd, _plan(found, tmp.path, None))
        try:
            os.rename(os.path.join(tmp.path, RUNTIME_PREFIX[:-1]), copy)
        except OSError:
            if not os.path.isdir(copy):
                raise  # else another start put its copy there first
    finally:
        tmp.remove()


def write_complete(path, manifest, count):
    """Write the completion record: a small JSON object (``json`` is imported only if a value needs escaping)."""
    import time

    record = {
        "extracted": int(time.time()),
        "files": count,
        "format": manifest["format"],
        "id": manifest["id"],
        "name": manifest["name"],
        "version": manifest["version"],
    }
    with open(path, "w") as handle:
        handle.write(_json_object(record) + "\n")


_PLAIN = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ._-+!")


def _json_object(record):
    """``json.dumps(record, sort_keys=True)`` for ints and plain strings, without importing json."""
    parts = []
    for key in sorted(record):
        value = record[key]
        if isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        elif isinstance(value, str) and _PLAIN.issuperset(value):
            text = '"%s"' % value
        else:
            import json

            return json.dumps(record, sort_keys=True)
        parts.append('"%s": %s' % (key, text))
    return "{" + ", ".join(parts) + "}"


def _publish(tmp, entry, root, token, trace, trusted):
    """Rename the finished tree into place; swap out an old entry that is not ``trusted()``."""
    for _attempt in range(3):
        try:
            os.rename(tmp, entry)
            trace("published %s" % entry)
            return
        except OSError:
            if not os.path.lexists(entry):
                raise
        if trusted():
            remove_tree(tmp)  # another start published it first (it could not take the lock)
            trace("another start published %s first" % entry)
            return
        trash = os.path.join(root, _cache.trash_name(os.path.basename(entry), token))
        try:
            os.rename(entry, trash)
        except OSError:
            if os.path.lexists(entry):
                raise
            continue  # another start moved it away
        trace("moved aside an incomplete entry %s" % entry)
        remove_tree(trash)
    raise LauncherError("cannot publish the cache entry %s: other starts keep replacing it; run again" % entry)


def _make_ready(manifest, entry, ready, trace):
    """Prepare an existing entry for this interpreter and say so."""
    if needs_bytecode(manifest):
        if os.access(entry, os.W_OK):
            try:
                compile_payload(entry, trace)
            except OSError as error:
                trace("cannot compile bytecode (%s)" % (error.strerror or error))
        else:
            trace("the entry is read-only: no bytecode for %s" % sys.implementation.cache_tag)
    try:
        with open(ready, "w"):
            pass
    except OSError as error:
        trace("cannot write the ready marker (%s); the next start checks again" % (error.strerror or error))
        return
    trace("ready for %s" % interpreter_key())
    _checkpoint("ready")
