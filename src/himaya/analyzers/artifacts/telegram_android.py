"""Telegram for Android (`org.telegram.messenger`): messages, accounts and chats in `files/cache4.db`.

Tables read (the older `messages` table is read only where `messages_v2` is absent):

- `messages_v2` / `messages`: `mid`, `uid` (the dialog), `date` (Unix seconds), `out` (1 sent), `data`
  (the message in TL, decoded by `tl.decode_message` for its sender, text, forward flag and media), and
  where present `media` and `is_channel`.
- `users`: `uid`, `name` (lower-cased search text, `first last;;;username`), `data` (TL User: names,
  username, phone, and the `self` flag of the phone's own account).
- `chats`: `uid`, `name`, `data` (TL Chat or Channel: the title, and whether the id is a channel's).
- `enc_chats` where present: a secret chat's `uid` and the `user` it is with.

Dialog ids: > 0 a user ("user:<id>", a direct chat); < 0 a basic group or a channel ("chat:<id>",
"channel:<id>", both group chats); 0x4000000000000000 | id a secret chat ("secret:<id>", direct; in the
old `messages` table, id << 32). A message's sender is the Telegram user id as the app writes it
("7000002"); a channel posting in its own name is "channel:<id>". Sent messages name the phone's own
account when the `users` table marks it (`self`), else none.

Limits: a blob `tl` cannot decode (an unknown layer, a secret chat's message, a reply quoting media,
truncated data) still yields the message from its columns, with no text, no forward flag and, for a
received group message, no sender. The media's path and hash are not in a form this module decodes:
media is reported by presence, with a document's MIME type, size and file name where the blob gives them.
Without a decodable blob, media presence comes from the `media` column, which holds 0 or 1 for a photo or
video (1 when it self-destructs) and -1 otherwise in `messages_v2` — but a channel post's view count
instead, so it is not read for channels. Group participants are not read (they sit in `chat_settings_v2`
as TL ChatFull), so group messages have no recipients.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from himaya.analyzers.artifacts.interface import (
    ArtifactParser,
    ChatMessage,
    Identity,
    MediaRef,
    Record,
    Schema,
    has_columns,
)
from himaya.analyzers.artifacts.tl import Peer, TlError, TlMessage, decode_chat, decode_message, decode_user

__all__ = ["TelegramAndroid"]

_MESSAGE_COLUMNS = ("mid", "uid", "date", "data", "out")
_SECRET_DIALOG = 0x4000000000000000
_LOW_32 = 0xFFFFFFFF

DialogKind = Literal["user", "chat", "channel", "secret"]


@dataclass(frozen=True)
class _Dialog:
    kind: DialogKind
    id: int

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass
class _Directory:
    """What the small tables say: names, the phone's own account, chat titles and kinds, secret chats."""

    user_names: dict[int, str] = field(default_factory=dict)
    owner: int | None = None
    chat_titles: dict[int, str] = field(default_factory=dict)
    channels: dict[int, bool] = field(default_factory=dict)  # chat id → is a channel, where known
    secret_users: dict[int, int] = field(default_factory=dict)  # secret chat id → user id


def _message_table(schema: Schema) -> str | None:
    for table in ("messages_v2", "messages"):
        if has_columns(schema, table, *_MESSAGE_COLUMNS):
            return table
    return None


class TelegramAndroid(ArtifactParser):
    NAME = "telegram-android"
    DESCRIPTION = "Telegram for Android (org.telegram.messenger) cache4.db: messages, accounts, chats"
    APP = "telegram"
    MESSAGE_TABLES = ("messages_v2", "messages")

    @classmethod
    def recognise(cls, schema: Schema) -> bool:
        return (
            _message_table(schema) is not None
            and has_columns(schema, "users", "uid", "name", "data")
            and has_columns(schema, "chats", "uid", "name", "data")
        )

    def parse(self, db: sqlite3.Connection, schema: Schema) -> Iterator[Record]:
        table = _message_table(schema)
        if table is None:
            return
        directory = _Directory()
        yield from self._users(db, directory)
        _read_chats(db, directory)
        if has_columns(schema, "enc_chats", "uid", "user"):
            _read_secret_chats(db, directory)
        yield from _Messages(table, schema, directory).read(db)

    def _users(self, db: sqlite3.Connection, directory: _Directory) -> Iterator[Identity]:
        for uid, name_column, data in db.execute("SELECT uid, name, data FROM users"):
            if not isinstance(uid, int):
                continue
            user = None
            if isinstance(data, bytes):
                try:
                    user = decode_user(data)
                except TlError:
                    user = None
            name = _search_name(name_column)
            if user is not None:
                name = " ".join(part for part in (user.first_name, user.last_name) if part) or name
                if user.is_self:
                    directory.owner = uid
            if name:
                directory.user_names[uid] = name
            card = f"user:{uid}"
            yield Identity("telegram", str(uid), name=name, card=card, source=self.NAME)
            if user is not None and user.phone:
                yield Identity("phone", user.phone, name=name, card=card, source=self.NAME)
            if user is not None and user.username:
                yield Identity("telegram-username", user.username, name=name, card=card, source=self.NAME)


def _search_name(value: object) -> str | None:
    """The name part of the `name` column's search text (lower case, as Telegram stores it)."""
    if not isinstance(value, str):
        return None
    return value.split(";;;", 1)[0].strip() or None


