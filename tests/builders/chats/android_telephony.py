"""Android's SMS/MMS store (`mmssms.db`) and address book (`contacts2.db`), built the way AOSP writes them.

The CREATE TABLE statements are those of current AOSP (TelephonyProvider's MmsSmsDatabaseHelper and
ContactsProvider's ContactsDatabaseHelper), unread columns and tables included; every table's row ids
start in a range of their own so that a join on the wrong column finds nothing. All people, numbers
and texts are made up; the MMS pictures come from `tests.builders.images`.

The scenario, in `mmssms.db` (2023-05-14, UTC):
- thread 5001 with +962790000001: an SMS received (10:00:00.250), one sent (10:01), a draft SMS (not a
  message), an MMS received at 10:02 with a picture and a text, and an SMS received at 13:00:00.999;
- thread 5002 with +962790000002 and +962790000003 (a group): an MMS sent at 12:00 with two pictures,
  the second one's file deleted, and a text (its "from" is the owner's `insert-address-token`); a
  delivery report about it (not a message); a text-only MMS reply from +962790000002 at 12:05;
- thread 5003 with +962790000004: an MMS not yet downloaded (11:00, only its UTF-8 Arabic subject, kept
  by PduPersister as ISO-8859-1 characters) and an MMS draft.
With `wal=True` the 12:00 MMS, its report, the 12:05 reply and the 13:00 SMS live only in `-wal`.

In `contacts2.db`: Rami (Google account, two numbers and an e-mail address), Lina (a Google and a
WhatsApp raw contact aggregated into one contact), Omar (Telegram), Huda (no display name, only a
structured name) and Sami (a raw contact deleted on the phone, waiting for sync, no longer aggregated).
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from himaya.analyzers.artifacts.interface import ChatMessage, Identity, MediaRef
from tests.builders.chats.sqlite_files import write_database
from tests.builders.images import photo_jpeg

# mmssms.db ------------------------------------------------------------------------------------------

MMSSMS_SCHEMA = """
CREATE TABLE android_metadata (locale TEXT);
CREATE TABLE sms (_id INTEGER PRIMARY KEY,thread_id INTEGER,address TEXT,person INTEGER,date INTEGER,
    date_sent INTEGER DEFAULT 0,protocol INTEGER,read INTEGER DEFAULT 0,status INTEGER DEFAULT -1,
    type INTEGER,reply_path_present INTEGER,subject TEXT,body TEXT,service_center TEXT,
    locked INTEGER DEFAULT 0,sub_id INTEGER DEFAULT -1,error_code INTEGER DEFAULT -1,creator TEXT,
    seen INTEGER DEFAULT 0);
CREATE TABLE raw (_id INTEGER PRIMARY KEY,date INTEGER,reference_number INTEGER,count INTEGER,
    sequence INTEGER,destination_port INTEGER,address TEXT,sub_id INTEGER DEFAULT -1,pdu TEXT,
    deleted INTEGER DEFAULT 0,message_body TEXT,display_originating_addr TEXT);
CREATE TABLE attachments (sms_id INTEGER,content_url TEXT,offset INTEGER);
CREATE TABLE sr_pending (reference_number INTEGER,action TEXT,data TEXT);
CREATE TABLE canonical_addresses (_id INTEGER PRIMARY KEY AUTOINCREMENT,address TEXT);
CREATE TABLE threads (_id INTEGER PRIMARY KEY AUTOINCREMENT,date INTEGER DEFAULT 0,
    message_count INTEGER DEFAULT 0,recipient_ids TEXT,snippet TEXT,snippet_cs INTEGER DEFAULT 0,
    read INTEGER DEFAULT 1,archived INTEGER DEFAULT 0,type INTEGER DEFAULT 0,error INTEGER DEFAULT 0,
    has_attachment INTEGER DEFAULT 0);
CREATE TABLE pending_msgs (_id INTEGER PRIMARY KEY,proto_type INTEGER,msg_id INTEGER,msg_type INTEGER,
    err_type INTEGER,err_code INTEGER,retry_index INTEGER NOT NULL DEFAULT 0,due_time INTEGER,
    pending_sub_id INTEGER DEFAULT 0,last_try INTEGER);
CREATE TABLE pdu (_id INTEGER PRIMARY KEY AUTOINCREMENT,thread_id INTEGER,date INTEGER,
    date_sent INTEGER DEFAULT 0,msg_box INTEGER,read INTEGER DEFAULT 0,m_id TEXT,sub TEXT,sub_cs INTEGER,
    ct_t TEXT,ct_l TEXT,exp INTEGER,m_cls TEXT,m_type INTEGER,v INTEGER,m_size INTEGER,pri INTEGER,
    rr INTEGER,rpt_a INTEGER,resp_st INTEGER,st INTEGER,tr_id TEXT,retr_st INTEGER,retr_txt TEXT,
    retr_txt_cs INTEGER,read_status INTEGER,ct_cls INTEGER,resp_txt TEXT,d_tm INTEGER,d_rpt INTEGER,
    locked INTEGER DEFAULT 0,sub_id INTEGER DEFAULT -1,seen INTEGER DEFAULT 0,creator TEXT,
    text_only INTEGER DEFAULT 0);
