"""Decide whether the running interpreter can run this archive.

This module is part of the launcher runtime that ships inside every ``.pyz``
built by exearchive, so it uses the standard library only and runs on CPython
3.8 to 3.13 and PyPy 3. The launcher imports it only when the archive manifest
lists "needs" that have to be checked, and nothing is computed at import time.

It provides:

* :func:`interpreter_tags` -- the wheel tags (``"interpreter-abi-platform"``)
  this interpreter supports, best first, computed with the same rules as
  ``packaging.tags.sys_tags()`` (manylinux from the running glibc, musllinux,
  macOS, Windows, 32-bit interpreters on 64-bit kernels, ...).
* :func:`python_version_matches` -- PEP 440 specifier sets (``">=3.8,<4"``,
  ``"~=3.10"``, ``"==3.*"``, ``"===3.11.7"``) against a Python version, with the
  results of ``packaging.specifiers.SpecifierSet(spec, prereleases=True)``
  (from ``_versions``, which ``_markers`` shares).
* :func:`marker_environment` -- the PEP 508 marker environment, the same as
  ``packaging.markers.default_environment()``.
* :func:`complete_platform` -- both of the above as PEX's "complete
  platform" JSON object, which a build for this machine takes as a target.
* :func:`check` -- evaluates the manifest's "needs" (requires-python, the
  markers that decided the payload, re-evaluated with ``_markers``, native
  wheel tags) and returns ``None`` when this interpreter fits, or one
  readable sentence saying what the archive needs, what this interpreter is
  and what to do (suggesting an interpreter only one that would fit).
"""

from __future__ import annotations

import os
import sys

from ._versions import python_version_matches

_VERSION_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyz.+")


def _python_version():
    """platform.python_version() without importing platform (which is slow)."""
    text = sys.version.split()[0] if sys.version else ""
    head = text.split(".")
    if not (len(head) > 1 and head[0].isdigit() and head[1][:1].isdigit() and _VERSION_CHARS.issuperset(text)):
        import platform

        return platform.python_version()
    if text.count(".") == 1:
        text += ".0"
    return text


# --------------------------------------------------------------------------
# Wheel tags


def _config_var(name):
    import sysconfig

    return sysconfig.get_config_var(name)


def _normalize(text):
    return text.replace(".", "_").replace("-", "_").replace(" ", "_")


def _sysconfig_platform():
    import sysconfig

    return _normalize(sysconfig.get_platform())


def _is_32bit():
    return sys.maxsize <= 2**32


def _cpython_abis(version):
    """ABI tags of this CPython, best first (e.g. ["cp313td", "cp313t"])."""
    from importlib.machinery import EXTENSION_SUFFIXES

    nodot = "%d%d" % version[:2]
    py_debug = _config_var("Py_DEBUG")
    debug = ""
    if py_debug or (py_debug is None and (hasattr(sys, "gettotalrefcount") or "_d.pyd" in EXTENSION_SUFFIXES)):
        debug = "d"
    threading = "t" if version >= (3, 13) and _config_var("Py_GIL_DISABLED") else ""
    abis = ["cp" + nodot + threading + debug]
    if debug:  # debug builds also load normal extension modules
        abis.append("cp" + nodot + threading)
    return abis


def _generic_abis():
    """ABI tag of a non-CPython interpreter, derived from EXT_SUFFIX."""
    ext_suffix = _config_var("EXT_SUFFIX")
    if not isinstance(ext_suffix, str) or not ext_suffix.startswith("."):
        return []  # packaging raises SystemError here; we just offer no ABI tag
    parts = ext_suffix.split(".")
    if len(parts) < 3:
        return _cpython_abis(sys.version_info)
    soabi = parts[1]
    if soabi.startswith("cpython"):
        abi = "cp" + soabi.split("-")[1] if "-" in soabi else ""
    elif soabi.startswith("cp"):
        abi = soabi.split("-")[0]
    elif soabi.startswith("pypy"):
        abi = "-".join(soabi.split("-")[:2])
    elif soabi.startswith("graalpy"):
        abi = "-".join(soabi.split("-")[:3])
    else:
        abi = soabi
    return [_normalize(abi)] if abi else []


