"""An iPhone's chat and contact databases: WhatsApp's ChatStorage.sqlite, sms.db, AddressBook.sqlitedb.

The tables are the apps' own (column sets as in current versions, columns the parsers never read
included); every row is invented. Row ids sit in separate ranges per table (WhatsApp: messages 1001+,
chats 5001+, group infos 7001+, group members 9001+, media 30001+; sms.db: messages 2001+, chats 6001+,
handles 8001+, attachments 40001+; address book: people 101+, values 501+) so that a join on the wrong
column finds nothing.

The scenario, one phone:
- WhatsApp: a direct chat with Rami (text both ways, a received and a sent picture, a forwarded
  picture); a group of three members (Rami, Lina, Omar) with a received picture captioned in the media
  row (ZTITLE), one captioned in the message text (ZTEXT), a message the owner sent to the group, a
  group event (not a message) and a picture whose file was deleted from the phone. The two newest
  messages are only in ChatStorage.sqlite-wal.
- Messages: an SMS thread with Rami (one message from before iOS 11, dated in seconds, the rest in
  nanoseconds), an iMessage group "Weekend Plans" with Lina, Omar (by e-mail) and Rami, a received
  picture, a text kept only in attributedBody (short and long), and a sent message with two pictures,
  one of which was deleted.
- Address book: Rami with two phones and an e-mail (his mobile is the number he uses on WhatsApp and
  SMS), a business with one phone, a card with no phone or e-mail.
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from tests.builders.chats.sqlite_files import write_database
from tests.builders.images import photo_jpeg

APPLE_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)


def core_data_seconds(moment: datetime) -> float:
    """A Core Data time: seconds since 2001-01-01 UTC."""
    return (moment - APPLE_EPOCH).total_seconds()


def apple_nanoseconds(moment: datetime, extra_ns: int = 0) -> int:
    """sms.db's time from iOS 11 on: nanoseconds since 2001-01-01 UTC."""
    delta = moment - APPLE_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000 + extra_ns


def apple_seconds(moment: datetime) -> int:
    """sms.db's time before iOS 11: whole seconds since 2001-01-01 UTC."""
    return int((moment - APPLE_EPOCH).total_seconds())


# People ------------------------------------------------------------------------------------------------

RAMI_NAME = "Rami Haddad"
RAMI_FIRST, RAMI_LAST = "Rami", "Haddad"
RAMI_JID = "962790000001@s.whatsapp.net"
RAMI_NUMBER = "+962790000001"  # as Messages writes it
RAMI_MOBILE = "+962 79 000 0001"  # as the address book writes it
RAMI_HOME = "+962 6 500 0001"
RAMI_EMAIL = "rami.haddad@example.com"
LINA_NAME = "Lina Khoury"
LINA_JID = "962790000002@s.whatsapp.net"
LINA_NUMBER = "+962790000002"
OMAR_NAME = "Omar Saleh"
OMAR_JID = "962790000003@s.whatsapp.net"
OMAR_EMAIL = "omar.saleh@example.com"
DANA_JID = "962790000004@s.whatsapp.net"  # known only by the name she gave herself
DANA_PUSH_NAME = "Dana"
RAMI_PUSH_NAME = "Rami H."  # his own push name; the chat list's name wins
BAKERY_NAME = "Amman Corner Bakery"
BAKERY_PHONE = "+962 6 500 0099"
RAMI_CARD, BAKERY_CARD, EMPTY_CARD = 101, 102, 103

# WhatsApp ----------------------------------------------------------------------------------------------

WA_DIRECT_SESSION, WA_GROUP_SESSION = 5001, 5002
WA_GROUP_JID = "120363000000000001@g.us"
WA_GROUP_SUBJECT = "Study Group Amman"
WA_GROUP_INFO = 7001
WA_MEMBER_RAMI, WA_MEMBER_LINA, WA_MEMBER_OMAR = 9001, 9002, 9003
WA_GROUP_MEMBERS = (RAMI_JID, LINA_JID, OMAR_JID)

WA_T0 = datetime(2024, 3, 10, 9, 0, tzinfo=UTC)
WA_TEXT_RECEIVED = "Hello, are you free later?"
WA_TEXT_SENT = "Yes, after five."
WA_CAPTION_IN_MEDIA_ROW = "Caption kept in the media row"
WA_CAPTION_IN_TEXT = "Caption kept in the message text"
WA_TEXT_TO_GROUP = "See you all on Friday"
WA_TEXT_WAL_ONLY = "Only in the write-ahead log"

# Message Z_PK → its time. 1001 has a fractional second: Core Data times are floats.
WA_TIMES = {
    1001: WA_T0 + timedelta(seconds=0.25),
    1002: WA_T0 + timedelta(minutes=1),
    1003: WA_T0 + timedelta(minutes=2),
    1004: WA_T0 + timedelta(minutes=3),
    1005: WA_T0 + timedelta(minutes=10),
    1006: WA_T0 + timedelta(minutes=11),
    1007: WA_T0 + timedelta(minutes=12),
    1008: WA_T0 + timedelta(minutes=13),
    1009: WA_T0 + timedelta(minutes=20),
    1010: WA_T0 + timedelta(minutes=21),
    1011: WA_T0 + timedelta(hours=2),
    1012: WA_T0 + timedelta(hours=2, minutes=1),
}
WA_GROUP_EVENT = 1005  # "group created": a ZMESSAGETYPE 6 row, not a message
WA_FORWARDED = 1009
WA_WAL_ONLY = (1011, 1012)

