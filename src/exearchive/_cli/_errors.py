"""The command's errors: each becomes one line ``exearchive: error: ...`` and an exit status."""

from __future__ import annotations

from ..backend._errors import ExearchiveError


class UsageError(ExearchiveError):
    """Bad arguments: exit status 2."""


class CommandError(ExearchiveError):
    """A problem the user can fix (a missing project, a file that is not an archive, a failed build)."""
