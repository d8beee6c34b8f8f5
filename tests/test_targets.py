"""Targets: parsing and tag expansion, marker evaluation for a target, and archives resolved for other targets.

The end-to-end tests pack ``sample_projects/targetapp`` on the build interpreter for other targets, from
wheels made here: ``fakenative`` (one wheel per tag; its module reports the tag it was made for),
``tomli`` and ``winonly`` (pure).
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.tags import Tag

from cli_support import cli_env, copy_sample, exearchive, one_line_error, read_manifest, succeeded
from exearchive.backend import _config, _targets
from exearchive.backend._errors import ConfigError
from helpers import check, clean_env, offline_env, run_archive
from launcher_support import python_or_skip

FAKENATIVE_TAGS = [
    "cp39-cp39-manylinux_2_17_x86_64",
    "cp311-cp311-manylinux_2_17_x86_64",
    "cp312-cp312-manylinux_2_17_x86_64",
    "pp39-pypy39_pp73-manylinux_2_17_x86_64",
    "cp312-cp312-manylinux_2_28_aarch64",
    "cp313-cp313-macosx_11_0_arm64",
    "cp311-cp311-musllinux_1_2_x86_64",
    "cp312-cp312-win_amd64",
]


# -- parsing and expansion


def _parse(value: str) -> _targets.Target:
    return _targets.parse(value, Path("."), "[tool.exearchive] targets")


def test_manylinux_2_28_takes_every_glibc_level_down_to_2_17_then_the_alias_and_plain_linux() -> None:
    target = _parse("cp312-manylinux_2_28_aarch64")
    levels = [f"manylinux_2_{minor}_aarch64" for minor in range(28, 16, -1)]
    assert target.platforms() == [*levels, "manylinux2014_aarch64", "linux_aarch64"]
    assert target.tags[0] == Tag("cp312", "cp312", "manylinux_2_28_aarch64")
    assert Tag("cp312", "abi3", "manylinux2014_aarch64") in target.tags
    assert Tag("py3", "none", "any") in target.tags
    assert target.tags.index(Tag("cp312", "cp312", "linux_aarch64")) < target.tags.index(
        Tag("cp312", "abi3", "manylinux_2_28_aarch64")
    )
    assert target.abis() == ["cp312", "abi3", "none"]
    assert not target.is_host


def test_manylinux_x86_64_goes_down_to_glibc_2_5_with_every_legacy_alias_as_packaging_does() -> None:
    platforms = _parse("cp310-manylinux_2_17_x86_64").platforms()
    assert platforms[:2] == ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]
    assert platforms.index("manylinux2010_x86_64") == platforms.index("manylinux_2_12_x86_64") + 1
    assert platforms[-3:] == ["manylinux_2_5_x86_64", "manylinux1_x86_64", "linux_x86_64"]


def test_musllinux_and_macos_and_windows_and_pypy_shorthands() -> None:
    assert _parse("cp311-musllinux_1_2_x86_64").platforms() == [
        "musllinux_1_2_x86_64",
        "musllinux_1_1_x86_64",
        "musllinux_1_0_x86_64",
        "linux_x86_64",
    ]
    mac = _parse("cp313-macosx_11_0_arm64")
    assert mac.platforms()[:2] == ["macosx_11_0_arm64", "macosx_11_0_universal2"]
    assert mac.environment["sys_platform"] == "darwin" and mac.environment["platform_machine"] == "arm64"
    windows = _parse("cp312-win_amd64")
    assert windows.platforms() == ["win_amd64"]
    assert windows.environment["os_name"] == "nt" and windows.environment["platform_machine"] == "AMD64"
    pypy = _parse("pp39-manylinux_2_17_x86_64")
    assert pypy.tags[0] == Tag("pp39", "pypy39_pp73", "manylinux_2_17_x86_64")
    assert pypy.implementation == "pp" and pypy.environment["implementation_name"] == "pypy"
    assert Tag("cp39", "cp39", "manylinux_2_17_x86_64") not in pypy.tags


def test_a_shorthand_does_not_know_the_patch_version_or_the_kernel() -> None:
    environment = _parse("cp312-manylinux_2_28_aarch64").environment
    assert environment["python_version"] == "3.12" and environment["platform_machine"] == "aarch64"
    for unknown in ("python_full_version", "platform_release", "platform_version", "implementation_version"):
        assert unknown not in environment


def test_host_is_this_interpreter() -> None:
    target = _parse("host")
    assert target.is_host
    assert target.environment["python_version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert "python_full_version" in target.environment


@pytest.mark.parametrize("value", ["cp312", "linux_x86_64", "cp312-solaris_sparc", "py3-manylinux_2_17_x86_64"])
def test_a_value_that_is_no_target_names_the_key_the_value_and_the_accepted_forms(value: str) -> None:
    with pytest.raises(ConfigError) as error:
        _parse(value)
    assert str(error.value).startswith(f"[tool.exearchive] targets: {value!r}")
    assert "'host', a shorthand <impl><XY>-<platform tag>" in str(error.value)
    assert "a complete platform file ending in .json" in str(error.value)


def _complete(host: _targets.Target) -> dict[str, object]:
    return {"marker_environment": dict(host.environment), "compatible_tags": [str(t) for t in host.tags[:5]]}


def test_a_complete_platform_file_gives_every_variable_and_its_tags_in_order(tmp_path: Path) -> None:
    host = _targets.host()
    (tmp_path / "prod.json").write_text(json.dumps(_complete(host)))
    target = _targets.parse("prod.json", tmp_path, "--target")
    assert target.tags == host.tags[:5] and not target.is_host
    assert target.environment["platform_release"] == host.environment["platform_release"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"compatible_tags": ["py3-none-any"]}', "'marker_environment' must be an object of strings"),
        ("missing-release", "'marker_environment' lacks platform_release"),
        ("no-tags", "'compatible_tags' must be a non-empty list of tags"),
        ("bad-tag", "'nonsense' in 'compatible_tags' is not a wheel tag"),
    ],
)
def test_a_bad_complete_platform_file_is_named_with_its_problem(tmp_path: Path, content: str, problem: str) -> None:
    data = _complete(_targets.host())
    if content == "missing-release":
        del data["marker_environment"]["platform_release"]  # type: ignore[attr-defined]
        content = json.dumps(data)
    elif content == "no-tags":
        content = json.dumps({**data, "compatible_tags": []})
    elif content == "bad-tag":
        content = json.dumps({**data, "compatible_tags": ["nonsense"]})
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as error:
        _targets.parse("bad.json", tmp_path, "--target")
    assert str(error.value).startswith(f"complete platform {path}: ")
    assert problem in str(error.value)


def test_a_missing_complete_platform_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"complete platform .*gone\.json: cannot read it"):
        _targets.parse("gone.json", tmp_path, "--target")


# -- markers


def test_markers_are_evaluated_for_the_target_not_the_host() -> None:
    cp39 = _parse("cp39-manylinux_2_17_x86_64")
    windows = _parse("cp312-win_amd64")
    assert _targets.evaluate(Marker("python_version < '3.11'"), cp39)
    assert not _targets.evaluate(Marker("sys_platform == 'win32'"), cp39)
    assert _targets.evaluate(Marker("sys_platform == 'win32' and os_name == 'nt'"), windows)
    assert _targets.evaluate(Marker("extra == 'fast'"), windows, "fast")
    assert not _targets.evaluate(Marker("extra == 'fast'"), windows, "")


def test_a_marker_reading_what_a_shorthand_does_not_know_stops_with_the_fix() -> None:
    target = _parse("cp312-manylinux_2_28_aarch64")
    with pytest.raises(ConfigError) as error:
        _targets.evaluate(Marker('platform_release >= "5"'), target, "", "oldlib 1.0 requires newkernel")
    assert str(error.value) == (
        "oldlib 1.0 requires newkernel: the marker 'platform_release >= \"5\"' reads platform_release, which "
        "target cp312-manylinux_2_28_aarch64 does not say; give a complete platform (a JSON file from "
        "`exearchive platform` run on such a machine)"
    )
    # whatever the host says: the host's values are never used for a shorthand
    with pytest.raises(ConfigError, match="reads python_full_version"):
        _targets.evaluate(Marker("python_full_version >= '3.0'"), target)


# -- end to end


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(
    directory: Path, name: str, version: str, tag: str, files: dict[str, str], requires: tuple[str, ...] = ()
) -> Path:
    """A small but correct wheel: the files, METADATA, WHEEL and RECORD."""
    info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {line}\n" for line in requires
    )
    pure = tag.endswith("-none-any")
    wheel = f"Wheel-Version: 1.0\nGenerator: test_targets\nRoot-Is-Purelib: {str(pure).lower()}\nTag: {tag}\n"
    members = {**files, f"{info}/METADATA": metadata, f"{info}/WHEEL": wheel}
    path = directory / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as archive:
        records = []
        for member, text in members.items():
            data = text.encode()
            archive.writestr(member, data)
            records.append(_record_line(member, data))
        records.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(records) + "\n")
    return path


@pytest.fixture(scope="module")
def target_links(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The fake wheels, and targetapp's wheel built with pip."""
    fakes = tmp_path_factory.mktemp("target-fakes")
    for tag in FAKENATIVE_TAGS:
        make_wheel(fakes, "fakenative", "1.0", tag, {"fakenative.py": f"TAG = {tag!r}\n"})
    make_wheel(fakes, "tomli", "2.0.1", "py3-none-any", {"tomli/__init__.py": "LOADS = 'fake'\n"})
    make_wheel(fakes, "winonly", "1.0", "py3-none-any", {"winonly.py": "ON = 'windows'\n"})
    apps = tmp_path_factory.mktemp("target-apps")
    source = copy_sample("targetapp", tmp_path_factory.mktemp("target-sources"))
    check(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", apps, source],
        env=offline_env(wheelhouse),
    )
    return [fakes, apps]


