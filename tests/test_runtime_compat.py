"""Tests for the launcher's compatibility check, ``exearchive/runtime/_compat.py``.

The module is loaded by file path (as the archive's runtime copy is, without
the ``exearchive`` package) and compared with ``packaging``, which is the
reference for wheel tags, specifiers and the marker environment. The last
test runs the file under every other interpreter on the machine.
"""

from __future__ import annotations

import glob
import itertools
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import sysconfig
import types

import pytest
from packaging import markers, tags
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from helpers import RUNTIME, RUNTIME_LOADER, load_runtime

compat = load_runtime("_compat")


def _packaging_tags() -> list[str]:
    return [str(t) for t in tags.sys_tags()]


# --------------------------------------------------------------------------
# interpreter_tags


def test_interpreter_tags_equal_packaging_sys_tags() -> None:
    # Exactly the same list, in the same order (packaging >= 26.3 puts the native
    # linux_<arch> platform before manylinux/musllinux; so do we).
    ours = compat.interpreter_tags()
    assert ours == _packaging_tags()
    assert len(ours) == len(set(ours))


@pytest.fixture
def fake_config_vars(monkeypatch: pytest.MonkeyPatch):
    """Override sysconfig config vars for both packaging and _compat."""
    real = sysconfig.get_config_var
    overrides: dict[str, object] = {}
    monkeypatch.setattr(sysconfig, "get_config_var", lambda name: overrides.get(name, real(name)))
    return overrides


def _fake_platform(monkeypatch: pytest.MonkeyPatch, system: str, sysconfig_platform: str) -> None:
    machine = sysconfig_platform.rsplit("-", 1)[-1]
    monkeypatch.setattr(platform, "system", lambda: system)
    monkeypatch.setattr(compat, "_uname", lambda: (system, "1.0", "#1", machine))  # Linux: os.uname()
    monkeypatch.setattr(sysconfig, "get_platform", lambda: sysconfig_platform)


@pytest.mark.parametrize(
    ("system", "sysconfig_platform"),
    [
        ("Linux", "linux-aarch64"),
        ("Linux", "linux-ppc64le"),
        ("Linux", "linux-s390x"),
        ("Linux", "linux-armv7l"),  # the ELF check fails (x86_64 executable): no manylinux
        ("Linux", "linux-mips"),  # not a manylinux architecture
        ("Windows", "win-amd64"),
        ("Windows", "win32"),
        ("Windows", "win-arm64"),
        ("FreeBSD", "freebsd-14.0-RELEASE-amd64"),
        ("SunOS", "solaris-2.11-sun4v.64bit"),
    ],
)
def test_interpreter_tags_other_platforms(
    monkeypatch: pytest.MonkeyPatch, system: str, sysconfig_platform: str
) -> None:
    _fake_platform(monkeypatch, system, sysconfig_platform)
    assert compat.interpreter_tags() == _packaging_tags()


@pytest.mark.parametrize(
    ("release", "machine"),
    [("14.2.1", "arm64"), ("14.2.1", "x86_64"), ("11.0", "arm64"), ("10.15.7", "x86_64"), ("10.9", "x86_64")],
)
def test_interpreter_tags_macos(monkeypatch: pytest.MonkeyPatch, release: str, machine: str) -> None:
    _fake_platform(monkeypatch, "Darwin", "macosx-11.0-" + machine)
    monkeypatch.setattr(platform, "mac_ver", lambda *a, **k: (release, ("", "", ""), machine))
    ours = compat.interpreter_tags()
    assert ours == _packaging_tags()
    assert any("macosx_" in t for t in ours)


def test_interpreter_tags_emscripten(monkeypatch: pytest.MonkeyPatch, fake_config_vars: dict) -> None:
    _fake_platform(monkeypatch, "Emscripten", "emscripten-3.1.58-wasm32")
    fake_config_vars["PYEMSCRIPTEN_PLATFORM_VERSION"] = "2025_0"
    assert compat.interpreter_tags() == _packaging_tags()


@pytest.mark.parametrize(
    ("sysconfig_platform", "glibc"),
    [("linux-x86_64", (2, 17)), ("linux-x86_64", (2, 5)), ("linux-aarch64", (2, 28)), ("linux-aarch64", (3, 2))],
)
def test_interpreter_tags_other_glibc(
    monkeypatch: pytest.MonkeyPatch, sysconfig_platform: str, glibc: tuple[int, int]
) -> None:
    from packaging import _manylinux

    _fake_platform(monkeypatch, "Linux", sysconfig_platform)
    monkeypatch.setattr(compat, "_glibc_version", lambda: glibc)
    monkeypatch.setattr(_manylinux, "_get_glibc_version", lambda: _manylinux._GLibCVersion(*glibc))
    ours = compat.interpreter_tags()
    assert ours == _packaging_tags()
    assert f"manylinux_{glibc[0]}_{glibc[1]}_{sysconfig_platform[6:]}" in ours[1]


