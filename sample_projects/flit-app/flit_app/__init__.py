"""The flit-app sample: an app built with flit_core, packed by ``exearchive build``.

``flit-app [WORD ...]`` prints each WORD with its position in a word list that
ships as a data file of the package (read through ``os.path.dirname(__file__)``),
or ``-`` when it is not in the list, and exits 1 when a word was not found.
``flit-app-version`` prints the installed version.
"""

import os
import sys
from importlib.metadata import version


def _words():
    with open(os.path.join(os.path.dirname(__file__), "words.txt")) as handle:
        return [line.strip() for line in handle if line.strip()]


def main(argv=None):
    args = sys.argv[1:] if argv is None else list(argv)
    words = _words()
    print("flit-app {}: {} words".format(version("flit-app"), len(words)))
    missing = 0
    for word in args:
        if word in words:
            print("{} {}".format(word, words.index(word) + 1))
        else:
            print("{} -".format(word))
            missing += 1
    return 1 if missing else 0


def show_version():
    print(version("flit-app"))
    return 0
