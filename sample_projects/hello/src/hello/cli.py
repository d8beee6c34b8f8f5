"""Command line entry point of the ``hello`` sample.

Usage: ``hello [ARG ...] [--exit N]``

Prints a greeting that carries the installed version, echoes the arguments
and tells whether ``sys.argv[0]`` is an executable archive (``*.pyz``).
With ``--exit N`` the program exits with status N after printing.
"""

import sys
from importlib.metadata import version


def _exit_code(args):
    """Return the status asked for with ``--exit N``, 0 without it.

    Raises ValueError when ``--exit`` is not followed by an integer.
    """
    if "--exit" not in args:
        return 0
    position = args.index("--exit")
    try:
        return int(args[position + 1])
    except (IndexError, ValueError):
        raise ValueError("--exit needs an integer argument")


def main(argv=None):
    args = sys.argv[1:] if argv is None else list(argv)
    print("Hello from hello {}!".format(version("hello")))
    print("argv: " + " ".join(args))
    is_archive = sys.argv[0].endswith(".pyz")
    print("argv0-is-archive: " + ("yes" if is_archive else "no"))
    try:
        return _exit_code(args)
    except ValueError as error:
        print("hello: error: {}".format(error), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
