"""Print the tag of the fakenative variant shipped beside this pure, sdist-only library."""

import sys


def main() -> None:
    import fakenative

    print(f"sdistonly tag={fakenative.TAG} python={sys.version_info[0]}.{sys.version_info[1]}")
