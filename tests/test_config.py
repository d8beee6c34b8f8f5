"""Unit tests: [tool.exearchive] and -C exearchive.<key> overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from exearchive.backend._config import Config, load, ours, theirs
from exearchive.backend._errors import ConfigError


def _project(tmp_path: Path, table: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "x"\nversion = "1"\n\n[tool.exearchive]\n{table}\n')
    return tmp_path


def test_defaults_without_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    config = load(tmp_path, None)
    assert config == Config()
    assert config.enabled and config.python == "/usr/bin/env python3" and config.compile


def test_table_values_are_read(tmp_path: Path) -> None:
    config = load(_project(tmp_path, 'entry-point = "app:main"\nextras = ["fast", "ui"]\nenabled = false'), None)
    assert (config.entry_point, config.extras, config.enabled) == ("app:main", ("fast", "ui"), False)
    assert config.enabled_explicitly
    assert config.where("entry-point") == "[tool.exearchive] entry-point"


def test_config_settings_override_the_table(tmp_path: Path) -> None:
    project = _project(tmp_path, 'entry-point = "app:main"')
    settings = {"exearchive.entry-point": "other", "exearchive.enabled": "False", "exearchive.extras": "a,b"}
    config = load(project, settings)
    assert (config.entry_point, config.enabled, config.extras) == ("other", False, ("a", "b"))
    assert config.where("entry-point") == "-C exearchive.entry-point"


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("TRUE", True), (" 1 ", True), ("False", False), ("0", False)]
)
def test_boolean_settings_take_true_false_1_0_in_any_case(tmp_path: Path, text: str, value: bool) -> None:
    config = load(_project(tmp_path, ""), {"exearchive.compile": text, "exearchive.enabled": text})
    assert (config.compile, config.enabled) == (value, value)


def test_a_comma_list_only_from_config_settings(tmp_path: Path) -> None:
    assert load(_project(tmp_path, 'extras = ["a,b"]'), None).extras == ("a,b",)
    assert load(_project(tmp_path, ""), {"exearchive.extras": "a, b"}).extras == ("a", "b")


def test_repeated_setting_gives_a_list(tmp_path: Path) -> None:
    config = load(_project(tmp_path, ""), {"exearchive.extras": ["a", "b,c"]})
    assert config.extras == ("a", "b", "c")


@pytest.mark.parametrize(
    ("table", "settings", "message"),
    [
        ('entry_point = "x"', None, "unknown key 'entry_point' in [tool.exearchive]; did you mean 'entry-point'?"),
        ('entrypoint = "x"', None, "did you mean 'entry-point'?"),
        (
            'colour = "x"',
            None,
            "unknown key 'colour' in [tool.exearchive] (known keys: check-python, compile, compile-tests, compression-",
        ),
        ("enabled = 3", None, "[tool.exearchive] enabled must be a boolean (true or false, without quotes), not 3"),
        (
            'enabled = "no"',
            None,
            "[tool.exearchive] enabled must be a boolean (true or false, without quotes), not 'no'",
        ),
        ('compile = "false"', None, "[tool.exearchive] compile must be a boolean (true or false, without quotes)"),
        ('extras = "fast"', None, '[tool.exearchive] extras must be a list of strings (extras = ["fast"])'),
        ("extras = [1]", None, "[tool.exearchive] extras must be a list of strings"),
        ('python = ""', None, "[tool.exearchive] python must be a string, not ''"),
        ("", {"exearchive.enabeld": "1"}, "unknown setting -C exearchive.enabeld; did you mean 'exearchive.enabled'?"),
        (
            "",
            {"exearchive.enabled": "maybe"},
            "-C exearchive.enabled must be a boolean (true, false, 1 or 0), not 'maybe'",
        ),
        ("", {"exearchive.compile": "no"}, "-C exearchive.compile must be a boolean (true, false, 1 or 0), not 'no'"),
        ("", {"exearchive.enabled": "on"}, "-C exearchive.enabled must be a boolean (true, false, 1 or 0), not 'on'"),
        ("", {"exearchve.enabled": "1"}, "did you mean 'exearchive.enabled'?"),
        ("compression-level = 10", None, "[tool.exearchive] compression-level must be a deflate level, 1 to 9"),
        ('compression-level = "9"', None, "compression-level must be a deflate level, 1 to 9 (6, the default, is"),
        ("compression-level = true", None, "[tool.exearchive] compression-level must be a deflate level, 1 to 9"),
        ("", {"exearchive.compression-level": "0"}, "-C exearchive.compression-level must be a deflate level"),
        ("", {"exearchive.compression-level": "best"}, "not 'best'"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, table: str, settings: dict[str, str] | None, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(_project(tmp_path, table), settings)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unreadable_pyproject_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.exearchive\n")
    with pytest.raises(ConfigError, match=r"cannot read .*pyproject\.toml"):
        load(tmp_path, None)


def test_settings_are_split_between_exearchive_and_setuptools() -> None:
    settings = {"exearchive.enabled": "1", "--build-option": ["--plat-name", "x"]}
    assert ours(settings) == {"enabled": "1"}
    assert theirs(settings) == {"--build-option": ["--plat-name", "x"]}
    assert theirs(None) is None


def test_compression_level_from_the_table_and_the_settings(tmp_path: Path) -> None:
    assert load(_project(tmp_path, ""), None).compression_level == 6
    assert load(_project(tmp_path, "compression-level = 9"), None).compression_level == 9
    overridden = load(_project(tmp_path, "compression-level = 9"), {"exearchive.compression-level": " 1"})
    assert overridden.compression_level == 1