def test_interpreter_tags_musl(monkeypatch: pytest.MonkeyPatch) -> None:
    from packaging import _manylinux, _musllinux

    monkeypatch.setattr(compat, "_glibc_version", lambda: None)
    monkeypatch.setattr(_manylinux, "_get_glibc_version", lambda: _manylinux._GLibCVersion(-1, -1))
    monkeypatch.setattr(compat, "_musl_version", lambda executable: (1, 2))
    monkeypatch.setattr(_musllinux, "_get_musl_version", lambda executable: _musllinux._MuslVersion(1, 2))
    ours = compat.interpreter_tags()
    assert ours == _packaging_tags()
    assert not any("manylinux" in t for t in ours)
    assert any(t.endswith("-musllinux_1_0_" + platform.machine()) for t in ours)


@pytest.mark.parametrize("sysconfig_platform", ["linux-x86_64", "linux-aarch64"])
def test_interpreter_tags_32bit_interpreter_on_64bit_kernel(
    monkeypatch: pytest.MonkeyPatch, sysconfig_platform: str
) -> None:
    _fake_platform(monkeypatch, "Linux", sysconfig_platform)
    monkeypatch.setattr(compat, "_is_32bit", lambda: True)
    monkeypatch.setattr(tags._linux_platforms, "__defaults__", (True,))
    ours = compat.interpreter_tags()
    assert ours == _packaging_tags()
    assert ours[0].endswith("linux_i686" if "x86" in sysconfig_platform else "linux_armv8l")


@pytest.mark.parametrize("flavour", ["pep600", "legacy"])
def test_interpreter_tags_manylinux_module_veto(monkeypatch: pytest.MonkeyPatch, flavour: str) -> None:
    """A distributor's ``_manylinux`` module (PEP 600 / PEP 599) can rule out glibc versions."""
    from packaging import _manylinux

    veto = types.ModuleType("_manylinux")
    if flavour == "pep600":
        # False: not compatible; None: no opinion (compatible).
        veto.manylinux_compatible = lambda major, minor, arch: False if (major, minor) > (2, 28) else None  # type: ignore[attr-defined]
    else:
        veto.manylinux2014_compatible = False  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "_manylinux", veto)
    _manylinux._get_manylinux_module.cache_clear()
    try:
        ours = compat.interpreter_tags()
        assert ours == _packaging_tags()
    finally:
        _manylinux._get_manylinux_module.cache_clear()
    if flavour == "legacy":
        assert not any("manylinux2014_" in t or "manylinux_2_17_" in t for t in ours)
    else:
        assert not any("manylinux_2_29_" in t for t in ours)
        assert any("manylinux_2_28_" in t for t in ours)


def test_interpreter_tags_debug_build(fake_config_vars: dict) -> None:
    fake_config_vars["Py_DEBUG"] = 1
    ours = compat.interpreter_tags()
    assert ours == _packaging_tags()
    nodot = f"{sys.version_info[0]}{sys.version_info[1]}"
    assert ours[0].startswith(f"cp{nodot}-cp{nodot}d-")


@pytest.mark.parametrize(
    ("name", "ext_suffix"),
    [
        ("pypy", ".pypy39-pp73-x86_64-linux-gnu.so"),
        ("graalpy", ".graalpy230-310-native-x86_64-linux.so"),
        ("someimpl", ".someimpl-1-x86_64-linux-gnu.so"),
        ("pypy", ".so"),
    ],
)
def test_interpreter_tags_other_implementations(
    monkeypatch: pytest.MonkeyPatch, fake_config_vars: dict, name: str, ext_suffix: str
) -> None:
    implementation = types.SimpleNamespace(**vars(sys.implementation))
    implementation.name = name
    fake_config_vars["EXT_SUFFIX"] = ext_suffix
    monkeypatch.setattr(sys, "implementation", implementation)
    ours = compat.interpreter_tags()
    expected = _packaging_tags()
    monkeypatch.undo()
    assert ours == expected
    if name == "pypy":
        assert "pp3-none-any" in ours


