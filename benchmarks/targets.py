#!/usr/bin/env python3
"""Foreign targets: numpy + pandas for CPython 3.12 (and for 3.11 + 3.12 in one file), built on 3.11, against PEX.

    python benchmarks/targets.py               # 3 builds and 5 cold / 10 warm starts of each
    python benchmarks/targets.py --runs 1 --output /tmp/targets.md

Both tools build from the same local wheelhouse (the cp312 wheels, downloaded
once with pip's target flags) for the same target: exearchive with
``pack --interpreter --target cp312-manylinux_2_28_x86_64``, PEX with
``--platform manylinux_2_28_x86_64-cp-312-cp312``.  The artifacts then run
``import pandas`` under CPython 3.12 with an empty cache (cold) and a kept one
(warm), alternating between the tools.  The two-target rows build one
archive for cp311 and cp312 (``--target`` twice; PEX: ``--platform`` twice)
from the wheels of both, and run it the same way under 3.12.  It shares ``benchkit`` with ``run.py``:
the tool venv, ``measure.c`` and the fresh file system for the caches.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

from benchkit.common import HERE, BenchError, fresh_dir, log, median, rotate, run, write_report
from benchkit.measure import Sample
from benchkit.workspace import Workspace, run_bench

BUILD_PYTHON = "/root/.pyenv/versions/3.11.7/bin/python3.11"
TARGET_PYTHON = "/root/.pyenv/versions/3.12.1/bin/python3.12"
TARGET = "cp312-manylinux_2_28_x86_64"
PEX_PLATFORM = "manylinux_2_28_x86_64-cp-312-cp312"
# the two-target rows: cp312 first (the interpreter that runs it), then cp311
TARGETS_TWO = (TARGET, "cp311-manylinux_2_28_x86_64")
PEX_PLATFORMS_TWO = (PEX_PLATFORM, "manylinux_2_28_x86_64-cp-311-cp311")
PINS = ("numpy==2.4.6", "pandas==3.1.1")
CODE = "import pandas, numpy; assert pandas.DataFrame({'a': numpy.arange(3)}).a.sum() == 3; print('ok')"
TOOLS = ("exearchive", "pex", "exearchive, cp311 + cp312", "pex, cp311 + cp312")


def target_wheels(ws: Workspace) -> Path:
    """The cp312 and cp311 wheels of PINS and their dependencies (pip's target flags), downloaded once."""
    house = ws.work / "targets-wheels"
    platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(28, 16, -1)] + ["manylinux2014_x86_64"]
    flags = [f"--platform={p}" for p in platforms]
    for version in ("3.12", "3.11"):
        abi = "cp" + version.replace(".", "")
        if list(house.glob(f"pandas-*-{abi}-*.whl")):
            continue
        command = [ws.tpy, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--dest", house, *flags]
        command += [f"--python-version={version}", "--implementation=cp", f"--abi={abi}", "--abi=abi3", "--abi=none"]
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        run([*command, *PINS], env, what=f"pip download for {abi}")
    return house


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="builds of each tool (default 3); starts: 5 cold, 10 warm")
    parser.add_argument("--cache-fs", choices=("auto", "ext4", "work"), default="auto")
    parser.add_argument("--work", default=str(HERE / ".work"))
    parser.add_argument("--output", default=str(HERE / "results" / "targets.md"))
    args = parser.parse_args(argv)
    for python in (BUILD_PYTHON, TARGET_PYTHON):
        if not os.access(python, os.X_OK):
            log(f"error: {python} is needed")
            return 1
    return run_bench(
        lambda ws: bench(ws, args),
        work=args.work,
        tools=["exearchive", "pex"],
        python=BUILD_PYTHON,
        run_python=TARGET_PYTHON,
        cache_fs=args.cache_fs,
    )


def _build(ws: Workspace, tool: str, house: Path, out: Path) -> tuple[float, Path]:
    env = ws.offline_env({"PIP_FIND_LINKS": str(house)})
    two = tool.endswith("cp311 + cp312")
    if tool.startswith("exearchive"):
        artifact = out / "app.pyz"
        targets = [item for target in (TARGETS_TWO if two else (TARGET,)) for item in ("--target", target)]
        command = [ws.tpy, "-m", "exearchive.cli", "pack", "-q", "--interpreter", *targets]
        command += ["--python", TARGET_PYTHON, "-o", artifact, *PINS]
    else:
        artifact = out / "app.pex"
        platforms = [item for p in (PEX_PLATFORMS_TWO if two else (PEX_PLATFORM,)) for item in ("--platform", p)]
        command = [ws.tools_venv / "bin" / "pex", "--no-pypi", "-f", house, *platforms]
        command += ["--python-shebang", TARGET_PYTHON, "-o", artifact, *PINS]
    fresh_dir(out)
    seconds = run(command, env, what=f"{tool} build")
    return seconds, artifact


