"""PySpark, for real: an interpreter archive as ``PYSPARK_PYTHON`` for the driver and the executors.

The archive holds pyspark (pinned, built once from its sdist into a cache kept
between runs: ``$EXEARCHIVE_TEST_CACHE`` or ``~/.cache/exearchive-tests``; about
460 MB) and greetlib, a small local project.  A job's UDF imports greetlib and
returns its ``__file__``: it must lie in the archive's cache entry.  Needs Java
17+ (``.ci/run`` installs it where it is missing) and, the first time, PyPI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_support import cli_env, exearchive, succeeded
from helpers import check, clean_env

PYSPARK = "pyspark==4.3.0"
PY4J = "py4j==0.10.9.9"

JOB = """\
import os, sys
from pyspark.sql import SparkSession

master, executor_root, inherit = sys.argv[1:4]
builder = SparkSession.builder.master(master).appName("exearchive-test")
builder = builder.config("spark.executorEnv.EXEARCHIVE_INHERIT_PATH", inherit)
if executor_root != "-":
    builder = builder.config("spark.executorEnv.EXEARCHIVE_ROOT", executor_root)
    builder = builder.config("spark.executorEnv.EXEARCHIVE_VERBOSE", "1")
spark = builder.getOrCreate()


def where(_):
    import greetlib, pyspark
    zips = [p for p in sys.path if p.endswith(".zip") and "pyspark" in p]
    return greetlib.__file__, pyspark.__file__, bool(zips)


for row in sorted(set(spark.sparkContext.parallelize(range(8), 4).map(where).collect())):
    print("ROW", *row)
spark.stop()
"""


def _java_or_skip() -> None:
    java = shutil.which("java")
    if java is None:
        pytest.skip("no java on PATH: PySpark needs Java 17+ (.ci/run installs openjdk-17-jre-headless)")
    version = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    if '"1.' in version or any(f'"{old}.' in version for old in range(9, 17)):
        pytest.skip(f"PySpark 4 needs Java 17+, this machine has {version.splitlines()[0]}")


@pytest.fixture(scope="session")
def pyspark_wheels() -> Path:
    """pyspark and py4j as wheels, made once per machine (pyspark is published as an sdist only)."""
    base = Path(os.environ.get("EXEARCHIVE_TEST_CACHE") or Path.home() / ".cache" / "exearchive-tests")
    wheels = base / "pyspark-4.3.0"
    if not list(wheels.glob("pyspark-*.whl")) or not list(wheels.glob("py4j-*.whl")):
        work = base / "pyspark-download"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        env = clean_env({"PIP_DISABLE_PIP_VERSION_CHECK": "1"})
        pip = [sys.executable, "-m", "pip"]
        check([*pip, "download", "--quiet", "--no-deps", "--dest", work, PYSPARK, PY4J], env=env)
        check([*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", work, *work.glob("pyspark-*.tar.gz")], env=env)
        for sdist in work.glob("*.tar.gz"):
            sdist.unlink()
        shutil.rmtree(wheels, ignore_errors=True)
        work.rename(wheels)
    return wheels


@pytest.fixture(scope="module")
def spark_archive(wheelhouse: Path, pyspark_wheels: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _java_or_skip()
    out = tmp_path_factory.mktemp("spark") / "spark.pyz"
    env = cli_env(wheelhouse, pyspark_wheels)
    succeeded(exearchive("pack", "--interpreter", "--python", sys.executable, "-o", out, PYSPARK, "greetlib", env=env))
    return out


def _job(
    archive: Path, tmp_path: Path, master: str, driver_root: Path, executor_root: Path | None, inherit: str
) -> str:
    job = tmp_path / "job.py"
    job.write_text(JOB)
    env = clean_env(
        {
            "EXEARCHIVE_ROOT": str(driver_root),
            "PYSPARK_PYTHON": str(archive),
            "PYSPARK_DRIVER_PYTHON": str(archive),
            "SPARK_LOCAL_DIRS": str(tmp_path / "spark-local"),
            "SPARK_LOCAL_IP": "127.0.0.1",
        }
    )
    result = subprocess.run(
        [str(archive), str(job), master, str(executor_root or "-"), inherit],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    return result.stdout


def _entry(root: Path) -> Path:
    entries = [p for p in root.iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1, entries
    return entries[0]


def test_local_mode_workers_import_from_the_archive(spark_archive: Path, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    out = _job(spark_archive, tmp_path, "local[2]", root, None, "0")
    site = _entry(root) / "site-packages"
    assert out == f"ROW {site}/greetlib/__init__.py {site}/pyspark/__init__.py False\n", out
    # with EXEARCHIVE_INHERIT_PATH=1 the workers also see the PYTHONPATH Spark gives them (its pyspark.zip),
    # after the archive's own packages: pyspark still comes from the archive
    inherited = _job(spark_archive, tmp_path, "local[2]", root, None, "1")
    assert inherited == f"ROW {site}/greetlib/__init__.py {site}/pyspark/__init__.py True\n", inherited


def test_local_cluster_executors_extract_once(spark_archive: Path, tmp_path: Path) -> None:
    driver_root = tmp_path / "driver-cache"
    executor_root = tmp_path / "executor-cache"  # empty: both executors start on it at once
    out = _job(spark_archive, tmp_path, "local-cluster[2,1,1024]", driver_root, executor_root, "0")
    site = _entry(executor_root) / "site-packages"
    assert out == f"ROW {site}/greetlib/__init__.py {site}/pyspark/__init__.py False\n", out
    assert not [p for p in executor_root.iterdir() if p.name.startswith((".tmp-", ".trash-"))]
    # the executors' stderr (kept by local-cluster under SPARK_HOME/work, here in the driver's entry)
    logs = list((_entry(driver_root) / "site-packages" / "pyspark" / "work").glob("app-*/*/stderr"))
    assert len(logs) == 2, logs
    traces = "".join(log.read_text(errors="replace") for log in logs)
    assert traces.count("] extracted ") == 1, traces[-4000:]
