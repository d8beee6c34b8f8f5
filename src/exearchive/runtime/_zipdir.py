"""Read a zip's central directory: the members' names, sizes and offsets.

The cold path reads two directories (the archive's, to find the payload, and
the payload's) and needs only where each member's bytes are.  ``zipfile``
would do it, but importing it costs about 9 ms (it pulls in ``pathlib``,
``shutil``, ``bz2``, ``lzma`` and more) and building a ``ZipInfo`` per member
costs 5 us, which is a tenth of a second on a payload of 20,000 modules.
This reads the format as APPNOTE.TXT describes it (end of central directory
record, its Zip64 variant, Zip64 extra fields), with ``struct`` only.

``members(fd, start, size)`` yields one ``Member`` per member, in directory
order: a tuple ``(name, offset, csize, size, crc, method, mode, extra_len)``
with those names as fields, where
``offset`` is the absolute position of the member's local header in the file
behind ``fd`` (data before the zip, such as a shebang line, is accounted for
the way ``zipfile`` does it), ``mode`` the Unix mode from the external
attributes and ``extra_len`` the length of the central extra field (the local
one is usually as long).  Anything inconsistent raises ``Damaged``.
"""

import os
import struct

STORED, DEFLATED = 0, 8  # compression methods
LOCAL_SIZE = 30  # a local file header without its name and extra field
_LOCAL = struct.Struct("<4s2B4HL2L2H")  # local file header
_LOCAL_MAGIC = b"PK\x03\x04"
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record, 22 bytes
_EOCD_MAGIC = b"PK\x05\x06"
_LOCATOR = struct.Struct("<4sLQL")  # Zip64 end of central directory locator, 20 bytes
_LOCATOR_MAGIC = b"PK\x06\x07"
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # Zip64 end of central directory record, 56 bytes
_EOCD64_MAGIC = b"PK\x06\x06"
_ENTRY = struct.Struct("<4s4B4HL2L5H2L")  # central directory file header, 46 bytes
_ENTRY_MAGIC = b"PK\x01\x02"
_MAX_COMMENT = 0xFFFF
_UTF8 = 0x800  # general purpose flag: the name is UTF-8
_ENCRYPTED = 0x1
_OS_PREAD = getattr(os, "pread", None)
HAS_PREAD = _OS_PREAD is not None  # without it, reads move the shared file position: one thread only


class Damaged(ValueError):
    """The bytes are not the zip they claim to be."""


def _field(index, doc):
    def get(self):
        return self[index]

    return property(get, doc=doc)


class Member(tuple):
    """One central directory entry: a tuple with named fields (made with ``tuple.__new__``, as cheap as a tuple)."""

    __slots__ = ()
    name = _field(0, "the member's name (``/``-separated; a directory ends with ``/``)")
    offset = _field(1, "absolute position of its local header in the file")
    csize = _field(2, "compressed size")
    size = _field(3, "uncompressed size")
    crc = _field(4, "CRC-32 of the uncompressed bytes")
    method = _field(5, "compression method: STORED or DEFLATED")
    mode = _field(6, "Unix mode from the external attributes (0 when not from Unix)")
    extra_len = _field(7, "length of the central extra field")

    def moved(self, offset):
        """The same member with another ``offset`` (e.g. where its data starts)."""
        return tuple.__new__(Member, (self[0], offset, *self[2:]))


