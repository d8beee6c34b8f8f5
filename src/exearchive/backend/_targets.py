"""Targets: the interpreter and platform an archive is built for.

A target is ``host`` (the build interpreter), a shorthand
``<impl><XY>-<platform tag>`` (``cp312-manylinux_2_28_aarch64``), or a JSON
file with a complete platform in PEX's format (``{"marker_environment": {...},
"compatible_tags": [...]}``, most specific tag first).  A shorthand expands to
the tags such a machine supports, in the order packaging gives them there;
the marker variables it cannot know (``platform_release``, the patch version)
are absent, and a marker that reads one stops the build (:func:`evaluate`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from packaging import tags as _tags
from packaging.markers import Marker, default_environment

from ._errors import ConfigError

HOST = "host"
_T = TypeVar("_T")

# The variables of PEP 508 a marker may read (besides ``extra``, fixed at build time).
VARIABLES = (
    "implementation_name",
    "implementation_version",
    "os_name",
    "platform_machine",
    "platform_python_implementation",
    "platform_release",
    "platform_system",
    "platform_version",
    "python_full_version",
    "python_version",
    "sys_platform",
)

_SHORTHAND = re.compile(r"^(?P<impl>cp|pp)(?P<major>\d)(?P<minor>\d+)-(?P<platform>[a-z0-9_]+)$")
_MANYLINUX = re.compile(r"^manylinux_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>[a-z0-9_]+)$")
_MUSLLINUX = re.compile(r"^musllinux_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>[a-z0-9_]+)$")
_MACOS = re.compile(r"^macosx_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>[a-z0-9_]+)$")
# packaging/_manylinux.py: the legacy names of glibc levels, and the oldest glibc for each architecture.
_LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
_OLDEST_GLIBC = {"x86_64": (2, 5), "i686": (2, 5)}
_DEFAULT_OLDEST_GLIBC = (2, 17)
_WINDOWS_MACHINES = {"win_amd64": "AMD64", "win32": "x86", "win_arm64": "ARM64"}
_ACCEPTED = (
    "'host', a shorthand <impl><XY>-<platform tag> such as 'cp312-manylinux_2_28_aarch64', "
    "'pp39-manylinux_2_17_x86_64', 'cp313-macosx_11_0_arm64' or 'cp312-win_amd64', "
    "or a complete platform file ending in .json"
)


@dataclass(frozen=True)
class Target:
    """An interpreter and platform to build for."""

    name: str
    """As the user wrote it."""
    environment: Mapping[str, str]
    """The PEP 508 marker variables the target is known to have; an unknown one is absent."""
    tags: tuple[_tags.Tag, ...]
    """The wheel tags it accepts, most specific first."""
    is_host: bool = False

    @property
    def python_version(self) -> str | None:
        return self.environment.get("python_version")

    @property
    def implementation(self) -> str | None:
        """pip's ``--implementation``: ``cp``, ``pp`` (from the most specific tag)."""
        return self.tags[0].interpreter[:2] if self.tags else None

    def platforms(self) -> list[str]:
        """The platform tags it accepts, most specific first (pip's ``--platform``, each of them)."""
        return _unique(t.platform for t in self.tags if t.platform != "any")

    def abis(self) -> list[str]:
        """The ABI tags it accepts (pip's ``--abi``)."""
        return _unique(t.abi for t in self.tags)


def host() -> Target:
    """This interpreter."""
    environment = {key: str(value) for key, value in default_environment().items()}
    return Target(HOST, environment, tuple(_tags.sys_tags()), is_host=True)


def parse(value: str, base_dir: Path, where: str) -> Target:
    """The target ``value`` names; ``where`` names the setting for messages, ``base_dir`` anchors a JSON path."""
    text = value.strip()
    if text == HOST:
        return host()
    if text.endswith(".json"):
        return _complete_platform(text, base_dir / text)
    match = _SHORTHAND.match(text)
    if match is None:
        raise ConfigError(f"{where}: {value!r} is not a target; give {_ACCEPTED}")
    version = (int(match["major"]), int(match["minor"]))
    platform = match["platform"]
    expanded = _platforms(platform)
    if expanded is None:
        raise ConfigError(f"{where}: {value!r} has an unknown platform tag {platform!r}; give {_ACCEPTED}")
    platforms, machine, system = expanded
    pypy = match["impl"] == "pp"
    interpreter = f"{match['impl']}{version[0]}{version[1]}"
    if pypy:
        abi = f"pypy{version[0]}{version[1]}_pp73"
        found = [*_tags.generic_tags(interpreter, [abi], platforms)]
    else:
        found = [*_tags.cpython_tags(version, [f"cp{version[0]}{version[1]}"], platforms)]
    found += _tags.compatible_tags(version, interpreter, platforms)
    environment = {
        "implementation_name": "pypy" if pypy else "cpython",
        "platform_python_implementation": "PyPy" if pypy else "CPython",
        "python_version": f"{version[0]}.{version[1]}",
        "sys_platform": {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}[system],
        "os_name": "nt" if system == "Windows" else "posix",
        "platform_system": system,
    }
    if machine:
        environment["platform_machine"] = machine
    return Target(text, environment, tuple(found))


