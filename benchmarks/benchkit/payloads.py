"""The payloads: what the benchmarked app depends on, and the projects generated for each."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .common import fresh_dir, log, rmtree, run

if TYPE_CHECKING:
    from .workspace import Workspace


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


def app_name(payload: Payload) -> str:
    return f"benchapp-{payload.name}"


def clean_project(app: Path) -> None:
    rmtree(app / "build")
    for info in app.glob("*.egg-info"):
        rmtree(info)


def make_projects(ws: Workspace, payload: Payload) -> Path:
    """Generate the app project (and a local library, built once); return the app directory."""
    base = ws.work / "projects" / payload.name
    if payload.library and payload.library_name:
        wheels = list(ws.local.glob(f"{payload.library_name}-*.whl"))
        if not wheels:
            lib = fresh_dir(base / "lib")
            package = payload.library(lib)
            packages = sorted(
                d.relative_to(lib).as_posix().replace("/", ".") for d in lib.rglob("*") if (d / "__init__.py").exists()
            )
            (lib / "pyproject.toml").write_text(
                '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n'
                f'[project]\nname = "{package}"\nversion = "1.0"\n\n'
                f"[tool.setuptools]\npackages = {json.dumps(packages)}\n"
            )
            log(f"building the local library {package} ({len(packages)} packages)")
            run(
                [ws.tpy, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", ws.local, lib],
                ws.offline_env(),
                what=f"building {package}",
            )
            rmtree(lib)
    app = fresh_dir(base / "app")
    (app / "benchapp").mkdir()
    (app / "benchapp" / "__init__.py").write_text(f"def main():\n    {payload.body}\n    return 0\n")
    deps = ", ".join(json.dumps(d) for d in payload.dependencies)
    (app / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["exearchive"]\nbuild-backend = "exearchive.backend"\n\n'
        f'[project]\nname = "{app_name(payload)}"\nversion = "1.0"\ndependencies = [{deps}]\n\n'
        '[project.scripts]\nbenchapp = "benchapp:main"\n\n[tool.setuptools]\npackages = ["benchapp"]\n'
    )
    for old in ws.local.glob(f"{app_name(payload).replace('-', '_')}-*.whl"):
        old.unlink()
    # The app's own wheel, for shiv, pex and the venv (built under pip: no archive).
    run(
        [ws.tpy, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", ws.local, app],
        ws.offline_env(),
        what="building the app wheel",
    )
    clean_project(app)
    return app