def _elf_header(path):
    """(class, data, machine, flags, PT_INTERP path or None) of an ELF file."""
    import struct

    try:
        with open(path, "rb") as f:
            ident = f.read(16)
            if len(ident) < 16 or ident[:4] != b"\x7fELF":
                return None
            end = {1: "<", 2: ">"}.get(ident[5])
            if end is None or ident[4] not in (1, 2):
                return None
            wide = ident[4] == 2
            header = end + ("HHIQQQIHHH" if wide else "HHIIIIIHHH")
            fields = struct.unpack(header, f.read(struct.calcsize(header)))
            machine, phoff, flags, phentsize, phnum = (fields[i] for i in (1, 4, 6, 8, 9))
            program = end + ("IIQQQQQQ" if wide else "IIIIIIII")
            offset_i, size_i = (2, 5) if wide else (1, 4)
            interp = None
            for index in range(phnum):
                f.seek(phoff + phentsize * index)
                data = f.read(struct.calcsize(program))
                if len(data) < struct.calcsize(program):
                    continue
                entry = struct.unpack(program, data)
                if entry[0] == 3:  # PT_INTERP
                    f.seek(entry[offset_i])
                    interp = os.fsdecode(f.read(entry[size_i])).strip("\0")
                    break
            return ident[4], ident[5], machine, flags, interp
    except (OSError, TypeError, ValueError, struct.error):
        return None


def _glibc_version():
    """(major, minor) of the running glibc, or None when not linked to glibc."""
    text = None
    try:
        parts = (os.confstr("CS_GNU_LIBC_VERSION") or "").split()  # "glibc 2.36"
        if len(parts) == 2:
            text = parts[1]
    except (AttributeError, OSError, ValueError):
        pass
    if not text:
        try:
            import ctypes

            function = ctypes.CDLL(None).gnu_get_libc_version
            function.restype = ctypes.c_char_p
            text = function()
            if isinstance(text, bytes):
                text = text.decode("ascii")
        except (ImportError, OSError, AttributeError, UnicodeError):
            return None
    return _major_minor(text or "")


def _major_minor(text):
    """(major, minor) from the start of "2.36" or "2.36.1-foo", or None."""
    head = text.split(".", 2)
    if len(head) < 2 or not head[0].isdigit():
        return None
    minor = head[1]
    digits = len(minor) - len(minor.lstrip("0123456789"))
    return (int(head[0]), int(minor[:digits])) if digits else None


def _musl_version(executable):
    """(major, minor) of the musl libc this executable is linked to, or None."""
    header = _elf_header(executable)
    loader = header[4] if header else None
    if not loader or "musl" not in loader:
        return None
    import subprocess

    try:
        proc = subprocess.run([loader], stderr=subprocess.PIPE, universal_newlines=True)
    except OSError:
        return None
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    if len(lines) < 2 or not lines[0].startswith("musl"):
        return None
    if not lines[1].startswith("Version "):
        return None
    return _major_minor(lines[1][len("Version ") :])


def _manylinux_allowed(arch, version, manylinux_module):
    """PEP 600: a ``_manylinux`` module may veto (or confirm) a glibc version."""
    if manylinux_module is None:
        return True
    if hasattr(manylinux_module, "manylinux_compatible"):
        result = manylinux_module.manylinux_compatible(version[0], version[1], arch)
        return True if result is None else bool(result)
    legacy = {(2, 5): "manylinux1", (2, 12): "manylinux2010", (2, 17): "manylinux2014"}
    if version in legacy:
        return bool(getattr(manylinux_module, legacy[version] + "_compatible", True))
    return True


