"""Cold path of the launcher: check, extract once, publish atomically.

Called by ``_boot.open_entry`` when the entry for this archive is missing,
incomplete, or not yet ready for the running interpreter.  Steps:

1. compatibility check (``_compat.check``) before anything is written;
2. a usable cache root (``_root_problem``): resolved, every directory above
   it owned by the user or root and not writable by others (unless sticky),
   the root itself a real directory created 0700 that only its owner can
   write (an explicit ``EXEARCHIVE_ROOT`` that is not is an error, the default
   root falls back to ``fallback_root``); then an existing entry is trusted
   only if ``entry_problem`` finds nothing (owner, content id, file count);
3. under an exclusive lock (flock, with a timeout; without a lock when none
   can be had, which stays correct because publishing is a rename), remove
   leftovers of killed starts, write every payload member into a unique
   temp directory beside the target (``_zipdir`` reads the central
   directories, ``_unpack`` writes the files with a few threads, streaming
   the large ones; the payload is hashed meanwhile and refused if it is not
   the one the content id names), compile bytecode for this interpreter
   unless the payload ships it (``_compile``, in several processes for large
   payloads), write the completion record and the ready
   marker for this interpreter, rename into place;
4. for an entry published by another interpreter: compile bytecode for this
   one in place (each ``.pyc`` is written atomically) and write its ready marker.

A start killed at any moment leaves at most a ``.tmp-*`` or ``.trash-*``
directory, which no start trusts and the next extraction removes.

Test hook: ``EXEARCHIVE_TEST_KILL_AT=POINT`` (or ``POINT:N``) makes the
process kill itself with SIGKILL when it reaches ``POINT`` (the N-th time);
see ``_checkpoint``.  It is read only here, on the cold path.
"""

import os
import sys

from . import READY, STATE_DIR, copy_dir, fallback_root, interpreter_key, plain_name, unsafe_reason
from ._boot import _OWNERS, COMPLETE, RUNTIME_PREFIX, LauncherError

PAYLOAD = "__exearchive__/payload.zip"
# What a warm start imports of the launcher after its package: all that the entry's copy holds.  The rest
# runs once per entry and interpreter, or for the tools; it comes from the archive.
COPIED = ("_boot.py", "_interpreter.py")
_LOCK_TIMEOUT = 300.0
_STALE_AGE = 24 * 3600.0
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_KILL_AT = os.environ.get("EXEARCHIVE_TEST_KILL_AT", "")
_reached = {}


def _checkpoint(point):
    """Test hook: die here with SIGKILL if ``EXEARCHIVE_TEST_KILL_AT`` names this point.

    Points, in order: ``locked``, ``tmp``, ``file`` (after each extracted
    file), ``extracted``, ``compiled``, ``recorded`` (completion record and
    ready marker written, not yet published), ``published``, and for an entry
    made ready for another interpreter: ``compiling`` (after each ``.pyc``)
    and ``ready``.
    """
    if _KILL_AT:
        count = _reached[point] = _reached.get(point, 0) + 1
        if _KILL_AT in (point, "%s:%d" % (point, count)):
            sys.stdout.flush()
            sys.stderr.flush()
            os.kill(os.getpid(), 9)


def prepare(manifest, archive, root, explicit, env, trace):
    """Return a ready entry for this archive; extract it if need be."""
    needs = manifest.get("needs")
    if needs:
        from . import _compat

        problem = _compat.check(needs, archive)
        if problem:
            raise LauncherError(problem)
        trace("compatibility check passed")
    entry_id = str(manifest["id"])
    if not plain_name(entry_id):
        raise LauncherError(
            "the archive %s is damaged: its content id %r is not a plain name; rebuild it" % (archive, entry_id)
        )
    root = _usable_root(root, explicit, entry_id, env, trace)
    entry = os.path.join(root, entry_id)
    state = os.path.join(entry, STATE_DIR)
    complete = os.path.join(state, COMPLETE)
    ready = os.path.join(state, READY + interpreter_key())
    from ._boot import _hold_use_lock

    for _attempt in range(3):
        if not os.path.exists(ready) or entry_problem(entry, manifest, archive) is not None:
            with _Lock(root, entry_id, env, trace):
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
        _hold_use_lock(fd)
        if os.path.exists(complete):  # a prune renames the whole entry away
            return entry
        os.close(fd)  # pruned while we waited for the use lock
    raise LauncherError(
        "the cache entry %s keeps disappearing while starting (is something pruning it?); run again" % entry
    )


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
    if _OWNERS is not None:
        for what, uid in (("the entry", st.st_uid), ("its completion record", record_st.st_uid)):
            if uid not in _OWNERS:
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
        files = payload_files(archive)
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


