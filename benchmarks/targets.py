#!/usr/bin/env python3
"""A foreign target: numpy + pandas for CPython 3.12, built on 3.11, exearchive against PEX, in one run.

    python benchmarks/targets.py               # 3 builds and 5 cold / 10 warm starts of each
    python benchmarks/targets.py --runs 1 --output /tmp/targets.md

Both tools build from the same local wheelhouse (the cp312 wheels, downloaded
once with pip's target flags) for the same target: exearchive with
``pack --interpreter --target cp312-manylinux_2_28_x86_64``, PEX with
``--platform manylinux_2_28_x86_64-cp-312-cp312``.  The artifacts then run
``import pandas`` under CPython 3.12 with an empty cache (cold) and a kept one
(warm), alternating between the tools.  It shares ``benchkit`` with ``run.py``:
the tool venv, ``measure.c`` and the fresh file system for the caches.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

from benchkit.common import HERE, BenchError, elapsed, fresh_dir, log, median, rotate, run
from benchkit.measure import Sample
from benchkit.workspace import Workspace, run_bench

BUILD_PYTHON = "/root/.pyenv/versions/3.11.7/bin/python3.11"
TARGET_PYTHON = "/root/.pyenv/versions/3.12.1/bin/python3.12"
TARGET = "cp312-manylinux_2_28_x86_64"
PEX_PLATFORM = "manylinux_2_28_x86_64-cp-312-cp312"
PINS = ("numpy==2.4.6", "pandas==3.1.1")
CODE = "import pandas, numpy; assert pandas.DataFrame({'a': numpy.arange(3)}).a.sum() == 3; print('ok')"
TOOLS = ("exearchive", "pex")


def target_wheels(ws: Workspace) -> Path:
    """The cp312 wheels of PINS and their dependencies (pip's target flags), downloaded once."""
    house = ws.work / "targets-wheels"
    if list(house.glob("pandas-*.whl")):
        return house
    fresh_dir(house)
    platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(28, 16, -1)] + ["manylinux2014_x86_64"]
    flags = [f"--platform={p}" for p in platforms]
    command = [ws.tpy, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--dest", house, *flags]
    command += ["--python-version=3.12", "--implementation=cp", "--abi=cp312", "--abi=abi3", "--abi=none", *PINS]
    run(command, {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}, what="pip download for cp312")
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
    if tool == "exearchive":
        artifact = out / "app.pyz"
        command = [ws.tpy, "-m", "exearchive.cli", "pack", "-q", "--interpreter", "--target", TARGET]
        command += ["--python", TARGET_PYTHON, "-o", artifact, *PINS]
    else:
        artifact = out / "app.pex"
        command = [ws.tools_venv / "bin" / "pex", "--no-pypi", "-f", house, "--platform", PEX_PLATFORM]
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
            seconds, artifacts[tool] = _build(ws, tool, house, ws.work / "targets" / tool)
            builds[tool].append(seconds)
        log(f"build round {round_ + 1}/{args.runs} done")
    caches = fresh_dir(ws.caches / "targets")
    variable = {"exearchive": "EXEARCHIVE_ROOT", "pex": "PEX_ROOT"}
    samples: dict[tuple[str, str], list[Sample]] = {(t, k): [] for t in TOOLS for k in ("cold", "warm")}

    def start(tool: str, root: Path) -> Sample:
        command = [TARGET_PYTHON, str(artifacts[tool]), "-c", CODE]
        sample = ws.starter.measure(command, ws.start_env(variable[tool], root))
        if not sample.ok:  # it printed "ok": pandas computed
            raise BenchError(f"{tool} under 3.12 failed (exit {sample.returncode}): {sample.stderr[-800:]}")
        return sample

    for tool in TOOLS:
        start(tool, caches / f"warm-{tool}")  # fills the warm cache
    for round_ in range(10):
        for tool in rotate(list(TOOLS), round_):
            if round_ < 5:
                samples[(tool, "cold")].append(start(tool, fresh_dir(caches / f"cold-{tool}-{round_}")))
            samples[(tool, "warm")].append(start(tool, caches / f"warm-{tool}"))
    report = _report(args, builds, artifacts, samples)
    print(report)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report + "\n")
    log(f"wrote {output}; {elapsed() / 60:.1f} min in all")
    return 0


def _ratio(tool: str, value: float, ref: float) -> str:
    return "" if tool == "exearchive" else f" ({value / ref:.2f}x)"


def _report(
    args: argparse.Namespace,
    builds: dict[str, list[float]],
    artifacts: dict[str, Path],
    samples: dict[tuple[str, str], list[Sample]],
) -> str:
    def ms(tool: str, kind: str) -> float:
        return (median(s.wall for s in samples[(tool, kind)]) or 0.0) * 1000

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    ours = {
        "build": median(builds["exearchive"]) or 1.0,
        "size": artifacts["exearchive"].stat().st_size,
        "cold": ms("exearchive", "cold"),
        "warm": ms("exearchive", "warm"),
    }
    lines = [
        f"# A foreign target: {' '.join(PINS)} for {TARGET}, built on CPython 3.11",
        "",
        f"- Date: {now}; `python benchmarks/targets.py --runs {args.runs}`; medians of {args.runs} builds, "
        "5 cold and 10 warm starts, alternating between the tools",
        f'- Built with {BUILD_PYTHON}; run with {TARGET_PYTHON} ARTIFACT -c "{CODE}"',
        f"- PEX: `--platform {PEX_PLATFORM}`; both from the same local wheelhouse of cp312 wheels",
        "",
        "| tool | build | size | cold | warm |",
        "| --- | --- | --- | --- | --- |",
    ]
    for tool in TOOLS:
        build = median(builds[tool]) or 0.0
        size = artifacts[tool].stat().st_size
        cold, warm = ms(tool, "cold"), ms(tool, "warm")

        lines.append(
            f"| {tool} | {build:.1f} s{_ratio(tool, build, ours['build'])} "
            f"| {size / 1e6:.1f} MB{_ratio(tool, size, ours['size'])} "
            f"| {cold:.0f} ms{_ratio(tool, cold, ours['cold'])} | {warm:.0f} ms{_ratio(tool, warm, ours['warm'])} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