def _manylinux_platforms(archs):
    executable = sys.executable
    if "armv7l" in archs or "i686" in archs:
        header = _elf_header(executable)
        if header is None or header[:2] != (1, 1):  # 32-bit little endian
            return []
        if "armv7l" in archs:  # hard-float EABI version 5
            if header[2] != 40 or header[3] & 0xFF000000 != 0x05000000 or not header[3] & 0x400:
                return []
        elif header[2] != 3:  # EM_386
            return []
    else:
        allowed = {"x86_64", "aarch64", "ppc64", "ppc64le", "s390x", "loongarch64", "riscv64"}
        if not allowed.intersection(archs):
            return []
    glibc = _glibc_version()
    if glibc is None:
        return []
    try:
        manylinux_module = __import__("_manylinux")
    except ImportError:
        manylinux_module = None
    oldest = (2, 4) if {"x86_64", "i686"}.intersection(archs) else (2, 16)
    # glibc keeps compatibility across major versions; assume 50 minors each.
    maxima = [glibc] + [(major, 50) for major in range(glibc[0] - 1, 1, -1)]
    legacy = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
    result = []
    for arch in archs:
        for major, top in maxima:
            stop = oldest[1] if major == oldest[0] else -1
            for minor in range(top, stop, -1):
                if not _manylinux_allowed(arch, (major, minor), manylinux_module):
                    continue
                result.append("manylinux_%d_%d_%s" % (major, minor, arch))
                if (major, minor) in legacy:
                    result.append(legacy[major, minor] + "_" + arch)
    return result


def _linux_platforms():
    linux = _sysconfig_platform()
    if not linux.startswith("linux_"):
        return [linux]
    if _is_32bit():  # 32-bit interpreter on a 64-bit kernel
        linux = {"linux_x86_64": "linux_i686", "linux_aarch64": "linux_armv8l"}.get(linux, linux)
    arch = linux.split("_", 1)[1]
    archs = ["armv8l", "armv7l"] if arch == "armv8l" else [arch]
    result = ["linux_" + a for a in archs] + _manylinux_platforms(archs)
    musl = _musl_version(sys.executable)
    if musl is not None:
        for a in archs:
            result.extend("musllinux_%d_%d_%s" % (musl[0], m, a) for m in range(musl[1], -1, -1))
    return result


def _mac_formats(version, arch):
    """Binary formats a macOS version/architecture can load, like packaging."""
    formats = [arch]
    if arch in ("x86_64", "i386"):
        if version < (10, 4):
            return []
        formats += ["intel", "fat64", "fat3"] if arch == "x86_64" else ["intel", "fat3", "fat"]
    elif arch == "ppc64":
        if version > (10, 5) or version < (10, 4):
            return []
        formats.append("fat64")
    elif arch == "ppc":
        if version > (10, 6):
            return []
        formats += ["fat3", "fat"]
    if arch in ("arm64", "x86_64"):
        formats.append("universal2")
    if arch in ("x86_64", "i386", "ppc64", "ppc", "intel"):
        formats.append("universal")
    return formats


def _running_mac_version(release):
    """(major, minor) of the running macOS, seeing through the 10.16 compat mode."""
    version = tuple(int(p) for p in release.split(".")[:2])
    if version == (10, 16):
        # Built against an old SDK, macOS reports 10.16; ask for the real one.
        import subprocess

        try:
            release = subprocess.run(
                [sys.executable, "-sS", "-c", "import platform; print(platform.mac_ver()[0])"],
                check=True,
                env={"SYSTEM_VERSION_COMPAT": "0"},
                stdout=subprocess.PIPE,
                universal_newlines=True,
            ).stdout
            version = tuple(int(p) for p in release.split(".")[:2])
        except (OSError, ValueError, subprocess.SubprocessError):
            pass
    return version


def _mac_platforms(version=None, arch=None):
    """macOS platform tags for (major, minor) and a CPU arch (default: this Mac)."""
    if version is None or arch is None:
        import platform

        release, _, machine = platform.mac_ver()
        if version is None:
            version = _running_mac_version(release)
        if arch is None:
            arch = machine
            if _is_32bit():
                arch = "ppc" if arch.startswith("ppc") else "i386"
    result = []
    if (10, 0) <= version < (11, 0):
        for minor in range(version[1], -1, -1):
            result += ["macosx_10_%d_%s" % (minor, f) for f in _mac_formats((10, minor), arch)]
    if version >= (11, 0):
        for major in range(version[0], 10, -1):
            result += ["macosx_%d_0_%s" % (major, f) for f in _mac_formats((major, 0), arch)]
        for minor in range(16, 3, -1):
            # x86_64 runs binaries for older releases; arm64 only universal2 ones.
            formats = _mac_formats((10, minor), arch) if arch == "x86_64" else ["universal2"]
            result += ["macosx_10_%d_%s" % (minor, f) for f in formats]
    return result


