"""Unit tests: what the build records in the manifest's ``needs`` (markers with outcomes, one Requires-Python)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from exearchive.backend._staged import Distribution, Staged, effective_requires_python, marker_records, needs

HERE = f"{sys.version_info[0]}.{sys.version_info[1]}"


def _dist(name: str, requires: list[str], version: str = "1.0", requires_python: str | None = None) -> Distribution:
    wheel = f"{name}-{version}-py3-none-any.whl"
    return Distribution(name, version, requires_python, requires, {}, ["py3-none-any"], True, wheel)


def _record(marker: str, outcome: bool, requirement: str, by: str, **more: object) -> dict[str, object]:
    return {"marker": marker, "outcome": outcome, "requirement": requirement, "by": by, **more}


def test_every_marker_of_every_staged_distribution_with_its_outcome(tmp_path: Path) -> None:
    staged = Staged(
        tmp_path,
        [
            _dist("app", [f'pytest>=9; python_version >= "{HERE}"', 'colorama; sys_platform == "win32"']),
            _dist("pytest", ['tomli>=1; python_version < "3.8"', "iniconfig", 'tomli>=1; python_version < "3.8"']),
            _dist("iniconfig", []),
        ],
    )
    assert marker_records(staged, (), "app") == [
        _record(f'python_version >= "{HERE}"', True, "pytest>=9", "app 1.0"),
        _record('sys_platform == "win32"', False, "colorama", "app 1.0"),
        _record('python_version < "3.8"', False, "tomli>=1", "pytest 1.0"),  # once, though written twice
    ]


def test_markers_of_extras(tmp_path: Path) -> None:
    staged = Staged(
        tmp_path,
        [
            _dist("app", ["boto3[crt]"]),
            _dist("boto3", ['botocore[crt]; extra == "crt"', "botocore"]),
            _dist(
                "botocore",
                [
                    'awscrt; extra == "crt" and python_version >= "3.8"',
                    'docs; extra == "docs"',
                    'asynctest; python_version < "3.11" and extra == "dev"',  # false without dev, everywhere
                    'crtshim; python_version < "3.8" or extra == "dev"',  # true on 3.7 without dev
                ],
            ),
            _dist("awscrt", []),
        ],
    )
    # extra alone decides the same everywhere: not recorded; with more, recorded with the extras asked of it
    assert marker_records(staged, (), "app") == [
        _record('extra == "crt" and python_version >= "3.8"', True, "awscrt", "botocore 1.0", extras=["crt"]),
        _record('python_version < "3.8" or extra == "dev"', False, "crtshim", "botocore 1.0", extras=["crt"]),
    ]
    # the project's own extras count: without fast the marker is false everywhere; with it, it is recorded
    staged = Staged(tmp_path, [_dist("app", ['lib; extra == "fast" and os_name == "posix"']), _dist("lib", [])])
    assert marker_records(staged, (), "app") == []
    assert marker_records(staged, ("fast",), "app") == [
        _record('extra == "fast" and os_name == "posix"', True, "lib", "app 1.0", extras=["fast"]),
    ]


def test_a_requirement_left_out_but_met_anyway_is_not_recorded(tmp_path: Path) -> None:
    staged = Staged(
        tmp_path,
        [
            _dist("app", ["typing-extensions", 'typing_extensions>=4; python_version < "3.8"']),
            _dist("typing-extensions", [], "4.12.2"),
        ],
    )
    assert marker_records(staged, (), "app") == []
    # met by name but not by version: recorded, with what is carried
    staged = Staged(
        tmp_path, [_dist("app", ["numpy<2", 'numpy>=2; python_version < "3.8"']), _dist("numpy", [], "1.26.4")]
    )
    assert marker_records(staged, (), "app") == [
        _record('python_version < "3.8"', False, "numpy>=2", "app 1.0", carried="numpy 1.26.4")
    ]
    # met by version but without the extras it asks for: recorded
    staged = Staged(tmp_path, [_dist("app", ["lib", 'lib[fast]; python_version < "3.8"']), _dist("lib", [])])
    assert marker_records(staged, (), "app") == [
        _record('python_version < "3.8"', False, "lib[fast]", "app 1.0", carried="lib 1.0")
    ]


@pytest.mark.parametrize(
    ("specs", "effective"),
    [
        ([">=3.8"], ">=3.8"),
        ([">=3.8", ">=3.10,<4", "!=3.9.*"], ">=3.10,<4"),
        ([">=2.7,!=3.0.*,!=3.1.*,!=3.2.*,!=3.3.*", ">=3.8"], ">=3.8"),
        (["!=3.9.0,!=3.9.1,>=3.9", ">=3.8"], ">=3.9,!=3.9.0,!=3.9.1"),
        ([">=3.7", "~=3.9"], ">=3.9,<4"),
    ],
)
def test_one_effective_requires_python(specs: list[str], effective: str) -> None:
    assert effective_requires_python(specs) == effective


def test_needs(tmp_path: Path) -> None:
    staged = Staged(
        tmp_path,
        [
            _dist("app", ['lib; python_version < "3.8"'], requires_python=">=3.8"),
            _dist("old", [], requires_python=">=3.6.*"),  # invalid: ignored, as pip ignores it
            _dist("new", [], requires_python=">=3.10"),
        ],
    )
    assert needs(staged, (), "app") == {
        "requires_python": [{"spec": ">=3.8", "by": "app 1.0"}, {"spec": ">=3.10", "by": "new 1.0"}],
        "effective_requires_python": ">=3.10",
        "markers": [_record('python_version < "3.8"', False, "lib", "app 1.0")],
    }