def _usable_root(root, explicit, entry_id, env, trace):
    """The root to use, resolved (``_resolve``): ``root`` if it is safe and usable, else the fallback root.

    The fallback is said once, when this start creates the fallback root.
    """
    problem, resolved, _created = _root_problem(root, entry_id)
    if problem is None:
        return resolved
    if explicit:
        raise LauncherError(
            "cannot use the cache root %s: %s; set EXEARCHIVE_ROOT to a private directory you own" % (root, problem)
        )
    fallback = fallback_root(env)
    second, resolved, created = _root_problem(fallback, entry_id)
    if second:
        raise LauncherError(
            "cannot use the cache root %s (%s) nor the fallback %s (%s); set EXEARCHIVE_ROOT to a private "
            "directory you own" % (root, problem, fallback, second)
        )
    if created:
        sys.stderr.write(
            "exearchive: warning: not using the cache root %s: %s; using %s instead (said once; set "
            "EXEARCHIVE_ROOT to a private directory you own to choose the cache root)\n" % (root, problem, fallback)
        )
    trace("using the fallback root %s" % resolved)
    return resolved


def _root_problem(root, entry_id):
    """``(why root cannot hold this archive's entry or None, its resolved path, whether this call created it)``.

    Like OpenSSH's ``safe_path``: the root's path is resolved (``_resolve``),
    every directory a name is looked up in on the way (``/`` included) must be
    owned by the user or root and not writable by group or others unless it
    is sticky (``/tmp``); the root itself is created 0700 if missing and must
    be a directory (not a symlink) owned by the user or root that only its
    owner can write (``unsafe_reason``).  Then no other user can change what
    the resolved path names, which every later step (and the app's imports)
    uses.
    """
    if _OWNERS is None:  # Windows: per-user profile directories, no such checks
        root = os.path.abspath(root)
        looked_in = []
    else:
        try:
            parent, looked_in = _resolve(os.path.dirname(os.path.abspath(root)))
        except OSError as error:
            return "its path cannot be resolved (%s)" % (error.strerror or error), root, False
        looked_in.append(parent)  # where the root's own name is looked up
        root = os.path.join(parent, os.path.basename(root))
    for directory in looked_in:
        try:
            st = os.stat(directory)
        except FileNotFoundError:
            continue  # created below, by this user, inside a directory that passed
        except OSError as error:
            return "the directory %s cannot be checked (%s)" % (directory, error.strerror or error), root, False
        if st.st_uid not in _OWNERS:
            return "the directory %s above it is owned by another user (uid %d)" % (directory, st.st_uid), root, False
        if st.st_mode & 0o022 and not st.st_mode & 0o1000:
            return (
                "others can write to the directory %s above it (mode %o)" % (directory, st.st_mode & 0o777),
                root,
                False,
            )
    created = False
    try:
        os.makedirs(os.path.dirname(root), 0o700, exist_ok=True)
        try:
            os.mkdir(root, 0o700)
            created = True
        except OSError:
            if not os.path.lexists(root):
                raise
        problem = unsafe_reason(os.lstat(root))
    except OSError as error:
        return "it cannot be created (%s)" % (error.strerror or error), root, False
    if problem is None:
        if os.access(root, os.W_OK) or os.path.exists(os.path.join(root, entry_id, STATE_DIR, COMPLETE)):
            return None, root, created
        problem = "it is read-only and does not hold this archive's files"
    return problem, root, created


def _resolve(path):
    """``os.path.realpath(path)`` and every directory a name was looked up in on the way there.

    A port of ``posixpath._joinrealpath`` (CPython 3.11), iterative, that
    records the directories; ``path`` is absolute, a missing component is kept
    as it is, more than 40 symbolic links is ``ELOOP``.
    """
    import errno

    sep = os.sep
    pending = path.split(sep)[::-1]
    current = sep
    looked_in = []
    links = 0
    while pending:
        name = pending.pop()
        if name in ("", os.curdir):
            continue
        if name == os.pardir:
            current = os.path.dirname(current)
            continue
        if current not in looked_in:
            looked_in.append(current)
        candidate = os.path.join(current, name)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            st = None
        if st is None or (st.st_mode & 0o170000) != 0o120000:
            current = candidate
            continue
        links += 1
        if links > 40:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
        target = os.readlink(candidate)
        if target.startswith(sep):
            current = sep
        pending.extend(target.split(sep)[::-1])
    return current, looked_in


