"""The cache root's layout and protocol, shared by the launcher's cold path (``_extract``) and the tools.

What a root holds: entries named by a content id (``is_entry_name``), each
with its state directory; ``.locks/<id>.lock``, the extraction lock of each
entry (``Lock``); ``.chosen/``, the target each interpreter chose of an
archive of several (``_choose``, ``prune_choices``); and leftovers of starts that were killed, ``.tmp-*`` and
``.trash-*`` directories (``tmp_name``, ``trash_name``, ``leftover_name``,
``leftover_state``).  Here: the check that a root is safe to use
(``usable_root``), the one tree removal (``remove_tree``), the scan of a
root's entries (``scan``, ``Entry``), whether a process uses an entry
(``in_use``), and the removal of an entry no process uses (``remove_entry``,
for ``cache prune``).  Imported on the cold path and by the tools only.
"""

import os
import sys

from . import CHOSEN, COMPLETE, ID_LENGTH, OWNERS, READY, STATE_DIR, LauncherError, fallback_root, unsafe_reason

LOCK_TIMEOUT = 300.0
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
GRACE = 600.0  # seconds: a temp or trash directory without a lock to tell is removed only when older
TMP_LOCK = "extracting"  # in a temp directory's state directory: held by the process that fills it
_HEX = frozenset("0123456789abcdef")
TAKEN, HELD, NONE = "taken", "held", "none"  # what ``Lock.acquire`` did


def _quiet(message):
    pass


def tmp_name(entry_id, token):
    """The name of a start's temp directory for ``entry_id``: ``.tmp-<id>-<pid>-<token>`` (see ``leftover_name``)."""
    return ".tmp-%s-%d-%s" % (entry_id, os.getpid(), token)


def trash_name(entry_id, token):
    """The name an entry is renamed to before it is removed: ``.trash-<id>-<pid>-<token>``."""
    return ".trash-%s-%d-%s" % (entry_id, os.getpid(), token)


def usable_root(root, explicit, entry_id, env, trace):
    """The root to use, resolved (``_resolve``): ``root`` if it is safe and usable, else the fallback root.

    The fallback is said once, when this start creates the fallback root.
    """
    problem, resolved, _created = root_problem(root, entry_id)
    if problem is None:
        return resolved
    if explicit:
        raise LauncherError(
            "cannot use the cache root %s: %s; set EXEARCHIVE_ROOT to a private directory you own" % (root, problem)
        )
    fallback = fallback_root(env)
    second, resolved, created = root_problem(fallback, entry_id)
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


def root_problem(root, entry_id):
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
    if OWNERS is None:  # Windows: per-user profile directories, no such checks
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
        if OWNERS is not None and st.st_uid not in OWNERS:
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


