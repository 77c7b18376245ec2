"""A seized SQLite database, opened from a private copy with its `-wal` / `-journal` files applied.

SQLite applies a write-ahead log (or rolls back a hot journal) when a database is opened, which writes to
the files: done on the evidence itself it would change it, and the newest messages often live only in the
`-wal` file. So the bytes are copied into a private temporary folder (mode 0700, removed on exit), opened
there, and the connection is made `query_only` once SQLite has recovered it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from himaya.analyzers.artifacts.interface import Schema
from himaya.errors import HimayaError

__all__ = [
    "SQLITE_HEADER",
    "DatabaseFiles",
    "DatabaseUnreadableError",
    "is_journal",
    "is_sqlite",
    "is_wal",
    "open_private_copy",
    "read_schema",
    "side_role",
]

SQLITE_HEADER = b"SQLite format 3\x00"
_WAL_MAGICS = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")
_JOURNAL_MAGIC = b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7"


def is_sqlite(head: bytes) -> bool:
    return head.startswith(SQLITE_HEADER)


def is_wal(head: bytes) -> bool:
    return head[:4] in _WAL_MAGICS


def is_journal(head: bytes) -> bool:
    return head.startswith(_JOURNAL_MAGIC)


def side_role(head: bytes) -> str | None:
    """ "database", "wal" or "journal" by the file's first bytes; None for anything else."""
    if is_sqlite(head):
        return "database"
    if is_wal(head):
        return "wal"
    if is_journal(head):
        return "journal"
    return None


class DatabaseUnreadableError(HimayaError):
    """A database that cannot be opened or read: corrupt, encrypted, truncated."""


Source = bytes | Path


@dataclass(frozen=True)
class DatabaseFiles:
    """A database's bytes (or a path to them) and those of its write-ahead log or rollback journal."""

    main: Source
    wal: Source | None = None
    journal: Source | None = None


def _place(source: Source, target: Path) -> None:
    if isinstance(source, Path):
        shutil.copyfile(source, target)
    else:
        target.write_bytes(source)
    os.chmod(target, 0o600)


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


@contextlib.contextmanager
def open_private_copy(
    files: DatabaseFiles, *, temp_dir: str | Path | None = None
) -> Iterator[sqlite3.Connection]:
    """A read-only connection to a private copy of `files`; the copy is deleted when the block ends.

    Raises `DatabaseUnreadableError` (with what to do next) when SQLite cannot read the copy.
    """
    folder = Path(tempfile.mkdtemp(prefix="himaya-db-", dir=temp_dir))
    connection: sqlite3.Connection | None = None
    try:
        os.chmod(folder, 0o700)
        target = folder / "artifact.db"
        _place(files.main, target)
        if files.wal is not None:
            _place(files.wal, folder / "artifact.db-wal")
        if files.journal is not None:
            _place(files.journal, folder / "artifact.db-journal")
        try:
            connection = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
            # Text that is not valid UTF-8 (a damaged page, an app's own encoding) would stop a whole
            # read at that row; it is read with replacement characters instead.
            connection.text_factory = _lenient_text
            # The first read recovers the copy: the log's committed frames are applied, a hot journal
            # rolled back. Only then is the connection made read-only.
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            connection.execute("PRAGMA query_only = ON")
        except sqlite3.DatabaseError as exc:
            raise DatabaseUnreadableError(
                f"the database cannot be read ({exc}); it may be corrupt, truncated or encrypted — "
                "examine a copy with a SQLite recovery tool"
            ) from None
        yield connection
    finally:
        if connection is not None:
            connection.close()
        shutil.rmtree(folder, ignore_errors=True)


def read_schema(db: sqlite3.Connection) -> Schema:
    """Every table's and view's columns, names in lower case."""
    try:
        names = [
            row[0]
            for row in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
            if isinstance(row[0], str)
        ]
        schema: dict[str, frozenset[str]] = {}
        for name in names:
            quoted = '"' + name.replace('"', '""') + '"'
            columns = frozenset(str(row[1]).lower() for row in db.execute(f"PRAGMA table_info({quoted})"))
            schema[name.lower()] = columns
    except sqlite3.DatabaseError as exc:
        raise DatabaseUnreadableError(
            f"the database's schema cannot be read ({exc}); it may be corrupt — examine a copy with a "
            "SQLite recovery tool"
        ) from None
    return schema
