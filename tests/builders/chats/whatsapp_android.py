"""WhatsApp for Android databases: msgstore.db (2.23.x layout and the pre-2022 `messages` layout) and wa.db.

The CREATE TABLE statements carry the real apps' column sets (msgstore.db of WhatsApp 2.23.x, the
`messages` era of 2.20.x, wa.db of 2.23.x), a subset of the ~150 tables a real msgstore.db holds: those
the parsers read and their close neighbours. Every name and number is made up; pictures come from
`tests.builders.images`. Row ids live in separate ranges per table (messages 1001+, wa_contacts 3001+,
chats 5001+, group participants 7001+, jids 9001+) so that a join on the wrong column finds nothing.

The scenario (current layout), 2023-05-14 unless noted, times UTC:
- a direct chat with Rania: sent and received text; a sent picture whose caption is in the message text;
  a received picture; a forwarded picture; a picture whose file was deleted (row kept, file gone);
- the group "Chess Club Amman" with three members besides the owner (Omar, Lina, Sami; the owner is
  listed with an empty JID): a system message (not a message), Omar's text, Lina's picture sent from
  her LID (mapped to her phone JID by `jid_map`) with its caption only in `message_media`, and a text
  the owner sent;
- a status update from Rania;
- the newest two messages (2023-05-16) only in `msgstore.db-wal`.
wa.db knows Rania (two numbers on one address-book card), Omar and Lina by address-book name, Sami only
by his WhatsApp profile name, a number that is not on WhatsApp, and the group.
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import NamedTuple

from tests.builders.chats.sqlite_files import write_database
from tests.builders.images import photo_jpeg

# Schemas ---------------------------------------------------------------------------------------------

MESSAGE_TABLE = """
CREATE TABLE message (_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_row_id INTEGER NOT NULL,
    from_me INTEGER NOT NULL, key_id TEXT NOT NULL, sender_jid_row_id INTEGER, status INTEGER,
    broadcast INTEGER, recipient_count INTEGER, participant_hash TEXT, origination_flags INTEGER,
    origin INTEGER, timestamp INTEGER, received_timestamp INTEGER, receipt_server_timestamp INTEGER,
    message_type INTEGER, text_data TEXT, starred INTEGER, lookup_tables INTEGER,
    sort_id INTEGER NOT NULL DEFAULT 0, message_add_on_flags INTEGER, view_mode INTEGER);
"""

MESSAGE_MEDIA_TABLE = """
CREATE TABLE message_media (message_row_id INTEGER PRIMARY KEY, chat_row_id INTEGER,
    autotransfer_retry_enabled INTEGER, multicast_id TEXT, media_job_uuid TEXT, transferred INTEGER,
    transcoded INTEGER, file_path TEXT, file_size INTEGER, suspicious_content INTEGER, trim_from INTEGER,
    trim_to INTEGER, face_x INTEGER, face_y INTEGER, media_key BLOB, media_key_timestamp INTEGER,
    width INTEGER, height INTEGER, has_streaming_sidecar INTEGER, gif_attribution INTEGER,
    thumbnail_height_width_ratio REAL, direct_path TEXT, first_scan_sidecar BLOB,
    first_scan_length INTEGER, message_url TEXT, mime_type TEXT, file_length INTEGER, media_name TEXT,
    file_hash TEXT, media_duration INTEGER, page_count INTEGER, enc_file_hash TEXT,
    partial_media_hash TEXT, partial_media_enc_hash TEXT, is_animated_sticker INTEGER,
    original_file_hash TEXT, mute_video INTEGER DEFAULT 0, media_caption TEXT,
    media_upload_handle TEXT);
"""

CHAT_TABLE = """
CREATE TABLE chat (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid_row_id INTEGER UNIQUE, hidden INTEGER,
    subject TEXT, created_timestamp INTEGER, display_message_row_id INTEGER, last_message_row_id INTEGER,
    last_read_message_row_id INTEGER, last_read_receipt_sent_message_row_id INTEGER,
    last_important_message_row_id INTEGER, archived INTEGER, sort_timestamp INTEGER, mod_tag INTEGER,
    gen REAL, spam_detection INTEGER, unseen_earliest_message_received_time INTEGER,
    unseen_message_count INTEGER, unseen_missed_calls_count INTEGER, unseen_row_count INTEGER,
    plaintext_disabled INTEGER, vcard_ui_dismissed INTEGER, change_number_notified_message_row_id INTEGER,
    show_group_description INTEGER, ephemeral_expiration INTEGER,
    last_read_ephemeral_message_row_id INTEGER, ephemeral_setting_timestamp INTEGER,
    unseen_important_message_count INTEGER NOT NULL DEFAULT 0,
    ephemeral_disappearing_messages_initiator INTEGER, group_type INTEGER NOT NULL DEFAULT 0,
    last_message_reaction_row_id INTEGER, last_seen_message_reaction_row_id INTEGER,
    unseen_message_reaction_count INTEGER, growth_lock_level INTEGER, growth_lock_expiration_ts INTEGER,
    last_read_message_sort_id INTEGER, display_message_sort_id INTEGER, last_message_sort_id INTEGER,
    last_read_receipt_sent_message_sort_id INTEGER,
    has_new_community_admin_dialog_been_acknowledged INTEGER NOT NULL DEFAULT 0,
    history_sync_progress INTEGER, ephemeral_displayed_exemptions INTEGER, chat_lock INTEGER);
