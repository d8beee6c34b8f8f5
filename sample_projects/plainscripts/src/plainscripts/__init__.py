"""The library behind the ``ps-report`` script."""

VERSION = "1.2"


def describe(args):
    """One line about the arguments."""
    return "plainscripts %s: %s" % (VERSION, " ".join(args) or "(no arguments)")
