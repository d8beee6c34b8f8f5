"""The ``exearchive`` command as a whole: complete help, usage errors, the console script."""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_support import ERROR, one_line_error
from exearchive import __version__
from exearchive._cli._main import _parser
from exearchive.cli import main
from helpers import clean_env, run


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(_parser()))


def test_every_command_is_there() -> None:
    assert set(COMMANDS) == {
        (),
        ("build",),
        ("pack",),
        ("inspect",),
        ("cache",),
        ("cache", "list"),
        ("cache", "prune"),
        ("cache", "clear"),
        ("platform",),
    }


@pytest.mark.parametrize("path", list(COMMANDS), ids=[" ".join(p) or "exearchive" for p in COMMANDS])
def test_help_is_complete(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*path, "--help"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith(f"usage: exearchive{''.join(' ' + p for p in path)} ")
    assert "\nexamples:\n" in out
    assert f"  exearchive {' '.join(path)}".rstrip() in out.split("\nexamples:\n")[1]
    for action in COMMANDS[path]._actions:
        assert action.help, f"{action.option_strings or action.dest} has no help"
        if isinstance(action, argparse._SubParsersAction):
            for name in action.choices:
                assert f"\n    {name} " in out, name
        for option in action.option_strings:
            assert option in out, option
        if not action.option_strings and action.metavar:
            assert str(action.metavar) in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"exearchive {__version__}\n"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "no command given; the commands are: build, pack, inspect, cache, platform (see: exearchive --help)"),
        (["bulid"], "argument COMMAND: invalid choice: 'bulid'"),
        (["build", "--no-such-option"], "unrecognized arguments: --no-such-option (see: exearchive build --help)"),
        (["pack", "x", "--lokc"], "unrecognized arguments: --lokc (see: exearchive pack --help)"),
        (["cache", "clear", "--days", "3"], "unrecognized arguments: --days 3 (see: exearchive cache clear --help)"),
        (["inspect", "a.pyz", "b.pyz"], "unrecognized arguments: b.pyz (see: exearchive inspect --help)"),
        (["build", "-q", "-v"], "argument -v/--verbose: not allowed with argument -q/--quiet"),
        (["build", "-C", "novalue", "/nonexistent"], "the project directory '/nonexistent' does not exist"),
        (["inspect"], "the following arguments are required: ARCHIVE"),
    ],
)
def test_usage_errors_are_one_line(argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(argv)
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(ERROR), err
    assert err[len(ERROR) :].startswith(expected), err
    assert status == (1 if "does not exist" in expected else 2)


def test_a_bad_config_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    assert main(["build", "-C", "novalue", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"{ERROR}-C 'novalue' must be KEY=VALUE\n"
    assert main(["build", "-C", "exearchive.compile=maybe", str(tmp_path)]) == 1
    assert (
        capsys.readouterr().err
        == f"{ERROR}-C exearchive.compile must be a boolean (true, false, 1 or 0), not 'maybe'\n"
    )
    assert main(["build", "-C", "exearchiv.python=/usr/bin/python3", str(tmp_path)]) == 1
    assert "did you mean 'exearchive.python'?" in capsys.readouterr().err


def test_the_console_script() -> None:
    script = shutil.which("exearchive", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the console script is not installed here (pip install -e .)")
    result = run([script, "--version"], env=clean_env())
    assert result.stdout == f"exearchive {__version__}\n"
    message = one_line_error(run([script, "inspect", "/nonexistent.pyz"], env=clean_env()))
    assert message == "'/nonexistent.pyz' does not exist"
