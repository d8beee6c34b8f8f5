"""Install wheels with ``installer`` into one staging tree.

The tree is laid out like the archive's payload::

    site-packages/   purelib and platlib of every wheel
    bin/             console scripts and the wheels' scripts
    data/            the wheels' data files (what a venv puts under its prefix)
    include/<dist>/  the wheels' headers

Each wheel's RECORD is checked against its contents first.  A file written by
two wheels stops the staging, naming both — unless both wrote the same bytes
(pkgutil-style namespace ``__init__.py`` files do), which is allowed.  PEP 420
namespace packages merge because they are only directories.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.exceptions import InstallerError
from installer.records import Hash, RecordEntry
from installer.sources import WheelFile
from installer.utils import Scheme, copyfileobj_with_hashing, make_file_executable
from packaging.utils import canonicalize_name

from ._errors import StagingError
from ._hashing import sha256_file, sha256_stream

logger = logging.getLogger(__name__)

SITE = "site-packages"
SCRIPTS = "bin"


@dataclass(frozen=True)
class Unchanged:
    """A staged file that is a wheel member's bytes as they are: installer copied the member's stream to it,
    zipfile checked that stream against the member's CRC-32 and ``_CheckedWheel`` against its RECORD entry."""

    wheel: str
    """The wheel's file name."""
    member: str
    """The member's name in the wheel."""
    sha256: str
    """The SHA-256 (hex) of the bytes written, hashed as they were written."""
    executable: bool


@dataclass
class _Destination(SchemeDictionaryDestination):
    """A destination that knows which wheel wrote which file, and writes each one with fewer system calls.

    installer's ``write_to_fs`` stats the target and its directory for every
    file and builds its path with ``pathlib`` twice; on a wheel of 20,000
    small modules that was most of staging.  Here the path is checked as
    installer checks it (``abspath`` below the scheme's directory) with string
    operations, a directory made once is not looked at again, and the file is
    opened with ``O_EXCL``: an existing one (another wheel's) is a collision.
    """

    owners: dict[str, str] = field(default_factory=dict)
    current: str = ""
    unchanged: dict[str, Unchanged] | None = None
    # write_to_fs below checks for an existing file itself, so installer's own check is switched off
    overwrite_existing: bool = True
    _directories: dict[str, str] = field(default_factory=dict)
    _made: set[str] = field(default_factory=set)

    def write_to_fs(self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool) -> RecordEntry:
        try:
            target = self._target(scheme, path)
        except ValueError:
            raise StagingError(f"{self.current} tries to write {path!r} outside the staging tree") from None
        parent = os.path.dirname(target)  # noqa: PTH120 - strings, as in _target
        if parent not in self._made:
            os.makedirs(parent, exist_ok=True)  # noqa: PTH103
            self._made.add(parent)
        try:
            handle = open(target, "xb")  # noqa: SIM115 - a string path: no pathlib object per file
        except FileExistsError:
            return self._collision(target, path, stream)
        with handle:
            hash_, size = copyfileobj_with_hashing(stream, handle, self.hash_algorithm)
        if is_executable:
            make_file_executable(Path(target))
        self.owners[target] = self.current
        if self.unchanged is not None and isinstance(stream, _Checked) and self.hash_algorithm == "sha256":
            digest = base64.urlsafe_b64decode(hash_ + "=" * (-len(hash_) % 4)).hex()
            self.unchanged[target] = Unchanged(self.current, stream.member, digest, is_executable)
        return RecordEntry(path, Hash(self.hash_algorithm, hash_), size)

    def _path_with_destdir(self, scheme: Scheme, path: str) -> Path:
        """installer's checked path (installer's write_script asks for it)."""
        return Path(self._target(scheme, path))

    def _target(self, scheme: Scheme, path: str) -> str:
        """installer's check (``abspath`` of the file below that of the scheme's directory), with strings: per
        file, pathlib objects were the cost."""
        given = self.scheme_dict[scheme]  # "headers" changes per wheel
        directory = self._directories.get(given)
        if directory is None:
            directory = self._directories[given] = os.path.abspath(given)  # noqa: PTH100
        file = os.path.abspath(os.path.join(directory, path))  # noqa: PTH100, PTH118
        if not file.startswith(directory.rstrip(os.sep) + os.sep):
            raise ValueError(f"Attempting to write {path} outside of the target directory")
        return file

    def _collision(self, target: str, path: str, stream: BinaryIO) -> RecordEntry:
        new, size = sha256_stream(stream)
        owner = self.owners.get(target, "another wheel")
        if new.hexdigest() != sha256_file(Path(target)):
            raise StagingError(f"{owner} and {self.current} both install {path!r} with different contents")
        logger.debug("%s and %s both install identical %s", owner, self.current, path)
        digest = Hash("sha256", _urlsafe(new.digest()))
        return RecordEntry(path, digest, size)


