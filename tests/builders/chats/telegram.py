"""Telegram for Android's `files/cache4.db`, with a tiny TL writer for its message, user and chat blobs.

The writer's constructor ids and layouts are written here from the TL schema, not imported from
`himaya.analyzers.artifacts.tl`, so a wrong id or field order in the reader fails a test instead of
agreeing with itself. Telegram for Android appends local fields after a message's TL fields (the
attachment path, `writeAttachPath`); the writer appends one too.

`build_cache4` writes the current tables (`messages_v2`, `users`, `chats`, `dialogs`, `enc_chats`,
`media_v4`) with ids in separate ranges: users 7000001+, chats 8000001+, secret chats 9500001+, messages
101+. The newest message lives only in the `-wal` file. Scenario (all names and numbers made up):

- the phone's own account, Rami Haddad (marked `self`), and two contacts, Lina Saleh and Omar Nasser
  (Omar's TL blob is unreadable: his name comes from the lower-cased `name` column);
- a direct chat with Lina: a sent text, a received reply (an older layout, no flags2), a received photo
  with a caption, a received video document with a file name, a received forwarded message, and the sent
  message in the WAL;
- a basic group "Football Friday": a message from Omar (replying with a quote) and one sent by the owner;
- a broadcast channel post (no sender: the channel wrote it; its `media` column holds a view count);
- a direct chat with Omar whose blob is truncated (read from the columns only);
- a secret chat with Lina whose blob is not decodable, with a photo by the `media` column.

Telegram keeps no media path in a form the parser decodes, so there are no media files to lay out here;
the video's file name (`VIDEO_NAME`) is what a later stage could look for.
"""

from __future__ import annotations

import sqlite3
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from himaya.analyzers.artifacts.interface import ChatMessage, Identity, MediaRef
from tests.builders.chats.sqlite_files import write_database

# --- TL writer -------------------------------------------------------------------------------------------

VECTOR = 0x1CB5C415
# message#... constructors by whether a second flags word follows the first (TL schema, layers 135-216).
MESSAGE_WITH_FLAGS2 = (0x2357BF25, 0xBDE09C2E, 0x94345242, 0x96FDBBE9, 0xEABCDD4D, 0x9815CEC8, 0xB92F76CF)
MESSAGE_WITHOUT_FLAGS2 = (0x85D6CBE2, 0x38116EE0, 0x76BEC211, 0x1E4C8A69, 0xA66C7EFC)
MESSAGE_CURRENT = 0x94345242
MESSAGE_OLD = 0x38116EE0
USER_CURRENT = 0x215C4438  # with flags2
USER_OLD = 0x5D99ADEE  # without flags2


class TlWriter:
    """Appends TL values; `value()` is the serialized bytes."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def int32(self, value: int) -> TlWriter:
        self._parts.append(struct.pack("<i", value))
        return self

    def uint32(self, value: int) -> TlWriter:
        self._parts.append(struct.pack("<I", value))
        return self

    def int64(self, value: int) -> TlWriter:
        self._parts.append(struct.pack("<q", value))
        return self

    def double(self, value: float) -> TlWriter:
        self._parts.append(struct.pack("<d", value))
        return self

    def raw(self, data: bytes) -> TlWriter:
        self._parts.append(data)
        return self

    def blob(self, data: bytes) -> TlWriter:
        header = bytes([len(data)]) if len(data) < 254 else b"\xfe" + len(data).to_bytes(3, "little")
        body = header + data
        self._parts.append(body + b"\x00" * (-len(body) % 4))
        return self

    def string(self, text: str) -> TlWriter:
        return self.blob(text.encode("utf-8"))

    def vector(self, items: list[bytes]) -> TlWriter:
        self.uint32(VECTOR).uint32(len(items))
        self._parts.extend(items)
        return self

    def value(self) -> bytes:
        return b"".join(self._parts)


def peer_user(user_id: int) -> bytes:
    return TlWriter().uint32(0x59511722).int64(user_id).value()


def peer_chat(chat_id: int) -> bytes:
    return TlWriter().uint32(0x36C6019A).int64(chat_id).value()


def peer_channel(channel_id: int) -> bytes:
    return TlWriter().uint32(0xA2A5371E).int64(channel_id).value()


def fwd_header(*, date: int, from_peer: bytes | None = None, from_name: str | None = None) -> bytes:
    """messageFwdHeader#4e4df4bb flags from_id:flags.0?Peer from_name:flags.5?string date:int ..."""
    flags = (1 if from_peer is not None else 0) | (1 << 5 if from_name is not None else 0)
    writer = TlWriter().uint32(0x4E4DF4BB).uint32(flags)
    if from_peer is not None:
        writer.raw(from_peer)
    if from_name is not None:
        writer.string(from_name)
    return writer.int32(date).value()


