"""End to end: the backend's hooks, driven by real frontends (build, pip, pyproject-hooks).

Each hook has one case through an isolated ``python -m build``; error cases
and settings whose check a build environment adds nothing to run the hook
with pyproject-hooks in this environment's interpreter (``helpers.hook_build``),
which is several times faster.
"""

from __future__ import annotations

import shutil
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from pyproject_hooks import BuildBackendHookCaller

from exearchive.backend import _pip, _piprun
from helpers import SAMPLES, Build, build_project, check, hook_build, offline_env, run_archive


def _copy(app: str, dest: Path, backend: str | None = None, table: str | None = None) -> Path:
    project = dest / app
    shutil.copytree(SAMPLES / app, project)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    if backend is not None:
        text = text.replace('requires = ["exearchive"]', 'requires = ["setuptools>=64"]')
        text = text.replace('build-backend = "exearchive.backend"', f'build-backend = "{backend}"')
    if table is not None:
        text += f"\n[tool.exearchive]\n{table}\n"
    pyproject.write_text(text)
    return project


def _tar_members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as archive:
        return {
            m.name.split("/", 1)[1]: archive.extractfile(m).read()  # type: ignore[union-attr]
            for m in archive.getmembers()
            if m.isfile()
        }


def _zip_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.mark.parametrize("app", ["hello", "legacy", "cext"])
def test_sdist_and_wheel_are_what_setuptools_makes(
    app: str, build_sample: Callable[[str], Build], wheelhouse: Path, tmp_path: Path
) -> None:
    ours = build_sample(app)
    plain = build_project(
        _copy(app, tmp_path / "plain", backend="setuptools.build_meta"), tmp_path / "dist", wheelhouse
    )
    assert plain.returncode == 0, plain.output
    our_sdist, their_sdist = _tar_members(ours.one("*.tar.gz")), _tar_members(plain.one("*.tar.gz"))
    assert sorted(our_sdist) == sorted(their_sdist)
    # pyproject.toml differs only in its build-system table, which the comparison had to change
    del our_sdist["pyproject.toml"], their_sdist["pyproject.toml"]
    assert our_sdist == their_sdist
    assert ours.one("*.whl").name == plain.one("*.whl").name
    our_wheel, their_wheel = _zip_members(ours.one("*.whl")), _zip_members(plain.one("*.whl"))
    assert sorted(our_wheel) == sorted(their_wheel)
    # a compiled extension embeds its build directory, so two builds of it differ anyway
    assert _without_native(our_wheel) == _without_native(their_wheel)


def test_sdist_carries_the_archive_inputs_and_is_otherwise_what_setuptools_makes(
    wheelhouse: Path, tmp_path: Path
) -> None:
    table = 'constraints = ["constraints/pins.txt"]\nrequirements = ["requirements.txt"]'
    builds = []
    for kind, backend in (("ours", None), ("plain", "setuptools.build_meta")):
        project = _copy("greetcli", tmp_path / kind, backend=backend, table=table)
        (project / "constraints").mkdir()
        (project / "constraints" / "pins.txt").write_text("greetlib<3\n")
        (project / "constraints" / "pins.txt").chmod(0o640)
        (project / "requirements.txt").write_text("greetlib==2.3\n")
        build = build_project(project, tmp_path / kind / "dist", wheelhouse)  # no MANIFEST.in; wheel from the sdist
        assert build.returncode == 0, build.output
        builds.append(build)
    ours, plain = (b.one("*.tar.gz") for b in builds)
    run = run_archive(builds[0].archive(), "Ada", root=tmp_path / "cache")
    assert (run.stdout, run.returncode) == ("Greetings, Ada!\n", 0), run.stderr
    with tarfile.open(ours) as our_tar, tarfile.open(plain) as their_tar:
        our_members, their_members = our_tar.getmembers(), their_tar.getmembers()
        # setuptools' members first, in its order, with its metadata; then the archive step's inputs
        added = our_members[len(their_members) :]
        shape = [(m.name, m.type, m.mode, m.uid, m.gid, m.uname, m.gname) for m in our_members]
        assert shape[: len(their_members)] == [
            (m.name, m.type, m.mode, m.uid, m.gid, m.uname, m.gname) for m in their_members
        ]
        base = "greetcli-0.5/"
        assert [m.name for m in added] == [
            base + "constraints",
            base + "constraints/pins.txt",
            base + "requirements.txt",
        ]
        source = builds[0].dist.parent / "src" / "greetcli"
        for member in added:
            st = (source / member.name[len(base) :]).stat()
            # as tarfile stores any file for setuptools: the file's own mode and (fractional, in PAX) mtime
            assert (member.mode, member.mtime) == (st.st_mode & 0o7777, st.st_mtime)
            assert (member.uid, member.gid, member.uname) == (
                our_members[0].uid,
                our_members[0].gid,
                our_members[0].uname,
            )
    assert added[1].mode == 0o640
    our_files, their_files = _tar_members(ours), _tar_members(plain)
    assert our_files.pop("constraints/pins.txt") == b"greetlib<3\n"
    assert our_files.pop("requirements.txt") == b"greetlib==2.3\n"
    del our_files["pyproject.toml"], their_files["pyproject.toml"]
    assert our_files == their_files
    # the gzip header keeps setuptools' name and date
    with ours.open("rb") as handle:
        header = handle.read(10 + len(ours.name) - 2)
    with plain.open("rb") as handle:
        their_header = handle.read(10 + len(plain.name) - 2)
    assert header[3] == their_header[3] == 0x08  # FNAME: the name follows
    assert header[10:] == their_header[10:] == ours.name[:-3].encode() + b"\0"
    assert header[8:10] == their_header[8:10]  # compression flags, OS