def _ios_platforms(version=None, multiarch=None):
    """iOS platform tags for (major, minor) and a multiarch (default: this device)."""
    if version is None:
        import platform

        version = tuple(int(p) for p in platform.ios_ver()[1].split(".")[:2])  # type: ignore[attr-defined]
    major, minor = version
    multiarch = (multiarch or sys.implementation._multiarch).replace("-", "_")
    if major < 12:
        return []
    versions = [(major, m) for m in range(minor, -1, -1)]
    versions += [(a, m) for a in range(major - 1, 11, -1) for m in range(9, -1, -1)]
    return ["ios_%d_%d_%s" % (a, m, multiarch) for a, m in versions]


def _android_platforms(api_level=None, abi=None):
    """Android platform tags for an API level and ABI (default: this device)."""
    if api_level is None:
        import platform

        api_level = platform.android_ver().api_level  # type: ignore[attr-defined]
    if abi is None:
        import sysconfig

        abi = sysconfig.get_platform().split("-")[-1]
    return ["android_%d_%s" % (level, _normalize(abi)) for level in range(api_level, 15, -1)]


def _uname():
    """``(system, release, version, machine)`` as ``platform`` gives them, without importing it on Linux.

    ``platform`` costs about 10 ms to import (it imports ``re``); on Linux its
    answers are those of ``os.uname()``.  Elsewhere (Android and iOS report
    other names there) ask ``platform`` itself.
    """
    if sys.platform == "linux":
        u = os.uname()
        return u.sysname, u.release, u.version, u.machine
    import platform

    return platform.system(), platform.release(), platform.version(), platform.machine()


def _platforms():
    """Platform tags of this interpreter, best first."""
    system = _uname()[0]
    if system == "Darwin":
        return _mac_platforms()
    if system == "iOS":
        return _ios_platforms()
    if system == "Android":
        return _android_platforms()
    if system == "Linux":
        return _linux_platforms()
    result = [_sysconfig_platform()]
    if system == "Emscripten":
        emscripten = _config_var("PYEMSCRIPTEN_PLATFORM_VERSION")
        if emscripten:
            result.insert(0, "pyemscripten_%s_wasm32" % emscripten)
    return result


def _interpreter_name():
    name = sys.implementation.name
    short = {"python": "py", "cpython": "cp", "pypy": "pp", "ironpython": "ip", "jython": "jy"}
    return short.get(name) or name


def interpreter_tags() -> list[str]:
    """Wheel tags this interpreter supports, best first, as "interp-abi-platform".

    Follows ``packaging.tags.sys_tags()`` (packaging 26.3 order, where the
    native ``linux_<arch>`` platform comes before manylinux/musllinux).
    """
    platforms = _platforms()
    major, minor = sys.version_info[:2]
    name = _interpreter_name()
    nodot = str(_config_var("py_version_nodot") or "%d%d" % (major, minor))
    tags = []
    if name == "cp":
        interpreter = "cp%d%d" % (major, minor)
        abis = [a for a in _cpython_abis(sys.version_info) if a not in ("abi3", "abi3t", "none")]
        threaded = bool(abis) and "t" in abis[0][2:].lstrip("0123456789")  # cp313t
        stable = "abi3t" if threaded else "abi3"
        for abi in [*abis, stable, "none"]:
            tags += ["%s-%s-%s" % (interpreter, abi, p) for p in platforms]
        for older in range(minor - 1, 1, -1):
            tags += ["cp%d%d-%s-%s" % (major, older, stable, p) for p in platforms]
        compatible = "cp" + nodot  # type: str | None
    else:
        abis = _generic_abis()
        for abi in abis + ([] if "none" in abis else ["none"]):
            tags += ["%s%s-%s-%s" % (name, nodot, abi, p) for p in platforms]
        compatible = "pp3" if name == "pp" else None
    pythons = ["py%d%d" % (major, minor), "py%d" % major]
    pythons += ["py%d%d" % (major, m) for m in range(minor - 1, -1, -1)]
    for python in pythons:
        tags += ["%s-none-%s" % (python, p) for p in platforms]
    if compatible:
        tags.append(compatible + "-none-any")
    tags += [python + "-none-any" for python in pythons]
    return [tag.lower() for tag in tags]