def reply_header(reply_to_msg_id: int, *, quote: str | None = None) -> bytes:
    """messageReplyHeader#6917560b flags reply_to_msg_id:flags.4?int ... quote_text:flags.6?string
    quote_offset:flags.10?int (quote:flags.9?true)."""
    flags = 1 << 4
    if quote is not None:
        flags |= (1 << 6) | (1 << 9) | (1 << 10)
    writer = TlWriter().uint32(0x6917560B).uint32(flags).int32(reply_to_msg_id)
    if quote is not None:
        writer.string(quote).int32(0)
    return writer.value()


def old_reply_header(reply_to_msg_id: int) -> bytes:
    """messageReplyHeader#a6d57763 flags reply_to_msg_id:int reply_to_peer_id:flags.0?Peer ..."""
    return TlWriter().uint32(0xA6D57763).uint32(0).int32(reply_to_msg_id).value()


def media_empty() -> bytes:
    return TlWriter().uint32(0x3DED6320).value()


def photo_media(photo_id: int, date: int) -> bytes:
    """messageMediaPhoto#695150d7 holding photo#fb197a65 with a stripped and a full-size PhotoSize."""
    sizes = [
        TlWriter().uint32(0xE0B0BC2E).string("i").blob(b"\x01\x28\x1e" + bytes(range(40))).value(),
        TlWriter().uint32(0x75C78E60).string("y").int32(1280).int32(960).int32(183_204).value(),
    ]
    photo = (
        TlWriter()
        .uint32(0xFB197A65)
        .uint32(0)
        .int64(photo_id)
        .int64(0x1234_5678_9ABC)
        .blob(b"\x02" * 29)
        .int32(date)
        .vector(sizes)
        .int32(4)
        .value()
    )
    return TlWriter().uint32(0x695150D7).uint32(1).raw(photo).value()


def document_media(
    *, document_id: int, date: int, mime: str, size: int, name: str | None, video: bool = True
) -> bytes:
    """messageMediaDocument#52d8ccd9 holding document#8fd4c4d8: thumbs (stripped + photoSize), then the
    attributes (a video attribute before the file name, so the reader has to walk past one)."""
    thumbs = [
        TlWriter().uint32(0xE0B0BC2E).string("i").blob(b"\x01\x28\x16" + bytes(30)).value(),
        TlWriter().uint32(0x75C78E60).string("m").int32(320).int32(180).int32(9_876).value(),
    ]
    attributes = []
    if video:
        attributes.append(
            TlWriter()
            .uint32(0x43C57C48)
            .uint32((1 << 1) | (1 << 2))
            .double(12.5)
            .int32(1280)
            .int32(720)
            # preload_prefix_size (flags.2)
            .int32(65_536)
            .value()
        )
    if name is not None:
        attributes.append(TlWriter().uint32(0x15590068).string(name).value())
    document = (
        TlWriter()
        .uint32(0x8FD4C4D8)
        .uint32(1)  # thumbs present
        .int64(document_id)
        .int64(0x0BAD_F00D)
        .blob(b"\x03" * 29)
        .int32(date)
        .string(mime)
        .int64(size)
        .vector(thumbs)
        .int32(2)  # dc_id
        .vector(attributes)
        .value()
    )
    flags = 1 | (1 << 6 if video else 0)
    return TlWriter().uint32(0x52D8CCD9).uint32(flags).raw(document).value()


