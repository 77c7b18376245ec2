"""The registry of artifact parsers: which parsers recognise a database, and parsing it with them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from himaya.analyzers.artifacts.contacts_android import ContactsAndroid
from himaya.analyzers.artifacts.contacts_ios import ContactsIos
from himaya.analyzers.artifacts.database import (
    DatabaseFiles,
    DatabaseUnreadableError,
    open_private_copy,
    read_schema,
)
from himaya.analyzers.artifacts.interface import ArtifactParser, Record, Schema
from himaya.analyzers.artifacts.sms_android import SmsAndroid
from himaya.analyzers.artifacts.sms_ios import SmsIos
from himaya.analyzers.artifacts.telegram_android import TelegramAndroid
from himaya.analyzers.artifacts.whatsapp_android import (
    WhatsAppAndroid,
    WhatsAppAndroidLegacy,
    WhatsAppContactsAndroid,
)
from himaya.analyzers.artifacts.whatsapp_ios import WhatsAppIos

__all__ = [
    "PARSERS",
    "ParsedDatabase",
    "count_messages",
    "iter_records",
    "parse_files",
    "parser_named",
    "recognise",
]

# Every parser, in the order their records are read when several recognise one database.
PARSERS: tuple[type[ArtifactParser], ...] = (
    WhatsAppAndroid,
    WhatsAppAndroidLegacy,
    WhatsAppContactsAndroid,
    TelegramAndroid,
    SmsAndroid,
    ContactsAndroid,
    WhatsAppIos,
    SmsIos,
    ContactsIos,
)


def recognise(schema: Schema) -> list[str]:
    """Names of the parsers that read a database with this schema."""
    return [parser.NAME for parser in PARSERS if parser.recognise(schema)]


def parser_named(name: str) -> type[ArtifactParser]:
    for parser in PARSERS:
        if name == parser.NAME:
            return parser
    raise KeyError(name)


@dataclass
class ParsedDatabase:
    parsers: list[str]
    records: list[Record]


def count_messages(db: sqlite3.Connection, schema: Schema, names: list[str]) -> int | None:
    """About how many messages these parsers will read (their message tables' rows); None if unknown."""
    tables = {table for name in names for table in parser_named(name).MESSAGE_TABLES if table in schema}
    if not tables:
        return None
    try:
        return sum(int(db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]) for table in tables)  # noqa: S608
    except sqlite3.DatabaseError:
        return None


def iter_records(db: sqlite3.Connection, schema: Schema, names: list[str]) -> Iterator[tuple[str, Record]]:
    for name in names:
        parser = parser_named(name)()
        for record in parser.parse(db, schema):
            yield name, record


def parse_files(files: DatabaseFiles | Path, *, temp_dir: str | Path | None = None) -> ParsedDatabase:
    """Every record of a database (all in memory: for tests and small databases)."""
    if isinstance(files, Path):
        wal, journal = Path(f"{files}-wal"), Path(f"{files}-journal")
        files = DatabaseFiles(
            main=files, wal=wal if wal.exists() else None, journal=journal if journal.exists() else None
        )
    with open_private_copy(files, temp_dir=temp_dir) as db:
        schema = read_schema(db)
        names = recognise(schema)
        try:
            records = [record for _, record in iter_records(db, schema, names)]
        except sqlite3.DatabaseError as exc:
            raise DatabaseUnreadableError(
                f"the database could not be read to the end ({exc}); it may be corrupt — examine a copy "
                "with a SQLite recovery tool"
            ) from None
    return ParsedDatabase(names, records)
