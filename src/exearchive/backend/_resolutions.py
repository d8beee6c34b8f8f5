"""Remembered resolutions: pip is not run again when everything it would read is what it read before.

A resolution is a function of its inputs when pip can see no index
(``PIP_NO_INDEX`` is set) and every other source is a local find-links
directory or file: then the same inputs give the same wheels.  The inputs are

- the project's dependencies: its name, the extras asked for, its wheel's
  ``Requires-Dist`` and ``Requires-Python`` (not its code: that changes every
  commit and pip does not read it);
- the constraints and requirements files named in ``[tool.exearchive]``;
- the build interpreter (its marker environment and most specific wheel tag)
  and the pip that resolves (its location and version);
- every ``PIP_*`` variable, and the text of every pip configuration file pip
  could read;
- each find-links source: a directory's file names, sizes and modification
  times, a file's size and modification time.

The SHA-256 of all that names a *record* in the build cache
(``<cache>/resolutions/<project>.<key>.json``) listing the dependency wheels pip chose
and where in the find-links sources it found them.  A later build with the
same key links (or copies) those files into its wheel directory instead of
running pip.  Anything else — an index, a URL, a direct reference, an option
line in a requirements file, a wheel pip built from an sdist, a source that
changed — runs pip as usual, and a resolution is recorded only when every
wheel pip chose is, byte for byte, a file of a find-links source.
"""

from __future__ import annotations

import configparser
import email.parser
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from packaging.markers import default_environment
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from . import _pip
from ._cachedir import RESOLUTIONS, pip_sees_no_index, resolution_record
from ._hashing import sha256_file

logger = logging.getLogger(__name__)

FORMAT = 1
DIRECTORY = RESOLUTIONS
_KEEP = 256  # records kept; the oldest beyond that are removed when one is written
_OPTION_LINE = re.compile(r"^\s*-")


class Record:
    """The key of one resolution and, once pip has run, what to remember of it."""

    def __init__(self, path: Path, sources: list[Path]) -> None:
        self.path = path
        self._sources = sources

    def recall(self, wheel: Path, wheel_dir: Path) -> list[Path] | None:
        """The wheels of the remembered resolution (``wheel`` and the dependencies), put into ``wheel_dir``;
        None when there is none, or a file it names changed."""
        try:
            wheels = json.loads(self.path.read_text(encoding="utf-8"))["wheels"]
            found = [(Path(each["source"]), int(each["size"]), int(each["mtime_ns"])) for each in wheels]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        for source, size, mtime in found:
            try:
                info = source.stat()
            except OSError:
                return None
            if (info.st_size, info.st_mtime_ns) != (size, mtime):
                return None
        wheel_dir.mkdir(parents=True, exist_ok=True)
        placed = [_place(wheel, wheel_dir)] + [_place(source, wheel_dir) for source, _, _ in found]
        os.utime(self.path)  # used: the oldest records are removed first
        return sorted(placed)

    def remember(self, wheels: list[Path], project: str) -> None:
        """Record what pip chose, when every dependency wheel is a file of a find-links source."""
        by_name: dict[str, list[Path]] = {}
        for source in self._sources:
            for path in _files(source):
                by_name.setdefault(path.name, []).append(path)
        chosen = []
        for wheel in wheels:
            if canonicalize_name(parse_wheel_filename(wheel.name)[0]) == canonicalize_name(project):
                continue
            digest = sha256_file(wheel)
            origin = next((path for path in by_name.get(wheel.name, []) if sha256_file(path) == digest), None)
            if origin is None:
                logger.debug("not remembering the resolution: %s is not a file of a find-links source", wheel.name)
                return
            info = origin.stat()
            chosen.append({"source": str(origin), "size": info.st_size, "mtime_ns": info.st_mtime_ns})
        _write(self.path, {"format": FORMAT, "wheels": chosen})


def forget(cache: Path, days: float | None = None, dry_run: bool = False) -> int:
    """Remove the remembered resolutions in ``cache`` (those unused for ``days``, when given); how many."""
    limit = None if days is None else time.time() - days * 86400
    removed = 0
    for path in sorted((cache / DIRECTORY).glob("*.json")):
        try:
            if limit is None or path.stat().st_mtime < limit:
                if not dry_run:
                    path.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def remembered(cache: Path) -> int:
    """How many resolutions ``cache`` remembers."""
    return len(list((cache / DIRECTORY).glob("*.json")))


