"""WhatsApp for iPhone: the Core Data chat database `ChatStorage.sqlite` (the app group's shared container).

Reads ZWACHATSESSION (a chat: ZCONTACTJID, ZPARTNERNAME — the contact's name, or a group's subject —
and ZSESSIONTYPE, 1 for a group), ZWAGROUPMEMBER (a group's members: ZMEMBERJID, ZCONTACTNAME),
ZWAPROFILEPUSHNAME (the names people gave themselves), ZWAMESSAGE and, joined by ZWAMESSAGE.ZMEDIAITEM,
ZWAMEDIAITEM. Apple publishes nothing about this database; what is read below follows public forensic
work, and where that work is thin the limit is said:

- Times are Core Data times: seconds (a float) since 2001-01-01 UTC.
- `forwarded` is bit 7 (0x80) of ZWAMESSAGE.ZFLAGS, as IPED reads it (sepinf-inc/IPED #1287). Newer app
  versions set further ZFLAGS bits, and IPED had reports of sent messages shown as forwarded when they
  were not (#2687): treat it as a lead to check in the chat, not as proof.
- The media's SHA-256 is ZWAMEDIAITEM.ZVCARDNAME (base64) on picture, video, audio, document and GIF
  messages, as IPED reads it; a value that is not base64 of 32 bytes is ignored. The MIME type is
  ZVCARDSTRING on those rows (on a shared contact the same column holds the vCard itself).
- ZMEDIALOCALPATH is relative to the shared container's `Message/` folder ("Media/<jid>/a/b/<uuid>.jpg");
  it is reported as stored, present or not. The original file name of a document is not read.
- A group's recipients are the members the database lists now (ZWAGROUPMEMBER, members who left
  included), not the membership at the time of the message; the phone's owner is not among them, and a
  sent message's sender is None (the database does not name the owner).
- Group events and system notices (ZMESSAGETYPE 6 and 10: "group created", "security code changed")
  are not messages between people and are skipped.
- Databases without ZWAMESSAGE.ZMEDIAITEM are joined on ZWAMEDIAITEM.ZMESSAGE instead.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta

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

__all__ = ["WhatsAppIos"]

_FORWARDED_BIT = 0x80
_GROUP_SESSION = 1
_NOT_MESSAGES = frozenset({6, 10})
# Picture, video, audio, document, GIF, view-once picture/video/audio, round video: rows whose
# ZVCARDNAME is the file's SHA-256.
_HASHED_TYPES = frozenset({1, 2, 3, 8, 11, 38, 39, 53, 54})
_MEDIA_TYPES = _HASHED_TYPES | {15}  # and stickers
# Shared contact (ZVCARDSTRING is the vCard), location, message deleted by its sender.
_NO_MIME_TYPES = frozenset({4, 5, 14})
_NOT_PEOPLE = ("@g.us", "@broadcast", "@status", "@newsletter", "@temp")
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*", re.IGNORECASE)


def _core_data_time(value: object) -> datetime | None:
    """Seconds since 2001; 0 is an unset date, not the first second of 2001."""
    if not isinstance(value, int | float) or not value or not math.isfinite(value):
        return None
    try:
        return APPLE_EPOCH + timedelta(seconds=value)
    except OverflowError:
        return None


def _sha256_from_base64(value: object) -> str | None:
    text = text_value(value)
    if text is None or len(text.strip()) != 44:
        return None
    try:
        digest = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest.hex() if len(digest) == 32 else None


def _mime(value: object) -> str | None:
    text = text_value(value)
    if text is None or len(text) > 127 or not _MIME.fullmatch(text.strip()):
        return None
    return text.strip().lower()


def _is_person(jid: str) -> bool:
    return not jid.endswith(_NOT_PEOPLE)


class _Chat:
    __slots__ = ("is_group", "jid", "members", "name")

    def __init__(self, jid: str, name: str | None, is_group: bool) -> None:
        self.jid = jid
        self.name = name
        self.is_group = is_group
        self.members: list[str] = []


class WhatsAppIos(ArtifactParser):
    NAME = "whatsapp-ios"
    DESCRIPTION = "WhatsApp for iPhone: messages, media and contacts from ChatStorage.sqlite"
    APP = "whatsapp"
    MESSAGE_TABLES = ("zwamessage",)

    @classmethod
    def recognise(cls, schema: Schema) -> bool:
        return has_columns(
            schema, "ZWAMESSAGE", "Z_PK", "ZCHATSESSION", "ZISFROMME", "ZMESSAGEDATE", "ZTEXT"
        ) and has_columns(schema, "ZWACHATSESSION", "Z_PK", "ZCONTACTJID")

    def parse(self, db: sqlite3.Connection, schema: Schema) -> Iterator[Record]:
        chats, member_jids, names = self._chats(db, schema)
        for jid, name in names.items():
            yield Identity(kind="whatsapp", value=jid, name=name, source=self.NAME)
        previous: int | None = None
        for row in db.execute(self._message_query(schema)):
            # The fallback join on ZWAMEDIAITEM.ZMESSAGE can repeat a message; its first row is kept.
            if row[0] == previous:
                continue
            previous = row[0]
            try:
                message = self._message(row, chats, member_jids)
            except (TypeError, ValueError, OverflowError, UnicodeError):
                continue
            if message is not None:
                yield message

    def _chats(
        self, db: sqlite3.Connection, schema: Schema
    ) -> tuple[dict[int, _Chat], dict[int, str], dict[str, str | None]]:
        """Chats by Z_PK, group members' JIDs by Z_PK, and every person's JID with the best name known."""
        names: dict[str, str | None] = {}

        def name(jid: str, given: object) -> None:
            if _is_person(jid) and names.get(jid) is None:
                names[jid] = text_value(given)

        partner = "ZPARTNERNAME" if has_columns(schema, "ZWACHATSESSION", "ZPARTNERNAME") else "NULL"
        kind = "ZSESSIONTYPE" if has_columns(schema, "ZWACHATSESSION", "ZSESSIONTYPE") else "NULL"
        chats: dict[int, _Chat] = {}
        for pk, jid_value, partner_name, session_type in db.execute(
            f"SELECT Z_PK, ZCONTACTJID, {partner}, {kind} FROM ZWACHATSESSION"  # noqa: S608
        ):
            jid, key = text_value(jid_value), int_value(pk)
            if jid is None or key is None:
                continue
            is_group = int_value(session_type) == _GROUP_SESSION or jid.endswith("@g.us")
            chats[key] = _Chat(jid, text_value(partner_name), is_group)
            if not is_group:
                name(jid, partner_name)

        member_jids: dict[int, str] = {}
        if has_columns(schema, "ZWAGROUPMEMBER", "Z_PK", "ZCHATSESSION", "ZMEMBERJID"):
            contact = "ZCONTACTNAME" if has_columns(schema, "ZWAGROUPMEMBER", "ZCONTACTNAME") else "NULL"
            first = "ZFIRSTNAME" if has_columns(schema, "ZWAGROUPMEMBER", "ZFIRSTNAME") else "NULL"
            for pk, session, jid_value, contact_name, first_name in db.execute(
                f"SELECT Z_PK, ZCHATSESSION, ZMEMBERJID, {contact}, {first} FROM ZWAGROUPMEMBER "  # noqa: S608
                "ORDER BY Z_PK"
            ):
                jid, key = text_value(jid_value), int_value(pk)
                if jid is None or key is None:
                    continue
                member_jids[key] = jid
                chat = chats.get(int_value(session) or 0)
                if chat is not None and jid not in chat.members:
                    chat.members.append(jid)
                name(jid, text_value(contact_name) or first_name)

        if has_columns(schema, "ZWAPROFILEPUSHNAME", "ZJID", "ZPUSHNAME"):
            for jid_value, push_name in db.execute(
                "SELECT ZJID, ZPUSHNAME FROM ZWAPROFILEPUSHNAME ORDER BY ZJID"
            ):
                jid = text_value(jid_value)
                if jid is not None:
                    name(jid, push_name)
        return chats, member_jids, names

    @staticmethod
    def _message_query(schema: Schema) -> str:
        def message(column: str) -> str:
            return f"m.{column}" if has_columns(schema, "ZWAMESSAGE", column) else "NULL"

        def media(column: str) -> str:
            return f"mi.{column}" if has_columns(schema, "ZWAMEDIAITEM", column) else "NULL"

        join = ""
        if has_columns(schema, "ZWAMEDIAITEM", "Z_PK"):
            if has_columns(schema, "ZWAMESSAGE", "ZMEDIAITEM"):
                join = "LEFT JOIN ZWAMEDIAITEM mi ON mi.Z_PK = m.ZMEDIAITEM"
            elif has_columns(schema, "ZWAMEDIAITEM", "ZMESSAGE"):
                join = "LEFT JOIN ZWAMEDIAITEM mi ON mi.ZMESSAGE = m.Z_PK"
        media_columns = (
            [
                "mi.Z_PK",
                *(media(c) for c in ("ZMEDIALOCALPATH", "ZTITLE", "ZFILESIZE", "ZVCARDSTRING", "ZVCARDNAME")),
            ]
            if join
            else ["NULL"] * 6
        )
        columns = [
            "m.Z_PK",
            "m.ZCHATSESSION",
            "m.ZISFROMME",
            "m.ZMESSAGEDATE",
            "m.ZTEXT",
            *(message(c) for c in ("ZFROMJID", "ZTOJID", "ZMESSAGETYPE", "ZGROUPMEMBER", "ZFLAGS")),
            *media_columns,
        ]
        return f"SELECT {', '.join(columns)} FROM ZWAMESSAGE m {join} ORDER BY m.Z_PK"  # noqa: S608

    def _message(
        self, row: tuple[object, ...], chats: dict[int, _Chat], member_jids: dict[int, str]
    ) -> ChatMessage | None:
        (pk, session, from_me, date, text, from_jid_value, to_jid_value, type_value, member, flags_value,
         media_pk, path, title, size, vcard_string, vcard_name) = row  # fmt: skip
        key = int_value(pk)
        message_type = int_value(type_value)
        if key is None or message_type in _NOT_MESSAGES:
            return None
        sent = int_value(from_me) == 1
        from_jid, to_jid = text_value(from_jid_value), text_value(to_jid_value)
        chat = chats.get(int_value(session) or 0)
        if chat is None:
            jid = (to_jid if sent else from_jid) or "unknown"
            chat = _Chat(jid, None, jid.endswith("@g.us"))

        sender: str | None
        recipients: tuple[str, ...]
        if sent:
            sender = None
            recipients = tuple(chat.members) if chat.is_group else (chat.jid,)
        elif chat.is_group:
            # ZFROMJID of a received group message is the group itself; the author is the member row.
            sender = member_jids.get(int_value(member) or 0) or (from_jid if from_jid != chat.jid else None)
            recipients = tuple(jid for jid in chat.members if jid != sender)
        else:
            sender = from_jid or chat.jid
            recipients = ()

        media_ref: MediaRef | None = None
        local_path = text_value(path)
        if media_pk is not None and (local_path is not None or message_type in _MEDIA_TYPES):
            file_size = int_value(size)
            media_ref = MediaRef(
                path=local_path,
                sha256=_sha256_from_base64(vcard_name) if message_type in _HASHED_TYPES else None,
                mime=None if message_type in _NO_MIME_TYPES else _mime(vcard_string),
                size=file_size if file_size is not None and file_size > 0 else None,
            )
        flags = int_value(flags_value)
        return ChatMessage(
            app=self.APP,
            source_row=f"message:{key}",
            chat=chat.jid,
            chat_type="group" if chat.is_group else "direct",
            direction="sent" if sent else "received",
            sender=sender,
            recipients=recipients,
            time_utc=_core_data_time(date),
            text=text_value(text) or (text_value(title) if media_pk is not None else None),
            media=media_ref,
            forwarded=flags is not None and bool(flags & _FORWARDED_BIT),
            chat_name=chat.name,
        )
