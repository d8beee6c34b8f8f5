"""Unit tests: the entry point and the extras are checked against what the project declares."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from exearchive.backend import _entry, _extras
from exearchive.backend._errors import ConfigError
from exearchive.backend._stage import SITE
from exearchive.backend._staged import Staged

_WHERE = "[tool.exearchive] entry-point"


def _staged(tmp_path: Path, files: dict[str, str]) -> Staged:
    for name, text in files.items():
        path = tmp_path / SITE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return Staged(tmp_path, [])


def _problem(staged: Staged, spec: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _entry.choose(staged, "quotecli", spec, _WHERE)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_module_with_main_but_no_main_block_suggests_module_function(tmp_path: Path) -> None:
    staged = _staged(tmp_path, {"quotecli/__init__.py": "", "quotecli/cli.py": "import sys\n\ndef main():\n    pass\n"})
    assert _problem(staged, "quotecli.cli") == (
        "[tool.exearchive] entry-point = 'quotecli.cli': module 'quotecli.cli' has no "
        "'if __name__ == \"__main__\"' block, so running it does nothing; did you mean 'quotecli.cli:main'?"
    )


def test_a_package_without_main_module_suggests_its_main(tmp_path: Path) -> None:
    staged = _staged(
        tmp_path, {"quotecli/__init__.py": "from .cli import main\n", "quotecli/cli.py": "def main(): pass\n"}
    )
    assert _problem(staged, "quotecli").endswith(
        "package 'quotecli' has no __main__.py, so it cannot be run as a module; did you mean 'quotecli:main'?"
    )


@pytest.mark.parametrize(
    "source",
    [
        "def main():\n    pass\n\nif __name__ == '__main__':\n    main()\n",
        "def main(): pass\nif '__main__' == __name__:\n    main()\n",
        "print('runs at import')\n",  # no main to suggest: a script module is fine
    ],
)
def test_a_runnable_module_is_accepted(tmp_path: Path, source: str) -> None:
    staged = _staged(tmp_path, {"quotecli/__init__.py": "", "quotecli/cli.py": source})
    assert _entry.choose(staged, "quotecli", "quotecli.cli", _WHERE).spec == "quotecli.cli"


def test_a_misspelt_function_gets_the_likely_name(tmp_path: Path) -> None:
    source = "import os\n\ndef helper():\n    mains = 1\n\ndef main():\n    pass\n"
    staged = _staged(tmp_path, {"pkg/__init__.py": "", "pkg/cli.py": source})
    assert _problem(staged, "pkg.cli:mian") == (
        "[tool.exearchive] entry-point = 'pkg.cli:mian': module 'pkg.cli' defines no 'mian' at top level; "
        "did you mean 'main'?"
    )
    # nothing close: no guess
    assert _problem(staged, "pkg.cli:zzz").endswith("module 'pkg.cli' defines no 'zzz' at top level")


def _wheel(tmp_path: Path, extras: list[str]) -> Path:
    wheel = tmp_path / "quotecli-1.0-py3-none-any.whl"
    metadata = "Metadata-Version: 2.1\nName: quotecli\nVersion: 1.0\n" + "".join(
        f"Provides-Extra: {extra}\n" for extra in extras
    )
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("quotecli-1.0.dist-info/METADATA", metadata)
    return wheel


def test_an_undeclared_extra_names_the_declared_ones_and_the_likely_one(tmp_path: Path) -> None:
    declared = _extras.declared_in_wheel(_wheel(tmp_path, ["fetch", "yaml"]))
    assert declared == ["fetch", "yaml"]
    with pytest.raises(ConfigError) as caught:
        _extras.check(["fecth"], declared, "quotecli", "[tool.exearchive] extras")
    assert str(caught.value) == (
        "[tool.exearchive] extras: quotecli has no extra 'fecth' (its extras: fetch, yaml); did you mean 'fetch'?"
    )
    with pytest.raises(
        ConfigError, match=r"^-C exearchive.extras: quotecli declares no extras, so it has no extra 'x'$"
    ):
        _extras.check(["x"], [], "quotecli", "-C exearchive.extras")


def test_declared_extras_compare_normalised(tmp_path: Path) -> None:
    _extras.check(["Fetch", "yaml_support"], ["fetch", "yaml-support"], "quotecli", "[tool.exearchive] extras")