CREATE TABLE addr (_id INTEGER PRIMARY KEY,msg_id INTEGER,contact_id INTEGER,address TEXT,type INTEGER,
    charset INTEGER);
CREATE TABLE part (_id INTEGER PRIMARY KEY AUTOINCREMENT,mid INTEGER,seq INTEGER DEFAULT 0,ct TEXT,
    name TEXT,chset INTEGER,cd TEXT,fn TEXT,cid TEXT,cl TEXT,ctt_s INTEGER,ctt_t TEXT,_data TEXT,text TEXT);
CREATE TABLE rate (sent_time INTEGER);
CREATE TABLE drm (_id INTEGER PRIMARY KEY,_data TEXT);
CREATE VIRTUAL TABLE words USING FTS3 (_id INTEGER PRIMARY KEY, index_text TEXT, source_id INTEGER,
    table_to_use INTEGER);
CREATE INDEX typeThreadIdIndex ON sms (type, thread_id);
"""

RAMI = "+962790000001"
LINA = "+962790000002"
OMAR = "+962790000003"
HUDA = "+962790000004"
# The phone's own number, as a received group MMS lists it among the "to" addresses.
OWNER = "+962790000099"
OWNER_TOKEN = "insert-address-token"

THREAD_DIRECT = 5001
THREAD_GROUP = 5002
THREAD_PENDING = 5003
CHAT_DIRECT = f"thread:{THREAD_DIRECT}"
CHAT_GROUP = f"thread:{THREAD_GROUP}"
CHAT_PENDING = f"thread:{THREAD_PENDING}"
GROUP_NAME = f"{LINA}, {OMAR}"

SMS_RECEIVED = 1001
SMS_SENT = 1002
SMS_DRAFT = 1003
SMS_LATE = 1004  # the newest SMS: in `-wal` only when built with wal=True
PDU_PICTURE = 2001
PDU_GROUP_SENT = 2002
PDU_GROUP_REPLY = 2003
PDU_DRAFT = 2004
PDU_PENDING = 2005
PDU_REPORT = 2006
PART_PICTURE = 3002
PART_GROUP_PICTURE = 3005
PART_GROUP_DELETED = 3006

SMS_RECEIVED_TEXT = "Hello, are you there?"
SMS_SENT_TEXT = "Yes, I am here."
SMS_DRAFT_TEXT = "Not sent yet"
SMS_LATE_TEXT = "See you tomorrow"
MMS_PICTURE_TEXT = "Look at this picture"
MMS_GROUP_TEXT = "Photos from the trip"
MMS_REPLY_TEXT = "Thanks!"
MMS_DRAFT_TEXT = "Draft picture message"
MMS_PENDING_SUBJECT = "مرحبا"  # "hello"

SMS_RECEIVED_MS = 1684058400250  # 2023-05-14 10:00:00.250 UTC, milliseconds
SMS_SENT_MS = 1684058460000
SMS_DRAFT_MS = 1684058580000
SMS_LATE_MS = 1684069200999
PDU_PICTURE_S = 1684058520  # 2023-05-14 10:02:00 UTC, seconds
PDU_PENDING_S = 1684062000
PDU_DRAFT_S = 1684062300
PDU_GROUP_SENT_S = 1684065600
PDU_REPORT_S = 1684065605
PDU_GROUP_REPLY_S = 1684065900

SMS_RECEIVED_TIME = datetime(2023, 5, 14, 10, 0, 0, 250_000, tzinfo=UTC)
SMS_SENT_TIME = datetime(2023, 5, 14, 10, 1, tzinfo=UTC)
SMS_LATE_TIME = datetime(2023, 5, 14, 13, 0, 0, 999_000, tzinfo=UTC)
PDU_PICTURE_TIME = datetime(2023, 5, 14, 10, 2, tzinfo=UTC)
PDU_PENDING_TIME = datetime(2023, 5, 14, 11, 0, tzinfo=UTC)
PDU_GROUP_SENT_TIME = datetime(2023, 5, 14, 12, 0, tzinfo=UTC)
PDU_GROUP_REPLY_TIME = datetime(2023, 5, 14, 12, 5, tzinfo=UTC)

PARTS_FOLDER = "/data/user_de/0/com.android.providers.telephony/app_parts"
PICTURE_PATH = f"{PARTS_FOLDER}/PART_1684058520412_image000000.jpg"
GROUP_PICTURE_PATH = f"{PARTS_FOLDER}/PART_1684065600101_image000000.jpg"
DELETED_PICTURE_PATH = f"{PARTS_FOLDER}/PART_1684065600187_image000001.jpg"
PICTURE_NAME = "image000000.jpg"
DELETED_PICTURE_NAME = "image000001.jpg"
_PICTURE_SEEDS = {PICTURE_PATH: 7101, GROUP_PICTURE_PATH: 7102, DELETED_PICTURE_PATH: 7103}


def _picture(path: str) -> bytes:
    return photo_jpeg(_PICTURE_SEEDS[path], 160, 120)


# What the deleted part's file held, so that a test can tell it apart from the pictures that remain.
DELETED_PICTURE_SHA256 = hashlib.sha256(_picture(DELETED_PICTURE_PATH)).hexdigest()


def mms_part_files() -> dict[str, bytes]:
    """The MMS attachment files that still exist, by `part._data` as stored."""
    return {path: _picture(path) for path in (PICTURE_PATH, GROUP_PICTURE_PATH)}


_SMIL = (
    '<smil><head><layout><root-layout/><region id="Image" top="0" left="0" height="80%" width="100%"/>'
    '<region id="Text" top="80%" left="0" height="20%" width="100%"/></layout></head><body><par dur="5000ms">'
    '<img src="image000000.jpg" region="Image"/><text src="text_0.txt" region="Text"/></par></body></smil>'
)


def _insert(db: sqlite3.Connection, table: str, rows: list[dict[str, object]]) -> None:
    for row in rows:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))


def _sms(row_id: int, thread: int, address: str, date_ms: int, kind: int, body: str) -> dict[str, object]:
    return {
        "_id": row_id, "thread_id": thread, "address": address, "person": None, "date": date_ms,
        "date_sent": date_ms - 3000 if kind == 1 else 0, "protocol": 0 if kind == 1 else None,
        "read": 1, "status": -1, "type": kind, "reply_path_present": 0 if kind == 1 else None,
        "body": body, "service_center": "+962790000500" if kind == 1 else None, "sub_id": 1,
        "creator": "com.google.android.apps.messaging", "seen": 1,
    }  # fmt: skip


def _pdu(row_id: int, thread: int, date_s: int, box: int, m_type: int, **extra: object) -> dict[str, object]:
    return {
        "_id": row_id, "thread_id": thread, "date": date_s, "date_sent": date_s if box == 1 else 0,
        "msg_box": box, "read": 1, "m_id": f"mms{row_id}xyz" if m_type == 132 else None,
        "ct_t": "application/vnd.wap.multipart.related", "m_type": m_type, "v": 18, "pri": 129,
        "tr_id": f"T18{row_id:x}", "sub_id": 1, "seen": 1, "creator": "com.google.android.apps.messaging",
        "text_only": 0, **extra,
    }  # fmt: skip


def _addr(row_id: int, msg_id: int, address: str, kind: int) -> dict[str, object]:
    return {
        "_id": row_id,
        "msg_id": msg_id,
        "contact_id": None,
        "address": address,
        "type": kind,
        "charset": 106,
    }


def _part(row_id: int, mid: int, seq: int, ct: str, **extra: object) -> dict[str, object]:
    return {"_id": row_id, "mid": mid, "seq": seq, "ct": ct, **extra}


def _smil(row_id: int, mid: int) -> dict[str, object]:
    return _part(row_id, mid, -1, "application/smil", cid="<smil>", cl="smil.xml", text=_SMIL)


def _text(row_id: int, mid: int, text: str) -> dict[str, object]:
    return _part(row_id, mid, 0, "text/plain", chset=106, cid="<text_0>", cl="text_0.txt", text=text)


def _image(row_id: int, mid: int, path: str, name: str) -> dict[str, object]:
    return _part(row_id, mid, 0, "image/jpeg", name=name, cid=f"<{name.split('.')[0]}>", cl=name, _data=path)


def _fill_mmssms(db: sqlite3.Connection) -> None:
    _insert(db, "android_metadata", [{"locale": "en_US"}])
    _insert(db, "canonical_addresses", [
        {"_id": 6001, "address": RAMI}, {"_id": 6002, "address": LINA},
        {"_id": 6003, "address": OMAR}, {"_id": 6004, "address": HUDA},
    ])  # fmt: skip
    _insert(db, "threads", [
        {"_id": THREAD_DIRECT, "date": SMS_LATE_MS, "message_count": 4, "recipient_ids": "6001",
         "snippet": SMS_LATE_TEXT, "has_attachment": 1},
        {"_id": THREAD_GROUP, "date": PDU_GROUP_REPLY_S * 1000, "message_count": 2,
         "recipient_ids": "6002 6003", "snippet": MMS_REPLY_TEXT, "has_attachment": 1},
        {"_id": THREAD_PENDING, "date": PDU_PENDING_S * 1000, "message_count": 1, "recipient_ids": "6004"},
    ])  # fmt: skip
    _insert(db, "sms", [
        _sms(SMS_RECEIVED, THREAD_DIRECT, RAMI, SMS_RECEIVED_MS, 1, SMS_RECEIVED_TEXT),
        _sms(SMS_SENT, THREAD_DIRECT, RAMI, SMS_SENT_MS, 2, SMS_SENT_TEXT),
        _sms(SMS_DRAFT, THREAD_DIRECT, RAMI, SMS_DRAFT_MS, 3, SMS_DRAFT_TEXT),
    ])  # fmt: skip
    pending_subject = MMS_PENDING_SUBJECT.encode("utf-8").decode("latin-1")
    _insert(db, "pdu", [
        _pdu(PDU_PICTURE, THREAD_DIRECT, PDU_PICTURE_S, 1, 132, m_size=41_873),
        _pdu(PDU_PENDING, THREAD_PENDING, PDU_PENDING_S, 1, 130, sub=pending_subject, sub_cs=106,
             ct_l="http://mms.example.invalid/m/2005", exp=604_800, m_cls="personal", m_size=52_000),
        _pdu(PDU_DRAFT, THREAD_PENDING, PDU_DRAFT_S, 3, 128),
    ])  # fmt: skip
    _insert(db, "addr", [
        _addr(4001, PDU_PICTURE, RAMI, 137), _addr(4002, PDU_PICTURE, OWNER, 151),
        _addr(4003, PDU_PENDING, HUDA, 137), _addr(4004, PDU_PENDING, OWNER, 151),
        _addr(4005, PDU_DRAFT, OWNER_TOKEN, 137), _addr(4006, PDU_DRAFT, HUDA, 151),
    ])  # fmt: skip
    _insert(db, "part", [
        _smil(3001, PDU_PICTURE),
        _image(PART_PICTURE, PDU_PICTURE, PICTURE_PATH, PICTURE_NAME),
        _text(3003, PDU_PICTURE, MMS_PICTURE_TEXT),
        _text(3004, PDU_DRAFT, MMS_DRAFT_TEXT),
    ])  # fmt: skip


def _fill_mmssms_newest(db: sqlite3.Connection) -> None:
    _insert(db, "sms", [_sms(SMS_LATE, THREAD_DIRECT, RAMI, SMS_LATE_MS, 1, SMS_LATE_TEXT)])
    _insert(db, "pdu", [
        _pdu(PDU_GROUP_SENT, THREAD_GROUP, PDU_GROUP_SENT_S, 2, 128, m_size=88_210),
        _pdu(PDU_REPORT, THREAD_GROUP, PDU_REPORT_S, 1, 134, m_id=f"mms{PDU_GROUP_SENT}xyz", st=129),
        _pdu(PDU_GROUP_REPLY, THREAD_GROUP, PDU_GROUP_REPLY_S, 1, 132, m_size=1_204),
    ])  # fmt: skip
    _insert(db, "addr", [
        _addr(4007, PDU_GROUP_SENT, OWNER_TOKEN, 137), _addr(4008, PDU_GROUP_SENT, LINA, 151),
        _addr(4009, PDU_GROUP_SENT, OMAR, 151),
        _addr(4010, PDU_REPORT, LINA, 151),
        _addr(4011, PDU_GROUP_REPLY, LINA, 137), _addr(4012, PDU_GROUP_REPLY, OWNER, 151),
        _addr(4013, PDU_GROUP_REPLY, OMAR, 151),
    ])  # fmt: skip
    _insert(db, "part", [
        _smil(3009, PDU_GROUP_SENT),
        _image(PART_GROUP_PICTURE, PDU_GROUP_SENT, GROUP_PICTURE_PATH, PICTURE_NAME),
        _image(PART_GROUP_DELETED, PDU_GROUP_SENT, DELETED_PICTURE_PATH, DELETED_PICTURE_NAME),
        _text(3007, PDU_GROUP_SENT, MMS_GROUP_TEXT),
        _text(3008, PDU_GROUP_REPLY, MMS_REPLY_TEXT),
    ])  # fmt: skip


def build_mmssms(path: Path, *, wal: bool = False) -> Path:
    """The scenario's `mmssms.db` at `path`; with `wal`, its newest rows are in `path`-wal only."""
    if wal:
        return write_database(path, MMSSMS_SCHEMA, _fill_mmssms, newest=_fill_mmssms_newest)

    def fill(db: sqlite3.Connection) -> None:
        _fill_mmssms(db)
        _fill_mmssms_newest(db)

    return write_database(path, MMSSMS_SCHEMA, fill)