def _expand_tag(tag):
    """The tags of a (possibly compressed) tag set such as py2.py3-none-any."""
    parts = tag.lower().split("-")
    if len(parts) != 3:
        return []
    return [
        "%s-%s-%s" % (i, a, p) for i in parts[0].split(".") for a in parts[1].split(".") for p in parts[2].split(".")
    ]


# --------------------------------------------------------------------------
# Marker environment


def marker_environment() -> dict[str, str]:
    """The PEP 508 marker environment of this interpreter."""
    info = sys.implementation.version
    implementation_version = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        implementation_version += info.releaselevel[0] + str(info.serial)
    system, release, version, machine = _uname()
    implementation = {"cpython": "CPython", "pypy": "PyPy"}.get(sys.implementation.name)
    if implementation is None:
        import platform

        implementation = platform.python_implementation()
    full_version = _python_version()
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": implementation_version,
        "os_name": os.name,
        "platform_machine": machine,
        "platform_release": release,
        "platform_system": system,
        "platform_version": version,
        "python_full_version": full_version,
        "platform_python_implementation": implementation,
        "python_version": ".".join(full_version.split(".")[:2]),
        "sys_platform": sys.platform,
    }


def complete_platform() -> dict:
    """This interpreter as a complete platform: ``{"marker_environment": {...}, "compatible_tags": [...]}``.

    The format of PEX's ``--complete-platform`` files: every PEP 508 marker
    variable and the wheel tags this interpreter takes, most specific first.
    A build for this machine takes it as a target (``targets = ["FILE.json"]``).
    """
    return {"marker_environment": marker_environment(), "compatible_tags": interpreter_tags()}


# --------------------------------------------------------------------------
# The check


def describe_interpreter():
    """E.g. "CPython 3.11.7 at /usr/bin/python3" or "PyPy 7.3.11 (Python 3.9.16)"."""
    name = sys.implementation.name
    if name == "cpython":
        text = "CPython " + _python_version()
    else:
        info = sys.implementation.version
        pretty = {"pypy": "PyPy", "graalpy": "GraalPy", "ironpython": "IronPython"}
        text = "%s %d.%d.%d (Python %s)" % (
            pretty.get(name, name),
            info.major,
            info.minor,
            info.micro,
            _python_version(),
        )
    return text + (" at " + sys.executable if sys.executable else "")


def _archive_name(archive):
    """How to name the archive in advice: the given path, argv[0] if a zip, else app.pyz."""
    if archive:
        return archive
    argv0 = sys.argv[0] if getattr(sys, "argv", None) else ""
    if argv0 and argv0.lower().endswith(".pyz"):
        return argv0
    if argv0 and os.path.isfile(argv0):
        import zipfile

        try:
            if zipfile.is_zipfile(argv0):
                return argv0
        except OSError:
            pass
    return "app.pyz"


def _advice(archive, python=None, where=None):
    """The closing 'what to do' part of a failure sentence."""
    if where:
        return "run it %s, or rebuild the archive on this machine" % where
    target = _archive_name(archive)
    if python:
        return "run it with a matching interpreter, e.g. %s %s" % (python, target)
    return "run it with a matching interpreter: /path/to/python %s" % target


def _requires_python_entries(needs):
    """The manifest's per-distribution Requires-Python as (spec, by) pairs."""
    result = []
    for entry in needs.get("requires_python") or []:
        if isinstance(entry, str):
            entry = {"spec": entry}
        result.append((str(entry.get("spec", "")), entry.get("by")))
    return result


def _some(names):
    """ "a", "a and b", "a and 2 more"."""
    if len(names) <= 2:
        return " and ".join(names)
    return "%s and %d more" % (names[0], len(names) - 1)


