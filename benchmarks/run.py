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

The driver is this file (arguments, the order of the measurements) and the
package ``benchkit`` beside it: ``payloads`` (what is benchmarked),
``tools`` (how each tool builds and starts it), ``workspace`` (venvs,
wheelhouse, the caches' file system), ``measure`` (one start, measured) and
``report`` (the Markdown tables).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from benchkit.common import HERE, BenchError, elapsed, fresh_dir, log, rmtree, rotate
from benchkit.measure import Result, Sample, count_zip_files, tree_stats
from benchkit.payloads import DEFAULT_PAYLOADS, PAYLOADS, Payload, make_projects
from benchkit.report import report
from benchkit.tools import CACHE_VARS, TOOLS, UNZIP, build, depth, payload_zip, start_command
from benchkit.workspace import Workspace

DEFAULT_PYTHON = "/root/.pyenv/versions/3.11.7/bin/python3.11"


def bench_payload(ws: Workspace, payload: Payload) -> dict[str, Result]:
    """Build the payload's app with every tool, then measure its starts, alternating between the tools."""
    args = ws.args
    log(f"== payload {payload.name}: {payload.title}")
    app = make_projects(ws, payload)
    results = {tool: Result() for tool in ws.tools}
    artifacts: dict[str, Path] = {}
    # the build outputs too: a warm exearchive build replaces an archive of up to 36 MB, which on a disk
    # mounted with online discard stalls the writes after it (it is the same file system for every tool)
    builds = ws.caches / "builds" / payload.name
    caches = ws.caches / payload.name
    rmtree(builds)
    rmtree(caches)
    os.sync()

    def alive() -> list[str]:
        return [t for t in ws.tools if results[t].error is None]

    for round_ in range(args.build_runs):
        for tool in rotate(alive(), round_):
            log(f"{payload.name}: build {round_ + 1}/{args.build_runs} with {tool}")
            try:
                os.sync()
                artifacts[tool] = build(ws, tool, payload, app, builds / tool / str(round_), results[tool])
            except BenchError as error:
                results[tool].error = f"build failed: {str(error).splitlines()[0]}"
                log(f"{payload.name}: {tool}: {error}")
    # Deleting many files makes this machine's disk slow for a while (ext4 with online discard on a
    # virtual disk): delete nothing right before a measurement; clean up between phases and payloads.
    for tool in ws.tools:
        for old in (builds / tool).glob("*"):
            if tool not in artifacts or old != artifacts[tool].parents[depth(tool)]:
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
        artifacts[UNZIP] = payload_zip(artifacts["exearchive"], fresh_dir(builds / UNZIP) / "payload.zip")
        results[UNZIP] = Result(size=artifacts[UNZIP].stat().st_size, files=results["exearchive"].files)

    def start(tool: str, cache: Path | None) -> Sample:
        env = ws.start_env(CACHE_VARS.get(tool), cache)
        sample = ws.starter.measure(start_command(ws, tool, artifacts[tool], cache), env)
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
            env = ws.start_env(CACHE_VARS.get(tool), cache)
            outcome = ws.starter.concurrent(start_command(ws, tool, artifacts[tool]), env, args.concurrency)
            results[tool].concurrent.append(outcome)
            log(
                f"{payload.name}: {args.concurrency} concurrent cold starts of {tool}: "
                f"{outcome['ok']}/{outcome['count']} ok in {outcome['wall']:.2f} s"
            )
            if outcome["failure"]:
                log(f"{payload.name}: {tool}: first failure: {outcome['failure']}")
    rmtree(caches)
    os.sync()
    return results


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
        "--warm-build-runs",
        type=int,
        default=3,
        help="per exearchive build round: builds without the archive and builds after an app-only change, "
        "alternating (default 3 each)",
    )
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
    if min(args.runs, args.build_runs, args.warm_build_runs, args.warm_runs, args.concurrency) < 1:
        parser.error("--runs, --build-runs, --warm-build-runs, --warm-runs and --concurrency must be at least 1")
    if args.concurrent_runs < 0:
        parser.error("--concurrent-runs must be at least 0")
    if "exearchive" not in args.tools:
        args.tools.insert(0, "exearchive")
    args.tools = [t for t in TOOLS if t in args.tools]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(["python", "benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)])
    ws = Workspace(args)
    results: dict[str, dict[str, Result]] = {}
    try:
        ws.prepare()
        for name in args.payload:
            results[name] = bench_payload(ws, PAYLOADS[name])
    except BenchError as error:
        log(f"error: {error}")
        return 1
    finally:
        ws.unmount_caches()
    took = elapsed()
    text = report(ws, results, command, took)
    print(text)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    temp = output.with_name(output.name + ".tmp")
    temp.write_text(text + "\n")
    temp.replace(output)
    raw = Path(args.json) if args.json else ws.work / "results.json"
    raw.write_text(json.dumps({p: {t: r.as_json() for t, r in rs.items()} for p, rs in results.items()}, indent=1))
    log(f"wrote {output} and {raw}; {took / 60:.1f} min in all")
    failed = [f"{p}/{t}" for p, rs in results.items() for t, r in rs.items() if r.error]
    if failed:
        log(f"some tools failed: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