# Every message the parser must read from `build_mmssms`, by source row (drafts and the report absent).
EXPECTED_MESSAGES: dict[str, ChatMessage] = {
    message.source_row: message
    for message in (
        ChatMessage(
            app="sms",
            source_row=f"sms:{SMS_RECEIVED}",
            chat=CHAT_DIRECT,
            chat_type="direct",
            direction="received",
            sender=RAMI,
            time_utc=SMS_RECEIVED_TIME,
            text=SMS_RECEIVED_TEXT,
            chat_name=RAMI,
        ),
        ChatMessage(
            app="sms",
            source_row=f"sms:{SMS_SENT}",
            chat=CHAT_DIRECT,
            chat_type="direct",
            direction="sent",
            sender=None,
            recipients=(RAMI,),
            time_utc=SMS_SENT_TIME,
            text=SMS_SENT_TEXT,
            chat_name=RAMI,
        ),
        ChatMessage(
            app="sms",
            source_row=f"sms:{SMS_LATE}",
            chat=CHAT_DIRECT,
            chat_type="direct",
            direction="received",
            sender=RAMI,
            time_utc=SMS_LATE_TIME,
            text=SMS_LATE_TEXT,
            chat_name=RAMI,
        ),
        ChatMessage(
            app="mms",
            source_row=f"pdu:{PDU_PICTURE}:part:{PART_PICTURE}",
            chat=CHAT_DIRECT,
            chat_type="direct",
            direction="received",
            sender=RAMI,
            time_utc=PDU_PICTURE_TIME,
            text=MMS_PICTURE_TEXT,
            media=MediaRef(path=PICTURE_PATH, mime="image/jpeg", name=PICTURE_NAME),
            chat_name=RAMI,
        ),
        ChatMessage(
            app="mms",
            source_row=f"pdu:{PDU_PENDING}",
            chat=CHAT_PENDING,
            chat_type="direct",
            direction="received",
            sender=HUDA,
            time_utc=PDU_PENDING_TIME,
            text=MMS_PENDING_SUBJECT,
            chat_name=HUDA,
        ),
        ChatMessage(
            app="mms",
            source_row=f"pdu:{PDU_GROUP_SENT}:part:{PART_GROUP_PICTURE}",
            chat=CHAT_GROUP,
            chat_type="group",
            direction="sent",
            sender=None,
            recipients=(LINA, OMAR),
            time_utc=PDU_GROUP_SENT_TIME,
            text=MMS_GROUP_TEXT,
            chat_name=GROUP_NAME,
            media=MediaRef(path=GROUP_PICTURE_PATH, mime="image/jpeg", name=PICTURE_NAME),
        ),
        ChatMessage(
            app="mms",
            source_row=f"pdu:{PDU_GROUP_SENT}:part:{PART_GROUP_DELETED}",
            chat=CHAT_GROUP,
            chat_type="group",
            direction="sent",
            sender=None,
            recipients=(LINA, OMAR),
            time_utc=PDU_GROUP_SENT_TIME,
            text=None,
            chat_name=GROUP_NAME,
            media=MediaRef(path=DELETED_PICTURE_PATH, mime="image/jpeg", name=DELETED_PICTURE_NAME),
        ),
        ChatMessage(
            app="mms",
            source_row=f"pdu:{PDU_GROUP_REPLY}",
            chat=CHAT_GROUP,
            chat_type="group",
            direction="received",
            sender=LINA,
            recipients=(OWNER, OMAR),
            time_utc=PDU_GROUP_REPLY_TIME,
            text=MMS_REPLY_TEXT,
            chat_name=GROUP_NAME,
        ),
    )
}

