"""PEP 508 environment markers, evaluated with the standard library only.

A port of packaging 26.3: ``src/packaging/_tokenizer.py`` (the token rules),
``src/packaging/_parser.py`` (the recursive descent parser of marker
expressions) and ``src/packaging/markers.py`` (``Marker.evaluate`` in the
default ``"metadata"`` context).  Same answers, same errors:

* every operator: ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``~=``,
  ``===``, ``in``, ``not in``; ``and`` binds tighter than ``or``;
  parentheses; a quoted string on either side (``'3.8' < python_version``);
* the variables ``python_version``, ``python_full_version``,
  ``implementation_version`` and ``platform_release`` compare as PEP 440
  versions, through the specifier port in ``_versions`` (``op + right`` as one
  ``Specifier``, ``contains(left, prereleases=True)``), falling back to string
  comparison when that is no valid specifier, as packaging does (where ``<``
  and ``>`` are then false, ``<=`` and ``>=`` mean ``==``, and ``~=`` or
  ``===`` are errors); every other variable compares as a string;
* ``extra`` (and the set-valued ``extras`` and ``dependency_groups``): names
  normalized as PEP 685 says;
* every comparison is evaluated, even where the result is already known
  (so an error is an error wherever it stands).

Part of the launcher runtime that ships inside every ``.pyz``: CPython 3.8
and newer and PyPy 3; nothing is computed at import time, and it is imported
only by the compatibility check on the cold path.
"""

from __future__ import annotations

import re

from . import _versions

# Variables compared as versions (packaging's MARKERS_REQUIRING_VERSION) and
# those that hold sets (MARKERS_ALLOWING_SET).
_VERSION_VARIABLES = frozenset(("implementation_version", "platform_release", "python_full_version", "python_version"))
_SET_VARIABLES = frozenset(("extras", "dependency_groups"))

# The token rules of packaging's _tokenizer.DEFAULT_RULES that markers use.
_RULES = {
    "LEFT_PARENTHESIS": r"\(",
    "RIGHT_PARENTHESIS": r"\)",
    "QUOTED_STRING": r"""(('[^']*')|("[^"]*"))""",
    "OP": r"(===|==|~=|!=|<=|>=|<|>)",
    "BOOLOP": r"\b(or|and)\b",
    "IN": r"\bin\b",
    "NOT": r"\bnot\b",
    "VARIABLE": r"""
        \b(
            python_version
            |python_full_version
            |os[._]name
            |sys[._]platform
            |platform_(release|system)
            |platform[._](version|machine|python_implementation)
            |python_implementation
            |implementation_(name|version)
            |extras?
            |dependency_groups
        )\b
    """,
    "WS": r"[ \t]+",
    "END": r"\Z",
}


class InvalidMarker(ValueError):
    """The text is not a PEP 508 marker (packaging's ``InvalidMarker``)."""


class UndefinedComparison(ValueError):
    """A comparison that PEP 508 does not define (packaging's ``UndefinedComparison``)."""


class UndefinedEnvironmentName(KeyError):
    """The marker reads a variable the environment lacks (packaging's ``UndefinedEnvironmentName``)."""


class _Variable(str):
    """A marker variable's name, as a node of the parsed tree."""


class _Value(str):
    """A quoted string, as a node of the parsed tree."""


def canonicalize_name(name):
    """PEP 503 normalization, as packaging's ``utils.canonicalize_name``."""
    value = name.lower().replace("_", "-").replace(".", "-")
    while "--" in value:
        value = value.replace("--", "-")
    return value


