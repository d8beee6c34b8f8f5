"""After the app died of an ImportError or SyntaxError: was it a damaged cache entry?

Imported only on that failure path, after the app's traceback is printed, so
it costs a normal start nothing.  It adds one line with the command that
checks and repairs the entry when the failure comes from the entry's files:

* a ``SyntaxError`` (or ``IndentationError``) in a file inside the entry;
* an ``ImportError`` that names a file inside the entry (a module or native
  extension that exists but cannot be loaded);
* a ``ModuleNotFoundError`` for a module that the archive's payload holds
  but the entry lacks (a deleted file);
* a ``ValueError`` or ``EOFError`` raised where the import system unmarshals
  bytecode (``bad marshal data``: a damaged ``.pyc``), which names no file.

A module the payload does not hold either (a dependency the app does not
declare) is the app's problem, not damage: no line.
"""

import os
import sys

from . import RUNTIME_PREFIX

_SITE = "site-packages/"


def hint(error, tb, where, prog):
    """Write the repair advice for ``error`` (raised at ``tb``) when the entry's files are to blame.

    ``where`` is ``(manifest, archive path, entry path)``.
    """
    manifest, archive, entry = where
    try:
        why = _why(error, tb, manifest, archive, entry)
        if why is None:
            return
        from . import _tools

        command = _tools.Context(manifest, archive, os.environ, None, prog).command()
        sys.stderr.write("%s: %s; check and repair it with: %s verify --repair\n" % (prog, why, command))
    except Exception:  # advice only: never hide the app's own failure behind ours
        pass


def _why(error, tb, manifest, archive, entry):
    if isinstance(error, (ValueError, EOFError)):
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is not None and tb.tb_frame.f_code.co_name == "_compile_bytecode":
            return "a bytecode file of the app cannot be loaded; the cache entry %s may be damaged" % entry
        return None
    if isinstance(error, SyntaxError):
        if _inside(getattr(error, "filename", None), entry):
            return "%s is in the cache entry %s, which may be damaged" % (_relative(error.filename, entry), entry)
        return None
    if isinstance(error, ModuleNotFoundError):
        name = getattr(error, "name", None)
        if name and _in_payload(name, manifest, archive) and not _on_disk(name, entry):
            return "the archive holds the module %s but its cache entry %s lacks it" % (name, entry)
        return None
    path = getattr(error, "path", None)
    if isinstance(error, ImportError) and _inside(path, entry):
        return "%s is in the cache entry %s, which may be damaged" % (_relative(path, entry), entry)
    return None


def _inside(filename, entry):
    if not filename or filename.startswith(RUNTIME_PREFIX):
        return False
    real = os.path.realpath(filename)
    return real.startswith(os.path.join(os.path.realpath(entry), ""))


def _relative(filename, entry):
    return os.path.relpath(os.path.realpath(filename), os.path.realpath(entry))


def _candidates(name):
    base = _SITE + name.replace(".", "/")
    return base + ".py", base + "/", base + "."


def _in_payload(name, manifest, archive):
    """Whether the files of this archive's target (all of the payload, for one target) hold module ``name``."""
    from . import _extract

    target = _extract.target_of(manifest)
    if target is None:
        names = [member[0] for member in _extract.read_payload(archive)[0]]
    else:  # of several targets, only this one's files: another's module is not missing from this entry
        with open(archive, "rb") as handle:
            names = list(_extract.read_list(handle.fileno(), archive, target).values())
    module, package, native = _candidates(name)
    for member_name in names:
        if member_name == module or member_name.startswith(package):
            return True
        if (
            member_name.startswith(native)
            and member_name.endswith((".so", ".pyd"))
            and "/" not in member_name[len(native) :]
        ):
            return True
    return False


def _on_disk(name, entry):
    base = os.path.join(entry, "site-packages", *name.split("."))
    if os.path.exists(base + ".py") or os.path.isdir(base):
        return True
    parent, stem = os.path.split(base)
    try:
        return any(f.startswith(stem + ".") and f.endswith((".so", ".pyd")) for f in os.listdir(parent))
    except OSError:
        return False