def _without_native(members: dict[str, bytes]) -> dict[str, bytes]:
    result = {k: v for k, v in members.items() if not k.endswith(".so")}
    for name in result:
        if name.endswith("/RECORD"):
            lines = result[name].splitlines()
            result[name] = b"\n".join(line for line in lines if b".so," not in line)
    return result


def _venv(path: Path) -> Path:
    check([sys.executable, "-m", "venv", path])
    return path / "bin"


def test_pip_install_works_and_skips_the_archive(wheelhouse: Path, tmp_path: Path) -> None:
    bin_dir = _venv(tmp_path / "venv")
    project = _copy("greetcli", tmp_path)
    result = check([bin_dir / "pip", "install", "-v", project], env=offline_env(wheelhouse))
    assert "building under pip" in result.stdout + result.stderr
    greeted = check([bin_dir / "greetcli", "Ada", "--style", "shout"])
    assert greeted.stdout == "GREETINGS, ADA!\n"
    assert not list(tmp_path.rglob("*.pyz"))


def test_pip_wheel_makes_the_wheel(wheelhouse: Path, tmp_path: Path) -> None:
    project = _copy("hello", tmp_path)
    check(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", tmp_path / "out", project],
        env=offline_env(wheelhouse),
    )
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["hello-1.0-py3-none-any.whl"]


def test_editable_install_runs_from_source_and_builds_no_archive(wheelhouse: Path, tmp_path: Path) -> None:
    bin_dir = _venv(tmp_path / "venv")
    project = _copy("hello", tmp_path)
    check([bin_dir / "pip", "install", "-e", project], env=offline_env(wheelhouse))
    where = check([bin_dir / "python", "-c", "import hello; print(hello.__file__)"])
    assert where.stdout.strip() == str(project / "src" / "hello" / "__init__.py")
    assert check([bin_dir / "hello", "a"]).stdout.startswith("Hello from hello 1.0!\nargv: a\n")
    assert not list(tmp_path.rglob("*.pyz"))


@pytest.mark.parametrize("settings", [{}, {"exearchive.enabled": "false"}])
def test_get_requires_adds_no_pip_where_the_interpreter_has_one(tmp_path: Path, settings: dict[str, str]) -> None:
    """This interpreter has pip: the archive step uses it (test_resolutions: where none is found, pip is asked for)."""
    project = _copy("hello", tmp_path)
    hooks = BuildBackendHookCaller(str(project), "exearchive.backend", python_executable=sys.executable)
    spec = _pip._own_spec()
    assert spec is not None and spec.origin
    assert _pip.command() == [sys.executable, _piprun.__file__, str(Path(spec.origin).parent)]
    assert not any(r.startswith("pip") for r in hooks.get_requires_for_build_wheel(settings))
    assert not any(r.startswith("pip") for r in hooks.get_requires_for_build_sdist(settings))