def _platforms(platform: str) -> tuple[list[str], str | None, str] | None:
    """The platform tags a machine of ``platform`` accepts, most specific first; its machine; its system."""
    match = _MANYLINUX.match(platform)
    if match:
        arch = match["arch"]
        oldest = _OLDEST_GLIBC.get(arch, _DEFAULT_OLDEST_GLIBC)
        result = []
        for minor in range(int(match["minor"]), oldest[1] - 1, -1):
            level = (int(match["major"]), minor)
            result.append(f"manylinux_{level[0]}_{level[1]}_{arch}")
            if level in _LEGACY_MANYLINUX:
                result.append(f"{_LEGACY_MANYLINUX[level]}_{arch}")
        return [*result, f"linux_{arch}"], arch, "Linux"
    match = _MUSLLINUX.match(platform)
    if match:
        arch = match["arch"]
        levels = [f"musllinux_{match['major']}_{minor}_{arch}" for minor in range(int(match["minor"]), -1, -1)]
        return [*levels, f"linux_{arch}"], arch, "Linux"
    match = _MACOS.match(platform)
    if match:
        arch = match["arch"]
        macos = list(_tags.mac_platforms((int(match["major"]), int(match["minor"])), arch))
        return macos, (arch if arch in ("arm64", "x86_64") else None), "Darwin"
    if platform in _WINDOWS_MACHINES:
        return [platform], _WINDOWS_MACHINES[platform], "Windows"
    return None


def _complete_platform(text: str, path: Path) -> Target:
    """A target from a complete platform file (PEX's format)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"complete platform {path}: cannot read it ({error.strerror or error})") from None
    except ValueError as error:
        raise ConfigError(f"complete platform {path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"complete platform {path}: must be a JSON object with marker_environment and compatible_tags"
        )
    environment = data.get("marker_environment")
    compatible = data.get("compatible_tags")
    if not isinstance(environment, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in environment.items()
    ):
        raise ConfigError(f"complete platform {path}: 'marker_environment' must be an object of strings")
    missing = [key for key in VARIABLES if key not in environment]
    if missing:
        raise ConfigError(f"complete platform {path}: 'marker_environment' lacks {', '.join(missing)}")
    if not isinstance(compatible, list) or not compatible or not all(isinstance(t, str) for t in compatible):
        raise ConfigError(f"complete platform {path}: 'compatible_tags' must be a non-empty list of tags")
    found: list[_tags.Tag] = []
    for tag in compatible:
        try:
            found += _tags.parse_tag(tag)
        except ValueError:
            raise ConfigError(f"complete platform {path}: {tag!r} in 'compatible_tags' is not a wheel tag") from None
    return Target(text, {k: environment[k] for k in VARIABLES}, tuple(_unique(found)))


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def marker_variables(marker: Marker | str) -> set[str]:
    """The variables a marker reads: its words outside quotes, less the operators."""
    return set(_WORD.findall(_QUOTED.sub(" ", str(marker)))) - {"and", "or", "in", "not"}


def evaluate(marker: Marker, target: Target, extra: str = "", context: str = "") -> bool:
    """The marker's outcome on ``target`` with ``extra``; a ConfigError if it reads a variable the target does not say.

    packaging fills the variables it is not given with the build host's: every
    variable the marker reads is checked to be given first, so none is.
    """
    unknown = sorted(marker_variables(marker) - {"extra"} - set(target.environment))
    if unknown:
        raise ConfigError(
            f"{context + ': ' if context else ''}the marker '{marker}' reads {', '.join(unknown)}, which target "
            f"{target.name} does not say; give a complete platform (a JSON file from `exearchive platform` "
            "run on such a machine)"
        )
    return marker.evaluate({**target.environment, "extra": extra})


def _unique(items: Iterable[_T]) -> list[_T]:
    seen: dict[_T, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
