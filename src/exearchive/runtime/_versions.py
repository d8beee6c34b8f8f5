"""PEP 440 versions and specifier sets, for the launcher (standard library only).

Part of the launcher runtime that ships inside every ``.pyz``: runs on CPython
3.8 to 3.13 and PyPy 3, imports ``re`` only off the common paths, and
computes nothing at import time.  Follows packaging 26.3
(``src/packaging/version.py`` and ``src/packaging/specifiers.py``):
:func:`python_version_matches` gives the results of
``SpecifierSet(spec, prereleases=True).contains(version)``, and
:func:`parse_specifiers` with :func:`specifiers_contain` those of one
``Specifier``, as ``packaging.markers`` uses them for version comparisons.
"""

from __future__ import annotations

# The PEP 440 grammar (matched with _re_flags() against stripped strings):
# _VERSION is a version; _SPEC is one specifier clause, where each operator
# accepts its own subset (wildcards and local labels only with == and !=,
# at least two release numbers with ~=, anything without spaces with ===).
_RELEASE = r"v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*"
_PRE_POST_DEV = r"""
    (?:[._-]?(?:alpha|a|beta|b|preview|pre|c|rc)[._-]?[0-9]*)?
    (?:-[0-9]+|[._-]?(?:post|rev|r)[._-]?[0-9]*)?
    (?:[._-]?dev[._-]?[0-9]*)?
"""
_LOCAL = r"(?:\+[a-z0-9]+(?:[._-][a-z0-9]+)*)?"
_VERSION = r"""
    v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?:[._-]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[._-]?(?P<pre_n>[0-9]+)?)?
    (?:-(?P<post_n1>[0-9]+)|[._-]?(?P<post_l>post|rev|r)[._-]?(?P<post_n2>[0-9]+)?)?
    (?:[._-]?(?P<dev_l>dev)[._-]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[._-][a-z0-9]+)*))?
"""
_SPEC = (
    r"\s*(?:"
    r"===\s*[^\s;)]*"
    r"|(?:==|!=)\s*" + _RELEASE + r"(?:\.\*|" + _PRE_POST_DEV + _LOCAL + r")"
    r"|~=\s*v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)+"
    + _PRE_POST_DEV
    + r"|(?:<=|>=|<|>)\s*"
    + _RELEASE
    + _PRE_POST_DEV
    + r")\s*"
)
_PRE_NAMES = {"alpha": "a", "a": "a", "beta": "b", "b": "b", "c": "rc", "pre": "rc", "preview": "rc", "rc": "rc"}
_PRE_RANK = {"a": 0, "b": 1, "rc": 2}
_INF = float("inf")


class _Version:
    """A parsed PEP 440 version: its parts plus a total-order comparison key."""

    __slots__ = ("dev", "epoch", "key", "local", "post", "pre", "public", "release")

    def __init__(self, epoch, release, pre=None, post=None, dev=None, local=None):
        self.epoch, self.release, self.pre = epoch, release, pre
        self.post, self.dev, self.local = post, dev, local
        # Trailing zeros do not count: 3.8 == 3.8.0.
        trimmed = list(release)
        while len(trimmed) > 1 and trimmed[-1] == 0:
            trimmed.pop()
        if pre is None and post is None and dev is not None:
            pre_key = (-1, 0)  # 1.0.dev0 sorts before 1.0a0
        else:
            pre_key = (3, 0) if pre is None else (_PRE_RANK[pre[0]], pre[1])
        self.public = (
            epoch,
            tuple(trimmed),
            pre_key,
            -1 if post is None else post,
            _INF if dev is None else dev,
        )
        local_key = ()  # type: tuple[tuple[int, int, str], ...]
        if local is not None:
            local_key = tuple((1, p, "") if isinstance(p, int) else (0, 0, p) for p in local)
        self.key = (*self.public, local_key)

    @property
    def is_prerelease(self):
        return self.pre is not None or self.dev is not None

    def replace(self, **changes):
        parts = {"epoch": self.epoch, "release": self.release, "pre": self.pre}
        parts.update(post=self.post, dev=self.dev, local=None)
        parts.update(changes)
        return _Version(**parts)


def _re_flags():
    """Flags for the grammar above; ``re`` is imported only off the common paths (it costs ms)."""
    import re

    return re.VERBOSE | re.IGNORECASE | re.ASCII


def _is_plain_release(text):
    """True for "3", "3.11", "3.11.7": digits separated by single dots."""
    return all(part.isdigit() and part.isascii() for part in text.split("."))


