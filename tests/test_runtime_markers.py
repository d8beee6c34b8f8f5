"""The launcher's PEP 508 marker evaluator, ``exearchive/runtime/_markers.py``, against packaging's.

packaging 26.3 is the oracle (the version the port follows; the test extra
pins it).  A deterministic generator makes markers (every variable, every
operator, both operand orders, and/or/parentheses, odd spacing, quoting and
invalid text) and evaluates each in the marker environment of every
interpreter on this machine (each run once with a tiny script) and in
synthetic ones: the answers, including which error, must be the same.
"""

from __future__ import annotations

import glob
import itertools
import json
import os
import random
import shutil
import subprocess
from typing import Any

import packaging
import pytest
from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName, default_environment

from helpers import load_runtime

markers = load_runtime("_markers")

ORACLE = "26.3"
pytestmark = pytest.mark.skipif(
    packaging.__version__ != ORACLE,
    reason=f"the oracle is packaging {ORACLE}, the version the port follows (pip install -e '.[test]' installs it);"
    f" this is packaging {packaging.__version__}",
)

# Printed by each interpreter: its marker environment, computed as packaging 26.3's default_environment()
# does (and as old interpreters can: this runs on Python 2.7 too).
_ENVIRONMENT_SCRIPT = r"""
import json, os, platform, sys
impl = getattr(sys, "implementation", None)
def full(info):
    text = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        text += info.releaselevel[0] + str(info.serial)
    return text
print(json.dumps({
    "implementation_name": impl.name if impl else "cpython",
    "implementation_version": full(impl.version) if impl else "0",
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}))
"""


def _interpreters() -> list[str]:
    found = sorted(
        glob.glob(os.path.join(os.environ.get("PYENV_ROOT", "/root/.pyenv"), "versions", "*", "bin", "python"))
    )
    for name in ("/usr/bin/python3", shutil.which("pypy3") or "/usr/bin/pypy3"):
        if name not in found:
            found.append(name)
    return [p for p in found if os.access(p, os.X_OK)]


