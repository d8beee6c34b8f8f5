"""Command options as ``exearchive.<key>`` config settings.

``exearchive build --python /usr/bin/python3`` means what
``-C exearchive.python=/usr/bin/python3`` means to the backend, so the options
become those config settings and :func:`exearchive.backend._config.load`
checks them: the same keys, types and rules, and the project's
``[tool.exearchive]`` table under them.  Its messages name the config setting;
:meth:`Settings.naming` renames it to the option the user typed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..backend import _config
from ..backend._config import Config
from ..backend._errors import ConfigError
from ._errors import UsageError

SettingValue = str | list[str]


@dataclass(frozen=True)
class Settings:
    """``exearchive.<key>`` config settings made from options, and which option each came from."""

    values: dict[str, SettingValue] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    """key -> the option that set it (``entry-point`` -> ``--entry-point``)."""
    phrases: tuple[tuple[str, str], ...] = ()
    """More (old, new) replacements for messages: advice about the table where a command has none."""

    def with_option(self, key: str, option: str, value: SettingValue | None) -> Settings:
        """These settings plus ``exearchive.<key>`` from ``option``, when it was given."""
        if value is None or value == []:
            return self
        return Settings({**self.values, _config.PREFIX + key: value}, {**self.options, key: option}, self.phrases)

    def load(self, project_dir: Path, others: Mapping[str, Any] | None = None) -> Config:
        """The configuration of the project in ``project_dir``: its table, ``others``, then these options."""
        with self.naming():
            return _config.load(project_dir, {**(others or {}), **self.values})

    def load_without_project(self) -> Config:
        """The configuration from these options alone (``pack`` has no project and no table)."""
        with tempfile.TemporaryDirectory(prefix="exearchive-") as empty:
            return self.load(Path(empty))

    @contextmanager
    def naming(self) -> Iterator[None]:
        """Let a :class:`ConfigError` raised in the block name the options instead of config settings."""
        try:
            yield
        except ConfigError as error:
            raise ConfigError(self.rename(str(error))) from None

    def rename(self, message: str) -> str:
        """``message`` with each ``-C exearchive.<key>`` that an option set renamed to the option."""
        for key, option in self.options.items():
            setting = f"-C {_config.PREFIX}{key}"
            message = message.replace(f"{setting} = ", f"{option} ").replace(setting, option)
        for old, new in self.phrases:
            message = message.replace(old, new)
        return message


def parse_config_settings(pairs: Sequence[str]) -> dict[str, SettingValue]:
    """``-C KEY=VALUE`` options as a config settings dict (a repeated key gives a list, as ``build`` does)."""
    settings: dict[str, SettingValue] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise UsageError(f"-C {pair!r} must be KEY=VALUE")
        previous = settings.get(key)
        if previous is None:
            settings[key] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            settings[key] = [previous, value]
    return settings
