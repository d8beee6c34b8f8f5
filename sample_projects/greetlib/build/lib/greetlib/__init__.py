"""Greetings as a library."""

__all__ = ["greet"]


def greet(name):
    """Return a greeting for *name*.

    >>> greet("Ada")
    'Greetings, Ada!'
    """
    return "Greetings, {}!".format(name)