@pytest.mark.parametrize(
    "version", [(10, 3), (10, 4), (10, 5), (10, 6), (10, 9), (10, 15), (10, 16), (11, 0), (12, 3), (15, 1)]
)
@pytest.mark.parametrize("arch", ["x86_64", "arm64", "i386", "ppc", "ppc64", "universal2", "intel"])
def test_mac_platforms(version: tuple[int, int], arch: str) -> None:
    assert compat._mac_platforms(version, arch) == list(tags.mac_platforms(version, arch))


@pytest.mark.parametrize("version", [(11, 4), (12, 0), (13, 2), (17, 5)])
@pytest.mark.parametrize("multiarch", ["arm64-iphoneos", "x86_64-iphonesimulator"])
def test_ios_platforms(version: tuple[int, int], multiarch: str) -> None:
    assert compat._ios_platforms(version, multiarch) == list(tags.ios_platforms(version, multiarch))


@pytest.mark.parametrize(("api_level", "abi"), [(21, "arm64-v8a"), (16, "x86_64"), (34, "armeabi_v7a"), (12, "x86")])
def test_android_platforms(api_level: int, abi: str) -> None:
    assert compat._android_platforms(api_level, abi) == list(tags.android_platforms(api_level, abi))


def test_expand_tag() -> None:
    assert sorted(compat._expand_tag("py2.py3-none-any")) == ["py2-none-any", "py3-none-any"]
    assert sorted(compat._expand_tag("cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64")) == [
        "cp311-cp311-manylinux2014_x86_64",
        "cp311-cp311-manylinux_2_17_x86_64",
    ]
    assert compat._expand_tag("not-a-tag-at-all") == []


# --------------------------------------------------------------------------
# python_version_matches

SPEC_VERSIONS = [
    "3",
    "3.8",
    "3.8.0",
    "3.8.1",
    "3.9",
    "3.9.0",
    "3.9.1",
    "3.10",
    "3.11.7",
    "3.12",
    "3.13",
    "3.13.0",
    "3.13.0a1",
    "3.13.0rc1",
    "3.13.0rc2",
    "3.9.0b2",
    "3.9.post1",
    "3.9.1.post2",
    "3.9.1.dev0",
    "3.9.dev1",
    "3.9.0rc1.dev3",
    "3.9.1c1",
    "3.9.1-1",
    "v3.9",
    "1!3.9",
    "2.7",
    "4",
    "4.0.0",
]
TEST_VERSIONS = [
    "2.7.18",
    "3",
    "3.0",
    "3.7.16",
    "3.8",
    "3.8.0",
    "3.8.1",
    "3.8.18",
    "3.9",
    "3.9.0",
    "3.9.1",
    "3.9.18",
    "3.9.0rc1",
    "3.9.0rc2",
    "3.9.0b2",
    "3.9.0a1",
    "3.9.dev0",
    "3.9.dev1",
    "3.9.1.dev0",
    "3.9.post1",
    "3.9.0.post1",
    "3.9.1.post2",
    "3.9.1+local",
    "3.9+abc.5",
    "3.9.1rc1",
    "3.10",
    "3.10.13",
    "3.11.7",
    "3.12.1",
    "3.13.0",
    "3.13.0a1",
    "3.13.0b2",
    "3.13.0rc1",
    "3.13.0rc2",
    "3.13.1",
    "3.14.0a1",
    "4.0",
    "4.0.0a1",
    "4.0.dev0",
    "1!3.9",
    " 3.9.1 ",
    "V3.9.1",
    "3.9.1C1",
    "3.9.1-1",
    "not-a-version",
    "3.9.x",
]
WILDCARD_SPECS = ["==3.*", "!=3.*", "==3.8.*", "!=3.9.*", "==3.9.0.*", "==3.13.*", "==4.*", "!=1!3.*", "==2.*"]
ODD_SPECS = [
    "~=3.8",
    "~=3.8.1",
    "~=3.8.0",
    "~=3.13.0rc1",
    "<=3.9",
    ">3.9",
    "==3.8.0",
    "==3.9.1+local",
    "!=3.9.1+local",
    "===3.11.7",
    "===3.8",
    "=== 3.9.1",
    "===not-a-version",
    ">=3.8,!=3.9.1,<4",
    " >= 3.8 , < 4 ",
    "",
    " , ",
    ">=3.8,",
    "== 3.9",
    "~= 3.9",
    "== 3.8.*",
    "==V3.8",
    ">=3.8.0.0",
    "<3.9.0.0",
]


