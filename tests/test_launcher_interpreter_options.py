"""Interpreter mode takes CPython's command line: options with the same effect as on ``python``.

Each case runs the same probe twice, ``python OPTIONS -c PROBE`` and ``python
ARCHIVE OPTIONS -c PROBE`` (interpreter mode), and compares what the probe
sees: ``sys.flags``, warnings options, ``-X`` options, stream buffering,
``sys.argv``.  Unknown options and missing arguments get CPython's own error
text and exit code.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import Build
from launcher_support import launcher_env, on_a_terminal, python_or_skip

PROBE = (
    "import sys, warnings\n"
    "print(tuple(sys.flags), sys.warnoptions, sorted(sys._xoptions.items()))\n"
    "print(sys.stdout.write_through, sys.stdout.line_buffering, sys.argv, __name__)\n"
    "print([str(f[0]) + ':' + str(f[2].__name__) for f in warnings.filters[:3]])\n"
)

# (options before -c, how the archive is given them when it differs)
CASES = [
    (["-u"], None),
    (["-B"], None),
    (["-E"], None),
    (["-s"], None),
    (["-S"], None),
    (["-I"], None),
    (["-O"], None),
    (["-OO"], None),
    (["-q"], None),
    (["-bb"], None),
    (["-W", "ignore"], None),
    (["-Werror::DeprecationWarning"], None),
    (["-X", "utf8"], None),
    (["-Xdev"], None),
    (["-u", "-W", "ignore", "-X", "utf8", "-B"], ["-uBWignore", "-Xutf8"]),
]


def _archive_run(
    python: str, archive: Path, args: list[str], root: Path, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, str(archive), *args],
        env=launcher_env(root, {"EXEARCHIVE_INTERPRETER": "1"}),
        capture_output=True,
        text=True,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )


def _plain_run(python: str, args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, *args],
        env=launcher_env(None),
        capture_output=True,
        text=True,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )


@pytest.mark.parametrize(("options", "spelled"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_options_have_the_effect_they_have_on_python(
    options: list[str], spelled: list[str] | None, build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    archive = build_sample("hello").archive()
    expected = _plain_run(sys.executable, [*options, "-c", PROBE, "a", "b"])
    assert expected.returncode == 0, expected.stderr
    got = _archive_run(sys.executable, archive, [*(spelled or options), "-c", PROBE, "a", "b"], tmp_path / "cache")
    assert (got.stdout, got.returncode) == (expected.stdout, 0), got.stderr
    # and the archive's packages are importable under them
    imported = _archive_run(sys.executable, archive, [*options, "-c", "import hello.cli"], tmp_path / "cache")
    assert imported.returncode == 0, imported.stderr


def test_glued_command_and_the_other_forms_take_options(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("hello").archive()
    root = tmp_path / "cache"
    show = "import sys, hello; print(sys.stdout.write_through, sys.argv)"
    glued = _archive_run(sys.executable, archive, ["-uc", show, "x"], root)
    assert glued.stdout == "True ['-c', 'x']\n", glued.stderr
    joined = _archive_run(sys.executable, archive, ["-Bc" + show, "y"], root)
    assert joined.stdout == "False ['-c', 'y']\n", joined.stderr
    module = _archive_run(sys.executable, archive, ["-u", "-m", "hello.cli", "z"], root)
    assert module.stdout.startswith("Hello from hello 1.0!\nargv: z\n"), module.stderr
    script = tmp_path / "job.py"
    script.write_text(show + "\n")
    by_path = _archive_run(sys.executable, archive, ["-u", str(script), "w"], root)
    assert by_path.stdout == f"True [{str(script)!r}, 'w']\n", by_path.stderr
    dashes = _archive_run(sys.executable, archive, ["-u", "--", str(script)], root)
    assert dashes.stdout == f"True [{str(script)!r}]\n", dashes.stderr
    stdin = _archive_run(sys.executable, archive, ["-u", "-", "v"], root, input=show + "\n")
    assert stdin.stdout == "True ['-', 'v']\n", stdin.stderr
    exits = _archive_run(sys.executable, archive, ["-u", "-c", "raise SystemExit(6)"], root)
    assert exits.returncode == 6


@pytest.mark.parametrize("bad", [["-Z"], ["-c"], ["-m"], ["-u", "-W"], ["--no-such-option"]])
def test_bad_options_get_cpythons_own_error(
    bad: list[str], build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    archive = build_sample("hello").archive()
    expected = _plain_run(sys.executable, bad)
    got = _archive_run(sys.executable, archive, bad, tmp_path / "cache")
    assert expected.returncode == 2
    assert (got.stderr, got.returncode) == (expected.stderr, 2)
    assert not (tmp_path / "cache").exists()  # nothing was extracted for a start that cannot run


def test_version_and_help_are_the_interpreters(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("hello").archive()
    for option in ("-V", "--version", "-h"):
        expected = _plain_run(sys.executable, [option])
        got = _archive_run(sys.executable, archive, [option], tmp_path / "cache")
        assert (got.stdout, got.returncode) == (expected.stdout, expected.returncode)


def test_quiet_console_has_no_banner(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    pytest.importorskip("pty")
    archive = build_sample("hello").archive()
    env = launcher_env(tmp_path / "cache", {"EXEARCHIVE_INTERPRETER": "1", "TERM": "dumb"})
    text, returncode = on_a_terminal([sys.executable, str(archive), "-q"], env, b"print(6 * 7)\nraise SystemExit(4)\n")
    assert "42" in text and ">>> " in text
    assert "exearchive interpreter" not in text and "Python " not in text
    assert returncode == 4


@pytest.mark.parametrize("name", ["3.8", "3.12", "pypy3"])
def test_options_on_other_interpreters(name: str, build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    python = python_or_skip(name)
    archive = build_sample("hello").archive()
    options = ["-u", "-W", "ignore", "-B"]
    expected = _plain_run(python, [*options, "-c", PROBE])
    got = _archive_run(python, archive, [*options, "-c", PROBE], tmp_path / "cache")
    assert (got.stdout, got.returncode) == (expected.stdout, 0), got.stderr