class Lock:
    """An entry's exclusive extraction lock, ``ROOT/.locks/<id>.lock``.

    Waiting (``wait=True``, the launcher and repair: a context manager): the
    lock file is made if need be, opened without following a symlink (a
    planted link is removed, never followed), and the lock is waited for up
    to ``EXEARCHIVE_LOCK_TIMEOUT`` seconds; it falls back to no lock, which
    stays correct because publishing is a rename.  While it is held the file
    holds the pid and start time of its holder, so that a start waiting more
    than ``_SAY_AFTER`` seconds says once what it waits for.

    Not waiting (``wait=False``, ``cache prune``): ``acquire`` returns
    ``TAKEN``, ``HELD`` (another process holds it: the entry is being
    extracted or repaired) or ``NONE`` (no lock file, as for an entry never
    extracted under a lock, or no ``flock``); nothing is created or written.
    """

    def __init__(self, root, entry_id, env=None, trace=None, wait=True):
        self.path = os.path.join(root, ".locks", entry_id + ".lock")
        self.entry = os.path.join(root, entry_id)
        env = {} if env is None else env
        try:
            self.timeout = float(env.get("EXEARCHIVE_LOCK_TIMEOUT") or LOCK_TIMEOUT)
        except ValueError:
            self.timeout = LOCK_TIMEOUT
        self.trace = trace or _quiet
        self.wait = wait
        self.fd = -1

    def __enter__(self):
        self.acquire()
        return self

    def acquire(self):
        """Take the lock: ``TAKEN``, or ``NONE`` when going on without one; ``HELD`` only when not waiting."""
        try:
            import fcntl
        except ImportError:
            return NONE
        if not self.wait:
            return self._try(fcntl)
        import time

        try:
            os.makedirs(os.path.dirname(self.path), 0o700, exist_ok=True)
            self.fd = _open_lock_file(self.path)
        except OSError as error:
            self.trace("no lock (%s); going on without one" % (error.strerror or error))
            return NONE
        started = time.monotonic()
        waited = said = False
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.trace("lock taken" + (" after waiting" if waited else ""))
                _write_holder(self.fd)
                return TAKEN
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
                    return NONE
                time.sleep(0.02)
            except OSError as error:
                self.trace("flock unsupported (%s); going on without a lock" % error)
                return NONE

    def _try(self, fcntl):
        """Take the lock without waiting, without creating the file or following a link."""
        try:
            fd = os.open(self.path, os.O_RDWR | _NOFOLLOW | _CLOEXEC)
        except OSError:
            return NONE  # never extracted under a lock, or no lock directory
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return HELD
        except OSError:
            os.close(fd)
            return NONE
        self.fd = fd
        return TAKEN

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
        self.release()
        return False

    def release(self):
        """Release the lock if it is held (a waiting lock's file is emptied first: no holder any more)."""
        if self.fd >= 0:
            if self.wait:
                try:
                    os.ftruncate(self.fd, 0)  # no holder any more
                except OSError:
                    pass
            os.close(self.fd)  # releases the flock
            self.fd = -1


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


def remove_leftovers(root, trace):
    """Remove the temp and trash directories (or files) of starts that are gone."""
    import time

    now = time.time()
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        if leftover_name(name):
            path = os.path.join(root, name)
            state, fd = claim_leftover(path, now)
            if state == "dead":
                try:
                    remove_tree(path)
                finally:
                    if fd >= 0:
                        os.close(fd)
                trace("removed leftover %s" % name)


def is_entry_name(name):
    """Whether ``name`` is a content id as the build side makes them: ``ID_LENGTH`` lowercase hex digits."""
    return len(name) == ID_LENGTH and _HEX.issuperset(name)


def leftover_name(name):
    """Whether ``name`` is exactly one a start gives its temp or trash directory: ``.tmp|.trash-<id>-<pid>-<token>``."""
    parts = name.split("-")
    return (
        len(parts) == 4
        and parts[0] in (".tmp", ".trash")
        and (is_entry_name(parts[1]) or parts[1] == "launcher")
        and parts[2].isdigit()
        and len(parts[3]) == 8
        and _HEX.issuperset(parts[3])
    )


def leftover_state(path, now):
    """``"live"``, ``"dead"`` or ``"young"`` (kept for now) for a temp or trash directory; see ``claim_leftover``."""
    return _judge(path, now, False)[0]


def claim_leftover(path, now):
    """``(state, fd)``: ``leftover_state``; when dead, the temp dir's lock held (``fd``, else -1) for its removal.

    Live: a process holds its lock (``_extract.Tmp``), in whatever PID
    namespace or on whatever host.  Dead: its lock file is written and the
    lock can be taken (its holder is gone); or the tree holds nothing but its
    state directory and no lock is held, or there is none (a start killed
    before it locked its temp dir: the sweeper makes the lock file and takes
    it, and a live start that finds its lock file so taken tries another
    name).  Anything else (a trash directory, which has no lock; a filled
    tree whose lock file is missing or empty, as an older launcher left them;
    no ``flock`` here) is dead only once it is older than ``GRACE`` seconds.
    """
    return _judge(path, now, True)


