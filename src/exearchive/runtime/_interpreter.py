"""``EXEARCHIVE_INTERPRETER=1``: behave like ``python`` inside the archive's environment.

Supported forms, as for the ``python`` command: no arguments (an interactive
console), ``-c CODE [ARGS]``, ``-m MODULE [ARGS]``, ``-`` (code from standard
input) and ``SCRIPT [ARGS]``.
"""

import os
import sys


def run(args):
    """Run ``args`` as the ``python`` command would; called after path setup."""
    import runpy

    if not args:
        import code

        sys.argv = [""]
        code.interact(banner="Python %s on %s (exearchive interpreter)" % (sys.version, sys.platform), exitmsg="")
        return
    first = args[0]
    if first == "-c" and len(args) > 1:
        sys.argv = ["-c"] + args[2:]
        namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        exec(compile(args[1], "<string>", "exec"), namespace)
    elif first == "-m" and len(args) > 1:
        sys.argv = [args[1]] + args[2:]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    elif first == "-":
        sys.argv = ["-"] + args[1:]
        namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        exec(compile(sys.stdin.read(), "<stdin>", "exec"), namespace)
    else:
        sys.argv = list(args)
        sys.path.insert(0, os.path.dirname(os.path.abspath(first)))
        runpy.run_path(first, run_name="__main__")
