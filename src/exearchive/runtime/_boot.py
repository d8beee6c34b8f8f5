"""Warm path of the exearchive launcher.

Protocol
--------
The names below (the members, ``FORMAT``, the state files of an entry) are
defined once, in the package's ``__init__``; the backend and the command
import them from there.

Every archive is a shebang line followed by a zip whose members are:

``__main__.py``
    generated at build time; first refuses a Python older than 3.8 in one
    line (it parses and runs that far on 2.7 and 3.0-3.7, which never import
    this package), then holds ``MANIFEST``, a dict literal (ASCII), and calls
    ``_exearchive_runtime.start(MANIFEST, __loader__)`` (the launcher's own
    check when cold; the entry's compiled copy of the launcher on an
    interpreter the shipped bytecode is not for), then
    ``_exearchive_runtime._boot.main(MANIFEST, __loader__)``.
``_exearchive_runtime/*.py`` and ``*.pyc``
    this package, with unchecked-hash bytecode for the build interpreter.
``__exearchive__/manifest.json``
    the same manifest as JSON, for tools that do not execute the archive,
    plus ``launcher_files`` (member name -> SHA-256 of every
    ``_exearchive_runtime/`` member), which ``start`` and ``_integrity`` check.
``__exearchive__/payload.zip``
    the payload, a zip stored (not compressed) inside the archive, so the
    archive's own central directory stays small and constant-size; zipimport
    never indexes the payload.  With several targets it holds the files of
    all: one the same (path, bytes, mode) in several is stored once under its
    path, a differing variant as ``~<k>/<path>`` (``k``: the first target
    that has it), extracted to ``<path>`` (``backend/_multi``).
``__exearchive__/targets/<k>``
    only with several targets: target k's file list, the payload members it
    is made of, one a line (sorted, UTF-8, deflated); its SHA-256 is the
    target's ``list_sha256``.  Read on the cold path and by the tools, never
    by a warm start.

The manifest, key by key.  Written by ``backend/_builder._manifest``
(``launcher*``: ``backend/_pack``); "launcher" below means this package,
"tools" ``_tools``/``_integrity``, "command" ``exearchive inspect``/``pack``.

==================  ==================  ======================================
key                 type                meaning; read by
==================  ==================  ======================================
``format``          int                 the layout: 1 (``SINGLE_FORMAT``)
                                        one target, 2 (``FORMAT``) several;
                                        command (refuses a newer one), tools,
                                        cold path
``id``              str (hex)           content id, the entry's name: a hash
                                        (``ID_LENGTH`` hex) of the target's
                                        sorted (path, mode, SHA-256) list,
                                        checked against the files extracted
                                        (archives with no ``target``: the
                                        payload's SHA-256 prefix); with
                                        several targets, the payload's SHA-256
                                        prefix, naming the archive in
                                        ``.chosen``; launcher, tools, command
``target``          str                 the target's name (``host`` as the
                                        build interpreter's, e.g.
                                        ``cp311-manylinux_2_36_x86_64``);
                                        messages, tools, command
``targets``         [{...}]             several targets only: one overlay per
                                        target, in the configuration's order,
                                        with ``target``, ``id``, ``scripts``,
                                        ``script_files``, ``pth``, ``pyc``,
                                        ``needs``, ``distributions`` (as
                                        below, for that target), ``files``
                                        (its file count), ``list`` (its list's
                                        member) and ``list_sha256``; the
                                        launcher's view of target k is
                                        ``{**manifest, **targets[k]}``, and
                                        those keys are absent at the top
``name``            str                 the app's distribution; messages,
``version``         str                 tools, command (file name)
``entry_point``     str or null         ``module:attr``, ``module`` or a plain
                                        script ``bin/NAME``; null in an
                                        interpreter archive; launcher, tools,
                                        command
``entry_point_name`` str or null        its console script name; tools, command
``interpreter``     bool                an interpreter archive (runs like
                                        ``python``); launcher, tools, command
``scripts``         {str: str}          console script name -> ``module:attr``;
                                        launcher (override, busybox), tools,
                                        command
``script_files``    {str: str}          plain Python script name ->
                                        ``bin/NAME`` (run like ``python
                                        SCRIPT``); as ``scripts``
``pth``             [str]               ``.pth`` files at the top of
                                        ``site-packages``; launcher
``pyc``             [str]               cache tags the payload ships bytecode
                                        for; cold path, command
``needs``           {...}               what the interpreter must provide (see
                                        below); ``_compat`` on the cold path,
                                        tools, command, the build's ``#!``
                                        check
``distributions``   [{name, version,    what was staged; tools, command
                    wheel}]
``payload``         {member, sha256,    the payload member and its hash, size,
                    size, files,        file count and unpacked size; cold path
                    unpacked_size}      (count checked; hash checked when no
                                        ``target``), tools, command
``built_with``      str                 ``exearchive VERSION``; tools, command
``launcher``        str (hex)           hash of this package's sources: names
                                        the entry's compiled copy; launcher
``launcher_pyc``    str or null         cache tag of the shipped launcher
                                        bytecode; ``__main__``, launcher
``launcher_files``  {str: str}          ``manifest.json`` only: SHA-256 of
                                        every ``_exearchive_runtime/`` member;
                                        ``start`` (cold), tools
==================  ==================  ======================================

``needs`` holds, each key only when it has something to say:

``requires_python``
    ``[{"spec": ">=3.9", "by": "attrs 25.1"}, ...]``: the Requires-Python of
    every staged distribution that has a valid one.
``effective_requires_python``
    ``">=3.10,<4"``: their intersection, simplified; what refusals show.
``markers``
    ``[{"marker", "outcome", "requirement", "by"}, ...]``: every requirement
    of a staged distribution (the project's with the chosen extras, and the
    others' with the extras asked of them) whose marker reads the
    environment: ``marker`` as packaging writes it (``python_version <
    "3.11"``), ``outcome`` whether the build took the requirement,
    ``requirement`` without its marker (``tomli>=1``), ``by`` who requires it
    (``pytest 9.0.2``); ``extras`` (a list) when the marker reads ``extra``:
    it is evaluated once with each (none: with ``extra == ""``) and holds if
    any holds; ``carried`` (``numpy 1.21.0``) when a requirement left out
    names a distribution staged in a version that does not meet it.  A
    requirement left out but met by the payload anyway is not recorded.  The
    launcher refuses only where a recorded ``outcome`` False would be True.
``native``
    ``[{"dist": "numpy 2.1.0", "tags": [...]}, ...]``: the wheel tags of
    every distribution with native code.

``needs.environment`` (the build host's marker variables, in archives made
before markers were recorded) is ignored.

Cache layout (``ROOT`` is ``EXEARCHIVE_ROOT``, else the platform cache dir or,
when that cannot be used, the fallback ``$TMPDIR/exearchive-<uid>``; see
``cache_roots`` and the README's "Security model")::

    ROOT/                          0700, owned by the user (or root), not
                                   writable by group or others
    ROOT/<id>/                     one extracted payload, published by rename
    ROOT/<id>/.exearchive/complete completion record, written before publishing;
                                   running processes hold a shared flock on it
    ROOT/<id>/.exearchive/ready-<interpreter key>
                                   this interpreter passed the compatibility
                                   check and the entry has bytecode for it;
                                   its mtime is the entry's last use
    ROOT/<id>/.exearchive/launcher-<launcher hash>/
                                   the warm-path modules of this package
                                   (``_extract.COPIED``), copied and compiled
                                   by a start on an interpreter the shipped
                                   bytecode is not for; ``ready-<interpreter
                                   key>`` inside says it has bytecode for one
    ROOT/.locks/<id>.lock          extraction lock
    ROOT/.chosen/<archive id>-<interpreter key>
                                   of an archive of several targets: a symlink
                                   to the id of the target chosen for this
                                   interpreter (``_choose``), written once its
                                   entry is ready; a name that is not one of
                                   the archive's targets is ignored
    ROOT/.tmp-<id>-<pid>-<rand>/   extraction in progress (or left by a killed
                                   start; removed by the next extraction once
                                   the flock on its .exearchive/extracting is
                                   free, see ``_extract.Tmp``)
    ROOT/.trash-<id>-<pid>-<rand>/ an untrusted entry being removed

An entry is trusted only if its completion record exists and is owned by the
user or root (and, checked on the cold path before the ready marker is
written: it names this archive's content id and file count); the record is
written inside the temporary directory before it is renamed into place, so a
start killed at any moment leaves nothing that a later start would trust.

The warm path costs: one ``lstat`` of the root, one ``open`` + ``fstat`` (its
owner) + ``flock`` of the completion record, one ``stat`` of the ready marker,
``sys.path`` setup; through the fallback root, one ``lstat`` more; for an
archive of several targets, one ``readlink`` more (``.chosen``).  It
never reads the payload and imports nothing but ``os``, ``sys`` and ``fcntl``.

Knobs (environment): ``EXEARCHIVE_ROOT``, ``EXEARCHIVE_ENTRY_POINT`` (a console
or plain script name, ``module:function`` or ``module``), ``EXEARCHIVE_INTERPRETER=1``
(behave like ``python``: ``-c``, ``-m``, a script, ``-`` or a REPL),
``EXEARCHIVE_INHERIT_PATH=1`` (keep the host's site-packages and PYTHONPATH
visible), ``EXEARCHIVE_VERBOSE=1`` (trace each step with timings),
``EXEARCHIVE_TOOLS=1`` (info, verify, extract, cache), and
``EXEARCHIVE_LOCK_TIMEOUT`` (seconds to wait for another start's extraction),
``EXEARCHIVE_SYNC=0`` (publish a new entry without syncing it to disk first),
``EXEARCHIVE_PYTHON`` (the interpreter to run the archive with when this one
cannot) and ``EXEARCHIVE_REEXEC=0`` (never look for one; see ``_reexec``).
The launcher sets ``EXEARCHIVE_USE_LOCK_FD`` (see ``hold_use_lock``).
"""

