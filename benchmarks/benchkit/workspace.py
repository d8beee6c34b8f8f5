"""The benchmark's workspace: its directories, the tool and run venvs, the offline wheelhouse,
exearchive built from this checkout, the measuring helper, and the file system for the caches."""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

from .common import HERE, REPO, BenchError, base_env, fresh_dir, log, output_of, run
from .measure import Starter
from .payloads import PAYLOADS

_TOOLS_NEEDING_PINS = {"shiv", "pex", "pex-venv"}


class Workspace:
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
        self.starter = Starter(None, self.rundir)
        self.exearchive_source = ""
        self.caches = self.work / "caches"
        self.cache_note = "the work directory's file system"
        self.mounted: Path | None = None

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
        if _TOOLS_NEEDING_PINS & set(self.tools):
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
        if _TOOLS_NEEDING_PINS & set(self.tools):
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
        for attempt in range(10):  # processes a measured start left (a JVM's children) may still be exiting
            if not os.path.ismount(mountpoint):
                break
            try:
                run(["umount", mountpoint], base_env(), what="umount")
            except BenchError:
                if attempt == 9:
                    raise
                time.sleep(1.0)
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


def run_bench(
    bench: Callable[[Workspace], int],
    *,
    work: str,
    tools: list[str],
    python: str,
    run_python: str | None,
    cache_fs: str,
) -> int:
    """Prepare a workspace for a side benchmark (``spark.py``, ``targets.py``), run ``bench`` in it, unmount.

    A BenchError is reported as one line and exit status 1.
    """
    ws = Workspace(
        argparse.Namespace(
            work=work,
            tools=tools,
            python=python,
            run_python=run_python,
            payload=[],
            cache_fs=cache_fs,
            exearchive_from="worktree",
            dont_write_bytecode=False,
        )
    )
    try:
        ws.prepare()
        return bench(ws)
    except BenchError as error:
        log(f"error: {error}")
        return 1
    finally:
        ws.unmount_caches()
