"""``exearchive inspect``: what an archive is, what it holds and needs, and whether this Python can run it.

The archive is read, never run: its manifest (``__exearchive__/manifest.json``)
says everything but the answer to "can this interpreter run it", which the
launcher's own check (:func:`exearchive.runtime._compat.check`, the one the
archive makes before it starts) gives.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from packaging.utils import parse_wheel_filename

from ..backend._errors import ExearchiveError
from ..runtime import _compat
from ..runtime._tools_info import needs_line, target_summary
from . import _archive
from ._errors import CommandError
from ._output import Output
from ._parser import Parser

_DESCRIPTION = """\
Say what an archive is (format, content id, name, version, what built it),
what it holds (distributions and their versions, the entry point, every
console script and plain Python script, the payload's size and file count), what it needs from an
interpreter (Requires-Python, native code's wheel tags, the environment its
dependencies were resolved for), and whether the Python running this command
can run it. The archive is read, never run. A file that is not an exearchive
archive, or a damaged one, is an error (exit status 1).
"""

_EPILOG = """\
examples:
  exearchive inspect dist/myapp-1.0.pyz
  exearchive inspect --json myapp.pyz | python -c 'import json,sys; print(json.load(sys.stdin)["version"])'
  exearchive inspect --verify myapp.pyz         # also check every member of the archive
"""

_LABEL = 18


def add_parser(commands: argparse._SubParsersAction[Parser], common: Parser) -> None:
    """Add ``inspect`` and its options to the command's parser."""
    parser = commands.add_parser(
        "inspect",
        parents=[common],
        help="say what an archive holds and needs, and whether this Python can run it",
        description=_DESCRIPTION,
        epilog=_EPILOG,
    )
    parser.add_argument("archive", metavar="ARCHIVE", help="the archive (.pyz) to look into")
    parser.add_argument("--json", action="store_true", help="print it as one JSON object (keys sorted)")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="also check every member: CRC-32s, the launcher's and the payload's SHA-256, the payload's members",
    )
    parser.set_defaults(run=run)


def run(options: argparse.Namespace, output: Output) -> int:
    """Describe the archive on standard output (with ``--json``, a failure too: ``{"error": ...}``)."""
    try:
        return _inspect(options, output)
    except (ExearchiveError, OSError) as error:
        if options.json:
            text = str(error) if isinstance(error, ExearchiveError) else f"{options.archive}: {error.strerror or error}"
            output.line(json.dumps({"archive": options.archive, "error": text}, indent=2, sort_keys=True))
        raise


def _inspect(options: argparse.Namespace, output: Output) -> int:
    archive = _archive.read(Path(options.archive))
    data = describe(archive)
    if options.verify:
        found = _archive.problems(archive)
        if found:
            more = f" (and {len(found) - 1} more problems)" if len(found) > 1 else ""
            raise CommandError(
                f"the archive {str(archive.path)!r} is damaged: {found[0]}{more}; rebuild it or get an intact copy"
            )
        data["payload"]["verified"] = True
    if options.json:
        output.line(json.dumps(data, indent=2, sort_keys=True))
    else:
        for line in render(data):
            output.line(line)
    return 0


def describe(archive: _archive.Archive) -> dict[str, Any]:
    """Everything ``inspect`` says about ``archive``, as JSON-ready data.

    Of an archive of several targets: the target this interpreter would run
    (the first that fits, else the first), and ``targets``, all of them.
    """
    targets = [_target(t, str(archive.path)) for t in archive.manifest.get("targets") or []]
    chosen = next((k for k, t in enumerate(targets) if t["fits"]), 0)
    manifest = {**archive.manifest, **archive.manifest["targets"][chosen]} if targets else archive.manifest
    needs = manifest.get("needs") or {}
    payload = manifest.get("payload") or {}
    problem = _compat.check(needs, str(archive.path))
    implementation = sys.implementation.name
    return {
        "target": manifest.get("target"),
        "targets": targets,
        "archive": str(archive.path.resolve()),
        "size": archive.size,
        "interpreter_line": archive.shebang,
        "format": manifest["format"],
        "id": manifest["id"],
        "name": manifest["name"],
        "version": manifest["version"],
        "built_with": manifest.get("built_with"),
        "entry_point": {"name": manifest.get("entry_point_name"), "spec": manifest.get("entry_point")},
        "interpreter_archive": bool(manifest.get("interpreter")),
        "scripts": dict(manifest.get("scripts") or {}),
        "script_files": dict(manifest.get("script_files") or {}),
        "distributions": [_distribution(d) for d in manifest.get("distributions") or []],
        "needs": {
            "requires_python": list(needs.get("requires_python") or []),
            "native": list(needs.get("native") or []),
            "effective_requires_python": needs.get("effective_requires_python"),
            "markers": list(needs.get("markers") or []),
        },
        "payload": {
            "size": archive.payload_size,
            "unpacked_size": payload.get("unpacked_size"),
            "files": payload.get("files"),
            "sha256": payload.get("sha256"),
            "bytecode_for": list(manifest.get("pyc") or []),
            "verified": False,
        },
        "this_interpreter": {
            "executable": sys.executable,
            "implementation": implementation,
            "version": ".".join(map(str, sys.version_info[:3])),
            "can_run": problem is None,
            "problem": problem,
        },
    }