import os
import sys

from . import (
    COMPLETE,
    OWNERS,
    READY,
    REEXECED,
    RUNTIME,
    RUNTIME_PREFIX,
    STATE_DIR,
    LauncherError,
    cache_roots,
    interpreter_key,
    plain_name,
    unsafe_reason,
)

_TOUCH_AFTER = 3600.0  # refresh the last-use time at most once an hour
_TRUE = ("1", "true", "yes", "on")
USE_LOCK_FD = "EXEARCHIVE_USE_LOCK_FD"  # the inherited descriptor that holds the use lock


class _Trace:
    """``EXEARCHIVE_VERBOSE=1``: say what the launcher does and when."""

    def __init__(self, enabled):
        self.enabled = enabled
        if enabled:
            import time

            self._clock = time.perf_counter
            self._start = self._clock()

    def __call__(self, message):
        if self.enabled:
            ms = (self._clock() - self._start) * 1000.0
            sys.stderr.write("exearchive: [%8.2f ms] %s\n" % (ms, message))


def main(manifest, loader):
    """Run the archive: find or make its cache entry, set up, run the app."""
    env = os.environ
    trace = _Trace(env.get("EXEARCHIVE_VERBOSE", "") in _TRUE)
    prog = os.path.basename(sys.argv[0]) or "exearchive"
    try:
        archive = _archive_path(getattr(loader, "archive", None) or sys.argv[0])
        _absolute_root(env)
        if env.get("EXEARCHIVE_TOOLS", "") in _TRUE:
            from . import _tools

            sys.exit(_tools.main(manifest, archive, env, trace))
        command = None
        if env.get("EXEARCHIVE_INTERPRETER", "") in _TRUE or (
            manifest.get("interpreter") and not env.get("EXEARCHIVE_ENTRY_POINT")
        ):
            from . import _interpreter

            options, command = _interpreter.split_options(sys.argv[1:])
            if options:
                trace("interpreter options %s: starting the interpreter again with them" % " ".join(options))
                _interpreter.reexec(options, command, archive)
        choosing = manifest.get("targets") and "target" not in manifest  # several, none chosen for this Python
        if choosing:
            from . import _choose

            manifest = _choose.choose(manifest, archive, env, trace)
        entry = open_entry(manifest, archive, env, trace)
        if choosing:
            _choose.remember(manifest, entry, trace)
        if not _bytecode_fits(manifest, archive):
            from . import _extract

            _extract.install_copy(entry, manifest, archive, trace)
        setup_paths(entry, manifest, archive, env)
        trace("sys.path ready")
        if command is not None:
            trace("interpreter mode")
            app = _interpreter.prepare(command, run_module)
        else:
            spec, rule = choose_entry_point(manifest, env)
            trace("running %s (%s)" % (spec, rule))
            app = entry_point_runner(spec, entry)
    except LauncherError as error:
        _fail(prog, error)
    except Exception as error:  # our bug or a state we did not foresee: still one line
        _fail_unexpected(prog, error, trace)
    run_app(app, prog, (manifest, archive, entry))


