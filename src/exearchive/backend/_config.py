"""The ``[tool.exearchive]`` table and its ``-C exearchive.<key>=...`` overrides.

Every key has one type.  Values from pyproject.toml are TOML values; values
from config settings are strings (a repeated ``-C`` gives a list).  A wrong key
or value is a :class:`ConfigError` naming the key, where it came from, and for
a likely typo the key that was meant.
"""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from . import _deflate
from ._errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

PREFIX = "exearchive."
DEFAULT_PYTHON = "/usr/bin/env python3"


@dataclass(frozen=True)
class Config:
    """The archive step's settings, after defaults and overrides."""

    enabled: bool = True
    """Build the archive at all."""
    enabled_explicitly: bool = False
    """``enabled`` was set by the user (not the default)."""
    entry_point: str | None = None
    """Console script name, ``module:function`` or ``module``; None: the project's only script."""
    outdir: str | None = None
    """Where the archive goes; relative to the wheel directory; None: the wheel directory."""
    python: str = DEFAULT_PYTHON
    """The interpreter in the archive's shebang line."""
    extras: tuple[str, ...] = ()
    """Extras of the project to include."""
    compile: bool = True
    """Ship bytecode for the build interpreter in the payload."""
    compile_tests: bool = False
    """Ship bytecode for the sources in test directories (``tests/``, ``test/``) too."""
    interpreter: bool = False
    """The archive is a Python: it runs no entry point and takes what ``python`` takes."""
    lock: str | None = None
    """A PEP 751 lock file (relative to the project) to take the dependencies from instead of resolving."""
    constraints: tuple[str, ...] = ()
    """pip constraints files (relative to the project) for resolution."""
    requirements: tuple[str, ...] = ()
    """pip requirements files (relative to the project) added to resolution, e.g. pinned with hashes."""
    targets: tuple[str, ...] = ()
    """The targets to build for (``host``, a shorthand, a complete platform file); empty: the build interpreter."""
    check_python: bool = True
    """Run the ``python`` interpreter, when set and on this machine, to check that it can run the archive."""
    compression_level: int = _deflate.LEVEL
    """The deflate level of what the archive step compresses (1-9); other than 6, dependencies are compressed anew."""
    resolver: str = "auto"
    """Who resolves the dependencies: ``pip``, ``uv``, or ``auto`` (uv when the build runs under uv, else pip)."""
    sources: dict[str, str] = field(default_factory=dict)
    """For messages: where each set key came from."""

    def where(self, key: str) -> str:
        """How to name ``key`` in a message: ``[tool.exearchive] key`` or ``-C exearchive.key``."""
        source = self.sources.get(key, "[tool.exearchive]")
        return source if source.startswith("-C") else f"{source} {key}"


_BOOL = "a boolean"
_STR = "a string"
_LIST = "a list of strings"
_LEVEL = "a deflate level, 1 to 9"
# What a boolean config setting (a string on the command line) may say, in any case.
_SETTING_BOOLS = {"true": True, "1": True, "false": False, "0": False}

# key -> (Config attribute, type description)
_KEYS: dict[str, tuple[str, str]] = {
    "enabled": ("enabled", _BOOL),
    "entry-point": ("entry_point", _STR),
    "outdir": ("outdir", _STR),
    "python": ("python", _STR),
    "extras": ("extras", _LIST),
    "compile": ("compile", _BOOL),
    "compile-tests": ("compile_tests", _BOOL),
    "interpreter": ("interpreter", _BOOL),
    "lock": ("lock", _STR),
    "constraints": ("constraints", _LIST),
    "requirements": ("requirements", _LIST),
    "check-python": ("check_python", _BOOL),
    "targets": ("targets", _LIST),
    "resolver": ("resolver", _STR),
    "compression-level": ("compression_level", _LEVEL),
}
_RESOLVERS = ("auto", "pip", "uv")  # the values of resolver


def load(project_dir: Path, settings: Mapping[str, Any] | None) -> Config:
    """Read pyproject.toml's ``[tool.exearchive]`` and apply ``-C exearchive.*`` overrides."""
    table = read_table(project_dir / "pyproject.toml")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, value in table.items():
        attr = _attr(key, f"unknown key {key!r} in [tool.exearchive]", "")
        values[attr] = _convert(key, value, f"[tool.exearchive] {key}")
        sources[key] = "[tool.exearchive]"
    for key, value in ours(settings).items():
        where = f"-C {PREFIX}{key}"
        attr = _attr(key, f"unknown setting {where}", PREFIX)
        values[attr] = _convert(key, value, where)
        sources[key] = where
    if "enabled" in sources:
        values["enabled_explicitly"] = True
    config = Config(**values, sources=sources)
    if config.interpreter and config.entry_point:
        raise ConfigError(
            f"{config.where('interpreter')} and {config.where('entry-point')} cannot be used together: "
            "an interpreter archive runs no entry point (EXEARCHIVE_ENTRY_POINT still picks one at run time)"
        )
    if config.resolver not in _RESOLVERS:
        raise ConfigError(
            f"{config.where('resolver')} = {config.resolver!r} is not a resolver; use one of: {', '.join(_RESOLVERS)}"
        )
    if config.lock and (config.constraints or config.requirements):
        other = "constraints" if config.constraints else "requirements"
        raise ConfigError(
            f"{config.where('lock')} and {config.where(other)} cannot be used together: "
            "a lock file already pins every dependency"
        )
    seen: set[str] = set()
    for value in config.targets:
        if value.strip() in seen:
            raise ConfigError(f"{config.where('targets')} lists {value.strip()!r} twice; list each target once")
        seen.add(value.strip())
    return config