"""

JID_TABLE = """
CREATE TABLE jid (_id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, server TEXT NOT NULL,
    agent INTEGER, device INTEGER, type INTEGER, raw_string TEXT);
CREATE UNIQUE INDEX jid_raw_string_index ON jid (raw_string);
"""

CURRENT_SCHEMA = (
    MESSAGE_TABLE
    + MESSAGE_MEDIA_TABLE
    + CHAT_TABLE
    + JID_TABLE
    + """
CREATE UNIQUE INDEX message_key_index ON message (chat_row_id, from_me, key_id, sender_jid_row_id);
CREATE TABLE jid_map (lid_row_id INTEGER PRIMARY KEY NOT NULL, jid_row_id INTEGER NOT NULL, sort_id INTEGER);
CREATE TABLE message_forwarded (message_row_id INTEGER PRIMARY KEY, forward_score INTEGER);
CREATE TABLE message_system (message_row_id INTEGER PRIMARY KEY, action_type INTEGER NOT NULL);
CREATE TABLE message_system_group (message_row_id INTEGER PRIMARY KEY, is_me_joined INTEGER);
CREATE TABLE message_quoted (message_row_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_row_id INTEGER NOT NULL,
    parent_message_chat_row_id INTEGER NOT NULL, from_me INTEGER NOT NULL, sender_jid_row_id INTEGER,
    key_id TEXT NOT NULL, timestamp INTEGER, message_type INTEGER, origin INTEGER, text_data TEXT,
    payment_transaction_id TEXT, lookup_tables INTEGER);
CREATE TABLE message_revoked (message_row_id INTEGER PRIMARY KEY, revoked_key_id TEXT NOT NULL,
    admin_jid_row_id INTEGER, revoke_timestamp INTEGER);
CREATE TABLE message_thumbnail (message_row_id INTEGER PRIMARY KEY, thumbnail BLOB);
CREATE TABLE group_participant_user (_id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_jid_row_id INTEGER NOT NULL, user_jid_row_id INTEGER NOT NULL, rank INTEGER, pending INTEGER);
CREATE UNIQUE INDEX group_participant_user_index
    ON group_participant_user (group_jid_row_id, user_jid_row_id);
CREATE TABLE group_participant_device (_id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_participant_row_id INTEGER NOT NULL, device_jid_row_id INTEGER NOT NULL, sent_sender_key INTEGER);
CREATE TABLE props (_id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE, value TEXT);
"""
)

LEGACY_MESSAGES_TABLE = """
CREATE TABLE messages (_id INTEGER PRIMARY KEY AUTOINCREMENT, key_remote_jid TEXT NOT NULL,
    key_from_me INTEGER, key_id TEXT NOT NULL, status INTEGER, needs_push INTEGER, data TEXT,
    timestamp INTEGER, media_url TEXT, media_mime_type TEXT, media_wa_type TEXT, media_size INTEGER,
    media_name TEXT, media_caption TEXT, media_hash TEXT, media_duration INTEGER, origin INTEGER,
    latitude REAL, longitude REAL, thumb_image TEXT, remote_resource TEXT, received_timestamp INTEGER,
    send_timestamp INTEGER, receipt_server_timestamp INTEGER, receipt_device_timestamp INTEGER,
    read_device_timestamp INTEGER, played_device_timestamp INTEGER, raw_data BLOB,
    recipient_count INTEGER, participant_hash TEXT, starred INTEGER, quoted_row_id INTEGER,
    mentioned_jids TEXT, multicast_id TEXT, edit_version INTEGER, media_enc_hash TEXT,
    payment_transaction_id TEXT, forwarded INTEGER, preview_type INTEGER, send_count INTEGER,
    lookup_tables INTEGER, future_message_type INTEGER, message_add_on_flags INTEGER);
CREATE UNIQUE INDEX messages_key_index ON messages (key_remote_jid, key_from_me, key_id);
"""

LEGACY_SCHEMA = (
    LEGACY_MESSAGES_TABLE
    + """
CREATE TABLE chat_list (_id INTEGER PRIMARY KEY AUTOINCREMENT, key_remote_jid TEXT UNIQUE,
    message_table_id INTEGER, subject TEXT, creation INTEGER, last_read_message_table_id INTEGER,
    last_read_receipt_sent_message_table_id INTEGER, archived INTEGER, sort_timestamp INTEGER,
    mod_tag INTEGER, gen REAL, my_messages INTEGER, plaintext_disabled BOOLEAN,
    last_message_table_id INTEGER, unseen_message_count INTEGER, unseen_missed_calls_count INTEGER,
    unseen_row_count INTEGER, vcard_ui_dismissed INTEGER, deleted_message_id INTEGER,
    deleted_starred_message_id INTEGER, deleted_message_categories TEXT,
    change_number_notified_message_id INTEGER, last_important_message_table_id INTEGER,
    show_group_description INTEGER, ephemeral_expiration INTEGER,
    last_read_ephemeral_message_table_id INTEGER, ephemeral_setting_timestamp INTEGER);
