"""The ``info`` tool: what the archive is and holds, its cache entry, whether this interpreter can run it."""

import os
import sys

from . import COMPLETE, READY, STATE_DIR, _extract, interpreter_key
from ._output import out, size_text


def run(context, options):
    """``info [--json]``: what the archive is, holds and needs; its cache entry; whether it can run here."""
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
    data["target"] = manifest.get("target")
    data["targets"] = [target_summary(t, context.archive) for t in context.archive_manifest.get("targets") or []]
    if options.json:
        import json

        out(json.dumps(data, indent=2, sort_keys=True))
        return 0
    _print_info(data)
    return 0


def target_summary(target, archive):
    """One target of several: its name, id, distributions, needs, and whether it fits this interpreter."""
    from . import _compat

    needs = target.get("needs") or {}
    problem = _compat.check(needs, archive)
    return {
        "target": target.get("target"),
        "id": target.get("id"),
        "files": target.get("files"),
        "distributions": [
            {"name": d.get("name"), "version": d.get("version")} for d in target.get("distributions") or []
        ],
        "needs": needs,
        "fits": problem is None,
        "problem": None if problem is None else _compat.reason(needs, problem),
    }


def needs_line(needs):
    """E.g. "python >=3.9; native: fakenative 1.0 (cp39-cp39-manylinux_2_17_x86_64)"."""
    parts = ["python %s" % (needs.get("effective_requires_python") or "any")]
    native = ["%s (%s)" % (n.get("dist"), ", ".join(n.get("tags") or [])) for n in needs.get("native") or []]
    parts.append("native: %s" % ("; ".join(native) or "none"))
    taken = [m.get("requirement") for m in needs.get("markers") or [] if m.get("outcome")]
    if taken:
        parts.append("by markers: %s" % ", ".join(sorted(set(str(t) for t in taken))))
    return "; ".join(parts)


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
    members, size = _extract.read_payload(context.archive)
    files = [m for m in members if not m[0].endswith("/")]
    return {"size": size, "unpacked_size": sum(m[1] for m in files), "files": len(files)}


def _print_info(data):
    def field(label, value):
        out("%-17s %s" % (label + ":", value))

    def more(value):
        out("%-17s %s" % ("", value))

    out("%s %s" % (data["name"], data["version"]))
    field("archive", data["archive"])
    field("content id", data["id"])
    if data["target"]:
        field("target", data["target"] + (" (of %d, below)" % len(data["targets"]) if data["targets"] else ""))
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
    out("needs:")
    python = ", ".join("%s: %s" % (n.get("by"), n.get("spec")) for n in needs["requires_python"])
    if python:
        python = "%s (%s)" % (needs["effective_requires_python"] or "all of", python)
    out("  requires-python: %s" % (python or "any"))
    native = "; ".join("%s: %s" % (n.get("dist"), ", ".join(n.get("tags") or [])) for n in needs["native"])
    out("  native code:     %s" % (native or "none (pure Python)"))
    markers = [_marker_line(m) for m in needs["markers"]] or ["none decided what the archive holds"]
    for index, line in enumerate(markers):
        out("  %-16s %s" % ("" if index else "markers:", line))
    if data["targets"]:
        out("targets (the first that fits runs):")
    for target in data["targets"]:
        state = "fits this interpreter" if target["fits"] else "does not fit: " + target["problem"]
        out("  %s (id %s, %s files): %s" % (target["target"], target["id"], target["files"], state))
        dists = ", ".join(("%s %s" % (d["name"], d["version"] or "")).strip() for d in target["distributions"])
        out("    distributions: %s" % (dists or "none"))
        out("    needs: %s" % needs_line(target["needs"]))
    payload = data["payload"]
    field(
        "payload",
        "%s stored, %s unpacked, %d files"
        % (size_text(payload["size"]), size_text(payload["unpacked_size"]), payload["files"]),
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