def _generated_specs() -> list[str]:
    specs = [op + v for op in ("==", "!=", ">=", "<=", ">", "<", "~=") for v in SPEC_VERSIONS]
    specs += ["===" + v for v in ("3.9", "3.9.1", "3.13.0rc1", "V3.9.1")]
    specs += WILDCARD_SPECS + ODD_SPECS
    return specs


def _packaging_result(spec: str, version: str) -> bool | type[ValueError]:
    try:
        spec_set = SpecifierSet(spec, prereleases=True)
    except InvalidSpecifier:
        return ValueError
    return spec_set.contains(version)


def _our_result(spec: str, version: str) -> bool | type[ValueError]:
    try:
        return compat.python_version_matches(spec, version)
    except ValueError:
        return ValueError


def test_python_version_matches_grid() -> None:
    specs = _generated_specs()
    rng = random.Random(440)
    valid = [s for s in specs if _packaging_result(s, "3.9") is not ValueError]
    specs += [",".join(rng.sample(valid, 2)) for _ in range(300)]
    specs += [",".join(rng.sample(valid, 3)) for _ in range(100)]
    mismatches = []
    count = 0
    for spec, version in itertools.product(specs, TEST_VERSIONS):
        count += 1
        expected, got = _packaging_result(spec, version), _our_result(spec, version)
        if expected != got:
            mismatches.append((spec, version, expected, got))
    assert count > 20000
    assert mismatches == []


@pytest.mark.parametrize(
    ("spec", "version", "expected"),
    [
        ("~=3.8", "3.9", True),
        ("~=3.8", "4.0", False),
        ("~=3.8.1", "3.8.5", True),
        ("~=3.8.1", "3.9.0", False),
        ("==3.*", "3.12.1", True),
        ("!=3.9.*", "3.9.18", False),
        ("!=3.9.*", "3.10.0", True),
        ("<=3.9", "3.9.1", False),
        ("<=3.9", "3.9.0", True),
        (">3.9", "3.9.1", True),
        (">3.9", "3.9.post1", False),
        ("==3.8.0", "3.8", True),
        ("==3.8", "3.8.0", True),
        (">=3.13", "3.13.0rc1", False),
        (">=3.13.0rc1", "3.13.0rc1", True),
        ("<3.13", "3.13.0rc1", False),
        ("===3.11.7", "3.11.7", True),
        ("===3.11", "3.11.0", False),
        ("", "3.8.0", True),
        (">=3.14.0a1", "3.14.0a1+", True),  # interpreters built from git: trailing "+" ignored
    ],
)
def test_python_version_matches_edge_cases(spec: str, version: str, expected: bool) -> None:
    assert compat.python_version_matches(spec, version) is expected
    if not version.endswith("+"):
        assert SpecifierSet(spec, prereleases=True).contains(version) is expected


@pytest.mark.parametrize(
    "spec",
    [
        ">=3.x",
        "3.8",
        "=>3.8",
        ">=",
        "~=3",
        ">=3.8.*",
        "==3.*.1",
        "~=3.8.*",
        "<3.8+local",
        "==3.9.*+local",
        ">=3.8;",
        "== 3.8 3.9",
        "=3.8",
        "!3.8",
        "===3.8)",
        ">=3.8,>=,<4",
        "<>3.8",
        "3.8.*",
        "==.3",
        "==3..8",
        ">=3.8 .1",
        "==3.",
    ],
)
def test_python_version_matches_invalid(spec: str) -> None:
    with pytest.raises(InvalidSpecifier):
        SpecifierSet(spec)
    with pytest.raises(ValueError, match="invalid version specifier"):
        compat.python_version_matches(spec, "3.11.7")


def test_python_version_is_platform_python_version() -> None:
    assert compat._python_version() == platform.python_version()


# --------------------------------------------------------------------------
# marker_environment


def test_marker_environment_equals_packaging() -> None:
    assert compat.marker_environment() == markers.default_environment()