# Lookalikes the SMS parser must not take for `mmssms.db`.
MMSSMS_LOOKALIKES = {
    # An `sms` table without `thread_id` (a backup app's export).
    "sms-without-thread": """
        CREATE TABLE sms (_id INTEGER PRIMARY KEY, address TEXT, date INTEGER, type INTEGER, body TEXT);
        CREATE TABLE threads (_id INTEGER PRIMARY KEY, recipient_ids TEXT);
        CREATE TABLE canonical_addresses (_id INTEGER PRIMARY KEY, address TEXT);
    """,
    # Signal's old database: an `sms` table like AOSP's, but `thread` and no `canonical_addresses`.
    "signal": """
        CREATE TABLE sms (_id integer PRIMARY KEY, thread_id INTEGER, address TEXT,
            address_device_id INTEGER DEFAULT 1, person INTEGER, date INTEGER, date_sent INTEGER,
            protocol INTEGER, read INTEGER DEFAULT 0, status INTEGER DEFAULT -1, type INTEGER,
            reply_path_present INTEGER, subject TEXT, body TEXT);
        CREATE TABLE thread (_id INTEGER PRIMARY KEY, date INTEGER DEFAULT 0, message_count INTEGER DEFAULT 0,
            recipient_ids TEXT, snippet TEXT, type INTEGER DEFAULT 0);
    """,
    # A third-party messenger with only `messages`.
    "messages-only": """
        CREATE TABLE messages (_id INTEGER PRIMARY KEY, thread_id INTEGER, address TEXT, date INTEGER,
            type INTEGER, body TEXT);
        CREATE TABLE threads (_id INTEGER PRIMARY KEY, recipient_ids TEXT);
    """,
}