CREATE TABLE group_participants (_id INTEGER PRIMARY KEY AUTOINCREMENT, gjid TEXT NOT NULL, jid TEXT NOT NULL,
    admin INTEGER, pending INTEGER, sent_sender_key INTEGER);
CREATE UNIQUE INDEX group_participants_index ON group_participants (gjid, jid);
CREATE TABLE message_thumbnails (thumbnail BLOB, timestamp DATETIME, key_remote_jid TEXT NOT NULL,
    key_from_me INTEGER, key_id TEXT NOT NULL);
CREATE TABLE props (_id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE, value TEXT);
"""
)

# Late legacy versions (2.20/2.21) already kept media in `message_media` (without its caption column).
LEGACY_MESSAGE_MEDIA_TABLE = """
CREATE TABLE message_media (message_row_id INTEGER PRIMARY KEY, chat_row_id INTEGER,
    autotransfer_retry_enabled INTEGER, multicast_id TEXT, media_job_uuid TEXT, transferred INTEGER,
    transcoded INTEGER, file_path TEXT, file_size INTEGER, suspicious_content INTEGER, trim_from INTEGER,
    trim_to INTEGER, face_x INTEGER, face_y INTEGER, media_key BLOB, media_key_timestamp INTEGER,
    width INTEGER, height INTEGER, has_streaming_sidecar INTEGER, gif_attribution INTEGER,
    thumbnail_height_width_ratio REAL, direct_path TEXT, first_scan_sidecar BLOB,
    first_scan_length INTEGER, message_url TEXT, mime_type TEXT, file_length INTEGER, media_name TEXT,
    file_hash TEXT, media_duration INTEGER, page_count INTEGER, enc_file_hash TEXT,
    partial_media_hash TEXT, partial_media_enc_hash TEXT, is_animated_sticker INTEGER,
    original_file_hash TEXT, mute_video INTEGER DEFAULT 0);
"""

WA_SCHEMA = """
CREATE TABLE wa_contacts (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid TEXT NOT NULL,
    is_whatsapp_user BOOLEAN NOT NULL, status TEXT, status_timestamp INTEGER, number TEXT,
    raw_contact_id INTEGER, display_name TEXT, phone_type INTEGER, phone_label TEXT,
    unseen_msg_count INTEGER, photo_ts INTEGER, thumb_ts INTEGER, photo_id_timestamp INTEGER,
    given_name TEXT, family_name TEXT, wa_name TEXT, sort_name TEXT, nickname TEXT, company TEXT,
    title TEXT, status_autodownload_disabled INTEGER, keep_timestamp INTEGER, is_spam_reported INTEGER,
    is_sidelist_synced BOOLEAN DEFAULT 0, is_business_synced BOOLEAN DEFAULT 0,
    disappearing_mode_duration INTEGER, disappearing_mode_timestamp LONG, history_sync_initial_phash TEXT);
CREATE TABLE wa_vnames (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid TEXT NOT NULL, serial INTEGER,
    issuer TEXT, expires_ts INTEGER, verified_name TEXT, industry TEXT, city TEXT, country TEXT,
    verified_level INTEGER, identity_unconfirmed_since INTEGER, cert_blob BLOB);
"""

# A database with a WhatsApp-like shape that is not WhatsApp: no parser here may claim it.
LOOKALIKE_SCHEMA = """
CREATE TABLE message (_id INTEGER PRIMARY KEY, thread_id INTEGER, from_me INTEGER, key_id TEXT,
    sender_jid_row_id INTEGER, timestamp INTEGER, text_data TEXT);