class _Lock:
    """Exclusive extraction lock; falls back to no lock, which stays correct.

    The lock file is opened without following a symlink (a planted
    ``.locks/<id>.lock`` link is removed, never followed) and holds the pid
    and start time of its holder while it is held, so that a start waiting
    more than ``_SAY_AFTER`` seconds says once what it waits for.
    """

    def __init__(self, root, entry_id, env, trace):
        self.path = os.path.join(root, ".locks", entry_id + ".lock")
        self.entry = os.path.join(root, entry_id)
        try:
            self.timeout = float(env.get("EXEARCHIVE_LOCK_TIMEOUT") or _LOCK_TIMEOUT)
        except ValueError:
            self.timeout = _LOCK_TIMEOUT
        self.trace = trace
        self.fd = -1

    def __enter__(self):
        try:
            import fcntl
        except ImportError:
            return self
        import time

        try:
            os.makedirs(os.path.dirname(self.path), 0o700, exist_ok=True)
            self.fd = _open_lock_file(self.path)
        except OSError as error:
            self.trace("no lock (%s); going on without one" % (error.strerror or error))
            return self
        started = time.monotonic()
        waited = said = False
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.trace("lock taken" + (" after waiting" if waited else ""))
                _write_holder(self.fd)
                return self
            except BlockingIOError:
                if not waited:
                    self.trace("waiting for another start's lock")
                    waited = True
                elapsed = time.monotonic() - started
                if not said and elapsed > _SAY_AFTER:
                    sys.stderr.write(self._waiting_message())
                    said = True
                if elapsed > self.timeout:
                    self.trace("lock timeout; going on without it")
                    return self
                time.sleep(0.02)
            except OSError as error:
                self.trace("flock unsupported (%s); going on without a lock" % error)
                return self

    def _waiting_message(self):
        import time

        holder = "another start"
        try:
            pid, since = os.pread(self.fd, 64, 0).decode("ascii").split()
            holder = "pid %d (since %s)" % (int(pid), time.strftime("%H:%M:%S", time.localtime(float(since))))
        except (OSError, ValueError):
            pass  # not recorded (yet): said without it
        return (
            "exearchive: waiting for %s to finish preparing the cache entry %s; giving up the lock after %g s "
            "(set EXEARCHIVE_LOCK_TIMEOUT=SECONDS to change that)\n" % (holder, self.entry, self.timeout)
        )

    def __exit__(self, *exc):
        if self.fd >= 0:
            try:
                os.ftruncate(self.fd, 0)  # no holder any more
            except OSError:
                pass
            os.close(self.fd)  # releases the flock
            self.fd = -1
        return False


_SAY_AFTER = 1.0  # seconds of waiting for the lock before saying so


def _open_lock_file(path):
    """Open (create) a lock file, never through a symlink: a link planted there is removed first."""
    flags = os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC
    try:
        return os.open(path, flags, 0o600)
    except OSError:
        if not os.path.islink(path):
            raise
    os.unlink(path)  # ELOOP: a symlink, in a directory only this user (or root) can write
    return os.open(path, flags | os.O_EXCL, 0o600)


def _write_holder(fd):
    """Record who holds the lock and since when: ``<pid> <time>``."""
    import time

    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, ("%d %.0f\n" % (os.getpid(), time.time())).encode("ascii"), 0)
    except OSError:
        pass  # only for the message of a waiting start


def _extract(manifest, archive, root, entry, trace):
    """Extract the payload into a temp dir beside ``entry``, then publish it."""
    _remove_leftovers(root, trace)
    try:
        tmp, token = new_tmp(root, manifest["id"])
    except OSError as error:
        raise LauncherError("cannot write to the cache root %s: %s" % (root, error.strerror or error)) from None
    try:
        _checkpoint("tmp")
        count = unpack(archive, tmp, manifest=manifest)
        trace("extracted %d files, payload hash checked" % count)
        _checkpoint("extracted")
        if _needs_bytecode(manifest):
            _compile(tmp, trace)
            _checkpoint("compiled")
        state = os.path.join(tmp, STATE_DIR)
        os.mkdir(state, 0o700)
        _write_complete(os.path.join(state, COMPLETE), manifest, count)
        with open(os.path.join(state, READY + interpreter_key()), "w"):
            pass
        _checkpoint("recorded")
        _publish(tmp, entry, root, token, trace, lambda: entry_problem(entry, manifest, files=count) is None)
        _checkpoint("published")
    except OSError as error:
        _rmtree(tmp)
        raise LauncherError("cannot write the cache entry %s: %s" % (entry, error.strerror or error)) from None
    except BaseException:
        _rmtree(tmp)
        raise


def new_tmp(root, entry_id):
    """Make ``ROOT/.tmp-<id>-<pid>-<rand>`` (0700) for a new tree; return it and its random token."""
    token = os.urandom(4).hex()
    tmp = os.path.join(root, ".tmp-%s-%d-%s" % (entry_id, os.getpid(), token))
    os.mkdir(tmp, 0o700)
    return tmp, token


