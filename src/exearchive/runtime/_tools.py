"""``EXEARCHIVE_TOOLS=1 ./app.pyz TOOL ...``: look into an archive and its cache.

``_boot.main`` calls :func:`main` instead of running the app when the
environment variable ``EXEARCHIVE_TOOLS`` is true; the tool and its options
are the archive's arguments.  The tools:

``info [--json]``
    What the archive is and holds: name, version, content id, format, the
    default entry point, every console script and plain Python script, what it needs from the
    interpreter (requires-python, native wheel tags, the environment its
    dependencies were resolved for), its distributions, the payload's size,
    unpacked size and file count, the cache root, whether this archive's
    entry is extracted there and ready for this interpreter, and whether this
    interpreter can run it.

``verify [--repair]``
    Checks the whole archive first (``_integrity``: every member's CRC-32,
    the launcher's and the payload's SHA-256, the payload's members), then
    compares every file of this archive's cache entry with the payload (it
    exists, is a regular file, has the right size, CRC-32 and executable bit)
    and checks the completion record.
    Prints each missing or damaged file on its own line and exits 1 when
    anything is wrong.  ``--repair`` re-extracts the whole payload into a
    fresh directory beside the entry, under the extraction lock, and swaps it
    in with two renames.  A process running from the entry is not disturbed:
    its open files and mapped libraries stay valid, later imports find the
    same files in the new tree, and the completion record it holds its use
    lock on is carried over (hard-linked) so that pruning still sees it.

``extract DIR [--venv]``
    Writes the payload into ``DIR`` (which must be new or empty) as a plain
    tree: ``site-packages/``, ``bin/``, ``data/``.  With ``--venv``, ``DIR``
    becomes a virtual environment of this interpreter (without pip) holding
    the payload: packages in its site-packages, console scripts in its
    ``bin`` with their ``#!python`` line pointing at its python, data files
    under its prefix.  ``DIR/bin/<script>`` then runs the app.

``platform``
    Prints this interpreter's complete platform as JSON (PEX's format:
    ``marker_environment`` and ``compatible_tags``, most specific first), so
    that a build elsewhere can target this machine: any archive serves, the
    machine needs nothing else.

``cache list [--json]``
    Every entry of the cache root: id, name, version, size on disk, last use,
    whether a running process uses it; and leftovers of killed starts.

``cache prune [--days N] [--dry-run]``
    Removes entries not used for ``N`` days (default 30), incomplete entries
    (older than ``_cache.GRACE``) and leftovers (``.tmp-*``, ``.trash-*``)
    of starts that are gone (``_cache.leftover_state``); only names that
    are exactly ours (``_cache.scan``), nothing else in the root.  An
    entry in use is never removed: running processes hold a shared ``flock``
    on its completion record, and pruning takes the exclusive lock without
    waiting (and the extraction lock, so that an entry being extracted or
    repaired is left alone), renames the entry away while holding them, and
    only then deletes it.

``cache clear``
    ``cache prune --days 0``: every entry that is not in use.

Exit status: 0 when all went well, 1 when a check or an operation failed,
2 for bad usage.  Errors are one line on standard error.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import LauncherError, cache_roots, plain_name
from ._output import out

_TOOL_LIST = "info, verify, extract DIR, platform, cache list|prune|clear"
_TOOLS = ("info", "verify", "extract", "platform", "cache")
_CACHE_TOOLS = ("list", "prune", "clear")


class _UsageError(Exception):
    """Bad arguments: one line and exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, reported by :func:`main`."""

    def error(self, message):
        raise _UsageError("%s (see: %s --help)" % (message, self.prog))


class Context:
    """What every tool needs: the archive, its manifest, the environment."""

    def __init__(self, manifest, archive, env, trace, name):
        self.archive_manifest = manifest  # of an archive of several targets: all of them
        self.archive = archive
        self.env = env
        self.trace = trace
        self.name = name
        self.use_target(None)

    def use_target(self, name):
        """Look at target ``name`` of an archive of several (None: the first that fits here, else the first).

        ``manifest``, ``id``, ``root`` and ``entry`` are then that target's.
        """
        manifest = self.archive_manifest
        targets = manifest.get("targets") or []
        if targets:
            from . import _compat

            names = [str(t.get("target")) for t in targets]
            if name is not None and name not in names:
                raise LauncherError("this archive has no target %r; its targets: %s" % (name, ", ".join(names)))
            index = names.index(name) if name is not None else 0
            if name is None:
                for number, target in enumerate(targets):
                    if _compat.check(target.get("needs") or {}, self.archive) is None:
                        index = number
                        break
            manifest = dict(manifest, **targets[index])
        elif name is not None and name != manifest.get("target"):
            raise LauncherError("this archive has no target %r; its one target is %s" % (name, manifest.get("target")))
        self.manifest = manifest
        archive, env = self.archive, self.env
        self.id = str(manifest.get("id") or "")
        if not plain_name(self.id):
            raise LauncherError("the archive %s is damaged: its content id %r is not a plain name" % (archive, self.id))
        roots = cache_roots(env)
        self.root, self.explicit = roots[0]
        for root, _explicit in roots:  # the root that holds this archive's entry: the fallback root too
            if os.path.isdir(os.path.join(root, self.id)):
                self.root = root
                break
        self.entry = os.path.join(self.root, self.id)

    def command(self):
        """How to run this archive again, for advice."""
        argv0 = sys.argv[0] if sys.argv and sys.argv[0] else self.archive
        if os.sep not in argv0 and not (os.altsep and os.altsep in argv0):
            argv0 = os.curdir + os.sep + argv0
        if " " in argv0:
            argv0 = '"%s"' % argv0
        return "EXEARCHIVE_TOOLS=1 " + argv0


def main(manifest, archive, env, trace):
    """Run the tool named by ``sys.argv[1:]``; return the exit status."""
    name = os.path.basename(sys.argv[0] if sys.argv and sys.argv[0] else archive)
    try:
        options = _parse(sys.argv[1:], name)
        context = Context(manifest, archive, env, trace, name)
        return options.run(context, options)
    except _UsageError as error:
        _error(name, str(error))
        return 2
    except LauncherError as error:
        _error(name, str(error))
        return error.code
    except OSError as error:
        _error(name, _os_error(error))
        return 1
    except KeyboardInterrupt:
        _error(name, "interrupted")
        return 130


def _error(name, message):
    sys.stdout.flush()
    sys.stderr.write("%s: error: %s\n" % (name, message))
    sys.stderr.flush()


def _os_error(error):
    where = error.filename
    text = error.strerror or str(error)
    return "%s: %s" % (where, text) if where else text


# --------------------------------------------------------------------------
# arguments


def _parse(argv, name):
    if not argv:
        raise _UsageError("no tool given; the tools are: %s" % _TOOL_LIST)
    first = argv[0]
    if not first.startswith("-") and first not in _TOOLS:
        raise _UsageError("unknown tool %r; the tools are: %s" % (first, _TOOL_LIST))
    if first == "cache" and len(argv) > 1 and not argv[1].startswith("-") and argv[1] not in _CACHE_TOOLS:
        raise _UsageError("unknown cache tool %r; it is one of: cache list, cache prune, cache clear" % argv[1])
    parser = _Parser(
        prog="EXEARCHIVE_TOOLS=1 " + name,
        description="Tools of an exearchive archive: look into it, check and repair its cache entry, "
        "extract it, manage the cache.",
        epilog="Without EXEARCHIVE_TOOLS the archive runs its app.",
    )
    tools = parser.add_subparsers(dest="tool", metavar="TOOL")

    info = tools.add_parser("info", help="what the archive holds and needs; whether it can run here")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(run=_info)

    verify = tools.add_parser("verify", help="check every file of this archive's cache entry")
    verify.add_argument(
        "--repair", action="store_true", help="re-extract a damaged entry (safe while the app is running)"
    )
    verify.set_defaults(run=_verify)

    extract = tools.add_parser("extract", help="write the payload into a new or empty directory")
    extract.add_argument("dir", metavar="DIR", help="the directory to write (new or empty)")
    extract.add_argument("--venv", action="store_true", help="make DIR a virtual environment of this Python")
    extract.add_argument(
        "--target", metavar="NAME", help="of an archive of several targets, this one (default: the one that fits)"
    )
    extract.set_defaults(run=_extract)

    platform = tools.add_parser("platform", help="this interpreter's complete platform as JSON, to build for it")
    platform.set_defaults(run=_platform)

    cache = tools.add_parser("cache", help="list or prune the cache")
    actions = cache.add_subparsers(dest="cache_tool", metavar="ACTION")
    listing = actions.add_parser("list", help="every cache entry, its size, last use, and whether it is in use")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=in_every_root(_cache_list))
    prune = actions.add_parser("prune", help="remove entries unused for N days; never one in use")
    prune.add_argument("--days", type=parse_days, default=30.0, metavar="N", help="unused for N days (default 30)")
    prune.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    prune.set_defaults(run=in_every_root(_cache_prune))
    clear = actions.add_parser("clear", help="remove every entry that is not in use")
    clear.set_defaults(run=in_every_root(_cache_clear))

    options = parser.parse_args(argv)
    if options.tool is None:
        raise _UsageError("no tool given; the tools are: %s" % _TOOL_LIST)
    if options.tool == "cache" and options.cache_tool is None:
        raise _UsageError("cache needs an action: cache list, cache prune or cache clear")
    return options


def _platform(context, options):
    """Print this interpreter's complete platform (``_compat.complete_platform``) as JSON."""
    import json

    from . import _compat

    out(json.dumps(_compat.complete_platform(), indent=2, sort_keys=True))
    return 0