# contacts2.db -----------------------------------------------------------------------------------------

CONTACTS2_SCHEMA = """
CREATE TABLE android_metadata (locale TEXT);
CREATE TABLE accounts (_id INTEGER PRIMARY KEY AUTOINCREMENT,account_name TEXT, account_type TEXT,
    data_set TEXT);
CREATE TABLE contacts (_id INTEGER PRIMARY KEY AUTOINCREMENT,name_raw_contact_id INTEGER REFERENCES
    raw_contacts(_id),photo_id INTEGER REFERENCES data(_id),photo_file_id INTEGER REFERENCES photo_files(_id),
    custom_ringtone TEXT,send_to_voicemail INTEGER NOT NULL DEFAULT 0,x_times_contacted INTEGER NOT NULL
    DEFAULT 0,x_last_time_contacted INTEGER,x_starred INTEGER NOT NULL DEFAULT 0,x_pinned INTEGER NOT NULL
    DEFAULT 2147483647,has_phone_number INTEGER NOT NULL DEFAULT 0,lookup TEXT,status_update_id INTEGER
    REFERENCES data(_id),contact_last_updated_timestamp INTEGER);
CREATE TABLE deleted_contacts (contact_id INTEGER PRIMARY KEY,contact_deleted_timestamp INTEGER NOT NULL
    default 0);
CREATE TABLE raw_contacts (_id INTEGER PRIMARY KEY AUTOINCREMENT,account_id INTEGER REFERENCES
    accounts(_id),sourceid TEXT,backup_id TEXT,raw_contact_is_read_only INTEGER NOT NULL DEFAULT 0,version
    INTEGER NOT NULL DEFAULT 1,dirty INTEGER NOT NULL DEFAULT 0,deleted INTEGER NOT NULL DEFAULT 0,
    metadata_dirty INTEGER NOT NULL DEFAULT 0,contact_id INTEGER REFERENCES contacts(_id),aggregation_mode
    INTEGER NOT NULL DEFAULT 0,aggregation_needed INTEGER NOT NULL DEFAULT 1,custom_ringtone TEXT,
    send_to_voicemail INTEGER NOT NULL DEFAULT 0,x_times_contacted INTEGER NOT NULL DEFAULT 0,
    x_last_time_contacted INTEGER,x_starred INTEGER NOT NULL DEFAULT 0,x_pinned INTEGER NOT NULL DEFAULT 0,
    display_name TEXT,display_name_alt TEXT,display_name_source INTEGER NOT NULL DEFAULT 0,phonetic_name
    TEXT,phonetic_name_style TEXT,sort_key TEXT,phonebook_label TEXT,phonebook_bucket INTEGER,sort_key_alt
    TEXT,phonebook_label_alt TEXT,phonebook_bucket_alt INTEGER,name_verified INTEGER NOT NULL DEFAULT 0,
    sync1 TEXT, sync2 TEXT, sync3 TEXT, sync4 TEXT);
CREATE TABLE packages (_id INTEGER PRIMARY KEY AUTOINCREMENT,package TEXT NOT NULL);
CREATE TABLE mimetypes (_id INTEGER PRIMARY KEY AUTOINCREMENT,mimetype TEXT NOT NULL);
CREATE UNIQUE INDEX mime_type ON mimetypes (mimetype);
CREATE TABLE data (_id INTEGER PRIMARY KEY AUTOINCREMENT,package_id INTEGER REFERENCES package(_id),
    mimetype_id INTEGER REFERENCES mimetype(_id) NOT NULL,raw_contact_id INTEGER REFERENCES
    raw_contacts(_id) NOT NULL,hash_id TEXT,is_read_only INTEGER NOT NULL DEFAULT 0,is_primary INTEGER NOT
    NULL DEFAULT 0,is_super_primary INTEGER NOT NULL DEFAULT 0,data_version INTEGER NOT NULL DEFAULT 0,
    data1 TEXT,data2 TEXT,data3 TEXT,data4 TEXT,data5 TEXT,data6 TEXT,data7 TEXT,data8 TEXT,data9 TEXT,
    data10 TEXT,data11 TEXT,data12 TEXT,data13 TEXT,data14 TEXT,data15 TEXT,data_sync1 TEXT, data_sync2
    TEXT, data_sync3 TEXT, data_sync4 TEXT, carrier_presence INTEGER NOT NULL DEFAULT 0,
    preferred_phone_account_componentname TEXT, preferred_phone_account_id TEXT);
CREATE TABLE phone_lookup (data_id INTEGER REFERENCES data(_id) NOT NULL,raw_contact_id INTEGER
    REFERENCES raw_contacts(_id) NOT NULL,normalized_number TEXT NOT NULL,min_match TEXT NOT NULL);
CREATE TABLE name_lookup (data_id INTEGER REFERENCES data(_id) NOT NULL,raw_contact_id INTEGER REFERENCES
    raw_contacts(_id) NOT NULL,normalized_name TEXT NOT NULL,name_type INTEGER NOT NULL,
    PRIMARY KEY (data_id, normalized_name, name_type));
"""

