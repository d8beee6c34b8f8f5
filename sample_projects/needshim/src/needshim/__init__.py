"""Uses the standard library where it has the feature, else the backport."""

import sys


def source() -> str:
    if sys.version_info >= (3, 11):
        return "the standard library"
    import shimlib

    return shimlib.source()
