#!/usr/bin/env python3
"""PySpark's Python workers from an interpreter archive against a venv with the same packages, in one run.

    python benchmarks/spark.py                 # 5 runs of each measurement
    python benchmarks/spark.py --runs 3 --output /tmp/spark.md

It packs ``pyspark`` (pinned, built once from its sdist: about 460 MB) and a
small local library (``sample_projects/greetlib``) into an interpreter archive
(``exearchive pack --interpreter``), installs the same wheels into a venv, and
measures, alternating between the two:

- the archive step's time and the archive's size;
- a worker start: ``PYTHON -c "import pyspark.daemon, pyspark.worker, greetlib"``,
  what a Python worker imports before its first task, with an empty cache (the
  first start on a node: extraction of the whole payload) and a warm one;
- a whole job: a one-task ``local[1]`` job whose UDF imports greetlib, run with
  the archive (warm cache) or the venv as both ``PYSPARK_PYTHON`` and driver.

It shares ``benchkit`` with ``run.py``: the same tool venv, offline wheelhouse,
``measure.c`` and fresh file system for the caches.  Needs Java 17+.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import sys
from pathlib import Path

from benchkit.common import HERE, REPO, BenchError, fresh_dir, log, median, rotate, run, write_report
from benchkit.measure import Sample
from benchkit.workspace import Workspace, run_bench

DEFAULT_PYTHON = "/root/.pyenv/versions/3.11.7/bin/python3.11"
PINS = ("pyspark==4.3.0", "py4j==0.10.9.9")
WORKER = "import pyspark.daemon, pyspark.worker, greetlib; print('ok')"
JOB = """\
from pyspark.sql import SparkSession

spark = SparkSession.builder.master("local[1]").appName("bench").getOrCreate()


def where(_):
    import greetlib
    return greetlib.__name__