MIME_NAME = "vnd.android.cursor.item/name"
MIME_PHONE = "vnd.android.cursor.item/phone_v2"
MIME_EMAIL = "vnd.android.cursor.item/email_v2"
MIME_PHOTO = "vnd.android.cursor.item/photo"
MIME_WHATSAPP = "vnd.android.cursor.item/vnd.com.whatsapp.profile"
MIME_WHATSAPP_VOIP = "vnd.android.cursor.item/vnd.com.whatsapp.voip.call"
MIME_TELEGRAM = "vnd.android.cursor.item/vnd.org.telegram.messenger.android.profile"
_MIMETYPE_IDS = {
    MIME_NAME: 61, MIME_PHONE: 62, MIME_EMAIL: 63, MIME_PHOTO: 64, MIME_WHATSAPP: 65,
    MIME_WHATSAPP_VOIP: 66, MIME_TELEGRAM: 67,
}  # fmt: skip

RAMI_NAME = "Rami Haddad"
LINA_NAME = "Lina Saleh"
OMAR_NAME = "Omar Nasser"
HUDA_NAME = "Huda Khalil"
SAMI_NAME = "Sami Odeh"
RAMI_MOBILE = "+962 79 000 0001"
RAMI_LANDLINE = "06 500 0001"
RAMI_EMAIL = "rami.haddad@example.com"
LINA_MOBILE = "+962 79 000 0002"
LINA_JID = "962790000002@s.whatsapp.net"
OMAR_TELEGRAM = "123456789"
HUDA_MOBILE = "+962 79 000 0004"
SAMI_MOBILE = "+962 79 000 0005"