def input_files(config: Config) -> list[tuple[str, str]]:
    """The files the archive step reads from the project: (how to name it, relative path)."""
    files = [(config.where("lock"), config.lock)] if config.lock else []
    files += [(config.where("constraints"), path) for path in config.constraints]
    files += [(config.where("requirements"), path) for path in config.requirements]
    return files


def project_name(project_dir: Path) -> str | None:
    """The canonical ``[project] name`` of the project's pyproject.toml, or None when it has none that reads."""
    try:
        with (project_dir / "pyproject.toml").open("rb") as handle:
            name = tomllib.load(handle).get("project", {}).get("name")
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        return None
    return canonicalize_name(name) if isinstance(name, str) and name else None


def read_table(pyproject: Path) -> dict[str, Any]:
    """The ``[tool.exearchive]`` table of a pyproject.toml (empty if absent)."""
    try:
        with pyproject.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read {pyproject}: {error}") from None
    table = data.get("tool", {}).get("exearchive", {})
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.exearchive] in {pyproject} must be a table, not {type(table).__name__}")
    return table


def ours(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``exearchive.*`` config settings, without the prefix.

    A key whose prefix looks like a misspelt ``exearchive.`` is an error, so
    that a typo does not silently reach setuptools.
    """
    result: dict[str, Any] = {}
    for key, value in (settings or {}).items():
        if key.startswith(PREFIX):
            result[key[len(PREFIX) :]] = value
            continue
        head = key.partition(".")[0].lstrip("-")
        if head != key and difflib.SequenceMatcher(None, head.lower(), PREFIX[:-1]).ratio() >= 0.8:
            meant = f"{PREFIX}{key.partition('.')[2]}"
            raise ConfigError(f"config setting {key!r} is not an exearchive setting; did you mean {meant!r}?")
    return result


def theirs(settings: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The config settings meant for setuptools (everything but ``exearchive.*``)."""
    if settings is None:
        return None
    return {k: v for k, v in settings.items() if not k.startswith(PREFIX)}


def _attr(key: str, problem: str, prefix: str) -> str:
    """The Config attribute for ``key``, or a ConfigError saying ``problem`` and the likely key."""
    if key in _KEYS:
        return _KEYS[key][0]
    hint = ""
    normalized = key.replace("_", "-").lower()
    if normalized in _KEYS:
        hint = f"; did you mean '{prefix}{normalized}'?"
    else:
        close = difflib.get_close_matches(normalized, list(_KEYS), n=1, cutoff=0.6)
        if close:
            hint = f"; did you mean '{prefix}{close[0]}'?"
    known = ", ".join(sorted(_KEYS))
    raise ConfigError(f"{problem}{hint or f' (known keys: {known})'}")


def _convert(key: str, value: Any, where: str) -> Any:
    """``value`` of ``key`` as its type; from config settings (``-C``), strings stand for booleans and lists."""
    kind = _KEYS[key][1]
    from_settings = where.startswith("-C")
    if kind == _BOOL:
        if isinstance(value, bool):
            return value
        if from_settings and isinstance(value, str) and value.strip().lower() in _SETTING_BOOLS:
            return _SETTING_BOOLS[value.strip().lower()]
        accepted = "true, false, 1 or 0" if from_settings else "true or false, without quotes"
        raise ConfigError(f"{where} must be a boolean ({accepted}), not {value!r}")
    if kind == _LEVEL:
        text = value.strip() if from_settings and isinstance(value, str) else None
        level = int(text) if text is not None and text.isdigit() else value
        if isinstance(level, int) and not isinstance(level, bool) and 1 <= level <= 9:
            return level
        raise ConfigError(f"{where} must be {kind} (6, the default, is zlib's; 9 is the smallest), not {value!r}")
    if kind == _STR:
        if isinstance(value, str) and value.strip():
            return value.strip()
    elif kind == _LIST:
        if from_settings and isinstance(value, str):
            value = [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            items = [part.strip() for v in value for part in (v.split(",") if from_settings else [v])]
            return tuple(item for item in items if item)
        if isinstance(value, str):
            raise ConfigError(f"{where} must be {kind} ({key} = {json.dumps([value])}), not the string {value!r}")
    raise ConfigError(f"{where} must be {kind}, not {value!r}")