# Media Z_PK → (message Z_PK, picture seed, ZMEDIALOCALPATH as the app stores it).
_WA_MEDIA = {
    30001: (1003, 101, f"Media/{RAMI_JID}/4/2/42d1c6a0-5b1e-4c8f-9a70-000000030001.jpg"),
    30002: (1004, 102, f"Media/{RAMI_JID}/7/c/7c0e9d2b-1f4a-4d3e-8b21-000000030002.jpg"),
    30003: (1006, 103, f"Media/{WA_GROUP_JID}/a/1/a1f3e5c7-2d4b-4e6f-8a9c-000000030003.jpg"),
    30004: (1007, 104, f"Media/{WA_GROUP_JID}/b/2/b2e4d6f8-3c5a-4f7e-9b0d-000000030004.jpg"),
    30005: (1009, 105, f"Media/{RAMI_JID}/c/3/c3d5f7a9-4b6c-4a8e-8c1e-000000030005.jpg"),
    30006: (1010, 106, f"Media/{WA_GROUP_JID}/d/4/d4c6e8a0-5a7b-4b9f-9d2f-000000030006.jpg"),
    30007: (1012, 107, f"Media/{RAMI_JID}/e/5/e5b7d9f1-6c8d-4c0a-8e3a-000000030007.jpg"),
}
WA_MEDIA_OF_MESSAGE = {message: media for media, (message, _, _) in _WA_MEDIA.items()}
WA_MEDIA_PATHS = {message: path for message, _, path in _WA_MEDIA.values()}  # message Z_PK → path
WA_DELETED_MEDIA_MESSAGE = 1010
WA_DELETED_MEDIA_PATH = WA_MEDIA_PATHS[WA_DELETED_MEDIA_MESSAGE]
WA_FORWARDED_FLAGS = 0x180  # bit 7 (forwarded) with bit 8
WA_OTHER_FLAGS = 0x300  # bits 8 and 9 without bit 7: not forwarded


@cache
def _picture(seed: int) -> bytes:
    return photo_jpeg(seed, 160, 120)


def wa_media_bytes(message: int) -> bytes:
    """The picture a WhatsApp message carried (also for the one whose file is gone)."""
    media = WA_MEDIA_OF_MESSAGE[message]
    return _picture(_WA_MEDIA[media][1])


def wa_media_sha256(message: int) -> str:
    return hashlib.sha256(wa_media_bytes(message)).hexdigest()


WA_DELETED_MEDIA_SHA256 = wa_media_sha256(WA_DELETED_MEDIA_MESSAGE)


def whatsapp_media_files() -> dict[str, bytes]:
    """ZMEDIALOCALPATH (relative to the shared container's Message/ folder) → bytes, for files present."""
    return {
        path: _picture(seed)
        for message, seed, path in _WA_MEDIA.values()
        if message != WA_DELETED_MEDIA_MESSAGE
    }


CHATSTORAGE_SCHEMA = """
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);
CREATE TABLE Z_MODELCACHE (Z_CONTENT BLOB);
CREATE TABLE ZWACHATSESSION ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZARCHIVED INTEGER,
  ZCONTACTABID INTEGER, ZFLAGS INTEGER, ZHIDDEN INTEGER, ZIDENTITYVERIFICATIONEPOCH INTEGER,
  ZIDENTITYVERIFICATIONSTATE INTEGER, ZMESSAGECOUNTER INTEGER, ZREMOVED INTEGER, ZSESSIONTYPE INTEGER,
  ZSPOTLIGHTSTATUS INTEGER, ZUNREADCOUNT INTEGER, ZGROUPINFO INTEGER, ZLASTMESSAGE INTEGER,
  ZPROPERTIES INTEGER, ZLASTMESSAGEDATE TIMESTAMP, ZLOCATIONSHARINGENDDATE TIMESTAMP,
  ZCONTACTIDENTIFIER VARCHAR, ZCONTACTJID VARCHAR, ZETAG VARCHAR, ZLASTMESSAGETEXT VARCHAR,
  ZPARTNERNAME VARCHAR, ZSAVEDINPUT VARCHAR );
CREATE TABLE ZWAGROUPINFO ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZSTATE INTEGER,
  ZCHATSESSION INTEGER, ZLASTMESSAGEOWNER INTEGER, ZCREATIONDATE TIMESTAMP, ZSUBJECTTIMESTAMP TIMESTAMP,
  ZCREATORJID VARCHAR, ZOWNERJID VARCHAR, ZPICTUREID VARCHAR, ZPICTUREPATH VARCHAR, ZSOURCEJID VARCHAR,
  ZSUBJECTOWNERJID VARCHAR );
CREATE TABLE ZWAGROUPMEMBER ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCONTACTABID INTEGER,
  ZISACTIVE INTEGER, ZISADMIN INTEGER, ZSENDERKEYSENT INTEGER, ZCHATSESSION INTEGER,
  ZRECENTGROUPCHAT INTEGER, ZCONTACTIDENTIFIER VARCHAR, ZCONTACTNAME VARCHAR, ZFIRSTNAME VARCHAR,
  ZMEMBERJID VARCHAR );
CREATE TABLE ZWAMESSAGE ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
  ZCHILDMESSAGESDELIVEREDCOUNT INTEGER, ZCHILDMESSAGESPLAYEDCOUNT INTEGER, ZCHILDMESSAGESREADCOUNT INTEGER,
  ZDATAITEMVERSION INTEGER, ZDOCID INTEGER, ZENCRETRYCOUNT INTEGER, ZFILTEREDRECIPIENTCOUNT INTEGER,
  ZFLAGS INTEGER, ZGROUPEVENTTYPE INTEGER, ZISFROMME INTEGER, ZMESSAGEERRORSTATUS INTEGER,
  ZMESSAGESTATUS INTEGER, ZMESSAGETYPE INTEGER, ZSORT INTEGER, ZSPOTLIGHTSTATUS INTEGER, ZSTARRED INTEGER,
  ZCHATSESSION INTEGER, ZGROUPMEMBER INTEGER, ZLASTSESSION INTEGER, ZMEDIAITEM INTEGER,
  ZMESSAGEINFO INTEGER, ZPARENTMESSAGE INTEGER, ZMESSAGEDATE TIMESTAMP, ZSENTDATE TIMESTAMP,
  ZFROMJID VARCHAR, ZMEDIASECTIONID VARCHAR, ZPHASH VARCHAR, ZPUSHNAME VARCHAR, ZSTANZAID VARCHAR,
  ZTEXT VARCHAR, ZTOJID VARCHAR );
CREATE TABLE ZWAMEDIAITEM ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCLOUDSTATUS INTEGER,
  ZFILESIZE INTEGER, ZMEDIAORIGIN INTEGER, ZMOVIEDURATION INTEGER, ZMESSAGE INTEGER, ZASPECTRATIO FLOAT,
  ZHACCURACY FLOAT, ZLATITUDE FLOAT, ZLONGITUDE FLOAT, ZMEDIAURLDATE TIMESTAMP, ZAUTHORNAME VARCHAR,
  ZCOLLECTIONNAME VARCHAR, ZMEDIALOCALPATH VARCHAR, ZMEDIAURL VARCHAR, ZTHUMBNAILLOCALPATH VARCHAR,
  ZTITLE VARCHAR, ZVCARDNAME VARCHAR, ZVCARDSTRING VARCHAR, ZXMPPTHUMBPATH VARCHAR, ZMEDIAKEY BLOB,
  ZMETADATA BLOB );
CREATE TABLE ZWAMESSAGEINFO ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZMESSAGE INTEGER,
  ZRECEIPTINFO BLOB );
CREATE TABLE ZWAPROFILEPUSHNAME ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZJID VARCHAR,
  ZPUSHNAME VARCHAR );
CREATE INDEX ZWAMESSAGE_ZCHATSESSION_INDEX ON ZWAMESSAGE (ZCHATSESSION);
CREATE INDEX ZWAMESSAGE_ZGROUPMEMBER_INDEX ON ZWAMESSAGE (ZGROUPMEMBER);
CREATE INDEX ZWAMESSAGE_ZMEDIAITEM_INDEX ON ZWAMESSAGE (ZMEDIAITEM);
CREATE INDEX ZWAMEDIAITEM_ZMESSAGE_INDEX ON ZWAMEDIAITEM (ZMESSAGE);
CREATE INDEX ZWAGROUPMEMBER_ZCHATSESSION_INDEX ON ZWAGROUPMEMBER (ZCHATSESSION);
"""