def _machine_environments() -> list[dict[str, str]]:
    result = []
    for python in _interpreters():
        proc = subprocess.run([python, "-c", _ENVIRONMENT_SCRIPT], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"{python}: {proc.stderr}"
        result.append(json.loads(proc.stdout))
    return result


def _synthetic_environments() -> list[dict[str, Any]]:
    base = dict(default_environment())
    variants: list[dict[str, Any]] = [
        {"python_version": "3.8", "python_full_version": "3.8.0", "implementation_version": "3.8.0"},
        {"python_version": "3.10", "python_full_version": "3.10.13"},
        {"python_version": "3.13", "python_full_version": "3.13.0rc1", "implementation_version": "3.13.0rc1"},
        {"python_version": "3.14", "python_full_version": "3.14.0a1+", "implementation_version": "3.14.0a1"},
        {
            "implementation_name": "pypy",
            "implementation_version": "7.3.11",
            "platform_python_implementation": "PyPy",
            "python_version": "3.9",
            "python_full_version": "3.9.16",
        },
        {
            "os_name": "nt",
            "sys_platform": "win32",
            "platform_system": "Windows",
            "platform_machine": "AMD64",
            "platform_release": "10",
            "platform_version": "10.0.19045",
        },
        {
            "sys_platform": "darwin",
            "platform_system": "Darwin",
            "platform_machine": "arm64",
            "platform_release": "23.6.0",
            "platform_version": "Darwin Kernel Version 23.6.0",
        },
        {"platform_release": "6.1.0-28-amd64", "platform_version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1"},
        {"platform_release": "", "platform_machine": "", "python_version": "3.x", "python_full_version": "3.x.1"},
        {"extra": "crt"},
        {"extra": "Foo_Bar"},
        {"extra": "foo..bar"},
        {"extra": None},
        {"extras": frozenset({"Foo_Bar", "crt"}), "dependency_groups": frozenset({"test"})},
        {"extras": "crt"},
    ]
    return [{**base, **variant} for variant in variants]


VARIABLES = [
    "python_version",
    "python_full_version",
    "implementation_version",
    "platform_release",
    "implementation_name",
    "os_name",
    "os.name",
    "sys_platform",
    "sys.platform",
    "platform_system",
    "platform_machine",
    "platform.machine",
    "platform_version",
    "platform.version",
    "platform_python_implementation",
    "platform.python_implementation",
    "python_implementation",
    "extra",
    "extras",
    "dependency_groups",
]
VALUES = [
    "3",
    "3.8",
    "3.9",
    "3.10",
    "3.11",
    "3.11.2",
    "3.11.7",
    "3.12.1",
    "3.13.0rc1",
    "3.14.0a1+",
    "3.14.0a1+local",
    "2.7",
    "3.*",
    "3.11.*",
    "1!3.8",
    "3.8.post1",
    "v3.9",
    " 3.9 ",
    "3.8,<4",
    "=3.8",
    "3.x",
    "7.3",
    "7.3.11",
    "6.1.0-28-amd64",
    "10",
    "posix",
    "nt",
    "linux",
    "win32",
    "darwin",
    "Linux",
    "Windows",
    "CPython",
    "PyPy",
    "cpython",
    "pypy",
    "x86_64",
    "aarch64 arm64",
    "",
    "crt",
    "Foo_Bar",
    "foo-bar",
    "test",
    "#1 SMP",
    "caf\u00e9",
]
OPERATORS = ["==", "!=", "<", "<=", ">", ">=", "~=", "===", "in", "not in"]


def _quote(value: str, rng: random.Random) -> str:
    return f'"{value}"' if "'" in value or rng.random() < 0.5 else f"'{value}'"


def _atom(rng: random.Random) -> str:
    op = rng.choice(OPERATORS)
    space = rng.choice([" ", " ", "", "\t", "  "])
    kind = rng.random()
    if kind < 0.45:
        left, right = rng.choice(VARIABLES), _quote(rng.choice(VALUES), rng)
    elif kind < 0.85:  # reversed: '3.8' < python_version
        left, right = _quote(rng.choice(VALUES), rng), rng.choice(VARIABLES)
    elif kind < 0.93:
        left, right = rng.choice(VARIABLES), rng.choice(VARIABLES)
    else:
        left, right = _quote(rng.choice(VALUES), rng), _quote(rng.choice(VALUES), rng)
    if op in ("in", "not in") and not space:
        space = " "
    return f"{left}{space}{op}{space}{right}"


def _expression(rng: random.Random, depth: int = 0) -> str:
    parts = [_atom(rng) if depth > 1 or rng.random() < 0.7 else f"({_expression(rng, depth + 1)})"]
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        parts.append(rng.choice(["and", "or"]))
        parts.append(_atom(rng) if depth > 1 or rng.random() < 0.75 else f"( {_expression(rng, depth + 1)} )")
    return " ".join(parts)


HANDWRITTEN = [
    'python_version < "3.11"',
    "'3.8' < python_version",
    'python_full_version >= "3.11.5" and platform_python_implementation == "CPython"',
    'python_version >= "3.8" and (sys_platform == "win32" or extra == "Crt")',
    'extra == "foo.bar"',
    "extra=='Foo_Bar'",
    '"foo" in extras',
    '"Foo_Bar" in extras and "test" in dependency_groups',
    "extras == 'crt'",
    'os_name in "posix nt" and "linux" not in sys_platform',
    "python_version~='3.8'",
    'python_version ~= "3"',
    'python_version === "3.11"',
    'os_name === "posix"',
    'os_name ~= "posix"',
    'platform_release >= "5"',
    'implementation_version < "7.3.12"',
    "python_version == '3.*'",
    "python_full_version == '3.14.0a1+local'",
    "python_full_version >= '3.14.0a1'",
    "'a\\tb' == os_name",
    "'\\x' == os_name",
    "'\\N{LATIN SMALL LETTER E WITH ACUTE}' == os_name",
    "'3.8' < '3.9'",
    "python_version == python_full_version",
    "(python_version < '3.9')",
    "((python_version < '3.9') or (os_name == 'nt')) and extra == 'x'",
    "python_version < '3.9' and os_name == 'nt' or extra == 'x' and os_name == 'posix'",
    "python_version not  in '3.8 3.9'",
    "python_version not\tin '3.8 3.9'",
    "'x' notin os_name",
    "python_version <",
    "(python_version < '3'",
    "python_version < '3')",
    "foo == 'x'",
    "python_version 'x'",
    "python_version < '3.9' and",
    "python_version < '3.9' xor os_name == 'nt'",
    "python_version < \"3.9'",
    "",
    "   ",
    "python_versionand == 'x'",
    'python_version=="3.11"and os_name=="posix"',
]


def _corpus() -> list[str]:
    rng = random.Random(508)
    return HANDWRITTEN + [_expression(rng) for _ in range(2500)]


def _oracle(marker: str, env: dict[str, Any]) -> object:
    try:
        parsed = Marker(marker)
    except InvalidMarker:
        return "invalid"
    try:
        return parsed.evaluate(env)
    except UndefinedComparison:
        return "undefined comparison"
    except UndefinedEnvironmentName:
        return "undefined name"


def _ours(marker: str, env: dict[str, Any]) -> object:
    try:
        parsed = markers.parse(marker)
    except markers.InvalidMarker:
        return "invalid"
    try:
        return markers.evaluate(parsed, env)
    except markers.UndefinedComparison:
        return "undefined comparison"
    except markers.UndefinedEnvironmentName:
        return "undefined name"


def test_same_answers_as_packaging() -> None:
    environments = _machine_environments() + _synthetic_environments()
    assert len(environments) >= 15
    corpus = _corpus()
    mismatches = []
    outcomes = set()
    for marker, env in itertools.product(corpus, environments):
        expected, got = _oracle(marker, env), _ours(marker, env)
        outcomes.add(repr(expected))
        if expected != got:
            mismatches.append((marker, {k: env[k] for k in sorted(env)}, expected, got))
    # the corpus reaches every kind of answer
    assert outcomes == {"True", "False", "'invalid'", "'undefined comparison'", "'undefined name'"}
    assert mismatches[:5] == []


@pytest.mark.parametrize(
    ("marker", "env", "expected"),
    [
        ('python_version < "3.11"', {"python_version": "3.10"}, True),
        ('python_version < "3.11"', {"python_version": "3.11"}, False),
        ("'3.8' < python_version", {"python_version": "3.12"}, True),
        ('python_full_version >= "3.11.5"', {"python_full_version": "3.11.2"}, False),
        ('python_version > "3.9"', {"python_version": "3.10"}, True),  # versions, not strings
        ('os_name < "posix"', {"os_name": "nt"}, False),  # strings: < is never true
        ('extra == "Foo.Bar"', {"extra": "foo-bar"}, True),
        ('extra == "crt"', {}, False),
        ("python_version == '3.8' or python_version == '3.9' and os_name == 'nt'", {"python_version": "3.8"}, True),
        ("(python_version == '3.8' or python_version == '3.9') and os_name == 'nt'", {"python_version": "3.8"}, False),
    ],
)
def test_examples(marker: str, env: dict[str, str], expected: bool) -> None:
    full = {**default_environment(), "os_name": "posix", **env}
    assert markers.evaluate(marker, full) is expected
    assert Marker(marker).evaluate(full) is expected


def test_errors_are_one_line_each_and_name_the_problem() -> None:
    with pytest.raises(markers.InvalidMarker, match="Expected a marker variable or quoted string"):
        markers.parse("foo == 'x'")
    with pytest.raises(markers.UndefinedComparison, match="Undefined '~=' on 'posix' and 'x'"):
        markers.evaluate("os_name ~= 'x'", default_environment())
    with pytest.raises(markers.UndefinedEnvironmentName):
        markers.evaluate("'a' == 'b'", default_environment())


def test_evaluate_known_answers_only_what_the_known_variables_decide() -> None:
    environments = _synthetic_environments()
    answered = 0
    for marker in _corpus():
        try:
            tree = markers.parse(marker)
        except markers.InvalidMarker:
            continue
        for known in ({"extra": ""}, {"extra": "crt"}, {"python_version": "3.10", "extra": ""}):
            try:
                decided = markers.evaluate_known(tree, known)
            except (markers.UndefinedComparison, markers.UndefinedEnvironmentName):
                continue
            if decided is None:
                continue
            answered += 1
            for env in environments:
                outcome = _ours(marker, {**env, **known})
                assert outcome in (decided, "undefined comparison", "undefined name"), (marker, known, env)
    assert answered > 300
