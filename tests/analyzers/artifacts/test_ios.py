"""iPhone parsers (WhatsApp ChatStorage.sqlite, sms.db, AddressBook.sqlitedb) on fixture databases."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from himaya.analyzers.artifacts.contacts_ios import ContactsIos
from himaya.analyzers.artifacts.database import DatabaseFiles, open_private_copy, read_schema
from himaya.analyzers.artifacts.interface import ArtifactParser, ChatMessage, Identity, MediaRef, Record
from himaya.analyzers.artifacts.sms_ios import SmsIos, text_from_attributed_body
from himaya.analyzers.artifacts.whatsapp_ios import WhatsAppIos
from tests.builders.chats import ios

PARSERS: tuple[type[ArtifactParser], ...] = (WhatsAppIos, SmsIos, ContactsIos)


def parse(parser: type[ArtifactParser], path: Path, *, wal: bool = False) -> list[Record]:
    with open_private_copy(DatabaseFiles(path, Path(f"{path}-wal") if wal else None)) as db:
        schema = read_schema(db)
        assert parser.recognise(schema)
        return list(parser().parse(db, schema))


def parse_memory(parser: type[ArtifactParser], db: sqlite3.Connection) -> list[Record]:
    schema = read_schema(db)
    assert parser.recognise(schema)
    return list(parser().parse(db, schema))


def messages(records: list[Record]) -> list[ChatMessage]:
    found = [record for record in records if isinstance(record, ChatMessage)]
    assert len({message.source_row for message in found}) == len(found), "source_row not unique"
    return found


def identities(records: list[Record]) -> list[Identity]:
    return [record for record in records if isinstance(record, Identity)]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("ios")
    built = {
        "chatstorage": ios.build_chatstorage(folder / "ChatStorage.sqlite"),
        "chatstorage-checkpointed": ios.build_chatstorage(
            folder / "checkpointed" / "ChatStorage.sqlite", wal=False
        ),
        "sms": ios.build_sms_db(folder / "sms.db"),
        "addressbook": ios.build_addressbook(folder / "AddressBook.sqlitedb"),
    }
    for name in ios.LOOKALIKE_SCHEMAS:
        built[name] = ios.build_lookalike(folder / "lookalikes" / f"{name}.db", name)
    return built


def recognised_by(path: Path) -> set[str]:
    wal = Path(f"{path}-wal")
    with open_private_copy(DatabaseFiles(path, wal if wal.exists() else None)) as db:
        schema = read_schema(db)
        return {parser.NAME for parser in PARSERS if parser.recognise(schema)}


# Recognition ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "parser"),
    [("chatstorage", "whatsapp-ios"), ("sms", "sms-ios"), ("addressbook", "contacts-ios")],
)
def test_each_database_is_recognised_by_its_parser_only(
    files: dict[str, Path], name: str, parser: str
) -> None:
    assert recognised_by(files[name]) == {parser}


@pytest.mark.parametrize("name", sorted(ios.LOOKALIKE_SCHEMAS))
def test_lookalike_databases_are_not_recognised(files: dict[str, Path], name: str) -> None:
    assert recognised_by(files[name]) == set()


def test_sms_db_without_handle_id_is_not_recognised() -> None:
    db = sqlite3.connect(":memory:")
    db.executescript(
        ios.SMS_DB_SCHEMA.replace("handle_id INTEGER DEFAULT 0, subject", "subject").replace(
            "CREATE INDEX message_idx_handle ON message(handle_id, date);", ""
        )
    )
    assert not SmsIos.recognise(read_schema(db))
    assert "handle_id" not in read_schema(db)["message"]


def test_parser_names_and_apps() -> None:
    assert [(p.NAME, p.APP) for p in PARSERS] == [
        ("whatsapp-ios", "whatsapp"),
        ("sms-ios", "sms"),
        ("contacts-ios", "contacts"),
    ]


# WhatsApp ---------------------------------------------------------------------------------------------


def wa_media(message: int) -> MediaRef:
    return MediaRef(
        path=ios.WA_MEDIA_PATHS[message],
        sha256=ios.wa_media_sha256(message),
        mime="image/jpeg",
        size=len(ios.wa_media_bytes(message)),
    )


def wa_message(
    pk: int,
    *,
    group: bool,
    sent: bool,
    sender: str | None = None,
    recipients: tuple[str, ...] = (),
    text: str | None = None,
    media: MediaRef | None = None,
    forwarded: bool = False,
) -> ChatMessage:
    return ChatMessage(
        app="whatsapp",
        source_row=f"message:{pk}",
        chat=ios.WA_GROUP_JID if group else ios.RAMI_JID,
        chat_type="group" if group else "direct",
        direction="sent" if sent else "received",
        sender=sender,
        recipients=recipients,
        time_utc=ios.WA_TIMES[pk],
        text=text,
        media=media,
        forwarded=forwarded,
        chat_name=ios.WA_GROUP_SUBJECT if group else ios.RAMI_NAME,
    )


def expected_whatsapp() -> list[ChatMessage]:
    rami, lina, omar = ios.RAMI_JID, ios.LINA_JID, ios.OMAR_JID
    return [
        wa_message(1001, group=False, sent=False, sender=rami, text=ios.WA_TEXT_RECEIVED),
        wa_message(1002, group=False, sent=True, recipients=(rami,), text=ios.WA_TEXT_SENT),
        wa_message(1003, group=False, sent=False, sender=rami, media=wa_media(1003)),
        wa_message(1004, group=False, sent=True, recipients=(rami,), media=wa_media(1004)),
        wa_message(
            1006, group=True, sent=False, sender=lina, recipients=(rami, omar),
            text=ios.WA_CAPTION_IN_MEDIA_ROW, media=wa_media(1006),
        ),
        wa_message(
            1007, group=True, sent=False, sender=omar, recipients=(rami, lina), text=ios.WA_CAPTION_IN_TEXT,
            media=wa_media(1007),
        ),
        wa_message(1008, group=True, sent=True, recipients=(rami, lina, omar), text=ios.WA_TEXT_TO_GROUP),
        wa_message(1009, group=False, sent=False, sender=rami, media=wa_media(1009), forwarded=True),
        wa_message(1010, group=True, sent=False, sender=lina, recipients=(rami, omar), media=wa_media(1010)),
        wa_message(1011, group=False, sent=False, sender=rami, text=ios.WA_TEXT_WAL_ONLY),
        wa_message(1012, group=False, sent=True, recipients=(rami,), media=wa_media(1012)),
    ]  # fmt: skip


def test_whatsapp_messages_are_read_exactly(files: dict[str, Path]) -> None:
    assert messages(parse(WhatsAppIos, files["chatstorage"], wal=True)) == expected_whatsapp()


def test_whatsapp_identities_name_every_person_once(files: dict[str, Path]) -> None:
    assert identities(parse(WhatsAppIos, files["chatstorage"], wal=True)) == [
        Identity("whatsapp", ios.RAMI_JID, ios.RAMI_NAME, source="whatsapp-ios"),
        Identity("whatsapp", ios.LINA_JID, ios.LINA_NAME, source="whatsapp-ios"),
        Identity("whatsapp", ios.OMAR_JID, ios.OMAR_NAME, source="whatsapp-ios"),
        Identity("whatsapp", ios.DANA_JID, ios.DANA_PUSH_NAME, source="whatsapp-ios"),
    ]


def test_whatsapp_newest_messages_are_only_in_the_wal(files: dict[str, Path]) -> None:
    without_wal = {m.source_row for m in messages(parse(WhatsAppIos, files["chatstorage"]))}
    with_wal = {m.source_row for m in messages(parse(WhatsAppIos, files["chatstorage"], wal=True))}
    newest = {f"message:{pk}" for pk in ios.WA_WAL_ONLY}
    assert with_wal - without_wal == newest
    assert messages(parse(WhatsAppIos, files["chatstorage-checkpointed"])) == expected_whatsapp()


def test_whatsapp_times_count_from_2001(files: dict[str, Path]) -> None:
    with open_private_copy(DatabaseFiles(files["chatstorage"])) as db:
        (raw,) = db.execute("SELECT ZMESSAGEDATE FROM ZWAMESSAGE WHERE Z_PK = 1001").fetchone()
    assert raw == 731754000.25
    first = messages(parse(WhatsAppIos, files["chatstorage"]))[0]
    assert first.time_utc == datetime(2024, 3, 10, 9, 0, 0, 250000, tzinfo=UTC)
    assert first.time_utc.utcoffset() is not None


def test_whatsapp_media_hashes_link_to_the_files(files: dict[str, Path]) -> None:
    present = ios.whatsapp_media_files()
    for message in messages(parse(WhatsAppIos, files["chatstorage"], wal=True)):
        if message.media is None:
            continue
        assert message.media.path is not None
        if message.media.path == ios.WA_DELETED_MEDIA_PATH:
            assert message.media.path not in present
            assert message.media.sha256 == ios.WA_DELETED_MEDIA_SHA256
        else:
            assert message.media.sha256 == hashlib.sha256(present[message.media.path]).hexdigest()
    assert len(present) == len(ios.WA_MEDIA_PATHS) - 1


def test_whatsapp_forwarded_is_bit_7_only(files: dict[str, Path]) -> None:
    found = {m.source_row: m for m in messages(parse(WhatsAppIos, files["chatstorage"], wal=True))}
    assert found[f"message:{ios.WA_FORWARDED}"].forwarded
    assert not found["message:1002"].forwarded  # ZFLAGS 0x300: bits 8 and 9
    assert [m.source_row for m in found.values() if m.forwarded] == [f"message:{ios.WA_FORWARDED}"]
    assert f"message:{ios.WA_GROUP_EVENT}" not in found


def _memory_chatstorage(schema: str = ios.CHATSTORAGE_SCHEMA) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(schema)
    db.execute(
        "INSERT INTO ZWACHATSESSION (Z_PK, ZCONTACTJID, ZPARTNERNAME, ZSESSIONTYPE) VALUES (5001, ?, ?, 1)",
        (ios.WA_GROUP_JID, ios.WA_GROUP_SUBJECT),
    )
    db.execute(
        "INSERT INTO ZWAGROUPMEMBER (Z_PK, ZCHATSESSION, ZMEMBERJID) VALUES (9001, 5001, ?)", (ios.LINA_JID,)
    )
    return db


def test_whatsapp_group_sender_falls_back_to_the_from_jid_and_odd_media_values_are_dropped() -> None:
    db = _memory_chatstorage()
    db.execute(
        "INSERT INTO ZWAMESSAGE (Z_PK, ZCHATSESSION, ZISFROMME, ZMESSAGEDATE, ZMESSAGETYPE, ZFROMJID, "
        "ZMEDIAITEM) VALUES (1001, 5001, 0, 700000000, 4, ?, 30001)",
        (ios.OMAR_JID,),
    )
    # A shared contact: ZVCARDSTRING is the vCard and ZVCARDNAME the contact's name, neither mime nor hash.
    db.execute(
        "INSERT INTO ZWAMEDIAITEM (Z_PK, ZMESSAGE, ZVCARDSTRING, ZVCARDNAME, ZFILESIZE, ZMEDIALOCALPATH) "
        "VALUES (30001, 1001, 'BEGIN:VCARD', 'Hala', -1, 'Media/x/card.vcf')"
    )
    (message,) = messages(parse_memory(WhatsAppIos, db))
    assert message.sender == ios.OMAR_JID
    assert message.recipients == (ios.LINA_JID,)
    assert message.media == MediaRef(path="Media/x/card.vcf")
    assert message.time_utc == datetime(2023, 3, 8, 20, 26, 40, tzinfo=UTC)


def test_whatsapp_joins_media_by_zmessage_when_the_message_has_no_zmediaitem() -> None:
    schema = ios.CHATSTORAGE_SCHEMA.replace("ZMEDIAITEM INTEGER,\n  ZMESSAGEINFO", "ZMESSAGEINFO").replace(
        "CREATE INDEX ZWAMESSAGE_ZMEDIAITEM_INDEX ON ZWAMESSAGE (ZMEDIAITEM);", ""
    )
    db = _memory_chatstorage(schema)
    assert "zmediaitem" not in read_schema(db)["zwamessage"]
    db.execute(
        "INSERT INTO ZWAMESSAGE (Z_PK, ZCHATSESSION, ZISFROMME, ZMESSAGEDATE, ZMESSAGETYPE, ZTEXT) "
        "VALUES (1001, 5001, 1, 700000000, 1, NULL)"
    )
    sha = ios.wa_media_sha256(1003)
    db.execute(
        "INSERT INTO ZWAMEDIAITEM (Z_PK, ZMESSAGE, ZMEDIALOCALPATH, ZTITLE, ZVCARDNAME, ZVCARDSTRING) "
        "VALUES (30001, 1001, 'Media/g/1.jpg', 'the caption', ?, 'image/jpeg')",
        (base64.b64encode(bytes.fromhex(sha)).decode(),),
    )
    (message,) = messages(parse_memory(WhatsAppIos, db))
    assert message.text == "the caption"
    assert message.recipients == (ios.LINA_JID,)
    assert message.media == MediaRef(path="Media/g/1.jpg", sha256=sha, mime="image/jpeg")


# Messages (sms.db) ------------------------------------------------------------------------------------


def sms_media(attachment: int) -> MediaRef:
    return MediaRef(
        path=ios.SMS_ATTACHMENT_PATHS[attachment],
        mime="image/jpeg",
        size=len(ios.sms_attachment_bytes(attachment)),
        name=ios.sms_attachment_name(attachment),
    )


def sms_message(
    source_row: str,
    pk: int,
    *,
    group: bool,
    sent: bool,
    sender: str | None = None,
    recipients: tuple[str, ...] = (),
    text: str | None = None,
    media: MediaRef | None = None,
) -> ChatMessage:
    return ChatMessage(
        app="imessage" if group else "sms",
        source_row=source_row,
        chat=ios.IMESSAGE_GROUP_IDENTIFIER if group else ios.SMS_CHAT_IDENTIFIER,
        chat_type="group" if group else "direct",
        direction="sent" if sent else "received",
        sender=sender,
        recipients=recipients,
        time_utc=ios.SMS_TIMES[pk],
        text=text,
        media=media,
        chat_name=ios.IMESSAGE_GROUP_NAME if group else None,
    )


def expected_sms() -> list[ChatMessage]:
    rami, lina, omar = ios.RAMI_NUMBER, ios.LINA_NUMBER, ios.OMAR_EMAIL
    return [
        sms_message("message:2001", 2001, group=False, sent=False, sender=rami, text=ios.SMS_TEXT_OLD),
        sms_message("message:2002", 2002, group=False, sent=True, recipients=(rami,), text=ios.SMS_TEXT_SENT),
        sms_message(
            "message:2003:attachment:40001", 2003, group=True, sent=False, sender=lina,
            recipients=(omar, rami), text=ios.IMESSAGE_PICTURE_TEXT, media=sms_media(40001),
        ),
        sms_message(
            "message:2004", 2004, group=True, sent=False, sender=omar, recipients=(lina, rami),
            text=ios.IMESSAGE_BODY_ONLY,
        ),
        sms_message(
            "message:2005:attachment:40002", 2005, group=True, sent=True, recipients=(lina, omar, rami),
            text=ios.IMESSAGE_TWO_PICTURES_TEXT, media=sms_media(40002),
        ),
        sms_message(
            "message:2005:attachment:40003", 2005, group=True, sent=True, recipients=(lina, omar, rami),
            media=sms_media(40003),
        ),
        sms_message(
            "message:2006", 2006, group=True, sent=False, sender=rami, recipients=(lina, omar),
            text=ios.IMESSAGE_BODY_LONG,
        ),
    ]  # fmt: skip


def test_sms_messages_are_read_exactly(files: dict[str, Path]) -> None:
    assert messages(parse(SmsIos, files["sms"])) == expected_sms()


def test_sms_identities_are_the_handles_once_each(files: dict[str, Path]) -> None:
    assert identities(parse(SmsIos, files["sms"])) == [
        Identity("phone", ios.RAMI_NUMBER, source="sms-ios"),
        Identity("phone", ios.LINA_NUMBER, source="sms-ios"),
        Identity("email", ios.OMAR_EMAIL, source="sms-ios"),
    ]


def test_sms_dates_in_seconds_and_in_nanoseconds(files: dict[str, Path]) -> None:
    with open_private_copy(DatabaseFiles(files["sms"])) as db:
        raw = dict(db.execute("SELECT ROWID, date FROM message WHERE ROWID IN (2001, 2002)").fetchall())
    assert raw == {2001: 483784200, 2002: 731844000123456789}
    found = {m.source_row: m.time_utc for m in messages(parse(SmsIos, files["sms"]))}
    assert found["message:2001"] == datetime(2016, 5, 1, 8, 30, tzinfo=UTC)
    assert found["message:2002"] == datetime(2024, 3, 11, 10, 0, 0, 123456, tzinfo=UTC)


def test_sms_one_message_per_attachment_text_on_the_first(files: dict[str, Path]) -> None:
    found = [m for m in messages(parse(SmsIos, files["sms"])) if m.source_row.startswith("message:2005")]
    assert [(m.source_row, m.text) for m in found] == [
        ("message:2005:attachment:40002", ios.IMESSAGE_TWO_PICTURES_TEXT),
        ("message:2005:attachment:40003", None),
    ]
    present = ios.sms_attachment_files()
    assert ios.SMS_DELETED_ATTACHMENT_PATH not in present
    assert found[1].media is not None and found[1].media.path == ios.SMS_DELETED_ATTACHMENT_PATH
    assert hashlib.sha256(ios.sms_attachment_bytes(40003)).hexdigest() == ios.SMS_DELETED_ATTACHMENT_SHA256
    assert set(present) == {ios.SMS_ATTACHMENT_PATHS[40001], ios.SMS_ATTACHMENT_PATHS[40002]}


def _memory_sms() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(ios.SMS_DB_SCHEMA)
    db.execute("INSERT INTO handle (ROWID, id, service) VALUES (8001, ?, 'SMS')", (ios.RAMI_NUMBER,))
    db.execute(
        "INSERT INTO chat (ROWID, guid, chat_identifier, style) VALUES (6001, 'SMS;-;x', ?, 45)",
        (ios.RAMI_NUMBER,),
    )
    db.execute("INSERT INTO chat_handle_join VALUES (6001, 8001)")
    return db


def test_sms_recently_deleted_message_keeps_its_chat() -> None:
    db = _memory_sms()
    db.execute(
        "INSERT INTO message (ROWID, guid, text, handle_id, service, date, is_from_me) "
        "VALUES (2001, 'g1', 'regretted', 0, 'SMS', 700000000000000000, 1)"
    )
    db.execute(
        "INSERT INTO chat_recoverable_message_join (chat_id, message_id, delete_date) VALUES (6001, 2001, 1)"
    )
    (message,) = messages(parse_memory(SmsIos, db))
    assert (message.chat, message.recipients, message.text) == (
        ios.RAMI_NUMBER,
        (ios.RAMI_NUMBER,),
        "regretted",
    )


def test_attributed_body_text_short_and_long() -> None:
    assert text_from_attributed_body(ios.attributed_body("hi")) == "hi"
    long_text = "é" * 300
    blob = ios.attributed_body(long_text)
    assert b"\x01+\x81\x58\x02" in blob  # 600 bytes: 0x81 then a two-byte length
    assert text_from_attributed_body(blob) == long_text
    assert text_from_attributed_body(blob[: blob.index(b"\x01+") + 40]) is None  # truncated
    assert text_from_attributed_body(b"streamtyped without the class") is None
    assert text_from_attributed_body(None) is None
    assert text_from_attributed_body(ios.attributed_body("\ufffc")) is None


# Address book -----------------------------------------------------------------------------------------


def test_address_book_identities(files: dict[str, Path]) -> None:
    rami, bakery = f"person:{ios.RAMI_CARD}", f"person:{ios.BAKERY_CARD}"
    assert parse(ContactsIos, files["addressbook"]) == [
        Identity("phone", ios.RAMI_MOBILE, ios.RAMI_NAME, rami, "contacts-ios"),
        Identity("phone", ios.RAMI_HOME, ios.RAMI_NAME, rami, "contacts-ios"),
        Identity("email", ios.RAMI_EMAIL, ios.RAMI_NAME, rami, "contacts-ios"),
        Identity("phone", ios.BAKERY_PHONE, ios.BAKERY_NAME, bakery, "contacts-ios"),
    ]


def test_address_book_number_is_the_one_used_in_the_chats() -> None:
    digits = "".join(ch for ch in ios.RAMI_MOBILE if ch.isdigit())
    assert digits == ios.RAMI_NUMBER.lstrip("+") == ios.RAMI_JID.split("@")[0]


# Bad values never crash -------------------------------------------------------------------------------

anything = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.text(max_size=40),
    st.binary(max_size=60),
)


@given(st.binary(max_size=300), st.binary(max_size=40))
def test_attributed_body_never_raises(noise: bytes, tail: bytes) -> None:
    for blob in (noise, b"NSString" + noise, b"NSString\x01\x94\x84\x01+" + noise + tail):
        result = text_from_attributed_body(blob)
        assert result is None or isinstance(result, str)


@given(anything, anything, anything, anything, anything, anything)
def test_sms_odd_values_never_crash(
    date: object, text: object, body: object, handle: object, mine: object, item: object
) -> None:
    db = _memory_sms()
    db.execute(
        "INSERT INTO message (ROWID, guid, text, attributedBody, handle_id, date, is_from_me, item_type) "
        "VALUES (2001, 'g1', ?, ?, ?, ?, ?, ?)",
        (text, body, handle, date, mine, item),
    )
    db.execute("INSERT INTO chat_message_join (chat_id, message_id) VALUES (6001, 2001)")
    found = messages(parse_memory(SmsIos, db))
    assert len(found) <= 1
    for message in found:
        assert message.time_utc is None or message.time_utc.tzinfo is not None


@given(anything, anything, anything, anything, anything, anything, anything)
def test_whatsapp_odd_values_never_crash(
    date: object, text: object, kind: object, flags: object, member: object, size: object, digest: object
) -> None:
    db = _memory_chatstorage()
    db.execute(
        "INSERT INTO ZWAMESSAGE (Z_PK, ZCHATSESSION, ZISFROMME, ZMESSAGEDATE, ZTEXT, ZMESSAGETYPE, ZFLAGS, "
        "ZGROUPMEMBER, ZMEDIAITEM) VALUES (1001, 5001, 0, ?, ?, ?, ?, ?, 30001)",
        (date, text, kind, flags, member),
    )
    db.execute(
        "INSERT INTO ZWAMEDIAITEM (Z_PK, ZMESSAGE, ZFILESIZE, ZVCARDNAME, ZVCARDSTRING, ZTITLE) "
        "VALUES (30001, 1001, ?, ?, ?, ?)",
        (size, digest, digest, text),
    )
    found = messages(parse_memory(WhatsAppIos, db))
    assert len(found) <= 1
    for message in found:
        assert message.media is None or message.media.sha256 is None or len(message.media.sha256) == 64


@given(anything, anything, anything, anything)
def test_address_book_odd_values_never_crash(
    record: object, prop: object, value: object, first: object
) -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(ios.ADDRESSBOOK_SCHEMA)
    db.execute("INSERT INTO ABPerson (ROWID, First) VALUES (101, ?)", (first,))
    db.execute(
        "INSERT INTO ABMultiValue (UID, record_id, property, value) VALUES (501, ?, ?, ?)",
        (record, prop, value),
    )
    for identity in parse_memory(ContactsIos, db):
        assert isinstance(identity, Identity) and identity.kind in ("phone", "email")
