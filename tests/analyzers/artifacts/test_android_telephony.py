"""Android's `mmssms.db` and `contacts2.db` parsers against databases built the way AOSP writes them."""

from __future__ import annotations

import contextlib
import hashlib
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from himaya.analyzers.artifacts.contacts_android import ContactsAndroid
from himaya.analyzers.artifacts.database import DatabaseFiles, open_private_copy, read_schema
from himaya.analyzers.artifacts.interface import ChatMessage, Identity, Record
from himaya.analyzers.artifacts.sms_android import SmsAndroid
from tests.builders.chats import android_telephony as phone

# Helpers -----------------------------------------------------------------------------------------------


def _parse(path: Path, parser: type[SmsAndroid] | type[ContactsAndroid], *, wal: bool = True) -> list[Record]:
    wal_path = Path(f"{path}-wal")
    files = DatabaseFiles(path, wal_path if wal and wal_path.exists() else None)
    with open_private_copy(files) as db:
        schema = read_schema(db)
        assert parser.recognise(schema)
        return list(parser().parse(db, schema))


def _messages(path: Path, *, wal: bool = True) -> dict[str, ChatMessage]:
    records = _parse(path, SmsAndroid, wal=wal)
    assert all(isinstance(record, ChatMessage) for record in records)
    messages = {record.source_row: record for record in records if isinstance(record, ChatMessage)}
    assert len(messages) == len(records), "source rows must be unique"
    return messages


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "wal"])
def mmssms(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("telephony")
    return phone.build_mmssms(folder / "mmssms.db", wal=request.param)


@pytest.fixture(scope="module")
def messages(mmssms: Path) -> dict[str, ChatMessage]:
    return _messages(mmssms)


@pytest.fixture(scope="module")
def contacts2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return phone.build_contacts2(tmp_path_factory.mktemp("contacts") / "contacts2.db")


@pytest.fixture(scope="module")
def identities(contacts2: Path) -> list[Identity]:
    records = _parse(contacts2, ContactsAndroid)
    assert all(isinstance(record, Identity) for record in records)
    return [record for record in records if isinstance(record, Identity)]


def _schema(path: Path) -> dict[str, frozenset[str]]:
    with open_private_copy(DatabaseFiles(path)) as db:
        return dict(read_schema(db))


# Recognition -------------------------------------------------------------------------------------------


def test_recognises_mmssms_and_contacts2_by_schema_only(
    mmssms: Path, contacts2: Path, tmp_path: Path
) -> None:
    # Renamed files: recognition must not care about the name.
    renamed_sms = tmp_path / "evidence-001.bin"
    renamed_sms.write_bytes(mmssms.read_bytes())
    renamed_contacts = tmp_path / "evidence-002.bin"
    renamed_contacts.write_bytes(contacts2.read_bytes())
    sms_schema, contacts_schema = _schema(renamed_sms), _schema(renamed_contacts)
    assert SmsAndroid.recognise(sms_schema)
    assert not ContactsAndroid.recognise(sms_schema)
    assert ContactsAndroid.recognise(contacts_schema)
    assert not SmsAndroid.recognise(contacts_schema)


@pytest.mark.parametrize("name", sorted(phone.MMSSMS_LOOKALIKES))
def test_rejects_sms_lookalikes(name: str, tmp_path: Path) -> None:
    path = phone.build_schema_only(tmp_path / "lookalike.db", phone.MMSSMS_LOOKALIKES[name])
    schema = _schema(path)
    assert not SmsAndroid.recognise(schema)
    assert not ContactsAndroid.recognise(schema)


def test_rejects_contacts_lookalike(tmp_path: Path) -> None:
    schema = _schema(phone.build_schema_only(tmp_path / "lookalike.db", phone.CONTACTS2_LOOKALIKE))
    assert not ContactsAndroid.recognise(schema)
    assert not SmsAndroid.recognise(schema)


# mmssms.db ---------------------------------------------------------------------------------------------


def test_reads_every_message_exactly(messages: dict[str, ChatMessage]) -> None:
    assert messages == phone.EXPECTED_MESSAGES


def test_wal_build_keeps_the_newest_messages_in_the_log_only(tmp_path: Path) -> None:
    path = phone.build_mmssms(tmp_path / "mmssms.db", wal=True)
    without_log = _messages(path, wal=False)
    with_log = _messages(path, wal=True)
    newest = {
        f"sms:{phone.SMS_LATE}",
        f"pdu:{phone.PDU_GROUP_SENT}:part:{phone.PART_GROUP_PICTURE}",
        f"pdu:{phone.PDU_GROUP_SENT}:part:{phone.PART_GROUP_DELETED}",
        f"pdu:{phone.PDU_GROUP_REPLY}",
    }
    assert set(with_log) == set(phone.EXPECTED_MESSAGES)
    assert set(without_log) == set(phone.EXPECTED_MESSAGES) - newest


def test_sms_time_is_milliseconds_and_mms_time_is_seconds(messages: dict[str, ChatMessage]) -> None:
    received = messages[f"sms:{phone.SMS_RECEIVED}"].time_utc
    assert received == datetime(2023, 5, 14, 10, 0, 0, 250_000, tzinfo=UTC)
    assert received is not None and received.utcoffset() is not None and received.microsecond == 250_000
    late = messages[f"sms:{phone.SMS_LATE}"].time_utc
    assert late == datetime.fromtimestamp(phone.SMS_LATE_MS / 1000, UTC)
    picture = messages[f"pdu:{phone.PDU_PICTURE}:part:{phone.PART_PICTURE}"].time_utc
    assert picture == datetime(2023, 5, 14, 10, 2, tzinfo=UTC)
    assert picture == datetime.fromtimestamp(phone.PDU_PICTURE_S, UTC)


def test_sms_directions_senders_and_recipients(messages: dict[str, ChatMessage]) -> None:
    received = messages[f"sms:{phone.SMS_RECEIVED}"]
    assert (received.app, received.direction, received.sender, received.recipients) == (
        "sms",
        "received",
        phone.RAMI,
        (),
    )
    sent = messages[f"sms:{phone.SMS_SENT}"]
    assert (sent.direction, sent.sender, sent.recipients) == ("sent", None, (phone.RAMI,))
    assert {received.chat, sent.chat} == {phone.CHAT_DIRECT}
    assert received.chat_type == sent.chat_type == "direct"
    assert received.text == phone.SMS_RECEIVED_TEXT and sent.text == phone.SMS_SENT_TEXT


def test_drafts_and_reports_are_not_messages(messages: dict[str, ChatMessage]) -> None:
    rows = set(messages)
    assert f"sms:{phone.SMS_DRAFT}" not in rows
    assert not any(row.startswith(f"pdu:{phone.PDU_DRAFT}") for row in rows)
    assert not any(row.startswith(f"pdu:{phone.PDU_REPORT}") for row in rows)
    texts = {message.text for message in messages.values()}
    assert phone.SMS_DRAFT_TEXT not in texts and phone.MMS_DRAFT_TEXT not in texts


def test_received_mms_picture_carries_its_text_and_file(messages: dict[str, ChatMessage]) -> None:
    from_pdu = [message for row, message in messages.items() if row.startswith(f"pdu:{phone.PDU_PICTURE}:")]
    assert len(from_pdu) == 1  # the SMIL layout and the text part are not messages of their own
    picture = from_pdu[0]
    assert picture.app == "mms" and picture.direction == "received" and picture.sender == phone.RAMI
    assert picture.recipients == ()  # a direct chat: the owner is implied
    assert picture.text == phone.MMS_PICTURE_TEXT
    assert picture.media is not None
    assert (picture.media.path, picture.media.mime, picture.media.name, picture.media.sha256) == (
        phone.PICTURE_PATH,
        "image/jpeg",
        phone.PICTURE_NAME,
        None,
    )


def test_group_mms_is_one_message_per_picture_and_skips_the_owner_token(
    messages: dict[str, ChatMessage],
) -> None:
    group = sorted(
        (message for row, message in messages.items() if row.startswith(f"pdu:{phone.PDU_GROUP_SENT}:")),
        key=lambda message: message.source_row,
    )
    assert [message.source_row for message in group] == [
        f"pdu:{phone.PDU_GROUP_SENT}:part:{phone.PART_GROUP_PICTURE}",
        f"pdu:{phone.PDU_GROUP_SENT}:part:{phone.PART_GROUP_DELETED}",
    ]
    assert [message.text for message in group] == [phone.MMS_GROUP_TEXT, None]
    for message in group:
        assert message.direction == "sent" and message.sender is None
        assert message.recipients == (phone.LINA, phone.OMAR)
        assert message.chat == phone.CHAT_GROUP and message.chat_type == "group"
        assert message.chat_name == phone.GROUP_NAME
    for message in messages.values():
        assert phone.OWNER_TOKEN not in (message.sender, *message.recipients)


def test_deleted_part_is_reported_with_its_path(messages: dict[str, ChatMessage]) -> None:
    deleted = messages[f"pdu:{phone.PDU_GROUP_SENT}:part:{phone.PART_GROUP_DELETED}"].media
    assert deleted is not None
    assert (deleted.path, deleted.name, deleted.sha256) == (
        phone.DELETED_PICTURE_PATH,
        phone.DELETED_PICTURE_NAME,
        None,
    )
    files = phone.mms_part_files()
    assert phone.DELETED_PICTURE_PATH not in files
    paths = {message.media.path for message in messages.values() if message.media is not None}
    assert paths == set(files) | {phone.DELETED_PICTURE_PATH}
    assert all(data.startswith(b"\xff\xd8\xff") for data in files.values())
    assert phone.DELETED_PICTURE_SHA256 not in {hashlib.sha256(data).hexdigest() for data in files.values()}


def test_received_group_mms_names_the_sender_and_the_others(messages: dict[str, ChatMessage]) -> None:
    reply = messages[f"pdu:{phone.PDU_GROUP_REPLY}"]
    assert reply.media is None and reply.text == phone.MMS_REPLY_TEXT
    assert (reply.direction, reply.sender, reply.chat_type) == ("received", phone.LINA, "group")
    assert reply.recipients == (phone.OWNER, phone.OMAR)


def test_undownloaded_mms_shows_its_decoded_subject(messages: dict[str, ChatMessage]) -> None:
    pending = messages[f"pdu:{phone.PDU_PENDING}"]
    assert pending.text == phone.MMS_PENDING_SUBJECT == "مرحبا"
    assert (pending.sender, pending.chat, pending.media) == (phone.HUDA, phone.CHAT_PENDING, None)
    assert pending.time_utc == datetime(2023, 5, 14, 11, 0, tzinfo=UTC)


def test_a_thread_row_that_is_gone_still_gives_a_chat(tmp_path: Path) -> None:
    path = phone.build_mmssms(tmp_path / "mmssms.db")
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM threads WHERE _id = ?", (phone.THREAD_GROUP,))
    reply = _messages(path)[f"pdu:{phone.PDU_GROUP_REPLY}"]
    # The addr rows still name everyone: the sender, and the owner and Omar as recipients.
    assert (reply.chat, reply.chat_type, reply.sender) == (phone.CHAT_GROUP, "group", phone.LINA)
    assert reply.recipients == (phone.OWNER, phone.OMAR)


# contacts2.db ------------------------------------------------------------------------------------------


def test_reads_every_identity_exactly(identities: list[Identity]) -> None:
    assert len(identities) == len(set(identities)), "no identity twice"
    assert set(identities) == phone.EXPECTED_IDENTITIES


def test_contact_with_two_numbers_and_an_email_is_one_card(identities: list[Identity]) -> None:
    rami = sorted((i.kind, i.value) for i in identities if i.card == phone.CARD_RAMI)
    assert rami == sorted(
        [("email", phone.RAMI_EMAIL), ("phone", phone.RAMI_LANDLINE), ("phone", phone.RAMI_MOBILE)]
    )
    assert {i.name for i in identities if i.card == phone.CARD_RAMI} == {phone.RAMI_NAME}


def test_aggregated_google_and_whatsapp_raw_contacts_share_a_card(identities: list[Identity]) -> None:
    lina = {(i.kind, i.value) for i in identities if i.card == phone.CARD_LINA}
    assert lina == {("phone", phone.LINA_MOBILE), ("whatsapp", phone.LINA_JID)}
    # The profile row and the voice-call row name the same JID: one identity.
    assert [i.value for i in identities if i.kind == "whatsapp"] == [phone.LINA_JID]


def test_deleted_raw_contact_is_still_evidence(identities: list[Identity]) -> None:
    sami = [i for i in identities if i.value == phone.SAMI_MOBILE]
    assert sami == [
        Identity(
            kind="phone",
            value=phone.SAMI_MOBILE,
            name=phone.SAMI_NAME,
            card=phone.CARD_SAMI,
            source="contacts-android",
        )
    ]


def test_structured_name_stands_in_for_a_missing_display_name(identities: list[Identity]) -> None:
    huda = [i for i in identities if i.value == phone.HUDA_MOBILE]
    assert [(i.name, i.card) for i in huda] == [(phone.HUDA_NAME, f"contact:{phone.CONTACT_HUDA}")]


def test_telegram_profile_gives_the_user_id(identities: list[Identity]) -> None:
    assert [(i.kind, i.value, i.name) for i in identities if i.kind == "telegram"] == [
        ("telegram", phone.OMAR_TELEGRAM, phone.OMAR_NAME)
    ]


# Odd values --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _BadText:
    """Bytes stored in a TEXT column as they are: not necessarily UTF-8."""

    data: bytes


_ODD = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=0, max_value=8),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
    st.binary(max_size=12),
    st.binary(max_size=12).map(_BadText),
)
# `_ODD` wrapped so that hypothesis does not flatten it into the one_of beside it: half the values are
# plausible (ids that join, known types), so that groups and attachments are read too, not only skipped.
_ANY = _ODD.map(lambda value: value)
_RECIPIENT_IDS = st.one_of(
    st.lists(
        st.one_of(
            st.integers(min_value=1, max_value=4),
            st.integers(min_value=-5, max_value=2**70),
            st.text(max_size=3),
        ),
        max_size=4,
    ).map(lambda items: " ".join(str(item) for item in items)),
    _ANY,
)
_SMALL_ID = st.one_of(st.integers(min_value=1, max_value=4), _ANY)
_SMS_TYPE = st.one_of(st.integers(min_value=0, max_value=7), _ANY)
_MSG_BOX = st.one_of(st.integers(min_value=0, max_value=6), _ANY)
_M_TYPE = st.one_of(st.sampled_from([128, 130, 132, 134, 136]), _ANY)
_ADDR_TYPE = st.one_of(st.sampled_from([137, 151, 130, 129]), _ANY)
_ADDRESS = st.one_of(st.sampled_from([phone.RAMI, phone.LINA, phone.OMAR, phone.OWNER_TOKEN, ""]), _ANY)
_PATH = st.one_of(st.just(phone.PICTURE_PATH), _ANY)
_MIME = st.one_of(
    st.sampled_from(["text/plain", "application/smil", "image/jpeg", "TEXT/PLAIN", "", "text/html"]), _ANY
)


