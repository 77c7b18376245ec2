"""What artifact parsers read (a database's schema and rows) and what they yield (messages, identities).

A parser is a class with a `NAME` users see (`whatsapp-android`), a one-line `DESCRIPTION`, the `APP`
its messages come from, `recognise(schema)` (tables and columns, never the file name) and `parse(db,
schema)`, which yields `ChatMessage` and `Identity` records as it reads. Parsers never touch the case
store and never write to the database they read (it is a private copy, opened `query_only`).

Identifiers are written the way the app writes them (a WhatsApp JID `962790000001@s.whatsapp.net`, an SMS
address `+962 79 000 0001`, a Telegram user id `123456789`); `himaya.analyzers.artifacts.people` turns
them into merge keys. A sent message whose database does not name the phone's owner has `sender=None`;
a received direct message has no `recipients` (the owner is implied).
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal

__all__ = [
    "ArtifactParser",
    "ChatMessage",
    "ChatType",
    "Direction",
    "Identity",
    "MediaRef",
    "Record",
    "Schema",
    "has_columns",
]

# Table name (lower case) → its column names (lower case).
Schema = Mapping[str, frozenset[str]]

ChatType = Literal["direct", "group"]
Direction = Literal["sent", "received"]


def has_columns(schema: Schema, table: str, *columns: str) -> bool:
    """True when `table` exists and has every one of `columns` (names compared in lower case)."""
    found = schema.get(table.lower())
    return found is not None and all(column.lower() in found for column in columns)


@dataclass(frozen=True)
class MediaRef:
    """The media a message carried, as the app recorded it; the file itself may be gone."""

    path: str | None = None  # as stored by the app: relative ("Media/WhatsApp Images/x.jpg") or absolute
    sha256: str | None = None  # 64 lower-case hex characters (WhatsApp's base64 decoded)
    mime: str | None = None
    size: int | None = None
    name: str | None = None  # the original file name, where the app keeps one


@dataclass(frozen=True)
class ChatMessage:
    """One message: who sent it to whom, when, in which chat, with what text and media."""

    app: str  # "whatsapp" | "sms" | "mms" | "imessage" | "telegram"
    source_row: str  # the row it came from, unique within the database ("message:1234", "part:17")
    chat: str  # the chat as the app identifies it: a JID, a thread id, a dialog id
    chat_type: ChatType
    direction: Direction
    sender: str | None  # identifier; None on a sent message when the database does not name the owner
    recipients: tuple[str, ...] = ()
    time_utc: datetime | None = None  # timezone-aware, UTC
    text: str | None = None  # the message text, else the media caption (apps keep it in either place)
    media: MediaRef | None = None
    forwarded: bool = False
    chat_name: str | None = None  # a group's subject, a contact's name as the chat list shows it


@dataclass(frozen=True)
class Identity:
    """An account or identifier a database names, with the name it gives it.

    `card` groups the identifiers of one address-book card (or one app account) within the database:
    identifiers sharing a card are one person.
    """

    kind: str  # "phone" | "email" | "whatsapp" | "telegram" | ...
    value: str  # as the database writes it
    name: str | None = None
    card: str | None = None
    source: str = ""  # which parser / table said so ("contacts-android"), for the person's record


Record = ChatMessage | Identity


class ArtifactParser(ABC):
    """One app's database layout. Subclasses set the class attributes and implement both methods."""

    NAME: ClassVar[str]
    DESCRIPTION: ClassVar[str]
    APP: ClassVar[str]
    # Tables whose rows are (about) one message each: counted first, for the progress display's ETA.
    MESSAGE_TABLES: ClassVar[tuple[str, ...]] = ()

    @classmethod
    @abstractmethod
    def recognise(cls, schema: Schema) -> bool:
        """Whether this database has the tables and columns this parser reads."""

    @abstractmethod
    def parse(self, db: sqlite3.Connection, schema: Schema) -> Iterator[Record]:
        """Messages and identities, streamed. Rows that cannot be read are skipped, never fatal; a
        database that cannot be read at all raises `sqlite3.DatabaseError`."""