def _archive_path(path):
    try:
        return os.path.abspath(path)
    except FileNotFoundError:  # os.getcwd() of a deleted directory
        raise LauncherError(
            "the current directory no longer exists, so the archive's path %s has no meaning; "
            "run it from an existing directory or by its absolute path" % path
        ) from None


def _bytecode_fits(manifest, archive):
    """Whether this launcher runs from bytecode: shipped for this interpreter, or the entry's compiled copy.

    Whatever the spelling of the archive's path in ``__file__`` (``./app.pyz``,
    ``../d/app.pyz``), a launcher imported from the archive is in its
    ``_exearchive_runtime`` directory and the compiled copy is not.
    """
    tag = sys.implementation.cache_tag
    return tag is None or tag == manifest.get("launcher_pyc") or os.path.basename(os.path.dirname(__file__)) != RUNTIME


def _absolute_root(env):
    """Make a relative ``EXEARCHIVE_ROOT`` absolute, once, for this process and its children (which may chdir)."""
    root = env.get("EXEARCHIVE_ROOT")
    if root and not os.path.isabs(root):
        try:
            env["EXEARCHIVE_ROOT"] = os.path.abspath(root)
        except OSError:  # the current directory is gone
            raise LauncherError(
                "EXEARCHIVE_ROOT=%r is a relative path and the current directory no longer exists; "
                "set it to an absolute path" % root
            ) from None