def message(
    *,
    message_id: int,
    peer: bytes,
    date: int,
    text: str,
    out: bool = False,
    from_peer: bytes | None = None,
    fwd: bytes | None = None,
    reply: bytes | None = None,
    media: bytes | None = None,
    constructor: int = MESSAGE_CURRENT,
    attach_path: str = " ",
) -> bytes:
    """A TL message in the layout of `constructor` (one of MESSAGE_WITH_FLAGS2 / MESSAGE_WITHOUT_FLAGS2),
    then the attachment path Telegram for Android writes after it."""
    if constructor not in MESSAGE_WITH_FLAGS2 and constructor not in MESSAGE_WITHOUT_FLAGS2:
        raise ValueError(f"no layout for {constructor:#010x}")
    flags = (
        (1 << 1 if out else 0)
        | (1 << 2 if fwd is not None else 0)
        | (1 << 3 if reply is not None else 0)
        | (1 << 8 if from_peer is not None else 0)
        | (1 << 9 if media is not None else 0)
    )
    writer = TlWriter().uint32(constructor).uint32(flags)
    if constructor in MESSAGE_WITH_FLAGS2:
        writer.uint32(0)
    writer.int32(message_id)
    for part in (from_peer, peer, fwd, reply):
        if part is not None:
            writer.raw(part)
    writer.int32(date).string(text)
    if media is not None:
        writer.raw(media)
    return writer.string(attach_path).value()


def user(
    *,
    user_id: int,
    first_name: str | None,
    last_name: str | None = None,
    username: str | None = None,
    phone: str | None = None,
    is_self: bool = False,
    constructor: int = USER_CURRENT,
) -> bytes:
    """user#215c4438 (flags, flags2) or user#5d99adee (flags only): id, access_hash, names, phone, then a
    userStatusRecently so that bytes follow the fields the reader wants."""
    fields = (first_name, last_name, username, phone)
    flags = 1 | (1 << 6) | (1 << 10 if is_self else 0) | (1 << 11)  # access_hash, status, self, contact
    for bit, value in zip((1, 2, 3, 4), fields, strict=True):
        if value is not None:
            flags |= 1 << bit
    writer = TlWriter().uint32(constructor).uint32(flags)
    if constructor == USER_CURRENT:
        writer.uint32(0)
    writer.int64(user_id).int64(0x5EED_0000 + user_id)
    for value in fields:
        if value is not None:
            writer.string(value)
    return writer.uint32(0x7B197DC8).uint32(0).value()  # userStatusRecently#7b197dc8 flags


def chat(*, chat_id: int, title: str) -> bytes:
    """chat#41cbf256 flags id title photo:chatPhotoEmpty participants_count date version."""
    return (
        TlWriter()
        .uint32(0x41CBF256)
        .uint32(1)
        .int64(chat_id)
        .string(title)
        .uint32(0x37C1011C)
        # participants_count, date, version
        .int32(3)
        .int32(BASE_DATE - 86_400)
        .int32(1)
        .value()
    )


def channel(*, channel_id: int, title: str, username: str | None = None) -> bytes:
    """channel#1c32b11c flags flags2 id access_hash:flags.13 title username:flags.6 photo date (broadcast)."""
    flags = (1 << 5) | (1 << 13) | (1 << 6 if username is not None else 0)
    writer = (
        TlWriter().uint32(0x1C32B11C).uint32(flags).uint32(0).int64(channel_id).int64(0xC0FFEE).string(title)
    )
    if username is not None:
        writer.string(username)
    return writer.uint32(0x37C1011C).int32(BASE_DATE - 172_800).value()


# --- Scenario ----------------------------------------------------------------------------------------------

BASE_DATE = 1_700_000_000  # 2023-11-14 22:13:20 UTC

OWNER_ID = 7000001
OWNER_NAME = "Rami Haddad"
OWNER_PHONE = "962790000001"
LINA_ID = 7000002
LINA_NAME = "Lina Saleh"
LINA_PHONE = "962790000002"
LINA_USERNAME = "lina_saleh_demo"
OMAR_ID = 7000003
OMAR_COLUMN_NAME = "omar nasser"  # from users.name: his blob does not decode