@pytest.fixture(scope="module")
def packed(wheelhouse: Path, target_links: list[Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """targetapp packed for each target."""
    out = tmp_path_factory.mktemp("target-archives")
    env = cli_env(wheelhouse, *target_links)
    result = {}
    for target in (
        "host",
        "cp39-manylinux_2_17_x86_64",
        "cp312-manylinux_2_17_x86_64",
        "pp39-manylinux_2_17_x86_64",
        "cp312-win_amd64",
    ):
        archive = out / f"{target}.pyz"
        succeeded(exearchive("pack", "targetapp", "--target", target, "-o", archive, env=env))
        result[target] = archive
    return result


def _distributions(archive: Path) -> dict[str, str]:
    return {d["name"]: d["wheel"] for d in read_manifest(archive)["distributions"]}


def test_each_target_gets_its_own_native_wheel_and_its_own_marker_dependencies(packed: dict[str, Path]) -> None:
    host_tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    expected = {
        "host": (f"fakenative-1.0-{host_tag}-{host_tag}-manylinux_2_17_x86_64.whl", set()),
        "cp39-manylinux_2_17_x86_64": ("fakenative-1.0-cp39-cp39-manylinux_2_17_x86_64.whl", {"tomli"}),
        "cp312-manylinux_2_17_x86_64": ("fakenative-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", set()),
        "pp39-manylinux_2_17_x86_64": ("fakenative-1.0-pp39-pypy39_pp73-manylinux_2_17_x86_64.whl", {"tomli"}),
        "cp312-win_amd64": ("fakenative-1.0-cp312-cp312-win_amd64.whl", {"winonly"}),
    }
    for target, (fakenative, others) in expected.items():
        dists = _distributions(packed[target])
        assert dists["fakenative"] == fakenative, target
        assert set(dists) == {"targetapp", "fakenative", *others}, target
        native = read_manifest(packed[target])["needs"]["native"]
        assert [n["dist"] for n in native] == ["fakenative 1.0"], target
        assert native[0]["tags"] == [fakenative[len("fakenative-1.0-") : -len(".whl")]], target


def test_bytecode_is_shipped_only_for_the_build_interpreter(packed: dict[str, Path]) -> None:
    assert read_manifest(packed["host"])["pyc"]
    assert read_manifest(packed["cp39-manylinux_2_17_x86_64"])["pyc"] == []


def test_a_matching_interpreter_on_this_machine_compiles_the_targets_bytecode(
    wheelhouse: Path, target_links: list[Path], tmp_path: Path
) -> None:
    """Built on 3.11 for cp312 with a python3.12 on PATH: it compiles, so the first start on 3.12 compiles nothing."""
    python = python_or_skip("3.12")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3.12").symlink_to(python)
    (bin_dir / "python3.9").symlink_to(python)  # a liar: asked who it is, it says 3.12, so cp39 gets nothing
    env = cli_env(wheelhouse, *target_links, extra={"PATH": f"{bin_dir}:/usr/bin:/bin"})
    archives = {}
    for target in ("cp312-manylinux_2_17_x86_64", "cp39-manylinux_2_17_x86_64"):
        archives[target] = tmp_path / f"{target}.pyz"
        succeeded(exearchive("pack", "targetapp", "--target", target, "-o", archives[target], env=env))
    assert read_manifest(archives["cp312-manylinux_2_17_x86_64"])["pyc"] == ["cpython-312"]
    assert read_manifest(archives["cp39-manylinux_2_17_x86_64"])["pyc"] == []
    with zipfile.ZipFile(archives["cp312-manylinux_2_17_x86_64"]) as outer:
        names = zipfile.ZipFile(outer.open("__exearchive__/payload.zip")).namelist()
    assert any(name.endswith(".cpython-312.pyc") for name in names)
    result = run_archive(
        archives["cp312-manylinux_2_17_x86_64"], root=tmp_path / "cache", python=python, env={"EXEARCHIVE_VERBOSE": "1"}
    )
    assert result.stdout.strip() == "tag=cp312-cp312-manylinux_2_17_x86_64 python=3.12 with=-", result.stderr
    assert "extracted" in result.stderr and " modules for cpython-312" not in result.stderr  # nothing to compile


@pytest.mark.parametrize(
    ("target", "python", "expected"),
    [
        ("cp39-manylinux_2_17_x86_64", "3.9", "tag=cp39-cp39-manylinux_2_17_x86_64 python=3.9 with=tomli"),
        ("cp312-manylinux_2_17_x86_64", "3.12", "tag=cp312-cp312-manylinux_2_17_x86_64 python=3.12 with=-"),
        ("pp39-manylinux_2_17_x86_64", "pypy3", "tag=pp39-pypy39_pp73-manylinux_2_17_x86_64 python=3.9 with=tomli"),
    ],
)
def test_a_foreign_target_archive_runs_on_its_interpreter(
    packed: dict[str, Path], tmp_path: Path, target: str, python: str, expected: str
) -> None:
    interpreter = python_or_skip(python)
    if python == "pypy3":
        version = check([interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).stdout.strip()
        if version != "3.9":
            pytest.skip(f"pypy3 here is PyPy for Python {version}, not 3.9")
    result = run_archive(packed[target], root=tmp_path / "cache", python=interpreter)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_a_foreign_target_archive_is_refused_by_another_interpreter_in_one_line(
    packed: dict[str, Path], tmp_path: Path
) -> None:
    result = run_archive(packed["cp312-manylinux_2_17_x86_64"], root=tmp_path / "cache", python=sys.executable)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "fakenative 1.0" in lines[0], result.stderr
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_a_dependency_marker_reading_platform_release_stops_a_shorthand_target(
    wheelhouse: Path, target_links: list[Path], tmp_path: Path
) -> None:
    make_wheel(
        tmp_path, "kernelish", "1.0", "py3-none-any", {"kernelish.py": ""}, ('fakenative; platform_release >= "5"',)
    )
    env = cli_env(wheelhouse, *target_links, tmp_path)
    result = exearchive(
        "pack", "kernelish", "--target", "cp312-manylinux_2_17_x86_64", "-o", tmp_path / "k.pyz", env=env
    )
    message = one_line_error(result)
    assert message.endswith(
        "the marker 'platform_release >= \"5\"' reads platform_release, which target cp312-manylinux_2_17_x86_64 "
        "does not say; give a complete platform (a JSON file from `exearchive platform` run on such a machine)"
    ), message
    assert "kernelish" in message


def test_an_unknown_target_on_the_command_line_names_the_option(
    wheelhouse: Path, target_links: list[Path], tmp_path: Path
) -> None:
    env = cli_env(wheelhouse, *target_links)
    message = one_line_error(exearchive("pack", "targetapp", "--target", "cp312-beos", env=env, cwd=tmp_path))
    assert "--target" in message and "'cp312-beos'" in message and "unknown platform tag" in message


def test_exearchive_build_for_a_foreign_target_resolves_and_names_the_archive_for_it(
    wheelhouse: Path, target_links: list[Path], tmp_path: Path
) -> None:
    project = copy_sample("targetapp", tmp_path)
    env = cli_env(wheelhouse, *target_links)
    result = succeeded(
        exearchive(
            "build",
            project,
            "--no-isolation",
            "--target",
            "cp39-manylinux_2_17_x86_64",
            "-o",
            "out/",
            env=env,
            cwd=tmp_path,
        )
    )
    archive = tmp_path / "out" / "targetapp-1.0-cp39-manylinux_2_17_x86_64.pyz"
    assert result.stdout.strip().endswith(archive.name)
    assert set(_distributions(archive)) == {"targetapp", "fakenative", "tomli"}
    ran = run_archive(archive, root=tmp_path / "cache", python=python_or_skip("3.9"))
    assert ran.stdout.strip() == "tag=cp39-cp39-manylinux_2_17_x86_64 python=3.9 with=tomli", ran.stderr


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
    except OSError:
        return False
    return True


@pytest.mark.network
def test_numpy_for_cpython_3_12_built_on_another_python_computes_under_3_12(tmp_path: Path) -> None:
    if sys.version_info[:2] == (3, 12):
        pytest.skip("the build interpreter is 3.12 itself")
    if not _pypi_reachable():
        pytest.skip("PyPI cannot be reached")
    python = python_or_skip("3.12")
    archive = tmp_path / "numpy.pyz"
    env = clean_env({"PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    target = "cp312-manylinux_2_28_x86_64"
    succeeded(exearchive("pack", "numpy>=2,<3", "--interpreter", "--target", target, "-o", archive, env=env))
    wheel = _distributions(archive)["numpy"]
    assert "-cp312-cp312-manylinux" in wheel and wheel.endswith("_x86_64.whl"), wheel
    code = "import numpy; print(int(numpy.arange(10).sum()), numpy.__version__.split('.')[0])"
    result = run_archive(archive, "-c", code, root=tmp_path / "cache", python=python)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["45", "2"]


def test_the_targets_key_takes_a_list_of_targets(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.exearchive]\ntargets = ["cp312-win_amd64"]\n')
    assert _config.load(tmp_path, None).targets == ("cp312-win_amd64",)
    assert _config.load(tmp_path / "none", None).targets == ()
    (tmp_path / "pyproject.toml").write_text('[tool.exearchive]\ntargets = "host"\n')
    with pytest.raises(ConfigError, match="must be a list of strings"):
        _config.load(tmp_path, None)


def _wheel_entry(wheel: Path, base: Path) -> str:
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    path = wheel.relative_to(base).as_posix()
    return f'[[packages.wheels]]\nname = "{wheel.name}"\npath = "{path}"\nhashes = {{sha256 = "{digest}"}}\n'


def _lock_project(target_links: list[Path], tmp_path: Path) -> None:
    """A pylock.toml in tmp_path pinning targetapp and its dependencies, every wheel of each."""
    fakes, apps = target_links
    lines = ['lock-version = "1.0"', 'created-by = "test_targets"', ""]
    packages = [
        ("targetapp", "1.0", None, apps),
        ("fakenative", "1.0", None, fakes),
        ("tomli", "2.0.1", "python_version < '3.11'", fakes),
        ("winonly", "1.0", "sys_platform == 'win32'", fakes),
    ]
    for name, version, marker, directory in packages:
        lines += ["[[packages]]", f'name = "{name}"', f'version = "{version}"']
        if marker:
            lines.append(f'marker = "{marker}"')
        for wheel in sorted(directory.glob(f"{name}-{version}-*.whl")):
            copy = tmp_path / "wheels" / wheel.name
            copy.parent.mkdir(exist_ok=True)
            copy.write_bytes(wheel.read_bytes())
            lines.append(_wheel_entry(copy, tmp_path))
    (tmp_path / "pylock.toml").write_text("\n".join(lines) + "\n")


def test_a_lock_is_selected_for_a_complete_platform_and_refused_for_a_shorthand(
    wheelhouse: Path, target_links: list[Path], tmp_path: Path
) -> None:
    _lock_project(target_links, tmp_path)
    shorthand = _parse("cp39-manylinux_2_17_x86_64")
    unknown = {"python_full_version": "3.9.18", "platform_release": "6.1", "platform_version": "#1 SMP"}
    environment = {**shorthand.environment, **unknown, "implementation_version": "3.9.18"}
    platform = {"marker_environment": environment, "compatible_tags": [str(t) for t in shorthand.tags]}
    (tmp_path / "cp39.json").write_text(json.dumps(platform))
    env = cli_env(wheelhouse, *target_links)
    archive = tmp_path / "locked.pyz"
    succeeded(
        exearchive(
            "pack", "targetapp", "--lock", "pylock.toml", "--target", "cp39.json", "-o", archive, env=env, cwd=tmp_path
        )
    )
    dists = _distributions(archive)
    assert dists["fakenative"] == "fakenative-1.0-cp39-cp39-manylinux_2_17_x86_64.whl"
    assert set(dists) == {"targetapp", "fakenative", "tomli"}
    ran = run_archive(archive, root=tmp_path / "cache", python=python_or_skip("3.9"))
    assert ran.stdout.strip() == "tag=cp39-cp39-manylinux_2_17_x86_64 python=3.9 with=tomli", ran.stderr
    result = exearchive(
        "pack", "targetapp", "--lock", "pylock.toml", "--target", "cp39-manylinux_2_17_x86_64", env=env, cwd=tmp_path
    )
    message = one_line_error(result)
    assert (
        "--lock: selecting from the lock for target cp39-manylinux_2_17_x86_64 needs every marker variable" in message
    )
    assert "give a complete platform" in message


def test_a_dependency_without_a_wheel_for_the_target_fails_naming_it_and_why(
    wheelhouse: Path, target_links: list[Path], tmp_path: Path
) -> None:
    env = cli_env(wheelhouse, *target_links)
    result = exearchive(
        "pack", "targetapp", "--target", "cp313-musllinux_1_2_aarch64", "-o", tmp_path / "a.pyz", env=env
    )
    assert result.returncode == 1, result.stderr
    assert "fakenative" in result.stderr
    assert "for target cp313-musllinux_1_2_aarch64, pip takes only wheels that fit it" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_wheel_pip_took_for_the_host_markers_is_dropped_when_the_target_does_not_need_it(
    wheelhouse: Path, target_links: list[Path], tmp_path: Path
) -> None:
    requires = ("fakenative", "tomli; python_version >= '3.11'")
    make_wheel(tmp_path, "newpy", "1.0", "py3-none-any", {"newpy.py": ""}, requires)
    env = cli_env(wheelhouse, *target_links, tmp_path)
    for target, expected in (
        ("host", {"newpy", "fakenative", *(["tomli"] if sys.version_info >= (3, 11) else [])}),
        ("cp39-manylinux_2_17_x86_64", {"newpy", "fakenative"}),
    ):
        archive = tmp_path / f"{target}.pyz"
        succeeded(exearchive("pack", "newpy", "-e", "newpy", "--target", target, "-o", archive, env=env))
        assert set(_distributions(archive)) == expected, target


def test_the_platform_command_writes_a_complete_platform_a_build_takes_as_this_interpreter(tmp_path: Path) -> None:
    succeeded(exearchive("platform", "-o", tmp_path / "here.json", env=clean_env()))
    target = _targets.parse("here.json", tmp_path, "--target")
    host = _targets.host()
    assert dict(target.environment) == {key: host.environment[key] for key in _targets.VARIABLES}
    assert target.tags == host.tags and not target.is_host
    release = host.environment["platform_release"]
    assert _targets.evaluate(Marker(f"platform_release == '{release}'"), target)


def test_a_requirement_given_with_a_marker_is_taken_when_it_holds_on_the_target(
    wheelhouse: Path, target_links: list[Path], tmp_path: Path
) -> None:
    env = cli_env(wheelhouse, *target_links)
    asked = ["fakenative", "tomli; python_version < '3.11'", "-e", "fakenative"]
    for target, expected in (("host", {"fakenative"}), ("cp39-manylinux_2_17_x86_64", {"fakenative", "tomli"})):
        if target == "host" and sys.version_info < (3, 11):
            expected = {"fakenative", "tomli"}
        archive = tmp_path / f"{target}.pyz"
        succeeded(exearchive("pack", *asked, "--target", target, "-o", archive, env=env))
        assert set(_distributions(archive)) == expected, target
