"""Says where its dependencies found what they need."""

import fullver
import needshim


def main() -> None:
    print("needshim uses %s; fullver %s" % (needshim.source(), fullver.__version__))
