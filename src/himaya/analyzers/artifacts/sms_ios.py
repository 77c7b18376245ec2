"""Messages for iPhone: SMS and iMessage from `sms.db` (the same layout as a Mac's `chat.db`).

Reads message (ROWID, text, attributedBody, handle_id, service, date, is_from_me, item_type), handle
(ROWID, id: a phone number or an e-mail address), chat (chat_identifier, display_name, style: 43 a group,
45 one person), chat_message_join and chat_handle_join (a chat's people), attachment (filename,
mime_type, total_bytes, transfer_name) and message_attachment_join. A message in "Recently Deleted"
keeps its row but moves from chat_message_join to chat_recoverable_message_join; it is read from there.

- `app` is "imessage" for service "iMessage" and "sms" for anything else (SMS, MMS, RCS).
- `date` is nanoseconds since 2001-01-01 UTC from iOS 11 on and seconds before; the unit is told by
  the value's size (a date in seconds stays below 10^11 for the next thousand years).
- A message with several attachments becomes one ChatMessage per attachment
  ("message:<ROWID>:attachment:<ROWID>"), so that each file can be linked and matched; the text goes on
  the first only. A message without attachments is "message:<ROWID>".
- The text is `text`, else the NSString inside `attributedBody` (iOS 16 on often leaves `text` empty),
  read best-effort from the typedstream archive without decoding it in full. The U+FFFC characters
  that mark where attachments sat are removed.
- Sent messages have sender None: sms.db names the owner's account only loosely (message.account,
  destination_caller_id), not as a reliable identifier of the sender.
- Group events (item_type other than 0: someone added, the name changed) are skipped; reactions and
  other associated messages are kept as the text Messages stored for them.
- The handles' phone numbers and e-mail addresses are yielded as identities, without names (sms.db
  keeps none; the address book does).
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import groupby
from operator import itemgetter

from himaya.analyzers.artifacts.interface import (
    ArtifactParser,
    ChatMessage,
    Identity,
    MediaRef,
    Record,
    Schema,
    has_columns,
)
from himaya.analyzers.artifacts.values import APPLE_EPOCH, int_value, text_value

__all__ = ["SmsIos", "text_from_attributed_body"]

_NANOSECONDS_ABOVE = 10**11
_GROUP_STYLE, _DIRECT_STYLE = 43, 45
_ATTACHMENT_MARK = "\ufffc"
_PHONE = re.compile(r"\+?[0-9][0-9 ()./-]*")
_ATTACHMENT_COLUMNS = ("mime_type", "total_bytes", "transfer_name")


def _message_text(value: object) -> str | None:
    text = text_value(value)
    if text is None:
        return None
    text = text.replace(_ATTACHMENT_MARK, "")
    return text if text.strip() else None


def _apple_time(value: object) -> datetime | None:
    """Nanoseconds or seconds since 2001, told apart by size; 0 is an unset date."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        value = int(value)
    if not isinstance(value, int) or not value:
        return None
    try:
        if abs(value) >= _NANOSECONDS_ABOVE:
            seconds, nanoseconds = divmod(value, 1_000_000_000)
            return APPLE_EPOCH + timedelta(seconds=seconds, microseconds=nanoseconds // 1000)
        return APPLE_EPOCH + timedelta(seconds=value)
    except OverflowError:
        return None


def text_from_attributed_body(blob: object) -> str | None:
    """The NSString of an NSAttributedString archived as typedstream (message.attributedBody), or None.

    The string follows its class name: b"NSString", a few bytes of class data ending in b"\\x01+", then
    the UTF-8 length (one byte below 0x80; 0x81 and two bytes little-endian; 0x82 and four) and the bytes.
    """
    if not isinstance(blob, bytes | bytearray | memoryview):
        return None
    data = bytes(blob)
    start = data.find(b"NSString")
    if start < 0:
        return None
    marker = data.find(b"\x01+", start + 8, start + 8 + 16)
    if marker < 0:
        return None
    position = marker + 2
    if position >= len(data):
        return None
    first = data[position]
    if first < 0x80:
        length, position = first, position + 1
    elif first in (0x81, 0x82):
        width = 2 if first == 0x81 else 4
        if position + 1 + width > len(data):
            return None
        length = int.from_bytes(data[position + 1 : position + 1 + width], "little")
        position += 1 + width
    else:
        return None
    if length == 0 or position + length > len(data):
        return None
    return _message_text(data[position : position + length])


def _identity_kind(value: str) -> str | None:
    if "@" in value:
        return "email"
    if _PHONE.fullmatch(value.strip()):
        return "phone"
    return None  # business chat ids ("urn:biz:…") and the like name no person


class _Chat:
    __slots__ = ("identifier", "name", "people", "style")

    def __init__(self, identifier: str, name: str | None, style: int | None) -> None:
        self.identifier = identifier
        self.name = name
        self.style = style
        self.people: list[str] = []

    @property
    def is_group(self) -> bool:
        if self.style in (_GROUP_STYLE, _DIRECT_STYLE):
            return self.style == _GROUP_STYLE
        return len(self.people) > 1


class SmsIos(ArtifactParser):
    NAME = "sms-ios"
    DESCRIPTION = "Messages for iPhone (SMS and iMessage): texts, attachments and addresses from sms.db"
    APP = "sms"
    MESSAGE_TABLES = ("message",)

    @classmethod
    def recognise(cls, schema: Schema) -> bool:
        return (
            has_columns(schema, "message", "guid", "text", "handle_id", "date", "is_from_me")
            and has_columns(schema, "handle", "id")
            and has_columns(schema, "chat", "chat_identifier")
            and has_columns(schema, "chat_message_join", "chat_id", "message_id")
        )

    def parse(self, db: sqlite3.Connection, schema: Schema) -> Iterator[Record]:
        handles: dict[int, str] = {}
        for rowid, value in db.execute("SELECT ROWID, id FROM handle ORDER BY ROWID"):
            handle, key = text_value(value), int_value(rowid)
            if handle is not None and key is not None:
                handles[key] = handle
        seen: set[str] = set()
        for handle in handles.values():
            kind = _identity_kind(handle)
            if kind is not None and handle not in seen:
                seen.add(handle)
                yield Identity(kind=kind, value=handle, source=self.NAME)

        chats = self._chats(db, schema, handles)
        # Rows come out message by message (the message table drives every join); a message's rows
        # (one per attachment and per chat it is linked to) are gathered before it is read.
        for _, rows in groupby(db.execute(self._message_query(schema)), key=itemgetter(0)):
            try:
                messages = self._messages(list(rows), chats, handles)
            except (TypeError, ValueError, OverflowError, UnicodeError):
                continue
            yield from messages

    @staticmethod
    def _chats(db: sqlite3.Connection, schema: Schema, handles: dict[int, str]) -> dict[int, _Chat]:
        def column(name: str) -> str:
            return name if has_columns(schema, "chat", name) else "NULL"

        chats: dict[int, _Chat] = {}
        for rowid, identifier, guid, name, style in db.execute(
            f"SELECT ROWID, chat_identifier, {column('guid')}, {column('display_name')}, {column('style')} "  # noqa: S608
            "FROM chat"
        ):
            key = int_value(rowid)
            if key is not None:
                chats[key] = _Chat(
                    text_value(identifier) or text_value(guid) or f"chat:{key}",
                    text_value(name),
                    int_value(style),
                )
        if has_columns(schema, "chat_handle_join", "chat_id", "handle_id"):
            for chat_id, handle_id in db.execute(
                "SELECT chat_id, handle_id FROM chat_handle_join ORDER BY chat_id, handle_id"
            ):
                chat = chats.get(int_value(chat_id) or 0)
                handle = handles.get(int_value(handle_id) or 0)
                if chat is not None and handle is not None and handle not in chat.people:
                    chat.people.append(handle)
        return chats

    @staticmethod
    def _message_query(schema: Schema) -> str:
        def message(name: str) -> str:
            return f"m.{name}" if has_columns(schema, "message", name) else "NULL"

        def attachment(name: str) -> str:
            return f"a.{name}" if has_columns(schema, "attachment", name) else "NULL"

        # Plain joins only: SQLite builds an index for a join column the database lacks one on, but
        # not for a UNION; without it every message would scan the whole join table.
        joins = ["LEFT JOIN chat_message_join cm ON cm.message_id = m.ROWID"]
        recoverable = "NULL"
        if has_columns(schema, "chat_recoverable_message_join", "chat_id", "message_id"):
            joins.append("LEFT JOIN chat_recoverable_message_join cr ON cr.message_id = m.ROWID")
            recoverable = "cr.chat_id"
        attachment_columns = ["NULL"] * 5
        if has_columns(schema, "message_attachment_join", "message_id", "attachment_id") and has_columns(
            schema, "attachment", "filename"
        ):
            joins.append("LEFT JOIN message_attachment_join ma ON ma.message_id = m.ROWID")
            joins.append("LEFT JOIN attachment a ON a.ROWID = ma.attachment_id")
            attachment_columns = ["a.ROWID", "a.filename", *(attachment(c) for c in _ATTACHMENT_COLUMNS)]
        columns = [
            "m.ROWID",
            "m.text",
            message("attributedBody"),
            "m.handle_id",
            message("service"),
            "m.date",
            "m.is_from_me",
            message("item_type"),
            "cm.chat_id",
            recoverable,
            *attachment_columns,
        ]
        return f"SELECT {', '.join(columns)} FROM message m {' '.join(joins)} ORDER BY m.ROWID"  # noqa: S608

    def _messages(
        self, rows: list[tuple[object, ...]], chats: dict[int, _Chat], handles: dict[int, str]
    ) -> list[ChatMessage]:
        """One message's ChatMessages: one per attachment, or one when it has none."""
        (rowid, text, body, handle_id, service, date, from_me, item_type, *_) = rows[0]
        key = int_value(rowid)
        if key is None or (int_value(item_type) or 0) != 0:
            return []
        # A message belongs to one chat; should the joins name several, the lowest id is taken.
        linked = sorted({chat_id for row in rows for chat_id in (int_value(row[8]),) if chat_id is not None})
        recovered = sorted(
            {chat_id for row in rows for chat_id in (int_value(row[9]),) if chat_id is not None}
        )
        sent = int_value(from_me) == 1
        handle = handles.get(int_value(handle_id) or 0)
        chat = next((chats[c] for c in (*linked, *recovered) if c in chats), None)
        if chat is None:
            chat = _Chat(handle or "unknown", None, _DIRECT_STYLE)

        sender: str | None
        recipients: tuple[str, ...]
        if sent:
            sender = None
            if chat.is_group:
                recipients = tuple(chat.people)
            else:
                recipients = (handle or (chat.people[0] if chat.people else chat.identifier),)
        elif chat.is_group:
            sender = handle
            recipients = tuple(person for person in chat.people if person != sender)
        else:
            sender = handle or (chat.people[0] if chat.people else chat.identifier)
            recipients = ()

        attachments: dict[int, MediaRef] = {}
        for row in rows:
            attachment_id, filename, mime, size, transfer_name = row[10:15]
            attachment_key = int_value(attachment_id)
            if attachment_key is None or attachment_key in attachments:
                continue
            total = int_value(size)
            attachments[attachment_key] = MediaRef(
                path=text_value(filename),
                mime=text_value(mime),
                size=total if total is not None and total > 0 else None,
                name=text_value(transfer_name),
            )

        def record(source_row: str, message_text: str | None, media: MediaRef | None) -> ChatMessage:
            return ChatMessage(
                app="imessage" if text_value(service) == "iMessage" else self.APP,
                source_row=source_row,
                chat=chat.identifier,
                chat_type="group" if chat.is_group else "direct",
                direction="sent" if sent else "received",
                sender=sender,
                recipients=recipients,
                time_utc=_apple_time(date),
                text=message_text,
                media=media,
                chat_name=chat.name,
            )

        message_text = _message_text(text) or text_from_attributed_body(body)
        if not attachments:
            return [record(f"message:{key}", message_text, None)]
        return [
            record(f"message:{key}:attachment:{attachment_key}", message_text if index == 0 else None, media)
            for index, (attachment_key, media) in enumerate(sorted(attachments.items()))
        ]