assert spark.sparkContext.parallelize([0], 1).map(where).collect() == ["greetlib"]
spark.stop()
print("ok")
"""


def pyspark_wheels(ws: Workspace, given: str | None) -> Path:
    """A directory holding pyspark and py4j wheels: ``given``, the test suite's cache, or made here."""
    candidates = [Path(given)] if given else []
    candidates.append(Path.home() / ".cache" / "exearchive-tests" / "pyspark-4.3.0")
    for directory in candidates:
        if list(directory.glob("pyspark-*.whl")) and list(directory.glob("py4j-*.whl")):
            return directory
    target = ws.work / "pyspark-wheels"
    if list(target.glob("pyspark-*.whl")):
        return target
    log("downloading pyspark's sdist and building its wheel (once)")
    fresh_dir(target)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    run([ws.tpy, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", target, *PINS], env, what="pip download")
    sdists = list(target.glob("pyspark-*.tar.gz"))
    run([ws.tpy, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", target, *sdists], env, what="pip wheel")
    for sdist in sdists:
        sdist.unlink()
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each measurement (default 5)")
    parser.add_argument("--python", default=DEFAULT_PYTHON if os.path.exists(DEFAULT_PYTHON) else sys.executable)
    parser.add_argument("--pyspark-wheels", default=None, metavar="DIR", help="a directory with the pinned wheels")
    parser.add_argument("--cache-fs", choices=("auto", "ext4", "work"), default="auto")
    parser.add_argument("--work", default=str(HERE / ".work"))
    parser.add_argument("--output", default=str(HERE / "results" / "spark.md"))
    args = parser.parse_args(argv)
    if not shutil.which("java"):
        log("error: PySpark needs Java 17+ on PATH")
        return 1
    return run_bench(
        lambda ws: bench(ws, args),
        work=args.work,
        tools=["exearchive", "venv"],
        python=args.python,
        run_python=None,
        cache_fs=args.cache_fs,
    )


def bench(ws: Workspace, args: argparse.Namespace) -> int:
    wheels = pyspark_wheels(ws, args.pyspark_wheels)
    greetlib = REPO / "sample_projects" / "greetlib"
    run(
        [ws.tpy, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", ws.local, greetlib],
        ws.offline_env(),
        what="building greetlib",
    )
    out = fresh_dir(ws.work / "spark")
    env = ws.offline_env({"PIP_FIND_LINKS": f"{ws.wheelhouse} {ws.local} {wheels}"})
    archive = out / "spark.pyz"
    log("packing the interpreter archive")
    pack_s = run(
        [ws.tpy, "-m", "exearchive.cli", "pack", "-q", "--interpreter", "--python", ws.rpy, "-o", archive,
         PINS[0], "greetlib"],
        env,
        what="exearchive pack",
    )  # fmt: skip
    venv = out / "venv"
    log("making the venv with the same packages")
    run([ws.python, "-m", "venv", "--without-pip", venv], env, what="venv")
    run([ws.tpy, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet", PINS[0], "greetlib"], env)
    job = out / "job.py"
    job.write_text(JOB)
    caches = fresh_dir(ws.caches / "spark")
    warm_root = caches / "warm"
    vpy = str(venv / "bin" / "python")

    def start_env(root: Path | None, python: str) -> dict[str, str]:
        extra = {"PYSPARK_PYTHON": python, "PYSPARK_DRIVER_PYTHON": python, "SPARK_LOCAL_IP": "127.0.0.1"}
        if root is not None:
            extra["EXEARCHIVE_ROOT"] = str(root)
        return ws.start_env(None, None) | extra

    samples: dict[str, list[Sample]] = {name: [] for name in ("cold", "warm", "venv", "job archive", "job venv")}
    first = ws.starter.measure([str(archive), "-c", WORKER], start_env(warm_root, str(archive)))  # fills the cache
    if not first.ok:
        raise BenchError(f"the archive's worker start failed: {first.stderr[-800:]}")
    for round_ in range(args.runs):
        for name in rotate(list(samples), round_):
            if name == "cold":
                root = fresh_dir(caches / f"cold-{round_}")
                command, environment = [str(archive), "-c", WORKER], start_env(root, str(archive))
            elif name == "warm":
                command, environment = [str(archive), "-c", WORKER], start_env(warm_root, str(archive))
            elif name == "venv":
                command, environment = [vpy, "-c", WORKER], start_env(None, vpy)
            elif name == "job archive":
                command, environment = [str(archive), str(job)], start_env(warm_root, str(archive))
            else:
                command, environment = [vpy, str(job)], start_env(None, vpy)
            sample = ws.starter.measure(command, environment)
            if not sample.ok:
                raise BenchError(f"{name} failed (exit {sample.returncode}): {sample.stderr[-800:]}")
            samples[name].append(sample)
        log(f"round {round_ + 1}/{args.runs} done")
    report = _report(args, archive.stat().st_size, pack_s, samples)
    write_report(report, Path(args.output))
    return 0


def _report(args: argparse.Namespace, size: int, pack_s: float, samples: dict[str, list[Sample]]) -> str:
    def ms(name: str) -> float:
        return (median(s.wall for s in samples[name]) or 0.0) * 1000

    def mb(name: str) -> float:
        return (median(s.rss_kb for s in samples[name]) or 0.0) / 1024

    venv = ms("venv")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = [
        ("worker start, empty cache (extracts the payload)", "cold"),
        ("worker start, warm cache", "warm"),
        ("worker start, venv", "venv"),
        ("one-task local[1] job, archive (warm)", "job archive"),
        ("one-task local[1] job, venv", "job venv"),
    ]
    lines = [
        "# PySpark workers: interpreter archive vs venv",
        "",
        f"- Date: {now}; `python benchmarks/spark.py --runs {args.runs}`; medians of {args.runs} runs, alternating",
        f"- Python: {args.python}; {PINS[0]} and greetlib; the archive step took {pack_s:.1f} s "
        f"(resolve, stage, compile, pack), the archive is {size / 1e6:.0f} MB",
        "",
        "| what | wall | ÷ venv | peak RSS |",
        "| --- | --- | --- | --- |",
    ]
    for label, name in rows:
        base = ms("job venv") if name.startswith("job") else venv
        lines.append(f"| {label} | {ms(name):.0f} ms | {ms(name) / base:.2f}x | {mb(name):.1f} MB |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
