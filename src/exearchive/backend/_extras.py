"""The project's extras: every requested one must be declared, or the archive would silently lack it.

pip only warns about an extra that a distribution does not provide and
installs without it, so ``extras = ["fecth"]`` would make an archive without
the dependencies of ``fetch``.  The declared extras come from the wheel's
``Provides-Extra`` (before resolution) or the staged distribution's metadata;
names compare normalised (PEP 685).
"""

from __future__ import annotations

import difflib
import email.parser
import zipfile
from collections.abc import Iterable
from pathlib import Path

from packaging.utils import canonicalize_name

from ._errors import ConfigError


def declared_in_wheel(wheel: Path) -> list[str]:
    """The ``Provides-Extra`` names of a wheel's metadata."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
        text = archive.read(name).decode("utf-8", errors="replace")
    return list(email.parser.HeaderParser().parsestr(text).get_all("Provides-Extra") or [])


def check(requested: Iterable[str], declared: Iterable[str], project: str, where: str) -> None:
    """A :class:`ConfigError` naming the declared extras and the likely one, for an undeclared request."""
    known: dict[str, str] = {canonicalize_name(extra): extra for extra in declared}
    for extra in requested:
        if canonicalize_name(extra) in known:
            continue
        if not known:
            raise ConfigError(f"{where}: {project} declares no extras, so it has no extra {extra!r}")
        names = sorted(known.values())
        close = difflib.get_close_matches(canonicalize_name(extra), list(known), n=1, cutoff=0.6)
        hint = f"; did you mean {known[close[0]]!r}?" if close else ""
        raise ConfigError(f"{where}: {project} has no extra {extra!r} (its extras: {', '.join(names)}){hint}")
