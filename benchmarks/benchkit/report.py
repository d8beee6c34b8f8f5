"""The report: the machine and tools, what the columns mean, and one table per payload."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
from pathlib import Path

from .common import median, output_of
from .measure import Result, Sample
from .payloads import PAYLOADS
from .tools import UNZIP
from .workspace import Workspace


def _machine(ws: Workspace) -> dict[str, str]:
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
            ws.tpy,
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
            version += f" ({ws.exearchive_source})"
        tools.append(f"{name} {version}")
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": output_of([ws.rpy, "-c", "import sys; print(sys.version.split()[0], sys.executable)"]),
        "runner": f"{ws.run_python} (archives run as RUN_VENV/bin/python ARCHIVE; RUN_VENV is an empty venv of "
        + ("it)" if ws.run_python == ws.python else f"it; they were built by {ws.python})"),
        "tools": ", ".join(tools),
    }


def report(ws: Workspace, results_by_payload: dict[str, dict[str, Result]], command: str, elapsed: float) -> str:
    args = ws.args
    machine = _machine(ws)
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
        f"- Runs: {args.build_runs} builds per tool (exearchive: each with {args.warm_build_runs} builds without "
        f"the archive and {args.warm_build_runs} after an app-only change), {args.runs} cold and {args.warm_runs} "
        "warm starts per tool, "
        f"alternating between the tools; {args.concurrency} concurrent cold starts x {args.concurrent_runs}. "
        "Times and RSS are medians.",
        "- Measured with: "
        + (
            "`benchmarks/measure.c` (fork, exec, `wait4`: exact wall time and peak RSS of each start)"
            if ws.starter.helper
            else "`os.wait4` in the driver (no C compiler): peak RSS includes the driver's own RSS as a floor"
        ),
        f"- Caches on: {ws.cache_note}",
        "- PYTHONDONTWRITEBYTECODE: "
        + ("set to 1 for every start" if args.dont_write_bytecode else "not set (the default: bytecode is written)"),
        "",
        "What the columns mean:",
        "",
        "- **build**: exearchive: `python -m build --wheel` of the app (isolated environment, setuptools' wheel "
        "and the archive); in brackets its archive step alone (resolve, stage, compile, pack): the time of "
        "that build's `build_wheel` hook (from build's `Building wheel...` to its `Successfully built`) minus "
        "that of the same build with `-C exearchive.enabled=false` (the hook's span leaves out the isolated "
        "environment, the same for both and the noisiest part of the build). shiv / pex: from the app's "
        "wheel in the wheelhouse (pex with an empty `PEX_ROOT`). venv: "
        "`python -m venv` + `pip install`. Ratios for build are against exearchive's archive step. "
        "exearchive's builds start with an empty build cache (`EXEARCHIVE_BUILD_CACHE`, on the caches' file "
        "system); **exearchive, app changed** is the next build with that cache after a change to the app's "
        "code only: the dependencies come from the build cache.",
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
    for name, results in results_by_payload.items():
        lines += [f"## {PAYLOADS[name].title}", "", *table(args, results), ""]
    return "\n".join(lines)


def table(args: argparse.Namespace, results: dict[str, Result]) -> list[str]:
    concurrency = args.concurrency
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
            build_text = cell(build, "s", 1, 1, None, tool) + (f" ({step:.2f} s)" if step is not None else "")
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
        warm_step = archive_step(r, warm=True) if tool == "exearchive" else None
        if warm_step is not None:
            share = f"; {warm_step / ref_build:.0%} of the cold step" if ref_build else ""
            build_text = f"{median(r.warm_build):.1f} s ({warm_step:.2f} s{share})"
            rows.append([f"{tool}, app changed", build_text] + ["—"] * (len(header) - 2))
    return ["| " + " | ".join(row) + " |" for row in rows]


def archive_step(result: Result, warm: bool = False) -> float | None:
    """exearchive's archive step: the median build_wheel hook minus the median one without the archive (the
    builds' times where the spans are missing); ``warm``: of the builds after a change to the app's code only,
    with a warm build cache."""
    if result.hook and result.hook_without_archive:  # the hooks' spans (see Result)
        full, without = median(result.hook_warm if warm else result.hook), median(result.hook_without_archive)
    else:
        full, without = median(result.warm_build if warm else result.build), median(result.without_archive)
    return full - without if full is not None and without is not None else None
