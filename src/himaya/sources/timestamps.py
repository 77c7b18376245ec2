"""Times as sources report them: seconds since the epoch, turned into timezone-aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_from_timestamp(seconds: float | None) -> datetime | None:
    """None for a missing time, and for an absurd one (hostile archive, damaged file system)."""
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
