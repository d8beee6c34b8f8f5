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
    (older than ``_extract.GRACE``) and leftovers (``.tmp-*``, ``.trash-*``)
    of starts that are gone (``_extract.leftover_state``); only names that
    are exactly ours (``_scan``), nothing else in the root.  An
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

from . import COMPLETE, READY, STATE_DIR, _extract, cache_roots, interpreter_key, unsafe_reason
from ._boot import LauncherError

_TOOL_LIST = "info, verify, extract DIR, platform, cache list|prune|clear"
_TOOLS = ("info", "verify", "extract", "platform", "cache")
_CACHE_TOOLS = ("list", "prune", "clear")
_BUFFER = 256 * 1024
_DAY = 86400.0
_SHEBANG_MAX = 127  # what Linux reads of a "#!" line


class _UsageError(Exception):
    """Bad arguments: one line and exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, reported by :func:`main`."""

    def error(self, message):
        raise _UsageError("%s (see: %s --help)" % (message, self.prog))


class _Context:
    """What every tool needs: the archive, its manifest, the environment."""

    def __init__(self, manifest, archive, env, trace, name):
        self.manifest = manifest
        self.archive = archive
        self.env = env
        self.trace = trace
        self.name = name
        self.id = str(manifest.get("id") or "")
        if not _extract.plain_name(self.id):
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
        context = _Context(manifest, archive, env, trace, name)
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


def _out(line=""):
    sys.stdout.write(line + "\n")


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
    extract.set_defaults(run=_extract_tool)

    platform = tools.add_parser("platform", help="this interpreter's complete platform as JSON, to build for it")
    platform.set_defaults(run=_platform)

    cache = tools.add_parser("cache", help="list or prune the cache")
    actions = cache.add_subparsers(dest="cache_tool", metavar="ACTION")
    listing = actions.add_parser("list", help="every cache entry, its size, last use, and whether it is in use")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=in_every_root(_cache_list))
    prune = actions.add_parser("prune", help="remove entries unused for N days; never one in use")
    prune.add_argument("--days", type=_days, default=30.0, metavar="N", help="unused for N days (default 30)")
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

    _out(json.dumps(_compat.complete_platform(), indent=2, sort_keys=True))
    return 0