_WA_ENTITIES = [
    (1, "WAChatSession"),
    (4, "WAGroupInfo"),
    (5, "WAGroupMember"),
    (8, "WAMediaItem"),
    (9, "WAMessage"),
]


def _wa_message(
    db: sqlite3.Connection,
    pk: int,
    session: int,
    *,
    from_me: bool,
    text: str | None = None,
    message_type: int = 0,
    from_jid: str | None = None,
    to_jid: str | None = None,
    member: int | None = None,
    flags: int = 0,
    event_type: int = 0,
) -> None:
    moment = WA_TIMES[pk]
    db.execute(
        "INSERT INTO ZWAMESSAGE (Z_PK, Z_ENT, Z_OPT, ZCHATSESSION, ZISFROMME, ZMESSAGEDATE, ZSENTDATE, "
        "ZMESSAGETYPE, ZGROUPEVENTTYPE, ZMESSAGESTATUS, ZGROUPMEMBER, ZMEDIAITEM, ZFLAGS, ZSTANZAID, "
        "ZFROMJID, ZTOJID, ZTEXT, ZSORT, ZSTARRED, ZSPOTLIGHTSTATUS) "
        "VALUES (?, 9, 3, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0)",
        (
            pk,
            session,
            1 if from_me else 0,
            core_data_seconds(moment),
            core_data_seconds(moment) if from_me else None,
            message_type,
            event_type,
            8 if from_me else 0,
            member,
            WA_MEDIA_OF_MESSAGE.get(pk),
            flags,
            f"3EB0{pk:016X}",
            from_jid,
            to_jid,
            text,
            pk,
        ),
    )
    media = WA_MEDIA_OF_MESSAGE.get(pk)
    if media is not None:
        _wa_media(db, media, title=None)


def _wa_media(db: sqlite3.Connection, media: int, *, title: str | None) -> None:
    message, seed, path = _WA_MEDIA[media]
    picture = _picture(seed)
    db.execute(
        "INSERT INTO ZWAMEDIAITEM (Z_PK, Z_ENT, Z_OPT, ZMESSAGE, ZFILESIZE, ZMEDIAORIGIN, ZCLOUDSTATUS, "
        "ZMEDIALOCALPATH, ZMEDIAURL, ZXMPPTHUMBPATH, ZTITLE, ZVCARDNAME, ZVCARDSTRING, ZLATITUDE, "
        "ZLONGITUDE, ZMEDIAKEY) VALUES (?, 8, 2, ?, ?, 0, 0, ?, ?, ?, ?, ?, 'image/jpeg', 160.0, 120.0, ?)",
        (
            media,
            message,
            len(picture),
            path,
            f"https://mmg.whatsapp.net/d/f/synthetic-{media}.enc",
            path.removesuffix(".jpg") + ".thumb",
            title,
            # Where the app keeps the file's SHA-256 (base64) on picture, video, audio and document rows.
            base64.b64encode(hashlib.sha256(picture).digest()).decode(),
            bytes(range(32)),
        ),
    )


