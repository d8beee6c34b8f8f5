"""``exearchive cache list|prune|clear``: the cache that archives extract into.

The launcher's own cache tools (``EXEARCHIVE_TOOLS=1 ./app.pyz cache ...``,
:mod:`exearchive.runtime._tools_cache`, on the layout and locking protocol of
:mod:`exearchive.runtime._cache`) do the work; this command calls their public
entries (``list_root``, ``prune_root``, ``clear_root``) for the cache root that
``--root``, ``EXEARCHIVE_ROOT`` or the platform's cache directory names (and the fallback
root in the temp dir, ``runtime.cache_roots``, when it exists), so that both
agree on what an entry is, when it was last used, and that an entry a running
process uses is never removed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import textwrap
from collections.abc import Callable
from pathlib import Path

from ..runtime import _tools_cache, cache_roots
from ..runtime._tools import parse_days
from . import _build_cache
from ._errors import UsageError
from ._output import Output
from ._parser import Command, Parser

_DESCRIPTION = """\
List, prune or clear the cache that archives extract themselves into on
their first start (one directory per archive content, shared by every copy
of the same archive). The cache root is --root, else $EXEARCHIVE_ROOT, else
the platform's cache directory + /exearchive ($XDG_CACHE_HOME or ~/.cache on
Linux, ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows) and, without
--root or $EXEARCHIVE_ROOT, also the fallback root $TMPDIR/exearchive-<uid>
that archives use when the platform's cache directory cannot be used.

An entry that a running process uses is never removed: every running archive
holds a shared lock on its entry, and pruning removes an entry only while it
holds that lock exclusively. Deleting an entry costs its archive one
extraction on its next start, never correctness.

With --build, the same actions work on the build cache instead: what builds
keep of each dependency wheel (staged, compiled, compressed) so that later
builds reuse it. It is at --root, else $EXEARCHIVE_BUILD_CACHE, else the
platform's cache directory + /exearchive/build, and bounded by
$EXEARCHIVE_BUILD_CACHE_SIZE (default 2G; builds prune the least recently
used entries beyond it). Pruning never removes an entry a running build uses.

"""

_EPILOG = """\
examples:
  exearchive cache list
  exearchive cache list --json --root /srv/app-cache
  exearchive cache prune --days 7 --dry-run
  EXEARCHIVE_ROOT=/tmp/pyz-cache exearchive cache clear
  exearchive cache list --build
  exearchive cache prune --build --max-size 500M
"""

_ACTIONS = "list, prune or clear"


def add_parser(commands: argparse._SubParsersAction[Parser], common: Parser) -> None:
    """Add ``cache`` and its actions to the command's parser."""
    where = Parser(add_help=False)
    where.add_argument(
        "--root",
        metavar="DIR",
        help="the cache root (default: $EXEARCHIVE_ROOT, else the platform's cache directory + /exearchive; "
        "with --build: $EXEARCHIVE_BUILD_CACHE, else the platform's cache directory + /exearchive/build)",
    )
    where.add_argument(
        "--build",
        action="store_true",
        help="the build cache instead: dependency wheels staged, compiled and compressed by earlier builds",
    )
    parser = commands.add_parser(
        "cache",
        help="list, prune or clear the cache that archives extract into",
        description=_DESCRIPTION,
        epilog=_EPILOG,
    )
    parser.set_defaults(run=_no_action)
    actions = parser.add_subparsers(
        title="actions", metavar="ACTION", parser_class=Parser, help="one of these; ACTION --help says more"
    )

    listing = actions.add_parser(
        "list",
        parents=[common, where],
        help="every entry with its size, last use and whether it is in use",
        description=textwrap.fill(
            "List every entry of the cache root: content id, name, version, size on disk, last use, "
            "whether a running process uses it; and leftovers of killed starts."
        ),
        epilog="examples:\n  exearchive cache list\n  exearchive cache list --json --root /srv/app-cache\n",
    )
    listing.add_argument("--json", action="store_true", help="print JSON: the root, its entries and leftovers")
    listing.set_defaults(
        run=_run(lambda root, options: _tools_cache.list_root(root, as_json=options.json), _build_cache.list_cache)
    )

    prune = actions.add_parser(
        "prune",
        parents=[common, where],
        help="remove entries unused for N days; never one in use",
        description=textwrap.fill(
            "Remove the entries not used for N days, incomplete entries, and leftovers of starts "
            "whose process is gone. An entry a running process uses, or one being extracted, is kept."
        ),
        epilog="examples:\n  exearchive cache prune\n  exearchive cache prune --days 7 --dry-run\n",
    )
    prune.add_argument(
        "--days",
        type=parse_days,
        default=None,
        metavar="N",
        help="remove entries not used for N days (a number >= 0; default 30; with --build: none, only --max-size)",
    )
    prune.add_argument(
        "--max-size",
        metavar="SIZE",
        help="with --build: then remove the least recently used entries until at most SIZE (500M, 2G) is left "
        "(default $EXEARCHIVE_BUILD_CACHE_SIZE, else 2G)",
    )
    prune.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    prune.set_defaults(
        run=_run(
            lambda root, options: _tools_cache.prune_root(
                root, 30.0 if options.days is None else options.days, options.dry_run
            ),
            _build_cache.prune_cache,
        )
    )

    clear = actions.add_parser(
        "clear",
        parents=[common, where],
        help="remove every entry that no running process uses",
        description=textwrap.fill(
            "Remove every entry of the cache root that no running process uses (prune --days 0)."
        ),
        epilog="examples:\n  exearchive cache clear\n  exearchive cache clear --root /tmp/pyz-cache\n",
    )
    clear.set_defaults(
        run=_run(
            lambda root, options: _tools_cache.clear_root(root),
            lambda options, output: _build_cache.prune_cache(options, output, clear=True),
        )
    )


def _no_action(options: argparse.Namespace, output: Output) -> int:
    raise UsageError(f"cache needs an action: {_ACTIONS} (see: exearchive cache --help)")


def _run(tool: Callable[[str, argparse.Namespace], int], build_tool: Command) -> Command:
    """A command that runs the launcher's cache ``tool`` for the chosen root, writing to the output
    (with ``--build``: ``build_tool``, on the build cache)."""

    def run(options: argparse.Namespace, output: Output) -> int:
        if options.build:
            return build_tool(options, output)
        if getattr(options, "max_size", None):
            raise UsageError("--max-size is for the build cache: add --build")
        env = dict(os.environ)
        if options.root:
            env["EXEARCHIVE_ROOT"] = options.root
        status = 0
        with contextlib.redirect_stdout(output.stdout):
            for index, (root, _explicit) in enumerate(cache_roots(env)):
                if index == 0 or Path(root).is_dir():  # the fallback root only if there is one
                    status = max(status, tool(root, options))
        output.stdout.flush()
        return status

    return run