CREATE TABLE chat (_id INTEGER PRIMARY KEY, jid_row_id INTEGER, subject TEXT);
CREATE TABLE jid (_id INTEGER PRIMARY KEY, user TEXT, server TEXT, raw_string TEXT);
CREATE TABLE messages (_id INTEGER PRIMARY KEY, address TEXT, body TEXT, date INTEGER, key_id TEXT);
CREATE TABLE wa_contacts (_id INTEGER PRIMARY KEY, jid TEXT, display_name TEXT, number TEXT);
"""

# People and chats ------------------------------------------------------------------------------------

RANIA = "962790000002@s.whatsapp.net"
RANIA_SECOND = "962790000012@s.whatsapp.net"  # a second number on Rania's address-book card
OMAR = "962790000003@s.whatsapp.net"
LINA = "962790000004@s.whatsapp.net"
LINA_LID = "101010101010101@lid"
SAMI = "962790000005@s.whatsapp.net"  # known only by his WhatsApp profile name
NOT_ON_WHATSAPP_NUMBER = "+962 79 000 0009"
GROUP = "120363000000000001@g.us"
GROUP_SUBJECT = "Chess Club Amman"
STATUS = "status@broadcast"
GROUP_MEMBERS = (OMAR, LINA, SAMI)  # besides the owner, sorted

CONTACT_NAMES = {
    RANIA: "Rania Haddad",
    RANIA_SECOND: "Rania Haddad",
    OMAR: "Omar Khalil",
    LINA: "Lina Nasser",
    SAMI: "Sami K.",  # wa_name only
}
SAMI_WA_NAME = "Sami K."
RANIA_NUMBERS = ("+962 79 000 0002", "+962 79 000 0012")
NOT_ON_WHATSAPP_NAME = "Dentist Clinic"

# jid rows
JID_OWNER, JID_RANIA, JID_OMAR, JID_LINA, JID_SAMI, JID_LINA_LID = 9001, 9002, 9003, 9004, 9005, 9006
JID_GROUP, JID_STATUS = 9010, 9020
# chat rows
CHAT_RANIA, CHAT_GROUP, CHAT_STATUS = 5001, 5002, 5003


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def at(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2023, 5, day, hour, minute, second, tzinfo=UTC)


# Media -----------------------------------------------------------------------------------------------

SENT_PICTURE_PATH = "Media/WhatsApp Images/Sent/IMG-20230514-WA0001.jpg"
RECEIVED_PICTURE_PATH = "Media/WhatsApp Images/IMG-20230514-WA0002.jpg"
FORWARDED_PICTURE_PATH = "Media/WhatsApp Images/IMG-20230514-WA0003.jpg"
DELETED_MEDIA_PATH = "Media/WhatsApp Images/IMG-20230514-WA0004.jpg"
GROUP_PICTURE_PATH = "Media/WhatsApp Images/IMG-20230514-WA0005.jpg"

_PICTURE_SEEDS = {
    SENT_PICTURE_PATH: 8101,
    RECEIVED_PICTURE_PATH: 8102,
    FORWARDED_PICTURE_PATH: 8103,
    DELETED_MEDIA_PATH: 8104,
    GROUP_PICTURE_PATH: 8105,
}


@cache
def _picture(path: str) -> bytes:
    return photo_jpeg(_PICTURE_SEEDS[path], 160, 120)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def whatsapp_hash(data: bytes) -> str:
    """SHA-256 the way WhatsApp stores it: base64."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def media_files() -> dict[str, bytes]:
    """The scenario's media files that still exist, by the path msgstore.db records."""
    return {path: _picture(path) for path in _PICTURE_SEEDS if path != DELETED_MEDIA_PATH}


DELETED_MEDIA_SHA256 = sha256_hex(_picture(DELETED_MEDIA_PATH))


def media_bytes(path: str) -> bytes:
    """The picture at a media path of the scenario, the deleted one included."""
    return _picture(path)


def media_sha256(path: str) -> str:
    return sha256_hex(_picture(path))


def media_size(path: str) -> int:
    return len(_picture(path))


# Messages (current layout) ---------------------------------------------------------------------------


class Message(NamedTuple):
    chat_row: int
    from_me: int
    sender_row: int  # 0 where WhatsApp writes no sender: sent and direct messages
    time: datetime
    message_type: int  # 0 text, 1 picture, 7 system
    text_data: str | None
    media_path: str | None
    media_caption: str | None  # the caption as `message_media` holds it


TEXT_SENT_DIRECT = 1001
TEXT_RECEIVED_DIRECT = 1002
PICTURE_SENT_CAPTION_IN_TEXT = 1003
PICTURE_RECEIVED = 1004
FORWARDED = 1005
PICTURE_DELETED = 1006
SYSTEM_MESSAGE = 1007
TEXT_RECEIVED_GROUP = 1008
PICTURE_GROUP_CAPTION_IN_MEDIA = 1009
TEXT_SENT_GROUP = 1010
STATUS_UPDATE = 1011
WAL_RECEIVED_GROUP = 1012
WAL_SENT_DIRECT = 1013

SENT_MESSAGES = (TEXT_SENT_DIRECT, PICTURE_SENT_CAPTION_IN_TEXT, TEXT_SENT_GROUP, WAL_SENT_DIRECT)  # no owner
WAL_MESSAGES = (WAL_RECEIVED_GROUP, WAL_SENT_DIRECT)

CAPTION_IN_TEXT = "The board after move 20"
CAPTION_IN_MEDIA = "Tournament poster"