def _insert(db: sqlite3.Connection, table: str, row: dict[str, object]) -> None:
    marks = ", ".join("CAST(? AS TEXT)" if isinstance(value, _BadText) else "?" for value in row.values())
    values = tuple(value.data if isinstance(value, _BadText) else value for value in row.values())
    db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})", values)


def _rows(
    table: str, **columns: st.SearchStrategy[object]
) -> st.SearchStrategy[list[tuple[str, dict[str, object]]]]:
    return st.lists(st.fixed_dictionaries(columns).map(lambda row: (table, row)), min_size=1, max_size=5)


_MMSSMS_ROWS = st.tuples(
    _rows("canonical_addresses", address=_ADDRESS),
    _rows("threads", recipient_ids=_RECIPIENT_IDS),
    _rows("sms", thread_id=_SMALL_ID, address=_ADDRESS, date=_ODD, type=_SMS_TYPE, body=_ODD),
    _rows("pdu", thread_id=_SMALL_ID, date=_ODD, msg_box=_MSG_BOX, m_type=_M_TYPE, sub=_ODD, sub_cs=_ODD),
    _rows("addr", msg_id=_SMALL_ID, address=_ADDRESS, type=_ADDR_TYPE),
    _rows("part", mid=_SMALL_ID, seq=_ODD, ct=_MIME, text=_ODD, _data=_PATH, cl=_ODD, name=_ODD),
)


