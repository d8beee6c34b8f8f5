#!/usr/bin/env python3
"""Benchmark exearchive against shiv, PEX (default and --venv) and a plain venv, in one run.

    python benchmarks/run.py                       # every payload, every tool
    python benchmarks/run.py --payload small --runs 3
    python benchmarks/run.py --payload tiny --tools exearchive,venv --runs 1   # no downloads but build tools

Once, it downloads the pinned wheels of ``benchmarks/requirements-*.txt`` into
``benchmarks/.work/wheelhouse`` and makes a tool venv (``build``, shiv, pex).
Everything after that is offline (``PIP_NO_INDEX=1``).  For each payload it
generates a tiny app project whose entry point imports the payload's
dependencies, builds it with every tool, then measures, alternating between
the tools (A B C A B C ...): build time, archive size and file count, cold
start (empty tool cache), warm start, peak RSS of each start (``os.wait4``),
and N concurrent cold starts sharing one empty cache.  Medians and ratios
against exearchive go to stdout and, as Markdown, to ``--output``
(``benchmarks/results/latest.md``).  Progress goes to stderr.

Every archive runs as ``RUN_VENV/bin/python ARCHIVE``, where RUN_VENV is an
empty venv of ``--python`` (a real interpreter binary, never a shim); the
venv baseline runs its console script.  ``--run-python`` runs the archives
(built by ``--python``) and the venv baseline on another interpreter: the
common case of an archive built on one Python and deployed to another.
Scratch lives under ``--work`` (``benchmarks/.work``, not tracked).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import io
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_PYTHON = "/root/.pyenv/versions/3.11.7/bin/python3.11"
TOOLS = ("exearchive", "shiv", "pex", "pex-venv", "venv")
CACHE_VARS = {"exearchive": "EXEARCHIVE_ROOT", "shiv": "SHIV_ROOT", "pex": "PEX_ROOT", "pex-venv": "PEX_ROOT"}
EXPECTED = "ok"
UNZIP = "unzip -q"  # a reference row: unzip -q of exearchive's payload into an empty directory
_STARTED = time.monotonic()


# --------------------------------------------------------------------------- payloads


def _tiny_library(directory: Path) -> str:
    package = directory / "benchtiny"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('GREETING = "ok"\n')
    return "benchtiny"


SYNTH_PACKAGES = 20
SYNTH_MODULES = 1000  # per package: 20,000 modules in all


def _synthetic_library(directory: Path) -> str:
    root = directory / "benchsynth"
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("")
    for p in range(SYNTH_PACKAGES):
        package = root / f"p{p:02d}"
        package.mkdir()
        (package / "__init__.py").write_text("")
        for m in range(SYNTH_MODULES):
            (package / f"m{m:04d}.py").write_text(
                f"VALUE = {p * SYNTH_MODULES + m}\n\n\ndef value():\n    return VALUE\n"
            )
    return "benchsynth"


@dataclass(frozen=True)
class Payload:
    name: str
    title: str
    dependencies: tuple[str, ...]
    body: str
    requirements: str | None = None
    library: Callable[[Path], str] | None = None
    library_name: str | None = None


PAYLOADS = {
    p.name: p
    for p in (
        Payload(
            "tiny",
            "tiny: one local pure dependency made on the fly (for the smoke test)",
            ("benchtiny",),
            "import benchtiny\n    print(benchtiny.GREETING)",
            library=_tiny_library,
            library_name="benchtiny",
        ),
        Payload(
            "small",
            "small: one entry point, one pure dependency (click)",
            ("click",),
            'import click\n    click.echo("ok")',
            requirements="requirements-small.txt",
        ),
        Payload(
            "many",
            "many files: boto3 / botocore",
            ("boto3",),
            'import boto3\n    boto3.session.Session()\n    print("ok")',
            requirements="requirements-many.txt",
        ),
        Payload(
            "native",
            "big native: numpy + pandas",
            ("numpy", "pandas"),
            'import numpy\n    import pandas\n    frame = pandas.DataFrame({"n": numpy.arange(3)})\n'
            '    print("ok", int(frame["n"].sum()))',
            requirements="requirements-native.txt",
        ),
        Payload(
            "synthetic",
            f"synthetic: {SYNTH_PACKAGES * SYNTH_MODULES:,} tiny modules (imports 2 of them)",
            ("benchsynth",),
            'import benchsynth.p00.m0000\n    import benchsynth.p19.m0999\n    print("ok")',
            library=_synthetic_library,
            library_name="benchsynth",
        ),
    )
}
DEFAULT_PAYLOADS = ("small", "many", "native", "synthetic")


# --------------------------------------------------------------------------- helpers


def log(message: str) -> None:
    sys.stderr.write(f"[{time.monotonic() - _STARTED:7.1f}s] {message}\n")
    sys.stderr.flush()


class BenchError(Exception):
    """A step failed; the message says which and why."""


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Our environment without anything that would change what the tools do."""
    drop = ("PYTHON", "PIP_", "EXEARCHIVE_", "SHIV_", "PEX", "VIRTUAL_ENV", "SOURCE_DATE_EPOCH", "__PYVENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(extra or {})
    return env


def run(command: Sequence[str | Path], env: dict[str, str], cwd: Path | None = None, what: str = "") -> float:
    """Run a command to completion; return its wall time; raise BenchError with its output if it fails."""
    argv = [str(c) for c in command]
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        result = subprocess.run(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            out.seek(0)
            tail = out.read().decode(errors="replace")[-4000:]
            raise BenchError(f"{what or argv[0]} failed ({result.returncode}): {shlex.join(argv)}\n{tail}")
    return elapsed


def output_of(command: Sequence[str | Path], env: dict[str, str] | None = None) -> str:
    result = subprocess.run([str(c) for c in command], env=env, capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def rmtree(path: Path) -> None:
    if path.exists():
        # Extracted caches can hold read-only directories (pex); make them writable first.
        for directory, dirs, _files in os.walk(path):
            for name in dirs:
                full = os.path.join(directory, name)
                if not os.path.islink(full):
                    os.chmod(full, 0o700)
        shutil.rmtree(path)


def fresh_dir(path: Path) -> Path:
    rmtree(path)
    path.mkdir(parents=True)
    return path


def rotate(items: Sequence[str], by: int) -> list[str]:
    """``items`` starting at position ``by``: alternate the order between rounds."""
    by %= max(len(items), 1)
    return list(items[by:]) + list(items[:by])


def median(values: Iterable[float]) -> float | None:
    values = list(values)
    return statistics.median(values) if values else None


@dataclass
class Sample:
    wall: float
    rss_kb: int
    returncode: int
    stdout: str
    stderr: str
    cpu: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.stdout.startswith(EXPECTED)


class Starter:
    """Starts commands and measures them: with the C helper ``measure`` if it could be built, else in-process."""

    def __init__(self, helper: Path | None, cwd: Path) -> None:
        self.helper = helper
        self.cwd = cwd

    def spawn(self, command: Sequence[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Any, Any, str]:
        out = tempfile.TemporaryFile()  # noqa: SIM115 - closed in reap()
        err = tempfile.TemporaryFile()  # noqa: SIM115
        result = ""
        argv = list(command)
        if self.helper:
            handle, result = tempfile.mkstemp(prefix="measure-", dir=self.cwd)
            os.close(handle)
            argv = [str(self.helper), result, *argv]
        proc = subprocess.Popen(argv, env=env, cwd=self.cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        return proc, out, err, result

    def reap(self, proc: subprocess.Popen[bytes], out: Any, err: Any, result: str, start: float) -> Sample:
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        rss = usage.ru_maxrss
        cpu = usage.ru_utime + usage.ru_stime
        texts = []
        for handle in (out, err):
            handle.seek(0)
            texts.append(handle.read().decode(errors="replace"))
            handle.close()
        code = proc.returncode
        if result:
            try:
                fields = Path(result).read_text().split()
                wall, rss, code = int(fields[0]) / 1e9, int(fields[1]), os.waitstatus_to_exitcode(int(fields[2]))
                cpu = int(fields[3]) / 1e9
            except (OSError, IndexError, ValueError):
                code = code or 1  # the helper itself failed; its message is in stderr
            Path(result).unlink(missing_ok=True)
        return Sample(wall, rss, code, texts[0], texts[1], cpu)

    def measure(self, command: Sequence[str], env: dict[str, str]) -> Sample:
        """Wall time and peak RSS (KiB, ``ru_maxrss``) of one start."""
        os.sync()  # what earlier steps wrote must not be flushed during this one
        start = time.perf_counter()
        return self.reap(*self.spawn(command, env), start)

    def concurrent(self, command: Sequence[str], env: dict[str, str], count: int) -> dict[str, Any]:
        """Start ``count`` copies at once; wall time until the last one exits, and how many succeeded."""
        os.sync()
        start = time.perf_counter()
        procs = [self.spawn(command, env) for _ in range(count)]
        samples = [self.reap(*proc, start) for proc in procs]
        wall = time.perf_counter() - start
        failures = [s for s in samples if not s.ok]
        return {
            "count": count,
            "ok": count - len(failures),
            "wall": wall,
            "max_rss_kb": max(s.rss_kb for s in samples),
            "failure": (failures[0].stderr[-800:] or f"exit {failures[0].returncode}") if failures else None,
        }


def count_zip_files(path: Path) -> int:
    """Files in a zip archive; an exearchive payload zip inside it is counted by its own files."""
    with zipfile.ZipFile(path) as archive:
        names = [i for i in archive.infolist() if not i.is_dir()]
        total = len(names)
        for info in names:
            if info.filename == "__exearchive__/payload.zip":
                with archive.open(info) as inner_file, zipfile.ZipFile(inner_file) as inner:
                    total += sum(1 for i in inner.infolist() if not i.is_dir()) - 1
    return total


def tree_stats(path: Path) -> tuple[int, int]:
    """(files, bytes) under ``path``."""
    files = size = 0
    for directory, _dirs, names in os.walk(path):
        for name in names:
            full = os.path.join(directory, name)
            if not os.path.islink(full):
                files += 1
                size += os.path.getsize(full)
    return files, size


# --------------------------------------------------------------------------- the bench


@dataclass
class Result:
    build: list[float] = field(default_factory=list)
    without_archive: list[float] = field(default_factory=list)
    size: int | None = None
    files: int | None = None
    cold: list[Sample] = field(default_factory=list)
    warm: list[Sample] = field(default_factory=list)
    concurrent: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "build_s": self.build,
            "without_archive_s": self.without_archive,
            "size_bytes": self.size,
            "files": self.files,
            "cold": [{"wall_s": s.wall, "rss_kb": s.rss_kb, "cpu_s": s.cpu} for s in self.cold],
            "warm": [{"wall_s": s.wall, "rss_kb": s.rss_kb, "cpu_s": s.cpu} for s in self.warm],
            "concurrent": self.concurrent,
            "error": self.error,
        }


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(args.work).resolve()
        self.tools: list[str] = args.tools
        self.python = args.python
        self.run_python = args.run_python or args.python
        self.wheelhouse = self.work / "wheelhouse"
        self.local = self.work / "local-wheels"
        self.tools_venv = self.work / "tools-venv"
        self.run_venv = self.work / (
            "run-venv" if self.run_python == self.python else f"run-venv-{Path(self.run_python).name}"
        )
        self.rundir = self.work / "rundir"
        self.tpy = str(self.tools_venv / "bin" / "python")
        self.rpy = str(self.run_venv / "bin" / "python")
        self.results: dict[str, dict[str, Result]] = {}
        self.starter = Starter(None, self.rundir)
        self.exearchive_source = ""
        self.caches = self.work / "caches"
        self.cache_note = "the work directory's file system"
        self.mounted: Path | None = None

    # ---------------------------------------------------------------- environments

    def offline_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = base_env(
            {
                "PIP_NO_INDEX": "1",
                "PIP_FIND_LINKS": f"{self.wheelhouse} {self.local}",
                "PIP_CONFIG_FILE": os.devnull,
                "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "PIP_NO_CACHE_DIR": "1",
                "PIP_NO_INPUT": "1",
            }
        )
        env.update(extra or {})
        return env

    def start_env(self, cache_var: str | None, cache: Path | None) -> dict[str, str]:
        env = base_env()
        if self.args.dont_write_bytecode:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        if cache_var and cache:
            env[cache_var] = str(cache)
        return env

    def requirement_files(self) -> list[Path]:
        files = [HERE / "requirements-build.txt"]
        if {"shiv", "pex", "pex-venv"} & set(self.tools):
            files.append(HERE / "requirements-tools.txt")
        for name in self.args.payload:
            if PAYLOADS[name].requirements:
                files.append(HERE / PAYLOADS[name].requirements)  # type: ignore[operator]
        return files

    def prepare(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self.rundir.mkdir(exist_ok=True)
        self.local.mkdir(exist_ok=True)
        if not self.tools_venv.exists():
            log(f"making the tool venv {self.tools_venv} from {self.python}")
            run([self.python, "-m", "venv", self.tools_venv], base_env(), what="venv")
        if not self.run_venv.exists():
            log(f"making the empty run venv {self.run_venv} from {self.run_python}")
            run([self.run_python, "-m", "venv", "--without-pip", self.run_venv], base_env(), what="venv")
        self.download()
        installs = ["-r", str(HERE / "requirements-build.txt")]
        if {"shiv", "pex", "pex-venv"} & set(self.tools):
            installs += ["-r", str(HERE / "requirements-tools.txt")]
        log("installing the pinned build tools into the tool venv (offline)")
        run([self.tpy, "-m", "pip", "install", "--quiet", *installs], self.offline_env(), what="pip install tools")
        self.build_exearchive()
        self.build_helper()
        self.cache_filesystem()

    def cache_filesystem(self) -> None:
        """Put the tools' caches on a file system in a known state (``--cache-fs``).

        ``auto`` (the default) makes a new journaled ext4 (``mkfs.ext4`` defaults, a sparse loop-mounted
        image under the work dir) when running as root on Linux, else uses the work dir.  Why: on a machine
        whose disk is ext4 *without* a journal (some VMs), creating files soon after many were deleted scans
        the recently freed inodes one by one (the kernel's ``recently_deleted``), so cold starts measured
        there depend on what was deleted before them and on how many files each tool writes.  A fresh
        file system measures the tools, not that history.
        """
        choice = self.args.cache_fs
        if choice == "work":
            return
        usable = sys.platform == "linux" and os.geteuid() == 0 and shutil.which("mkfs.ext4") and shutil.which("mount")
        if not usable:
            if choice == "ext4":
                raise BenchError("--cache-fs ext4 needs Linux, root, mkfs.ext4 and mount")
            log("caches go to the work directory (a fresh ext4 needs Linux, root, mkfs.ext4 and mount)")
            return
        image = self.work / "cachefs.img"
        mountpoint = self.work / "cachefs"
        self.unmount_caches(mountpoint)
        mountpoint.mkdir(exist_ok=True)
        with image.open("wb") as handle:
            handle.truncate(64 * 2**30)  # sparse: only what is written takes space
        try:
            run(["mkfs.ext4", "-q", "-F", "-N", str(4 * 2**20), image], base_env(), what="mkfs.ext4")
            run(["mount", "-o", "loop", image, mountpoint], base_env(), what="mount")
        except BenchError as error:
            image.unlink(missing_ok=True)
            if choice == "ext4":
                raise
            log(f"caches go to the work directory: {str(error).splitlines()[0]}")
            return
        self.mounted = mountpoint
        self.caches = mountpoint
        self.cache_note = "a journaled ext4 made for this run (`mkfs.ext4` defaults, a loop-mounted sparse image)"
        log(f"caches go to {mountpoint}: {self.cache_note}")

    def unmount_caches(self, mountpoint: Path | None = None) -> None:
        mountpoint = mountpoint or self.mounted
        if mountpoint is None:
            return
        if os.path.ismount(mountpoint):
            run(["umount", mountpoint], base_env(), what="umount")
        (self.work / "cachefs.img").unlink(missing_ok=True)
        self.mounted = None

    def build_helper(self) -> None:
        """Compile ``measure.c`` (exact peak RSS per start); without a C compiler, measure in-process."""
        compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
        helper = self.work / "measure"
        if compiler:
            try:
                run([compiler, "-O2", "-o", helper, HERE / "measure.c"], base_env(), what="compiling measure.c")
                self.starter = Starter(helper, self.rundir)
                return
            except BenchError as error:
                log(str(error))
        log("no C compiler: peak RSS is measured in-process and includes the driver's own RSS as a floor")

    def download(self) -> None:
        files = self.requirement_files()
        digest = hashlib.sha256(b"".join(f.read_bytes() for f in files) + self.python.encode()).hexdigest()
        stamp = self.wheelhouse / f".complete-{digest[:16]}"
        if stamp.exists():
            return
        self.wheelhouse.mkdir(parents=True, exist_ok=True)
        for requirements in files:
            log(f"downloading the wheels pinned in {requirements.name} into {self.wheelhouse}")
            env = base_env({"PIP_DISABLE_PIP_VERSION_CHECK": "1"})
            run(
                [
                    self.tpy,
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--only-binary=:all:",
                    "--dest",
                    self.wheelhouse,
                    "-r",
                    requirements,
                ],
                env,
                what="pip download",
            )
        stamp.write_text("\n".join(str(f) for f in files) + "\n")

    def build_exearchive(self) -> None:
        """A wheel of exearchive from this checkout, into the local wheels, and into the tool venv."""
        source = fresh_dir(self.work / "exearchive-src")
        revision = self.args.exearchive_from
        if Path(revision).is_dir():
            log(f"building exearchive from the source tree {revision}")
            shutil.copytree(revision, source, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
            self.exearchive_source = f"source tree {revision}, not a commit"
        elif revision == "worktree":
            log("building exearchive from the work tree of this checkout")
            shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
            for name in ("pyproject.toml", "README.md", "LICENSE"):
                if (REPO / name).exists():
                    shutil.copy2(REPO / name, source / name)
            commit = output_of(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])
            dirty = output_of(["git", "-C", REPO, "status", "--porcelain", "--", "src", "pyproject.toml"])
            self.exearchive_source = f"work tree at {commit}" + (" with uncommitted changes" if dirty else "")
        else:
            commit = output_of(["git", "-C", REPO, "rev-parse", "--short", f"{revision}^{{commit}}"])
            if not commit:
                raise BenchError(f"--exearchive-from {revision}: not a commit of {REPO}")
            log(f"building exearchive from commit {commit}")
            tar = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit], capture_output=True)
            with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as archive:
                archive.extractall(source, filter="data")
            self.exearchive_source = f"commit {commit}"
        for old in self.local.glob("exearchive-*.whl"):
            old.unlink()
        run(
            [self.tpy, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", self.local, source],
            self.offline_env(),
            what="building exearchive",
        )
        run(
            [
                self.tpy,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--force-reinstall",
                "--no-deps",
                next(self.local.glob("exearchive-*.whl")),
            ],
            self.offline_env(),
            what="installing exearchive",
        )

    # ---------------------------------------------------------------- projects

    def make_projects(self, payload: Payload) -> Path:
        """Generate the app project (and a local library, built once); return the app directory."""
        base = self.work / "projects" / payload.name
        if payload.library and payload.library_name:
            wheels = list(self.local.glob(f"{payload.library_name}-*.whl"))
            if not wheels:
                lib = fresh_dir(base / "lib")
                package = payload.library(lib)
                packages = sorted(
                    d.relative_to(lib).as_posix().replace("/", ".")
                    for d in lib.rglob("*")
                    if (d / "__init__.py").exists()
                )
                (lib / "pyproject.toml").write_text(
                    '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n'
                    f'[project]\nname = "{package}"\nversion = "1.0"\n\n'
                    f"[tool.setuptools]\npackages = {json.dumps(packages)}\n"
                )
                log(f"building the local library {package} ({len(packages)} packages)")
                run(
                    [self.tpy, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", self.local, lib],
                    self.offline_env(),
                    what=f"building {package}",
                )
                rmtree(lib)
        app = fresh_dir(base / "app")
        (app / "benchapp").mkdir()
        (app / "benchapp" / "__init__.py").write_text(f"def main():\n    {payload.body}\n    return 0\n")
        deps = ", ".join(json.dumps(d) for d in payload.dependencies)
        (app / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["exearchive"]\nbuild-backend = "exearchive.backend"\n\n'
            f'[project]\nname = "{self.app_name(payload)}"\nversion = "1.0"\ndependencies = [{deps}]\n\n'
            '[project.scripts]\nbenchapp = "benchapp:main"\n\n[tool.setuptools]\npackages = ["benchapp"]\n'
        )
        for old in self.local.glob(f"{self.app_name(payload).replace('-', '_')}-*.whl"):
            old.unlink()
        # The app's own wheel, for shiv, pex and the venv (built under pip: no archive).
        run(
            [self.tpy, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", self.local, app],
            self.offline_env(),
            what="building the app wheel",
        )
        self.clean_project(app)
        return app

    @staticmethod
    def depth(tool: str) -> int:
        """How deep the artifact of ``tool`` lies in its build directory (dist/app.pyz: 1, app.pex: 0)."""
        return 1 if tool == "exearchive" else 0

    @staticmethod
    def app_name(payload: Payload) -> str:
        return f"benchapp-{payload.name}"

    @staticmethod
    def clean_project(app: Path) -> None:
        rmtree(app / "build")
        for info in app.glob("*.egg-info"):
            rmtree(info)

    # ---------------------------------------------------------------- builds

    def build(self, tool: str, payload: Payload, app: Path, out: Path, result: Result) -> Path:
        """Build ``tool``'s artifact into ``out`` (fresh); record the time; return what to run."""
        fresh_dir(out)
        name = self.app_name(payload)
        finds = ["--find-links", str(self.wheelhouse), "--find-links", str(self.local)]
        if tool == "exearchive":
            self.clean_project(app)
            result.build.append(
                run(
                    [self.tpy, "-m", "build", "--wheel", "--outdir", out / "dist", app],
                    self.offline_env(),
                    cwd=out,
                    what="python -m build",
                )
            )
            self.clean_project(app)
            # The same build without the archive step: the difference is what the archive costs.
            result.without_archive.append(
                run(
                    [self.tpy, "-m", "build", "--wheel", "--outdir", out / "wheel-only",
                     "-C", "exearchive.enabled=false", app],
                    self.offline_env(),
                    cwd=out,
                    what="python -m build -C exearchive.enabled=false",
                )
            )  # fmt: skip
            self.clean_project(app)
            archives = sorted((out / "dist").glob("*.pyz"))
            if len(archives) != 1:
                raise BenchError(f"python -m build made {len(archives)} archives in {out / 'dist'}")
            return archives[0]
        if tool == "shiv":
            target = out / "app.pyz"
            result.build.append(
                run(
                    [self.tools_venv / "bin" / "shiv", "-o", target, "-e", "benchapp:main", "--no-index", *finds, name],
                    self.offline_env(),
                    cwd=out,
                    what="shiv",
                )
            )
            return target
        if tool in ("pex", "pex-venv"):
            target = out / "app.pex"
            extra = ["--venv"] if tool == "pex-venv" else []
            env = self.offline_env({"PEX_ROOT": str(out / "pex-build-root")})
            result.build.append(
                run(
                    [
                        self.tools_venv / "bin" / "pex",
                        "--no-pypi",
                        *finds,
                        name,
                        "-e",
                        "benchapp:main",
                        *extra,
                        "-o",
                        target,
                    ],
                    env,
                    cwd=out,
                    what="pex",
                )
            )
            return target
        if tool == "venv":
            venv = out / "venv"
            env = self.offline_env()
            start = time.perf_counter()
            run([self.run_python, "-m", "venv", "--without-pip", venv], env, what="venv")
            run(
                [self.tpy, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet", name],
                env,
                what="pip install into the venv",
            )
            result.build.append(time.perf_counter() - start)
            return venv
        raise BenchError(f"unknown tool {tool}")

    def start_command(self, tool: str, artifact: Path, cache: Path | None = None) -> list[str]:
        if tool == "venv":
            return [str(artifact / "bin" / "benchapp")]
        if tool == UNZIP:
            return ["sh", "-c", 'unzip -q "$0" -d "$1" && echo ok', str(artifact), str(cache)]
        return [self.rpy, str(artifact)]

    def payload_zip(self, archive: Path, target: Path) -> Path:
        """Copy exearchive's payload out of its archive: what the ``unzip -q`` row extracts."""
        with (
            zipfile.ZipFile(archive) as outer,
            outer.open("__exearchive__/payload.zip") as source,
            target.open("wb") as out,
        ):
            shutil.copyfileobj(source, out, 1 << 20)
        return target

    # ---------------------------------------------------------------- one payload

    def bench_payload(self, payload: Payload) -> None:
        args = self.args
        log(f"== payload {payload.name}: {payload.title}")
        app = self.make_projects(payload)
        results = {tool: Result() for tool in self.tools}
        self.results[payload.name] = results
        artifacts: dict[str, Path] = {}
        builds = self.work / "builds" / payload.name
        caches = self.caches / payload.name
        rmtree(builds)
        rmtree(caches)
        os.sync()

        def alive() -> list[str]:
            return [t for t in self.tools if results[t].error is None]

        for round_ in range(args.build_runs):
            for tool in rotate(alive(), round_):
                log(f"{payload.name}: build {round_ + 1}/{args.build_runs} with {tool}")
                try:
                    os.sync()
                    artifacts[tool] = self.build(tool, payload, app, builds / tool / str(round_), results[tool])
                except BenchError as error:
                    results[tool].error = f"build failed: {str(error).splitlines()[0]}"
                    log(f"{payload.name}: {tool}: {error}")
        # Deleting many files makes this machine's disk slow for a while (ext4 with online discard on a
        # virtual disk): delete nothing right before a measurement; clean up between phases and payloads.
        for tool in self.tools:
            for old in (builds / tool).glob("*"):
                if tool not in artifacts or old != artifacts[tool].parents[self.depth(tool)]:
                    rmtree(old)
        for tool in alive():
            artifact = artifacts[tool]
            if tool == "venv":
                files, size = tree_stats(next((artifact / "lib").glob("python*/site-packages")))
                results[tool].files, results[tool].size = files, size
            else:
                results[tool].size = artifact.stat().st_size
                results[tool].files = count_zip_files(artifact)

        if "exearchive" in artifacts and shutil.which("unzip"):
            # The floor for a cold start: unzip -q of the same files, into an empty directory.
            artifacts[UNZIP] = self.payload_zip(artifacts["exearchive"], fresh_dir(builds / UNZIP) / "payload.zip")
            results[UNZIP] = Result(size=artifacts[UNZIP].stat().st_size, files=results["exearchive"].files)

        def start(tool: str, cache: Path | None) -> Sample:
            env = self.start_env(CACHE_VARS.get(tool), cache)
            sample = self.starter.measure(self.start_command(tool, artifacts[tool], cache), env)
            if not sample.ok:
                results[tool].error = f"start failed (exit {sample.returncode}): {sample.stderr.strip()[-300:]}"
                log(f"{payload.name}: {tool}: {results[tool].error}")
            return sample

        starters = [t for t in alive() if t != "venv"] + ([UNZIP] if UNZIP in artifacts else [])
        for round_ in range(args.runs):
            for tool in rotate([t for t in starters if results[t].error is None], round_):
                sample = start(tool, fresh_dir(caches / f"cold-{tool.split()[0]}-{round_}"))
                if sample.ok:
                    results[tool].cold.append(sample)
            log(f"{payload.name}: cold starts, round {round_ + 1}/{args.runs} done")
        for tool in alive():
            if tool != "venv":
                start(tool, fresh_dir(caches / f"warm-{tool}"))  # fills the kept cache
        for round_ in range(args.warm_runs):
            for tool in rotate(alive(), round_):
                sample = start(tool, caches / f"warm-{tool}" if tool != "venv" else None)
                if sample.ok:
                    results[tool].warm.append(sample)
            if (round_ + 1) % 5 == 0 or round_ + 1 == args.warm_runs:
                log(f"{payload.name}: warm starts, round {round_ + 1}/{args.warm_runs} done")
        for round_ in range(args.concurrent_runs):
            for tool in rotate(alive(), round_):
                cache = fresh_dir(caches / f"concurrent-{tool}-{round_}") if tool != "venv" else None
                env = self.start_env(CACHE_VARS.get(tool), cache)
                outcome = self.starter.concurrent(self.start_command(tool, artifacts[tool]), env, args.concurrency)
                results[tool].concurrent.append(outcome)
                log(
                    f"{payload.name}: {args.concurrency} concurrent cold starts of {tool}: "
                    f"{outcome['ok']}/{outcome['count']} ok in {outcome['wall']:.2f} s"
                )
                if outcome["failure"]:
                    log(f"{payload.name}: {tool}: first failure: {outcome['failure']}")
        rmtree(caches)
        os.sync()

    # ---------------------------------------------------------------- report

    def machine(self) -> dict[str, str]:
        cpu = "unknown"
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        memory = ""
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal"):
                    memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
        except OSError:
            pass
        versions = output_of(
            [
                self.tpy,
                "-c",
                "import importlib.metadata as m\n"
                "for n in ('exearchive', 'shiv', 'pex', 'pip', 'setuptools', 'build'):\n"
                "    try: print(n, m.version(n))\n"
                "    except m.PackageNotFoundError: pass\n",
            ]
        )
        tools = []
        for line in versions.splitlines():
            name, version = line.split(" ", 1)
            if name == "exearchive":
                version += f" ({self.exearchive_source})"
            tools.append(f"{name} {version}")
        return {
            "cpu": cpu,
            "cores": str(os.cpu_count()),
            "memory": memory,
            "os": f"{platform.system()} {platform.release()}",
            "python": output_of([self.rpy, "-c", "import sys; print(sys.version.split()[0], sys.executable)"]),
            "runner": f"{self.run_python} (archives run as RUN_VENV/bin/python ARCHIVE; RUN_VENV is an empty venv of "
            + ("it)" if self.run_python == self.python else f"it; they were built by {self.python})"),
            "tools": ", ".join(tools),
        }

    def report(self, command: str, elapsed: float) -> str:
        args = self.args
        machine = self.machine()
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            "# exearchive vs shiv vs PEX vs a plain venv",
            "",
            f"- Date: {now}; the whole run took {elapsed / 60:.1f} min",
            f"- Command: `{command}`",
            f"- Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory']}, {machine['os']}",
            f"- Python: {machine['python']}",
            f"- Runner: {machine['runner']}",
            f"- Tools: {machine['tools']}",
            f"- Runs: {args.build_runs} builds, {args.runs} cold and {args.warm_runs} warm starts per tool, "
            f"alternating between the tools; {args.concurrency} concurrent cold starts x {args.concurrent_runs}. "
            "Times and RSS are medians.",
            "- Measured with: "
            + (
                "`benchmarks/measure.c` (fork, exec, `wait4`: exact wall time and peak RSS of each start)"
                if self.starter.helper
                else "`os.wait4` in the driver (no C compiler): peak RSS includes the driver's own RSS as a floor"
            ),
            f"- Caches on: {self.cache_note}",
            "- PYTHONDONTWRITEBYTECODE: "
            + (
                "set to 1 for every start" if args.dont_write_bytecode else "not set (the default: bytecode is written)"
            ),
            "",
            "What the columns mean:",
            "",
            "- **build**: exearchive: `python -m build --wheel` of the app (isolated environment, setuptools' wheel "
            "and the archive); in brackets its archive step alone (resolve, stage, compile, pack): that build's "
            "time minus that of `python -m build --wheel -C exearchive.enabled=false`. shiv / pex: from the app's "
            "wheel in the wheelhouse (pex with an empty `PEX_ROOT`). venv: "
            "`python -m venv` + `pip install`. Ratios for build are against exearchive's archive step.",
            "- **files**: files in the archive (for exearchive: in its payload); for the venv: files in site-packages.",
            "- **cold**: `python ARCHIVE` with the tool's cache (`EXEARCHIVE_ROOT`, `SHIV_ROOT`, `PEX_ROOT`) "
            "pointing to a new empty directory; the archive itself is in the page cache. **cold CPU**: user + "
            "system time of the cold start (steadier than wall time when the disk is busy). "
            "**warm**: the same cache, kept.",
            "- **RSS**: peak resident set of the started process (`ru_maxrss` from `wait4`: the largest of the "
            "process, what it exec'd, and children it waited for).",
            f"- **{args.concurrency}x cold**: {args.concurrency} starts at once on one empty cache: successes and wall "
            "time until the last one exited.",
            f"- **{UNZIP}**: a reference, not a tool: `{UNZIP}` of exearchive's payload zip (the same files) into an "
            "empty directory, through `sh -c` (about 1 ms).",
            "- `(N.NNx)`: the tool's value divided by exearchive's (lower is better for every column).",
            "",
        ]
        for name, results in self.results.items():
            lines += [f"## {PAYLOADS[name].title}", "", *self.table(results), ""]
        return "\n".join(lines)

    def table(self, results: dict[str, Result]) -> list[str]:
        concurrency = self.args.concurrency
        header = [
            "tool",
            "build",
            "size",
            "files",
            "cold",
            "cold CPU",
            "cold RSS",
            "warm",
            "warm RSS",
            "warm ÷ venv",
            f"{concurrency}x cold",
        ]
        rows = [header, ["---"] * len(header)]
        ref = results.get("exearchive")
        venv = results.get("venv")

        def cell(value: float | None, unit: str, scale: float, digits: int, ref_value: float | None, tool: str) -> str:
            if value is None:
                return "—"
            text = f"{value * scale:.{digits}f} {unit}"
            if tool != "exearchive" and ref_value:
                text += f" ({value / ref_value:.2f}x)"
            return text

        def med_wall(samples: list[Sample]) -> float | None:
            return median(s.wall for s in samples)

        def med_cpu(samples: list[Sample]) -> float | None:
            return median(s.cpu for s in samples)

        def med_rss(samples: list[Sample]) -> float | None:
            return median(s.rss_kb * 1024 for s in samples)

        ref_build = archive_step(ref) if ref else None
        for tool, r in results.items():
            if r.error and not r.warm:
                rows.append([tool, f"failed: {r.error}"] + [""] * (len(header) - 2))
                continue
            build = median(r.build)
            if tool == "exearchive":
                step = archive_step(r)
                build_text = cell(build, "s", 1, 1, None, tool) + (f" ({step:.1f} s)" if step is not None else "")
            else:
                build_text = cell(build, "s", 1, 1, ref_build, tool)
            warm = med_wall(r.warm)
            venv_warm = med_wall(venv.warm) if venv else None
            conc = r.concurrent
            if conc:
                ok = sum(c["ok"] for c in conc)
                total = sum(c["count"] for c in conc)
                wall = median(c["wall"] for c in conc)
                ref_conc = median(c["wall"] for c in ref.concurrent) if ref and ref.concurrent else None
                conc_text = f"{ok}/{total} ok, " + cell(wall, "s", 1, 2, ref_conc, tool)
            else:
                conc_text = "—"
            rows.append(
                [
                    tool,
                    build_text,
                    cell(r.size, "MB", 1e-6, 1 if (r.size or 0) >= 10e6 else 2, ref.size if ref else None, tool),
                    f"{r.files:,}" if r.files is not None else "—",
                    cell(med_wall(r.cold), "ms", 1000, 0, med_wall(ref.cold) if ref else None, tool),
                    cell(med_cpu(r.cold), "ms", 1000, 0, med_cpu(ref.cold) if ref else None, tool),
                    cell(med_rss(r.cold), "MB", 1 / 2**20, 1, med_rss(ref.cold) if ref else None, tool),
                    cell(warm, "ms", 1000, 0, med_wall(ref.warm) if ref else None, tool),
                    cell(med_rss(r.warm), "MB", 1 / 2**20, 1, med_rss(ref.warm) if ref else None, tool),
                    f"{warm / venv_warm:.2f}x" if warm and venv_warm else "—",
                    conc_text,
                ]
            )
            if r.error:
                rows[-1][0] += f" (partly failed: {r.error})"
        return ["| " + " | ".join(row) + " |" for row in rows]


def archive_step(result: Result) -> float | None:
    """exearchive's archive step: median build time minus median build time without the archive."""
    full, without = median(result.build), median(result.without_archive)
    return full - without if full is not None and without is not None else None


def _list(kind: str, known: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        unknown = [item for item in items if item not in known]
        if unknown or not items:
            raise argparse.ArgumentTypeError(f"unknown {kind} {', '.join(unknown)}; choose from {', '.join(known)}")
        return items

    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--payload",
        type=_list("payload", list(PAYLOADS)),
        default=list(DEFAULT_PAYLOADS),
        help=f"comma-separated payloads (default: {','.join(DEFAULT_PAYLOADS)}; also: tiny)",
    )
    parser.add_argument(
        "--tools",
        type=_list("tool", TOOLS),
        default=list(TOOLS),
        help=f"comma-separated tools (default: {','.join(TOOLS)})",
    )
    parser.add_argument("--runs", type=int, default=5, help="cold starts per tool (default 5)")
    parser.add_argument("--build-runs", type=int, default=None, help="builds per tool (default: min(runs, 3))")
    parser.add_argument(
        "--warm-runs", type=int, default=None, help="warm starts per tool (default: 4 x runs; they are cheap and noisy)"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent cold starts (default 32)")
    parser.add_argument("--concurrent-runs", type=int, default=1, help="rounds of concurrent starts (default 1)")
    parser.add_argument(
        "--python",
        default=DEFAULT_PYTHON if os.path.exists(DEFAULT_PYTHON) else sys.executable,
        help=f"the interpreter that runs everything (default {DEFAULT_PYTHON}, a real binary)",
    )
    parser.add_argument(
        "--run-python",
        default=None,
        metavar="PYTHON",
        help="run the archives and the venv baseline on this interpreter instead (default: --python); "
        "the archives are still built by --python",
    )
    parser.add_argument(
        "--exearchive-from",
        default="worktree",
        metavar="REV",
        help="build exearchive from this git revision (e.g. HEAD) or source directory instead of the work tree",
    )
    parser.add_argument("--dont-write-bytecode", action="store_true", help="set PYTHONDONTWRITEBYTECODE=1 for starts")
    parser.add_argument(
        "--cache-fs",
        choices=("auto", "ext4", "work"),
        default="auto",
        help="where the tools' caches go: a new journaled ext4 made for the run (needs root), the work "
        "directory, or auto: ext4 when possible (default)",
    )
    parser.add_argument("--work", default=str(HERE / ".work"), help="scratch directory (default benchmarks/.work)")
    parser.add_argument("--output", default=str(HERE / "results" / "latest.md"), help="the Markdown report")
    parser.add_argument("--json", default=None, help="raw samples as JSON (default: WORK/results.json)")
    args = parser.parse_args(argv)
    if args.build_runs is None:
        args.build_runs = min(args.runs, 3)
    if args.warm_runs is None:
        args.warm_runs = 4 * args.runs
    if min(args.runs, args.build_runs, args.warm_runs, args.concurrency) < 1 or args.concurrent_runs < 0:
        parser.error("--runs, --build-runs, --warm-runs and --concurrency must be at least 1")
    if "exearchive" not in args.tools:
        args.tools.insert(0, "exearchive")
    args.tools = [t for t in TOOLS if t in args.tools]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(["python", "benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)])
    bench = Bench(args)
    try:
        bench.prepare()
        for name in args.payload:
            bench.bench_payload(PAYLOADS[name])
    except BenchError as error:
        log(f"error: {error}")
        return 1
    finally:
        bench.unmount_caches()
    elapsed = time.monotonic() - _STARTED
    report = bench.report(command, elapsed)
    print(report)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    temp = output.with_name(output.name + ".tmp")
    temp.write_text(report + "\n")
    temp.replace(output)
    raw = Path(args.json) if args.json else bench.work / "results.json"
    raw.write_text(
        json.dumps({p: {t: r.as_json() for t, r in rs.items()} for p, rs in bench.results.items()}, indent=1)
    )
    log(f"wrote {output} and {raw}; {elapsed / 60:.1f} min in all")
    failed = [f"{p}/{t}" for p, rs in bench.results.items() for t, r in rs.items() if r.error]
    if failed:
        log(f"some tools failed: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