_MESSAGE_ROWS: dict[int, tuple[int, int, int, datetime, int, str | None, str | None, str | None]] = {
    TEXT_SENT_DIRECT: (CHAT_RANIA, 1, 0, at(14, 8, 0), 0, "Are you coming to the chess evening?", None, None),
    TEXT_RECEIVED_DIRECT: (CHAT_RANIA, 0, 0, at(14, 8, 2, 30), 0, "Yes, I will bring the clock.", None, None),
    PICTURE_SENT_CAPTION_IN_TEXT: (
        CHAT_RANIA,
        1,
        0,
        at(14, 8, 5),
        1,
        CAPTION_IN_TEXT,
        SENT_PICTURE_PATH,
        None,
    ),
    PICTURE_RECEIVED: (CHAT_RANIA, 0, 0, at(14, 8, 7), 1, None, RECEIVED_PICTURE_PATH, None),
    FORWARDED: (CHAT_RANIA, 0, 0, at(14, 8, 9), 1, None, FORWARDED_PICTURE_PATH, None),
    PICTURE_DELETED: (CHAT_RANIA, 0, 0, at(14, 8, 11), 1, None, DELETED_MEDIA_PATH, None),
    SYSTEM_MESSAGE: (CHAT_GROUP, 0, JID_OMAR, at(14, 9, 0), 7, None, None, None),
    TEXT_RECEIVED_GROUP: (
        CHAT_GROUP,
        0,
        JID_OMAR,
        at(14, 9, 1),
        0,
        "Welcome to the club, everyone",
        None,
        None,
    ),
    PICTURE_GROUP_CAPTION_IN_MEDIA: (
        CHAT_GROUP,
        0,
        JID_LINA_LID,
        at(14, 9, 5),
        1,
        None,
        GROUP_PICTURE_PATH,
        CAPTION_IN_MEDIA,
    ),
    TEXT_SENT_GROUP: (CHAT_GROUP, 1, 0, at(14, 9, 10), 0, "Thanks, see you on Sunday", None, None),
    STATUS_UPDATE: (CHAT_STATUS, 0, JID_RANIA, at(14, 10, 0), 0, "Morning walk by the citadel", None, None),
    WAL_RECEIVED_GROUP: (CHAT_GROUP, 0, JID_SAMI, at(16, 18, 30), 0, "Board 3 is free tonight", None, None),
    WAL_SENT_DIRECT: (CHAT_RANIA, 1, 0, at(16, 18, 45), 0, "On my way", None, None),
}
MESSAGES = {row: Message(*values) for row, values in _MESSAGE_ROWS.items()}  # by message row id

# Every message the parser must report, with the chat JID, sender and recipients it must give.
CHAT_JIDS = {CHAT_RANIA: RANIA, CHAT_GROUP: GROUP, CHAT_STATUS: STATUS}
EXPECTED_SENDERS: dict[int, str | None] = {
    TEXT_SENT_DIRECT: None,
    TEXT_RECEIVED_DIRECT: RANIA,
    PICTURE_SENT_CAPTION_IN_TEXT: None,
    PICTURE_RECEIVED: RANIA,
    FORWARDED: RANIA,
    PICTURE_DELETED: RANIA,
    TEXT_RECEIVED_GROUP: OMAR,
    PICTURE_GROUP_CAPTION_IN_MEDIA: LINA,
    TEXT_SENT_GROUP: None,
    STATUS_UPDATE: RANIA,
    WAL_RECEIVED_GROUP: SAMI,
    WAL_SENT_DIRECT: None,
}
EXPECTED_RECIPIENTS: dict[int, tuple[str, ...]] = {
    TEXT_SENT_DIRECT: (RANIA,),
    TEXT_RECEIVED_DIRECT: (),
    PICTURE_SENT_CAPTION_IN_TEXT: (RANIA,),
    PICTURE_RECEIVED: (),
    FORWARDED: (),
    PICTURE_DELETED: (),
    TEXT_RECEIVED_GROUP: (LINA, SAMI),
    PICTURE_GROUP_CAPTION_IN_MEDIA: (OMAR, SAMI),
    TEXT_SENT_GROUP: (OMAR, LINA, SAMI),
    STATUS_UPDATE: (),
    WAL_RECEIVED_GROUP: (OMAR, LINA),
    WAL_SENT_DIRECT: (RANIA,),
}
MEDIA_MESSAGES = {
    PICTURE_SENT_CAPTION_IN_TEXT: SENT_PICTURE_PATH,
    PICTURE_RECEIVED: RECEIVED_PICTURE_PATH,
    FORWARDED: FORWARDED_PICTURE_PATH,
    PICTURE_DELETED: DELETED_MEDIA_PATH,
    PICTURE_GROUP_CAPTION_IN_MEDIA: GROUP_PICTURE_PATH,
}

_JIDS = [
    # _id, user, server, agent, device, type, raw_string
    (JID_OWNER, "", "s.whatsapp.net", 0, 0, 0, None),  # how the owner is listed among group members
    (JID_RANIA, "962790000002", "s.whatsapp.net", 0, 0, 0, RANIA),
    (JID_OMAR, "962790000003", "s.whatsapp.net", 0, 0, 0, OMAR),
    (JID_LINA, "962790000004", "s.whatsapp.net", 0, 0, 0, LINA),
    (JID_SAMI, "962790000005", "s.whatsapp.net", 0, 0, 0, SAMI),
    (JID_LINA_LID, "101010101010101", "lid", 0, 0, 19, LINA_LID),
    (JID_GROUP, "120363000000000001", "g.us", 0, 0, 1, GROUP),
    (JID_STATUS, "status", "broadcast", 0, 0, 5, STATUS),
]