def _wa_fill(db: sqlite3.Connection) -> None:
    db.executemany(
        "INSERT INTO Z_PRIMARYKEY VALUES (?, ?, 0, 0)",
        _WA_ENTITIES,
    )
    db.execute("INSERT INTO Z_METADATA VALUES (1, 'B7C1E2D3-0000-4000-8000-000000000001', NULL)")
    db.executemany(
        "INSERT INTO ZWACHATSESSION (Z_PK, Z_ENT, Z_OPT, ZSESSIONTYPE, ZCONTACTJID, ZPARTNERNAME, "
        "ZGROUPINFO, ZARCHIVED, ZHIDDEN, ZREMOVED, ZUNREADCOUNT, ZMESSAGECOUNTER, ZLASTMESSAGEDATE) "
        "VALUES (?, 1, 5, ?, ?, ?, ?, 0, 0, 0, 0, ?, ?)",
        [
            (WA_DIRECT_SESSION, 0, RAMI_JID, RAMI_NAME, None, 6, core_data_seconds(WA_TIMES[1012])),
            (
                WA_GROUP_SESSION,
                1,
                WA_GROUP_JID,
                WA_GROUP_SUBJECT,
                WA_GROUP_INFO,
                5,
                core_data_seconds(WA_TIMES[1010]),
            ),
        ],
    )
    db.execute(
        "INSERT INTO ZWAGROUPINFO (Z_PK, Z_ENT, Z_OPT, ZSTATE, ZCHATSESSION, ZCREATIONDATE, ZCREATORJID, "
        "ZOWNERJID, ZSUBJECTOWNERJID, ZSUBJECTTIMESTAMP) VALUES (?, 4, 1, 0, ?, ?, ?, ?, ?, ?)",
        (
            WA_GROUP_INFO,
            WA_GROUP_SESSION,
            core_data_seconds(WA_TIMES[1005]),
            LINA_JID,
            LINA_JID,
            LINA_JID,
            core_data_seconds(WA_TIMES[1005]),
        ),
    )
    db.executemany(
        "INSERT INTO ZWAGROUPMEMBER (Z_PK, Z_ENT, Z_OPT, ZCHATSESSION, ZMEMBERJID, ZCONTACTNAME, ZFIRSTNAME, "
        "ZISACTIVE, ZISADMIN) VALUES (?, 5, 1, ?, ?, ?, ?, 1, ?)",
        [
            (WA_MEMBER_RAMI, WA_GROUP_SESSION, RAMI_JID, RAMI_NAME, RAMI_FIRST, 0),
            (WA_MEMBER_LINA, WA_GROUP_SESSION, LINA_JID, LINA_NAME, "Lina", 1),
            (WA_MEMBER_OMAR, WA_GROUP_SESSION, OMAR_JID, OMAR_NAME, "Omar", 0),
        ],
    )
    db.executemany(
        "INSERT INTO ZWAPROFILEPUSHNAME (Z_PK, Z_ENT, Z_OPT, ZJID, ZPUSHNAME) VALUES (?, 10, 1, ?, ?)",
        [(11001, RAMI_JID, RAMI_PUSH_NAME), (11002, DANA_JID, DANA_PUSH_NAME)],
    )
    direct, group = WA_DIRECT_SESSION, WA_GROUP_SESSION
    _wa_message(db, 1001, direct, from_me=False, text=WA_TEXT_RECEIVED, from_jid=RAMI_JID)
    _wa_message(db, 1002, direct, from_me=True, text=WA_TEXT_SENT, to_jid=RAMI_JID, flags=WA_OTHER_FLAGS)
    _wa_message(db, 1003, direct, from_me=False, message_type=1, from_jid=RAMI_JID)
    _wa_message(db, 1004, direct, from_me=True, message_type=1, to_jid=RAMI_JID)
    # The group's creation: a system row naming the subject, not something anybody wrote.
    _wa_message(
        db, 1005, group, from_me=False, message_type=6, event_type=12, text=WA_GROUP_SUBJECT,
        from_jid=WA_GROUP_JID, member=WA_MEMBER_LINA,
    )  # fmt: skip
    _wa_message(db, 1006, group, from_me=False, message_type=1, from_jid=WA_GROUP_JID, member=WA_MEMBER_LINA)
    db.execute(
        "UPDATE ZWAMEDIAITEM SET ZTITLE = ? WHERE Z_PK = ?",
        (WA_CAPTION_IN_MEDIA_ROW, WA_MEDIA_OF_MESSAGE[1006]),
    )
    _wa_message(
        db, 1007, group, from_me=False, message_type=1, text=WA_CAPTION_IN_TEXT, from_jid=WA_GROUP_JID,
        member=WA_MEMBER_OMAR,
    )  # fmt: skip
    _wa_message(db, 1008, group, from_me=True, text=WA_TEXT_TO_GROUP, to_jid=WA_GROUP_JID)
    _wa_message(
        db, 1009, direct, from_me=False, message_type=1, from_jid=RAMI_JID, flags=WA_FORWARDED_FLAGS
    )  # fmt: skip
    _wa_message(db, 1010, group, from_me=False, message_type=1, from_jid=WA_GROUP_JID, member=WA_MEMBER_LINA)


def _wa_newest(db: sqlite3.Connection) -> None:
    _wa_message(db, 1011, WA_DIRECT_SESSION, from_me=False, text=WA_TEXT_WAL_ONLY, from_jid=RAMI_JID)
    _wa_message(db, 1012, WA_DIRECT_SESSION, from_me=True, message_type=1, to_jid=RAMI_JID)


def build_chatstorage(path: Path, *, wal: bool = True) -> Path:
    """ChatStorage.sqlite; with `wal` the two newest messages (WA_WAL_ONLY) live only in `path`-wal."""
    if wal:
        return write_database(path, CHATSTORAGE_SCHEMA, _wa_fill, newest=_wa_newest)

    def everything(db: sqlite3.Connection) -> None:
        _wa_fill(db)
        _wa_newest(db)

    return write_database(path, CHATSTORAGE_SCHEMA, everything)


# Messages (sms.db) -------------------------------------------------------------------------------------

SMS_CHAT = 6001
SMS_CHAT_IDENTIFIER = RAMI_NUMBER
IMESSAGE_GROUP = 6002
IMESSAGE_GROUP_IDENTIFIER = "chat638291047561234567"
IMESSAGE_GROUP_NAME = "Weekend Plans"
HANDLE_RAMI_SMS, HANDLE_LINA, HANDLE_OMAR, HANDLE_RAMI_IMESSAGE = 8001, 8002, 8003, 8004
IMESSAGE_GROUP_MEMBERS = (LINA_NUMBER, OMAR_EMAIL, RAMI_NUMBER)  # in chat_handle_join order

SMS_TEXT_OLD = "Are we meeting tomorrow?"
SMS_TEXT_SENT = "Yes, at ten."
IMESSAGE_PICTURE_TEXT = "Photo from the trip"
IMESSAGE_BODY_ONLY = "Kept only in the attributed body"
IMESSAGE_BODY_LONG = "نص طويل محفوظ فقط في الجسم المنسق، " * 4  # over 127 bytes: a two-byte length
IMESSAGE_TWO_PICTURES_TEXT = "Two pictures"

SMS_TIMES = {
    2001: datetime(2016, 5, 1, 8, 30, tzinfo=UTC),  # stored in seconds (before iOS 11)
    2002: datetime(2024, 3, 11, 10, 0, 0, 123456, tzinfo=UTC),  # nanoseconds; 789 ns below the microsecond
    2003: datetime(2024, 3, 12, 18, 0, tzinfo=UTC),
    2004: datetime(2024, 3, 12, 18, 5, tzinfo=UTC),
    2005: datetime(2024, 3, 12, 18, 10, tzinfo=UTC),
    2006: datetime(2024, 3, 12, 18, 15, tzinfo=UTC),
    2007: datetime(2024, 3, 12, 18, 20, tzinfo=UTC),
}
SMS_GROUP_EVENT = 2007  # item_type 1: somebody was added to the group

