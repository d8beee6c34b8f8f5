"""``spawner``, ``spawner --wait`` and ``spawner --crash``."""

import multiprocessing
import subprocess
import sys
import time

from spawner import work

CHILD = "import spawner.work; print(spawner.work.where())"


def _crash():
    raise RuntimeError("crashed on purpose")


def main(argv=None):
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--crash"]:
        _crash()
    if args == ["--wait"]:
        print("waiting", flush=True)
        time.sleep(60)
        return 0
    if args:
        print("usage: spawner [--wait | --crash]", file=sys.stderr)
        return 2
    child = subprocess.run([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, universal_newlines=True)
    print("subprocess: {} (exit {})".format(child.stdout.strip(), child.returncode))
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        print("spawn pool: " + " ".join(str(n) for n in pool.map(work.square, [1, 2, 3])))
        print("spawn worker: " + pool.apply(work.where))
    return 0


if __name__ == "__main__":
    sys.exit(main())
