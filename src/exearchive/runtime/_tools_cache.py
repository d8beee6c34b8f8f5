"""The cache tools, ``cache list|prune|clear``, for one cache root: what they print and decide.

The mechanics (what an entry and a leftover are, the locks, the removal) are
``_cache``'s; ``_tools`` runs these for each root of ``cache_roots``, and the
command ``exearchive cache`` calls them for the root it is given.
"""

import os

from . import LauncherError, _cache, unsafe_reason
from ._output import out, plural, remove_tree_or_say, say_failed, size_text

_DAY = 86400.0


def _when(timestamp, now):
    import time

    if not timestamp:
        return "unknown"
    days = max(0.0, now - timestamp) / _DAY
    ago = "today" if days < 1 else "%d day%s ago" % (int(days), "" if int(days) == 1 else "s")
    return "%s (%s)" % (time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)), ago)


def list_root(root, this_id="", as_json=False):
    """``cache list`` for one root: print its entries and leftovers (a table, or JSON); return 0."""
    import time

    entries, leftovers = _cache.scan(root)
    now = time.time()
    rows = []
    for entry in entries:
        record = entry.record or {}
        rows.append(
            {
                "id": entry.name,
                "name": record.get("name"),
                "version": record.get("version"),
                "complete": entry.record is not None,
                "size": _cache.disk_usage(entry.path),
                "last_use": entry.last_use,
                "in_use": _cache.in_use(entry),
                "this_archive": entry.name == this_id,
                "path": entry.path,
            }
        )
    extra = [
        {
            "name": name,
            "pid": pid,
            "state": _cache.leftover_state(os.path.join(root, name), now),
            "size": _cache.disk_usage(os.path.join(root, name)),
        }
        for name, pid in leftovers
    ]
    if as_json:
        import json

        out(json.dumps({"root": root, "entries": rows, "leftovers": extra}, indent=2, sort_keys=True))
        return 0
    if not os.path.isdir(root):
        out("cache root: %s (does not exist: nothing is cached)" % root)
        return 0
    out("cache root: %s" % root)
    if not rows:
        out("no entries")
    table = [("ID", "NAME", "VERSION", "SIZE", "LAST USE", "IN USE")]
    for row in rows:
        in_use = {True: "yes", False: "no", None: "unknown"}[row["in_use"]]
        table.append(
            (
                row["id"] + (" *" if row["this_archive"] else ""),
                row["name"] or "?",
                row["version"] or ("?" if row["complete"] else "(incomplete)"),
                size_text(row["size"]),
                _when(row["last_use"], now),
                in_use,
            )
        )
    if rows:
        widths = [max(len(r[i]) for r in table) for i in range(len(table[0]) - 1)]
        for line in table:
            out("  ".join(line[i].ljust(widths[i]) for i in range(len(widths))) + "  " + line[-1])
    for item in extra:
        state = _LEFTOVER_STATES[item["state"]]
        out("leftover %s (%s, %s)" % (item["name"], size_text(item["size"]), state))
    total = sum(r["size"] for r in rows) + sum(e["size"] for e in extra)
    mine = " (* this archive)" if any(r["this_archive"] for r in rows) else ""
    out("%s, %s%s" % (plural(len(rows), "entry", "entries"), size_text(total), mine))
    return 0


_LEFTOVER_STATES = {
    "live": "a running start is writing it",
    "dead": "left by a start that is gone",
    "young": "recent; kept for %d minutes in case a start is still writing it" % (_cache.GRACE / 60),
}


def clear_root(root):
    """``cache clear`` for one root: ``prune_root`` of every entry that is not in use."""
    return prune_root(root, 0.0, False, "clear")


def prune_root(root, days, dry_run=False, action="prune"):
    """``cache prune`` for one root: remove what is unused for ``days``, never an entry in use; return the status.

    Leftovers of starts that are gone, incomplete entries older than
    ``_cache.GRACE``, entries unused for ``days``: each removed with
    ``_cache.remove_entry`` (which keeps an entry in use or being extracted).
    """
    import time

    if not os.path.isdir(root):
        out("nothing to %s: the cache root %s does not exist" % (action, root))
        return 0
    reason = unsafe_reason(os.stat(root))
    if reason:
        raise LauncherError("refusing to %s the cache root %s: %s" % (action, root, reason))
    dry = dry_run
    verb = "would remove" if dry else "removed"
    entries, leftovers = _cache.scan(root)
    now = time.time()
    removed = freed = kept_in_use = kept_recent = failures = 0
    for name, _pid in leftovers:
        path = os.path.join(root, name)
        state, fd = (_cache.leftover_state(path, now), -1) if dry else _cache.claim_leftover(path, now)
        if state != "dead":
            out("kept     %s: %s" % (name, _LEFTOVER_STATES[state]))
            continue
        size = _cache.disk_usage(path)
        try:
            gone = dry or remove_tree_or_say(path)
        finally:
            if fd >= 0:
                os.close(fd)
        if not gone:
            failures += 1
            continue
        out("%-8s %s: %s, %s" % (verb, name, _LEFTOVER_STATES[state], size_text(size)))
        removed += 1
        freed += size
    for entry in entries:
        label = _label(entry)
        unused = now - entry.last_use
        if entry.record is not None and unused < days * _DAY:
            kept_recent += 1
            continue
        if entry.record is None and unused <= _cache.GRACE:
            out("kept     %s: incomplete, but recent (a start may be making it)" % label)
            kept_recent += 1
            continue
        why = "incomplete" if entry.record is None else "unused for %s" % _duration(unused)
        size = _cache.disk_usage(entry.path)
        outcome = _cache.remove_entry(root, entry, dry, say_failed)
        if outcome == "in use":
            out("kept     %s: in use by a running process" % label)
            kept_in_use += 1
        elif outcome == "busy":
            out("kept     %s: being extracted or repaired right now" % label)
            kept_in_use += 1
        elif outcome == "removed":
            out("%-8s %s: %s, %s" % (verb, label, why, size_text(size)))
            removed += 1
            freed += size
        else:
            out("failed   %s: %s" % (label, outcome))
            failures += 1
    links = _cache.prune_choices(root, dry, now)
    if links:
        out("%-8s %d remembered target choice%s whose entry is gone" % (verb, links, "" if links == 1 else "s"))
    summary = "%s %d, freeing %s" % ("would remove" if dry else "removed", removed, size_text(freed))
    if kept_in_use:
        summary += "; kept %d in use" % kept_in_use
    if kept_recent:
        summary += "; kept %d used in the last %s" % (kept_recent, _duration(days * _DAY))
    if failures:
        summary += "; %d could not be removed" % failures
    out("%s: %s" % (action, summary))
    return 1 if failures else 0


def _label(entry):
    record = entry.record or {}
    if record.get("name"):
        return "%s %s %s" % (entry.name, record.get("name"), record.get("version"))
    return entry.name


def _duration(seconds):
    days = seconds / _DAY
    if days >= 1:
        return "%d day%s" % (int(days), "" if int(days) == 1 else "s")
    hours = seconds / 3600.0
    if hours >= 1:
        return "%d hour%s" % (int(hours), "" if int(hours) == 1 else "s")
    return "%d minutes" % int(seconds / 60.0)