# Attachment ROWID → (message ROWID, picture seed, filename as stored, transfer name).
_SMS_ATTACHMENTS = {
    40001: (2003, 201, "~/Library/SMS/Attachments/3a/10/6F1C2B3A-0001-4E5D-9A8B-000000040001/IMG_0001.jpeg"),
    40002: (2005, 202, "~/Library/SMS/Attachments/7b/11/8A2D3C4B-0002-4F6E-8B9C-000000040002/IMG_0002.jpeg"),
    40003: (2005, 203, "~/Library/SMS/Attachments/c4/12/9B3E4D5C-0003-4A7F-9CAD-000000040003/IMG_0003.jpeg"),
}
SMS_ATTACHMENT_PATHS = {attachment: path for attachment, (_, _, path) in _SMS_ATTACHMENTS.items()}
SMS_ATTACHMENT_MESSAGES = {attachment: message for attachment, (message, _, _) in _SMS_ATTACHMENTS.items()}
SMS_DELETED_ATTACHMENT = 40003
SMS_DELETED_ATTACHMENT_PATH = SMS_ATTACHMENT_PATHS[SMS_DELETED_ATTACHMENT]


def sms_attachment_bytes(attachment: int) -> bytes:
    return _picture(_SMS_ATTACHMENTS[attachment][1])


def sms_attachment_name(attachment: int) -> str:
    return SMS_ATTACHMENT_PATHS[attachment].rsplit("/", 1)[1]


SMS_DELETED_ATTACHMENT_SHA256 = hashlib.sha256(sms_attachment_bytes(SMS_DELETED_ATTACHMENT)).hexdigest()


def sms_attachment_files() -> dict[str, bytes]:
    """attachment.filename as stored ("~/Library/SMS/Attachments/…") → bytes, for the files present."""
    return {
        path: _picture(seed)
        for attachment, (_, seed, path) in _SMS_ATTACHMENTS.items()
        if attachment != SMS_DELETED_ATTACHMENT
    }


def _typedstream_int(value: int) -> bytes:
    """typedstream's integer: one byte below 0x80, else 0x81 and two bytes (little-endian)."""
    return bytes([value]) if value < 0x80 else b"\x81" + value.to_bytes(2, "little")


def attributed_body(text: str) -> bytes:
    """An NSAttributedString archived as typedstream, the way Messages keeps a body from iOS 16 on."""
    encoded = text.encode("utf-8")
    utf16_units = len(text.encode("utf-16-le")) // 2
    return (
        b"\x04\x0bstreamtyped\x81\xe8\x03\x84\x01@\x84\x84\x84\x12NSAttributedString\x00\x84\x84\x08NSObject"
        b"\x00\x85\x92\x84\x84\x84\x08NSString\x01\x94\x84\x01+"
        + _typedstream_int(len(encoded))
        + encoded
        + b"\x86\x84\x02iI\x01"
        + _typedstream_int(utf16_units)
        + b"\x92\x84\x84\x84\x0cNSDictionary\x00\x94\x84\x01i\x01\x92\x84\x96\x96"
        b"\x1d__kIMMessagePartAttributeName"
        b"\x86\x92\x84\x84\x84\x08NSNumber\x00\x84\x84\x07NSValue\x00\x94\x84\x01*\x84\x99\x99\x00\x86\x86\x86"
    )


