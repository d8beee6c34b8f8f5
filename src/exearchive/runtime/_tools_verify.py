"""The ``verify [--repair]`` tool: the archive checked whole, then its cache entry file by file; repair."""

import os

from . import COMPLETE, STATE_DIR, LauncherError, _cache, _extract
from ._output import out, remove_tree_or_say

_BUFFER = 256 * 1024


def run(context, options):
    """``verify [--repair]``: check the archive, then its cache entry; re-extract a damaged one."""
    from . import _integrity

    damage = _integrity.problems(context.archive, context.archive_manifest)
    for problem in damage:
        out("damaged  the archive %s: %s" % (context.archive, problem))
    if damage:
        return _archive_is_damaged(context)
    members = _extract.read_payload(context.archive)[0]
    damage = _list_problems(context, members)
    for problem in damage:
        out("damaged  the archive %s: %s" % (context.archive, problem))
    if damage:
        return _archive_is_damaged(context)
    if _extract.target_of(context.manifest):
        renames = _read_list(context, context.manifest)
        members = [(renames[m[0]], *m[1:]) for m in members if m[0] in renames]
    if not os.path.isdir(context.entry):
        out("missing  %s (not extracted; the next start extracts it)" % context.entry)
        if not options.repair:
            command = context.command()
            out("verify: %s is not extracted; extract it with: %s verify --repair" % (context.entry, command))
            return 1
        return _repair_and_check(context, members, None)
    problems, checked = _compare(context, members)
    for kind, name, detail in problems:
        out("%-8s %s%s" % (kind, name, ": " + detail if detail else ""))
    if not problems:
        out(
            "verify: intact: the archive (every member) and %s (%d files and the completion record)"
            % (context.entry, checked)
        )
        return 0
    out(
        "verify: %s: %d of %d files missing or damaged"
        % (context.entry, len([p for p in problems if p[1] != _RECORD_NAME]), checked)
        + (", completion record %s" % _record_state(problems) if _record_state(problems) else "")
    )
    if not options.repair:
        out("repair it with: %s verify --repair   (safe while the app is running)" % context.command())
        return 1
    return _repair_and_check(context, members, problems)


_RECORD_NAME = STATE_DIR + "/" + COMPLETE


def _read_list(context, target):
    with open(context.archive, "rb") as handle:
        return _extract.read_list(handle.fileno(), context.archive, target)


def _list_problems(context, members):
    """Of an archive of several targets: each target's file list is intact and names members of the payload."""
    names = set(m[0] for m in members)
    problems = []
    for target in context.archive_manifest.get("targets") or []:
        try:
            listed = _read_list(context, target)
        except LauncherError as error:
            problems.append(str(error).split(": ", 1)[-1])
            continue
        missing = sorted(set(listed) - names)
        if missing:
            problems.append("target %s lists %s, which its payload lacks" % (target.get("target"), missing[0]))
        elif len(listed) != target.get("files"):
            problems.append(
                "target %s lists %d files, its manifest %r" % (target.get("target"), len(listed), target.get("files"))
            )
    return problems


def _record_state(problems):
    for kind, name, _detail in problems:
        if name == _RECORD_NAME:
            return kind
    return ""


def _archive_is_damaged(context):
    out(
        "verify: the archive %s is damaged; the cache entry cannot be checked or repaired from it; "
        "rebuild it or get an intact copy" % context.archive
    )
    return 1


def _compare(context, members):
    """Compare the entry with the payload: ``([(kind, name, detail)], files checked)``."""
    import stat

    problems = []
    checked = 0
    for name, size, crc, executable in members:
        if _extract.unsafe_name(name):
            raise LauncherError("the archive holds an unsafe member name %r; refusing to use it" % name)
        path = os.path.join(context.entry, *name.rstrip("/").split("/"))
        if not name.endswith("/"):
            checked += 1
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            problems.append(("missing", name, ""))
            continue
        except OSError as error:
            problems.append(("damaged", name, "cannot read it (%s)" % (error.strerror or error)))
            continue
        if name.endswith("/"):
            if not stat.S_ISDIR(st.st_mode):
                problems.append(("damaged", name, "not a directory"))
            continue
        detail = None
        if not stat.S_ISREG(st.st_mode):
            detail = "not a regular file"
        elif st.st_size != size:
            detail = "size %d, expected %d" % (st.st_size, size)
        else:
            try:
                found = _crc32(path)
            except OSError as error:
                found = None
                detail = "cannot read it (%s)" % (error.strerror or error)
            if found is not None and found != crc:
                detail = "content differs (CRC-32 %08x, expected %08x)" % (found, crc)
            elif detail is None and executable and not st.st_mode & 0o100:
                detail = "not executable"
        if detail:
            problems.append(("damaged", name, detail))
    record = _record_problem(context)
    if record:
        problems.append(record)
    return problems, checked