def _target(target: dict[str, Any], archive: str) -> dict[str, Any]:
    """One target of several: name, id, distributions, needs, and whether this interpreter can run it."""
    summary: dict[str, Any] = target_summary(target, archive)
    summary["distributions"] = [_distribution(d) for d in target.get("distributions") or []]
    summary["bytecode_for"] = list(target.get("pyc") or [])
    return summary


def _distribution(entry: dict[str, Any]) -> dict[str, Any]:
    wheel = str(entry.get("wheel") or "")
    tags: list[str] = []
    if wheel.endswith(".whl"):
        try:
            tags = sorted(str(tag) for tag in parse_wheel_filename(wheel)[3])
        except ValueError:
            tags = []
    return {
        "name": entry.get("name"),
        "version": entry.get("version"),
        "wheel": wheel or None,
        "native": bool(tags) and not all(tag.endswith("-none-any") for tag in tags),
    }


def render(data: dict[str, Any]) -> list[str]:
    """The text form of :func:`describe`'s data."""
    lines = [f"{data['name']} {data['version']}"]

    def field(label: str, *values: str) -> None:
        for index, value in enumerate(values or ("none",)):
            lines.append(f"  {label if index == 0 else '':<{_LABEL}}{value}")

    field("archive", f"{data['archive']} ({_size(data['size'])})")
    built = f", built with {data['built_with']}" if data["built_with"] else ""
    field("format", f"{data['format']}{built}")
    field("content id", data["id"])
    if data["target"]:
        field("target", data["target"] + (f" (of {len(data['targets'])}, below)" if data["targets"] else ""))
    field("#! line", data["interpreter_line"] or "none (run it with python ARCHIVE)")
    entry = data["entry_point"]
    if data["interpreter_archive"]:
        field("entry point", "none: an interpreter archive (it runs like python: -c, -m, a script, a console)")
    else:
        field("entry point", f"{entry['name']} = {entry['spec']}" if entry["name"] else entry["spec"])
    field("console scripts", *(f"{name} = {spec}" for name, spec in sorted(data["scripts"].items())))
    if data["script_files"]:
        field("scripts", *(f"{name} ({path})" for name, path in sorted(data["script_files"].items())))
    field(
        "distributions",
        *(f"{d['name']} {d['version']}{' (native code)' if d['native'] else ''}" for d in data["distributions"]),
    )
    needs = data["needs"]
    python = ", ".join(f"{n.get('by')}: {n.get('spec')}" for n in needs["requires_python"])
    if python:
        python = f"{needs['effective_requires_python'] or 'all of'} ({python})"
    native = "; ".join(f"{n.get('dist')}: {', '.join(n.get('tags') or [])}" for n in needs["native"])
    markers = [
        f"{m.get('marker')}: {'took' if m.get('outcome') else 'left out'} {m.get('requirement')} (of {m.get('by')})"
        for m in needs["markers"]
    ]
    field(
        "needs",
        f"Python {python or 'any'}",
        f"native code: {native or 'none (pure Python)'}",
        *(f"marker {line}" for line in markers),
    )
    payload = data["payload"]
    counts = []
    if isinstance(payload["files"], int):
        counts.append(f"{payload['files']} files")
    if isinstance(payload["unpacked_size"], int):
        counts.append(f"{_size(payload['unpacked_size'])} unpacked")
    counts.append(f"{_size(payload['size'])} stored")
    if payload["verified"]:
        counts.append("every member verified")
    field("payload", ", ".join(counts))
    field("bytecode for", ", ".join(payload["bytecode_for"]) or "none (compiled on first start)")
    for target in data["targets"]:
        fits = "this interpreter can run it" if target["fits"] else f"does not fit: {target['problem']}"
        field(
            "targets" if target is data["targets"][0] else "",
            f"{target['target']} (id {target['id']}, {target['files']} files): {fits}",
            "  distributions: " + ", ".join(f"{d['name']} {d['version']}" for d in target["distributions"]),
            "  needs: " + needs_line(target["needs"]),
        )
    this = data["this_interpreter"]
    who = f"{this['implementation']} {this['version']} ({this['executable']})"
    field("this interpreter", f"{who}: can run it" if this["can_run"] else f"{who}: cannot run it: {this['problem']}")
    return lines


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} bytes"
    value = count / 1024.0
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}"
        value /= 1024.0
    return f"{value:.1f} GiB"  # pragma: no cover