SMS_DB_SCHEMA = """
CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key));
CREATE TABLE chat (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, style INTEGER,
  state INTEGER, account_id TEXT, properties BLOB, chat_identifier TEXT, service_name TEXT, room_name TEXT,
  account_login TEXT, is_archived INTEGER DEFAULT 0, last_addressed_handle TEXT, display_name TEXT,
  group_id TEXT, is_filtered INTEGER DEFAULT 0, successful_query INTEGER, engram_id TEXT,
  server_change_token TEXT, ck_sync_state INTEGER DEFAULT 0, original_group_id TEXT,
  last_read_message_timestamp INTEGER DEFAULT 0, cloudkit_record_id TEXT, last_addressed_sim_id TEXT,
  is_blackholed INTEGER DEFAULT 0, syndication_date INTEGER DEFAULT 0, syndication_type INTEGER DEFAULT 0,
  is_recovered INTEGER DEFAULT 0, is_deleting_incoming_messages INTEGER DEFAULT 0,
  is_pending_review INTEGER DEFAULT 0);
CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL, country TEXT,
  service TEXT NOT NULL, uncanonicalized_id TEXT, person_centric_id TEXT, UNIQUE (id, service) );
CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, text TEXT,
  replace INTEGER DEFAULT 0, service_center TEXT, handle_id INTEGER DEFAULT 0, subject TEXT, country TEXT,
  attributedBody BLOB, version INTEGER DEFAULT 0, type INTEGER DEFAULT 0, service TEXT, account TEXT,
  account_guid TEXT, error INTEGER DEFAULT 0, date INTEGER, date_read INTEGER, date_delivered INTEGER,
  is_delivered INTEGER DEFAULT 0, is_finished INTEGER DEFAULT 0, is_emote INTEGER DEFAULT 0,
  is_from_me INTEGER DEFAULT 0, is_empty INTEGER DEFAULT 0, is_delayed INTEGER DEFAULT 0,
  is_auto_reply INTEGER DEFAULT 0, is_prepared INTEGER DEFAULT 0, is_read INTEGER DEFAULT 0,
  is_system_message INTEGER DEFAULT 0, is_sent INTEGER DEFAULT 0, has_dd_results INTEGER DEFAULT 0,
  is_service_message INTEGER DEFAULT 0, is_forward INTEGER DEFAULT 0, was_downgraded INTEGER DEFAULT 0,
  is_archive INTEGER DEFAULT 0, cache_has_attachments INTEGER DEFAULT 0, cache_roomnames TEXT,
  was_data_detected INTEGER DEFAULT 0, was_deduplicated INTEGER DEFAULT 0, is_audio_message INTEGER DEFAULT 0,
  is_played INTEGER DEFAULT 0, date_played INTEGER, item_type INTEGER DEFAULT 0,
  other_handle INTEGER DEFAULT 0,
  group_title TEXT, group_action_type INTEGER DEFAULT 0, share_status INTEGER DEFAULT 0,
  share_direction INTEGER DEFAULT 0, is_expirable INTEGER DEFAULT 0, expire_state INTEGER DEFAULT 0,
  message_action_type INTEGER DEFAULT 0, message_source INTEGER DEFAULT 0, associated_message_guid TEXT,
  associated_message_type INTEGER DEFAULT 0, balloon_bundle_id TEXT, payload_data BLOB,
  expressive_send_style_id TEXT, associated_message_range_location INTEGER DEFAULT 0,
  associated_message_range_length INTEGER DEFAULT 0, time_expressive_send_played INTEGER,
  message_summary_info BLOB, ck_sync_state INTEGER DEFAULT 0, ck_record_id TEXT, ck_record_change_tag TEXT,
  destination_caller_id TEXT, is_corrupt INTEGER DEFAULT 0, reply_to_guid TEXT, sort_id INTEGER,
  is_spam INTEGER DEFAULT 0, has_unseen_mention INTEGER DEFAULT 0, thread_originator_guid TEXT,
  thread_originator_part TEXT, syndication_ranges TEXT, synced_syndication_ranges TEXT,
  was_delivered_quietly INTEGER DEFAULT 0, did_notify_recipient INTEGER DEFAULT 0, date_retracted INTEGER,
  date_edited INTEGER, was_detonated INTEGER DEFAULT 0, part_count INTEGER, is_stewie INTEGER DEFAULT 0,
  is_sos INTEGER DEFAULT 0, is_critical INTEGER DEFAULT 0, bia_reference_id TEXT,
  is_kt_verified INTEGER DEFAULT 0, fallback_hash TEXT, associated_message_emoji TEXT,
  is_pending_satellite_send INTEGER DEFAULT 0, needs_relay INTEGER DEFAULT 0, schedule_type INTEGER DEFAULT 0,
  schedule_state INTEGER DEFAULT 0, sent_or_received_off_grid INTEGER DEFAULT 0);
CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
  created_date INTEGER DEFAULT 0, start_date INTEGER DEFAULT 0, filename TEXT, uti TEXT, mime_type TEXT,
  transfer_state INTEGER DEFAULT 0, is_outgoing INTEGER DEFAULT 0, user_info BLOB, transfer_name TEXT,
  total_bytes INTEGER DEFAULT 0, is_sticker INTEGER DEFAULT 0, sticker_user_info BLOB,
  attribution_info BLOB, hide_attachment INTEGER DEFAULT 0, ck_sync_state INTEGER DEFAULT 0,
  ck_server_change_token_blob BLOB, ck_record_id TEXT, original_guid TEXT UNIQUE NOT NULL,
  is_commsafety_sensitive INTEGER DEFAULT 0, emoji_image_content_identifier TEXT,
  emoji_image_short_description TEXT, preview_generation_state INTEGER DEFAULT 0);
CREATE TABLE chat_message_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
  message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, message_date INTEGER DEFAULT 0,
  PRIMARY KEY (chat_id, message_id));
CREATE TABLE chat_handle_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
  handle_id INTEGER REFERENCES handle (ROWID) ON DELETE CASCADE, UNIQUE(chat_id, handle_id));
CREATE TABLE message_attachment_join (message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE,
  attachment_id INTEGER REFERENCES attachment (ROWID) ON DELETE CASCADE, UNIQUE(message_id, attachment_id));
CREATE TABLE chat_recoverable_message_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
  message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, delete_date INTEGER,
  ck_sync_state INTEGER DEFAULT 0, PRIMARY KEY (chat_id, message_id), CHECK (delete_date != 0));
CREATE TABLE deleted_messages (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, guid TEXT NOT NULL);
CREATE INDEX chat_message_join_idx_message_id_only ON chat_message_join(message_id);
CREATE INDEX chat_message_join_idx_message_date_id_chat_id
  ON chat_message_join(chat_id, message_date, message_id);
CREATE INDEX message_attachment_join_idx_message_id ON message_attachment_join(message_id);
CREATE INDEX message_idx_handle ON message(handle_id, date);
CREATE INDEX message_idx_is_read ON message(is_read, is_from_me, is_finished);
"""


def _sms_message(
    db: sqlite3.Connection,
    rowid: int,
    chat: int,
    *,
    handle: int,
    service: str,
    from_me: bool,
    date: int,
    text: str | None = None,
    body: bytes | None = None,
    item_type: int = 0,
    attachments: int = 0,
) -> None:
    db.execute(
        "INSERT INTO message (ROWID, guid, text, attributedBody, handle_id, service, account, date, "
        "date_delivered, is_from_me, is_finished, is_sent, is_delivered, is_read, item_type, "
        "cache_has_attachments, destination_caller_id, sort_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, 1, ?, 1, 1, ?, ?, ?, ?)",
        (
            rowid,
            f"5C1D{rowid:04X}-0000-4000-8000-{rowid:012X}",
            text,
            body,
            handle,
            service,
            "p:+962790000009" if service == "SMS" else "e:owner@example.org",
            date,
            1 if from_me else 0,
            1 if from_me else 0,
            item_type,
            1 if attachments else 0,
            "+962790000009",
            rowid,
        ),
    )
    db.execute(
        "INSERT INTO chat_message_join (chat_id, message_id, message_date) VALUES (?, ?, ?)",
        (chat, rowid, date),
    )