def _fail(prog, error):
    sys.stderr.write("%s: error: %s\n" % (prog, error))
    sys.exit(error.code)


def _fail_unexpected(prog, error, trace):
    if trace.enabled:
        import traceback

        traceback.print_exc()
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    filename = getattr(error, "filename", None)
    if filename:
        text = "%s: %s" % (text, filename)
    sys.stderr.write(
        "%s: error: the launcher failed: %s (%s); run with EXEARCHIVE_VERBOSE=1 for details\n"
        % (prog, text, type(error).__name__)
    )
    sys.exit(70)  # EX_SOFTWARE


def open_entry(manifest, archive, env, trace):
    """The path of a usable cache entry for this archive, made if need be.

    Warm: in each root (``cache_roots``: the fallback root too, so that starts
    through it are warm), an ``lstat`` of the root (a real directory owned by
    the user or root that others cannot write: never a symlink), the
    completion record opened and its owner checked with ``fstat``, a ``stat``
    of the ready marker.  The rest (the directories above the root, the
    record's content, the files against the content id) is checked on the
    cold path, which wrote the ready marker.
    """
    roots = cache_roots(env)
    entry_id = manifest["id"]
    reason = None if plain_name(entry_id) else "the content id is not a plain name"
    if reason is None:
        for root, _explicit in roots:
            entry, why = _warm_entry(root, entry_id, trace)
            if entry is not None:
                trace("warm: %s" % entry)
                return entry
            reason = reason or why  # the first root's
    root, explicit = roots[0]
    trace("cold: %s (%s)" % (os.path.join(root, str(entry_id)), reason))
    from . import _extract

    return _extract.prepare(manifest, archive, root, explicit, env, trace, hold_use_lock)


