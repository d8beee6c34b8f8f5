"""Write the payload's members to disk: in parallel, streamed, checked.

Used by ``_extract`` on the cold path (and by the tools for repairs and
``extract``), with the members ``_zipdir`` read from the payload's central
directory.  Not ``ZipFile.open``: per member it costs more than creating the
file (a ``ZipExtFile``, a buffered writer and several seeks each); on
payloads of thousands of small modules that overhead was half of the cold
start.

Per member: one ``os.pread`` of the local header and the data (position
independent, so every worker shares one descriptor), one ``zlib`` inflate,
a size and CRC-32 check, then ``open`` (``O_EXCL``), ``write``, ``close``.
A hashed member (``Job.sha256``) gets its SHA-256 instead of the CRC-32:
the caller checks the hashes against the content id, and only when they do
not match looks for the member whose CRC-32 tells the damage
(``damaged_file``).
Members larger than ``_WHOLE`` bytes are streamed in ``_CHUNK`` pieces, so
memory stays bounded whatever the largest file.

Workers are threads: reading, inflating, creating and writing files all
release the GIL, so on a machine with several cores they overlap.  Work is
handed out in batches of neighbouring members (the large ones first, alone),
so that a worker mostly writes into one directory at a time.  The first
error stops every worker and is raised in the caller's thread.
"""

import hashlib
import os
import zlib

from ._zipdir import DEFLATED, HAS_PREAD, LOCAL_SIZE, STORED, Damaged, local_header_length, pread

_WHOLE = 1 << 20  # members up to this size are inflated in one call
_CHUNK = 1 << 20  # larger ones are read this much at a time
_BATCH = 32  # members per hand-out
_MAX_WORKERS = 4


class Job:
    """One file to write: where its bytes are and where they go."""

    __slots__ = (
        "crc",
        "csize",
        "extra",
        "method",
        "mode",
        "name_chars",
        "offset",
        "renamed",
        "sha256",
        "size",
        "target",
    )

    def __init__(self, member, target, mode, renamed=False, hashed=False):
        """``member`` is a ``_zipdir.members`` tuple; ``mode`` the new file's permissions.

        The member's name is not kept (it is the end of ``target``): a payload
        can have tens of thousands of members; unless the member is
        ``renamed`` (a ``~k/`` variant of one target of several).  When
        ``hashed``, ``sha256`` is the written file's SHA-256 (hex) once it is written.
        """
        name, self.offset, self.csize, self.size, self.crc, self.method, _, self.extra = member
        self.name_chars = len(name)
        self.renamed = name if renamed else None
        self.sha256 = "" if hashed else None
        self.target = target
        self.mode = mode

    @property
    def name(self):
        """The member's name, from the end of ``target``."""
        if self.renamed is not None:
            return self.renamed
        return self.target[-self.name_chars :].replace(os.sep, "/")


def workers_for(jobs):
    """How many threads to use for these jobs."""
    if not HAS_PREAD or (len(jobs) < 2 * _BATCH and sum(job.size for job in jobs) < 8 * _WHOLE):
        return 1
    return max(1, min(_MAX_WORKERS, os.cpu_count() or 1))


def write_all(fd, jobs, after_each=None, workers=None):
    """Write every job's file; ``fd`` is open on the archive (offsets are absolute).

    ``after_each`` is called after each file is complete (the kill hook of the
    tests).  Raises ``Damaged`` for bad data and ``OSError`` for write errors.
    """
    if workers is None:
        workers = workers_for(jobs)
    batches = _batches(jobs)
    if workers <= 1:
        for batch in batches:
            for job in batch:
                _write(fd, job)
                if after_each is not None:
                    after_each()
        return
    import threading

    feed = iter(batches)
    lock = threading.Lock()
    errors = []  # type: list[BaseException | None]

    def work():
        try:
            while not errors:
                with lock:
                    batch = next(feed, None)
                if batch is None:
                    return
                for job in batch:
                    if errors:
                        return
                    _write(fd, job)
                    if after_each is not None:
                        after_each()
        except BaseException as error:  # handed to the caller's thread
            errors.append(error)

    threads = [threading.Thread(target=work, name="exearchive-unpack-%d" % i) for i in range(workers)]
    for thread in threads:
        thread.daemon = True
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:  # KeyboardInterrupt while waiting: stop the workers too
        errors.append(None)
        raise
    if errors and errors[0] is not None:
        raise errors[0]


def _batches(jobs):
    """Hand-outs: each large member alone (largest first), then the small ones by directory.

    A directory's files go to one worker (file creation locks the directory),
    and directories with few files are merged up to ``_BATCH`` files.
    """
    large = sorted((job for job in jobs if job.size > _WHOLE), key=lambda job: job.size, reverse=True)
    batches = [[job] for job in large]
    batch = []  # type: list[Job]
    directory = None
    for job in jobs:
        if job.size > _WHOLE:
            continue
        parent = os.path.dirname(job.target)
        if parent != directory and len(batch) >= _BATCH:
            batches.append(batch)
            batch = []
        directory = parent
        batch.append(job)
    if batch:
        batches.append(batch)
    return batches