def members(fd, start=0, size=None):
    """The members of the zip that occupies ``size`` bytes of ``fd`` from ``start``, one by one.

    A generator, so that a caller keeping less per member than the tuple
    (the extraction plan) holds only that: memory for 40,000 members counts.
    The end records are checked on the first ``next``.
    """
    if size is None:
        size = os.fstat(fd).st_size - start
    tail_len = min(size, _EOCD.size + _MAX_COMMENT)
    tail = pread(fd, tail_len, start + size - tail_len)
    at = tail.rfind(_EOCD_MAGIC)
    while at >= 0 and (len(tail) - at < _EOCD.size or at + _EOCD.size + _EOCD.unpack_from(tail, at)[7] != len(tail)):
        at = tail.rfind(_EOCD_MAGIC, 0, at)  # that one was inside the comment (or cut short)
    if at < 0:
        raise Damaged("no end of central directory record")
    _, _, _, _, count, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
    eocd = start + size - tail_len + at  # where the record is
    record = eocd
    if count == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        locator = pread(fd, _LOCATOR.size, eocd - _LOCATOR.size)
        if len(locator) != _LOCATOR.size or locator[:4] != _LOCATOR_MAGIC:
            raise Damaged("no Zip64 end of central directory locator")
        record = eocd - _LOCATOR.size - _EOCD64.size
        fields = _EOCD64.unpack(_pread(fd, _EOCD64.size, record))
        if fields[0] != _EOCD64_MAGIC:
            raise Damaged("no Zip64 end of central directory record")
        count, cd_size, cd_offset = fields[7], fields[8], fields[9]
    concat = record - cd_size - cd_offset  # bytes before the zip's own offset 0
    if concat < start or cd_size > record - start:
        raise Damaged("the central directory lies outside the file")
    directory = _pread(fd, cd_size, concat + cd_offset)
    pos = 0
    unpack = _ENTRY.unpack_from
    new = tuple.__new__
    for index in range(count):
        if directory[pos : pos + 4] != _ENTRY_MAGIC or pos + _ENTRY.size > cd_size:
            raise Damaged("bad central directory entry %d" % index)
        fields = unpack(directory, pos)
        flags, method, crc, csize, usize = fields[5], fields[6], fields[9], fields[10], fields[11]
        name_len, extra_len, comment_len = fields[12], fields[13], fields[14]
        offset = fields[18]
        pos += _ENTRY.size
        raw_name = directory[pos : pos + name_len]
        name = raw_name.decode("utf-8" if flags & _UTF8 else "cp437")
        if usize == 0xFFFFFFFF or csize == 0xFFFFFFFF or offset == 0xFFFFFFFF:
            usize, csize, offset = _zip64(directory[pos + name_len : pos + name_len + extra_len], usize, csize, offset)
        if flags & _ENCRYPTED:
            raise Damaged("%s is encrypted" % name)
        pos += name_len + extra_len + comment_len
        yield new(Member, (name, concat + offset, csize, usize, crc, method, fields[17] >> 16, extra_len))
    if pos != cd_size:
        raise Damaged("the central directory has %d bytes more than its %d entries" % (cd_size - pos, count))


def local_header_length(raw, name):
    """Length of the local header at the start of ``raw`` (name and extra field included).

    The member's data starts that many bytes after its offset.
    """
    if len(raw) < LOCAL_SIZE:
        raise Damaged("%s: truncated" % name)
    fields = _LOCAL.unpack_from(raw)
    if fields[0] != _LOCAL_MAGIC:
        raise Damaged("%s: bad local header" % name)
    return LOCAL_SIZE + fields[10] + fields[11]  # file name and extra field lengths


def _zip64(extra, usize, csize, offset):
    """Sizes and offset from a Zip64 extended information extra field."""
    pos = 0
    while pos + 4 <= len(extra):
        kind, length = struct.unpack_from("<2H", extra, pos)
        if kind == 1:
            values = list(struct.unpack_from("<%dQ" % (min(length, len(extra) - pos - 4) // 8), extra, pos + 4))
            values.reverse()
            try:
                if usize == 0xFFFFFFFF:
                    usize = values.pop()
                if csize == 0xFFFFFFFF:
                    csize = values.pop()
                if offset == 0xFFFFFFFF:
                    offset = values.pop()
            except IndexError:
                break
            return usize, csize, offset
        pos += 4 + length
    raise Damaged("a Zip64 member without a complete Zip64 extra field")


def pread(fd, length, offset):
    """``os.pread``, or seek and read where there is none (Windows: callers then use one thread)."""
    if _OS_PREAD is not None:
        return _OS_PREAD(fd, length, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, length)


def _pread(fd, length, offset):
    data = pread(fd, length, offset)
    if len(data) != length:
        raise Damaged("truncated")
    return data