class _Tokenizer:
    """Context-sensitive tokens, as packaging's ``_tokenizer.Tokenizer``."""

    def __init__(self, source):
        self.source = source
        self.position = 0
        self.token = None  # type: tuple[str, str] | None  # (name, text) of a token checked but not yet read

    def check(self, name, peek=False):
        match = re.compile(_RULES[name], re.VERBOSE).match(self.source, self.position)
        if match is None:
            return False
        if not peek:
            self.token = (name, match.group(0))
        return True

    def consume(self, name):
        if self.check(name):
            self.read()

    def expect(self, name, expected):
        if not self.check(name):
            self.fail("Expected " + expected)
        return self.read()

    def read(self):
        assert self.token is not None  # read() follows a check() that found one
        text = self.token[1]
        self.position += len(text)
        self.token = None
        return text

    def fail(self, message, start=None):
        start = self.position if start is None else start
        raise InvalidMarker("%s\n    %s\n    %s^" % (message, self.source, " " * start + "~" * (self.position - start)))


def parse(marker):
    """The parsed form of a marker: a list of ``(left, op, right)`` items, ``"and"``/``"or"`` and nested lists."""
    tokens = _Tokenizer(marker)
    result = _parse_marker(tokens)
    tokens.expect("END", "end of marker expression")
    return result


def _parse_marker(tokens):
    """marker = marker_atom (BOOLOP marker_atom)+"""
    expression = [_parse_atom(tokens)]
    while tokens.check("BOOLOP"):
        expression.append(tokens.read())
        expression.append(_parse_atom(tokens))
    return expression


def _parse_atom(tokens):
    """marker_atom = WS? LEFT_PARENTHESIS WS? marker WS? RIGHT_PARENTHESIS WS? | WS? marker_item WS?"""
    tokens.consume("WS")
    if tokens.check("LEFT_PARENTHESIS", peek=True):
        tokens.check("LEFT_PARENTHESIS")
        opened = tokens.position
        tokens.read()
        tokens.consume("WS")
        atom = _parse_marker(tokens)
        tokens.consume("WS")
        if not tokens.check("RIGHT_PARENTHESIS"):
            tokens.fail("Expected matching RIGHT_PARENTHESIS for LEFT_PARENTHESIS, after marker expression", opened)
        tokens.read()
    else:
        atom = _parse_item(tokens)
    tokens.consume("WS")
    return atom


def _parse_item(tokens):
    """marker_item = WS? marker_var WS? marker_op WS? marker_var WS?"""
    tokens.consume("WS")
    left = _parse_var(tokens)
    tokens.consume("WS")
    op = _parse_op(tokens)
    tokens.consume("WS")
    right = _parse_var(tokens)
    tokens.consume("WS")
    return _normalize_extra_names(left, op, right)


def _parse_var(tokens):
    """marker_var = VARIABLE | QUOTED_STRING"""
    if tokens.check("VARIABLE"):
        name = tokens.read().replace(".", "_")
        return _Variable("platform_python_implementation" if name == "python_implementation" else name)
    if tokens.check("QUOTED_STRING"):
        start = tokens.position
        return _Value(_unquote(tokens.read(), tokens, start))
    tokens.fail("Expected a marker variable or quoted string")
    return None  # not reached


def _unquote(text, tokens, start):
    """The value of a quoted string, as ``ast.literal_eval`` reads it (escapes and all)."""
    body = text[1:-1]
    if not any(c in body for c in "\\\r\n\x00"):
        return body  # what literal_eval gives, without importing ast
    import ast

    try:
        return str(ast.literal_eval(text))
    except (SyntaxError, ValueError):
        tokens.fail("Invalid quoted string", start)
        return None  # not reached


def _parse_op(tokens):
    """marker_op = IN | NOT IN | OP"""
    if tokens.check("IN"):
        tokens.read()
        return "in"
    if tokens.check("NOT"):
        tokens.read()
        tokens.expect("WS", "whitespace after 'not'")
        tokens.expect("IN", "'in' after 'not'")
        return "not in"
    if tokens.check("OP"):
        return tokens.read()
    tokens.fail("Expected marker operator, one of <=, <, !=, ==, >=, >, ~=, ===, in, not in")
    return None  # not reached


