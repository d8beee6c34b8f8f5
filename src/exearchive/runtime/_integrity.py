"""Check a whole archive: every member's CRC-32, the launcher's hashes, the payload's hash and members.

Used by the ``verify`` tool and by ``exearchive inspect --verify`` (which may
import the runtime; the runtime never imports ``exearchive``), so that both
say "damaged" for every archive that the launcher refuses or that is not what
was built:

- the archive's zip directory, read as the cold path reads it (``_zipdir``):
  a truncated copy and bytes appended after the zip are named as such;
- no member twice; ``__main__.py``, the manifest and the payload present;
- every member's data against its CRC-32 and size (the launcher's
  bytecode is read by zipimport, which checks neither);
- the manifest: ``manifest.json`` and the ``MANIFEST`` literal of
  ``__main__.py`` (what the launcher runs with) the same, but for
  ``launcher_files``, which only ``manifest.json`` holds;
- every launcher member (``_exearchive_runtime/*``) against the SHA-256
  recorded in ``launcher_files``, and no member beside them;
- the payload against its SHA-256; every payload member as the cold path
  would refuse it (unsafe name, link or device, twice, a file where a
  directory must be), its data against its CRC-32, and the file count.

:func:`problems` returns one line per problem (at most ``_MAX``), empty when
the archive is intact.
"""

import os
import zlib

from . import LAUNCHER_FILES, MANIFEST_JSON, PAYLOAD, RUNTIME_PREFIX, _zipdir

MAIN = "__main__.py"
_CHUNK = 1 << 20
_MAX = 20
_TAIL = 22 + 0xFFFF  # an end of central directory record and the longest comment


class _Found(Exception):
    """Enough problems: stop looking."""


def problems(archive, manifest=None):
    """Why ``archive`` is damaged or would be refused, one line each; ``[]`` when it is intact.

    ``manifest`` is the one the launcher runs with (``__main__.py``'s
    literal); None reads it from the archive.
    """
    found = []  # type: list[str]
    try:
        with open(archive, "rb") as handle:
            _check(handle.fileno(), manifest, found)
    except _Found:
        pass
    except OSError as error:
        found.append("it cannot be read (%s)" % (error.strerror or error))
    return found


def _add(found, message):
    found.append(message)
    if len(found) >= _MAX:
        raise _Found()


def _check(fd, manifest, found):
    try:
        members = list(_zipdir.members(fd))
    except _zipdir.Damaged as error:
        _add(found, _outer_damage(fd, error))
        return
    by_name = {}
    for member in members:
        if member.name in by_name:
            _add(found, "it holds %s twice" % member.name)
        by_name[member.name] = member
    for name in (MAIN, MANIFEST_JSON, PAYLOAD):
        if name not in by_name:
            _add(found, "it has no %s" % name)
    if found:
        return
    contents = {}
    for member in members:
        digest = _read_member(fd, member, found, keep=member.name in (MAIN, MANIFEST_JSON))
        if digest is not None:
            contents[member.name] = digest
    if MAIN not in contents or MANIFEST_JSON not in contents:
        return
    manifest = _manifests(contents[MAIN][1], contents[MANIFEST_JSON][1], manifest, found)
    if manifest is None:
        return
    _check_launcher(members, contents, manifest, found)
    if PAYLOAD in contents:
        _check_payload(fd, by_name[PAYLOAD], contents[PAYLOAD][0], manifest, found)


def _outer_damage(fd, error):
    """Say what is wrong with a zip whose directory cannot be read: cut short, bytes appended, or else."""
    size = os.fstat(fd).st_size
    tail = _zipdir.pread(fd, min(size, _TAIL), max(0, size - _TAIL))
    at = tail.rfind(b"PK\x05\x06")
    if at >= 0 and len(tail) - at >= 22:
        comment = int.from_bytes(tail[at + 20 : at + 22], "little")
        extra = len(tail) - at - 22 - comment
        if extra > 0:
            return "%d bytes were appended after the end of its zip (%s)" % (extra, error)
    if at < 0 and _zipdir.pread(fd, 4, _zip_start(fd)) == b"PK\x03\x04":
        return "it is cut short (a truncated copy of %d bytes): the end of its zip directory is missing" % size
    return "it is not a readable zip (%s)" % error


def _zip_start(fd):
    first = _zipdir.pread(fd, 4096, 0)
    return first.index(b"\n") + 1 if first.startswith(b"#!") and b"\n" in first else 0


