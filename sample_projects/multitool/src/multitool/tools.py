"""The console scripts of multitool: ``mt-upper``, ``mt-lower`` and ``mt-count``.

Each function reads its arguments from ``sys.argv`` and returns the exit status.
"""

import sys


def _join_args(prog):
    args = sys.argv[1:]
    if not args:
        print("usage: {} TEXT...".format(prog), file=sys.stderr)
        return None
    return " ".join(args)


def upper():
    """``mt-upper TEXT...``: print the arguments in upper case."""
    text = _join_args("mt-upper")
    if text is None:
        return 2
    print(text.upper())
    return 0


def lower():
    """``mt-lower TEXT...``: print the arguments in lower case."""
    text = _join_args("mt-lower")
    if text is None:
        return 2
    print(text.lower())
    return 0


def count():
    """``mt-count [--exit-with-count] [ARG...]``: print the number of arguments.

    With ``--exit-with-count`` the exit status is that number too (the flag
    itself is not counted).
    """
    args = sys.argv[1:]
    exit_with_count = "--exit-with-count" in args
    counted = [arg for arg in args if arg != "--exit-with-count"]
    print(len(counted))
    return len(counted) if exit_with_count else 0
