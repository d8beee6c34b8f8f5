"""The ``extract DIR [--venv]`` tool: the payload written out as a plain tree or as a virtual environment."""

import os
import sys

from . import LauncherError, _cache, _extract
from ._output import out, plural

_BUFFER = 256 * 1024
_SHEBANG_MAX = 127  # what Linux reads of a "#!" line


def run(context, options):
    """``extract DIR [--venv] [--target NAME]``: the payload (of one target) as a plain tree, or a venv holding it."""
    if options.target is not None:
        context.use_target(options.target)
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
        _cache.remove_tree(dest)
        return
    try:
        names = os.listdir(dest)
    except OSError:
        return
    for name in names:
        path = os.path.join(dest, name)
        if os.path.isdir(path) and not os.path.islink(path):
            _cache.remove_tree(path)
        else:
            try:
                os.remove(path)
            except OSError:
                pass


def _plain_tree(context, dest):
    manifest = context.manifest
    os.makedirs(dest, exist_ok=True)
    count = _extract.unpack(context.archive, dest, target=_extract.target_of(context.manifest))
    out("extracted %d files of %s %s into %s" % (count, manifest.get("name"), manifest.get("version"), dest))
    site = os.path.join(dest, "site-packages")
    for part in sorted(os.listdir(dest)):
        out("  %s%s" % (os.path.join(dest, part), os.sep))
    command = _run_command(manifest, dest, "python")
    out("run it with: PYTHONPATH=%s %s" % (site, command))
    if manifest.get("pth"):
        out(
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
    if made is None:  # post_setup was not called: a venv module we do not know
        raise LauncherError("cannot make the virtual environment %s: venv did not say where it put it" % dest)
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
    count = _extract.unpack(context.archive, staging, target=_extract.target_of(context.manifest))
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
            out("skipped %s/ (not part of a virtual environment)" % part)
    _cache.remove_tree(staging)
    if _extract.needs_bytecode(context.manifest):
        import compileall

        compileall.compile_dir(site, quiet=2, workers=1)
    manifest = context.manifest
    version = "%d.%d.%d" % sys.version_info[:3]
    out("created a virtual environment of %s %s in %s" % (sys.implementation.name, version, dest))
    out("extracted %d files of %s %s:" % (count, manifest.get("name"), manifest.get("version")))
    for where in sorted(moved):
        out("  %s%s (%s)" % (where, os.sep, plural(moved[where], "file", "files")))
    names = set(manifest.get("scripts") or {}) | set(manifest.get("script_files") or {})
    scripts = sorted(n for n in names if os.path.isfile(os.path.join(bin_dir, n)))
    if scripts:
        out("scripts: %s" % ", ".join(os.path.join(bin_dir, n) for n in scripts))
    name = manifest.get("entry_point_name")
    if name and os.path.isfile(os.path.join(bin_dir, name)):
        out("run it with: %s" % os.path.join(bin_dir, name))
    else:
        out("run it with: %s" % _run_command(manifest, dest, python))


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