def _judge(path, now, claim):
    lock = os.path.join(path, STATE_DIR, TMP_LOCK)
    try:
        fd = os.open(lock, os.O_RDONLY | _CLOEXEC | _NOFOLLOW)
    except FileNotFoundError:
        fd = -1
        if os.path.basename(path).startswith(".tmp-") and _unfilled(path):
            if not claim:
                return "dead", -1  # what claiming it would find
            fd = _make_lock(lock)
    except OSError:
        fd = -1
    if fd >= 0:
        taken = _try_lock(fd)
        if taken is False:
            os.close(fd)
            return "live", -1
        if taken and (os.fstat(fd).st_size or _unfilled(path)):
            # written: its holder is gone; empty in an empty tree: its start, if alive, tries another name
            if claim:
                return "dead", fd
            os.close(fd)
            return "dead", -1
        os.close(fd)
    try:
        age = now - os.lstat(path).st_mtime
    except OSError:
        return "young", -1  # gone already
    return ("dead" if age > GRACE else "young"), -1


def _make_lock(lock):
    """Make the lock file of a temp dir that has none (to claim it); -1 if its start made it first or it cannot be."""
    try:
        os.mkdir(os.path.dirname(lock), 0o700)
    except FileExistsError:
        pass
    except OSError:
        return -1
    try:
        return os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC | _NOFOLLOW, 0o600)
    except OSError:
        return -1  # its start made it just now (FileExistsError): the next sweep tells


def _unfilled(path):
    """Whether a temp dir holds nothing but its state directory, and that nothing but the lock file."""
    try:
        names = os.listdir(path)
        if not names:
            return True
        return names == [STATE_DIR] and set(os.listdir(os.path.join(path, STATE_DIR))) <= {TMP_LOCK}
    except OSError:
        return False


def _try_lock(fd):
    """Take ``fd``'s ``flock`` exclusively, without waiting: True (taken), False (another holds it), None (no flock)."""
    try:
        import fcntl
    except ImportError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


def probe_lock(path):
    """``(held, size)`` of a lock file: whether a process holds a ``flock`` on it (None: no ``flock`` here).

    None when the file cannot be opened.  The lock is taken exclusively
    without waiting, and released at once.
    """
    try:
        fd = os.open(path, os.O_RDONLY | _CLOEXEC | _NOFOLLOW)
    except OSError:
        return None
    try:
        taken = _try_lock(fd)
        return (None if taken is None else not taken), os.fstat(fd).st_size
    finally:
        os.close(fd)  # releases the lock if it was taken


def remove_tree(path):
    """Remove a directory tree, a file or a link; return ``(name, error)`` for what stays, else None.

    Directories that cannot be read or written (mode 000) are made so and the
    removal is tried again; files are removed as they are.
    """
    import shutil
    import stat

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        return path, error
    if not stat.S_ISDIR(st.st_mode):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError as error:
            return path, error
        return None
    errors = []  # type: list[tuple[str, BaseException]]
    for attempt in (1, 2):
        del errors[:]
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=lambda function, name, error: errors.append((name, error)))
        else:
            shutil.rmtree(path, onerror=lambda function, name, info: errors.append((name, info[1])))
        if not errors or not os.path.lexists(path):
            return None
        if attempt == 1:
            _make_removable(path)
    return errors[0]


def _make_removable(top):
    """Give every directory under ``top`` (links aside) the owner's read, write and search bits."""
    import stat

    def allow(path):
        try:
            st = os.lstat(path)
            if stat.S_ISDIR(st.st_mode) and st.st_mode & 0o700 != 0o700:
                os.chmod(path, stat.S_IMODE(st.st_mode) | 0o700)
        except OSError:
            pass

    allow(top)
    for directory, dirs, _files in os.walk(top):
        for name in dirs:
            allow(os.path.join(directory, name))  # before os.walk lists it


class Entry:
    """One directory of the cache root."""

    def __init__(self, root, name):
        self.name = name
        self.path = os.path.join(root, name)
        self.state = os.path.join(self.path, STATE_DIR)
        self.complete = os.path.join(self.state, COMPLETE)
        self.record = read_record(self.complete)
        self.last_use = self._last_use()

    def _last_use(self):
        times = []
        try:
            names = os.listdir(self.state)
        except OSError:
            names = []
        for name in names:
            if name.startswith(READY):
                try:
                    times.append(os.stat(os.path.join(self.state, name)).st_mtime)
                except OSError:
                    pass
        if times:
            return max(times)
        for path in (self.complete, self.path):
            try:
                return os.stat(path).st_mtime
            except OSError:
                pass
        return 0.0