def _read_member(fd, member, found, keep=False, where="its member"):
    """``(sha256 hex, data or None)`` of a member whose data matches its CRC-32 and size, else None."""
    import hashlib

    name, offset, csize, size, crc, method = member[:6]
    try:
        skip = _zipdir.local_header_length(_zipdir.pread(fd, _zipdir.LOCAL_SIZE, offset), name)
        if method == _zipdir.DEFLATED:
            inflater = zlib.decompressobj(-15)
        elif method == _zipdir.STORED:
            inflater = None
        else:
            raise _zipdir.Damaged("unsupported compression method %d" % method)
        digest = hashlib.sha256()
        kept = [] if keep else None  # type: list[bytes] | None
        at, left, got, check = offset + skip, csize, 0, 0
        while left:
            raw = _zipdir.pread(fd, min(_CHUNK, left), at)
            if not raw:
                raise _zipdir.Damaged("truncated")
            at += len(raw)
            left -= len(raw)
            data = raw if inflater is None else inflater.decompress(raw)
            got += len(data)
            if got > size:
                break
            check = zlib.crc32(data, check)
            digest.update(data)
            if kept is not None:
                kept.append(data)
        if inflater is not None and got <= size:
            data = inflater.flush()
            got += len(data)
            check = zlib.crc32(data, check)
            digest.update(data)
            if kept is not None:
                kept.append(data)
    except (_zipdir.Damaged, zlib.error) as error:
        _add(found, "%s cannot be read (%s)" % (_label(name, where), error))
        return None
    if got != size or check != crc:
        _add(found, "%s does not match its CRC-32 and size (damaged bytes)" % _label(name, where))
        return None
    return digest.hexdigest(), (b"".join(kept) if kept is not None else None)


def _label(name, where):
    return "its payload" if name == PAYLOAD and where == "its member" else "%s %s" % (where, name)


def main_manifest(source):
    """The ``MANIFEST`` literal of an archive's ``__main__.py`` source, or None."""
    import ast

    for line in source.decode("utf-8", "replace").splitlines():
        if line.startswith("MANIFEST = "):
            try:
                value = ast.literal_eval(line[len("MANIFEST = ") :])
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                return None
            return value if isinstance(value, dict) else None
    return None


def _manifests(main, text, manifest, found):
    """The manifest to check against; a problem if ``manifest.json`` and ``__main__.py`` disagree."""
    import json

    literal = main_manifest(main)
    if literal is None:
        _add(found, "its %s holds no readable MANIFEST" % MAIN)
        return None
    try:
        stored = json.loads(text.decode("utf-8"))
    except ValueError as error:
        _add(found, "its %s is not valid JSON (%s)" % (MANIFEST_JSON, error))
        return None
    if not isinstance(stored, dict):
        _add(found, "its %s is not a JSON object" % MANIFEST_JSON)
        return None
    if manifest is not None and manifest != literal:
        _add(found, "its %s is not the one this launcher runs with" % MAIN)
    if dict((k, v) for k, v in stored.items() if k != LAUNCHER_FILES) != literal:
        _add(found, "its %s and the MANIFEST of its %s differ" % (MANIFEST_JSON, MAIN))
    return stored


def _check_launcher(members, contents, manifest, found):
    expected = manifest.get(LAUNCHER_FILES)
    if not isinstance(expected, dict):
        return  # built before launcher hashes were recorded: the CRC-32 checks are all there is
    present = set()
    for member in members:
        name = member.name
        if not name.startswith(RUNTIME_PREFIX):
            continue
        present.add(name)
        if name not in expected:
            _add(found, "its launcher holds %s, which was not built into it" % name)
        elif name in contents and contents[name][0] != expected[name]:
            _add(found, "its launcher member %s is not what was built (SHA-256 %s)" % (name, contents[name][0]))
    for name in sorted(set(expected) - present):
        _add(found, "its launcher member %s is missing" % name)


def _check_payload(fd, member, sha256, manifest, found):
    from ._extract import unsafe_name

    payload = manifest.get("payload") or {}
    expected = payload.get("sha256")
    entry_id = str(manifest.get("id"))
    if expected and sha256 != expected:
        _add(found, "its payload's SHA-256 is %s, the manifest says %s" % (sha256, expected))
    elif not expected and not sha256.startswith(entry_id):
        _add(found, "its payload's SHA-256 %s does not start with its content id %s" % (sha256, entry_id))
    if member.method != _zipdir.STORED:
        _add(found, "its payload is compressed")
        return
    skip = _zipdir.local_header_length(_zipdir.pread(fd, _zipdir.LOCAL_SIZE, member.offset), PAYLOAD)
    try:
        inner = list(_zipdir.members(fd, member.offset + skip, member.size))
    except (_zipdir.Damaged, UnicodeError) as error:
        _add(found, "its payload is not a readable zip (%s)" % error)
        return
    names = set()
    files = set()
    for item in inner:
        name, mode = item.name, item.mode
        kind = mode & 0o170000
        if kind not in (0, 0o100000, 0o040000):
            _add(found, "its payload holds %s, a link or device (the launcher refuses it)" % name)
        elif unsafe_name(name):
            _add(found, "its payload holds the unsafe name %r (the launcher refuses it)" % name)
        key = name.rstrip("/")
        if key in names:
            _add(found, "its payload holds %s twice (the launcher refuses it)" % key)
        names.add(key)
        if not name.endswith("/"):
            files.add(key)
            _read_member(fd, item, found, where="its payload's member")
    for name in sorted(names):
        parent = name.rpartition("/")[0]
        while parent:
            if parent in files:
                _add(found, "its payload holds %s both as a file and as a directory" % parent)
                break
            parent = parent.rpartition("/")[0]
    count = payload.get("files")
    if isinstance(count, int) and count != len(files):
        _add(found, "its payload holds %d files, the manifest says %d" % (len(files), count))