def _insert(db: sqlite3.Connection, table: str, row: dict[str, object]) -> None:
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    db.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(row.values()))


def _key_id(message_id: int) -> str:
    return f"3EB0{message_id:012X}"


def _insert_message(db: sqlite3.Connection, message_id: int) -> None:
    chat, from_me, sender, moment, kind, text, path, caption = MESSAGES[message_id]
    _insert(
        db,
        "message",
        {
            "_id": message_id,
            "chat_row_id": chat,
            "from_me": from_me,
            "key_id": _key_id(message_id),
            "sender_jid_row_id": sender,
            "status": 13 if from_me else 0,
            "broadcast": 0,
            "recipient_count": len(GROUP_MEMBERS) if from_me and chat == CHAT_GROUP else 0,
            "origination_flags": 0,
            "origin": 0,
            "timestamp": ms(moment),
            "received_timestamp": ms(moment) + 1500,
            "receipt_server_timestamp": -1,
            "message_type": kind,
            "text_data": text,
            "starred": 0,
            "lookup_tables": 0,
            "sort_id": message_id,
            "message_add_on_flags": 0,
            "view_mode": 0,
        },
    )
    if path is not None:
        data = _picture(path)
        _insert(
            db,
            "message_media",
            {
                "message_row_id": message_id,
                "chat_row_id": chat,
                "autotransfer_retry_enabled": 0,
                "transferred": 1,
                "transcoded": 0,
                "file_path": path,
                "file_size": len(data),
                "suspicious_content": 0,
                "media_key": hashlib.sha256(b"key" + path.encode()).digest(),
                "media_key_timestamp": ms(moment) // 1000,
                "width": 160,
                "height": 120,
                "direct_path": f"/v/t62.7118-24/{message_id}_n.enc?ccb=11-4",
                "message_url": f"https://mmg.whatsapp.net/v/t62.7118-24/{message_id}_n.enc",
                "mime_type": "image/jpeg",
                "file_length": len(data),
                "file_hash": whatsapp_hash(data),
                "enc_file_hash": whatsapp_hash(b"encrypted" + data),
                "mute_video": 0,
                "media_caption": caption,
            },
        )
    if message_id == FORWARDED:
        _insert(db, "message_forwarded", {"message_row_id": message_id, "forward_score": 1})
    if kind == 7:
        _insert(db, "message_system", {"message_row_id": message_id, "action_type": 12})
        _insert(db, "message_system_group", {"message_row_id": message_id, "is_me_joined": 1})


def _fill_current(db: sqlite3.Connection, message_ids: list[int]) -> None:
    db.executemany("INSERT INTO jid VALUES (?, ?, ?, ?, ?, ?, ?)", _JIDS)
    db.execute("INSERT INTO jid_map VALUES (?, ?, ?)", (JID_LINA_LID, JID_LINA, 1))
    for chat_id, jid_row, subject, created in (
        (CHAT_RANIA, JID_RANIA, None, at(1, 12, 0)),
        (CHAT_GROUP, JID_GROUP, GROUP_SUBJECT, at(14, 9, 0)),
        (CHAT_STATUS, JID_STATUS, None, at(1, 12, 0)),
    ):
        _insert(
            db,
            "chat",
            {
                "_id": chat_id,
                "jid_row_id": jid_row,
                "hidden": 0,
                "subject": subject,
                "created_timestamp": ms(created),
                "archived": 0,
                "sort_timestamp": ms(created),
                "group_type": 0,
            },
        )
    for row_id, member, rank in (
        (7001, JID_OWNER, 2),
        (7002, JID_OMAR, 1),
        (7003, JID_LINA, 0),
        (7004, JID_SAMI, 0),
    ):
        _insert(
            db,
            "group_participant_user",
            {
                "_id": row_id,
                "group_jid_row_id": JID_GROUP,
                "user_jid_row_id": member,
                "rank": rank,
                "pending": 0,
            },
        )
    _insert(db, "props", {"_id": 60001, "key": "user_push_name", "value": "Karim"})
    for message_id in message_ids:
        _insert_message(db, message_id)