def scan(root):
    """``(entries, leftovers)`` of the cache root; leftovers are ``(name, pid)``.

    Only names that are exactly ours count: an entry is a directory named by
    a content id with the state directory inside, a leftover is named as a
    start names its temp and trash directories.  Anything else is left alone.
    """
    import stat

    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return [], []
    entries = []
    leftovers = []
    for name in names:
        path = os.path.join(root, name)
        if leftover_name(name):
            leftovers.append((name, int(name.split("-")[2])))
        elif is_entry_name(name):
            try:
                ours = stat.S_ISDIR(os.lstat(path).st_mode)
                ours = ours and stat.S_ISDIR(os.lstat(os.path.join(path, STATE_DIR)).st_mode)
            except OSError:
                ours = False
            if ours:
                entries.append(Entry(root, name))
    return entries, leftovers


def prune_choices(root, dry, now):
    """Remove the links of ``ROOT/.chosen`` (``_choose``) whose entry is gone, and old temporary ones; how many.

    A link that names a ready entry stays; a start that finds a link to a
    missing entry takes the cold path and makes it again, so removing one a
    start is about to use costs that start a choice, nothing more.
    """
    directory = os.path.join(root, CHOSEN)
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return 0
    count = 0
    for name in names:
        path = os.path.join(directory, name)
        try:
            st = os.lstat(path)
            if ".tmp-" in name:
                gone = now - st.st_mtime > GRACE
            else:
                target = os.readlink(path)
                gone = not (is_entry_name(target) and os.path.isdir(os.path.join(root, target, STATE_DIR)))
            if gone:
                if not dry:
                    os.unlink(path)
                count += 1
        except OSError:
            continue
    return count


def disk_usage(path):
    """Bytes on disk under ``path`` (allocated blocks where known)."""
    total = 0
    for directory, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            blocks = getattr(st, "st_blocks", None)
            total += blocks * 512 if blocks is not None else st.st_size
    return total


def in_use(entry):
    """True if a running process holds the entry's use lock; None if unknown."""
    probe = probe_lock(entry.complete)
    return False if probe is None else probe[0]  # no completion record: no process can hold its lock


def read_record(path):
    """The completion record as a dict, or None when it is missing or unreadable."""
    import json

    try:
        with open(path) as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def remove_entry(root, entry, dry, failed=None):
    """Remove one entry unless a process uses it: "removed", "in use", "busy" or an error.

    The entry is renamed away (``trash_name``) while its extraction lock and
    the exclusive use lock are held, then removed; ``failed(name, error)`` is
    told what of it stays, if anything.
    """
    try:
        import fcntl
    except ImportError:
        fcntl = None  # type: ignore[assignment]
    lock = Lock(root, entry.name, wait=False)
    if lock.acquire() == HELD:
        return "busy"
    use_fd = -1
    try:
        if fcntl is not None:
            try:
                use_fd = os.open(entry.complete, os.O_RDONLY)
            except OSError:
                use_fd = -1  # incomplete: no process can hold its use lock
            if use_fd >= 0:
                try:
                    fcntl.flock(use_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return "in use"
                except OSError as error:
                    return "cannot tell whether it is in use (%s)" % (error.strerror or error)
        if dry:
            return "removed"
        token = os.urandom(4).hex()
        trash = os.path.join(root, trash_name(entry.name, token))
        try:
            os.rename(entry.path, trash)  # while holding the locks: no start can begin using it now
        except PermissionError:
            if fcntl is None:
                return "in use"  # Windows: a directory in use cannot be renamed
            raise
        except OSError as error:
            return "cannot move it away (%s)" % (error.strerror or error)
    finally:
        if use_fd >= 0:
            os.close(use_fd)
        lock.release()
    left = remove_tree(trash)
    if left is not None:
        if failed is not None:
            failed(*left)
        return "removed only in part; %s is left" % trash
    return "removed"
