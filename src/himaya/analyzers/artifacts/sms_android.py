"""Android's SMS and MMS store, `mmssms.db` of com.android.providers.telephony, read into messages.

The database sits in `data/user_de/0/com.android.providers.telephony/databases/` from Android 7 on (in
`data/data/…` before); it is recognised by its tables and columns alone: `sms`, `threads` and
`canonical_addresses` as AOSP writes them (Signal's own `sms` table has a `thread` table instead).

SMS rows carry the address of the other party and a time in milliseconds since 1970. MMS messages are
spread over `pdu` (one row a message, time in *seconds* since 1970), `addr` (from 137 / to 151 / cc 130 /
bcc 129) and `part` (a SMIL layout, text parts and attachment files under `app_parts/`); they are read by
walking the three tables in id order side by side, so no per-message query is made. A thread's people
come from `threads.recipient_ids`, ids of `canonical_addresses`; more than one makes it a group.

Limits:
- Drafts (SMS type 3, MMS box 3) are skipped: `ChatMessage` has no flag to tell a draft from a message
  that left the phone, and presenting one as sent would be wrong. Rows of an unknown type or box are
  skipped for the same reason, and so are MMS delivery and read reports (not messages).
- An MMS with attachments gives one message per attachment (`pdu:<id>:part:<id>`), the text on the first
  only; a text-only MMS is one message (`pdu:<id>`). The SMIL layout is ignored. Every part kept as a
  file is an attachment: pictures, video and audio, but also vCards and documents. Paths are as stored
  in `part._data`; the database keeps no digest or size of them.
- The MMS subject is the text only when the message has no text part (an MMS not yet downloaded).
- The database names no one: it yields no `Identity` (names come from the contacts database).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from himaya.analyzers.artifacts.interface import (
    ArtifactParser,
    ChatMessage,
    ChatType,
    Direction,
    MediaRef,
    Record,
    Schema,
    has_columns,
)
from himaya.analyzers.artifacts.values import decode_text, sqlite_codec

__all__ = ["SmsAndroid"]

Row = tuple[Any, ...]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)  # sms.date
_SECOND = timedelta(seconds=1)  # pdu.date

# Telephony.TextBasedSmsColumns.MESSAGE_TYPE_*: 1 inbox; 2 sent, 4 outbox, 5 failed, 6 queued; 3 draft.
_SMS_DIRECTIONS: dict[int, Direction] = {1: "received", 2: "sent", 4: "sent", 5: "sent", 6: "sent"}
# Telephony.BaseMmsColumns.MESSAGE_BOX_*: 1 inbox; 2 sent, 4 outbox, 5 failed; 3 drafts.
_MMS_DIRECTIONS: dict[int, Direction] = {1: "received", 2: "sent", 4: "sent", 5: "sent"}
# PduHeaders message types that are reports about a message, not messages (the conversation view
# shows only 128 send-req, 130 notification-ind and 132 retrieve-conf).
_MMS_REPORTS = frozenset({129, 131, 133, 134, 135, 136})
_ADDR_FROM = 137
_ADDR_TO = frozenset({151, 130, 129})
# What an MMS sent from this phone has as its "from" address: the network fills in the real one.
_OWNER_TOKEN = "insert-address-token"  # noqa: S105 - an address, not a password
# Parts kept in the `text` column rather than in a file; only text/plain is the message's text.
_TEXT_TYPE = "text/plain"
_LAYOUT_TYPE = "application/smil"
# WAP MIBenum → codec, for `pdu.sub`, which PduPersister stores byte for byte as ISO-8859-1 characters.
_MIB_CODECS = {3: "ascii", 4: "latin-1", 106: "utf-8", 1013: "utf-16-be", 1014: "utf-16-le", 1015: "utf-16"}


class SmsAndroid(ArtifactParser):
    NAME = "sms-android"
    DESCRIPTION = "Android SMS and MMS (com.android.providers.telephony mmssms.db)"
    APP = "sms"
    MESSAGE_TABLES = ("sms", "pdu")
    MMS_APP = "mms"

    @classmethod
    def recognise(cls, schema: Schema) -> bool:
        return (
            has_columns(schema, "sms", "_id", "thread_id", "address", "date", "type", "body")
            and has_columns(schema, "threads", "_id", "recipient_ids")
            and has_columns(schema, "canonical_addresses", "_id", "address")
        )

    def parse(self, db: sqlite3.Connection, schema: Schema) -> Iterator[Record]:
        codec = sqlite_codec(db)
        threads = _threads(db, codec)
        query = (
            f"SELECT _id, {_number('thread_id')}, CAST(address AS BLOB), {_number('date')}, "  # noqa: S608
            f"{_number('type')}, CAST(body AS BLOB) FROM sms"
        )
        for row in db.execute(query):
            try:
                message = self._sms(row, threads, codec)
            except (TypeError, ValueError, OverflowError):
                continue
            if message is not None:
                yield message
        if _has_mms(schema):
            yield from self._mms_messages(db, schema, threads, codec)

    def _sms(self, row: Row, threads: dict[int, tuple[str, ...]], codec: str) -> ChatMessage | None:
        row_id, thread_id, address_raw, date, kind, body = row
        direction = _SMS_DIRECTIONS.get(_integer(kind) or 0)
        if direction is None:
            return None
        address = decode_text(address_raw, codec)
        chat, chat_type, members = _chat(thread_id, threads, [address] if address else [])
        if direction == "received":
            sender = address or (members[0] if len(members) == 1 else None)
            recipients = _others(members, sender) if chat_type == "group" else ()
        else:
            # An SMS goes to one number: a message to several is stored once per number, each row
            # with its own address, in the thread of all of them.
            sender = None
            recipients = (address,) if address else members
        return ChatMessage(
            app=self.APP,
            source_row=f"sms:{row_id}",
            chat=chat,
            chat_type=chat_type,
            direction=direction,
            sender=sender,
            recipients=recipients,
            time_utc=_time(date, _MILLISECOND),
            text=decode_text(body, codec),
            chat_name=", ".join(members) or None,
        )

    def _mms_messages(
        self, db: sqlite3.Connection, schema: Schema, threads: dict[int, tuple[str, ...]], codec: str
    ) -> Iterator[ChatMessage]:
        def pdu_number(name: str) -> str:
            return _number(name) if has_columns(schema, "pdu", name) else "NULL"

        def text_of(name: str, table: str = "part") -> str:
            return f"CAST({name} AS BLOB)" if has_columns(schema, table, name) else "NULL"

        seq = "seq, " if has_columns(schema, "part", "seq") else ""
        pdus = db.execute(
            f"SELECT _id, {_number('thread_id')}, {_number('date')}, {_number('msg_box')}, "  # noqa: S608
            f"{pdu_number('m_type')}, {text_of('sub', 'pdu')}, {pdu_number('sub_cs')} FROM pdu ORDER BY _id"
        )
        # Only integer keys: SQLite orders text after numbers, which would break the walk in id order.
        addrs = _Grouped(
            db.execute(
                f"SELECT msg_id, {_number('type')}, CAST(address AS BLOB) FROM addr "  # noqa: S608
                "WHERE typeof(msg_id) = 'integer' ORDER BY msg_id, _id"
            )
        )
        parts = _Grouped(
            db.execute(
                f"SELECT mid, _id, CAST(ct AS BLOB), CAST(text AS BLOB), CAST(_data AS BLOB), "  # noqa: S608
                f"{text_of('cl')}, {text_of('name')}, {text_of('fn')} FROM part "
                f"WHERE typeof(mid) = 'integer' ORDER BY mid, {seq}_id"
            )
        )
        for pdu in pdus:
            pdu_id = pdu[0]
            if not isinstance(pdu_id, int):
                continue
            try:
                yield from self._mms(pdu, addrs.take(pdu_id), parts.take(pdu_id), threads, codec)
            except (TypeError, ValueError, OverflowError):
                continue

    def _mms(
        self,
        pdu: Row,
        addrs: list[Row],
        parts: list[Row],
        threads: dict[int, tuple[str, ...]],
        codec: str,
    ) -> list[ChatMessage]:
        pdu_id, thread_id, date, box, m_type, subject, subject_charset = pdu
        direction = _MMS_DIRECTIONS.get(_integer(box) or 0)
        if direction is None or _integer(m_type) in _MMS_REPORTS:
            return []
        sender: str | None = None
        to: list[str] = []
        for _, kind, address_raw in addrs:
            address = decode_text(address_raw, codec)
            if not address or address == _OWNER_TOKEN:
                continue
            kind_number = _integer(kind)
            if kind_number == _ADDR_FROM:
                sender = sender or address
            elif kind_number in _ADDR_TO and address not in to:
                to.append(address)
        people = ([sender] if sender else []) + to
        chat, chat_type, members = _chat(thread_id, threads, people)
        if direction == "received":
            sender = sender or (members[0] if len(members) == 1 else None)
            recipients = (_others(to, sender) or _others(members, sender)) if chat_type == "group" else ()
        else:
            # `sender` stays None unless the row names the owner's own number instead of the token.
            recipients = tuple(to) or members
        texts: list[str] = []
        media: list[tuple[Any, MediaRef]] = []
        for part in parts:
            item = _part(part, codec)
            if isinstance(item, MediaRef):
                media.append((part[1], item))
            elif item is not None:
                texts.append(item)
        text = "\n".join(texts) or _subject(subject, subject_charset, codec)

        def message(source_row: str, text: str | None, ref: MediaRef | None) -> ChatMessage:
            return ChatMessage(
                app=self.MMS_APP,
                source_row=source_row,
                chat=chat,
                chat_type=chat_type,
                direction=direction,
                sender=sender,
                recipients=recipients,
                time_utc=_time(date, _SECOND),
                text=text,
                media=ref,
                chat_name=", ".join(members) or None,
            )

        if not media:
            return [message(f"pdu:{pdu_id}", text, None)]
        return [
            message(f"pdu:{pdu_id}:part:{part_id}", text if index == 0 else None, ref)
            for index, (part_id, ref) in enumerate(media)
        ]


def _part(part: Row, codec: str) -> str | MediaRef | None:
    """A `part` row's text, its attachment, or None for the layout and empty or unknown text parts."""
    _, _, ct_raw, text_raw, data_raw, location, name, file_name = part
    content_type = decode_text(ct_raw, codec)
    lowered = (content_type or "").strip().lower()
    path = decode_text(data_raw, codec)
    if lowered == _LAYOUT_TYPE:
        return None
    if path is None and lowered in (_TEXT_TYPE, ""):
        return decode_text(text_raw, codec)
    if path is None and lowered.startswith("text/"):
        return None
    # Everything else was kept as a file: pictures, video, audio, but also vCards and documents.
    label = decode_text(location, codec) or decode_text(name, codec) or decode_text(file_name, codec)
    return MediaRef(path=path, sha256=None, mime=content_type, size=None, name=label)