def _days(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0.0 or value == float("inf"):
        raise argparse.ArgumentTypeError("expected a number of days >= 0, got %r" % text)
    return value


# --------------------------------------------------------------------------
# info


def _info(context, options):
    manifest = context.manifest
    from . import _compat

    problem = _compat.check(manifest.get("needs") or {}, context.archive)
    state = os.path.join(context.entry, STATE_DIR)
    key = interpreter_key()
    needs = manifest.get("needs") or {}
    data = {
        "archive": context.archive,
        "name": manifest.get("name"),
        "version": manifest.get("version"),
        "id": context.id,
        "format": manifest.get("format"),
        "built_with": manifest.get("built_with"),
        "entry_point": manifest.get("entry_point"),
        "entry_point_name": manifest.get("entry_point_name"),
        "interpreter_archive": bool(manifest.get("interpreter")),
        "scripts": dict(manifest.get("scripts") or {}),
        "script_files": dict(manifest.get("script_files") or {}),
        "needs": {
            "requires_python": list(needs.get("requires_python") or []),
            "effective_requires_python": needs.get("effective_requires_python"),
            "native": list(needs.get("native") or []),
            "markers": list(needs.get("markers") or []),
        },
        "distributions": [
            {"name": d.get("name"), "version": d.get("version")} for d in manifest.get("distributions") or []
        ],
        "payload": _payload_summary(context),
        "cache": {
            "root": context.root,
            "entry": context.entry,
            "extracted": os.path.isfile(os.path.join(state, COMPLETE)),
            "ready": os.path.isfile(os.path.join(state, READY + key)),
            "interpreter_key": key,
        },
        "interpreter": {
            "executable": sys.executable,
            "implementation": sys.implementation.name,
            "version": "%d.%d.%d" % sys.version_info[:3],
            "can_run": problem is None,
            "problem": problem,
        },
    }
    if options.json:
        import json

        _out(json.dumps(data, indent=2, sort_keys=True))
        return 0
    _print_info(data)
    return 0


def _marker_line(record):
    """E.g. 'python_version < "3.11": left out tomli>=1 (of pytest 9.0.2)'."""
    return "%s: %s %s (of %s)" % (
        record.get("marker"),
        "took" if record.get("outcome") else "left out",
        record.get("requirement"),
        record.get("by"),
    )


def _payload_summary(context):
    payload = context.manifest.get("payload") or {}
    if all(isinstance(payload.get(k), int) for k in ("size", "unpacked_size", "files")):
        return {"size": payload["size"], "unpacked_size": payload["unpacked_size"], "files": payload["files"]}
    members, size = _read_payload(context.archive)
    files = [m for m in members if not m[0].endswith("/")]
    return {"size": size, "unpacked_size": sum(m[1] for m in files), "files": len(files)}


def _print_info(data):
    def field(label, value):
        _out("%-17s %s" % (label + ":", value))

    def more(value):
        _out("%-17s %s" % ("", value))

    _out("%s %s" % (data["name"], data["version"]))
    field("archive", data["archive"])
    field("content id", data["id"])
    built = " (built with %s)" % data["built_with"] if data["built_with"] else ""
    field("format", "%s%s" % (data["format"], built))
    spec = data["entry_point"]
    if data["interpreter_archive"]:
        field("entry point", "none: an interpreter archive (it runs like python)")
    else:
        field("entry point", "%s = %s" % (data["entry_point_name"], spec) if data["entry_point_name"] else spec)
    scripts = sorted(data["scripts"].items())
    if not scripts:
        field("console scripts", "none")
    for index, (script, target) in enumerate(scripts):
        (more if index else lambda v: field("console scripts", v))("%s = %s" % (script, target))
    for index, (script, path) in enumerate(sorted(data["script_files"].items())):
        (more if index else lambda v: field("scripts", v))("%s (%s)" % (script, path))
    dists = data["distributions"] or [{"name": "none", "version": ""}]
    for index, dist in enumerate(dists):
        text = ("%s %s" % (dist["name"], dist["version"] or "")).strip()
        (more if index else lambda v: field("distributions", v))(text)
    needs = data["needs"]
    _out("needs:")
    python = ", ".join("%s: %s" % (n.get("by"), n.get("spec")) for n in needs["requires_python"])
    if python:
        python = "%s (%s)" % (needs["effective_requires_python"] or "all of", python)
    _out("  requires-python: %s" % (python or "any"))
    native = "; ".join("%s: %s" % (n.get("dist"), ", ".join(n.get("tags") or [])) for n in needs["native"])
    _out("  native code:     %s" % (native or "none (pure Python)"))
    markers = [_marker_line(m) for m in needs["markers"]] or ["none decided what the archive holds"]
    for index, line in enumerate(markers):
        _out("  %-16s %s" % ("" if index else "markers:", line))
    payload = data["payload"]
    field(
        "payload",
        "%s stored, %s unpacked, %d files"
        % (_size(payload["size"]), _size(payload["unpacked_size"]), payload["files"]),
    )
    cache = data["cache"]
    field("cache root", cache["root"])
    if not cache["extracted"]:
        state = "not extracted (the next start extracts it)"
    elif cache["ready"]:
        state = "extracted, ready for %s" % cache["interpreter_key"]
    else:
        state = "extracted, not yet ready for %s (the next start prepares it)" % cache["interpreter_key"]
    field("cache entry", "%s: %s" % (cache["entry"], state))
    interpreter = data["interpreter"]
    this = "%s %s at %s" % (interpreter["implementation"], interpreter["version"], interpreter["executable"])
    if interpreter["can_run"]:
        field("this interpreter", "%s: can run it" % this)
    else:
        field("this interpreter", "%s: cannot run it: %s" % (this, interpreter["problem"]))


def _size(count):
    if count < 1024:
        return "%d bytes" % count
    units = ("KiB", "MiB", "GiB", "TiB")
    value = count / 1024.0
    index = 0
    while value >= 1024 and index < len(units) - 1:
        value /= 1024.0
        index += 1
    return "%.1f %s" % (value, units[index])


# --------------------------------------------------------------------------
# reading the payload


def _read_payload(archive):
    """The payload's members and size.

    Members are ``(name, size, crc32, executable)``.  Only the payload's
    central directory is read (the same way ``_extract.unpack`` finds it).
    """
    from . import _zipdir

    try:
        with open(archive, "rb") as handle:
            fd = handle.fileno()
            payload = _extract._find_payload(fd, archive)
            offset, size = payload[1], payload[3]
            members = [(m[0], m[3], m[4], bool(m[6] & 0o111)) for m in _zipdir.members(fd, offset, size)]
            return members, size
    except LauncherError:
        raise
    except (ValueError, UnicodeError) as error:  # _zipdir.Damaged is a ValueError
        raise LauncherError(
            "the archive %s is damaged (%s); rebuild it or get an intact copy" % (archive, error)
        ) from None
    except OSError as error:
        raise LauncherError("cannot read the archive %s: %s" % (archive, error.strerror or error)) from None


# --------------------------------------------------------------------------
# verify


def _verify(context, options):
    from . import _integrity

    damage = _integrity.problems(context.archive, context.manifest)
    for problem in damage:
        _out("damaged  the archive %s: %s" % (context.archive, problem))
    if damage:
        return _archive_is_damaged(context)
    members = _read_payload(context.archive)[0]
    if not os.path.isdir(context.entry):
        _out("missing  %s (not extracted; the next start extracts it)" % context.entry)
        if not options.repair:
            command = context.command()
            _out("verify: %s is not extracted; extract it with: %s verify --repair" % (context.entry, command))
            return 1
        return _repair_and_check(context, members, None)
    problems, checked = _compare(context, members)
    for kind, name, detail in problems:
        _out("%-8s %s%s" % (kind, name, ": " + detail if detail else ""))
    if not problems:
        _out(
            "verify: intact: the archive (every member) and %s (%d files and the completion record)"
            % (context.entry, checked)
        )
        return 0
    _out(
        "verify: %s: %d of %d files missing or damaged"
        % (context.entry, len([p for p in problems if p[1] != _RECORD_NAME]), checked)
        + (", completion record %s" % _record_state(problems) if _record_state(problems) else "")
    )
    if not options.repair:
        _out("repair it with: %s verify --repair   (safe while the app is running)" % context.command())
        return 1
    return _repair_and_check(context, members, problems)


_RECORD_NAME = STATE_DIR + "/" + COMPLETE


def _record_state(problems):
    for kind, name, _detail in problems:
        if name == _RECORD_NAME:
            return kind
    return ""


def _archive_is_damaged(context):
    _out(
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
    record = _read_record(path)
    if record is None:
        return ("damaged", _RECORD_NAME, "the completion record cannot be read")
    if record.get("id") != context.id:
        return ("damaged", _RECORD_NAME, "the completion record names another archive (%s)" % record.get("id"))
    return None


def _read_record(path):
    """The completion record as a dict, or None when it is missing or unreadable."""
    import json

    try:
        with open(path) as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _repair_and_check(context, members, problems):
    """Re-extract the entry, then check it again; return the exit status."""
    count, carried = _repair(context)
    if problems is None:
        _out("repair: extracted %d files into %s" % (count, context.entry))
    else:
        _out("repair: re-extracted %d files into %s and swapped it in" % (count, context.entry))
        if not carried:
            _out(
                "repair: note: processes already running from the old entry are not protected from "
                "'cache prune' until they restart"
            )
    problems, checked = _compare(context, members)
    for kind, name, detail in problems:
        _out("%-8s %s%s" % (kind, name, ": " + detail if detail else ""))
    if problems:
        _out("verify: %s is still damaged after the repair (%d problems)" % (context.entry, len(problems)))
        return 1
    _out("verify: intact: %s (%d files and the completion record match the archive)" % (context.entry, checked))
    return 0


def _repair(context):
    """Extract a fresh copy beside the entry and swap it in; ``(files, lock carried over)``."""
    manifest = context.manifest
    root = _extract._usable_root(context.root, context.explicit, context.id, context.env, context.trace)
    entry = os.path.join(root, context.id)
    context.root, context.entry = root, entry
    from . import _compat

    runnable = _compat.check(manifest.get("needs") or {}, context.archive) is None
    with _extract._Lock(root, context.id, context.env, context.trace):
        _extract._remove_leftovers(root, context.trace)
        tmp = _extract.Tmp(root, context.id)
        try:
            count = _extract.unpack(context.archive, tmp.path)
            _extract.check_count(tmp.path, count, context.archive)
            context.trace("extracted %d files" % count)
            if runnable and _extract._needs_bytecode(manifest):
                _extract._compile(tmp.path, context.trace)
            state = os.path.join(tmp.path, STATE_DIR)
            carried = _carry_record(entry, os.path.join(state, COMPLETE), manifest, count)
            if runnable:
                with open(os.path.join(state, READY + interpreter_key()), "w"):
                    pass
            if _extract.sync_wanted(context.env):
                _extract.sync_tree(tmp.path, context.trace)
            tmp.finish()
            _swap(tmp.path, entry, root, tmp.token, context.trace)
            tmp.close()
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
        _extract._write_complete(target, manifest, count)
        return False
    record = _read_record(target)
    wanted = ("format", "id", "name", "version")
    if record is None or any(record.get(k) != manifest.get(k) for k in wanted) or record.get("files") != count:
        _extract._write_complete(target, manifest, count)  # "w" truncates the same inode
    return True


def _swap(tmp, entry, root, token, trace):
    """Put ``tmp`` in the place of ``entry`` with renames; remove the old tree."""
    trash = os.path.join(root, ".trash-%s-%d-%s" % (os.path.basename(entry), os.getpid(), token))
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
        _remove_tree(trash)


# --------------------------------------------------------------------------
# extract


def _extract_tool(context, options):
    dest = os.path.abspath(options.dir)
    existed = _check_empty(dest)
    try:
        if options.venv:
            _make_venv(context, dest)
        else:
            _plain_tree(context, dest)
    except BaseException:
        _undo(dest, existed)
        raise
    return 0


def _check_empty(dest):
    """Whether ``dest`` exists (empty); a one-line error if it cannot be used."""
    if not os.path.lexists(dest):
        return False
    if os.path.islink(dest) or not os.path.isdir(dest):
        raise LauncherError("%s exists and is not a directory; give a new or empty directory" % dest)
    try:
        names = os.listdir(dest)
    except OSError as error:
        raise LauncherError("cannot read %s: %s" % (dest, error.strerror or error)) from None
    if names:
        shown = ", ".join(sorted(names)[:3]) + (", ..." if len(names) > 3 else "")
        raise LauncherError("%s is not empty (it holds %s); give a new or empty directory" % (dest, shown))
    return True


def _undo(dest, existed):
    """Remove what a failed extraction wrote."""
    if not existed:
        _extract.remove_tree(dest)
        return
    try:
        names = os.listdir(dest)
    except OSError:
        return
    for name in names:
        path = os.path.join(dest, name)
        if os.path.isdir(path) and not os.path.islink(path):
            _extract.remove_tree(path)
        else:
            try:
                os.remove(path)
            except OSError:
                pass


def _plain_tree(context, dest):
    manifest = context.manifest
    os.makedirs(dest, exist_ok=True)
    count = _extract.unpack(context.archive, dest)
    _out("extracted %d files of %s %s into %s" % (count, manifest.get("name"), manifest.get("version"), dest))
    site = os.path.join(dest, "site-packages")
    for part in sorted(os.listdir(dest)):
        _out("  %s%s" % (os.path.join(dest, part), os.sep))
    command = _run_command(manifest, dest, "python")
    _out("run it with: PYTHONPATH=%s %s" % (site, command))
    if manifest.get("pth"):
        _out(
            "note: its .pth files (%s) run only from a site directory, not from PYTHONPATH; "
            "use 'extract DIR --venv' or site.addsitedir(%r)" % (", ".join(manifest["pth"]), site)
        )


def _run_command(manifest, dest, python):
    """How to start the app from an extracted tree with ``python``."""
    name = manifest.get("entry_point_name")
    if name and os.path.isfile(os.path.join(dest, "bin", name)):
        return "%s %s" % (python, os.path.join(dest, "bin", name))
    module, sep, attr = (manifest.get("entry_point") or "").partition(":")
    if not module:  # an interpreter archive
        return python
    if not sep:
        return "%s -m %s" % (python, module)
    return "%s -c 'import sys, %s; sys.exit(%s.%s())'" % (python, module, module, attr.split("[")[0].strip())


def _make_venv(context, dest):
    """Make ``dest`` a virtual environment of this interpreter holding the payload."""
    import subprocess
    import venv

    from . import _compat

    problem = _compat.check(context.manifest.get("needs") or {}, context.archive)
    if problem:
        raise LauncherError(problem)

    class _Builder(venv.EnvBuilder):
        context = None

        def post_setup(self, ctx):
            self.context = ctx

    builder = _Builder(with_pip=False, symlinks=os.name != "nt")
    builder.create(dest)
    made = builder.context
    python = made.env_exe
    bin_dir = made.bin_path
    query = "import sysconfig; print(sysconfig.get_path('purelib'))"
    result = subprocess.run(
        [python, "-I", "-c", query], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True
    )
    if result.returncode != 0 or not result.stdout.strip():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise LauncherError("the new virtual environment's python %s does not start: %s" % (python, last))
    site = result.stdout.strip()
    os.makedirs(site, exist_ok=True)
    staging = os.path.join(dest, ".exearchive-payload-%s" % os.urandom(4).hex())
    os.mkdir(staging, 0o700)
    count = _extract.unpack(context.archive, staging)
    moved = {}
    for part in sorted(os.listdir(staging)):
        source = os.path.join(staging, part)
        if part == "site-packages":
            moved[site] = _merge(source, site, "site-packages")
        elif part == "bin":
            moved[bin_dir] = _install_scripts(source, bin_dir, python)
        elif part == "data":
            moved[dest] = moved.get(dest, 0) + _merge(source, dest, "data")
        elif part == "include":
            headers = os.path.join(dest, "include", "site", "python%d.%d" % sys.version_info[:2])
            moved[headers] = _merge(source, headers, "include")
        else:
            _out("skipped %s/ (not part of a virtual environment)" % part)
    _extract.remove_tree(staging)
    if _extract._needs_bytecode(context.manifest):
        import compileall

        compileall.compile_dir(site, quiet=2, workers=1)
    manifest = context.manifest
    version = "%d.%d.%d" % sys.version_info[:3]
    _out("created a virtual environment of %s %s in %s" % (sys.implementation.name, version, dest))
    _out("extracted %d files of %s %s:" % (count, manifest.get("name"), manifest.get("version")))
    for where in sorted(moved):
        _out("  %s%s (%s)" % (where, os.sep, _plural(moved[where], "file", "files")))
    names = set(manifest.get("scripts") or {}) | set(manifest.get("script_files") or {})
    scripts = sorted(n for n in names if os.path.isfile(os.path.join(bin_dir, n)))
    if scripts:
        _out("scripts: %s" % ", ".join(os.path.join(bin_dir, n) for n in scripts))
    name = manifest.get("entry_point_name")
    if name and os.path.isfile(os.path.join(bin_dir, name)):
        _out("run it with: %s" % os.path.join(bin_dir, name))
    else:
        _out("run it with: %s" % _run_command(manifest, dest, python))


def _merge(source, target, label):
    """Move the files under ``source`` into ``target`` (renames); return how many."""
    count = 0
    for directory, dirs, files in os.walk(source):
        dirs.sort()
        relative = os.path.relpath(directory, source)
        into = target if relative == os.curdir else os.path.join(target, relative)
        if not os.path.isdir(into):
            os.makedirs(into)
        for name in sorted(files):
            destination = os.path.join(into, name)
            if os.path.lexists(destination):
                shown = name if relative == os.curdir else os.path.join(relative, name)
                raise LauncherError(
                    "the payload's %s/%s would replace %s of the virtual environment; refusing"
                    % (label, shown.replace(os.sep, "/"), destination)
                )
            os.rename(os.path.join(directory, name), destination)
            count += 1
    return count


def _install_scripts(source, bin_dir, python):
    """Put the payload's scripts into ``bin_dir``, ``#!python`` pointing at ``python``."""
    import shutil

    count = 0
    for name in sorted(os.listdir(source)):
        path = os.path.join(source, name)
        target = os.path.join(bin_dir, name)
        if os.path.isdir(path):
            count += _merge(path, target, "bin/" + name)
            continue
        if os.path.lexists(target):
            raise LauncherError(
                "the payload's script bin/%s would replace %s of the virtual environment; refusing" % (name, target)
            )
        with open(path, "rb") as handle:
            first = handle.readline(_SHEBANG_MAX + 1)
            if not first.startswith(b"#!python"):
                handle.close()
                os.rename(path, target)
                count += 1
                continue
            mode = os.stat(path).st_mode & 0o777
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(fd, "wb") as out:
                out.write(_shebang(python, first))
                shutil.copyfileobj(handle, out, _BUFFER)
        count += 1
    return count


def _shebang(python, first):
    """The ``#!`` line(s) for ``python`` in place of ``first`` (``#!python...``)."""
    rest = first[len(b"#!python") :]
    if rest.rstrip(b"\r\n").strip() and not rest.startswith((b" ", b"\t")):
        rest = b"\n"  # "#!pythonw" and the like: name this python instead
    line = b"#!" + os.fsencode(python) + (rest if rest.endswith(b"\n") else rest + b"\n")
    if len(line) <= _SHEBANG_MAX and b" " not in os.fsencode(python):
        return line
    # Too long or with a space for the kernel: let sh start python (what pip does).
    quoted = os.fsencode(python).replace(b'"', b'\\"')
    return b"#!/bin/sh\n'''exec' \"" + quoted + b'" "$0" "$@"\n\' \'\'\'\n'


# --------------------------------------------------------------------------
# cache


class _Entry:
    """One directory of the cache root."""

    def __init__(self, root, name):
        self.name = name
        self.path = os.path.join(root, name)
        self.state = os.path.join(self.path, STATE_DIR)
        self.complete = os.path.join(self.state, COMPLETE)
        self.record = _read_record(self.complete)
        self.last_use = self._last_use()

    def _last_use(self):
        times = []
        try:
            names = os.listdir(self.state)
        except OSError:
            names = []
        for name in names:
            if name.startswith(READY):
                try:
                    times.append(os.stat(os.path.join(self.state, name)).st_mtime)
                except OSError:
                    pass
        if times:
            return max(times)
        for path in (self.complete, self.path):
            try:
                return os.stat(path).st_mtime
            except OSError:
                pass
        return 0.0


def _scan(root):
    """``(entries, leftovers)`` of the cache root; leftovers are ``(name, pid)``.

    Only names that are exactly ours count: an entry is a directory named by
    a content id with the state directory inside, a leftover is named as a
    start names its temp and trash directories.  Anything else is left alone.
    """
    import stat

    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return [], []
    entries = []
    leftovers = []
    for name in names:
        path = os.path.join(root, name)
        if _extract.leftover_name(name):
            leftovers.append((name, int(name.split("-")[2])))
        elif _extract.is_entry_name(name):
            try:
                ours = stat.S_ISDIR(os.lstat(path).st_mode)
                ours = ours and stat.S_ISDIR(os.lstat(os.path.join(path, STATE_DIR)).st_mode)
            except OSError:
                ours = False
            if ours:
                entries.append(_Entry(root, name))
    return entries, leftovers


def _disk_usage(path):
    """Bytes on disk under ``path`` (allocated blocks where known)."""
    total = 0
    for directory, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            blocks = getattr(st, "st_blocks", None)
            total += blocks * 512 if blocks is not None else st.st_size
    return total


def _in_use(entry):
    """True if a running process holds the entry's use lock; None if unknown."""
    probe = _extract.probe_lock(entry.complete)
    return False if probe is None else probe[0]  # no completion record: no process can hold its lock


def _when(timestamp, now):
    import time

    if not timestamp:
        return "unknown"
    days = max(0.0, now - timestamp) / _DAY
    ago = "today" if days < 1 else "%d day%s ago" % (int(days), "" if int(days) == 1 else "s")
    return "%s (%s)" % (time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)), ago)


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