GROUP_ID = 8000001
GROUP_TITLE = "Football Friday"
CHANNEL_ID = 8000002
CHANNEL_TITLE = "Amman Weather Notes"
SECRET_CHAT_ID = 9500001
SECRET_DIALOG = 0x4000000000000000 | SECRET_CHAT_ID

MID_SENT = 101
MID_REPLY = 102
MID_PHOTO = 103
MID_VIDEO = 104
MID_GROUP_RECEIVED = 105
MID_GROUP_SENT = 106
MID_FORWARDED = 107
MID_TRUNCATED = 108
MID_CHANNEL = 109
MID_SECRET = 110
MID_WAL = 111

TEXT_SENT = "Are you coming to the match tonight?"
TEXT_REPLY = "Yes, see you at eight."
PHOTO_CAPTION = "The stadium from our seats"
TEXT_GROUP_RECEIVED = "Who brings the ball?"
TEXT_GROUP_SENT = "I will bring it."
TEXT_FORWARDED = "Kick-off moved to 20:30"
TEXT_CHANNEL = "Sunny, 31 degrees"
TEXT_WAL = "On my way."
VIDEO_NAME = "beach_day.mp4"
VIDEO_MIME = "video/mp4"
VIDEO_SIZE = 1_234_567
CHANNEL_VIEWS = 57  # the channel post's `media` column

CHATS = {
    "lina": f"user:{LINA_ID}",
    "omar": f"user:{OMAR_ID}",
    "group": f"chat:{GROUP_ID}",
    "channel": f"channel:{CHANNEL_ID}",
    "secret": f"secret:{SECRET_CHAT_ID}",
}


def _date(mid: int) -> int:
    return BASE_DATE + (mid - 100) * 60


def source_row(uid: int, mid: int) -> str:
    return f"message:{uid}:{mid}"


# Message rows: mid, uid, out, data, media column, is_channel.
_Row = tuple[int, int, int, bytes | None, int, int]


def _truncated_blob() -> bytes:
    whole = message(message_id=MID_TRUNCATED, peer=peer_user(OMAR_ID), date=_date(MID_TRUNCATED), text="lost")
    return whole[:13]  # inside the peer: constructor, flags, flags2, id, one byte


def _message_rows() -> list[_Row]:
    lina, group = peer_user(LINA_ID), peer_chat(GROUP_ID)
    return [
        (
            MID_SENT,
            LINA_ID,
            1,
            message(
                message_id=MID_SENT,
                peer=lina,
                date=_date(MID_SENT),
                text=TEXT_SENT,
                out=True,
                media=media_empty(),  # Telegram for Android gives sent text an empty media
            ),
            -1,
            0,
        ),
        (
            MID_REPLY,
            LINA_ID,
            0,
            message(
                message_id=MID_REPLY,
                peer=peer_user(OWNER_ID),
                date=_date(MID_REPLY),
                text=TEXT_REPLY,
                from_peer=lina,
                reply=old_reply_header(MID_SENT),
                constructor=MESSAGE_OLD,
            ),
            -1,
            0,
        ),
        (
            MID_PHOTO,
            LINA_ID,
            0,
            message(
                message_id=MID_PHOTO,
                peer=peer_user(OWNER_ID),
                date=_date(MID_PHOTO),
                text=PHOTO_CAPTION,
                from_peer=lina,
                media=photo_media(5_000_001, _date(MID_PHOTO)),
                constructor=0xB92F76CF,
            ),
            0,
            0,
        ),
        (
            MID_VIDEO,
            LINA_ID,
            0,
            message(
                message_id=MID_VIDEO,
                peer=peer_user(OWNER_ID),
                date=_date(MID_VIDEO),
                text="",
                from_peer=lina,
                media=document_media(
                    document_id=6_000_001,
                    date=_date(MID_VIDEO),
                    mime=VIDEO_MIME,
                    size=VIDEO_SIZE,
                    name=VIDEO_NAME,
                ),
            ),
            0,
            0,
        ),
        (
            MID_GROUP_RECEIVED,
            -GROUP_ID,
            0,
            message(
                message_id=MID_GROUP_RECEIVED,
                peer=group,
                date=_date(MID_GROUP_RECEIVED),
                text=TEXT_GROUP_RECEIVED,
                from_peer=peer_user(OMAR_ID),
                reply=reply_header(MID_GROUP_SENT - 10, quote="the ball"),
                constructor=0x96FDBBE9,
            ),
            -1,
            0,
        ),
        (
            MID_GROUP_SENT,
            -GROUP_ID,
            1,
            message(
                message_id=MID_GROUP_SENT,
                peer=group,
                date=_date(MID_GROUP_SENT),
                text=TEXT_GROUP_SENT,
                out=True,
                from_peer=peer_user(OWNER_ID),
            ),
            -1,
            0,
        ),
        (
            MID_FORWARDED,
            LINA_ID,
            0,
            message(
                message_id=MID_FORWARDED,
                peer=peer_user(OWNER_ID),
                date=_date(MID_FORWARDED),
                text=TEXT_FORWARDED,
                from_peer=lina,
                fwd=fwd_header(date=_date(MID_FORWARDED) - 3_600, from_peer=peer_user(OMAR_ID)),
                constructor=0x2357BF25,
            ),
            -1,
            0,
        ),
        (MID_TRUNCATED, OMAR_ID, 0, _truncated_blob(), -1, 0),
        (
            MID_CHANNEL,
            -CHANNEL_ID,
            0,
            message(
                message_id=MID_CHANNEL,
                peer=peer_channel(CHANNEL_ID),
                date=_date(MID_CHANNEL),
                text=TEXT_CHANNEL,
            ),
            CHANNEL_VIEWS,
            1,
        ),
        # A secret chat's message: Telegram's local TL_message_secret layout, which is not decoded.
        (MID_SECRET, SECRET_DIALOG, 0, b"\xf9\x55\x55\x55" + bytes(range(60)), 0, 0),
    ]