def build_msgstore(path: Path, *, wal: bool = True, leftover_legacy: bool = False) -> Path:
    """The current-layout scenario. With `wal`, the newest messages (`WAL_MESSAGES`) live only in
    `path`-wal; without, every row is in `path`. `leftover_legacy` adds a `messages` table left behind
    by the 2022 migration, with one old row, as some upgraded phones keep."""
    schema = CURRENT_SCHEMA + (LEGACY_MESSAGES_TABLE if leftover_legacy else "")
    older = [message_id for message_id in MESSAGES if message_id not in WAL_MESSAGES]

    def fill(db: sqlite3.Connection) -> None:
        _fill_current(db, older if wal else list(MESSAGES))
        if leftover_legacy:
            _insert(
                db,
                "messages",
                {
                    "_id": 1,
                    "key_remote_jid": RANIA,
                    "key_from_me": 1,
                    "key_id": "OLD1",
                    "data": "old",
                    "timestamp": 1,
                },
            )

    def newest(db: sqlite3.Connection) -> None:
        for message_id in WAL_MESSAGES:
            _insert_message(db, message_id)

    return write_database(path, schema, fill, newest=newest if wal else None)


# Legacy layout ---------------------------------------------------------------------------------------

LEGACY_PLACEHOLDER = 1  # the `-1` row every old msgstore.db starts with
LEGACY_TEXT_SENT_DIRECT = 1001
LEGACY_PICTURE_CAPTION = 1002
LEGACY_FORWARDED = 1003
LEGACY_SYSTEM = 1004
LEGACY_TEXT_RECEIVED_GROUP = 1005
LEGACY_TEXT_SENT_GROUP = 1006
LEGACY_PICTURE_GROUP = 1007

LEGACY_CAPTION = "Seats in row 4"
LEGACY_GROUP_CAPTION = "Club rules"
LEGACY_PICTURE_PATH = "/storage/emulated/0/WhatsApp/Media/WhatsApp Images/IMG-20200301-WA0001.jpg"
LEGACY_FORWARDED_PATH = "/storage/emulated/0/WhatsApp/Media/WhatsApp Images/IMG-20200301-WA0002.jpg"
LEGACY_GROUP_PICTURE_PATH = "/storage/emulated/0/WhatsApp/Media/WhatsApp Images/IMG-20200301-WA0003.jpg"
_LEGACY_SEEDS = {LEGACY_PICTURE_PATH: 8201, LEGACY_FORWARDED_PATH: 8202, LEGACY_GROUP_PICTURE_PATH: 8203}


def legacy_time(hour: int, minute: int) -> datetime:
    return datetime(2020, 3, 1, hour, minute, tzinfo=UTC)


class LegacyMessage(NamedTuple):
    key_remote_jid: str
    key_from_me: int
    status: int  # 6: a control (system) message
    remote_resource: str | None  # a group message's sender
    time: datetime
    data: str | None
    media_path: str | None
    media_caption: str | None
    forwarded: int


_LEGACY_ROWS: dict[
    int, tuple[str, int, int, str | None, datetime, str | None, str | None, str | None, int]
] = {
    LEGACY_TEXT_SENT_DIRECT: (
        RANIA,
        1,
        13,
        None,
        legacy_time(18, 0),
        "Did you get the tickets?",
        None,
        None,
        0,
    ),
    LEGACY_PICTURE_CAPTION: (
        RANIA,
        0,
        0,
        None,
        legacy_time(18, 3),
        None,
        LEGACY_PICTURE_PATH,
        LEGACY_CAPTION,
        0,
    ),
    LEGACY_FORWARDED: (RANIA, 0, 0, None, legacy_time(18, 6), None, LEGACY_FORWARDED_PATH, None, 1),
    LEGACY_SYSTEM: (GROUP, 1, 6, None, legacy_time(19, 0), None, None, None, 0),
    LEGACY_TEXT_RECEIVED_GROUP: (
        GROUP,
        0,
        0,
        OMAR,
        legacy_time(19, 1),
        "Who has the spare board?",
        None,
        None,
        0,
    ),
    LEGACY_TEXT_SENT_GROUP: (GROUP, 1, 13, None, legacy_time(19, 2), "I do", None, None, 0),
    LEGACY_PICTURE_GROUP: (
        GROUP,
        0,
        0,
        LINA,
        legacy_time(19, 4),
        None,
        LEGACY_GROUP_PICTURE_PATH,
        LEGACY_GROUP_CAPTION,
        0,
    ),
}
LEGACY_MESSAGES = {row: LegacyMessage(*values) for row, values in _LEGACY_ROWS.items()}


@cache
def _legacy_picture(path: str) -> bytes:
    return photo_jpeg(_LEGACY_SEEDS[path], 160, 120)


def legacy_media_files() -> dict[str, bytes]:
    return {path: _legacy_picture(path) for path in _LEGACY_SEEDS}


def legacy_media_sha256(path: str) -> str:
    return sha256_hex(_legacy_picture(path))