def _check_requires_python(needs, archive):
    version = _python_version()
    failing = []
    for spec, by in _requires_python_entries(needs):
        try:
            ok = python_version_matches(spec, version)
        except ValueError as exc:
            return "this archive's requires-python %r%s is invalid (%s); rebuild the archive" % (
                spec,
                " (of %s)" % by if by else "",
                exc,
            )
        if not ok:
            failing.append((spec, by))
    if not failing:
        return None
    # One Requires-Python: the intersection the build recorded (older archives: the failing clauses).
    effective = needs.get("effective_requires_python")
    if not effective:
        clauses = {c.strip() for spec, _ in failing for c in spec.split(",") if c.strip()}
        order = {">": 0, "~": 1, "=": 2, "!": 3, "<": 4}
        effective = ",".join(sorted(clauses, key=lambda c: (order.get(c[:1], 2), c)))
    names = [by for _, by in failing if by]
    return "this archive needs Python %s%s but this is %s; %s" % (
        effective,
        " (requires-python of %s)" % _some(names) if names else "",
        describe_interpreter(),
        _advice(archive, _suggest_python(needs)),
    )


# --------------------------------------------------------------------------
# Markers


def _marker_holds(entry, env):
    """Whether a recorded marker holds in ``env``, for the extras the build asked of its distribution."""
    from . import _markers

    tree = _markers.parse(str(entry.get("marker", "")))
    extras = entry.get("extras") or [""]
    return any([_markers.evaluate(tree, dict(env, extra=str(extra))) for extra in extras])


def _why(entry):
    """E.g. 'pytest 9.0.2 requires it where python_version < "3.11"'."""
    by = entry.get("by") or "a dependency"
    extras = [str(e) for e in entry.get("extras") or [] if e]
    if extras:
        by += " with extra%s %s" % ("s" if len(extras) > 1 else "", ", ".join(extras))
    return "%s requires it where %s" % (by, entry.get("marker"))


def _describe_needs(entries):
    """Records of one requirement as one phrase: 'tomli>=1 (pytest 9.0.2 requires it where ...; ...)'."""
    reasons = [_why(e) for e in entries]
    carried = [e["carried"] for e in entries if e.get("carried")]
    if carried:
        reasons.append("the archive carries %s" % carried[0])
    return "%s (%s)" % (entries[0].get("requirement") or "?", "; ".join(reasons))


def _check_markers(needs, archive):
    """Refuse when a requirement the build left out would be installed here.

    Only outcomes that flip from False to True matter: a distribution the
    build took but this interpreter would not install is carried unused
    (``importlib-metadata; python_version < "3.8"`` on 3.12), which is harmless.
    """
    env = marker_environment()
    missing = {}  # type: dict[str, list[dict]]  # requirement -> its records that would install it here
    for entry in needs.get("markers") or []:
        if entry.get("outcome") is not False:
            continue
        try:
            holds = _marker_holds(entry, env)
        except (ValueError, KeyError) as exc:
            return (
                "this archive records a marker that this interpreter cannot evaluate: %s (where %s requires %s): %s; %s"
                % (
                    entry.get("marker"),
                    entry.get("by") or "a dependency",
                    entry.get("requirement"),
                    str(exc.args[0] if exc.args else type(exc).__name__).rstrip("."),
                    _advice(archive, _suggest_python(needs)),
                )
            )
        if holds:
            missing.setdefault(str(entry.get("requirement")), []).append(entry)
    if not missing:
        return None
    groups = list(missing.values())
    shown = [_describe_needs(g) for g in groups[:3]]
    text = " and ".join(shown) if len(shown) <= 2 else ", ".join(shown[:-1]) + " and " + shown[-1]
    if len(groups) > 3:
        text += " (and %d more)" % (len(groups) - 3)
    if not any(e.get("carried") for g in groups for e in g):
        text += ", which it does not carry"
    return "this archive needs %s; this interpreter is %s; %s" % (
        text,
        describe_interpreter(),
        _advice(archive, _suggest_python(needs)),
    )


# --------------------------------------------------------------------------
# Which interpreter to suggest