@contextlib.contextmanager
def _database(
    schema_sql: str, tables: tuple[list[tuple[str, dict[str, object]]], ...]
) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(":memory:", isolation_level=None)
    try:
        db.executescript(schema_sql)
        for rows in tables:
            for table, row in rows:
                _insert(db, table, row)
        yield db
    finally:
        db.close()


def _count(db: sqlite3.Connection, sql: str) -> set[int]:
    return {row[0] for row in db.execute(sql)}


@given(_MMSSMS_ROWS)
def test_odd_mmssms_values_never_stop_the_parser(
    tables: tuple[list[tuple[str, dict[str, object]]], ...],
) -> None:
    with _database(phone.MMSSMS_SCHEMA, tables) as db:
        schema = read_schema(db)
        records = list(SmsAndroid().parse(db, schema))
        rows = [record.source_row for record in records if isinstance(record, ChatMessage)]
        assert len(rows) == len(records) == len(set(rows))
        for record in records:
            assert isinstance(record, ChatMessage)
            assert record.time_utc is None or record.time_utc.utcoffset() is not None
            assert record.chat_type in ("direct", "group") and record.direction in ("sent", "received")
            if record.app == "mms":
                assert phone.OWNER_TOKEN not in (record.sender, *record.recipients)
            assert record.chat.startswith(("thread:", "address:"))
        # Every SMS and MMS of a known kind is a message, whatever else its row holds.
        sms_ids = _count(db, "SELECT _id FROM sms WHERE typeof(type) = 'integer' AND type IN (1, 2, 4, 5, 6)")
        assert {int(row.split(":")[1]) for row in rows if row.startswith("sms:")} == sms_ids
        pdu_ids = _count(
            db,
            "SELECT _id FROM pdu WHERE typeof(msg_box) = 'integer' AND msg_box IN (1, 2, 4, 5) AND NOT "
            "(typeof(m_type) = 'integer' AND m_type IN (129, 131, 133, 134, 135, 136))",
        )
        assert {int(row.split(":")[1]) for row in rows if row.startswith("pdu:")} == pdu_ids
        for row in rows:
            assert re.fullmatch(r"sms:\d+|pdu:\d+(:part:\d+)?", row)


