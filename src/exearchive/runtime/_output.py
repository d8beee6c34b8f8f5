"""What the tools print: one line at a time on standard output, sizes and counts in words."""

import sys

from ._cache import remove_tree


def out(line=""):
    sys.stdout.write(line + "\n")


def size_text(count):
    if count < 1024:
        return "%d bytes" % count
    units = ("KiB", "MiB", "GiB", "TiB")
    value = count / 1024.0
    index = 0
    while value >= 1024 and index < len(units) - 1:
        value /= 1024.0
        index += 1
    return "%.1f %s" % (value, units[index])


def plural(count, one, many):
    return "%d %s" % (count, one if count == 1 else many)


def remove_tree_or_say(path):
    """Remove a directory tree (or a file); say so and return False if some of it stays."""
    left = remove_tree(path)
    if left is not None:
        say_failed(*left)
        return False
    return True


def say_failed(name, error):
    out("failed   cannot remove %s: %s" % (name, getattr(error, "strerror", None) or error))