def _suggest_python(needs):
    """'python3.Y' (or 'python3.Yt', 'pypy3') nearest this one that would satisfy every need, or None.

    Every need counts: Requires-Python, the native wheels' tags (a cp311
    archive is never sent to python3.10) and the recorded markers (none may
    flip to a requirement the archive does not carry).  The running
    interpreter itself is never suggested.
    """
    current = sys.version_info[1]
    name = sys.implementation.name
    threaded_here = bool(_config_var("Py_GIL_DISABLED")) if name == "cpython" else False
    platforms = None
    if needs.get("native"):
        platforms = {t.rsplit("-", 1)[1] for t in interpreter_tags()}
    base = marker_environment() if needs.get("markers") else {}
    candidates = sorted(range(8, 40), key=lambda m: (abs(m - current), -m))
    for minor in candidates:
        for threaded in (False, True) if minor >= 13 else (False,):
            if name == "cpython" and minor == current and threaded == threaded_here:
                continue
            if _fits(needs, "cpython", minor, threaded, platforms, base):
                return "python3.%d%s" % (minor, "t" if threaded else "")
    pypy = sorted(
        {
            int(interp[3:])
            for entry in needs.get("native") or []
            for interp in (t.split("-")[0] for g in entry.get("tags") or [] for t in _expand_tag(str(g)))
            if interp.startswith("pp3") and interp[3:].isdigit()
        }
    )
    for minor in pypy:
        if not (name == "pypy" and minor == current) and _fits(needs, "pypy", minor, False, platforms, base):
            return "pypy3"
    return None


def _fits(needs, implementation, minor, threaded, platforms, base):
    """Whether a Python 3.minor of this implementation, on this machine, would satisfy every need."""
    for entry in needs.get("native") or []:
        tags = [t for g in entry.get("tags") or [] for t in _expand_tag(str(g))]
        if not any(t.rsplit("-", 1)[1] in platforms and _tag_fits(t, implementation, minor, threaded) for t in tags):
            return False
    specs = [spec for spec, _ in _requires_python_entries(needs)]
    for micro in (99, 20, 10, 5, 2, 1, 0):
        version = "3.%d.%d" % (minor, micro)
        try:
            if not all(python_version_matches(spec, version) for spec in specs):
                continue
        except ValueError:
            return False
        env = dict(base, python_version="3.%d" % minor, python_full_version=version)
        if implementation == "cpython":
            env.update(implementation_name="cpython", platform_python_implementation="CPython")
            env["implementation_version"] = version
        else:  # the PyPy release is not known: keep this interpreter's implementation_version
            env.update(implementation_name="pypy", platform_python_implementation="PyPy")
        try:
            if not any(e.get("outcome") is False and _marker_holds(e, env) for e in needs.get("markers") or []):
                return True
        except (ValueError, KeyError):
            return False
    return False


def _tag_fits(tag, implementation, minor, threaded):
    """Whether a Python 3.minor of this implementation (free-threaded or not) takes a tag's interpreter and ABI."""
    interp, abi = tag.split("-")[:2]
    if abi == "none":
        if interp in ("py3", "cp3%d" % minor) or (implementation == "pypy" and interp in ("pp3", "pp3%d" % minor)):
            return True
        return interp.startswith("py3") and interp[3:].isdigit() and int(interp[3:]) <= minor
    if implementation == "pypy":
        return interp == "pp3%d" % minor
    if abi in ("abi3", "abi3t"):
        older = interp.startswith("cp3") and interp[3:].isdigit() and int(interp[3:]) <= minor
        return older and (abi == "abi3t") == threaded
    return interp == "cp3%d" % minor and abi == "cp3%d%s" % (minor, "t" if threaded else "")


def _check_native(needs, archive):
    supported = interpreter_tags()
    supported_set = set(supported)
    failing = []
    for entry in needs["native"]:
        given = entry.get("tags") or []
        given = [given] if isinstance(given, str) else [str(t) for t in given]
        if not any(t in supported_set for g in given for t in _expand_tag(g)):
            failing.append((entry, given))
    if not failing:
        return None
    entry, given = failing[0]
    dist = entry.get("dist") or "a dependency"
    if len(failing) > 1:
        dist += " and %d more" % (len(failing) - 1)
    expanded = [t.split("-") for g in given for t in _expand_tag(g)]
    our_platforms = {t.rsplit("-", 1)[1] for t in supported}
    where = None
    if expanded and not any(p in our_platforms for _, _, p in expanded):
        where = "on a %s machine" % " or ".join(sorted({p for _, _, p in expanded}))
    shown = ", ".join(given[:3]) + (", ..." if len(given) > 3 else "") or "no tags"
    first = supported[0].rsplit("-", 1)[1] if supported else "?"
    glibc = _glibc_version() if sys.platform.startswith("linux") else None
    here = first + (" with glibc %d.%d" % glibc if glibc else "")
    return (
        "this archive holds native code built for %s (%s) but this interpreter is %s on %s "
        "(supports %s, ...); %s"
        % (
            shown,
            dist,
            describe_interpreter(),
            here,
            ", ".join(supported[:2]),
            _advice(archive, None if where else _suggest_python(needs), where),
        )
    )