def bench(ws: Workspace, args: argparse.Namespace) -> int:
    house = target_wheels(ws)
    builds: dict[str, list[float]] = {tool: [] for tool in TOOLS}
    artifacts: dict[str, Path] = {}
    for round_ in range(args.runs):
        for tool in rotate(list(TOOLS), round_):
            seconds, artifacts[tool] = _build(ws, tool, house, ws.work / "targets" / tool.replace(" ", ""))
            builds[tool].append(seconds)
        log(f"build round {round_ + 1}/{args.runs} done")
    caches = fresh_dir(ws.caches / "targets")
    variable = {tool: "EXEARCHIVE_ROOT" if tool.startswith("exearchive") else "PEX_ROOT" for tool in TOOLS}
    samples: dict[tuple[str, str], list[Sample]] = {(t, k): [] for t in TOOLS for k in ("cold", "warm")}

    def start(tool: str, root: Path) -> Sample:
        command = [TARGET_PYTHON, str(artifacts[tool]), "-c", CODE]
        sample = ws.starter.measure(command, ws.start_env(variable[tool], root))
        if not sample.ok:  # it printed "ok": pandas computed
            raise BenchError(f"{tool} under 3.12 failed (exit {sample.returncode}): {sample.stderr[-800:]}")
        return sample

    for tool in TOOLS:
        start(tool, caches / f"warm-{TOOLS.index(tool)}")  # fills the warm cache
    for round_ in range(10):
        for tool in rotate(list(TOOLS), round_):
            if round_ < 5:
                samples[(tool, "cold")].append(start(tool, fresh_dir(caches / f"cold-{TOOLS.index(tool)}-{round_}")))
            samples[(tool, "warm")].append(start(tool, caches / f"warm-{TOOLS.index(tool)}"))
    report = _report(args, builds, artifacts, samples)
    write_report(report, Path(args.output))
    return 0


def _reference(tool: str) -> str:
    """The exearchive row a row is compared with: the one with the same targets."""
    return TOOLS[2] if tool.endswith("cp311 + cp312") else TOOLS[0]


def _report(
    args: argparse.Namespace,
    builds: dict[str, list[float]],
    artifacts: dict[str, Path],
    samples: dict[tuple[str, str], list[Sample]],
) -> str:
    def ms(tool: str, kind: str) -> float:
        return (median(s.wall for s in samples[(tool, kind)]) or 0.0) * 1000

    def figures(tool: str) -> dict[str, float]:
        return {
            "build": median(builds[tool]) or 1.0,
            "size": artifacts[tool].stat().st_size,
            "cold": ms(tool, "cold"),
            "warm": ms(tool, "warm"),
        }

    def ratio(tool: str, key: str) -> str:
        reference = _reference(tool)
        return "" if tool == reference else f" ({figures(tool)[key] / (figures(reference)[key] or 1.0):.2f}x)"

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# A foreign target: {' '.join(PINS)} for {TARGET}, built on CPython 3.11",
        "",
        f"- Date: {now}; `python benchmarks/targets.py --runs {args.runs}`; medians of {args.runs} builds, "
        "5 cold and 10 warm starts, alternating between the tools",
        f'- Built with {BUILD_PYTHON}; run with {TARGET_PYTHON} ARTIFACT -c "{CODE}"',
        f"- PEX: `--platform {PEX_PLATFORM}`; both from the same local wheelhouse of cp312 (and cp311) wheels",
        f"- two targets: exearchive `--target {' --target '.join(TARGETS_TWO)}`, "
        f"PEX `--platform {' --platform '.join(PEX_PLATFORMS_TWO)}`; run with 3.12 as above",
        "",
        "| tool | build | size | cold | warm |",
        "| --- | --- | --- | --- | --- |",
    ]
    for tool in TOOLS:
        row = figures(tool)
        lines.append(
            f"| {tool} | {row['build']:.1f} s{ratio(tool, 'build')} | {row['size'] / 1e6:.1f} MB{ratio(tool, 'size')} "
            f"| {row['cold']:.0f} ms{ratio(tool, 'cold')} | {row['warm']:.0f} ms{ratio(tool, 'warm')} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