def _subject(value: Any, charset: Any, codec: str) -> str | None:
    subject = decode_text(value, codec)
    if not subject:
        return None
    number = _integer(charset)
    target = _MIB_CODECS.get(number if number is not None else 106)
    if target is None:
        return subject
    try:
        return subject.encode("latin-1").decode(target)
    except (UnicodeEncodeError, UnicodeDecodeError):
        # Characters above U+00FF: a writer that stored the subject already decoded.
        return subject


def _has_mms(schema: Schema) -> bool:
    return (
        has_columns(schema, "pdu", "_id", "thread_id", "date", "msg_box")
        and has_columns(schema, "addr", "_id", "msg_id", "address", "type")
        and has_columns(schema, "part", "_id", "mid", "ct", "text", "_data")
    )


class _Grouped:
    """The rows of a cursor ordered by an integer first column, handed out one key at a time."""

    def __init__(self, rows: Iterator[Row]) -> None:
        self._rows = rows
        self._next: Row | None = next(rows, None)

    def take(self, key: int) -> list[Row]:
        """The rows whose first column is `key`; keys must be asked for in increasing order."""
        while self._next is not None and self._next[0] < key:
            self._next = next(self._rows, None)
        found: list[Row] = []
        while self._next is not None and self._next[0] == key:
            found.append(self._next)
            self._next = next(self._rows, None)
        return found