def build_msgstore_legacy(path: Path, *, media_table: bool = True) -> Path:
    """The pre-2022 layout. `media_table` adds the `message_media` table of 2.20/2.21 (file paths);
    without it (2.1x), a media file's path is only in the serialised `thumb_image` object."""
    schema = LEGACY_SCHEMA + (LEGACY_MESSAGE_MEDIA_TABLE if media_table else "")

    def fill(db: sqlite3.Connection) -> None:
        placeholder = {
            "_id": LEGACY_PLACEHOLDER,
            "key_remote_jid": "-1",
            "key_id": "-1",
            "status": -1,
            "timestamp": 0,
        }
        _insert(db, "messages", placeholder)
        for chat_id, jid, subject in ((5001, RANIA, None), (5002, GROUP, GROUP_SUBJECT)):
            _insert(
                db, "chat_list", {"_id": chat_id, "key_remote_jid": jid, "subject": subject, "archived": 0}
            )
        for row_id, member, admin in ((7001, "", 2), (7002, OMAR, 1), (7003, LINA, 0), (7004, SAMI, 0)):
            member_row = {"_id": row_id, "gjid": GROUP, "jid": member, "admin": admin, "pending": 0}
            _insert(db, "group_participants", member_row)
        for message_id, (
            jid,
            from_me,
            status,
            resource,
            moment,
            data,
            media,
            caption,
            forwarded,
        ) in LEGACY_MESSAGES.items():
            picture = _legacy_picture(media) if media else None
            _insert(
                db,
                "messages",
                {
                    "_id": message_id,
                    "key_remote_jid": jid,
                    "key_from_me": from_me,
                    "key_id": _key_id(message_id),
                    "status": status,
                    "needs_push": 0,
                    "data": data,
                    "timestamp": ms(moment),
                    "media_url": f"https://mmg.whatsapp.net/d/f/{message_id}.enc" if picture else None,
                    "media_mime_type": "image/jpeg" if picture else None,
                    "media_wa_type": "1" if picture else "0",
                    "media_size": len(picture) if picture else 0,
                    "media_caption": caption,
                    "media_hash": whatsapp_hash(picture) if picture else None,
                    "remote_resource": resource,
                    "received_timestamp": ms(moment) + 900,
                    "recipient_count": 0,
                    "starred": 0,
                    "forwarded": forwarded,
                },
            )
            if picture is not None and media_table:
                _insert(
                    db,
                    "message_media",
                    {
                        "message_row_id": message_id,
                        "chat_row_id": 5001 if jid == RANIA else 5002,
                        "transferred": 1,
                        "file_path": media,
                        "file_size": len(picture),
                        "mime_type": "image/jpeg",
                        "file_length": len(picture),
                        "file_hash": whatsapp_hash(picture),
                        "width": 160,
                        "height": 120,
                    },
                )

    return write_database(path, schema, fill)


# wa.db -----------------------------------------------------------------------------------------------

WA_CONTACTS = [
    # _id, jid, is_whatsapp_user, number, raw_contact_id, display_name, given, family, wa_name
    (3001, RANIA, 1, RANIA_NUMBERS[0], 41, "Rania Haddad", "Rania", "Haddad", "Rania H."),
    (3002, OMAR, 1, "+962 79 000 0003", 42, "Omar Khalil", "Omar", "Khalil", "Omar"),
    (3003, LINA, 1, "+962 79 000 0004", 43, "Lina Nasser", "Lina", "Nasser", None),
    (3004, SAMI, 1, None, None, None, None, None, SAMI_WA_NAME),
    (3005, GROUP, 1, None, None, GROUP_SUBJECT, None, None, None),
    (
        3006,
        "962790000009@s.whatsapp.net",
        0,
        NOT_ON_WHATSAPP_NUMBER,
        44,
        NOT_ON_WHATSAPP_NAME,
        None,
        None,
        None,
    ),
    (3007, RANIA_SECOND, 1, RANIA_NUMBERS[1], 41, "Rania Haddad", "Rania", "Haddad", "Rania H."),
]


def build_wa_db(path: Path) -> Path:
    def fill(db: sqlite3.Connection) -> None:
        for row_id, jid, is_user, number, raw_contact, display, given, family, wa_name in WA_CONTACTS:
            _insert(
                db,
                "wa_contacts",
                {
                    "_id": row_id,
                    "jid": jid,
                    "is_whatsapp_user": is_user,
                    "status": "Hey there! I am using WhatsApp." if is_user else None,
                    "number": number,
                    "raw_contact_id": raw_contact,
                    "display_name": display,
                    "phone_type": 2 if number else None,
                    "given_name": given,
                    "family_name": family,
                    "wa_name": wa_name,
                    "sort_name": display,
                    "is_spam_reported": 0,
                },
            )

    return write_database(path, WA_SCHEMA, fill)


def build_lookalike(path: Path) -> Path:
    def fill(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO jid VALUES (1, '962790000002', 's.whatsapp.net', ?)", (RANIA,))
        db.execute("INSERT INTO chat VALUES (1, 1, NULL)")
        db.execute("INSERT INTO message VALUES (1, 1, 0, 'K1', 0, 1684051200000, 'hello')")
        db.execute("INSERT INTO messages VALUES (1, '+962790000002', 'hello', 1684051200000, 'K1')")
        db.execute("INSERT INTO wa_contacts VALUES (1, ?, 'Rania', '+962790000002')", (RANIA,))

    return write_database(path, LOOKALIKE_SCHEMA, fill)