def parse_days(text):
    """A number of days >= 0 (``cache prune --days``), for argparse."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0.0 or value == float("inf"):
        raise argparse.ArgumentTypeError("expected a number of days >= 0, got %r" % text)
    return value


def in_every_root(tool):
    """``tool`` (a cache action) run for each root of ``cache_roots``: the fallback root too, if it exists."""

    def run(context, options):
        status = 0
        for index, (root, _explicit) in enumerate(cache_roots(context.env)):
            if index == 0 or os.path.isdir(root):
                context.root, context.entry = root, os.path.join(root, context.id)
                status = max(status, tool(context, options))
        return status

    return run


# --------------------------------------------------------------------------
# the tools, each in its own module, imported when it runs


def _info(context, options):
    from . import _tools_info

    return _tools_info.run(context, options)


def _verify(context, options):
    from . import _tools_verify

    return _tools_verify.run(context, options)


def _extract(context, options):
    from . import _tools_extract

    return _tools_extract.run(context, options)


def _cache_list(context, options):
    from . import _tools_cache

    return _tools_cache.list_root(context.root, context.id, options.json)


def _cache_prune(context, options):
    from . import _tools_cache

    return _tools_cache.prune_root(context.root, options.days, options.dry_run)


def _cache_clear(context, options):
    from . import _tools_cache

    return _tools_cache.clear_root(context.root)
