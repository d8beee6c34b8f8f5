"""Several targets in one archive: files stored once, a cache id per target, the launcher's choice.

``sample_projects/targetapp`` is packed on the build interpreter for the host, cp39, cp312 and pp39 on
manylinux x86_64, and cp312 on aarch64, from the fake wheels of ``test_targets`` (``fakenative`` reports
the tag its wheel was made for; ``tomli`` comes only where ``python_version < "3.11"``).  The archive is run
under the interpreters of this machine, each with its own cache root.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from cli_support import cli_env, exearchive, one_line_error, read_manifest, succeeded
from exearchive.backend import _config, _multi, _pack
from exearchive.backend._errors import ConfigError
from exearchive.runtime import CHOSEN, ID_LENGTH, TARGET_LISTS, interpreter_key
from helpers import check, run_archive
from launcher_support import python_or_skip
from test_targets import target_links  # noqa: F401  (a fixture)

HOST_TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"
TARGETS = [
    "host",
    "cp39-manylinux_2_17_x86_64",
    "cp312-manylinux_2_17_x86_64",
    "pp39-manylinux_2_17_x86_64",
    "cp312-manylinux_2_28_aarch64",
]
OUTPUT = {
    "host": f"tag={HOST_TAG}-{HOST_TAG}-manylinux_2_17_x86_64 python={sys.version_info[0]}.{sys.version_info[1]} "
    "with=-",
    "3.9": "tag=cp39-cp39-manylinux_2_17_x86_64 python=3.9 with=tomli",
    "3.12": "tag=cp312-cp312-manylinux_2_17_x86_64 python=3.12 with=-",
    "pypy3": "tag=pp39-pypy39_pp73-manylinux_2_17_x86_64 python=3.9 with=tomli",
}


@pytest.fixture(scope="module")
def multi(wheelhouse: Path, target_links: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("multi")
    env = cli_env(wheelhouse, *target_links)
    options = [item for target in TARGETS for item in ("--target", target)]
    result = succeeded(exearchive("pack", "targetapp", *options, "-o", out / "", env=env))
    archive = out / "targetapp-1.0-multi.pyz"
    assert result.stdout.strip().endswith(archive.name), result.stdout
    return archive


def _payload_names(archive: Path) -> list[str]:
    with zipfile.ZipFile(archive) as outer:
        return zipfile.ZipFile(outer.open("__exearchive__/payload.zip")).namelist()


def _python(name: str) -> str:
    python = python_or_skip(name)
    if name == "pypy3":
        version = check([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).stdout.strip()
        if version != "3.9":
            pytest.skip(f"pypy3 here is PyPy for Python {version}, not 3.9")
    return python


def test_the_manifest_lists_every_target_with_its_own_id_distributions_and_needs(multi: Path) -> None:
    manifest = read_manifest(multi)
    assert manifest["format"] == 2
    targets = manifest["targets"]
    host = f"{HOST_TAG}-" + targets[0]["target"].split("-", 1)[1]
    assert [t["target"] for t in targets] == [host, *TARGETS[1:]]
    assert targets[0]["target"].startswith(f"{HOST_TAG}-manylinux_") and targets[0]["target"].endswith("_x86_64")
    ids = [t["id"] for t in targets]
    assert len(set(ids)) == len(ids) and all(len(i) == ID_LENGTH for i in ids)
    with_tomli = [t["target"] for t in targets if "tomli" in {d["name"] for d in t["distributions"]}]
    assert with_tomli == ["cp39-manylinux_2_17_x86_64", "pp39-manylinux_2_17_x86_64"]
    for target in targets:
        assert [n["dist"] for n in target["needs"]["native"]] == ["fakenative 1.0"]
    # the warm path's literal holds no file list
    with zipfile.ZipFile(multi) as outer:
        main = outer.read("__main__.py").decode()
        assert "site-packages/targetapp/__init__.py" not in main
        assert [n for n in outer.namelist() if n.startswith(TARGET_LISTS)] == [f"{TARGET_LISTS}{k}" for k in range(5)]


def test_a_file_the_same_in_every_target_is_stored_once_and_variants_under_their_target(multi: Path) -> None:
    names = _payload_names(multi)
    assert len(names) == len(set(names))
    assert names.count("site-packages/targetapp/__init__.py") == 1
    assert not any(n.endswith("/site-packages/targetapp/__init__.py") for n in names if n.startswith("~"))
    variants = sorted(n for n in names if n.endswith("site-packages/fakenative.py"))
    assert variants == ["site-packages/fakenative.py"] + [f"~{k}/site-packages/fakenative.py" for k in range(1, 5)]
    # tomli: first had by target 1 (cp39), the same bytes in pp39: stored once, plain
    assert "site-packages/tomli/__init__.py" in names and not any(
        "tomli/__init__.py" in n for n in names if n[0] == "~"
    )
    with zipfile.ZipFile(multi) as outer:
        lists = [outer.read(f"{TARGET_LISTS}{k}").decode().split() for k in range(5)]
    assert "site-packages/tomli/__init__.py" in lists[1] and "site-packages/tomli/__init__.py" in lists[3]
    assert not any("tomli" in n for n in lists[0] + lists[2] + lists[4])
    assert "~2/site-packages/fakenative.py" in lists[2] and "site-packages/fakenative.py" in lists[0]
    assert read_manifest(multi)["targets"][1]["files"] == len(lists[1])


@pytest.mark.parametrize("python", ["host", "3.9", "3.12", "pypy3"])
def test_each_interpreter_runs_the_first_target_that_fits_it_and_remembers_the_choice(
    multi: Path, tmp_path: Path, python: str
) -> None:
    interpreter = sys.executable if python == "host" else _python(python)
    root = tmp_path / "cache"
    first = run_archive(multi, root=root, python=interpreter, env={"EXEARCHIVE_VERBOSE": "1"})
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == OUTPUT[python]
    assert "cold:" in first.stderr and "remembered target" in first.stderr
    manifest = read_manifest(multi)
    index = {"host": 0, "3.9": 1, "3.12": 2, "pypy3": 3}[python]
    chosen_id = manifest["targets"][index]["id"]
    entries = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
    assert entries == [chosen_id]
    links = list((root / CHOSEN).iterdir())
    assert len(links) == 1 and links[0].is_symlink() and os.readlink(links[0]) == chosen_id
    assert links[0].name.startswith(manifest["id"] + "-")
    second = run_archive(multi, root=root, python=interpreter, env={"EXEARCHIVE_VERBOSE": "1"})
    assert second.stdout.strip() == OUTPUT[python], second.stderr
    assert "cold" not in second.stderr and "warm:" in second.stderr and "fits" not in second.stderr


def test_targets_used_by_several_interpreters_get_an_entry_each(multi: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    for python in (sys.executable, _python("3.9")):
        assert run_archive(multi, root=root, python=python).returncode == 0
    ids = [t["id"] for t in read_manifest(multi)["targets"]]
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == sorted(ids[:2])
    assert sorted(os.readlink(p) for p in (root / CHOSEN).iterdir()) == sorted(ids[:2])
    for target_id, extracted in ((ids[0], False), (ids[1], True)):
        assert (root / target_id / "site-packages" / "tomli").exists() is extracted
        assert not any(p.name.startswith("~") for p in (root / target_id).iterdir())


def test_a_wrong_or_missing_choice_takes_the_cold_path_again(multi: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    assert run_archive(multi, root=root).returncode == 0
    (link,) = (root / CHOSEN).iterdir()
    link.unlink()
    link.symlink_to("0" * ID_LENGTH)  # not one of the archive's targets
    again = run_archive(multi, root=root, env={"EXEARCHIVE_VERBOSE": "1"})
    assert again.stdout.strip() == OUTPUT["host"] and "fits this interpreter" in again.stderr
    assert os.readlink(link) == read_manifest(multi)["targets"][0]["id"]
    assert "extracted" not in again.stderr  # the entry was ready: only the choice was made again


def test_no_target_fits_one_line_per_target_and_nothing_written(multi: Path, tmp_path: Path) -> None:
    python = python_or_skip("3.10")
    root = tmp_path / "cache"
    result = run_archive(multi, root=root, python=python)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"{multi.name}: error: none of the 5 targets of ") and "CPython 3.10" in lines[0]
    assert len(lines) == 6 and "Traceback" not in result.stderr
    assert lines[5] == "  cp312-manylinux_2_28_aarch64: needs an aarch64 machine; this is x86_64"
    assert lines[2] == (
        "  cp39-manylinux_2_17_x86_64: its native code is built for cp39-cp39-manylinux_2_17_x86_64 (fakenative 1.0); "
        "this is CPython 3.10.13"
    )
    assert not root.exists() or not any(root.iterdir())


def test_no_target_fits_but_an_interpreter_that_fits_one_runs_it(multi: Path, tmp_path: Path) -> None:
    python = python_or_skip("3.10")
    env = {"EXEARCHIVE_REEXEC": "1", "EXEARCHIVE_PYTHON": python_or_skip("3.12"), "EXEARCHIVE_VERBOSE": "1"}
    result = run_archive(multi, root=tmp_path / "cache", python=python, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == OUTPUT["3.12"]
    assert "fits this archive: running it with that" in result.stderr


def test_a_single_target_archive_shares_the_entry_of_the_same_target_in_a_multi_target_one(
    wheelhouse: Path,
    target_links: list[Path],  # noqa: F811
    multi: Path,
    tmp_path: Path,
) -> None:
    env = cli_env(wheelhouse, *target_links)
    single = tmp_path / "cp39.pyz"
    succeeded(exearchive("pack", "targetapp", "--target", "cp39-manylinux_2_17_x86_64", "-o", single, env=env))
    manifest = read_manifest(single)
    assert manifest["format"] == 1 and manifest["target"] == "cp39-manylinux_2_17_x86_64"
    assert manifest["id"] == read_manifest(multi)["targets"][1]["id"]
    root = tmp_path / "cache"
    python = _python("3.9")
    assert run_archive(single, root=root, python=python).stdout.strip() == OUTPUT["3.9"]
    again = run_archive(multi, root=root, python=python, env={"EXEARCHIVE_VERBOSE": "1"})
    assert again.stdout.strip() == OUTPUT["3.9"] and "extracted" not in again.stderr, again.stderr
    assert [p.name for p in root.iterdir() if not p.name.startswith(".")] == [manifest["id"]]


def test_a_listed_target_twice_is_refused_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.exearchive]\ntargets = ["host", "cp312-win_amd64", "host"]\n')
    with pytest.raises(ConfigError) as error:
        _config.load(tmp_path, None)
    assert str(error.value) == "[tool.exearchive] targets lists 'host' twice; list each target once"
    (tmp_path / "pyproject.toml").write_text('[tool.exearchive]\ntargets = ["host", "cp312-win_amd64"]\n')
    assert _config.load(tmp_path, None).targets == ("host", "cp312-win_amd64")


def test_the_same_target_twice_on_the_command_line_is_refused(
    wheelhouse: Path,
    target_links: list[Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    env = cli_env(wheelhouse, *target_links)
    result = exearchive("pack", "targetapp", "--target", "host", "--target", "host", env=env, cwd=tmp_path)
    assert one_line_error(result).endswith("--target lists 'host' twice; list each target once")


# -- unit: dedupe and ids


def _tree(root: Path, files: dict[str, bytes], executable: tuple[str, ...] = ()) -> list[_multi.TreeFile]:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o755 if name in executable else 0o644)
    return _multi.tree_files(_pack.walk(root))


def test_merge_stores_identical_files_once_and_each_variant_under_its_first_target(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a", {"lib/same.py": b"x", "lib/native.py": b"a", "bin/run": b"#!"})
    b = _tree(tmp_path / "b", {"lib/same.py": b"x", "lib/native.py": b"b", "bin/run": b"#!"}, ("bin/run",))
    c = _tree(tmp_path / "c", {"lib/same.py": b"x", "lib/native.py": b"b", "lib/only.py": b"c"})
    merged = _multi.merge([a, b, c])
    names = [name for name, _ in merged.members]
    assert names == sorted(names)
    assert names == ["bin/run", "lib/native.py", "lib/only.py", "lib/same.py", "~1/bin/run", "~1/lib/native.py"]
    assert merged.lists == [
        ["bin/run", "lib/native.py", "lib/same.py"],
        ["lib/same.py", "~1/bin/run", "~1/lib/native.py"],
        ["lib/only.py", "lib/same.py", "~1/lib/native.py"],
    ]
    assert dict(merged.members)["~1/lib/native.py"].read_bytes() == b"b"


def test_a_targets_id_is_its_content_whatever_the_tree_or_the_order(tmp_path: Path) -> None:
    one = _tree(tmp_path / "one", {"a.py": b"1", "b/c.py": b"2"})
    two = _tree(tmp_path / "two", {"b/c.py": b"2", "a.py": b"1"})
    assert _multi.target_id(one) == _multi.target_id(list(reversed(two)))
    assert len(_multi.target_id(one)) == ID_LENGTH
    changed = _tree(tmp_path / "three", {"a.py": b"1", "b/c.py": b"3"})
    moved = _tree(tmp_path / "four", {"a.py": b"1", "b/d.py": b"2"})
    executable = _tree(tmp_path / "five", {"a.py": b"1", "b/c.py": b"2"}, ("a.py",))
    ids = {_multi.target_id(t) for t in (one, changed, moved, executable)}
    assert len(ids) == 4
    digest = hashlib.sha256(b"a.py\x00644\x00" + hashlib.sha256(b"1").hexdigest().encode() + b"\n")
    assert _multi.target_id(one[:1]) == digest.hexdigest()[:ID_LENGTH]


def test_interpreter_key_names_the_choice_link() -> None:
    from exearchive.runtime._choose import link_name

    assert link_name("abc") == "abc-" + interpreter_key()


# -- tools


def _tools(archive: Path, *args: str, root: Path, python: str = sys.executable) -> str:
    result = run_archive(archive, *args, root=root, python=python, env={"EXEARCHIVE_TOOLS": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_info_and_inspect_list_every_target_with_its_distributions_and_needs(
    wheelhouse: Path, multi: Path, tmp_path: Path
) -> None:
    import json

    info = _tools(multi, "info", root=tmp_path / "cache")
    assert "targets (the first that fits runs):" in info
    assert "  cp312-manylinux_2_28_aarch64 (id " in info
    assert ": does not fit: needs an aarch64 machine; this is x86_64" in info
    block = info.split("  cp39-manylinux_2_17_x86_64 (id ")[1].split("  cp312-manylinux_2_17_x86_64")[0]
    assert "tomli 2.0.1" in block.splitlines()[1] and "fakenative 1.0" in block.splitlines()[1]
    assert "native: fakenative 1.0 (cp39-cp39-manylinux_2_17_x86_64)" in info
    data = json.loads(_tools(multi, "info", "--json", root=tmp_path / "cache"))
    assert [t["fits"] for t in data["targets"]] == [True, False, False, False, False]
    assert data["target"] == data["targets"][0]["target"] and data["id"] == data["targets"][0]["id"]
    text = succeeded(exearchive("inspect", multi, env=cli_env(wheelhouse))).stdout
    assert "cp39-manylinux_2_17_x86_64 (id " in text and "  distributions: fakenative 1.0, targetapp 1.0" in text
    described = json.loads(
        succeeded(exearchive("inspect", "--json", "--verify", multi, env=cli_env(wheelhouse))).stdout
    )
    assert [t["target"] for t in described["targets"]][1:] == TARGETS[1:]
    assert described["targets"][1]["needs"]["native"][0]["tags"] == ["cp39-cp39-manylinux_2_17_x86_64"]
    assert described["targets"][4]["problem"] == "needs an aarch64 machine; this is x86_64"


def test_verify_checks_the_chosen_targets_entry_and_every_list(multi: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    python = _python("3.9")
    assert run_archive(multi, root=root, python=python).returncode == 0
    assert "verify: intact" in _tools(multi, "verify", root=root, python=python)
    entry = root / read_manifest(multi)["targets"][1]["id"]
    (entry / "site-packages" / "fakenative.py").write_text("TAG = 'wrong'\n")
    damaged = run_archive(multi, "verify", root=root, python=python, env={"EXEARCHIVE_TOOLS": "1"})
    assert damaged.returncode == 1 and "site-packages/fakenative.py: " in damaged.stdout
    repaired = _tools(multi, "verify", "--repair", root=root, python=python)
    assert "intact" in repaired.splitlines()[-1]
    assert run_archive(multi, root=root, python=python).stdout.strip() == OUTPUT["3.9"]


def test_extract_writes_the_chosen_or_the_named_target(multi: Path, tmp_path: Path) -> None:
    out = _tools(multi, "extract", str(tmp_path / "mine"), root=tmp_path / "cache")
    assert "extracted" in out
    assert f"{HOST_TAG}-{HOST_TAG}-" in (tmp_path / "mine" / "site-packages" / "fakenative.py").read_text()
    _tools(multi, "extract", str(tmp_path / "cp39"), "--target", "cp39-manylinux_2_17_x86_64", root=tmp_path / "c")
    site = tmp_path / "cp39" / "site-packages"
    assert "cp39-cp39-" in (site / "fakenative.py").read_text() and (site / "tomli").is_dir()
    assert not any(p.name.startswith("~") for p in (tmp_path / "cp39").iterdir())
    wrong = run_archive(
        multi,
        "extract",
        str(tmp_path / "x"),
        "--target",
        "cp99-beos",
        root=tmp_path / "c",
        env={"EXEARCHIVE_TOOLS": "1"},
    )
    assert wrong.returncode == 1 and "this archive has no target 'cp99-beos'; its targets: " in wrong.stderr


def test_cache_clear_and_prune_remove_choices_whose_entry_is_gone(multi: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    assert run_archive(multi, root=root).returncode == 0
    (root / CHOSEN / "0123-dangling").symlink_to("f" * ID_LENGTH)
    pruned = _tools(multi, "cache", "prune", root=root)
    assert "removed  1 remembered target choice whose entry is gone" in pruned
    assert len(list((root / CHOSEN).iterdir())) == 1
    cleared = _tools(multi, "cache", "clear", root=root)
    assert "remembered target choice whose entry is gone" in cleared
    assert list((root / CHOSEN).iterdir()) == []


def test_exearchive_build_takes_several_targets_and_names_the_archive_for_them(
    wheelhouse: Path,
    target_links: list[Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    from cli_support import copy_sample

    project = copy_sample("targetapp", tmp_path)
    env = cli_env(wheelhouse, *target_links)
    targets = ["--target", "cp39-manylinux_2_17_x86_64", "--target", "host"]
    result = succeeded(exearchive("build", project, "--no-isolation", *targets, "-o", "out/", env=env, cwd=tmp_path))
    archive = tmp_path / "out" / "targetapp-1.0-multi.pyz"
    assert result.stdout.strip().endswith(archive.name)
    targets_built = read_manifest(archive)["targets"]
    assert len(targets_built) == 2 and targets_built[0]["target"] == "cp39-manylinux_2_17_x86_64"
    ran = run_archive(archive, root=tmp_path / "cache", python=_python("3.9"))
    assert ran.stdout.strip() == OUTPUT["3.9"], ran.stderr
    assert run_archive(archive, root=tmp_path / "cache").stdout.strip() == OUTPUT["host"]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["cp313-cp313-macosx_11_0_arm64"], "needs a macOS arm64 machine; this is Linux x86_64"),
        (["cp312-cp312-win_amd64"], "needs a Windows amd64 machine; this is Linux x86_64"),
        (["cp312-cp312-manylinux_2_28_aarch64"], "needs an aarch64 machine; this is x86_64"),
        (["cp312-cp312-manylinux2014_ppc64le"], "needs a ppc64le machine; this is x86_64"),
    ],
)
def test_a_foreign_machine_is_named_in_a_few_words(tags: list[str], expected: str) -> None:
    import platform

    from exearchive.runtime import _compat

    if sys.platform != "linux" or platform.machine() != "x86_64":
        pytest.skip("the sentences name this machine: written for Linux x86_64")
    needs = {"native": [{"dist": "fakenative 1.0", "tags": tags}]}
    problem = _compat.check(needs, "app.pyz")
    assert problem is not None
    assert _compat.reason(needs, problem) == expected


def test_two_targets_with_the_same_files_have_one_id_and_one_list(
    wheelhouse: Path,
    target_links: list[Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    if HOST_TAG not in ("cp39", "cp311", "cp312"):
        pytest.skip("fakenative has no wheel for this interpreter")
    env = cli_env(wheelhouse, *target_links)
    archive = tmp_path / "same.pyz"
    targets = ["--target", f"{HOST_TAG}-manylinux_2_17_x86_64", "--target", "host"]
    succeeded(exearchive("pack", "targetapp", *targets, "-o", archive, env=env))
    first, second = read_manifest(archive)["targets"]
    assert first["id"] == second["id"] and first["list"] == second["list"] == f"{TARGET_LISTS}0"
    with zipfile.ZipFile(archive) as outer:
        assert [n for n in outer.namelist() if n.startswith(TARGET_LISTS)] == [f"{TARGET_LISTS}0"]
    assert not any(n.startswith("~") for n in _payload_names(archive))
    assert run_archive(archive, root=tmp_path / "cache").stdout.strip() == OUTPUT["host"]


def test_a_module_of_another_target_is_not_called_missing_from_this_ones_entry(multi: Path, tmp_path: Path) -> None:
    # tomli is in the cp39 target only: the host's entry lacks it by design, so no repair advice
    root = tmp_path / "cache"
    env = {"EXEARCHIVE_INTERPRETER": "1"}
    ran = run_archive(multi, "-c", "import tomli", root=root, env=env)
    assert ran.returncode == 1 and "No module named 'tomli'" in ran.stderr
    assert "verify --repair" not in ran.stderr, ran.stderr
    # a module of this target's own, gone from its entry, still gets the advice
    [entry] = [p for p in root.iterdir() if not p.name.startswith(".")]
    shutil.rmtree(entry / "site-packages" / "targetapp")
    ran = run_archive(multi, "-c", "import targetapp", root=root, env=env)
    assert "the archive holds the module targetapp but its cache entry" in ran.stderr, ran.stderr
