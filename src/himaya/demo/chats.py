"""A small WhatsApp for Android message database for the demo phone folder (benign, made-up people).

Only the tables and columns the WhatsApp parser needs, in WhatsApp's own names and types (the tests use
the full current layout: tests/builders/chats/whatsapp_android.py). Written with journal mode off, no
`-wal`: a log's salts are random, and the demo's golden export needs the same bytes every run.
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SCHEMA = """
CREATE TABLE jid (_id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, server TEXT NOT NULL,
    agent INTEGER, device INTEGER, type INTEGER, raw_string TEXT);
CREATE TABLE chat (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid_row_id INTEGER UNIQUE, hidden INTEGER,
    subject TEXT, created_timestamp INTEGER);
CREATE TABLE message (_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_row_id INTEGER NOT NULL,
    from_me INTEGER NOT NULL, key_id TEXT NOT NULL, sender_jid_row_id INTEGER, status INTEGER,
    timestamp INTEGER, received_timestamp INTEGER, message_type INTEGER, text_data TEXT);
CREATE TABLE message_media (message_row_id INTEGER PRIMARY KEY, chat_row_id INTEGER, file_path TEXT,
    file_size INTEGER, mime_type TEXT, file_hash TEXT, media_name TEXT, media_caption TEXT);
CREATE TABLE message_forwarded (message_row_id INTEGER PRIMARY KEY, forward_score INTEGER);
"""

FRIEND = "962790000101@s.whatsapp.net"
FRIEND_NAME = "Nadia (TEST)"


@dataclass(frozen=True)
class DemoMessage:
    at: datetime
    from_me: bool
    text: str | None
    media_path: str | None = None
    media: bytes | None = None  # the picture's bytes (its SHA-256 is what WhatsApp records)
    forwarded: bool = False


def _ms(at: datetime) -> int:
    return int(at.astimezone(UTC).timestamp() * 1000)


def msgstore(messages: list[DemoMessage]) -> bytes:
    """The database's bytes: one direct chat with FRIEND."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "msgstore.db"
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode = OFF")
            db.executescript(SCHEMA)
            db.execute("BEGIN")
            db.execute(
                "INSERT INTO jid VALUES (501, '962790000101', 's.whatsapp.net', 0, 0, 0, ?)", (FRIEND,)
            )
            db.execute("INSERT INTO chat VALUES (701, 501, 0, NULL, 0)")
            for number, message in enumerate(messages, 1001):
                db.execute(
                    "INSERT INTO message VALUES (?, 701, ?, ?, 0, 13, ?, ?, ?, ?)",
                    (
                        number,
                        int(message.from_me),
                        f"3EB0DEMO{number:08d}",
                        _ms(message.at),
                        _ms(message.at),
                        1 if message.media_path else 0,
                        message.text,
                    ),
                )
                if message.media_path and message.media is not None:
                    digest = base64.b64encode(hashlib.sha256(message.media).digest()).decode("ascii")
                    db.execute(
                        "INSERT INTO message_media VALUES (?, 701, ?, ?, 'image/jpeg', ?, NULL, NULL)",
                        (number, message.media_path, len(message.media), digest),
                    )
                if message.forwarded:
                    db.execute("INSERT INTO message_forwarded VALUES (?, 5)", (number,))
            db.execute("COMMIT")
        finally:
            db.close()
        return path.read_bytes()


def wa_db() -> bytes:
    """WhatsApp's contact database: the friend as the phone's address book names them."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "wa.db"
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode = OFF")
            db.execute(
                "CREATE TABLE wa_contacts (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid TEXT NOT NULL, "
                "is_whatsapp_user BOOLEAN NOT NULL, status TEXT, number TEXT, raw_contact_id INTEGER, "
                "display_name TEXT, given_name TEXT, family_name TEXT, wa_name TEXT)"
            )
            db.execute(
                "INSERT INTO wa_contacts VALUES "
                "(301, ?, 1, NULL, '+962 79 000 0101', 41, ?, 'Nadia', NULL, NULL)",
                (FRIEND, FRIEND_NAME),
            )
        finally:
            db.close()
        return path.read_bytes()
