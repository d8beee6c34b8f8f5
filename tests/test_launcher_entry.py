"""What the launcher runs: entry points, busybox names, interpreter mode, exit codes, signals, tracing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import Build, run_archive
from launcher_support import entries, launcher_env, on_a_terminal, one_line_error

# --------------------------------------------------------------------------
# 8. entry points


@pytest.mark.parametrize(
    ("override", "args", "stdout", "code"),
    [
        (None, ["Hello", "World"], "HELLO WORLD\n", 0),
        ("mt-lower", ["Hello", "World"], "hello world\n", 0),
        ("multitool.tools:count", ["a", "b", "--exit-with-count"], "2\n", 2),
        ("mt-count", [], "0\n", 0),
        (None, [], "", 2),
    ],
    ids=["default", "script-name", "module-function", "other-script", "exit-code"],
)
def test_entry_point_and_override(
    override: str | None,
    args: list[str],
    stdout: str,
    code: int,
    build_sample: Callable[[str], Build],
    tmp_path: Path,
) -> None:
    archive = build_sample("multitool").archive()
    env = {"EXEARCHIVE_ENTRY_POINT": override} if override else {}
    result = run_archive(archive, *args, root=tmp_path / "cache", env=env)
    assert (result.stdout, result.returncode) == (stdout, code), result.stderr


def test_module_entry_point_runs_as_main_with_argv0_the_archive(
    build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    archive = build_sample("hello").archive()
    result = run_archive(
        archive, "a", "--exit", "4", root=tmp_path / "cache", env={"EXEARCHIVE_ENTRY_POINT": "hello.cli"}
    )
    assert result.stdout == "Hello from hello 1.0!\nargv: a --exit 4\nargv0-is-archive: yes\n", result.stderr
    assert result.returncode == 4


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "no-such-script",
            "EXEARCHIVE_ENTRY_POINT='no-such-script' is neither a console script or script of this archive (hello)",
        ),
        ("nosuch.module:main", "cannot load the entry point nosuch.module:main: there is no module nosuch in this"),
        ("hello.cli:nomain", "cannot load the entry point hello.cli:nomain: hello.cli has no attribute 'nomain'"),
        ("hello.nosuch", "cannot load the entry point hello.nosuch: there is no module hello.nosuch in this"),
    ],
)
def test_bad_entry_point_override_is_one_line(
    override: str, message: str, build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    archive = build_sample("hello").archive()
    result = run_archive(archive, root=tmp_path / "cache", env={"EXEARCHIVE_ENTRY_POINT": override})
    line = one_line_error(result)
    assert line.startswith("hello-1.0.pyz: error: ")
    assert message in line
    assert result.stdout == ""


def test_busybox_dispatch_on_the_name_of_a_symlink(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("multitool").archive()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("mt-lower", "mt-count", "multitool"):
        (bin_dir / name).symlink_to(archive)
    root = tmp_path / "cache"
    lower = run_archive(bin_dir / "mt-lower", "MiXeD", root=root, python=None, cwd=bin_dir)
    assert (lower.stdout, lower.returncode) == ("mixed\n", 0), lower.stderr
    count = run_archive(bin_dir / "mt-count", "--exit-with-count", "a", "b", "c", root=root, python=None, cwd=bin_dir)
    assert (count.stdout, count.returncode) == ("3\n", 3), count.stderr
    # through an interpreter, by a relative name
    lower = run_archive(Path("./mt-lower"), "ABC", root=root, cwd=bin_dir)
    assert (lower.stdout, lower.returncode) == ("abc\n", 0), lower.stderr
    # a name that is no script runs the default entry point
    default = run_archive(bin_dir / "multitool", "abc", root=root, python=None, cwd=bin_dir)
    assert (default.stdout, default.returncode) == ("ABC\n", 0), default.stderr
    # the override beats the name
    override = run_archive(
        bin_dir / "mt-lower", "abc", root=root, python=None, env={"EXEARCHIVE_ENTRY_POINT": "mt-upper"}
    )
    assert override.stdout == "ABC\n"


def test_busybox_dispatch_only_on_the_exact_invoked_name_and_the_trace_says_which_rule(
    build_sample: Callable[[str], Build], tmp_path: Path
) -> None:
    archive = build_sample("multitool").archive()
    root = tmp_path / "cache"
    verbose = {"EXEARCHIVE_VERBOSE": "1"}

    def rule(result: subprocess.CompletedProcess[str]) -> str:
        [line] = [line for line in result.stderr.splitlines() if "] running " in line]
        return line.split("] running ", 1)[1]

    # an archive named after another of its console scripts runs its default, by either way of starting it
    named = tmp_path / "mt-lower.pyz"
    named.write_bytes(archive.read_bytes())
    named.chmod(0o755)
    for python in (sys.executable, None):
        result = run_archive(named, "MiXeD", root=root, python=python, env=verbose)
        assert (result.stdout, result.returncode) == ("MIXED\n", 0), result.stderr
        assert rule(result) == "multitool.tools:upper (default entry point)"
    # a symbolic link and a hard link named exactly like a console script run that script
    links = tmp_path / "links"
    links.mkdir()
    (links / "mt-lower").symlink_to(named)
    os.link(named, links / "mt-count")
    lower = run_archive(links / "mt-lower", "MiXeD", root=root, python=None, env=verbose)
    assert (lower.stdout, lower.returncode) == ("mixed\n", 0), lower.stderr
    assert rule(lower) == "multitool.tools:lower (invoked as mt-lower)"
    count = run_archive(links / "mt-count", "--exit-with-count", "a", root=root, python=None, env=verbose)
    assert (count.stdout, count.returncode) == ("1\n", 1), count.stderr
    assert rule(count) == "multitool.tools:count (invoked as mt-count)"
    # a link named like a script plus .pyz is not that script
    (links / "mt-count.pyz").symlink_to(named)
    other = run_archive(links / "mt-count.pyz", "abc", root=root, python=None, env=verbose)
    assert (other.stdout, rule(other)) == ("ABC\n", "multitool.tools:upper (default entry point)")
    override = run_archive(
        links / "mt-lower", "abc", root=root, python=None, env={**verbose, "EXEARCHIVE_ENTRY_POINT": "mt-count"}
    )
    assert (override.stdout, rule(override)) == ("1\n", "multitool.tools:count (EXEARCHIVE_ENTRY_POINT)")


def test_argv0_stays_the_path_the_archive_was_started_by(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("hello").archive()
    link = tmp_path / "elsewhere" / "linked.pyz"
    link.parent.mkdir()
    link.symlink_to(archive)
    root = tmp_path / "cache"
    for path, python in ((archive, sys.executable), (archive, None), (link, None), (Path(link.name), sys.executable)):
        result = run_archive(path, "a", root=root, python=python, cwd=link.parent)
        assert result.stdout == "Hello from hello 1.0!\nargv: a\nargv0-is-archive: yes\n", result.stderr
    # the same for a module entry point (python -m would put the module's path there)
    result = run_archive(link, "b", root=root, env={"EXEARCHIVE_ENTRY_POINT": "hello.cli"})
    assert result.stdout == "Hello from hello 1.0!\nargv: b\nargv0-is-archive: yes\n", result.stderr


# --------------------------------------------------------------------------
# 8. interpreter mode


def _interpreter(archive: Path, *args: str, root: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = launcher_env(root, {"EXEARCHIVE_INTERPRETER": "1"})
    return subprocess.run(
        [sys.executable, str(archive), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=str(kwargs.pop("cwd", archive.parent)),
        **kwargs,  # type: ignore[call-overload]
    )


PROBE = (
    "import sys, hello.cli as m; "
    "print(__name__, sys.argv, repr(sys.path[0]), m.__file__.split('/')[-3]); "
    "import importlib.util as u; print(u.find_spec('exearchive') is None)"
)


def test_interpreter_c(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("hello").archive()
    result = _interpreter(archive, "-c", PROBE, "a", "b", root=tmp_path / "cache")
    assert result.stdout == "__main__ ['-c', 'a', 'b'] '' site-packages\nTrue\n", result.stderr
    names = _interpreter(
        archive, "-c", "print(sorted(k for k in globals() if not k.startswith('__')))", root=tmp_path / "cache"
    )
    assert names.stdout == "[]\n", names.stderr
    exits = _interpreter(archive, "-c", "import sys; sys.exit(7)", root=tmp_path / "cache")
    assert exits.returncode == 7


def test_interpreter_m(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("hello").archive()
    result = _interpreter(archive, "-m", "hello.cli", "a", "--exit", "5", root=tmp_path / "cache")
    # as with python -m, argv[0] is the module's file
    assert result.stdout == "Hello from hello 1.0!\nargv: a --exit 5\nargv0-is-archive: no\n", result.stderr
    assert result.returncode == 5
    # like python -m: the module from the current directory, in a fresh __main__ namespace
    (tmp_path / "probe_mod.py").write_text(
        "import sys\nprint(sorted(k for k in globals() if not k.startswith('__')))\n"
    )
    probe = _interpreter(archive, "-m", "probe_mod", root=tmp_path / "cache", cwd=tmp_path)
    assert probe.stdout == "['sys']\n", probe.stderr
    missing = _interpreter(archive, "-m", "nosuchmodule", root=tmp_path / "cache")
    assert missing.returncode == 1
    assert "No module named nosuchmodule" in missing.stderr and "Traceback" not in missing.stderr


def test_interpreter_script(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("hello").archive()
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "helper_mod.py").write_text("VALUE = 'beside the script'\n")
    script = scripts / "job.py"
    script.write_text(
        "import sys, hello, helper_mod\n"
        "print(__name__, sys.argv[1:], helper_mod.VALUE, sys.argv[0].endswith('job.py'))\n"
        "sys.exit(3)\n"
    )
    result = _interpreter(archive, str(script), "x", root=tmp_path / "cache", cwd=tmp_path)
    assert (result.stdout, result.returncode) == ("__main__ ['x'] beside the script True\n", 3), result.stderr
    missing = _interpreter(archive, str(tmp_path / "nope.py"), root=tmp_path / "cache")
    assert missing.returncode == 2
    assert "can't open file" in one_line_error(missing)


def test_interpreter_stdin(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("hello").archive()
    code = "import sys, hello\nfor i in range(2):\n\n    print(i, sys.argv)\n"
    result = _interpreter(archive, root=tmp_path / "cache", input=code)
    assert result.stdout == "0 ['']\n1 ['']\n", result.stderr
    dash = _interpreter(archive, "-", "q", root=tmp_path / "cache", input=code)
    assert dash.stdout == "0 ['-', 'q']\n1 ['-', 'q']\n", dash.stderr


def test_interpreter_repl_on_a_terminal(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    pytest.importorskip("pty")
    archive = build_sample("hello").archive()
    env = launcher_env(tmp_path / "cache", {"EXEARCHIVE_INTERPRETER": "1", "TERM": "dumb"})
    typed = b"import hello.cli\nprint(6 * 7, hello.cli.__name__)\nraise SystemExit(9)\n"
    text, returncode = on_a_terminal([sys.executable, str(archive)], env, typed)
    assert "exearchive interpreter" in text and ">>> " in text
    assert "42 hello.cli" in text
    assert returncode == 9


def test_interpreter_errors(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("hello").archive()
    root = tmp_path / "cache"
    crash = _interpreter(archive, "-c", "def f():\n    1 / 0\nf()", root=root)
    assert crash.returncode == 1
    # as python prints it: the user's frames only
    assert crash.stderr == (
        "Traceback (most recent call last):\n"
        '  File "<string>", line 3, in <module>\n'
        '  File "<string>", line 2, in f\n'
        "ZeroDivisionError: division by zero\n"
    )
    syntax = _interpreter(archive, "-c", "1 +", root=root)
    assert syntax.returncode == 1 and "SyntaxError" in syntax.stderr and "Traceback" not in syntax.stderr
    # options and their errors: test_launcher_interpreter_options.py


def test_app_traceback_shows_the_app_not_the_launcher(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("spawner").archive()
    for env in ({}, {"EXEARCHIVE_ENTRY_POINT": "spawner.cli"}):
        result = run_archive(archive, "--crash", root=tmp_path / "cache", env=env)
        assert result.returncode == 1
        lines = result.stderr.splitlines()
        assert lines[0] == "Traceback (most recent call last):", result.stderr
        assert lines[1].startswith('  File "') and 'spawner/cli.py", line ' in lines[1], result.stderr
        assert 'spawner/cli.py", line 20, in main' in result.stderr
        assert 'spawner/cli.py", line 14, in _crash' in result.stderr
        assert lines[-1] == "RuntimeError: crashed on purpose"
        assert "_exearchive_runtime" not in result.stderr and "runpy" not in result.stderr


# --------------------------------------------------------------------------
# 8. signals: as for a console script


def _start_waiting(archive: Path, root: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, str(archive), "--wait"],
        env=launcher_env(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "waiting\n"
    return process


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGINT, -signal.SIGINT), (signal.SIGTERM, -signal.SIGTERM)])
def test_signal_to_the_app(sent: int, code: int, build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("spawner").archive()
    process = _start_waiting(archive, tmp_path / "cache")
    process.send_signal(sent)
    _, stderr = process.communicate(timeout=30)
    # python exits through the signal (SIGINT: after a KeyboardInterrupt traceback), as a console script does
    assert process.returncode == code, stderr
    if sent == signal.SIGINT:
        assert stderr.rstrip().endswith("KeyboardInterrupt")
        assert "spawner/cli.py" in stderr


# --------------------------------------------------------------------------
# 10. tracing

TRACE = re.compile(r"^exearchive: \[ *\d+\.\d\d ms\] (.*)$")


def test_verbose_traces_each_step_with_timings(build_sample: Callable[[str], Build], tmp_path: Path) -> None:
    archive = build_sample("hello").archive()
    root = tmp_path / "cache"
    cold = run_archive(archive, "x", root=root, env={"EXEARCHIVE_VERBOSE": "1"})
    warm = run_archive(archive, "x", root=root, env={"EXEARCHIVE_VERBOSE": "1"})
    for result in (cold, warm):
        assert result.returncode == 0
        assert all(TRACE.match(line) for line in result.stderr.splitlines()), result.stderr
    steps = [TRACE.match(line).group(1) for line in cold.stderr.splitlines()]  # type: ignore[union-attr]
    entry = str(entries(root)[0])
    assert steps[0] == f"cold: {entry} (root missing)"
    expected = [
        "compatibility check passed",
        "lock taken",
        "extracted 12 files, content id checked",
        f"published {entry}",
        "sys.path ready",
        "running hello.cli:main (default entry point)",
    ]
    assert [s for s in steps if not s.startswith(("removed leftover", "synced "))][1:] == expected
    steps = [TRACE.match(line).group(1) for line in warm.stderr.splitlines()]  # type: ignore[union-attr]
    assert steps == [f"warm: {entry}", "sys.path ready", "running hello.cli:main (default entry point)"]
    quiet = run_archive(archive, "x", root=root)
    assert quiet.stderr == ""