def _warm_entry(root, entry_id, trace):
    """``(entry, None)``, its use lock held, if ``root`` holds it ready for this interpreter; else ``(None, why)``."""
    try:
        reason = unsafe_reason(os.lstat(root))
    except OSError:
        reason = "missing"
    if reason is not None:
        return None, "root " + reason
    entry = os.path.join(root, entry_id)
    state = os.path.join(entry, STATE_DIR)
    try:
        fd = os.open(os.path.join(state, COMPLETE), os.O_RDONLY)
    except OSError:
        return None, "not ready"
    if OWNERS is not None and os.fstat(fd).st_uid not in OWNERS:
        os.close(fd)
        return None, "its completion record is owned by another user"
    hold_use_lock(fd)
    try:
        st = os.stat(os.path.join(state, READY + interpreter_key()))
    except OSError:
        os.close(fd)
        return None, "not ready"
    _touch(st, state, trace)
    return entry, None


def hold_use_lock(fd):
    """Hold a shared lock on the completion record while this process and what it starts run.

    ``cache prune`` takes the exclusive lock before removing an entry, so an
    entry in use is never removed.  The descriptor is kept open and made
    inheritable, its number in ``EXEARCHIVE_USE_LOCK_FD``: a ``flock`` belongs
    to the open file, which ``fork`` and ``exec`` share, so a process that
    execs the interpreter, a forked child and a child that outlives this
    process keep the entry in use (``subprocess`` closes it in its children
    unless it is in ``pass_fds``).
    """
    try:
        import fcntl
    except ImportError:  # Windows: files in use cannot be removed anyway
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        # A prune holds the exclusive lock: only while it renames the entry
        # away.  Wait for it; the caller then finds the entry gone (its ready
        # marker no longer at the path) and takes the cold path.
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
        except OSError:
            return
    except OSError:
        return  # flock is unsupported on this file system
    os.set_inheritable(fd, True)
    os.environ[USE_LOCK_FD] = str(fd)


def _touch(st, state, trace):
    """Refresh the entry's last-use time, at most once an hour, if writable."""
    import time

    now = time.time()
    if now - st.st_mtime > _TOUCH_AFTER:
        try:
            os.utime(os.path.join(state, READY + interpreter_key()), (now, now))
        except OSError:
            trace("cannot record last use (read-only cache)")


def setup_paths(entry, manifest, archive, env):
    """Make ``sys.path`` the archive's environment, for this process and its children."""
    site_dir = os.path.join(entry, "site-packages")
    path = sys.path
    if path and os.path.abspath(path[0]) == archive:
        del path[0]
    inherit = env.get("EXEARCHIVE_INHERIT_PATH", "") in _TRUE
    if inherit:
        # the archive's packages first, then PYTHONPATH, then the host's site dirs
        moved, index = _take_pythonpath(path, env)
        path[index:index] = [site_dir, *moved]
    else:
        _strip_host(path, env)
        path.append(site_dir)
    for name in sorted(manifest.get("pth", ())):
        _process_pth(site_dir, name)
    old = env.get("PYTHONPATH") if inherit else None
    env["PYTHONPATH"] = site_dir + (os.pathsep + old if old else "")
    env["EXEARCHIVE_ARCHIVE"] = archive
    if REEXECED in env:  # for this start's check only, not for the app's children
        del env[REEXECED]


