"""Choose the target of an archive of several for the running interpreter (cold path only).

An archive of several targets has a ``targets`` list in its manifest (see
``_boot``); the launcher's view of target k is ``{**manifest, **targets[k]}``.
The first whose needs (``_compat.check``: tags, Requires-Python, recorded
markers) fit this interpreter wins.  None fits: an interpreter that fits one
(``_reexec``) runs the archive instead, or the start fails with one line per
target saying why, having written nothing.

The choice is remembered once its entry is ready: ``ROOT/.chosen/<archive
id>-<interpreter key>`` is a symbolic link to the chosen target's id, which a
warm start reads with one ``readlink`` (``chosen`` in the package) and
accepts only if it names one of the archive's targets.
"""

import os

from . import CHOSEN, LauncherError, link_name


def choose(manifest, archive, env, trace):
    """The view of the first target that fits this interpreter; else re-execute, or a LauncherError."""
    from . import _compat

    targets = manifest["targets"]
    lines = []
    for target in targets:
        view = dict(manifest, **target)
        needs = view.get("needs") or {}
        problem = _compat.check(needs, archive) if needs else None
        if problem is None:
            trace("target %s fits this interpreter" % view.get("target"))
            view["archive_id"] = manifest["id"]
            view["checked"] = True
            return view
        line = "%s: %s" % (target.get("target"), _compat.reason(needs, problem))
        trace("target " + line)
        lines.append(line)
    from . import _reexec
    from ._extract import elsewhere_note

    python = _reexec.other_interpreter([t.get("needs") or {} for t in targets], archive, env, trace)
    if python is not None:
        _reexec.reexec(python, archive)
    raise LauncherError(
        "none of the %d targets of %s fits %s%s; run it with an interpreter that fits one, e.g. "
        "EXEARCHIVE_PYTHON=/path/to/python:\n  %s"
        % (len(targets), archive, _compat.describe_interpreter(), elsewhere_note(env), "\n  ".join(lines))
    )


def remember(view, entry, trace):
    """Record the choice beside the ready entry (``ROOT/.chosen/...`` -> its id), atomically; best effort."""
    directory = os.path.join(os.path.dirname(entry), CHOSEN)
    link = os.path.join(directory, link_name(view["archive_id"]))
    temp = "%s.tmp-%d-%s" % (link, os.getpid(), os.urandom(4).hex())
    try:
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass
        os.symlink(view["id"], temp)
        os.replace(temp, link)
    except OSError as error:
        trace("cannot remember the chosen target (%s); the next start chooses again" % (error.strerror or error))
        try:
            os.unlink(temp)
        except OSError:
            pass
        return
    trace("remembered target %s for this interpreter" % view.get("target"))