def _read_chats(db: sqlite3.Connection, directory: _Directory) -> None:
    for uid, name_column, data in db.execute("SELECT uid, name, data FROM chats"):
        if not isinstance(uid, int):
            continue
        title = _search_name(name_column)
        if isinstance(data, bytes):
            try:
                chat = decode_chat(data)
            except TlError:
                chat = None
            if chat is not None:
                title = chat.title or title
                directory.channels[uid] = chat.is_channel
        if title:
            directory.chat_titles[uid] = title


def _read_secret_chats(db: sqlite3.Connection, directory: _Directory) -> None:
    for uid, user in db.execute("SELECT uid, user FROM enc_chats"):
        if isinstance(uid, int) and isinstance(user, int):
            directory.secret_users[uid] = user


def _time(seconds: object) -> datetime | None:
    if isinstance(seconds, int) and 0 < seconds < 2**32:
        return datetime.fromtimestamp(seconds, tz=UTC)
    return None


def _sender(peer: Peer) -> str:
    return str(peer.id) if peer.kind == "user" else f"{peer.kind}:{peer.id}"


class _Messages:
    """Reads one message table row by row; a dialog's chat kind, once learnt from a blob, is kept."""

    def __init__(self, table: str, schema: Schema, directory: _Directory) -> None:
        self.table = table
        self.legacy = table == "messages"
        self.directory = directory
        self.has_media = has_columns(schema, table, "media")
        self.has_is_channel = has_columns(schema, table, "is_channel")
        self.learnt_channels: dict[int, bool] = {}

    def read(self, db: sqlite3.Connection) -> Iterator[ChatMessage]:
        media = "media" if self.has_media else "NULL"
        is_channel = "is_channel" if self.has_is_channel else "NULL"
        query = f"SELECT mid, uid, date, data, out, {media}, {is_channel} FROM {self.table}"  # noqa: S608
        for mid, uid, date, data, out, media_column, is_channel_column in db.execute(query):
            if not isinstance(mid, int) or not isinstance(uid, int) or uid == 0:
                continue
            decoded = None
            if isinstance(data, bytes):
                try:
                    decoded = decode_message(data)
                except TlError:
                    decoded = None
            yield self._message(mid, uid, date, out, media_column, is_channel_column, decoded)

    def _dialog(self, uid: int, is_channel_column: object, decoded: TlMessage | None) -> _Dialog:
        if uid > 0:
            if uid & _SECRET_DIALOG:
                return _Dialog("secret", uid & _LOW_32)
            if self.legacy and uid & _LOW_32 == 0:
                return _Dialog("secret", uid >> 32)
            return _Dialog("user", uid)
        chat_id = -uid
        known = self.directory.channels.get(chat_id)
        peer = decoded.peer_id if decoded is not None else None
        if known is None and peer is not None and peer.id == chat_id and peer.kind in ("chat", "channel"):
            self.learnt_channels[chat_id] = peer.kind == "channel"
        if known is None:
            known = self.learnt_channels.get(chat_id)
        if known is None:
            known = is_channel_column == 1  # 1 only ever marks a channel; 0 does not rule one out
        return _Dialog("channel" if known else "chat", chat_id)

    def _message(
        self,
        mid: int,
        uid: int,
        date: object,
        out: object,
        media_column: object,
        is_channel_column: object,
        decoded: TlMessage | None,
    ) -> ChatMessage:
        dialog = self._dialog(uid, is_channel_column, decoded)
        sent = out == 1 if isinstance(out, int) else (decoded is not None and decoded.out)
        owner = str(self.directory.owner) if self.directory.owner is not None else None
        direct_user: int | None = None
        if dialog.kind == "user":
            direct_user = dialog.id
        elif dialog.kind == "secret":
            direct_user = self.directory.secret_users.get(dialog.id)

        sender: str | None
        recipients: tuple[str, ...] = ()
        if sent:
            sender = owner
            if direct_user is not None:
                recipients = (str(direct_user),)
        elif decoded is not None and decoded.from_id is not None:
            sender = _sender(decoded.from_id)
        elif direct_user is not None:
            sender = str(direct_user)
        elif decoded is not None and dialog.kind == "channel":
            sender = dialog.key  # a channel post carries no from_id: the channel wrote it
        else:
            sender = None

        if dialog.kind in ("user", "secret"):
            chat_name = self.directory.user_names.get(direct_user) if direct_user is not None else None
        else:
            chat_name = self.directory.chat_titles.get(dialog.id)

        return ChatMessage(
            app=TelegramAndroid.APP,
            source_row=f"message:{uid}:{mid}",
            chat=dialog.key,
            chat_type="direct" if dialog.kind in ("user", "secret") else "group",
            direction="sent" if sent else "received",
            sender=sender,
            recipients=recipients,
            time_utc=_time(date) or (_time(decoded.date) if decoded is not None else None),
            text=(decoded.text or None) if decoded is not None else None,
            media=self._media(dialog, media_column, decoded),
            forwarded=decoded is not None and decoded.forwarded,
            chat_name=chat_name,
        )

    def _media(self, dialog: _Dialog, media_column: object, decoded: TlMessage | None) -> MediaRef | None:
        if decoded is not None:
            if decoded.media is None:
                return None
            return MediaRef(mime=decoded.media.mime, size=decoded.media.size, name=decoded.media.name)
        # The column's meaning (0/1 a photo or video, -1 none) is that of `messages_v2`; on a channel it
        # holds the post's view count instead.
        if not self.legacy and dialog.kind != "channel" and media_column in (0, 1):
            return MediaRef()
        return None
