"""WhatsApp for Android: messages from `msgstore.db` (current and pre-2022 layouts), contacts from `wa.db`.

`WhatsAppAndroid` reads the layout WhatsApp 2.22 introduced and still uses (modelled on 2.23.x, checked
against 2.25/2.26 schemas): `message` joined with `message_media`, `message_forwarded` and
`message_system`; `chat` and `jid` (and `jid_map`, which ties a privacy "LID" to a phone JID) preloaded;
group members from `group_participant_user` (and a leftover `group_participants`). `WhatsAppAndroidLegacy`
reads the older `messages` table (2.1x–2.21) with `chat_list`, `group_participants` and, where the
version has it, `message_media`; early versions keep a media file's path only in a serialised Java
object (`thumb_image`), so their media is reported without a path but with its SHA-256 (`media_hash`).
A database holding both `message` and a leftover `messages` table is read by the current parser only.
`WhatsAppContactsAndroid` reads `wa.db`'s `wa_contacts`.

Choices and limits:
- System messages (`message_type` 7 or a `message_system` row; legacy `status` 6 and the `-1` placeholder
  row) are not messages between people and are skipped. Deleted-for-everyone messages are kept, without
  text.
- Groups (`g.us`), broadcast lists and status updates (`…@broadcast`, kept as chat `status@broadcast`)
  and channels (`newsletter`) are chat type "group". Status updates and channels have no participant
  list, so their recipients are empty.
- The owner appears among a group's participants as an empty JID; it is left out (never named).
- A LID that `jid_map` ties to a phone JID is reported as the phone JID in senders and recipients; both
  are yielded as identities on one card. The chat keeps the JID the app filed it under.
- `file_hash` / `media_hash` is base64 of the file's SHA-256; a value that does not decode to 32 bytes
  is dropped (the rest of the message is kept). Paths are reported as the app stored them (relative to
  the WhatsApp folder in current versions, absolute in old ones).
- msgstore.db names no contact names; those come from wa.db (display name, else the WhatsApp profile
  name). wa.db rows for groups and broadcasts are not identities; a phone number is yielded for every
  address-book row, a WhatsApp JID only where `is_whatsapp_user` is set.
- Rows are streamed in row-id order; a row SQLite cannot decode (bad UTF-8, a damaged page) is skipped
  and reading resumes after it.
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from himaya.analyzers.artifacts.interface import (
    ArtifactParser,
    ChatMessage,
    ChatType,
    Identity,
    MediaRef,
    Record,
    Schema,
    has_columns,
)

__all__ = [
    "WhatsAppAndroid",
    "WhatsAppAndroidLegacy",
    "WhatsAppContactsAndroid",
    "sha256_from_base64",
    "time_from_ms",
]

Row = tuple[Any, ...]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_KEY = -(2**63)
# Servers whose JIDs are chats of many people rather than a person's account.
_GROUP_SERVERS = frozenset({"g.us", "broadcast", "newsletter"})
_SYSTEM_MESSAGE_TYPE = 7
_LEGACY_CONTROL_STATUS = 6


# Values ----------------------------------------------------------------------------------------------


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace") or None
    return None


def _int(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 2**63:  # not NaN, not infinite
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def time_from_ms(value: object) -> datetime | None:
    """A WhatsApp time (milliseconds since 1970, UTC); None for 0, negative or impossible values."""
    ms = _int(value)
    if ms is None or ms <= 0:
        return None
    try:
        return _EPOCH + timedelta(milliseconds=ms)
    except OverflowError:
        return None


def sha256_from_base64(value: object) -> str | None:
    """WhatsApp's base64 SHA-256 as 64 lower-case hex characters; None when it is not one."""
    if isinstance(value, bytes):
        if len(value) == 32:
            return value.hex()
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text).hex()
        except ValueError:
            pass
    for candidate in (text, text.replace("-", "+").replace("_", "/")):
        try:
            raw = base64.b64decode(candidate, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(raw) == 32:
            return raw.hex()
    return None


def _size(*values: object) -> int | None:
    for value in values:
        size = _int(value)
        if size is not None and size > 0:
            return size
    return None


def _server(jid: str) -> str:
    return jid.rpartition("@")[2]


def _is_person(jid: str) -> bool:
    user, at, server = jid.rpartition("@")
    return bool(user) and bool(at) and server not in _GROUP_SERVERS


def _chat_type(jid: str) -> ChatType:
    return "group" if _server(jid) in _GROUP_SERVERS else "direct"


def _media(path: object, sha256: str | None, mime: object, size: int | None, name: object) -> MediaRef | None:
    path_text, mime_text = _text(path), _text(mime)
    # A name alone is not media: legacy contact cards keep the contact's name in `media_name`.
    if path_text is None and sha256 is None and mime_text is None:
        return None
    return MediaRef(path=path_text, sha256=sha256, mime=mime_text, size=size, name=_text(name))


# Reading ---------------------------------------------------------------------------------------------


def _column(schema: Schema, table: str, alias: str, column: str) -> str:
    return f"{alias}.{column}" if has_columns(schema, table, column) else "NULL"


def _stream(db: sqlite3.Connection, sql: str, table: str) -> Iterator[Row]:
    """Rows of `sql` (first column the key, one `key > ?` placeholder, ordered by key) from `table`.

    A row SQLite cannot hand over (text that is not UTF-8, a damaged page) breaks the cursor; it is
    skipped by looking up the next key and running the query again from there. An error before any row
    (a bad query, an unreadable database) is raised.
    """
    last = _FIRST_KEY
    while True:
        cursor = db.execute(sql, (last,))
        try:
            for row in cursor:
                last = row[0]
                yield row
            return
        except sqlite3.DatabaseError:
            following = db.execute(
                f"SELECT rowid FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT 1",  # noqa: S608
                (last,),
            ).fetchone()
            if following is None or not isinstance(following[0], int) or following[0] <= last:
                return
            last = following[0]


def _optional(rows: Iterator[Row]) -> Iterator[Row]:
    """Rows of a lookup table the parser can do without: one that cannot be queried yields nothing."""
    try:
        yield from rows
    except sqlite3.DatabaseError:
        return


class _Participants:
    """Each group's members (the owner left out), keyed by the group's JID."""

    def __init__(self) -> None:
        self.by_group: dict[str, set[str]] = {}

    def add(self, group: str | None, member: str | None) -> None:
        if group and member and _is_person(member):
            self.by_group.setdefault(group, set()).add(member)

    def of(self, group: str) -> tuple[str, ...]:
        return tuple(sorted(self.by_group.get(group, ())))

    def everyone(self) -> Iterable[str]:
        for members in self.by_group.values():
            yield from members


def _legacy_participants(db: sqlite3.Connection, schema: Schema, participants: _Participants) -> None:
    if has_columns(schema, "group_participants", "gjid", "jid"):
        sql = "SELECT rowid, gjid, jid FROM group_participants WHERE rowid > ? ORDER BY rowid"
        for _, group, member in _optional(_stream(db, sql, "group_participants")):
            participants.add(_text(group), _text(member))


class _Recipients:
    """Recipients of a received group message: the members other than its sender, memoised per chat."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int | str, str | None], tuple[str, ...]] = {}

    def without(self, chat: int | str, members: tuple[str, ...], sender: str | None) -> tuple[str, ...]:
        found = self._cache.get((chat, sender))
        if found is None:
            found = self._cache[(chat, sender)] = tuple(member for member in members if member != sender)
        return found


# Current layout --------------------------------------------------------------------------------------


class WhatsAppAndroid(ArtifactParser):
    NAME = "whatsapp-android"
    DESCRIPTION = "WhatsApp for Android msgstore.db (2022+ layout: message, message_media, chat, jid)"
    APP = "whatsapp"
    MESSAGE_TABLES = ("message",)

    @classmethod
    def recognise(cls, schema: Schema) -> bool:
        return (
            has_columns(
                schema,
                "message",
                "_id",
                "chat_row_id",
                "from_me",
                "key_id",
                "sender_jid_row_id",
                "timestamp",
                "text_data",
            )
            and has_columns(schema, "chat", "_id", "jid_row_id")
            and has_columns(schema, "jid", "_id", "user", "server")
        )

    def parse(self, db: sqlite3.Connection, schema: Schema) -> Iterator[Record]:
        jids = self._jids(db, schema)
        persons, cards, lids_of = self._persons(db, schema, jids)
        chats = self._chats(db, schema, jids)
        participants = self._participants(db, schema, jids, persons)

        seen: set[str] = set(participants.everyone())
        # chat row id → (chat JID, type, subject, the other person of a direct chat, the group's members)
        chat_info: dict[int, tuple[str, ChatType, str | None, str | None, tuple[str, ...]]] = {}
        for chat_id, (jid_row, jid, subject) in chats.items():
            kind = _chat_type(jid)
            other = persons.get(jid_row) if kind == "direct" else None
            if other is not None and _is_person(other):
                seen.add(other)
            chat_info[chat_id] = (jid, kind, subject, other, participants.of(jid) if kind == "group" else ())

        recipients = _Recipients()
        for row in _stream(db, self._message_sql(schema), "message"):
            (
                message_id,
                chat_row,
                from_me,
                sender_row,
                timestamp,
                message_type,
                text_data,
                media_row,
                path,
                file_size,
                file_length,
                mime,
                caption,
                file_hash,
                media_name,
                forwarded_row,
                system_row,
            ) = row
            if system_row is not None or _int(message_type) == _SYSTEM_MESSAGE_TYPE:
                continue
            info = chat_info.get(chat_row) if isinstance(chat_row, int) else None
            if info is None:
                continue
            chat, kind, subject, other, members = info
            sent = bool(_int(from_me))
            sender: str | None
            if sent:
                sender = None
                to: tuple[str, ...] = members if kind == "group" else ((other,) if other else ())
            elif kind == "group":
                sender = persons.get(sender_row) if isinstance(sender_row, int) else None
                if sender is not None:
                    seen.add(sender)
                to = recipients.without(chat_row, members, sender)
            else:
                sender, to = other, ()
            media = None
            if media_row is not None:
                media = _media(
                    path, sha256_from_base64(file_hash), mime, _size(file_size, file_length), media_name
                )
            yield ChatMessage(
                app=self.APP,
                source_row=f"message:{message_id}",
                chat=chat,
                chat_type=kind,
                direction="sent" if sent else "received",
                sender=sender,
                recipients=to,
                time_utc=time_from_ms(timestamp),
                text=_text(text_data) or _text(caption),
                media=media,
                forwarded=forwarded_row is not None,
                chat_name=subject,
            )
        yield from _identities(seen, cards, lids_of, self.NAME)

    @staticmethod
    def _message_sql(schema: Schema) -> str:
        media = has_columns(schema, "message_media", "message_row_id")
        forwarded = has_columns(schema, "message_forwarded", "message_row_id")
        system = has_columns(schema, "message_system", "message_row_id")

        def mm(column: str) -> str:
            return _column(schema, "message_media", "mm", column) if media else "NULL"

        joins = [
            "LEFT JOIN message_media AS mm ON mm.message_row_id = m._id" if media else "",
            "LEFT JOIN message_forwarded AS mf ON mf.message_row_id = m._id" if forwarded else "",
            "LEFT JOIN message_system AS ms ON ms.message_row_id = m._id" if system else "",
        ]
        columns = [
            "m._id",
            "m.chat_row_id",
            "m.from_me",
            "m.sender_jid_row_id",
            "m.timestamp",
            _column(schema, "message", "m", "message_type"),
            "m.text_data",
            mm("message_row_id"),
            mm("file_path"),
            mm("file_size"),
            mm("file_length"),
            mm("mime_type"),
            mm("media_caption"),
            mm("file_hash"),
            mm("media_name"),
            "mf.message_row_id" if forwarded else "NULL",
            "ms.message_row_id" if system else "NULL",
        ]
        return (
            f"SELECT {', '.join(columns)} FROM message AS m {' '.join(joins)} "  # noqa: S608
            "WHERE m._id > ? ORDER BY m._id"
        )

    @staticmethod
    def _participants(
        db: sqlite3.Connection, schema: Schema, jids: dict[int, str], persons: dict[int, str]
    ) -> _Participants:
        participants = _Participants()
        if has_columns(schema, "group_participant_user", "group_jid_row_id", "user_jid_row_id"):
            sql = (
                "SELECT rowid, group_jid_row_id, user_jid_row_id FROM group_participant_user "
                "WHERE rowid > ? ORDER BY rowid"
            )
            for _, group_row, member_row in _optional(_stream(db, sql, "group_participant_user")):
                group = jids.get(group_row) if isinstance(group_row, int) else None
                member = persons.get(member_row) if isinstance(member_row, int) else None
                participants.add(group, member)
        _legacy_participants(db, schema, participants)  # a leftover from before the migration
        return participants

    @staticmethod
    def _jids(db: sqlite3.Connection, schema: Schema) -> dict[int, str]:
        raw = _column(schema, "jid", "jid", "raw_string")
        sql = f"SELECT _id, user, server, {raw} FROM jid WHERE _id > ? ORDER BY _id"  # noqa: S608
        jids: dict[int, str] = {}
        for jid_id, user, server, raw_string in _stream(db, sql, "jid"):
            user_text, server_text = _text(user), _text(server)
            # The owner's own entry has no user part; it names nobody.
            if user_text is None or server_text is None:
                continue
            jids[jid_id] = _text(raw_string) or f"{user_text}@{server_text}"
        return jids

    @staticmethod
    def _persons(
        db: sqlite3.Connection, schema: Schema, jids: dict[int, str]
    ) -> tuple[dict[int, str], dict[str, str], dict[str, list[str]]]:
        """The identifier each JID row stands for, the cards tying a LID to its phone JID, and the LIDs
        of each phone JID."""
        persons = dict(jids)
        cards: dict[str, str] = {}
        lids_of: dict[str, list[str]] = {}
        if has_columns(schema, "jid_map", "lid_row_id", "jid_row_id"):
            sql = "SELECT rowid, lid_row_id, jid_row_id FROM jid_map WHERE rowid > ? ORDER BY rowid"
            for _, lid_row, phone_row in _optional(_stream(db, sql, "jid_map")):
                lid = jids.get(lid_row) if isinstance(lid_row, int) else None
                phone = jids.get(phone_row) if isinstance(phone_row, int) else None
                if lid is None or phone is None or not _is_person(phone):
                    continue
                persons[lid_row] = phone
                card = cards.setdefault(phone, f"jid_map:{phone}")
                cards[lid] = card
                lids_of.setdefault(phone, []).append(lid)
        return persons, cards, lids_of

    @staticmethod
    def _chats(
        db: sqlite3.Connection, schema: Schema, jids: dict[int, str]
    ) -> dict[int, tuple[int, str, str | None]]:
        subject = _column(schema, "chat", "chat", "subject")
        sql = f"SELECT _id, jid_row_id, {subject} FROM chat WHERE _id > ? ORDER BY _id"  # noqa: S608
        chats: dict[int, tuple[int, str, str | None]] = {}
        for chat_id, jid_row, subject_text in _stream(db, sql, "chat"):
            jid = jids.get(jid_row) if isinstance(jid_row, int) else None
            if jid is not None:
                chats[chat_id] = (jid_row, jid, _text(subject_text))
        return chats


def _identities(
    seen: Iterable[str], cards: dict[str, str], lids_of: dict[str, list[str]], source: str
) -> Iterator[Identity]:
    for jid in sorted(seen):
        if not _is_person(jid):
            continue
        yield Identity(kind="whatsapp", value=jid, card=cards.get(jid), source=source)
        for lid in lids_of.get(jid, ()):
            yield Identity(kind="whatsapp", value=lid, card=cards.get(lid), source=source)


# Legacy layout ---------------------------------------------------------------------------------------


class WhatsAppAndroidLegacy(ArtifactParser):
    NAME = "whatsapp-android-legacy"
    DESCRIPTION = "WhatsApp for Android msgstore.db (pre-2022 layout: messages, chat_list)"
    APP = "whatsapp"
    MESSAGE_TABLES = ("messages",)

    @classmethod
    def recognise(cls, schema: Schema) -> bool:
        # A migrated database may keep a leftover `messages` table: the current parser reads it alone.
        return has_columns(
            schema, "messages", "_id", "key_remote_jid", "key_from_me", "key_id", "data", "timestamp"
        ) and not WhatsAppAndroid.recognise(schema)

    def parse(self, db: sqlite3.Connection, schema: Schema) -> Iterator[Record]:
        subjects: dict[str, str | None] = {}
        if has_columns(schema, "chat_list", "key_remote_jid"):
            subject = _column(schema, "chat_list", "chat_list", "subject")
            sql = f"SELECT rowid, key_remote_jid, {subject} FROM chat_list WHERE rowid > ? ORDER BY rowid"  # noqa: S608
            for _, jid, subject_text in _optional(_stream(db, sql, "chat_list")):
                jid_text = _text(jid)
                if jid_text is not None:
                    subjects[jid_text] = _text(subject_text)
        participants = _Participants()
        _legacy_participants(db, schema, participants)
        seen: set[str] = set(participants.everyone())
        seen.update(jid for jid in subjects if _chat_type(jid) == "direct")

        recipients = _Recipients()
        members_of: dict[str, tuple[str, ...]] = {}
        for row in _stream(db, self._message_sql(schema), "messages"):
            (
                message_id,
                chat,
                from_me,
                timestamp,
                data,
                status,
                remote_resource,
                mime,
                media_size,
                name,
                caption,
                media_hash,
                forwarded,
                path,
                file_size,
                media_mime,
                file_hash,
                media_name,
                media_caption,
            ) = row
            if not isinstance(chat, str) or not chat or chat == "-1":
                continue
            if _int(status) == _LEGACY_CONTROL_STATUS:
                continue
            kind = _chat_type(chat)
            members = members_of.get(chat)
            if members is None:
                members = members_of[chat] = participants.of(chat) if kind == "group" else ()
                if kind == "direct":
                    seen.add(chat)
            sent = bool(_int(from_me))
            sender: str | None
            if sent:
                sender = None
                to: tuple[str, ...] = members if kind == "group" else (chat,)
            elif kind == "group":
                sender = _text(remote_resource)
                to = recipients.without(chat, members, sender)
            else:
                sender, to = chat, ()
            if sender is not None and kind == "group":
                seen.add(sender)
            sha256 = sha256_from_base64(media_hash) or sha256_from_base64(file_hash)
            yield ChatMessage(
                app=self.APP,
                source_row=f"messages:{message_id}",
                chat=chat,
                chat_type=kind,
                direction="sent" if sent else "received",
                sender=sender,
                recipients=to,
                time_utc=time_from_ms(timestamp),
                text=_text(data) or _text(caption) or _text(media_caption),
                media=_media(
                    path,
                    sha256,
                    _text(mime) or media_mime,
                    _size(media_size, file_size),
                    _text(name) or media_name,
                ),
                forwarded=(_int(forwarded) or 0) > 0,
                chat_name=subjects.get(chat),
            )
        yield from _identities(seen, {}, {}, self.NAME)

    @staticmethod
    def _message_sql(schema: Schema) -> str:
        media = has_columns(schema, "message_media", "message_row_id")

        def m(column: str) -> str:
            return _column(schema, "messages", "m", column)

        def mm(column: str) -> str:
            return _column(schema, "message_media", "mm", column) if media else "NULL"

        columns = [
            "m._id",
            "m.key_remote_jid",
            "m.key_from_me",
            "m.timestamp",
            "m.data",
            m("status"),
            m("remote_resource"),
            m("media_mime_type"),
            m("media_size"),
            m("media_name"),
            m("media_caption"),
            m("media_hash"),
            m("forwarded"),
            mm("file_path"),
            mm("file_size"),
            mm("mime_type"),
            mm("file_hash"),
            mm("media_name"),
            mm("media_caption"),
        ]
        join = "LEFT JOIN message_media AS mm ON mm.message_row_id = m._id" if media else ""
        return (
            f"SELECT {', '.join(columns)} FROM messages AS m {join} "  # noqa: S608
            "WHERE m._id > ? ORDER BY m._id"
        )


# Contacts --------------------------------------------------------------------------------------------


class WhatsAppContactsAndroid(ArtifactParser):
    NAME = "whatsapp-contacts-android"
    DESCRIPTION = (
        "WhatsApp for Android wa.db contacts (wa_contacts: JID, number, address-book and profile name)"
    )
    APP = "whatsapp"

    @classmethod
    def recognise(cls, schema: Schema) -> bool:
        return has_columns(schema, "wa_contacts", "jid", "is_whatsapp_user", "display_name", "wa_name")

    def parse(self, db: sqlite3.Connection, schema: Schema) -> Iterator[Record]:
        number = _column(schema, "wa_contacts", "c", "number")
        raw_contact = _column(schema, "wa_contacts", "c", "raw_contact_id")
        sql = (
            f"SELECT c.rowid, c.jid, c.is_whatsapp_user, {number}, {raw_contact}, c.display_name, c.wa_name "  # noqa: S608
            "FROM wa_contacts AS c WHERE c.rowid > ? ORDER BY c.rowid"
        )
        for row_id, jid, is_user, phone, raw_contact_id, display_name, wa_name in _stream(
            db, sql, "wa_contacts"
        ):
            jid_text = _text(jid)
            if jid_text is not None and not _is_person(jid_text):
                continue  # a group or broadcast list, listed with its subject as the name
            name = _text(display_name) or _text(wa_name)
            contact = _int(raw_contact_id)
            # Rows sharing an address-book entry (one card, several numbers) are one person.
            card = (
                f"raw_contact:{contact}" if contact is not None and contact > 0 else f"wa_contacts:{row_id}"
            )
            if jid_text is not None and _int(is_user):
                yield Identity(kind="whatsapp", value=jid_text, name=name, card=card, source=self.NAME)
            phone_text = _text(phone)
            if phone_text is not None:
                yield Identity(kind="phone", value=phone_text, name=name, card=card, source=self.NAME)
