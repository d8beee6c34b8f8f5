"""``greetcli NAME [--style STYLE]`` and ``greetcli --list-styles``.

Run it as the ``greetcli`` script or with ``python -m greetcli``.
"""

import argparse
import sys
from importlib.metadata import entry_points

from greetlib import greet

STYLE_GROUP = "greetcli.styles"


def style_entry_points():
    """Return the entry points of ``greetcli.styles`` by name.

    ``entry_points()`` returns an object with ``select()`` on Python 3.10
    and later, and a dict of group name to entry points on 3.8 and 3.9.
    """
    found = entry_points()
    if hasattr(found, "select"):
        group = found.select(group=STYLE_GROUP)
    else:
        group = found.get(STYLE_GROUP, ())
    styles = {}
    for entry_point in group:
        # The first one found on sys.path wins, as it would for imports.
        styles.setdefault(entry_point.name, entry_point)
    return styles


def build_parser():
    parser = argparse.ArgumentParser(
        prog="greetcli",
        description="Greet someone, optionally in a style provided by a plugin.",
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="who to greet")
    parser.add_argument(
        "--style",
        metavar="STYLE",
        help="style from the '{}' entry point group".format(STYLE_GROUP),
    )
    parser.add_argument(
        "--list-styles",
        action="store_true",
        help="print the available styles, one per line, and exit",
    )
    return parser


def main(argv=None):
    parser = build_parser()
    options = parser.parse_args(argv)
    styles = style_entry_points()

    if options.list_styles:
        for name in sorted(styles):
            print(name)
        return 0

    if options.name is None:
        parser.error("NAME is required unless --list-styles is given")

    text = greet(options.name)
    if options.style is not None:
        if options.style not in styles:
            parser.error(
                "unknown style {!r} (available: {})".format(
                    options.style, ", ".join(sorted(styles)) or "none"
                )
            )
        style = styles[options.style].load()
        text = style(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
