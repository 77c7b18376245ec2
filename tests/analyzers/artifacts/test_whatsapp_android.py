"""WhatsApp for Android parsers on msgstore.db (current and legacy layouts) and wa.db built by fixtures."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from datetime import UTC
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himaya.analyzers.artifacts.database import DatabaseFiles, open_private_copy, read_schema
from himaya.analyzers.artifacts.interface import ArtifactParser, ChatMessage, Identity, Record
from himaya.analyzers.artifacts.whatsapp_android import (
    WhatsAppAndroid,
    WhatsAppAndroidLegacy,
    WhatsAppContactsAndroid,
    sha256_from_base64,
    time_from_ms,
)
from tests.builders.chats import whatsapp_android as wa

PARSERS: tuple[type[ArtifactParser], ...] = (WhatsAppAndroid, WhatsAppAndroidLegacy, WhatsAppContactsAndroid)


def parse(parser: type[ArtifactParser], path: Path, *, wal: bool = False) -> list[Record]:
    with open_private_copy(DatabaseFiles(path, Path(f"{path}-wal") if wal else None)) as db:
        schema = read_schema(db)
        assert parser.recognise(schema)
        return list(parser().parse(db, schema))


def messages(records: list[Record]) -> dict[str, ChatMessage]:
    found = {record.source_row: record for record in records if isinstance(record, ChatMessage)}
    assert len(found) == sum(isinstance(record, ChatMessage) for record in records), "source_row not unique"
    return found


def identities(records: list[Record]) -> list[Identity]:
    return [record for record in records if isinstance(record, Identity)]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("whatsapp")
    return {
        "msgstore": wa.build_msgstore(folder / "msgstore.db"),
        "msgstore-checkpointed": wa.build_msgstore(folder / "checkpointed" / "msgstore.db", wal=False),
        "msgstore-leftover": wa.build_msgstore(folder / "leftover" / "msgstore.db", leftover_legacy=True),
        "legacy": wa.build_msgstore_legacy(folder / "legacy" / "msgstore.db"),
        "legacy-early": wa.build_msgstore_legacy(folder / "early" / "msgstore.db", media_table=False),
        "wa": wa.build_wa_db(folder / "wa.db"),
        "lookalike": wa.build_lookalike(folder / "lookalike" / "msgstore.db"),
    }


@pytest.fixture(scope="module")
def current(files: dict[str, Path]) -> list[Record]:
    return parse(WhatsAppAndroid, files["msgstore"], wal=True)


# Recognition -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("msgstore", {"whatsapp-android"}),
        ("msgstore-leftover", {"whatsapp-android"}),
        ("legacy", {"whatsapp-android-legacy"}),
        ("legacy-early", {"whatsapp-android-legacy"}),
        ("wa", {"whatsapp-contacts-android"}),
        ("lookalike", set()),
    ],
)
def test_each_parser_recognises_its_own_layout_only(
    files: dict[str, Path], name: str, expected: set[str]
) -> None:
    with open_private_copy(DatabaseFiles(files[name])) as db:
        schema = read_schema(db)
    assert {parser.NAME for parser in PARSERS if parser.recognise(schema)} == expected


def test_a_leftover_messages_table_is_not_read(files: dict[str, Path]) -> None:
    records = parse(WhatsAppAndroid, files["msgstore-leftover"], wal=True)
    assert set(messages(records)) == {f"message:{row}" for row in wa.EXPECTED_SENDERS}


# Current layout --------------------------------------------------------------------------------------


def test_every_message_but_the_system_one_is_reported(current: list[Record]) -> None:
    found = messages(current)
    assert set(found) == {f"message:{row}" for row in wa.EXPECTED_SENDERS}
    assert f"message:{wa.SYSTEM_MESSAGE}" not in found
    assert all(message.app == "whatsapp" for message in found.values())


@pytest.mark.parametrize("row", sorted(wa.EXPECTED_SENDERS))
def test_message_chat_people_and_time(current: list[Record], row: int) -> None:
    message = messages(current)[f"message:{row}"]
    scenario = wa.MESSAGES[row]
    assert message.chat == wa.CHAT_JIDS[scenario.chat_row]
    assert message.chat_type == ("direct" if scenario.chat_row == wa.CHAT_RANIA else "group")
    assert message.chat_name == (wa.GROUP_SUBJECT if scenario.chat_row == wa.CHAT_GROUP else None)
    assert message.direction == ("sent" if scenario.from_me else "received")
    assert message.sender == wa.EXPECTED_SENDERS[row]
    assert message.recipients == wa.EXPECTED_RECIPIENTS[row]
    assert message.time_utc == scenario.time
    assert message.time_utc is not None and message.time_utc.tzinfo is UTC
    assert message.forwarded is (row == wa.FORWARDED)


def test_sent_messages_name_no_sender(current: list[Record]) -> None:
    found = messages(current)
    assert {row for row in wa.EXPECTED_SENDERS if found[f"message:{row}"].sender is None} == set(
        wa.SENT_MESSAGES
    )


def test_texts_and_captions_from_either_place(current: list[Record]) -> None:
    found = messages(current)
    assert found[f"message:{wa.TEXT_RECEIVED_DIRECT}"].text == "Yes, I will bring the clock."
    assert found[f"message:{wa.PICTURE_SENT_CAPTION_IN_TEXT}"].text == wa.CAPTION_IN_TEXT
    assert found[f"message:{wa.PICTURE_GROUP_CAPTION_IN_MEDIA}"].text == wa.CAPTION_IN_MEDIA
    assert found[f"message:{wa.PICTURE_RECEIVED}"].text is None


def test_group_sender_by_lid_is_reported_by_phone_jid(current: list[Record]) -> None:
    message = messages(current)[f"message:{wa.PICTURE_GROUP_CAPTION_IN_MEDIA}"]
    assert wa.MESSAGES[wa.PICTURE_GROUP_CAPTION_IN_MEDIA].sender_row == wa.JID_LINA_LID
    assert message.sender == wa.LINA
    assert message.recipients == (wa.OMAR, wa.SAMI)


def test_status_update_is_a_group_message_from_its_author(current: list[Record]) -> None:
    message = messages(current)[f"message:{wa.STATUS_UPDATE}"]
    assert (message.chat, message.chat_type, message.sender, message.recipients) == (
        wa.STATUS,
        "group",
        wa.RANIA,
        (),
    )


def test_media_references(current: list[Record]) -> None:
    found = messages(current)
    with_media = {row for row in wa.EXPECTED_SENDERS if found[f"message:{row}"].media is not None}
    assert with_media == set(wa.MEDIA_MESSAGES)
    for row, path in wa.MEDIA_MESSAGES.items():
        media = found[f"message:{row}"].media
        assert media is not None
        assert (media.path, media.mime, media.size, media.name) == (
            path,
            "image/jpeg",
            wa.media_size(path),
            None,
        )
        assert media.sha256 == wa.media_sha256(path)


def test_deleted_media_keeps_its_sha256(current: list[Record]) -> None:
    media = messages(current)[f"message:{wa.PICTURE_DELETED}"].media
    assert media is not None
    assert media.path == wa.DELETED_MEDIA_PATH
    assert media.sha256 == wa.DELETED_MEDIA_SHA256
    assert wa.DELETED_MEDIA_PATH not in wa.media_files()


def test_media_files_match_what_the_database_records(current: list[Record]) -> None:
    recorded = {
        message.media.path: message.media.sha256
        for message in messages(current).values()
        if message.media is not None
    }
    existing = {path: hashlib.sha256(data).hexdigest() for path, data in wa.media_files().items()}
    assert existing == {path: sha for path, sha in recorded.items() if path != wa.DELETED_MEDIA_PATH}


def test_newest_messages_need_the_wal(files: dict[str, Path], current: list[Record]) -> None:
    without_wal = messages(parse(WhatsAppAndroid, files["msgstore"]))
    with_wal = messages(current)
    wal_rows = {f"message:{row}" for row in wa.WAL_MESSAGES}
    assert wal_rows <= set(with_wal)
    assert set(without_wal) == set(with_wal) - wal_rows
    assert with_wal[f"message:{wa.WAL_RECEIVED_GROUP}"].text == "Board 3 is free tonight"
    assert with_wal[f"message:{wa.WAL_SENT_DIRECT}"].text == "On my way"


def test_checkpointed_database_holds_everything(files: dict[str, Path], current: list[Record]) -> None:
    assert messages(parse(WhatsAppAndroid, files["msgstore-checkpointed"])) == messages(current)


def test_msgstore_identities(current: list[Record]) -> None:
    lina_card = f"jid_map:{wa.LINA}"
    assert identities(current) == [
        Identity("whatsapp", wa.RANIA, source="whatsapp-android"),
        Identity("whatsapp", wa.OMAR, source="whatsapp-android"),
        Identity("whatsapp", wa.LINA, card=lina_card, source="whatsapp-android"),
        Identity("whatsapp", wa.LINA_LID, card=lina_card, source="whatsapp-android"),
        Identity("whatsapp", wa.SAMI, source="whatsapp-android"),
    ]


# Legacy layout ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["legacy", "legacy-early"])
def test_legacy_messages(files: dict[str, Path], name: str) -> None:
    records = parse(WhatsAppAndroidLegacy, files[name])
    found = messages(records)
    expected_rows = set(wa.LEGACY_MESSAGES) - {wa.LEGACY_SYSTEM}
    assert set(found) == {f"messages:{row}" for row in expected_rows}
    for row in expected_rows:
        message, scenario = found[f"messages:{row}"], wa.LEGACY_MESSAGES[row]
        assert message.chat == scenario.key_remote_jid
        assert message.chat_type == ("group" if scenario.key_remote_jid == wa.GROUP else "direct")
        assert message.chat_name == (wa.GROUP_SUBJECT if scenario.key_remote_jid == wa.GROUP else None)
        assert message.direction == ("sent" if scenario.key_from_me else "received")
        assert message.time_utc == scenario.time
        assert message.text == (scenario.data or scenario.media_caption)
        assert message.forwarded is bool(scenario.forwarded)
    sent_direct = found[f"messages:{wa.LEGACY_TEXT_SENT_DIRECT}"]
    assert (sent_direct.sender, sent_direct.recipients) == (None, (wa.RANIA,))
    received_direct = found[f"messages:{wa.LEGACY_PICTURE_CAPTION}"]
    assert (received_direct.sender, received_direct.recipients) == (wa.RANIA, ())
    received_group = found[f"messages:{wa.LEGACY_TEXT_RECEIVED_GROUP}"]
    assert (received_group.sender, received_group.recipients) == (wa.OMAR, (wa.LINA, wa.SAMI))
    sent_group = found[f"messages:{wa.LEGACY_TEXT_SENT_GROUP}"]
    assert (sent_group.sender, sent_group.recipients) == (None, wa.GROUP_MEMBERS)
    picture_group = found[f"messages:{wa.LEGACY_PICTURE_GROUP}"]
    assert (picture_group.sender, picture_group.recipients) == (wa.LINA, (wa.OMAR, wa.SAMI))
    assert identities(records) == [
        Identity("whatsapp", jid, source="whatsapp-android-legacy")
        for jid in (wa.RANIA, wa.OMAR, wa.LINA, wa.SAMI)
    ]


@pytest.mark.parametrize(("name", "with_path"), [("legacy", True), ("legacy-early", False)])
def test_legacy_media(files: dict[str, Path], name: str, with_path: bool) -> None:
    found = messages(parse(WhatsAppAndroidLegacy, files[name]))
    pictures = {
        row: scenario.media_path for row, scenario in wa.LEGACY_MESSAGES.items() if scenario.media_path
    }
    assert {row for row in pictures if found[f"messages:{row}"].media} == set(pictures)
    for row, path in pictures.items():
        media = found[f"messages:{row}"].media
        assert media is not None
        assert media.path == (path if with_path else None)
        assert media.sha256 == wa.legacy_media_sha256(path)
        assert (media.mime, media.size) == ("image/jpeg", len(wa.legacy_media_files()[path]))
    assert found[f"messages:{wa.LEGACY_TEXT_SENT_DIRECT}"].media is None


# wa.db -----------------------------------------------------------------------------------------------


def test_wa_db_identities(files: dict[str, Path]) -> None:
    records = parse(WhatsAppContactsAndroid, files["wa"])
    source = "whatsapp-contacts-android"
    rania = "raw_contact:41"
    assert records == [
        Identity("whatsapp", wa.RANIA, "Rania Haddad", rania, source),
        Identity("phone", wa.RANIA_NUMBERS[0], "Rania Haddad", rania, source),
        Identity("whatsapp", wa.OMAR, "Omar Khalil", "raw_contact:42", source),
        Identity("phone", "+962 79 000 0003", "Omar Khalil", "raw_contact:42", source),
        Identity("whatsapp", wa.LINA, "Lina Nasser", "raw_contact:43", source),
        Identity("phone", "+962 79 000 0004", "Lina Nasser", "raw_contact:43", source),
        # known only by the name he gave WhatsApp: not in the address book, so a card of his own
        Identity("whatsapp", wa.SAMI, wa.SAMI_WA_NAME, "wa_contacts:3004", source),
        # not on WhatsApp: the number only; the group's row is no one's identity
        Identity("phone", wa.NOT_ON_WHATSAPP_NUMBER, wa.NOT_ON_WHATSAPP_NAME, "raw_contact:44", source),
        Identity("whatsapp", wa.RANIA_SECOND, "Rania Haddad", rania, source),
        Identity("phone", wa.RANIA_NUMBERS[1], "Rania Haddad", rania, source),
    ]


# Damaged and odd values ------------------------------------------------------------------------------


def test_sha256_and_time_decoding() -> None:
    digest = hashlib.sha256(b"picture").digest()
    assert sha256_from_base64(base64.b64encode(digest).decode()) == digest.hex()
    assert sha256_from_base64(base64.urlsafe_b64encode(digest).decode()) == digest.hex()
    assert sha256_from_base64(digest) == digest.hex()
    assert sha256_from_base64(base64.b64encode(digest[:20]).decode()) is None
    assert sha256_from_base64("not base64 at all!") is None
    assert sha256_from_base64(None) is None
    assert time_from_ms(1684051200000) is not None and time_from_ms(1684051200000).isoformat() == (  # type: ignore[union-attr]
        "2023-05-14T08:00:00+00:00"
    )
    assert [time_from_ms(value) for value in (0, -5, 10**20, None, "x", float("nan"))] == [None] * 6


def _scratch_current() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.executescript(wa.CURRENT_SCHEMA)
    db.execute("INSERT INTO jid VALUES (9002, '962790000002', 's.whatsapp.net', 0, 0, 0, ?)", (wa.RANIA,))
    db.execute("INSERT INTO jid VALUES (9010, '120363000000000001', 'g.us', 0, 0, 1, ?)", (wa.GROUP,))
    db.execute("INSERT INTO chat (_id, jid_row_id, subject) VALUES (5001, 9002, NULL), (5002, 9010, 'Club')")
    db.execute("INSERT INTO group_participant_user VALUES (7001, 9010, 9002, 0, 0)")
    return db


def test_a_row_that_cannot_be_decoded_is_skipped() -> None:
    db = _scratch_current()
    insert = "INSERT INTO message (_id, chat_row_id, from_me, key_id, text_data) VALUES (?, 5001, 0, ?, ?)"
    db.execute(insert, (1001, "K1", "first"))
    not_utf8 = "INSERT INTO message (_id, chat_row_id, from_me, key_id, text_data) VALUES (?, 5001, 0, ?, ?)"
    db.execute(not_utf8.replace("?)", "CAST(? AS TEXT))"), (1002, "K2", b"\xffA"))
    db.execute(insert, (1003, "K3", "third"))
    records = list(WhatsAppAndroid().parse(db, read_schema(db)))
    assert [message.text for message in messages(records).values()] == ["first", "third"]


odd = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.binary(max_size=48),
)


def _not_null(value: object) -> object:
    # SQLite stores NaN as NULL, which a NOT NULL column refuses.
    return 0 if value is None or (isinstance(value, float) and value != value) else value


MESSAGE_INSERT = (
    "INSERT INTO message (_id, chat_row_id, from_me, key_id, sender_jid_row_id, timestamp, message_type, "
    "text_data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
MEDIA_INSERT = (
    "INSERT INTO message_media (message_row_id, file_hash, file_size, file_path) VALUES (?, ?, ?, ?)"
)
LEGACY_INSERT = (
    "INSERT INTO messages (_id, key_remote_jid, key_from_me, key_id, status, timestamp, data, media_hash, "
    "forwarded, remote_resource) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from([5001, 5002, 5999]),  # a known direct chat, a known group, an unknown chat
            odd,  # from_me
            st.sampled_from([9002, 9010, 0, -1, None, 123456]),  # sender_jid_row_id
            odd,  # timestamp
            odd,  # message_type
            odd,  # text_data
            st.booleans(),  # has a media row
            odd,  # file_hash
            odd,  # file_size
            odd,  # file_path
        ),
        max_size=6,
    )
)
@settings(max_examples=60)
def test_odd_values_never_crash_the_current_parser(rows: list[tuple[object, ...]]) -> None:
    db = _scratch_current()
    for index, (chat, from_me, sender, timestamp, kind, text, has_media, file_hash, size, path) in enumerate(
        rows
    ):
        row = 1001 + index
        db.execute(MESSAGE_INSERT, (row, chat, _not_null(from_me), f"K{row}", sender, timestamp, kind, text))
        if has_media:
            db.execute(MEDIA_INSERT, (row, file_hash, size, path))
    records = list(WhatsAppAndroid().parse(db, read_schema(db)))
    for record in records:
        if isinstance(record, ChatMessage):
            assert record.chat in (wa.RANIA, wa.GROUP)
            assert record.time_utc is None or record.time_utc.tzinfo is UTC
            if record.media is not None and record.media.sha256 is not None:
                assert len(record.media.sha256) == 64 and record.media.sha256 == record.media.sha256.lower()
    known_chats = {row for row, chat in db.execute("SELECT _id, chat_row_id FROM message") if chat != 5999}
    # Rows whose type SQLite stored as a plain number other than 7 (system) must all be reported.
    plain = {
        row
        for row, kind in db.execute("SELECT _id, message_type FROM message")
        if row in known_chats and (kind is None or (isinstance(kind, int) and kind != 7))
    }
    reported = {int(source.removeprefix("message:")) for source in messages(records)}
    assert plain <= reported <= known_chats


@given(
    rows=st.lists(
        st.tuples(st.sampled_from([wa.RANIA, wa.GROUP, "-1", ""]), odd, odd, odd, odd, odd, odd, odd),
        max_size=6,
    )
)
@settings(max_examples=40)
def test_odd_values_never_crash_the_legacy_parser(rows: list[tuple[object, ...]]) -> None:
    db = sqlite3.connect(":memory:")
    db.executescript(wa.LEGACY_SCHEMA + wa.LEGACY_MESSAGE_MEDIA_TABLE)
    for index, (jid, from_me, status, timestamp, data, media_hash, forwarded, resource) in enumerate(rows):
        db.execute(
            LEGACY_INSERT,
            (
                1001 + index,
                jid,
                from_me,
                f"K{index}",
                status,
                timestamp,
                data,
                media_hash,
                forwarded,
                resource,
            ),
        )
    for record in WhatsAppAndroidLegacy().parse(db, read_schema(db)):
        if isinstance(record, ChatMessage):
            assert record.chat in (wa.RANIA, wa.GROUP)
            assert record.time_utc is None or record.time_utc.tzinfo is UTC
