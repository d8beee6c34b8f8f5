"""The benchmarked tools: how each builds the payload's app, and how its artifact is started."""

from __future__ import annotations

import shutil
import time
import zipfile
from pathlib import Path

from .common import BenchError, fresh_dir, run, run_marked
from .measure import Result
from .payloads import Payload, app_name, clean_project
from .workspace import Workspace

TOOLS = ("exearchive", "shiv", "pex", "pex-venv", "venv")
CACHE_VARS = {"exearchive": "EXEARCHIVE_ROOT", "shiv": "SHIV_ROOT", "pex": "PEX_ROOT", "pex-venv": "PEX_ROOT"}
UNZIP = "unzip -q"  # a reference row: unzip -q of exearchive's payload into an empty directory


def depth(tool: str) -> int:
    """How deep the artifact of ``tool`` lies in its build directory (dist/app.pyz: 1, app.pex: 0)."""
    return 1 if tool == "exearchive" else 0


def build(ws: Workspace, tool: str, payload: Payload, app: Path, out: Path, result: Result) -> Path:
    """Build ``tool``'s artifact into ``out`` (fresh); record the time; return what to run."""
    fresh_dir(out)
    name = app_name(payload)
    finds = ["--find-links", str(ws.wheelhouse), "--find-links", str(ws.local)]
    if tool == "exearchive":
        # A new, empty build cache for every round, on the caches' file system: this build is a cold one.
        cache_env = ws.offline_env({"EXEARCHIVE_BUILD_CACHE": str(fresh_dir(ws.caches / "build-cache" / out.name))})
        _python_build(ws, app, out, "dist", cache_env, (result.build, result.hook))
        # Alternately: the same build without the archive step (the difference is what the archive costs),
        # and the build after a change to the app's code only, the dependencies from the warm build cache.
        # Each is a few seconds that vary by tenths (the isolated environment), so a round makes several.
        code = app / "benchapp" / "__init__.py"
        original = code.read_text()
        for again in range(ws.args.warm_build_runs):
            without = (result.without_archive, result.hook_without_archive)
            _python_build(ws, app, out, "wheel-only", ws.offline_env(), without, "-C", "exearchive.enabled=false")
            code.write_text(original + f"# changed for build round {out.name}, {again}\n")
            try:
                _python_build(ws, app, out, "dist-warm", cache_env, (result.warm_build, result.hook_warm))
            finally:
                code.write_text(original)
        clean_project(app)
        archives = sorted((out / "dist").glob("*.pyz"))
        if len(archives) != 1:
            raise BenchError(f"python -m build made {len(archives)} archives in {out / 'dist'}")
        return archives[0]
    if tool == "shiv":
        target = out / "app.pyz"
        result.build.append(
            run(
                [ws.tools_venv / "bin" / "shiv", "-o", target, "-e", "benchapp:main", "--no-index", *finds, name],
                ws.offline_env(),
                cwd=out,
                what="shiv",
            )
        )
        return target
    if tool in ("pex", "pex-venv"):
        target = out / "app.pex"
        extra = ["--venv"] if tool == "pex-venv" else []
        env = ws.offline_env({"PEX_ROOT": str(out / "pex-build-root")})
        result.build.append(
            run(
                [
                    ws.tools_venv / "bin" / "pex",
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
        env = ws.offline_env()
        start = time.perf_counter()
        run([ws.run_python, "-m", "venv", "--without-pip", venv], env, what="venv")
        run(
            [ws.tpy, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet", name],
            env,
            what="pip install into the venv",
        )
        result.build.append(time.perf_counter() - start)
        return venv
    raise BenchError(f"unknown tool {tool}")


def _python_build(
    ws: Workspace,
    app: Path,
    out: Path,
    outdir: str,
    env: dict[str, str],
    into: tuple[list[float], list[float]],
    *options: str,
) -> None:
    """``python -m build --wheel`` of a clean ``app`` into ``out/outdir``; its time and that of its build_wheel
    hook (from build's ``Building wheel...`` to its ``Successfully built``) appended to the lists ``into``."""
    clean_project(app)
    command = [ws.tpy, "-m", "build", "--wheel", "--outdir", out / outdir, *options, app]
    what = " ".join(["python -m build", *options])
    wall, hook = run_marked(command, {**env, "PYTHONUNBUFFERED": "1"}, _HOOK_START, _HOOK_END, cwd=out, what=what)
    if hook is None:
        raise BenchError(f"{what}: no {_HOOK_START!r} ... {_HOOK_END!r} in its output")
    into[0].append(wall)
    into[1].append(hook)


_HOOK_START = "Building wheel..."
_HOOK_END = "Successfully built"


def start_command(ws: Workspace, tool: str, artifact: Path, cache: Path | None = None) -> list[str]:
    if tool == "venv":
        return [str(artifact / "bin" / "benchapp")]
    if tool == UNZIP:
        return ["sh", "-c", 'unzip -q "$0" -d "$1" && echo ok', str(artifact), str(cache)]
    return [ws.rpy, str(artifact)]


def payload_zip(archive: Path, target: Path) -> Path:
    """Copy exearchive's payload out of its archive: what the ``unzip -q`` row extracts."""
    with (
        zipfile.ZipFile(archive) as outer,
        outer.open("__exearchive__/payload.zip") as source,
        target.open("wb") as out,
    ):
        shutil.copyfileobj(source, out, 1 << 20)
    return target