def _wal_rows() -> list[_Row]:
    blob = message(message_id=MID_WAL, peer=peer_user(LINA_ID), date=_date(MID_WAL), text=TEXT_WAL, out=True)
    return [(MID_WAL, LINA_ID, 1, blob, -1, 0)]


SCHEMA_SQL = """
CREATE TABLE messages_v2(mid INTEGER, uid INTEGER, read_state INTEGER, send_state INTEGER, date INTEGER,
    data BLOB, out INTEGER, ttl INTEGER, media INTEGER, replydata BLOB, imp INTEGER, mention INTEGER,
    forwards INTEGER, replies_data BLOB, thread_reply_id INTEGER, is_channel INTEGER,
    reply_to_message_id INTEGER, custom_params BLOB, group_id INTEGER, reply_to_story_id INTEGER,
    PRIMARY KEY(mid, uid));
CREATE INDEX uid_mid_read_out_idx_messages_v2 ON messages_v2(uid, mid, read_state, out);
CREATE INDEX uid_date_mid_idx_messages_v2 ON messages_v2(uid, date, mid);
CREATE TABLE dialogs(did INTEGER PRIMARY KEY, date INTEGER, unread_count INTEGER, last_mid INTEGER,
    inbox_max INTEGER, outbox_max INTEGER, last_mid_i INTEGER, unread_count_i INTEGER, pts INTEGER,
    date_i INTEGER, pinned INTEGER, flags INTEGER, folder_id INTEGER, data BLOB, unread_reactions INTEGER,
    last_mid_group INTEGER, ttl_period INTEGER, unread_poll_votes INTEGER);
CREATE TABLE media_v4(mid INTEGER, uid INTEGER, date INTEGER, type INTEGER, data BLOB,
    PRIMARY KEY(mid, uid, type));
CREATE TABLE users_data(uid INTEGER PRIMARY KEY, about TEXT);
CREATE TABLE users(uid INTEGER PRIMARY KEY, name TEXT, status INTEGER, data BLOB);
CREATE TABLE chats(uid INTEGER PRIMARY KEY, name TEXT, data BLOB);
CREATE TABLE enc_chats(uid INTEGER PRIMARY KEY, user INTEGER, name TEXT, data BLOB, g BLOB, authkey BLOB,
    ttl INTEGER, layer INTEGER, seq_in INTEGER, seq_out INTEGER, use_count INTEGER, exchange_id INTEGER,
    key_date INTEGER, fprint INTEGER, fauthkey BLOB, khash BLOB, in_seq_no INTEGER, admin_id INTEGER,
    mtproto_seq INTEGER);
CREATE TABLE contacts(uid INTEGER PRIMARY KEY, mutual INTEGER);
"""


