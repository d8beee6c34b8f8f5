"""Where the build cache is, and where in it the remembered resolutions are: read before anything is built.

Apart from the rest of the build cache (``_buildcache``, ``_resolutions``) because ``_pipstart`` asks
before setuptools builds the wheel, when every module imported is one more on the way of that build.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from ..runtime import default_root, unsafe_reason
from . import _bytecache

logger = logging.getLogger(__name__)

ENV = "EXEARCHIVE_BUILD_CACHE"
RESOLUTIONS = "resolutions"
_TRUE = {"1", "y", "yes", "t", "true", "on"}  # what pip reads as true in PIP_* variables


def location(env: Mapping[str, str] | None = None) -> Path | None:
    """The build cache's directory, or None when ``EXEARCHIVE_BUILD_CACHE=off``."""
    env = os.environ if env is None else env
    value = env.get(ENV, "").strip()
    if value.lower() == "off":
        return None
    if value:
        return Path(value).expanduser().absolute()
    base = default_root({k: v for k, v in env.items() if k != "EXEARCHIVE_ROOT"})[0]
    return Path(base) / "build"


def resolution_record(cache: Path, project: str, key: str) -> Path:
    """The file of a remembered resolution of ``project`` (a canonical name, which holds no dots)."""
    return cache / RESOLUTIONS / f"{project}.{key}.json"


def remembers_resolution_of(cache: Path, project: str) -> bool:
    """Whether ``cache`` remembers any resolution of ``project`` (a canonical name)."""
    return any((cache / RESOLUTIONS).glob(f"{project}.*.json"))


def pip_sees_no_index(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``PIP_NO_INDEX`` is set true (only then is a resolution remembered and recalled)."""
    return (os.environ if env is None else env).get("PIP_NO_INDEX", "").strip().lower() in _TRUE


def usable_location(env: Mapping[str, str] | None = None) -> Path | None:
    """The build cache's directory, made private if need be; None when it is off or cannot be used safely."""
    place = location(env)
    if place is None:
        return None
    try:
        make_private(place)
    except OSError as error:
        logger.debug("not using the build cache %s: %s", place, error.strerror)
        return None
    return place


def bytecode_folder(env: Mapping[str, str] | None = None) -> str | None:
    """The build cache's folder of this interpreter's bytecode (``_bytecache``), made private if need be; None
    when the cache is off or cannot be used safely."""
    place = usable_location(env)
    if place is None:
        return None
    folder = Path(_bytecache.folder(place))
    try:
        make_private(folder.parent)
        make_private(folder)
    except OSError as error:
        logger.debug("not keeping bytecode in the build cache %s: %s", place, error.strerror)
        return None
    return str(folder)


def make_private(path: Path) -> None:
    """Make ``path`` (0700) if need be and make sure no one else can write it.

    What the cache holds goes into archives (and runs in builds) as it is: a
    directory another user could write (a shared ``/tmp/cache``, a symlink
    planted there) would let them put code into every archive built from it.
    The same rule as the runtime's cache root: a real directory, owned by this
    user or root, not writable by group or others; an ``OSError``
    (``strerror`` says why) otherwise.
    """
    missing = [path, *(parent for parent in path.parents if not parent.exists())]
    for directory in reversed(missing):  # the directories made here are private too (the runtime's root above)
        directory.mkdir(mode=0o700, exist_ok=True)
    if not hasattr(os, "geteuid"):
        return
    reason = unsafe_reason(path.lstat())
    if reason is not None:
        raise OSError(errno.EPERM, reason)