def _cache_list(context, options):
    import time

    root = context.root
    entries, leftovers = _scan(root)
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
                "size": _disk_usage(entry.path),
                "last_use": entry.last_use,
                "in_use": _in_use(entry),
                "this_archive": entry.name == context.id,
                "path": entry.path,
            }
        )
    extra = [
        {
            "name": name,
            "pid": pid,
            "state": _extract.leftover_state(os.path.join(root, name), now),
            "size": _disk_usage(os.path.join(root, name)),
        }
        for name, pid in leftovers
    ]
    if options.json:
        import json

        _out(json.dumps({"root": root, "entries": rows, "leftovers": extra}, indent=2, sort_keys=True))
        return 0
    if not os.path.isdir(root):
        _out("cache root: %s (does not exist: nothing is cached)" % root)
        return 0
    _out("cache root: %s" % root)
    if not rows:
        _out("no entries")
    table = [("ID", "NAME", "VERSION", "SIZE", "LAST USE", "IN USE")]
    for row in rows:
        in_use = {True: "yes", False: "no", None: "unknown"}[row["in_use"]]
        table.append(
            (
                row["id"] + (" *" if row["this_archive"] else ""),
                row["name"] or "?",
                row["version"] or ("?" if row["complete"] else "(incomplete)"),
                _size(row["size"]),
                _when(row["last_use"], now),
                in_use,
            )
        )
    if rows:
        widths = [max(len(r[i]) for r in table) for i in range(len(table[0]) - 1)]
        for row in table:
            _out("  ".join(row[i].ljust(widths[i]) for i in range(len(widths))) + "  " + row[-1])
    for item in extra:
        state = _LEFTOVER_STATES[item["state"]]
        _out("leftover %s (%s, %s)" % (item["name"], _size(item["size"]), state))
    total = sum(r["size"] for r in rows) + sum(e["size"] for e in extra)
    mine = " (* this archive)" if any(r["this_archive"] for r in rows) else ""
    _out("%s, %s%s" % (_plural(len(rows), "entry", "entries"), _size(total), mine))
    return 0