def _insert_messages(db: sqlite3.Connection, rows: list[_Row]) -> None:
    for mid, uid, out, data, media, is_channel in rows:
        db.execute(
            "INSERT INTO messages_v2 (mid, uid, read_state, send_state, date, data, out, ttl, media, imp, "
            "mention, forwards, thread_reply_id, is_channel, reply_to_message_id, group_id, "
            "reply_to_story_id) VALUES (?, ?, 3, 0, ?, ?, ?, 0, ?, 0, 0, 0, 0, ?, 0, 0, 0)",
            (mid, uid, _date(mid), data, out, media, is_channel),
        )


def _fill(db: sqlite3.Connection) -> None:
    db.executemany(
        "INSERT INTO users (uid, name, status, data) VALUES (?, ?, ?, ?)",
        [
            (
                OWNER_ID,
                "rami haddad",
                BASE_DATE,
                user(
                    user_id=OWNER_ID, first_name="Rami", last_name="Haddad", phone=OWNER_PHONE, is_self=True
                ),
            ),
            (
                LINA_ID,
                f"lina saleh;;;{LINA_USERNAME}",
                BASE_DATE,
                user(
                    user_id=LINA_ID,
                    first_name="Lina",
                    last_name="Saleh",
                    username=LINA_USERNAME,
                    phone=LINA_PHONE,
                    constructor=USER_OLD,
                ),
            ),
            (OMAR_ID, OMAR_COLUMN_NAME, 0, b"\x00\x01\x02"),
        ],
    )
    db.executemany(
        "INSERT INTO chats (uid, name, data) VALUES (?, ?, ?)",
        [
            (GROUP_ID, GROUP_TITLE.lower(), chat(chat_id=GROUP_ID, title=GROUP_TITLE)),
            (CHANNEL_ID, CHANNEL_TITLE.lower(), channel(channel_id=CHANNEL_ID, title=CHANNEL_TITLE)),
        ],
    )
    db.execute(
        "INSERT INTO enc_chats (uid, user, name, data, ttl, layer, admin_id) VALUES (?, ?, '', ?, 0, 144, ?)",
        (SECRET_CHAT_ID, LINA_ID, b"\x00" * 16, OWNER_ID),
    )
    db.executemany("INSERT INTO contacts (uid, mutual) VALUES (?, 1)", [(LINA_ID,), (OMAR_ID,)])
    for did, last_mid in (
        (LINA_ID, MID_FORWARDED),
        (OMAR_ID, MID_TRUNCATED),
        (-GROUP_ID, MID_GROUP_SENT),
        (-CHANNEL_ID, MID_CHANNEL),
        (SECRET_DIALOG, MID_SECRET),
    ):
        db.execute(
            "INSERT INTO dialogs (did, date, unread_count, last_mid, inbox_max, outbox_max, pinned, flags, "
            "folder_id) VALUES (?, ?, 0, ?, ?, ?, 0, 0, 0)",
            (did, _date(last_mid), last_mid, last_mid, last_mid),
        )
    rows = _message_rows()
    _insert_messages(db, rows)
    for mid, uid, _out, data, _media, _channel in rows:
        if mid in (MID_PHOTO, MID_VIDEO):
            db.execute(
                "INSERT INTO media_v4 (mid, uid, date, type, data) VALUES (?, ?, ?, 0, ?)",
                (mid, uid, _date(mid), data),
            )


def build_cache4(path: Path) -> Path:
    """`path` (and `path`-wal, holding the newest message) in the layout of current Telegram for Android."""
    return write_database(path, SCHEMA_SQL, _fill, newest=lambda db: _insert_messages(db, _wal_rows()))


def _time(mid: int) -> datetime:
    return datetime.fromtimestamp(_date(mid), tz=UTC)


