"""``exearchive cache list|prune|clear --build``: the build cache (:mod:`exearchive.backend._buildcache`).

The cache that builds keep each dependency wheel's staged, compiled and
compressed files in (and the resolutions they remember, ``_resolutions``, and
the bytecode of the build side's own modules, ``_bytecache``),
under ``--root``, else ``$EXEARCHIVE_BUILD_CACHE``, else the platform's
cache directory + ``/exearchive/build``.  Pruning takes the cache's lock
exclusively, so it waits for running builds (up to a few seconds) and never
removes an entry a build is using.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..backend import _buildcache, _bytecache, _cachestore, _hashmemo, _resolutions
from ..runtime._output import plural, size_text
from ._errors import UsageError
from ._output import Output


def _cache(options: argparse.Namespace) -> _cachestore.Cache:
    if options.root:
        return _cachestore.Cache(Path(options.root).absolute(), _buildcache.size_limit())
    place = _buildcache.location()
    if place is None:
        raise UsageError(f"the build cache is off ({_buildcache.ENV}=off); name one with --root DIR")
    return _cachestore.Cache(place, _buildcache.size_limit())


def list_cache(options: argparse.Namespace, output: Output) -> int:
    """Every entry: its wheel, size and last use, most recently used first; the total and the bound."""
    cache = _cache(options)
    entries = cache.listing()
    if options.json:
        items = [{"key": e.key, "wheel": e.wheel, "size": e.bytes, "last_use": e.last_used} for e in entries]
        output.line(json.dumps({"root": str(cache.path), "limit": cache.limit, "entries": items}, indent=2))
        return 0
    output.line(f"build cache: {cache.path}" + ("" if cache.entries.is_dir() else " (does not exist: nothing cached)"))
    now = time.time()
    for entry in entries:
        days = (now - entry.last_used) / 86400
        output.line(f"{entry.key}  {entry.wheel}  {size_text(entry.bytes)}  used {days:.1f} days ago")
    total = sum(e.bytes for e in entries)
    output.line(f"{plural(len(entries), 'entry', 'entries')}, {size_text(total)} of at most {size_text(cache.limit)}")
    output.line(f"{plural(_resolutions.remembered(cache.path), 'remembered resolution', 'remembered resolutions')}")
    count, size = _bytecache.stored(cache.path)
    output.line(f"{plural(count, 'file', 'files')} of the build side's own bytecode and launcher, {size_text(size)}")
    return 0


def prune_cache(options: argparse.Namespace, output: Output, clear: bool = False) -> int:
    """Remove entries unused for ``--days`` (if given), then the least recently used ones over the bound."""
    cache = _cache(options)
    limit = 0 if clear else (_buildcache.parse_size(options.max_size, "--max-size") if options.max_size else None)
    removed = cache.prune(limit=limit, days=None if clear else options.days, dry_run=getattr(options, "dry_run", False))
    if removed is None:
        output.error(f"the build cache {cache.path} is in use by a running build; nothing removed; try again later")
        return 1
    verb = "would remove" if getattr(options, "dry_run", False) else "removed"
    for entry in removed:
        output.line(f"{verb} {entry.wheel} ({entry.key}, {size_text(entry.bytes)})")
    freed = sum(e.bytes for e in removed)
    output.line(f"{verb} {plural(len(removed), 'entry', 'entries')}, freeing {size_text(freed)}")
    if clear or getattr(options, "days", None) is not None:
        forgotten = _resolutions.forget(cache.path, None if clear else options.days, getattr(options, "dry_run", False))
        output.line(f"{verb} {plural(forgotten, 'remembered resolution', 'remembered resolutions')}")
        compiled = _bytecache.forget(cache.path, None if clear else options.days, getattr(options, "dry_run", False))
        output.line(f"{verb} {plural(compiled, 'file', 'files')} of the build side's own bytecode and launcher")
    if clear and not getattr(options, "dry_run", False):
        _hashmemo.forget(cache.path)
    return 0