_LEFTOVER_STATES = {
    "live": "a running start is writing it",
    "dead": "left by a start that is gone",
    "young": "recent; kept for %d minutes in case a start is still writing it" % (_extract.GRACE / 60),
}


def _plural(count, one, many):
    return "%d %s" % (count, one if count == 1 else many)


def _cache_clear(context, options):
    options.days = 0.0
    options.dry_run = False
    options.verb = "clear"
    return _cache_prune(context, options)


def _cache_prune(context, options):
    import time

    root = context.root
    action = getattr(options, "verb", "prune")
    if not os.path.isdir(root):
        _out("nothing to %s: the cache root %s does not exist" % (action, root))
        return 0
    reason = unsafe_reason(os.stat(root))
    if reason:
        raise LauncherError("refusing to %s the cache root %s: %s" % (action, root, reason))
    dry = options.dry_run
    verb = "would remove" if dry else "removed"
    entries, leftovers = _scan(root)
    now = time.time()
    removed = freed = kept_in_use = kept_recent = failures = 0
    for name, _pid in leftovers:
        path = os.path.join(root, name)
        state = _extract.leftover_state(path, now)
        if state != "dead":
            _out("kept     %s: %s" % (name, _LEFTOVER_STATES[state]))
            continue
        size = _disk_usage(path)
        if not dry and not _remove_tree(path):
            failures += 1
            continue
        _out("%-8s %s: %s, %s" % (verb, name, _LEFTOVER_STATES[state], _size(size)))
        removed += 1
        freed += size
    for entry in entries:
        label = _label(entry)
        unused = now - entry.last_use
        if entry.record is not None and unused < options.days * _DAY:
            kept_recent += 1
            continue
        if entry.record is None and unused <= _extract.GRACE:
            _out("kept     %s: incomplete, but recent (a start may be making it)" % label)
            kept_recent += 1
            continue
        why = "incomplete" if entry.record is None else "unused for %s" % _duration(unused)
        size = _disk_usage(entry.path)
        outcome = _remove_entry(root, entry, dry)
        if outcome == "in use":
            _out("kept     %s: in use by a running process" % label)
            kept_in_use += 1
        elif outcome == "busy":
            _out("kept     %s: being extracted or repaired right now" % label)
            kept_in_use += 1
        elif outcome == "removed":
            _out("%-8s %s: %s, %s" % (verb, label, why, _size(size)))
            removed += 1
            freed += size
        else:
            _out("failed   %s: %s" % (label, outcome))
            failures += 1
    summary = "%s %d, freeing %s" % ("would remove" if dry else "removed", removed, _size(freed))
    if kept_in_use:
        summary += "; kept %d in use" % kept_in_use
    if kept_recent:
        summary += "; kept %d used in the last %s" % (kept_recent, _duration(options.days * _DAY))
    if failures:
        summary += "; %d could not be removed" % failures
    _out("%s: %s" % (action, summary))
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