def expected_messages() -> dict[str, ChatMessage]:
    """Every message `build_cache4` writes, as the parser must yield it, by `source_row`."""
    lina, omar, owner = str(LINA_ID), str(OMAR_ID), str(OWNER_ID)

    def direct(mid: int, uid: int, **fields: Any) -> ChatMessage:
        name = LINA_NAME if uid in (LINA_ID, SECRET_DIALOG) else OMAR_COLUMN_NAME
        chat = CHATS["secret"] if uid == SECRET_DIALOG else f"user:{uid}"
        return ChatMessage(
            app="telegram",
            source_row=source_row(uid, mid),
            chat=chat,
            chat_type="direct",
            time_utc=_time(mid),
            chat_name=name,
            **fields,
        )

    def group(mid: int, uid: int, **fields: Any) -> ChatMessage:
        return ChatMessage(
            app="telegram",
            source_row=source_row(uid, mid),
            chat=CHATS["group"] if uid == -GROUP_ID else CHATS["channel"],
            chat_type="group",
            time_utc=_time(mid),
            chat_name=GROUP_TITLE if uid == -GROUP_ID else CHANNEL_TITLE,
            **fields,
        )

    records = [
        direct(MID_SENT, LINA_ID, direction="sent", sender=owner, recipients=(lina,), text=TEXT_SENT),
        direct(MID_REPLY, LINA_ID, direction="received", sender=lina, text=TEXT_REPLY),
        direct(MID_PHOTO, LINA_ID, direction="received", sender=lina, text=PHOTO_CAPTION, media=MediaRef()),
        direct(
            MID_VIDEO,
            LINA_ID,
            direction="received",
            sender=lina,
            media=MediaRef(mime=VIDEO_MIME, size=VIDEO_SIZE, name=VIDEO_NAME),
        ),
        group(MID_GROUP_RECEIVED, -GROUP_ID, direction="received", sender=omar, text=TEXT_GROUP_RECEIVED),
        group(MID_GROUP_SENT, -GROUP_ID, direction="sent", sender=owner, text=TEXT_GROUP_SENT),
        direct(
            MID_FORWARDED, LINA_ID, direction="received", sender=lina, text=TEXT_FORWARDED, forwarded=True
        ),
        direct(MID_TRUNCATED, OMAR_ID, direction="received", sender=omar),
        group(MID_CHANNEL, -CHANNEL_ID, direction="received", sender=CHATS["channel"], text=TEXT_CHANNEL),
        direct(MID_SECRET, SECRET_DIALOG, direction="received", sender=lina, media=MediaRef()),
        direct(MID_WAL, LINA_ID, direction="sent", sender=owner, recipients=(lina,), text=TEXT_WAL),
    ]
    return {record.source_row: record for record in records}


def expected_identities() -> set[Identity]:
    source = "telegram-android"

    def card(user_id: int) -> str:
        return f"user:{user_id}"

    return {
        Identity("telegram", str(OWNER_ID), OWNER_NAME, card(OWNER_ID), source),
        Identity("phone", OWNER_PHONE, OWNER_NAME, card(OWNER_ID), source),
        Identity("telegram", str(LINA_ID), LINA_NAME, card(LINA_ID), source),
        Identity("phone", LINA_PHONE, LINA_NAME, card(LINA_ID), source),
        Identity("telegram-username", LINA_USERNAME, LINA_NAME, card(LINA_ID), source),
        Identity("telegram", str(OMAR_ID), OMAR_COLUMN_NAME, card(OMAR_ID), source),
    }


# --- Older and lookalike layouts -------------------------------------------------------------------------