def _normalize_extra_names(left, op, right):
    """Extra names in the marker compare normalized (packaging's ``_normalize_extras``)."""
    if isinstance(left, _Variable) and left == "extra" and isinstance(right, _Value):
        right = _Value(canonicalize_name(right))
    elif isinstance(right, _Variable) and (right == "extra" or right in _SET_VARIABLES) and isinstance(left, _Value):
        left = _Value(canonicalize_name(left))
    return left, op, right


# --------------------------------------------------------------------------
# Evaluation


def evaluate(marker, environment):
    """Whether ``marker`` (text, or the result of :func:`parse`) holds in ``environment``.

    ``environment`` maps variable names to strings (``marker_environment()``
    of ``_compat``), plus ``extra`` when an extra is asked for; as packaging's
    ``Marker(marker).evaluate(environment)``, ``extra`` is ``""`` unless given.
    Raises InvalidMarker, UndefinedComparison or UndefinedEnvironmentName.
    """
    tree = parse(marker) if isinstance(marker, str) else marker
    env = {"extra": ""}
    env.update(environment)
    if env["extra"]:
        env["extra"] = canonicalize_name(env["extra"])
    else:
        env["extra"] = ""
    full = env.get("python_full_version")
    if isinstance(full, str) and full.endswith("+"):  # a build from a git checkout: "3.14.0a1+"
        env["python_full_version"] = full + "local"
    return _evaluate(tree, env)


def evaluate_known(marker, environment):
    """True or False when the variables in ``environment`` decide ``marker`` whatever the others hold, else None.

    Three-valued (Kleene) logic over the comparisons: one that reads a
    variable not in ``environment`` is unknown.  The build uses it with only
    ``extra`` known, to leave out markers that no interpreter can make true.
    """
    tree = parse(marker) if isinstance(marker, str) else marker
    env = dict(environment)
    if env.get("extra"):
        env["extra"] = canonicalize_name(env["extra"])
    return _evaluate(tree, env, _compare_known)


def _compare_known(item, env):
    """A comparison's result, or None when it reads a variable not in ``env``."""
    names = [str(side) for side in (item[0], item[2]) if isinstance(side, _Variable)]
    return _compare(item, env) if names and all(n in env for n in names) else None


def _evaluate(tree, env, compare=None):
    """``and`` over the items between ``or``s, ``or`` over those; every comparison is made (Kleene logic with None)."""
    groups = [[]]  # type: list[list[bool | None]]
    for item in tree:
        if isinstance(item, list):
            groups[-1].append(_evaluate(item, env, compare))
        elif isinstance(item, tuple):
            groups[-1].append((compare or _compare)(item, env))
        elif item == "or":
            groups.append([])
    values = [False if False in group else (True if all(group) else None) for group in groups]
    return True if True in values else (False if all(v is False for v in values) else None)


def _lookup(env, key):
    try:
        return env[key]
    except KeyError:
        raise UndefinedEnvironmentName(key) from None


def _compare(item, env):
    left, op, right = item
    if isinstance(left, _Variable):
        key = str(left)
        left, right = _lookup(env, key), str(right)
    else:
        key = str(right)
        left, right = str(left), _lookup(env, key)
    if not isinstance(left, str):
        raise UndefinedComparison(
            "Set-valued marker %r can only be used with the membership form "
            '(e.g. "<name>" in %s); it cannot appear on the left-hand side of %r.' % (key, key, op)
        )
    if key in _SET_VARIABLES:
        left = canonicalize_name(left)
        right = canonicalize_name(right) if isinstance(right, str) else {canonicalize_name(v) for v in right}
    if key in _VERSION_VARIABLES:
        specifier = op + right
        try:
            clauses = None if "," in specifier else _versions.parse_specifiers(specifier)
        except ValueError:
            clauses = None
        if clauses:
            return _versions.specifiers_contain(clauses, left)
    if op == "in":
        return left in right
    if op == "not in":
        return left not in right
    if op in ("==", "<=", ">="):
        return left == right
    if op == "!=":
        return left != right
    if op in ("<", ">"):
        return False
    raise UndefinedComparison("Undefined %r on %r and %r." % (op, left, right))