def _site_dirs():
    site = sys.modules.get("site")
    if site is None:
        return []
    dirs = list(getattr(site, "getsitepackages", lambda: [])())
    if getattr(site, "ENABLE_USER_SITE", False):
        dirs.append(site.getusersitepackages())
    return [os.path.normcase(os.path.abspath(d)) for d in dirs]


def _first_site_index(path):
    sites = _site_dirs()
    for index, item in enumerate(path):
        if os.path.normcase(os.path.abspath(item)) in sites:
            return index
    return len(path)


def _take_pythonpath(path, env):
    """Remove the ``PYTHONPATH`` entries (they come before the site dirs) from ``path``.

    Returns them and the index of the first site dir in what is left, so that
    the site dirs are looked up once per start.
    """
    first = _first_site_index(path)
    pythonpath = env.get("PYTHONPATH")
    if not pythonpath:
        return [], first
    drop = set(os.path.abspath(p) for p in pythonpath.split(os.pathsep) if p)
    head = path[:first]
    taken = [p for p in head if os.path.abspath(p) in drop]
    path[:first] = [p for p in head if os.path.abspath(p) not in drop]
    return taken, first - len(taken)


def _strip_host(path, env):
    """Keep only the standard library on ``sys.path``; forget what site added.

    Everything from the first site directory on was added by ``site`` (site
    directories and what their ``.pth`` files added); ``PYTHONPATH`` entries
    come before it.  Modules already imported from removed directories (by
    ``.pth`` files) are forgotten too, with their import hooks.
    """
    removed, first = _take_pythonpath(path, env)
    removed.extend(path[first:])
    del path[first:]
    if not removed:
        return
    prefixes = tuple(os.path.join(os.path.abspath(p), "") for p in removed if p)
    gone = set()
    for name, module in list(sys.modules.items()):
        filename = getattr(module, "__file__", None)
        if filename and filename.startswith(prefixes):
            del sys.modules[name]
            gone.add(name)
    if gone:
        sys.meta_path[:] = [
            f for f in sys.meta_path if type(f).__module__ not in gone and getattr(f, "__module__", None) not in gone
        ]
    for item in removed:
        sys.path_importer_cache.pop(item, None)


def _process_pth(site_dir, name):
    """Process one ``.pth`` file the way ``site.addpackage`` does."""
    filename = os.path.join(site_dir, name)
    try:
        with open(filename, encoding="utf-8-sig") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            if line.startswith(("import ", "import\t")):
                exec(line)  # what site.addpackage does with such lines
                continue
            directory = os.path.join(site_dir, line.rstrip())
            if directory not in sys.path and os.path.exists(directory):
                sys.path.append(directory)
        except Exception as error:  # site reports and skips the rest of the file
            sys.stderr.write(
                "exearchive: warning: error in line %d of %s (%s: %s); rest of the file ignored\n"
                % (number, filename, type(error).__name__, error)
            )
            return


def choose_entry_point(manifest, env):
    """The entry point to run and the rule that chose it: override, invoked-as name, or the default.

    A console script or a plain script is chosen by the exact name the
    archive was started as (a link named after it), never by the archive's
    own file name.
    """
    scripts = manifest.get("scripts", {})
    files = manifest.get("script_files", {})
    override = env.get("EXEARCHIVE_ENTRY_POINT")
    if override:
        spec = scripts.get(override) or files.get(override)
        if spec:
            return spec, "EXEARCHIVE_ENTRY_POINT"
        module = override.partition(":")[0].strip()
        if module and all(part.isidentifier() for part in module.split(".")):
            return override, "EXEARCHIVE_ENTRY_POINT"
        raise LauncherError(
            "EXEARCHIVE_ENTRY_POINT=%r is neither a console script or script of this archive (%s) nor "
            "module:function nor a module name" % (override, ", ".join(sorted({**scripts, **files})) or "none")
        )
    name = os.path.basename(sys.argv[0])
    spec = scripts.get(name) or files.get(name)
    if spec:
        return spec, "invoked as " + name
    return manifest["entry_point"], "default entry point"


