"""Where the build cache is, and where in it the remembered resolutions are: read before anything is built.

Apart from the rest of the build cache (``_buildcache``, ``_resolutions``) because ``_pipstart`` asks
before setuptools builds the wheel, when every module imported is one more on the way of that build.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..runtime import default_root

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