def unpack(archive, dest, members=None, manifest=None):
    """Extract the archive's payload into ``dest``; return the number of files.

    ``members``, when given, limits extraction to those names (for repairs).
    With ``manifest``, the payload is hashed while it is written and a hash
    other than the manifest's (its ``payload.sha256``, else its content id)
    is refused: the payload is not the one the content id names.
    """
    import zlib

    from . import _unpack, _zipdir

    try:
        with open(archive, "rb") as handle:
            fd = handle.fileno()
            payload = _find_payload(fd, archive)
            jobs = _plan(_zipdir.members(fd, payload[1], payload[3]), dest, members)
            workers = _unpack.workers_for(jobs)
            digest = None if manifest is None else _unpack.Digest(fd, payload[1], payload[2], workers > 1)
            after_each = (lambda: _checkpoint("file")) if _KILL_AT else None
            try:
                _unpack.write_all(fd, jobs, after_each, workers)
            finally:
                found = None if digest is None else digest.hexdigest()
            if found is not None:
                _check_digest(archive, manifest, found)
            return len(jobs)
    except LauncherError:
        raise
    except (zlib.error, ValueError, UnicodeError) as error:  # _zipdir.Damaged is a ValueError
        raise LauncherError(
            "the archive %s is damaged (%s); rebuild it or get an intact copy" % (archive, error)
        ) from None
    except OSError as error:
        raise LauncherError("cannot extract %s into %s: %s" % (archive, dest, error.strerror or error)) from None


def _check_digest(archive, manifest, found):
    """Refuse a payload whose SHA-256 is not the one its manifest names."""
    expected = (manifest.get("payload") or {}).get("sha256") or found
    if found == expected and found.startswith(manifest["id"]):
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


def _plan(found, dest, members):
    """Check every member, make the directories, and list the files to write."""
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
        kind = mode & 0o170000
        if kind not in (0, 0o100000, 0o040000):  # unknown (not from Unix), regular file, directory
            raise LauncherError(
                "the archive holds an unsafe member %r (a link or device); refusing to extract it" % name
            )
        if unsafe_name(name):
            raise LauncherError("the archive holds an unsafe member name %r; refusing to extract it" % name)
        target = prefix + (name if sep == "/" else name.replace("/", sep))  # a safe name: a plain join
        if name.endswith("/"):
            directory = target[:-1]
        else:
            directory = target.rpartition(sep)[0]
            jobs.append(Job(member, target, 0o755 if mode & 0o111 else 0o644))
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


def _needs_bytecode(manifest):
    tag = sys.implementation.cache_tag
    return bool(tag) and tag not in manifest.get("pyc", ())


def _compile(tree, trace):
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
    _remove_leftovers(state, trace)
    tmp, _token = new_tmp(state, "launcher")
    try:
        with open(archive, "rb") as handle:
            fd = handle.fileno()
            wanted = set(RUNTIME_PREFIX + name for name in COPIED)
            found = (m for m in _zipdir.members(fd) if m[0] in wanted)
            _unpack.write_all(fd, _plan(found, tmp, None))
        try:
            os.rename(os.path.join(tmp, RUNTIME_PREFIX[:-1]), copy)
        except OSError:
            if not os.path.isdir(copy):
                raise  # else another start put its copy there first
    finally:
        _rmtree(tmp)


def _write_complete(path, manifest, count):
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
            _rmtree(tmp)  # another start published it first (it could not take the lock)
            trace("another start published %s first" % entry)
            return
        trash = os.path.join(root, ".trash-%s-%d-%s" % (os.path.basename(entry), os.getpid(), token))
        try:
            os.rename(entry, trash)
        except OSError:
            if os.path.lexists(entry):
                raise
            continue  # another start moved it away
        trace("moved aside an incomplete entry %s" % entry)
        _rmtree(trash)
    raise LauncherError("cannot publish the cache entry %s: other starts keep replacing it; run again" % entry)


def _make_ready(manifest, entry, ready, trace):
    """Prepare an existing entry for this interpreter and say so."""
    if _needs_bytecode(manifest):
        if os.access(entry, os.W_OK):
            try:
                _compile(entry, trace)
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


def _remove_leftovers(root, trace):
    """Remove temp and trash directories of starts that are gone."""
    import time

    now = time.time()
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        if not name.startswith((".tmp-", ".trash-")):
            continue
        path = os.path.join(root, name)
        try:
            pid = int(name.split("-")[-2])
            age = now - os.stat(path).st_mtime
        except (ValueError, IndexError, OSError):
            continue
        if pid != os.getpid() and (not _alive(pid) or age > _STALE_AGE):
            _rmtree(path)
            trace("removed leftover %s" % name)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _rmtree(path):
    import shutil

    shutil.rmtree(path, ignore_errors=True)