def _crc32(path):
    import zlib

    crc = 0
    with open(path, "rb") as handle:
        read = handle.read
        chunk = read(_BUFFER)
        while chunk:
            crc = zlib.crc32(chunk, crc)
            chunk = read(_BUFFER)
    return crc & 0xFFFFFFFF


def _record_problem(context):
    path = os.path.join(context.entry, STATE_DIR, COMPLETE)
    if not os.path.lexists(path):
        return ("missing", _RECORD_NAME, "the completion record")
    record = _cache.read_record(path)
    if record is None:
        return ("damaged", _RECORD_NAME, "the completion record cannot be read")
    if record.get("id") != context.id:
        return ("damaged", _RECORD_NAME, "the completion record names another archive (%s)" % record.get("id"))
    return None


def _repair_and_check(context, members, problems):
    """Re-extract the entry, then check it again; return the exit status."""
    count, carried = _repair(context)
    if problems is None:
        out("repair: extracted %d files into %s" % (count, context.entry))
    else:
        out("repair: re-extracted %d files into %s and swapped it in" % (count, context.entry))
        if not carried:
            out(
                "repair: note: processes already running from the old entry are not protected from "
                "'cache prune' until they restart"
            )
    problems, checked = _compare(context, members)
    for kind, name, detail in problems:
        out("%-8s %s%s" % (kind, name, ": " + detail if detail else ""))
    if problems:
        out("verify: %s is still damaged after the repair (%d problems)" % (context.entry, len(problems)))
        return 1
    out("verify: intact: %s (%d files and the completion record match the archive)" % (context.entry, checked))
    return 0


def _repair(context):
    """Extract a fresh copy beside the entry and swap it in; ``(files, lock carried over)``."""
    manifest = context.manifest
    root = _cache.usable_root(context.root, context.explicit, context.id, context.env, context.trace)
    entry = os.path.join(root, context.id)
    context.root, context.entry = root, entry
    from . import _compat

    runnable = _compat.check(manifest.get("needs") or {}, context.archive) is None
    with _cache.Lock(root, context.id, context.env, context.trace):
        _cache.remove_leftovers(root, context.trace)
        tmp = _extract.Tmp(root, context.id)
        try:

            def carry(target, manifest, count):
                return _carry_record(entry, target, manifest, count)

            count, carried = _extract.fill(
                tmp, manifest, context.archive, context.env, context.trace, False, runnable, carry
            )
            _swap(tmp.path, entry, root, tmp.token, context.trace)
            tmp.published(entry)
        except BaseException:
            tmp.remove()
            raise
    return count, carried


def _carry_record(entry, target, manifest, count):
    """Give the new tree the old entry's completion record, as a hard link.

    Running processes hold their use lock on the old record's inode; linking
    it keeps that lock on the new entry, so ``cache prune`` still sees them.
    Its contents are rewritten in place (same inode) if they are wrong.
    Returns whether the old record was carried over.
    """
    old = os.path.join(entry, STATE_DIR, COMPLETE)
    try:
        os.link(old, target)
    except OSError:
        _extract.write_complete(target, manifest, count)
        return False
    record = _cache.read_record(target)
    wanted = ("format", "id", "name", "version")
    if record is None or any(record.get(k) != manifest.get(k) for k in wanted) or record.get("files") != count:
        _extract.write_complete(target, manifest, count)  # "w" truncates the same inode
    return True


def _swap(tmp, entry, root, token, trace):
    """Put ``tmp`` in the place of ``entry`` with renames; remove the old tree."""
    trash = os.path.join(root, _cache.trash_name(os.path.basename(entry), token))
    try:
        os.rename(entry, trash)
    except FileNotFoundError:
        trash = None
    try:
        os.rename(tmp, entry)
    except BaseException:
        if trash is not None:
            try:
                os.rename(trash, entry)
            except OSError:
                pass
        raise
    trace("swapped in a fresh copy of %s" % entry)
    if trash is not None:
        remove_tree_or_say(trash)
