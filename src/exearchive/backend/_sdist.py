"""Carry the archive step's own inputs (lock, constraints, requirements files) in the sdist.

A wheel built from the sdist (what ``python -m build`` does) runs the archive
step in the unpacked sdist, so the files that ``[tool.exearchive]`` names must
be in it.  setuptools makes the sdist; the files it did not put there (no
``MANIFEST.in`` line includes them) are appended to its tar as setuptools'
``tar.add`` would have stored them: the same tar format, each file's own
mode, mtime, uid and gid, with a directory entry for a directory the tar does
not hold yet.  setuptools' members are kept byte for byte and in their order
(the tar is appended to, not rewritten), and the gzip header keeps its name
and date, so the result is exactly as reproducible as setuptools' own sdist.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import struct
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from ._errors import ConfigError

logger = logging.getLogger(__name__)

_SUFFIX = ".tar.gz"
_GZIP_MAGIC = b"\x1f\x8b"


def add_inputs(sdist: Path, files: list[tuple[str, str]], project_dir: Path) -> list[str]:
    """Append ``files`` ((how to name it, path relative to ``project_dir``)) to ``sdist`` where missing.

    Returns the paths added.  A file that is missing or outside the project is a :class:`ConfigError`.
    """
    wanted = [(where, _relative(where, path, project_dir)) for where, path in files]
    if not wanted:
        return []
    base = sdist.name[: -len(_SUFFIX)]
    with tarfile.open(sdist) as archive:
        names = set(archive.getnames())
    missing = list(dict.fromkeys(path for _, path in wanted if f"{base}/{path}" not in names))
    if not missing:
        return []
    mtime = _gzip_mtime(sdist)
    handle, temp_name = tempfile.mkstemp(prefix=f".{sdist.name}.", suffix=".tar", dir=sdist.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as plain, gzip.open(sdist, "rb") as packed:
            shutil.copyfileobj(packed, plain)
        with tarfile.open(temp, "a", format=tarfile.DEFAULT_FORMAT) as archive:
            for path in missing:
                _append(archive, project_dir, base, path, names)
        _compress(temp, sdist, mtime)
    finally:
        temp.unlink(missing_ok=True)
    for path in missing:
        logger.info("added %s to %s (the archive step reads it)", path, sdist.name)
    return missing


def _relative(where: str, path: str, project_dir: Path) -> str:
    """``path`` as a normalised posix path inside the project; a ConfigError if it is not one or is missing."""
    normal = os.path.normpath(path)
    if Path(normal).is_absolute() or Path(normal).parts[:1] == (os.pardir,):
        raise ConfigError(
            f"{where} = {path!r} is outside the project, so the sdist cannot carry it and a wheel built from the "
            "sdist cannot read it; move it into the project directory"
        )
    if not (project_dir / normal).is_file():
        raise ConfigError(f"{where}: {path!r} does not exist in {project_dir}")
    return PurePosixPath(Path(normal)).as_posix()


def _append(archive: tarfile.TarFile, project_dir: Path, base: str, path: str, names: set[str]) -> None:
    """Add the project's file ``path`` (and directory entries it needs) as ``base/path``."""
    parts = PurePosixPath(path).parts
    for depth in range(1, len(parts)):
        directory = "/".join(parts[:depth])
        name = f"{base}/{directory}"
        if name not in names:
            archive.add(project_dir / directory, arcname=name, recursive=False)
            names.add(name)
    # stat the file itself (a link is stored as the file it names, as setuptools' release tree holds it)
    with (project_dir / path).open("rb") as handle:
        info = archive.gettarinfo(arcname=f"{base}/{path}", fileobj=handle)
        archive.addfile(info, handle)
    names.add(f"{base}/{path}")


def _gzip_mtime(sdist: Path) -> int:
    """The date in the gzip header of ``sdist``."""
    with sdist.open("rb") as handle:
        header = handle.read(8)
    if header[:2] != _GZIP_MAGIC:
        raise ConfigError(f"{sdist.name} made by setuptools is not a gzip file")
    mtime: int = struct.unpack("<I", header[4:8])[0]
    return mtime


def _compress(plain: Path, sdist: Path, mtime: int) -> None:
    """Gzip ``plain`` into ``sdist`` (atomically) with the header setuptools' tarfile wrote: name and date."""
    handle, temp_name = tempfile.mkstemp(prefix=f".{sdist.name}.", suffix=".tmp", dir=sdist.parent)
    temp = Path(temp_name)
    try:
        with (
            os.fdopen(handle, "wb") as out,
            plain.open("rb") as source,
            gzip.GzipFile(filename=sdist.name, mode="wb", fileobj=out, compresslevel=9, mtime=mtime) as packed,
        ):
            shutil.copyfileobj(source, packed)
        # not synced to disk, as the archive and the wheel are not (_pack): the rename makes it whole or absent
        temp.chmod(sdist.stat().st_mode & 0o777)
        temp.replace(sdist)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
