"""Reading values out of a seized database: columns whose types the app does not enforce.

SQLite stores any value in any column, and a damaged or hostile database does exactly that: text in a
number column, bytes that are not UTF-8, NaN in a date. These turn such values into `str | None` and
`int | None` without raising.
"""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, datetime
from typing import Any

__all__ = ["APPLE_EPOCH", "decode_text", "int_value", "sqlite_codec", "text_value"]

# Apple's reference date (Core Data, iMessage): iOS databases count seconds or nanoseconds from it.
APPLE_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)

_SQLITE_CODECS = {"UTF-8": "utf-8", "UTF-16le": "utf-16-le", "UTF-16be": "utf-16-be"}


def text_value(value: object) -> str | None:
    """Text (bytes decoded as UTF-8 with replacement); None for anything blank or not text."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str) and value.strip():
        return value
    return None


def int_value(value: object) -> int | None:
    """An integer, or a finite real cut to one; None otherwise."""
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return None


def sqlite_codec(db: sqlite3.Connection) -> str:
    """The Python codec of the database's text encoding (for text read as bytes)."""
    row = db.execute("PRAGMA encoding").fetchone()
    return _SQLITE_CODECS.get(str(row[0]) if row else "UTF-8", "utf-8")


def decode_text(value: Any, codec: str) -> str | None:
    """Text read as bytes (CAST … AS BLOB), so a bad byte spoils one value, not the whole read."""
    if value is None:
        return None
    text = value.decode(codec, "replace") if isinstance(value, bytes) else str(value)
    return text if text.strip() else None
