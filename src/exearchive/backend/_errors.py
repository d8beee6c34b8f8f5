"""Errors and warnings of the build side.

Every problem the user can fix is an :class:`ExearchiveError` whose message is
one line naming the problem and the fix; the hooks and the command turn it
into that line and a non-zero exit, never a traceback.
"""

from __future__ import annotations


class ExearchiveError(Exception):
    """A build problem reported to the user as one line."""


class ConfigError(ExearchiveError):
    """A ``[tool.exearchive]`` key or ``-C exearchive.<key>`` value is wrong."""


class ResolutionError(ExearchiveError):
    """The dependencies could not be resolved to wheels."""


class StagingError(ExearchiveError):
    """A wheel could not be staged (bad RECORD, collision, unsafe path)."""


class ExearchiveWarning(UserWarning):
    """Something the user should know about that does not stop the build."""