def _write(fd, job):
    start = job.offset
    guess = LOCAL_SIZE + len(job.name.encode("utf-8")) + job.extra  # header and data in one read
    whole = job.size <= _WHOLE
    raw = pread(fd, guess + job.csize if whole else guess, start)
    skip = local_header_length(raw, job.name)
    if skip != guess:
        raw = pread(fd, skip + job.csize if whole else skip, start)
    out = os.open(job.target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), job.mode)
    try:
        if whole:
            data = _inflate(job, raw[skip : skip + job.csize])
            if len(data) != job.size or (job.sha256 is None and zlib.crc32(data) != job.crc):
                raise Damaged("%s: its data does not match its size and CRC-32" % job.name)
            _write_bytes(out, data)
            if job.sha256 is not None:
                job.sha256 = hashlib.sha256(data).hexdigest()
        else:
            _stream(fd, start + skip, job, out)
    finally:
        os.close(out)


def _inflate(job, raw):
    if len(raw) != job.csize:
        raise Damaged("%s: truncated" % job.name)
    if job.method == STORED:
        return raw
    if job.method == DEFLATED:
        # at most one byte more than the member's size: a lying header cannot make it inflate without bound
        return zlib.decompressobj(-15).decompress(raw, job.size + 1)
    raise Damaged("%s: unsupported compression method %d" % (job.name, job.method))


def _stream(fd, offset, job, out):
    """Copy a large member in bounded pieces: never more than ``_CHUNK`` in or out at once."""
    if job.method == DEFLATED:
        inflater = zlib.decompressobj(-15)
    elif job.method != STORED:
        raise Damaged("%s: unsupported compression method %d" % (job.name, job.method))
    else:
        inflater = None
    crc = 0
    written = 0
    left = job.csize
    digest = None if job.sha256 is None else hashlib.sha256()
    while left:
        raw = pread(fd, min(_CHUNK, left), offset)
        if not raw:
            raise Damaged("%s: truncated" % job.name)
        offset += len(raw)
        left -= len(raw)
        data = raw if inflater is None else inflater.decompress(raw, _CHUNK)
        while True:
            if digest is None:
                crc = zlib.crc32(data, crc)
            written += len(data)
            if written > job.size:
                raise Damaged("%s: more data than its size says" % job.name)
            _write_bytes(out, data)
            if digest is not None:
                digest.update(data)
            if inflater is None or not inflater.unconsumed_tail:
                break
            data = inflater.decompress(inflater.unconsumed_tail, _CHUNK)
    if inflater is not None:
        data = inflater.flush()
        if digest is None:
            crc = zlib.crc32(data, crc)
        written += len(data)
        _write_bytes(out, data)
        if digest is not None:
            digest.update(data)
    if digest is not None:
        job.sha256 = digest.hexdigest()
    if written != job.size or (digest is None and crc != job.crc):
        raise Damaged("%s: its data does not match its size and CRC-32" % job.name)


def damaged_file(jobs):
    """The name of the first written file whose data does not match its member's CRC-32, or None.

    Reads the files back: for hashed members, whose CRC-32 was not computed
    while writing, once their hashes turned out wrong.
    """
    for job in jobs:
        crc = 0
        with open(job.target, "rb") as handle:
            while True:
                data = handle.read(_CHUNK)
                if not data:
                    break
                crc = zlib.crc32(data, crc)
        if crc != job.crc:
            return job.name
    return None


def _write_bytes(out, data):
    view = memoryview(data)
    while view:
        view = view[os.write(out, view) :]


class Digest:
    """The SHA-256 of ``size`` bytes at ``offset`` of ``fd``: the payload's hash, its content id.

    With ``background``, computed in a thread of its own while the workers
    write the members (it reads the same pages, mostly from the page cache,
    and ``hashlib`` releases the GIL); else in ``hexdigest``, after them (small
    payloads, written by one thread, and without ``pread``).
    """

    def __init__(self, fd, offset, size, background):
        self._hash = _sha256(size)
        self._region = (fd, offset, size)
        self._error = None
        self._thread = None
        if background and HAS_PREAD:
            import threading

            self._thread = threading.Thread(target=self._run, name="exearchive-digest")
            self._thread.daemon = True
            self._thread.start()

    def _run(self):
        fd, offset, left = self._region
        try:
            while left > 0:
                chunk = pread(fd, min(_CHUNK, left), offset)
                if not chunk:
                    raise Damaged("the payload is truncated")
                self._hash.update(chunk)
                offset += len(chunk)
                left -= len(chunk)
        except BaseException as error:  # handed to the caller's thread
            self._error = error

    def hexdigest(self):
        """Wait for the hash (or compute it now) and return it; raises what reading raised."""
        if self._thread is None:
            self._run()
        else:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._hash.hexdigest()


_SMALL_HASH = 128 << 10  # up to this size CPython's own SHA-256 is done before OpenSSL (hashlib) is loaded


def _sha256(size):
    """A SHA-256 object: CPython's built-in one for small sizes (loading OpenSSL costs ~3 ms), else hashlib's."""
    import sys

    if size <= _SMALL_HASH and sys.implementation.name == "cpython":
        for name in ("_sha2", "_sha256"):  # CPython's own SHA-256 module: 3.12 and newer, before
            try:
                return __import__(name).sha256()
            except ImportError:
                pass
    import hashlib

    return hashlib.sha256()