def check(needs: dict, archive: str | None = None) -> str | None:
    """None if this interpreter can run an archive with these needs, else one sentence.

    ``needs`` is the manifest's "needs" section (see ``_boot``):
    ``requires_python`` (a list of ``{"spec", "by"}``) with
    ``effective_requires_python`` (their intersection, for the message),
    ``markers`` (a list of ``{"marker", "outcome", "requirement", "by"}``,
    with ``extras`` and ``carried`` where they apply) and ``native`` (a list
    of ``{"dist", "tags"}``).  ``environment``, which archives made before
    markers were recorded hold, is ignored: it refused interpreters that
    would install the same dependencies.  ``archive`` names the archive in the
    advice (default: ``sys.argv[0]`` when it is the archive, else
    ``app.pyz``).  Cheap checks run first; wheel tags are computed only when
    there is native code.
    """
    if not needs:
        return None
    if needs.get("requires_python"):
        problem = _check_requires_python(needs, archive)
        if problem:
            return problem
    if needs.get("markers"):
        problem = _check_markers(needs, archive)
        if problem:
            return problem
    if needs.get("native"):
        return _check_native(needs, archive)
    return None


# --------------------------------------------------------------------------
# One line per target


def reason(needs, problem):
    """``check``'s ``problem`` with ``needs`` as a short phrase for one target of several (no advice).

    "needs an aarch64 machine; this is x86_64" when none of a native wheel's
    platforms is of this machine's system and architecture; else the sentence
    without its closing advice.
    """
    here = _machine(_uname_platform())
    for entry in needs.get("native") or []:
        platforms = set(t.split("-")[2] for g in entry.get("tags") or [] for t in _expand_tag(str(g)))
        machines = set(_machine(p) for p in platforms)
        if platforms and here not in machines:  # the most basic reason, whatever check found first
            system, arch = sorted(machines)[0]
            if system == here[0]:
                return "needs %s %s machine; this is %s" % (_article(arch), arch, here[1])
            return "needs %s %s %s machine; this is %s %s" % (_article(system), system, arch, here[0], here[1])
    native = "this archive holds native code built for "
    if problem.startswith(native):
        built = problem[len(native) :].split(" but this interpreter is ")[0]
        return "its native code is built for %s; this is %s" % (built, describe_interpreter().split(" at ")[0])
    text = problem.rsplit("; ", 1)[0]
    return text[len("this archive ") :] if text.startswith("this archive ") else text


def _uname_platform():
    """This machine as a platform tag's system and architecture part (``linux_x86_64``)."""
    machine = (os.uname().machine if hasattr(os, "uname") else os.environ.get("PROCESSOR_ARCHITECTURE", "")).lower()
    system = {"darwin": "macosx_0_0", "win32": "win"}.get(sys.platform, "linux")
    return "%s_%s" % (system, {"amd64": "amd64" if sys.platform == "win32" else "x86_64"}.get(machine, machine))


def _machine(platform):
    """``(system, architecture)`` of a platform tag: ``manylinux_2_28_aarch64`` -> ``("Linux", "aarch64")``."""
    parts = platform.split("_")
    # manylinux_2_28_aarch64, macosx_11_0_arm64; else linux_x86_64, manylinux2014_x86_64, win_amd64
    arch = "_".join(parts[3:] if platform.startswith(("manylinux_", "musllinux_", "macosx_")) else parts[1:])
    if platform.startswith(("manylinux", "musllinux", "linux")):
        system = "Linux"
    elif platform.startswith("macosx"):
        system, arch = "macOS", ("x86_64" if arch in ("intel", "x86_64") else arch)
    elif platform.startswith("win"):
        system = "Windows"
    else:
        system = parts[0]
    return system, arch


def _article(word):
    return "an" if word[:1].lower() in "aeiou" or word.startswith("x86") else "a"