class _CheckedWheel(WheelFile):
    """A wheel whose files are checked against its RECORD as installer reads them: one pass over the zip.

    ``validate_record(validate_contents=True)`` would read and inflate every
    member once more before installing (a quarter of staging 20,000 small
    files); here :meth:`validate_record` is asked to check the names and
    entries only, and each file's hash and size are checked when installer is
    done with it.  Scripts in ``.data/scripts/`` are checked beforehand:
    installer rewinds their streams to fix the shebang.
    """

    def get_contents(self) -> Iterator[tuple[tuple[str, str, str], BinaryIO, bool]]:
        for record, stream, executable in super().get_contents():
            path, hash_, size = record
            if not hash_:  # RECORD itself: validate_record made sure it is the only one without a hash
                yield record, stream, executable
                continue
            entry = RecordEntry.from_elements(path, hash_, size)
            if "/scripts/" in path and path.split("/", 1)[0].endswith(".data"):
                with self._zipfile.open(path) as again:
                    if not entry.validate_stream(again):  # type: ignore[arg-type]
                        raise StagingError(f"cannot stage {self.filename}: hash / size of {path} didn't match RECORD")
                yield record, stream, executable
                continue
            checked = _Checked(stream, entry)
            yield record, cast(BinaryIO, checked), executable
            if not checked.matches():
                raise StagingError(f"cannot stage {self.filename}: hash / size of {path} didn't match RECORD")

    @property
    def filename(self) -> str:
        """The wheel's file name."""
        return Path(str(self._zipfile.filename)).name


class _Checked(io.RawIOBase):
    """A member's stream that hashes what is read from it, to compare with its RECORD entry afterwards."""

    def __init__(self, stream: BinaryIO, entry: RecordEntry) -> None:
        super().__init__()
        assert entry.hash_ is not None
        self._stream = stream
        self._entry = entry
        self._digest = hashlib.new(entry.hash_.name)
        self._size = 0
        self.member = entry.path
        """The member's name in the wheel."""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._stream.read(-1 if size is None else size)
        self._digest.update(data)
        self._size += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def matches(self) -> bool:
        """Whether the whole member (what is left read now) is what RECORD says."""
        while self.read(1 << 20):
            pass
        assert self._entry.hash_ is not None
        return self._size == self._entry.size and _urlsafe(self._digest.digest()) == self._entry.hash_.value


def _urlsafe(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def stage(
    wheels: Iterable[Path], root: Path, requested: str | None = None, unchanged: dict[str, Unchanged] | None = None
) -> Path:
    """Install ``wheels`` into ``root``; return ``root``.

    ``requested`` names the project the user asked for; its dist-info gets a
    ``REQUESTED`` file as pip would write.  ``unchanged``, when given, gets
    every file written as a member's bytes unchanged, by its absolute path
    (``_reuse`` packs it with the member's compressed bytes without reading it again).
    """
    schemes = {
        "purelib": str(root / SITE),
        "platlib": str(root / SITE),
        "scripts": str(root / SCRIPTS),
        "data": str(root / "data"),
        "headers": str(root / "include"),
    }
    destination = _Destination(schemes, interpreter="python", script_kind="posix", unchanged=unchanged)
    for wheel in sorted(wheels, key=lambda p: p.name.lower()):
        destination.current = wheel.name
        logger.debug("staging %s", wheel.name)
        try:
            with _CheckedWheel.open(wheel) as source:
                source.validate_record(validate_contents=False)
                metadata = {"INSTALLER": b"exearchive\n"}
                if requested is not None and canonicalize_name(source.distribution) == canonicalize_name(requested):
                    metadata["REQUESTED"] = b""
                destination.scheme_dict["headers"] = str(root / "include" / source.distribution)
                install(source, destination, additional_metadata=metadata)
        except StagingError:
            raise
        except (InstallerError, ValueError, OSError) as error:
            raise StagingError(f"cannot stage {wheel.name}: {error}") from None
    return root
