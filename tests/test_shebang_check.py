"""Unit tests: the interpreter of the archive's #! line, when it is on this machine, must be able to run it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from exearchive.backend import _shebang
from exearchive.backend._errors import ConfigError
from launcher_support import python_or_skip

_NATIVE_311 = {"native": [{"dist": "cext-demo 1.0", "tags": ["cp311-cp311-manylinux_2_17_x86_64"]}]}
_WHERE = "[tool.exearchive] python"


def test_another_python_cannot_run_native_code_for_this_one() -> None:
    python312 = python_or_skip("3.12")
    with pytest.raises(ConfigError) as caught:
        _shebang.check(python312, _WHERE, _NATIVE_311, "cext_demo-1.0.pyz")
    message = str(caught.value)
    assert message.startswith(
        f"[tool.exearchive] python = {python312!r} cannot run the archive: this archive holds native code built "
        "for cp311-cp311-manylinux_2_17_x86_64 (cext-demo 1.0) but this interpreter is CPython 3.12.1 at "
    ), message
    assert message.endswith(
        "; choose an interpreter that fits, or set the key check-python to false to build it anyway"
    ), message
    assert "\n" not in message


def test_requires_python_is_checked_on_that_interpreter() -> None:
    python38 = python_or_skip("3.8")
    needs = {"requires_python": [{"spec": ">=3.10", "by": "quotecli 1.0"}]}
    found = _shebang.problem(f"/usr/bin/env -S {python38}", needs, "quotecli-1.0.pyz")
    assert found is not None and found.startswith("this archive needs Python >=3.10 (requires-python of quotecli 1.0)")


def test_a_python_that_fits_or_is_not_here_says_nothing(tmp_path: Path) -> None:
    assert _shebang.problem(sys.executable, _NATIVE_311, "a.pyz") is None
    assert _shebang.problem(str(tmp_path / "python3.99"), _NATIVE_311, "a.pyz") is None
    assert _shebang.problem("/usr/bin/env python3.99-nowhere", _NATIVE_311, "a.pyz") is None


def test_a_python_too_old_for_the_launcher() -> None:
    python27 = "/root/.pyenv/versions/2.7.18/bin/python"
    if not Path(python27).exists():
        pytest.skip("no Python 2.7 on this machine")
    assert _shebang.problem(python27, {}, "a.pyz") == (
        f"{python27} is Python 2.7, but the archive's launcher needs Python 3.8 or later"
    )
