"""``acme-app [--require-pth]``

Reports how the namespace package ``acme`` was put together and whether the
``acme_plugin.pth`` file of the acme-plugin distribution was run at start-up.
"""

import os
import sys

import acme
import acme.plugin


def pth_status():
    """The value that acme_plugin.pth sets, or "no" if it is unset or empty."""
    return os.environ.get("ACME_PTH_LOADED") or "no"


def main(argv=None):
    args = sys.argv[1:] if argv is None else list(argv)
    unknown = [arg for arg in args if arg != "--require-pth"]
    if unknown:
        print("usage: acme-app [--require-pth]", file=sys.stderr)
        return 2

    status = pth_status()
    print("acme.app from {}".format(__name__))
    print("acme.plugin says: {}".format(acme.plugin.describe()))
    print("namespace paths: {}".format(len(list(acme.__path__))))
    print("pth loaded: {}".format(status))

    if "--require-pth" in args and status == "no":
        print("acme-app: error: acme_plugin.pth was not run", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