CONTACT_RAMI = 1101
CONTACT_LINA = 1102
CONTACT_OMAR = 1103
CONTACT_HUDA = 1104
RAW_RAMI = 2201
RAW_LINA_GOOGLE = 2202
RAW_LINA_WHATSAPP = 2203
RAW_OMAR = 2204
RAW_HUDA = 2205
RAW_SAMI_DELETED = 2206
_ACCOUNT_GOOGLE, _ACCOUNT_WHATSAPP, _ACCOUNT_TELEGRAM = 71, 72, 73


def _raw(
    row_id: int, account: int, contact: int | None, name: str | None, **extra: object
) -> dict[str, object]:
    return {
        "_id": row_id, "account_id": account, "contact_id": contact, "display_name": name,
        "display_name_alt": name, "display_name_source": 40 if name else 0, "sort_key": name,
        "aggregation_needed": 0, **extra,
    }  # fmt: skip


def _data(row_id: int, raw: int, mimetype: str, data1: str | None, **extra: object) -> dict[str, object]:
    return {
        "_id": row_id,
        "raw_contact_id": raw,
        "mimetype_id": _MIMETYPE_IDS[mimetype],
        "data1": data1,
        **extra,
    }


def _fill_contacts2(db: sqlite3.Connection) -> None:
    _insert(db, "android_metadata", [{"locale": "en_US"}])
    _insert(db, "accounts", [
        {"_id": _ACCOUNT_GOOGLE, "account_name": "owner.synthetic@example.com", "account_type": "com.google"},
        {"_id": _ACCOUNT_WHATSAPP, "account_name": "WhatsApp", "account_type": "com.whatsapp"},
        {"_id": _ACCOUNT_TELEGRAM, "account_name": "+962790000099", "account_type": "org.telegram.messenger"},
    ])  # fmt: skip
    _insert(
        db,
        "packages",
        [{"_id": 81, "package": "com.whatsapp"}, {"_id": 82, "package": "org.telegram.messenger"}],
    )
    _insert(db, "mimetypes", [{"_id": number, "mimetype": name} for name, number in _MIMETYPE_IDS.items()])
    _insert(db, "contacts", [
        {"_id": CONTACT_RAMI, "name_raw_contact_id": RAW_RAMI, "has_phone_number": 1, "lookup": "0r2201"},
        {"_id": CONTACT_LINA, "name_raw_contact_id": RAW_LINA_GOOGLE, "has_phone_number": 1,
         "lookup": "0r2202.0r2203"},
        {"_id": CONTACT_OMAR, "name_raw_contact_id": RAW_OMAR, "has_phone_number": 0, "lookup": "0r2204"},
        {"_id": CONTACT_HUDA, "name_raw_contact_id": RAW_HUDA, "has_phone_number": 1, "lookup": "0r2205"},
    ])  # fmt: skip
    _insert(db, "raw_contacts", [
        _raw(RAW_RAMI, _ACCOUNT_GOOGLE, CONTACT_RAMI, RAMI_NAME, sourceid="c1a2b3"),
        _raw(RAW_LINA_GOOGLE, _ACCOUNT_GOOGLE, CONTACT_LINA, LINA_NAME, sourceid="c4d5e6"),
        _raw(RAW_LINA_WHATSAPP, _ACCOUNT_WHATSAPP, CONTACT_LINA, LINA_NAME, sync1=LINA_JID),
        _raw(RAW_OMAR, _ACCOUNT_TELEGRAM, CONTACT_OMAR, OMAR_NAME, sync1=OMAR_TELEGRAM),
        _raw(RAW_HUDA, _ACCOUNT_GOOGLE, CONTACT_HUDA, None),
        # Deleted on the phone: the provider takes it out of its contact and keeps it until the sync.
        _raw(RAW_SAMI_DELETED, _ACCOUNT_GOOGLE, None, SAMI_NAME, deleted=1, dirty=1, sourceid="c7f8a9"),
    ])  # fmt: skip
    _insert(db, "data", [
        _data(3301, RAW_RAMI, MIME_NAME, RAMI_NAME, data2="Rami", data3="Haddad"),
        _data(3302, RAW_RAMI, MIME_PHONE, RAMI_MOBILE, data2="2", data4="+962790000001"),
        _data(3303, RAW_RAMI, MIME_PHONE, RAMI_LANDLINE, data2="3", data4="+96265000001"),
        _data(3304, RAW_RAMI, MIME_EMAIL, RAMI_EMAIL, data2="1"),
        _data(3305, RAW_RAMI, MIME_PHOTO, None, data15=b"\xff\xd8\xff\xe0"),
        _data(3306, RAW_LINA_GOOGLE, MIME_NAME, LINA_NAME, data2="Lina", data3="Saleh"),
        _data(3307, RAW_LINA_GOOGLE, MIME_PHONE, LINA_MOBILE, data2="2", data4="+962790000002"),
        _data(3308, RAW_LINA_WHATSAPP, MIME_NAME, LINA_NAME, data2="Lina", data3="Saleh"),
        _data(3309, RAW_LINA_WHATSAPP, MIME_WHATSAPP, LINA_JID, data2="WhatsApp",
              data3=f"Message {LINA_MOBILE}"),
        # The call row repeats the JID: one identity, not two.
        _data(3310, RAW_LINA_WHATSAPP, MIME_WHATSAPP_VOIP, LINA_JID, data2="WhatsApp",
              data3=f"Voice call {LINA_MOBILE}"),
        _data(3311, RAW_OMAR, MIME_NAME, OMAR_NAME, data2="Omar", data3="Nasser"),
        _data(3312, RAW_OMAR, MIME_TELEGRAM, OMAR_TELEGRAM, data2="Telegram Profile",
              data3="Message +962790000003", data4=OMAR_TELEGRAM),
        _data(3313, RAW_HUDA, MIME_PHONE, HUDA_MOBILE, data2="2", data4="+962790000004"),
        # The name row comes after the number on purpose: the name must still reach the number.
        _data(3314, RAW_HUDA, MIME_NAME, HUDA_NAME, data2="Huda", data3="Khalil"),
        _data(3315, RAW_SAMI_DELETED, MIME_NAME, SAMI_NAME, data2="Sami", data3="Odeh"),
        _data(3316, RAW_SAMI_DELETED, MIME_PHONE, SAMI_MOBILE, data2="2", data4="+962790000005"),
    ])  # fmt: skip