def entry_point_runner(spec, entry):
    """A function that runs ``module:attr`` like a console script, ``module`` like ``python -m``,
    or a plain script (``bin/NAME``, a path in the cache ``entry``) like ``python SCRIPT``."""
    if "/" in spec:

        def run_script():
            from . import _interpreter

            _interpreter.run_plain_script(os.path.join(entry, *spec.split("/")))

        return run_script
    module, sep, attr = spec.partition(":")
    module = module.strip()
    if not sep:

        def run_as_main():
            _find_module(spec, module)
            run_module(module, False)

        return run_as_main

    def run():
        target = _load(spec, module, attr)
        sys.exit(target())

    return run


def _missing(spec, module, error):
    """A LauncherError if ``error`` says that the entry point's module (or a parent) does not exist."""
    name = getattr(error, "name", None)
    if isinstance(error, ModuleNotFoundError) and name and (module + ".").startswith(name + "."):
        return LauncherError("cannot load the entry point %s: there is no module %s in this archive" % (spec, name))
    return None


def _find_module(spec, module):
    import importlib.util

    try:
        found = importlib.util.find_spec(module)
    except ImportError as error:
        missing = _missing(spec, module, error)
        if missing is None:
            raise  # the app's own import failed: its traceback says why
        raise missing from None
    if found is None:
        raise LauncherError("cannot load the entry point %s: there is no module %s in this archive" % (spec, module))


def _load(spec, module, attr):
    try:
        __import__(module)
    except ImportError as error:
        missing = _missing(spec, module, error)
        if missing is None:
            raise  # the app's own import failed: its traceback says why
        raise missing from None
    target = sys.modules[module]
    where = module
    for part in attr.split("[")[0].strip().split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise LauncherError(
                "cannot load the entry point %s: %s has no attribute %r" % (spec, where, part)
            ) from None
        where += "." + part
    return target


def run_module(module, alter_argv):
    """Run ``module`` as ``__main__`` the way ``python -m`` does."""
    import runpy

    run_as_main = getattr(runpy, "_run_module_as_main", None)
    if run_as_main is not None:
        # it runs the module in __main__'s namespace (the archive's): start it afresh, as python -m does
        namespace = sys.modules["__main__"].__dict__
        builtins = namespace.get("__builtins__")
        namespace.clear()
        namespace["__builtins__"] = builtins
        run_as_main(module, alter_argv)
    else:  # pragma: no cover - every supported interpreter has it
        runpy.run_module(module, run_name="__main__", alter_sys=True)


def run_app(app, prog="exearchive", where=None):
    """Call ``app()``; report an uncaught exception as Python would, minus the launcher's frames.

    ``SystemExit`` and ``KeyboardInterrupt`` pass through unchanged, so exit
    codes and signals behave as for a console script.  ``where`` is
    ``(manifest, archive, entry)``: an ImportError or SyntaxError from the
    entry's files gets one more line, how to check and repair the entry.
    """
    try:
        app()
    except LauncherError as error:
        _fail(prog, error)
    except Exception as error:
        kind, value, tb = type(error), error, error.__traceback__
        ours = os.path.join(os.path.dirname(os.path.dirname(__file__)), "")
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            if not (
                filename.startswith((ours, RUNTIME_PREFIX))  # the latter: from the bytecode the archive ships
                or filename == "<frozen runpy>"
                or filename.endswith("runpy.py")
            ):
                break
            tb = tb.tb_next
        value.__traceback__ = tb
        sys.excepthook(kind, value, tb)
        if where is not None and isinstance(value, (ImportError, SyntaxError, ValueError, EOFError)):
            from . import _damage

            _damage.hint(value, tb, where, prog)
        del kind, value, tb
        sys.exit(1)
