"""The date every zip entry gets, so that two builds of the same inputs give the same bytes.

``SOURCE_DATE_EPOCH`` (clamped to what a zip can hold) or 1980-01-01; the
writer (``_zipwrite``) normalises modes and the creating system itself.
"""

from __future__ import annotations

import os
import time

from ._errors import ExearchiveError

DateTime = tuple[int, int, int, int, int, int]

FIXED_DATE: DateTime = (1980, 1, 1, 0, 0, 0)
_MIN_EPOCH = 315532800  # 1980-01-01, the earliest date a zip can hold
_MAX_EPOCH = 4354819199  # 2107-12-31


def build_date(env: dict[str, str] | None = None) -> DateTime:
    """The date for every entry: ``SOURCE_DATE_EPOCH`` (clamped to zip's range) or a fixed one."""
    value = (env if env is not None else os.environ).get("SOURCE_DATE_EPOCH")
    if not value:
        return FIXED_DATE
    try:
        epoch = int(value)
    except ValueError:
        raise ExearchiveError(
            f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds; unset it or fix it"
        ) from None
    epoch = min(max(epoch, _MIN_EPOCH), _MAX_EPOCH)
    return time.gmtime(epoch)[:6]
