"""``cext-demo [A B]``: add two integers with the C extension (default 2 and 40)."""

import sys
from importlib.machinery import EXTENSION_SUFFIXES

from cext_demo import _fast

USAGE = "usage: cext-demo [A B]"


def is_native(module):
    """True if *module* was loaded from a compiled extension file."""
    filename = getattr(module, "__file__", None) or ""
    return any(filename.endswith(suffix) for suffix in EXTENSION_SUFFIXES)


def main(argv=None):
    args = sys.argv[1:] if argv is None else list(argv)
    if not args:
        args = ["2", "40"]
    if len(args) != 2:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        a, b = (int(arg) for arg in args)
    except ValueError:
        print(USAGE, file=sys.stderr)
        print("cext-demo: error: A and B must be integers", file=sys.stderr)
        return 2
    try:
        total = _fast.add(a, b)
    except OverflowError as error:
        print("cext-demo: error: {}".format(error), file=sys.stderr)
        return 1
    print("add({}, {}) = {}".format(a, b, total))
    print("native module: {}".format(is_native(_fast)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
