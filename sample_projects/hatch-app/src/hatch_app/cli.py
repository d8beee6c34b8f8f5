"""Command line of the ``hatch-app`` sample.

Usage: ``hatch-app [NAME ...] [--exit N]``

Prints its version (from the installed metadata), a greeting from its
dependency ``greetlib`` for each NAME (``World`` without one), and the message
of the day that it reads from a data file next to this module with
``os.path.dirname(__file__)``.  With ``--exit N`` it exits with status N.
"""

import os
import sys
from importlib.metadata import version

from greetlib import greet


def main(argv=None):
    args = sys.argv[1:] if argv is None else list(argv)
    code = 0
    if "--exit" in args:
        position = args.index("--exit")
        code = int(args[position + 1])
        del args[position : position + 2]
    print("hatch-app {}".format(version("hatch-app")))
    for name in args or ["World"]:
        print(greet(name))
    with open(os.path.join(os.path.dirname(__file__), "data", "motd.txt")) as handle:
        print("motd: " + handle.read().strip())
    return code


if __name__ == "__main__":
    sys.exit(main())