def record_for(
    cache: Path,
    wheel: Path,
    extras: tuple[str, ...],
    files: list[Path],
    pip: list[str],
    env: Mapping[str, str] | None = None,
) -> Record | None:
    """The record of this resolution in ``cache``, or None when its result may depend on more than its inputs."""
    environ = os.environ if env is None else env
    if not pip_sees_no_index(environ):
        return None
    configs = _config_files(environ)
    links = environ.get("PIP_FIND_LINKS", "").split()
    named = [Path(value) for key in _NAMED_FILES for value in environ.get(f"PIP_{key.upper()}", "").split()]
    for path in configs:
        found = _config_values(path)
        links += found.get("find_links", [])
        named += [Path(value) for key in _NAMED_FILES for value in found.get(key, [])]
    sources = [_local(link) for link in links]
    if any(source is None for source in sources):
        return None
    project = _project(wheel)
    texts = [_requirements_text(path) for path in [*files, *named]]
    if project is None or any(text is None for text in texts):
        return None
    inputs: dict[str, Any] = {
        "format": FORMAT,
        "project": project,
        "extras": sorted(extras),
        "files": texts,
        "interpreter": [default_environment(), str(next(iter(sys_tags()))), sys.implementation.cache_tag],
        "pip": [pip[2:], _pip.version(pip)],  # the pip package, not the runner (in the build environment)
        "env": sorted((k, v) for k, v in environ.items() if k.startswith("PIP_")),
        "configs": [[str(path), _read(path)] for path in configs],
        "sources": [[str(source), _listing(source)] for source in sources if source is not None],
    }
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:32]
    name = canonicalize_name(parse_wheel_filename(wheel.name)[0])
    return Record(resolution_record(cache, name, key), [source for source in sources if source is not None])


_NAMED_FILES = ("constraint", "requirement", "build_constraint")  # what pip reads from files named in its config


def _config_files(environ: Mapping[str, str]) -> list[Path]:
    """Every pip configuration file that exists where pip looks (none when ``PIP_CONFIG_FILE`` is os.devnull)."""
    named = environ.get("PIP_CONFIG_FILE")
    if named == os.devnull:
        return []
    home = Path(environ.get("HOME", "~")).expanduser()
    config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    candidates = [Path(d) / "pip" / "pip.conf" for d in environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":") if d]
    candidates += [
        Path("/etc/pip.conf"),
        home / ".pip" / "pip.conf",
        config_home / "pip" / "pip.conf",
        home / "Library" / "Application Support" / "pip" / "pip.conf",
        Path(sys.prefix) / "pip.conf",
    ]
    if named:
        candidates.append(Path(named))
    return [path for path in candidates if path.is_file()]


def _config_values(path: Path) -> dict[str, list[str]]:
    """Each key of a pip configuration file (any section; ``-`` as ``_``), its values split at white space."""
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeError, OSError):
        return {}
    values: dict[str, list[str]] = {}
    for section in parser.sections():
        for key, value in parser.items(section):
            values.setdefault(key.replace("-", "_"), []).extend(value.split())
    return values


def _local(link: str) -> Path | None:
    """A find-links entry as a local path; None for a URL that is not a file."""
    if "://" in link:
        parsed = urlparse(link)
        return Path(unquote(parsed.path)) if parsed.scheme == "file" and not parsed.netloc else None
    return Path(link).expanduser().absolute()


def _listing(source: Path) -> list[list[object]]:
    """What pip reads of a find-links source: each file's name, size and modification time."""
    return [[path.name, *_stamp(path)] for path in _files(source)]


def _files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    try:
        with os.scandir(source) as items:
            return sorted(Path(item.path) for item in items if item.is_file())
    except OSError:
        return []


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def _project(wheel: Path) -> list[str] | None:
    """The lines of the wheel's metadata that resolution reads; None when one is a direct reference."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            name = next(n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
            metadata = email.parser.BytesParser().parsebytes(archive.read(name), headersonly=True)
    except (OSError, zipfile.BadZipFile, StopIteration):
        return None
    wanted = [str(metadata.get("Name", "")), f"Requires-Python: {metadata.get('Requires-Python', '')}"]
    dependencies = [str(line) for line in metadata.get_all("Requires-Dist") or []]
    if any("@" in line.split(";")[0] for line in dependencies):
        return None
    return wanted + sorted(dependencies)


def _requirements_text(path: Path) -> str | None:
    """A constraints or requirements file's text; None when it has option lines or direct references."""
    text = _read(path)
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        requirement = line.split(" --hash")[0].split(";")[0]
        if _OPTION_LINE.match(line) or "@" in requirement or "/" in requirement or "\\" in requirement:
            return None
    return text


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _place(source: Path, wheel_dir: Path) -> Path:
    """``source`` in ``wheel_dir``: a hard link where the file system allows, else a copy."""
    target = wheel_dir / source.name
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    return target


def _write(path: Path, record: dict[str, Any]) -> None:
    """Publish ``record`` at ``path`` atomically, then keep the newest ``_KEEP`` records."""
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".record-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(record, out)
        Path(temp).replace(path)
        records = sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
        for old in records[:-_KEEP]:
            old.unlink(missing_ok=True)
    except OSError as error:
        logger.debug("could not remember the resolution in %s: %s", path.parent, error)