def _remove_entry(root, entry, dry):
    """Remove one entry unless a process uses it: "removed", "in use", "busy" or an error."""
    try:
        import fcntl
    except ImportError:
        fcntl = None
    lock_fd = _take_extraction_lock(root, entry.name, fcntl)
    if lock_fd == -2:
        return "busy"
    use_fd = -1
    try:
        if fcntl is not None:
            try:
                use_fd = os.open(entry.complete, os.O_RDONLY)
            except OSError:
                use_fd = -1  # incomplete: no process can hold its use lock
            if use_fd >= 0:
                try:
                    fcntl.flock(use_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return "in use"
                except OSError as error:
                    return "cannot tell whether it is in use (%s)" % (error.strerror or error)
        if dry:
            return "removed"
        token = os.urandom(4).hex()
        trash = os.path.join(root, ".trash-%s-%d-%s" % (entry.name, os.getpid(), token))
        try:
            os.rename(entry.path, trash)  # while holding the locks: no start can begin using it now
        except PermissionError:
            if fcntl is None:
                return "in use"  # Windows: a directory in use cannot be renamed
            raise
        except OSError as error:
            return "cannot move it away (%s)" % (error.strerror or error)
    finally:
        if use_fd >= 0:
            os.close(use_fd)
        if lock_fd >= 0:
            os.close(lock_fd)
    if not _remove_tree(trash):
        return "removed only in part; %s is left" % trash
    return "removed"


def _take_extraction_lock(root, entry_id, fcntl):
    """The extraction lock's descriptor, -1 when there is none to take, -2 when it is held."""
    if fcntl is None:
        return -1
    try:
        fd = os.open(
            os.path.join(root, ".locks", entry_id + ".lock"),
            os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0),
        )
    except OSError:
        return -1  # never extracted under a lock, or no lock directory
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return -2
    except OSError:
        os.close(fd)
        return -1
    return fd


def _remove_tree(path):
    """Remove a directory tree (or a file); say so and return False if some of it stays."""
    left = _extract.remove_tree(path)
    if left is not None:
        name, error = left
        _out("failed   cannot remove %s: %s" % (name, getattr(error, "strerror", None) or error))
        return False
    return True
