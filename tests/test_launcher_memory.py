"""Extraction streams: a payload with a big file does not raise the launcher's peak memory.

The project is made here (a 100 MB file is not something to commit): one
package with a data file of random bytes, built with ``python -m build
--wheel`` and the exearchive backend.  Peak RSS is measured for a cold start
(which extracts the file) and a warm start, each in a wrapper process with
``getrusage(RUSAGE_CHILDREN)``; the bound is generous, the point is that the
file is never held in memory (that would cost 100 MB or more).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import build_project
from launcher_support import entries, launcher_env

SIZE = 100 * 1024 * 1024
BOUND_KB = 30 * 1024

PYPROJECT = """\
[build-system]
requires = ["exearchive"]
build-backend = "exearchive.backend"

[project]
name = "bigdata"
version = "1.0"
requires-python = ">=3.8"

[project.scripts]
bigdata = "bigdata:main"

[tool.setuptools.packages.find]
where = ["src"]

[tool.setuptools.package-data]
bigdata = ["*.bin"]
"""

MODULE = """\
import os


def main():
    path = os.path.join(os.path.dirname(__file__), "blob.bin")
    print("blob: %d bytes" % os.path.getsize(path))
    return 0
"""

WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def _peak_kb(archive: Path, root: Path) -> int:
    """Peak RSS (KiB) of one start of ``archive``, measured from a wrapper process."""
    result = subprocess.run(
        [sys.executable, "-c", WRAPPER, sys.executable, str(archive)],
        env=launcher_env(root),
        capture_output=True,
        text=True,
        check=True,
    )
    code, peak = result.stdout.split()
    assert code == "0", result.stderr
    return int(peak)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss is in KiB on Linux only")
def test_big_file_is_extracted_with_bounded_memory(wheelhouse: Path, tmp_path: Path) -> None:
    project = tmp_path / "project" / "bigdata"
    package = project / "src" / "bigdata"
    package.mkdir(parents=True)
    (project / "pyproject.toml").write_text(PYPROJECT)
    (package / "__init__.py").write_text(MODULE)
    with (package / "blob.bin").open("wb") as blob:
        for _ in range(SIZE // (1024 * 1024)):
            blob.write(os.urandom(1024 * 1024))  # incompressible: the payload member is as big as the file
    build = build_project(project, tmp_path / "dist", wheelhouse, "--wheel")
    assert build.returncode == 0, build.output
    archive = build.archive()
    assert archive.stat().st_size > SIZE
    root = tmp_path / "cache"
    cold = _peak_kb(archive, root)
    [entry] = entries(root)
    assert (entry / "site-packages" / "bigdata" / "blob.bin").stat().st_size == SIZE
    warm = min(_peak_kb(archive, root) for _ in range(2))
    assert cold - warm < BOUND_KB, f"a cold start peaked at {cold} KiB, a warm one at {warm} KiB"