LEGACY_SCHEMA_SQL = """
CREATE TABLE messages(mid INTEGER PRIMARY KEY, uid INTEGER, read_state INTEGER, send_state INTEGER,
    date INTEGER, data BLOB, out INTEGER, ttl INTEGER, media INTEGER, replydata BLOB, imp INTEGER,
    mention INTEGER);
CREATE TABLE users(uid INTEGER PRIMARY KEY, name TEXT, status INTEGER, data BLOB);
CREATE TABLE chats(uid INTEGER PRIMARY KEY, name TEXT, data BLOB);
CREATE TABLE enc_chats(uid INTEGER PRIMARY KEY, user INTEGER, name TEXT, data BLOB, g BLOB, authkey BLOB,
    ttl INTEGER, layer INTEGER, seq_in INTEGER, seq_out INTEGER, use_count INTEGER, exchange_id INTEGER,
    key_date INTEGER, fprint INTEGER, fauthkey BLOB, khash BLOB, in_seq_no INTEGER, admin_id INTEGER,
    mtproto_seq INTEGER);
CREATE TABLE dialogs(did INTEGER PRIMARY KEY, date INTEGER, unread_count INTEGER, last_mid INTEGER,
    inbox_max INTEGER, outbox_max INTEGER, last_mid_i INTEGER, unread_count_i INTEGER, pts INTEGER,
    date_i INTEGER);
"""
LEGACY_MID_DIRECT = 201
LEGACY_MID_SECRET = 202
LEGACY_SECRET_CHAT_ID = 9500002
LEGACY_SECRET_DIALOG = LEGACY_SECRET_CHAT_ID << 32  # the old scheme: the secret chat id in the high half
LEGACY_TEXT = "Old layout, still read."


def build_cache4_legacy(path: Path) -> Path:
    """A cache4.db from before `messages_v2`: the `messages` table, a direct and a secret message."""

    def fill(db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT INTO users VALUES (?, ?, 0, ?)",
            (LINA_ID, "lina saleh", user(user_id=LINA_ID, first_name="Lina", last_name="Saleh")),
        )
        db.execute(
            "INSERT INTO enc_chats (uid, user, name) VALUES (?, ?, '')", (LEGACY_SECRET_CHAT_ID, LINA_ID)
        )
        blob = message(
            message_id=LEGACY_MID_DIRECT,
            peer=peer_user(OWNER_ID),
            date=_date(LEGACY_MID_DIRECT),
            text=LEGACY_TEXT,
            from_peer=peer_user(LINA_ID),
            constructor=0x85D6CBE2,
        )
        for mid, uid, data in (
            (LEGACY_MID_DIRECT, LINA_ID, blob),
            (LEGACY_MID_SECRET, LEGACY_SECRET_DIALOG, b"\xf9\x55\x55\x55" + bytes(20)),
        ):
            db.execute(
                "INSERT INTO messages (mid, uid, read_state, send_state, date, data, out, ttl, media, imp, "
                "mention) VALUES (?, ?, 3, 0, ?, ?, 0, 0, -1, 0, 0)",
                (mid, uid, _date(mid), data),
            )

    return write_database(path, LEGACY_SCHEMA_SQL, fill)


# Databases that share words with cache4.db but not its layout: none may be recognised.
LOOKALIKE_SCHEMAS = {
    # A chat app with `messages` keyed by mid/uid, but its users carry no TL blob.
    "users-without-data": """
        CREATE TABLE messages(mid INTEGER PRIMARY KEY, uid INTEGER, date INTEGER, data BLOB, out INTEGER);
        CREATE TABLE users(uid INTEGER PRIMARY KEY, name TEXT, status INTEGER);
        CREATE TABLE chats(uid INTEGER PRIMARY KEY, name TEXT, data BLOB);
    """,
    # Telegram's scheduled-messages table alone (no `out` column), next to users and chats.
    "scheduled-only": """
        CREATE TABLE scheduled_messages_v2(mid INTEGER, uid INTEGER, send_state INTEGER, date INTEGER,
            data BLOB, ttl INTEGER, replydata BLOB, reply_to_message_id INTEGER, PRIMARY KEY(mid, uid));
        CREATE TABLE users(uid INTEGER PRIMARY KEY, name TEXT, status INTEGER, data BLOB);
        CREATE TABLE chats(uid INTEGER PRIMARY KEY, name TEXT, data BLOB);
    """,
    # messages_v2 without a `chats` table.
    "no-chats": """
        CREATE TABLE messages_v2(mid INTEGER, uid INTEGER, date INTEGER, data BLOB, out INTEGER,
            PRIMARY KEY(mid, uid));
        CREATE TABLE users(uid INTEGER PRIMARY KEY, name TEXT, status INTEGER, data BLOB);
    """,
}


def build_lookalike(path: Path, name: str) -> Path:
    return write_database(path, LOOKALIKE_SCHEMAS[name], lambda db: None)