def test_marker_environment_does_not_import_platform() -> None:
    """``platform`` costs ~10 ms on the cold path; on Linux the same facts come from ``os.uname()``."""
    if sys.platform != "linux":
        pytest.skip("the shortcut is for Linux; elsewhere platform answers")
    code = (
        RUNTIME_LOADER + "module = load('_compat')\n"
        "env = module.marker_environment(); module.interpreter_tags()\n"
        "imported = ['platform' in sys.modules, 're' in sys.modules]\n"
        "import json\n"
        "print(json.dumps([env, *imported]))\n"
    )
    command = [sys.executable, "-S", "-c", code, str(RUNTIME)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    env, imported_platform, imported_re = json.loads(out)
    assert env == markers.default_environment()
    assert (imported_platform, imported_re) == (False, False)


# --------------------------------------------------------------------------
# check


def _this_python() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def test_check_empty_needs() -> None:
    assert compat.check({}) is None
    assert compat.check({"requires_python": [], "native": [], "environment": {}}) is None


def test_check_requires_python_satisfied() -> None:
    needs = {
        "requires_python": [{"spec": ">=" + _this_python(), "by": "myapp 1.0"}, {"spec": ">=3.8,<99", "by": "x 2"}]
    }
    assert compat.check(needs) is None


def test_check_requires_python_unsatisfied() -> None:
    needs = {"requires_python": [{"spec": ">=3.8", "by": "ok 1"}, {"spec": ">=99", "by": "myapp 1.0"}]}
    message = compat.check(needs)
    assert message is not None
    assert message.startswith("this archive needs Python >=99 (requires-python of myapp 1.0) but this is ")
    assert platform.python_version() in message
    assert "ok 1" not in message
    assert "\n" not in message
    assert "run it with a matching interpreter" in message


def test_check_requires_python_suggests_an_interpreter() -> None:
    major, minor = sys.version_info[:2]
    needs = {"requires_python": [{"spec": f">={major}.{minor + 1}", "by": "myapp 1.0"}]}
    message = compat.check(needs, archive="dist/myapp.pyz")
    assert message is not None
    assert message.endswith(f"e.g. python{major}.{minor + 1} dist/myapp.pyz")


def test_check_requires_python_invalid_spec() -> None:
    message = compat.check({"requires_python": [{"spec": ">=3.x", "by": "myapp 1.0"}]})
    assert message is not None
    assert ">=3.x" in message and "myapp 1.0" in message and "invalid" in message


def test_check_is_cheap_without_native_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden() -> None:
        raise AssertionError("computed although not needed")

    monkeypatch.setattr(compat, "interpreter_tags", forbidden)
    monkeypatch.setattr(compat, "marker_environment", forbidden)
    assert compat.check({"requires_python": [{"spec": ">=3.8", "by": "myapp 1.0"}]}) is None
    assert compat.check({"requires_python": [{"spec": ">=99", "by": "myapp 1.0"}]}) is not None
    monkeypatch.undo()
    monkeypatch.setattr(compat, "interpreter_tags", forbidden)
    assert compat.check({"environment": {"sys_platform": sys.platform}}) is None


def test_check_native_matching() -> None:
    best = _packaging_tags()[0]
    assert compat.check({"native": [{"dist": "numpy 2.1.0", "tags": [best]}]}) is None
    interpreter, abi, plat = best.split("-")
    compressed = f"{interpreter}-{abi}-{plat}.some_other_platform"
    assert compat.check({"native": [{"dist": "numpy 2.1.0", "tags": ["cp27-cp27mu-linux_x86_64", compressed]}]}) is None
    assert compat.check({"native": [{"dist": "pure 1", "tags": ["py2.py3-none-any"]}]}) is None


def test_check_native_other_python() -> None:
    plat = _packaging_tags()[0].split("-")[2]
    major, minor = sys.version_info[:2]
    other = minor + 1 if minor < 13 else minor - 1
    tag = f"cp{major}{other}-cp{major}{other}-{plat}"
    message = compat.check({"native": [{"dist": "numpy 2.1.0", "tags": [tag]}]})
    assert message is not None
    assert message.startswith(f"this archive holds native code built for {tag} (numpy 2.1.0) but this interpreter is ")
    assert "supports " + _packaging_tags()[0] in message
    assert message.endswith(f"e.g. python{major}.{other} app.pyz")
    assert "\n" not in message
    # the launcher needs Python 3.8 or newer: never "python2.7"
    message = compat.check({"native": [{"dist": "numpy 1.16.0", "tags": ["cp27-cp27mu-" + plat]}]})
    assert message is not None and "e.g." not in message
    assert message.endswith("run it with a matching interpreter: /path/to/python app.pyz")


def test_check_native_other_platform() -> None:
    needs = {
        "native": [
            {"dist": "numpy 2.1.0", "tags": ["cp311-cp311-win_amd64"]},
            {"dist": "other 1", "tags": ["cp311-cp311-macosx_11_0_arm64"]},
            {"dist": "fine 1", "tags": ["py3-none-any"]},
        ]
    }
    message = compat.check(needs)
    assert message is not None
    assert "cp311-cp311-win_amd64 (numpy 2.1.0 and 1 more)" in message
    assert "on a win_amd64 machine" in message


def test_check_ignores_the_environment_of_older_archives() -> None:
    # Archives made before markers were recorded hold the build host's marker variables: not a reason to refuse.
    assert compat.check({"environment": {"python_version": "2.7", "sys_platform": "win32"}}) is None


def _marker(marker: str, outcome: bool, requirement: str = "tomli>=1", by: str = "pytest 9.0.2", **more: object):
    return {"marker": marker, "outcome": outcome, "requirement": requirement, "by": by, **more}


def _next_minor() -> tuple[int, int]:
    return sys.version_info[0], sys.version_info[1] + 1


def test_check_markers_that_decide_the_same_pass() -> None:
    major, minor = _next_minor()
    needs = {
        "markers": [
            _marker(f'python_version >= "{major}.{minor}"', False),
            _marker(f'python_version < "{major}.{minor}"', True, "exceptiongroup>=1"),
            _marker('sys_platform == "win32"', False, "colorama", "pytest 9.0.2"),
        ]
    }
    assert compat.check(needs) is None


def test_check_refuses_a_requirement_the_archive_does_not_carry() -> None:
    here = _this_python()
    needs = {
        "effective_requires_python": ">=3.8",
        "requires_python": [{"spec": ">=3.8", "by": "pytest 9.0.2"}],
        "markers": [
            _marker(f'python_version <= "{here}"', False),
            _marker(f'python_version <= "{here}"', False, "exceptiongroup>=1"),
            _marker(f'python_version <= "{here}"', True, "unused"),
            _marker(f'python_full_version < "{here}.99"', False, "exceptiongroup>=1", "anyio 4.0"),
        ],
    }
    message = compat.check(needs, archive="pytest.pyz")
    assert message is not None
    major, minor = _next_minor()
    assert message == (
        f'this archive needs tomli>=1 (pytest 9.0.2 requires it where python_version <= "{here}") and '
        f'exceptiongroup>=1 (pytest 9.0.2 requires it where python_version <= "{here}"; '
        f'anyio 4.0 requires it where python_full_version < "{here}.99"), which it does not carry; '
        f"this interpreter is {compat.describe_interpreter()}; "
        f"run it with a matching interpreter, e.g. python{major}.{minor} pytest.pyz"
    )


def test_check_carried_but_not_needed_is_harmless() -> None:
    # importlib-metadata; python_version < "3.8": taken by a build on 3.7, not needed here, carried unused
    assert compat.check({"markers": [_marker('python_version < "3.8"', True, "importlib-metadata")]}) is None


def test_check_names_the_carried_version() -> None:
    needs = {"markers": [_marker('python_version >= "3.8"', False, "numpy>=1.26", "app 1.0", carried="numpy 1.21.0")]}
    message = compat.check(needs)
    assert message is not None
    assert message.startswith(
        'this archive needs numpy>=1.26 (app 1.0 requires it where python_version >= "3.8"; '
        "the archive carries numpy 1.21.0); this interpreter is "
    )
    assert "which it does not carry" not in message


def test_check_evaluates_with_the_extras_the_build_asked_for() -> None:
    marker = 'extra == "crt" and python_version >= "3.8"'
    assert compat.check({"markers": [_marker(marker, False, "awscrt", "botocore 1.35", extras=[])]}) is None
    message = compat.check({"markers": [_marker(marker, False, "awscrt", "botocore 1.35", extras=["crt"])]})
    assert message is not None
    assert message.startswith(f"this archive needs awscrt (botocore 1.35 with extra crt requires it where {marker})")


def test_check_counts_what_it_does_not_show() -> None:
    needs = {"markers": [_marker('os_name == "posix"', False, f"dep{i}", "app 1") for i in range(5)]}
    message = compat.check(needs)
    assert message is not None
    assert "dep0 (" in message and "dep2 (" in message and "dep3" not in message
    assert "(and 2 more), which it does not carry;" in message


def test_check_a_marker_it_cannot_evaluate() -> None:
    message = compat.check({"markers": [_marker('os_name ~= "posix"', False)]})
    assert message is not None and "\n" not in message
    assert message.startswith('this archive records a marker that this interpreter cannot evaluate: os_name ~= "posix"')


def test_check_suggests_only_an_interpreter_that_satisfies_every_need() -> None:
    major, minor = sys.version_info[:2]
    full = platform.python_version()
    flip = _marker(f'python_full_version == "{full}"', False, "needed-here", "app 1.0")
    # pure Python: the nearest other minor version, where the marker is false again
    message = compat.check({"markers": [flip]}, archive="app.pyz")
    assert message is not None and message.endswith(f"e.g. python{major}.{minor + 1} app.pyz")
    # and not one that Requires-Python excludes
    needs = {"requires_python": [{"spec": f"<={major}.{minor}", "by": "app 1.0"}], "markers": [flip]}
    message = compat.check(needs, archive="app.pyz")
    assert message is not None and message.endswith(f"e.g. python{major}.{minor - 1} app.pyz")
    # native code for this minor version only: no other interpreter would do
    best = _packaging_tags()[0]
    needs = {"native": [{"dist": "fast 1", "tags": [best]}], "markers": [flip]}
    message = compat.check(needs, archive="app.pyz")
    assert message is not None and "e.g." not in message
    # stable ABI wheels (cp38-abi3) also run on newer minor versions
    plat = best.split("-")[2]
    needs = {"native": [{"dist": "fast 1", "tags": [f"cp38-abi3-{plat}"]}], "markers": [flip]}
    message = compat.check(needs, archive="app.pyz")
    assert message is not None and message.endswith(f"e.g. python{major}.{minor + 1} app.pyz")


def test_check_requires_python_gives_one_effective_spec() -> None:
    major, minor = _next_minor()
    needs = {
        "requires_python": [
            {"spec": ">=3.8", "by": "a 1"},
            {"spec": f">={major}.{minor}", "by": "b 2"},
            {"spec": f">={major}.{minor},<4", "by": "c 3"},
            {"spec": f">={major}.{minor},!=3.99.*", "by": "d 4"},
        ],
        "effective_requires_python": f">={major}.{minor},<4",
    }
    message = compat.check(needs, archive="app.pyz")
    assert message is not None
    assert message.startswith(
        f"this archive needs Python >={major}.{minor},<4 (requires-python of b 2 and 2 more) but this is "
    )
    assert message.endswith(f"e.g. python{major}.{minor} app.pyz")
    # an archive without the effective spec: the clauses this interpreter fails, once each
    del needs["effective_requires_python"]
    message = compat.check(needs)
    assert message is not None
    assert message.startswith(f"this archive needs Python >={major}.{minor},!=3.99.*,<4 (requires-python of b 2 and ")


def test_check_order_requires_python_first() -> None:
    needs = {
        "requires_python": [{"spec": ">=99", "by": "myapp 1.0"}],
        "native": [{"dist": "numpy 2.1.0", "tags": ["cp27-cp27mu-win32"]}],
    }
    message = compat.check(needs)
    assert message is not None and "needs Python >=99" in message


# --------------------------------------------------------------------------
# Every interpreter on the machine

PYENV_ROOT = os.environ.get("PYENV_ROOT", "/root/.pyenv")

_CHILD = (
    RUNTIME_LOADER
    + r"""
import json, platform

compat = load("_compat")
markers = load("_markers")
cases = json.loads(sys.argv[2])
tags = compat.interpreter_tags()
out = {
    "implementation": sys.implementation.name,
    "tags": tags,
    "check_empty": compat.check({}),
    "check_99": compat.check({"requires_python": [{"spec": ">=99", "by": "myapp 1.0"}]}),
    "check_own": compat.check({"native": [{"dist": "x 1", "tags": [tags[0]]}]}),
    "check_env": compat.check({"environment": {"python_version": "2.7"}}),
    "check_markers": compat.check({"markers": [{"marker": 'python_version < "3.8"', "outcome": False,
                                                "requirement": "x", "by": "y 1"}]}),
    "check_flip": compat.check({"markers": [{"marker": 'python_version >= "3.8"', "outcome": False,
                                             "requirement": "x", "by": "y 1"}]}),
    "markers": [markers.evaluate(m, dict(compat.marker_environment(), extra=e)) for m, e in json.loads(sys.argv[3])],
    "python_version": compat._python_version(),
    "platform_python_version": platform.python_version(),
    "environment": compat.marker_environment(),
    "matches": [compat.python_version_matches(s, v) for s, v in cases],
    "reference": None,
}
try:
    import packaging, packaging.markers, packaging.tags
except ImportError:
    try:  # pip's vendored copy; nothing gets installed
        from pip._vendor import packaging
        from pip._vendor.packaging import markers as _m, tags as _t
    except ImportError:
        packaging = None
if packaging is not None:
    out["reference"] = {
        "version": packaging.__version__,
        "origin": packaging.__name__,
        "tags": [str(t) for t in packaging.tags.sys_tags()],
        "environment": packaging.markers.default_environment(),
    }
print(json.dumps(out))
"""
)

_SUBPROCESS_CASES = [
    (spec, version)
    for spec in ["~=3.8", "~=3.8.1", "==3.*", "!=3.9.*", "<=3.9", ">3.9", "==3.8.0", "===3.8", ">=3.8,!=3.9.1,<4"]
    for version in ["3.8", "3.9.1", "3.9.post1", "3.13.0rc1", "4.0", "3.8.0+local"]
]

# Markers each interpreter evaluates with its own environment (and an extra), against packaging's answer.
_MARKER_CASES = [
    (marker, extra)
    for marker in [
        'python_version < "3.11"',
        "'3.9' < python_version and python_full_version != '3.11.2'",
        'python_full_version >= "3.11.5" or implementation_name == "pypy"',
        'platform_python_implementation == "CPython" and sys_platform == "linux"',
        'extra == "Crt_Speedups" and os_name in "posix nt"',
        "implementation_version ~= '7.3' or platform_release >= '5'",
        'platform_machine not in "arm64 aarch64" and (python_version ~= "3.8" or platform_system == "Darwin")',
    ]
    for extra in ("", "crt-speedups")
]


def _interpreters(which: str) -> list[str]:
    if which == "pypy3":
        found = shutil.which("pypy3") or ("/usr/bin/pypy3" if os.access("/usr/bin/pypy3", os.X_OK) else None)
        return [found] if found else []
    pattern = os.path.join(PYENV_ROOT, "versions", which + ".*", "bin", "python")
    return sorted(p for p in glob.glob(pattern) if os.access(p, os.X_OK))


@pytest.mark.parametrize("which", ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "pypy3"])
def test_runs_under_other_interpreters(which: str) -> None:
    interpreters = _interpreters(which)
    if not interpreters:
        if which == "pypy3":
            pytest.skip("no pypy3 interpreter on PATH or in /usr/bin")
        pytest.skip(f"no CPython {which} interpreter matching {PYENV_ROOT}/versions/{which}.*/bin/python")
    expected_matches = [SpecifierSet(s, prereleases=True).contains(v) for s, v in _SUBPROCESS_CASES]
    for executable in interpreters:
        proc = subprocess.run(
            [executable, "-I", "-c", _CHILD, str(RUNTIME), json.dumps(_SUBPROCESS_CASES), json.dumps(_MARKER_CASES)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, f"{executable} failed:\n{proc.stderr}"
        out = json.loads(proc.stdout)
        assert out["tags"], executable
        assert len(out["tags"]) == len(set(out["tags"])), executable
        assert out["implementation"] == ("pypy" if which == "pypy3" else "cpython")
        assert out["check_empty"] is None
        assert out["check_99"].startswith("this archive needs Python >=99 (requires-python of myapp 1.0) but this is ")
        assert out["platform_python_version"] in out["check_99"]
        assert out["check_own"] is None
        assert out["check_env"] is None  # archives made before markers were recorded: ignored
        assert out["check_markers"] is None
        assert out["check_flip"].startswith('this archive needs x (y 1 requires it where python_version >= "3.8")')
        assert out["python_version"] == out["platform_python_version"]
        assert out["matches"] == expected_matches
        assert out["markers"] == [
            markers.Marker(m).evaluate(dict(out["environment"], extra=e)) for m, e in _MARKER_CASES
        ], executable
        reference = out["reference"]
        if reference is not None:
            if tuple(int(p) for p in reference["version"].split(".")[:2]) >= (26, 3):
                assert out["tags"] == reference["tags"], executable
            else:
                # Older packaging releases (e.g. pip's vendored 21.3) put the
                # linux_<arch> platform last, and the oldest ones have no
                # cpXY-none-any tag; otherwise the set of tags is the same.
                ours = set(out["tags"])
                if not any(t.startswith("cp") and t.endswith("-none-any") for t in reference["tags"]):
                    ours = {t for t in ours if not (t.startswith("cp") and t.endswith("-none-any"))}
                assert ours == set(reference["tags"]), (executable, reference["version"])
            assert out["environment"] == reference["environment"], executable
