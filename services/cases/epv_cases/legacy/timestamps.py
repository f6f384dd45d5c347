"""Reading the old app's timestamps (JS ``Date`` values serialised by ``toISOString``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def normalize_timestamp(value: Any) -> str | None:
    """An ISO 8601 date-time in UTC (``2024-03-02T10:15:07.412Z``), or ``None`` if unusable.

    A value with an offset is converted to UTC; one without (or a bare date) is taken as UTC,
    which is what ``toISOString`` always wrote. Milliseconds are kept as milliseconds, so a
    JS timestamp comes back exactly as it was written.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # not ISO 8601, or out of range once in UTC
        return None
    spec = "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")
