"""Which SQLite files a scan keeps for artifact parsing, decided in the worker from the bytes alone.

A database is kept when a parser recognises its tables, when it has no tables yet (an app's database in
WAL mode may hold its whole schema in the `-wal` file until a checkpoint), or when it carries a chat
database's well-known name but cannot be read or has tables no parser knows: then it is kept with a
finding, so the examiner learns that a message database was not read. A `-wal` / `-journal` file is kept
whenever its name follows SQLite's rule (the database's name plus `-wal` / `-journal`), since the
database it belongs to may come later in an archive; unused ones are reported, never parsed alone.
Everything else (the hundreds of other app databases on a phone) is left as an ordinary file.

The schema is read from an in-memory image of the database (`sqlite3` deserialize): nothing is written
to disk in the worker.
"""

from __future__ import annotations

import re
import sqlite3

from himaya.analyzers.artifacts.database import DatabaseUnreadableError, read_schema, side_role
from himaya.analyzers.artifacts.interface import Schema
from himaya.analyzers.artifacts.manager import recognise
from himaya.analyzers.facts import ArtifactFacts

__all__ = [
    "KNOWN_DATABASES",
    "encrypted_backup_finding",
    "examine",
    "schema_in_memory",
    "side_role",
    "worth_holding",
]

# Well-known chat and contact database names (lower case) → what they hold. Used only to report a database
# that should have been read and was not; recognition is by tables and columns.
KNOWN_DATABASES: dict[str, str] = {
    "msgstore.db": "WhatsApp (Android) messages",
    "wa.db": "WhatsApp (Android) contacts",
    "chatstorage.sqlite": "WhatsApp (iOS) messages",
    "mmssms.db": "Android SMS/MMS",
    "sms.db": "iOS Messages (SMS/iMessage)",
    "contacts2.db": "Android contacts",
    "addressbook.sqlitedb": "iOS contacts",
    "cache4.db": "Telegram (Android)",
}

EMPTY_DATABASE_KEPT_BYTES = 1024 * 1024
# WhatsApp's encrypted backups on the phone's storage (WhatsApp/Databases/msgstore-2024-05-04.1.db.crypt15).
_ENCRYPTED_BACKUP = re.compile(r"^(msgstore|wa|chatsettings|stickers)(-[0-9-]+\.[0-9]+)?\.db\.crypt(\d+)$")


def encrypted_backup_finding(file_name: str) -> str | None:
    """What to do with an encrypted WhatsApp backup, which Himaya does not decrypt; None for other files."""
    found = _ENCRYPTED_BACKUP.match(file_name.lower())
    if found is None:
        return None
    return (
        f"encrypted WhatsApp backup (crypt{found.group(3)}): its messages were not read; decrypt it with the "
        "backup's 64-digit key or the phone's key file (WhatsApp's files/key, or encrypted_backup.key) and "
        "add the decrypted database to the case as evidence"
    )


def schema_in_memory(image: bytearray) -> Schema:
    """The tables and columns of a database image, read without touching the disk."""
    saved = bytes(image[18:20])
    # Header bytes 18-19 say "WAL mode" (2); an in-memory database has no log, so they are read as
    # rollback mode (1) for the look-up and restored afterwards (the bytes kept are the file's own).
    if saved == b"\x02\x02":
        image[18:20] = b"\x01\x01"
    db = sqlite3.connect(":memory:")
    try:
        db.deserialize(image)
        return read_schema(db)
    except sqlite3.DatabaseError as exc:
        raise DatabaseUnreadableError(f"the database cannot be read ({exc})") from None
    finally:
        db.close()
        image[18:20] = saved


def worth_holding(first: bytes, file_name: str, size: int | None) -> bool:
    """Whether a worker should hold a file whose first bytes (`first`, the first chunk read) are these.

    Decided before the rest is read, so that the large databases no parser reads (a phone's photo or
    browser databases) are never held in memory: their schema is read from the first chunk alone, which
    holds SQLite's schema table unless the database has very many tables; when it does not, the whole
    file is held and `examine` decides.
    """
    role = side_role(first[:16])
    if role is None:
        return False
    name = file_name.lower()
    if role != "database":
        return name.endswith(f"-{role}")
    if name in KNOWN_DATABASES or size is None or size <= len(first):
        return True
    prefix = bytearray(first)
    # The header's page count (offset 28) covers the whole file; SQLite reads a shorter image as corrupt
    # unless it is told the pages it has.
    raw = int.from_bytes(prefix[16:18], "big")
    page_size = 65536 if raw == 1 else raw
    if page_size < 512:
        return True  # not a page size SQLite writes: examined whole
    prefix[28:32] = (len(prefix) // page_size).to_bytes(4, "big")
    try:
        schema = schema_in_memory(prefix)
    except DatabaseUnreadableError:
        return True  # the schema reaches past the first chunk
    return not schema or bool(recognise(schema))


def examine(data: bytearray, file_name: str) -> ArtifactFacts | None:
    """What to keep of a file that starts like a SQLite database, log or journal; None: nothing."""
    role = side_role(bytes(data[:16]))
    name = file_name.lower()
    if role is None:
        return None
    if role != "database":
        return ArtifactFacts(role) if name.endswith(f"-{role}") else None
    known = KNOWN_DATABASES.get(name)
    try:
        schema = schema_in_memory(data)
    except DatabaseUnreadableError as exc:
        if known is None:
            return None
        return ArtifactFacts(
            role,
            finding=f"{known} database (by its name) that cannot be read: {exc}; it may be corrupt, "
            "truncated or encrypted — examine a copy with a SQLite recovery tool",
        )
    parsers = tuple(recognise(schema))
    if parsers:
        return ArtifactFacts(role, parsers)
    if not schema:
        return ArtifactFacts(role) if len(data) <= EMPTY_DATABASE_KEPT_BYTES or known else None
    if known is not None:
        return ArtifactFacts(
            role,
            finding=f"{known} database (by its name) whose tables no parser knows (an app version "
            "Himaya does not read yet?); its messages were not read — report it with the app's version",
        )
    return None