def _sms_fill(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO _SqliteDatabaseProperties VALUES ('_ClientVersion', '17001')")
    db.executemany(
        "INSERT INTO handle (ROWID, id, country, service, uncanonicalized_id, person_centric_id) "
        "VALUES (?, ?, 'jo', ?, ?, NULL)",
        [
            (HANDLE_RAMI_SMS, RAMI_NUMBER, "SMS", "0790000001"),
            (HANDLE_LINA, LINA_NUMBER, "iMessage", "0790000002"),
            (HANDLE_OMAR, OMAR_EMAIL, "iMessage", None),
            (HANDLE_RAMI_IMESSAGE, RAMI_NUMBER, "iMessage", "0790000001"),
        ],
    )
    db.executemany(
        "INSERT INTO chat (ROWID, guid, style, state, account_id, chat_identifier, service_name, room_name, "
        "display_name, group_id, is_archived) VALUES (?, ?, ?, 3, ?, ?, ?, ?, ?, ?, 0)",
        [
            (
                SMS_CHAT, f"SMS;-;{RAMI_NUMBER}", 45, "P:+962790000009", SMS_CHAT_IDENTIFIER, "SMS", None, "",
                "0A1B2C3D-0000-4000-8000-000000006001",
            ),
            (
                IMESSAGE_GROUP, f"iMessage;+;{IMESSAGE_GROUP_IDENTIFIER}", 43, "E:owner@example.org",
                IMESSAGE_GROUP_IDENTIFIER, "iMessage", IMESSAGE_GROUP_IDENTIFIER, IMESSAGE_GROUP_NAME,
                "0A1B2C3D-0000-4000-8000-000000006002",
            ),
        ],
    )  # fmt: skip
    db.executemany(
        "INSERT INTO chat_handle_join (chat_id, handle_id) VALUES (?, ?)",
        [(SMS_CHAT, HANDLE_RAMI_SMS), (IMESSAGE_GROUP, HANDLE_LINA), (IMESSAGE_GROUP, HANDLE_OMAR),
         (IMESSAGE_GROUP, HANDLE_RAMI_IMESSAGE)],
    )  # fmt: skip
    ns = apple_nanoseconds
    _sms_message(
        db, 2001, SMS_CHAT, handle=HANDLE_RAMI_SMS, service="SMS", from_me=False,
        date=apple_seconds(SMS_TIMES[2001]), text=SMS_TEXT_OLD,
    )  # fmt: skip
    _sms_message(
        db, 2002, SMS_CHAT, handle=HANDLE_RAMI_SMS, service="SMS", from_me=True,
        date=ns(SMS_TIMES[2002], extra_ns=789), text=SMS_TEXT_SENT,
    )  # fmt: skip
    # An attachment's place in the text is marked by U+FFFC.
    _sms_message(
        db, 2003, IMESSAGE_GROUP, handle=HANDLE_LINA, service="iMessage", from_me=False,
        date=ns(SMS_TIMES[2003]), text="\ufffc" + IMESSAGE_PICTURE_TEXT,
        body=attributed_body("\ufffc" + IMESSAGE_PICTURE_TEXT), attachments=1,
    )  # fmt: skip
    _sms_message(
        db, 2004, IMESSAGE_GROUP, handle=HANDLE_OMAR, service="iMessage", from_me=False,
        date=ns(SMS_TIMES[2004]), body=attributed_body(IMESSAGE_BODY_ONLY),
    )  # fmt: skip
    _sms_message(
        db, 2005, IMESSAGE_GROUP, handle=0, service="iMessage", from_me=True, date=ns(SMS_TIMES[2005]),
        text="\ufffc\ufffc" + IMESSAGE_TWO_PICTURES_TEXT, attachments=2,
    )  # fmt: skip
    _sms_message(
        db, 2006, IMESSAGE_GROUP, handle=HANDLE_RAMI_IMESSAGE, service="iMessage", from_me=False,
        date=ns(SMS_TIMES[2006]), body=attributed_body(IMESSAGE_BODY_LONG),
    )  # fmt: skip
    _sms_message(
        db, 2007, IMESSAGE_GROUP, handle=HANDLE_LINA, service="iMessage", from_me=False,
        date=ns(SMS_TIMES[2007]), item_type=1,
    )  # fmt: skip
    for attachment, (message, seed, filename) in _SMS_ATTACHMENTS.items():
        picture = _picture(seed)
        db.execute(
            "INSERT INTO attachment (ROWID, guid, original_guid, created_date, filename, uti, mime_type, "
            "transfer_state, is_outgoing, transfer_name, total_bytes) "
            "VALUES (?, ?, ?, ?, ?, 'public.jpeg', 'image/jpeg', 5, ?, ?, ?)",
            (
                attachment,
                f"at_0_{attachment}",
                f"at_0_{attachment}",
                apple_seconds(SMS_TIMES[message]),
                filename,
                1 if message == 2005 else 0,
                filename.rsplit("/", 1)[1],
                len(picture),
            ),
        )
        db.execute(
            "INSERT INTO message_attachment_join (message_id, attachment_id) VALUES (?, ?)",
            (message, attachment),
        )


def build_sms_db(path: Path) -> Path:
    return write_database(path, SMS_DB_SCHEMA, _sms_fill)


# Address book ------------------------------------------------------------------------------------------

ADDRESSBOOK_SCHEMA = """
CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key));
CREATE TABLE ABStore (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, Name TEXT, Type INTEGER,
  ConstraintsPath TEXT, ExternalModificationTag TEXT, ExternalSyncTag TEXT, AccountID INTEGER,
  Enabled INTEGER, SyncData BLOB, MeIdentifier INTEGER, Capabilities INTEGER,
  InsertionSortKey INTEGER, guid TEXT);
CREATE TABLE ABPerson (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, First TEXT, Last TEXT, Middle TEXT,
  FirstPhonetic TEXT, MiddlePhonetic TEXT, LastPhonetic TEXT, Organization TEXT, Department TEXT, Note TEXT,
  Kind INTEGER, Birthday TEXT, JobTitle TEXT, Nickname TEXT, Prefix TEXT, Suffix TEXT, FirstSort TEXT,
  LastSort TEXT, CreationDate INTEGER, ModificationDate INTEGER, CompositeNameFallback TEXT,
  ExternalIdentifier TEXT, ExternalModificationTag TEXT, ExternalUUID TEXT, StoreID INTEGER,
  DisplayName TEXT, ExternalRepresentation BLOB, FirstSortSection TEXT, LastSortSection TEXT,
  FirstSortLanguageIndex INTEGER DEFAULT 2147483647, LastSortLanguageIndex INTEGER DEFAULT 2147483647,
  PersonLink INTEGER DEFAULT -1, ImageURI TEXT, IsPreferredName INTEGER DEFAULT 1, guid TEXT,
  PhonemeData TEXT, AlternateBirthday TEXT, MapsData TEXT, FirstPronunciation TEXT,
  MiddlePronunciation TEXT, LastPronunciation TEXT, OrganizationPhonetic TEXT,
  OrganizationPronunciation TEXT, PreviousFamilyName TEXT, PreferredLikenessSource TEXT,
  PreferredPersonaIdentifier TEXT, PreferredChannel TEXT, DowntimeWhitelist TEXT, ImageType TEXT,
  ImageHash BLOB, MemojiMetadata BLOB, WallpaperURI TEXT, Wallpaper BLOB, WallpaperMetadata BLOB,
  DisplayFlags INTEGER DEFAULT 0, SensitiveContentConfiguration BLOB, UNIQUE(guid));
CREATE TABLE ABMultiValue (UID INTEGER PRIMARY KEY, record_id INTEGER, property INTEGER,
  identifier INTEGER, label INTEGER, value TEXT, guid TEXT, UNIQUE(guid));
CREATE TABLE ABMultiValueLabel (value TEXT, UNIQUE(value));
CREATE TABLE ABMultiValueEntry (parent_id INTEGER, key INTEGER, value TEXT, UNIQUE(parent_id, key));
CREATE TABLE ABMultiValueEntryKey (value TEXT, UNIQUE(value));
CREATE TABLE ABGroup (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, Name TEXT, ExternalIdentifier TEXT,
  StoreID INTEGER, ExternalModificationTag TEXT, ExternalRepresentation BLOB, ExternalUUID TEXT, guid TEXT);
CREATE TABLE ABGroupMembers (UID INTEGER PRIMARY KEY, group_id INTEGER, member_type INTEGER,
  member_id INTEGER, UNIQUE(group_id, member_type, member_id));
CREATE INDEX ABMultiValueRecordIDIndex ON ABMultiValue(record_id);
CREATE INDEX ABPersonStoreIDIndex ON ABPerson(StoreID);
"""

AB_PHONE, AB_EMAIL, AB_ADDRESS, AB_URL = 3, 4, 5, 22


def _ab_fill(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO _SqliteDatabaseProperties VALUES ('__ABPersonSortOrdering', '0')")
    db.execute("INSERT INTO ABStore (ROWID, Name, Type, Enabled, guid) VALUES (1, 'Local', 0, 1, 'store-1')")
    db.executemany(
        "INSERT INTO ABMultiValueLabel (rowid, value) VALUES (?, ?)",
        [(1, "_$!<Mobile>!$_"), (2, "_$!<Home>!$_"), (3, "_$!<Work>!$_"), (4, "_$!<HomePage>!$_")],
    )
    db.executemany(
        "INSERT INTO ABPerson (ROWID, First, Last, Organization, Kind, StoreID, CreationDate, "
        "ModificationDate, FirstSort, guid) VALUES (?, ?, ?, ?, ?, 1, 730000000, 730000000, ?, ?)",
        [
            (RAMI_CARD, RAMI_FIRST, RAMI_LAST, None, 0, "Rami Haddad", "person-guid-101"),
            (BAKERY_CARD, None, None, BAKERY_NAME, 1, BAKERY_NAME, "person-guid-102"),
            (EMPTY_CARD, "Nour", None, None, 0, "Nour", "person-guid-103"),
        ],
    )
    db.executemany(
        "INSERT INTO ABMultiValue (UID, record_id, property, identifier, label, value, guid) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (501, RAMI_CARD, AB_PHONE, 0, 1, RAMI_MOBILE, "mv-501"),
            (502, RAMI_CARD, AB_PHONE, 1, 2, RAMI_HOME, "mv-502"),
            (503, RAMI_CARD, AB_EMAIL, 0, 2, RAMI_EMAIL, "mv-503"),
            (504, RAMI_CARD, AB_URL, 0, 4, "https://example.com/rami", "mv-504"),
            (505, BAKERY_CARD, AB_PHONE, 0, 3, BAKERY_PHONE, "mv-505"),
            (506, BAKERY_CARD, AB_ADDRESS, 0, 3, None, "mv-506"),
        ],
    )
    db.executemany(
        "INSERT INTO ABMultiValueEntryKey (rowid, value) VALUES (?, ?)", [(1, "Street"), (2, "City")]
    )
    db.executemany(
        "INSERT INTO ABMultiValueEntry (parent_id, key, value) VALUES (?, ?, ?)",
        [(506, 1, "1 Rainbow Street"), (506, 2, "Amman")],
    )


def build_addressbook(path: Path) -> Path:
    return write_database(path, ADDRESSBOOK_SCHEMA, _ab_fill)


# Lookalikes: databases with similar tables that none of the iOS parsers may take for theirs -------------

LOOKALIKE_SCHEMAS = {
    # A chat app's own `message` table: no handle_id, no chat_message_join.
    "message-without-handle": """
        CREATE TABLE message (ROWID INTEGER PRIMARY KEY, guid TEXT, text TEXT, service TEXT, date INTEGER,
          is_from_me INTEGER, attributedBody BLOB);
        CREATE TABLE handle (ROWID INTEGER PRIMARY KEY, id TEXT, service TEXT);
        CREATE TABLE chat (ROWID INTEGER PRIMARY KEY, guid TEXT, chat_identifier TEXT, style INTEGER);
        CREATE TABLE chat_message_join (chat_id INTEGER, message_id INTEGER);
    """,
    # WhatsApp for Android's msgstore.db also has a `message` table (and a `chat` table).
    "android-msgstore": """
        CREATE TABLE message (_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_row_id INTEGER NOT NULL,
          from_me INTEGER NOT NULL, key_id TEXT NOT NULL, sender_jid_row_id INTEGER, status INTEGER,
          timestamp INTEGER, received_timestamp INTEGER, message_type INTEGER, text_data TEXT);
        CREATE TABLE chat (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid_row_id INTEGER UNIQUE, subject TEXT);
        CREATE TABLE jid (_id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, server TEXT NOT NULL,
          raw_string TEXT);
    """,
    # WhatsApp's ContactsV2.sqlite and CallHistory.sqlite are Core Data stores too, without messages.
    "whatsapp-contacts-store": """
        CREATE TABLE ZWAADDRESSBOOKCONTACT (Z_PK INTEGER PRIMARY KEY, ZFULLNAME VARCHAR, ZPHONENUMBER VARCHAR,
          ZWHATSAPPID VARCHAR);
        CREATE TABLE ZWACHATSESSION (Z_PK INTEGER PRIMARY KEY, ZCONTACTJID VARCHAR, ZPARTNERNAME VARCHAR);
        CREATE TABLE ZWAMESSAGE (Z_PK INTEGER PRIMARY KEY, ZTEXT VARCHAR, ZSTANZAID VARCHAR);
    """,
    # People without their phones and e-mails (a trimmed export, or the images database's sibling).
    "addressbook-without-values": """
        CREATE TABLE ABPerson (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, First TEXT, Last TEXT,
          Organization TEXT);
        CREATE TABLE ABFullSizeImage (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, record_id INTEGER, data BLOB);
    """,
}


def build_lookalike(path: Path, name: str) -> Path:
    def nothing(db: sqlite3.Connection) -> None:
        return None

    return write_database(path, LOOKALIKE_SCHEMAS[name], nothing)
