"""Greets with greetlib when the ``greet`` extra brought it, plainly otherwise."""

import sys


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "world"
    try:
        from greetlib import greet
    except ImportError:
        print("hello, %s (without greetlib)" % name)
        return 0
    print(greet(name))
    return 0