def _threads(db: sqlite3.Connection, codec: str) -> dict[int, tuple[str, ...]]:
    addresses: dict[int, str] = {}
    for address_id, address_raw in db.execute("SELECT _id, CAST(address AS BLOB) FROM canonical_addresses"):
        address = decode_text(address_raw, codec)
        if isinstance(address_id, int) and address and address != _OWNER_TOKEN:
            addresses[address_id] = address
    threads: dict[int, tuple[str, ...]] = {}
    for thread_id, ids_raw in db.execute("SELECT _id, CAST(recipient_ids AS BLOB) FROM threads"):
        if not isinstance(thread_id, int):
            continue
        members: list[str] = []
        for token in (decode_text(ids_raw, codec) or "").split():
            number = _integer(token)
            address = addresses.get(number) if number is not None else None
            if address is not None and address not in members:
                members.append(address)
        threads[thread_id] = tuple(members)
    return threads


def _chat(
    thread_id: Any, threads: dict[int, tuple[str, ...]], people: Sequence[str]
) -> tuple[str, ChatType, tuple[str, ...]]:
    """The chat id, its type and its members (the owner aside), from the thread or else the row."""
    number = _integer(thread_id)
    members = threads.get(number) if number is not None else None
    if members is None or not members:
        members = tuple(dict.fromkeys(people))
    chat = f"thread:{number}" if number is not None else f"address:{members[0] if members else ''}"
    return chat, ("group" if len(members) > 1 else "direct"), members


def _number(column: str) -> str:
    """A number column's value, NULL when it holds text: SQLite fails on text that is not valid UTF-8."""
    return f"(CASE WHEN typeof({column}) IN ('integer', 'real') THEN {column} END)"


def _others(people: Sequence[str], sender: str | None) -> tuple[str, ...]:
    return tuple(person for person in people if person != sender)


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    # ASCII digits only: Python's int() would also take "١٢" or "1_0", which no Android writer stores.
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _time(value: Any, unit: timedelta) -> datetime | None:
    """A count of `unit`s since 1970 as UTC; None for 0 (never set), negatives and the absurd."""
    number = _integer(value)
    if number is None or number <= 0:
        return None
    try:
        return _EPOCH + number * unit
    except OverflowError:
        return None