@pytest.mark.parametrize(
    ("app", "table", "args", "message"),
    [
        (
            "hello",
            'entry_piont = "x"',
            [],
            "unknown key 'entry_piont' in [tool.exearchive]; did you mean 'entry-point'?",
        ),
        ("hello", None, ["-Cexearchive.enabled=perhaps"], "-C exearchive.enabled must be a boolean"),
        (
            "hello",
            None,
            ["-Cexearchive.entry-point=nosuch:main"],
            "-C exearchive.entry-point = 'nosuch:main': there is no module 'nosuch' in the archive",
        ),
        ("hello", None, ["-Cexearchive.entry-point=hello.cli:nosuch"], "module 'hello.cli' defines no 'nosuch'"),
        ("hello", 'python = "python3"', [], "[tool.exearchive] python = 'python3' must be an absolute path"),
        (
            "multitool",
            None,
            ["-Cexearchive.entry-point=mt-nope"],
            "-C exearchive.entry-point = 'mt-nope' is not a console script in the archive, "
            "'module:function' or 'module'; console scripts in the archive: mt-count, mt-lower, mt-upper; "
            "did you mean 'mt-upper'?",
        ),
        (
            "greetcli",
            None,
            ["-Cexearchive.extras=nosuch-extra"],
            "-C exearchive.extras: greetcli declares no extras, so it has no extra 'nosuch-extra'",
        ),
    ],
)
def test_bad_config_stops_the_build_with_one_line(
    app: str, table: str | None, args: list[str], message: str, wheelhouse: Path, tmp_path: Path
) -> None:
    project = _copy(app, tmp_path, table=table)
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "older.txt").write_text("kept")
    if table is not None and "entry_piont" in table:  # one case through python -m build, the rest by the hook
        result = build_project(project, dist, wheelhouse, "--wheel", *args)
    else:
        settings = dict(arg[2:].split("=", 1) for arg in args)
        result = hook_build(project, dist, wheelhouse, settings)
    assert result.returncode == 1
    assert sorted(p.name for p in dist.iterdir()) == ["older.txt"]  # no wheel without its archive
    errors = [line for line in result.output.splitlines() if line.startswith("exearchive: error:")]
    assert len(errors) == 1, result.output
    assert message in errors[0]
    assert "Traceback" not in result.output


def test_project_with_several_scripts_needs_an_entry_point(wheelhouse: Path, tmp_path: Path) -> None:
    project = _copy("multitool", tmp_path)
    text = (project / "pyproject.toml").read_text().replace('entry-point = "mt-upper"\n', "", 1)
    (project / "pyproject.toml").write_text(text)
    result = hook_build(project, tmp_path / "dist", wheelhouse)
    assert result.returncode != 0
    assert (
        "exearchive: error: multitool declares several console scripts (mt-count, mt-lower, mt-upper)" in result.output
    )


@pytest.mark.parametrize(
    ("entry_point", "args", "stdout"),
    [
        ("mt-lower", ["HeLLo"], "hello\n"),
        ("multitool.tools:count", ["a", "b", "c"], "3\n"),
    ],
)
def test_entry_point_setting_chooses_what_runs(
    entry_point: str, args: list[str], stdout: str, wheelhouse: Path, tmp_path: Path
) -> None:
    project = _copy("multitool", tmp_path)
    settings = {"exearchive.entry-point": entry_point, "exearchive.outdir": "archives"}
    result = hook_build(project, tmp_path / "dist", wheelhouse, settings)
    assert result.returncode == 0, result.output
    archive = tmp_path / "dist" / "archives" / "multitool-0.1.pyz"
    ran = run_archive(archive, *args, root=tmp_path / "cache")
    assert (ran.stdout, ran.returncode) == (stdout, 0), ran.stderr


def test_the_last_line_names_the_archives_full_path(build_sample: Callable[[str], Build]) -> None:
    built = build_sample("hello")
    ours = [line for line in built.output.splitlines() if line.startswith("exearchive: ")]
    assert ours[-1].startswith(f"exearchive: built {built.archive().resolve()} ("), ours


def test_disabled_archive_builds_only_the_wheel(wheelhouse: Path, tmp_path: Path) -> None:
    project = _copy("hello", tmp_path, table="enabled = false")
    result = build_project(project, tmp_path / "dist", wheelhouse)
    assert result.returncode == 0, result.output
    assert sorted(p.suffix for p in (tmp_path / "dist").iterdir()) == [".gz", ".whl"]


def test_unresolvable_dependency_reports_pips_reason(wheelhouse: Path, tmp_path: Path) -> None:
    project = _copy("greetcli", tmp_path)
    text = (project / "pyproject.toml").read_text().replace('"greetlib>=2"', '"greetlib>=99"')
    (project / "pyproject.toml").write_text(text)
    result = hook_build(project, tmp_path / "dist", wheelhouse)
    assert result.returncode != 0
    assert "exearchive: error: cannot resolve the dependencies of greetcli with pip:" in result.output
    assert "greetlib>=99" in result.output
    assert "No matching distribution found for greetlib>=99" in result.output  # pip's own reason, shown
    assert "Traceback" not in result.output
    assert not list((tmp_path / "dist").glob("*.whl"))