def build_contacts2(path: Path) -> Path:
    """The scenario's `contacts2.db` at `path`."""
    return write_database(path, CONTACTS2_SCHEMA, _fill_contacts2)


def _identity(kind: str, value: str, name: str, card: str) -> Identity:
    return Identity(kind=kind, value=value, name=name, card=card, source="contacts-android")


CARD_RAMI = f"contact:{CONTACT_RAMI}"
CARD_LINA = f"contact:{CONTACT_LINA}"
CARD_SAMI = f"raw_contact:{RAW_SAMI_DELETED}"

# Every identity the contacts parser must read from `build_contacts2`.
EXPECTED_IDENTITIES: frozenset[Identity] = frozenset({
    _identity("phone", RAMI_MOBILE, RAMI_NAME, CARD_RAMI),
    _identity("phone", RAMI_LANDLINE, RAMI_NAME, CARD_RAMI),
    _identity("email", RAMI_EMAIL, RAMI_NAME, CARD_RAMI),
    _identity("phone", LINA_MOBILE, LINA_NAME, CARD_LINA),
    _identity("whatsapp", LINA_JID, LINA_NAME, CARD_LINA),
    _identity("telegram", OMAR_TELEGRAM, OMAR_NAME, f"contact:{CONTACT_OMAR}"),
    _identity("phone", HUDA_MOBILE, HUDA_NAME, f"contact:{CONTACT_HUDA}"),
    _identity("phone", SAMI_MOBILE, SAMI_NAME, CARD_SAMI),
})  # fmt: skip

# A database with contacts-like tables that is not the contacts provider's (no `mimetypes`).
CONTACTS2_LOOKALIKE = """
CREATE TABLE raw_contacts (_id INTEGER PRIMARY KEY, contact_id INTEGER, display_name TEXT);
CREATE TABLE data (_id INTEGER PRIMARY KEY, raw_contact_id INTEGER, mimetype TEXT, data1 TEXT);
"""


def build_schema_only(path: Path, schema_sql: str) -> Path:
    """An empty database with `schema_sql`'s tables (for the lookalikes)."""
    return write_database(path, schema_sql, lambda db: None)