def _parse_version(text):
    """Parse a PEP 440 version string; None when it is not one."""
    text = text.strip()
    if _is_plain_release(text):  # the common case, without the big regex
        return _Version(0, tuple(int(part) for part in text.split(".")))
    import re

    match = re.fullmatch(_VERSION, text, _re_flags())
    if not match:
        return None
    group = match.group
    pre = post = dev = local = None
    if group("pre_l"):
        pre = (_PRE_NAMES[group("pre_l").lower()], int(group("pre_n") or 0))
    if group("post_n1") or group("post_l"):
        post = int(group("post_n1") or group("post_n2") or 0)
    if group("dev_l"):
        dev = int(group("dev_n") or 0)
    if group("local"):
        local = tuple(int(p) if p.isdigit() else p for p in re.split(r"[._-]", group("local").lower()))
    release = tuple(int(p) for p in group("release").split("."))
    return _Version(int(group("epoch") or 0), release, pre, post, dev, local)


def _same_family(a, b):
    """True if a and b share epoch, release (zero padded) and pre-release."""
    return a.public[:3] == b.public[:3]


def parse_specifiers(specifiers):
    """Split and validate a specifier set into (operator, version text) pairs; ValueError if invalid."""
    clauses = []
    for item in specifiers.split(","):
        item = item.strip()
        if not item:
            continue
        if item.startswith("==="):
            op = "==="
        elif item[:2] in ("~=", "==", "!=", "<=", ">="):
            op = item[:2]
        else:
            op = item[:1]
        text = item[len(op) :].strip()
        # Fast path for the usual ">=3.8", "~=3.10", "==3.*" without the big regex.
        release = text[:-2] if op in ("==", "!=") and text.endswith(".*") else text
        plain = op in ("~=", "==", "!=", "<=", ">=", "<", ">") and _is_plain_release(release)
        if not (plain and (op != "~=" or "." in release)) and not _matches_spec(item):
            raise ValueError(
                "invalid version specifier {!r} in {!r}: expected an operator "
                "(==, !=, >=, <=, >, <, ~=, ===) followed by a PEP 440 version, "
                "e.g. '>=3.8'".format(item, specifiers)
            )
        clauses.append((op, text))
    return clauses


def _matches_spec(item):
    import re

    return re.fullmatch(_SPEC, item, _re_flags()) is not None


def _clause_matches(op, text, raw, version):
    """Evaluate one specifier clause for a version (``raw`` as given, parsed)."""
    if op == "===":
        return raw.lower() == text.lower()
    if version is None:
        return False
    if text.endswith(".*"):
        base = _parse_version(text[:-2])
        lower = base.replace(pre=None, post=None, dev=0)
        upper = _Version(base.epoch, (*base.release[:-1], base.release[-1] + 1), dev=0)
        inside = lower.key <= version.key < upper.key
        return inside if op == "==" else not inside
    spec = _parse_version(text)
    if op in ("==", "!="):
        # Without a local label in the specifier, local labels are ignored.
        equal = version.public == spec.public if spec.local is None else version.key == spec.key
        return equal if op == "==" else not equal
    if op == ">=":
        return version.key >= spec.key
    if op == "<=":
        return version.public <= spec.public
    if op == "~=":
        prefix = spec.release[:-1]
        upper = _Version(spec.epoch, (*prefix[:-1], prefix[-1] + 1), dev=0)
        return spec.key <= version.key < upper.key
    if op == "<":
        # <V excludes V's pre-releases unless V is one itself.
        bound = spec if spec.is_prerelease else spec.replace(dev=0)
        return version.key < bound.key
    # op == ">": >V excludes V's post-releases (and local versions of V).
    if spec.dev is not None:
        return version.key >= spec.replace(dev=spec.dev + 1).key
    if spec.post is not None:
        return version.key >= spec.replace(post=spec.post + 1, dev=0).key
    return version.key > spec.key and not _same_family(version, spec)


def specifiers_contain(clauses, version):
    """Whether the version string ``version`` satisfies every clause of :func:`parse_specifiers`.

    As packaging's ``contains(version, prereleases=True)``: a version that is
    not PEP 440 matches only ``===`` clauses.
    """
    parsed = _parse_version(version)
    return all(_clause_matches(op, text, version, parsed) for op, text in clauses)


def python_version_matches(specifiers: str, version: str) -> bool:
    """Whether ``version`` (e.g. ``"3.11.7"``) satisfies the PEP 440 set ``specifiers``.

    Pre-releases such as ``3.13.0rc1`` are treated like any other version (as
    ``SpecifierSet(specifiers, prereleases=True)`` does). A trailing ``+``, as
    in the ``platform.python_version()`` of interpreters built from a git
    checkout (``3.14.0a1+``), is ignored. An empty set matches every version.
    A version that is not PEP 440 matches only ``===`` clauses.
    Raises ValueError for an invalid specifier.
    """
    clauses = parse_specifiers(specifiers)
    if version.endswith("+") and _parse_version(version) is None:
        parsed = _parse_version(version[:-1])
        return all(_clause_matches(op, text, version, parsed) for op, text in clauses)
    return specifiers_contain(clauses, version)