_MIMETYPES = [
    "vnd.android.cursor.item/name",
    "vnd.android.cursor.item/phone_v2",
    "vnd.android.cursor.item/email_v2",
    "vnd.android.cursor.item/vnd.com.whatsapp.profile",
    "vnd.android.cursor.item/photo",
]
# contacts2.db declares these NOT NULL: SQLite itself would refuse NULL there.
_REQUIRED = st.one_of(
    st.integers(min_value=1, max_value=len(_MIMETYPES) + 1),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=6),
)
_CONTACT_ROWS = st.tuples(
    st.just([("mimetypes", {"_id": number, "mimetype": name}) for number, name in enumerate(_MIMETYPES, 1)]),
    _rows("raw_contacts", contact_id=_SMALL_ID, display_name=_ODD, deleted=_REQUIRED),
    _rows("data", raw_contact_id=_REQUIRED, mimetype_id=_REQUIRED, data1=_ODD),
)


@given(_CONTACT_ROWS)
def test_odd_contacts_values_never_stop_the_parser(
    tables: tuple[list[tuple[str, dict[str, object]]], ...],
) -> None:
    with _database(phone.CONTACTS2_SCHEMA, tables) as db:
        records = list(ContactsAndroid().parse(db, read_schema(db)))
        assert len(records) == len(set(records))
        for record in records:
            assert isinstance(record, Identity)
            assert record.kind in ("phone", "email", "whatsapp") and record.value.strip()
            assert record.card is None or re.fullmatch(r"(raw_)?contact:-?\d+", record.card)
            assert record.source == "contacts-android"
