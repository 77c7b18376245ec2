"""Telegram for Android's cache4.db parser and its TL reader, on databases and blobs built by fixtures."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from himaya.analyzers.artifacts.database import DatabaseFiles, open_private_copy, read_schema
from himaya.analyzers.artifacts.interface import ChatMessage, Identity, MediaRef, Record
from himaya.analyzers.artifacts.telegram_android import TelegramAndroid
from himaya.analyzers.artifacts.tl import (
    Attachment,
    Peer,
    TlError,
    TlReader,
    decode_chat,
    decode_message,
    decode_user,
    read_peer,
)
from tests.builders.chats import telegram as tg


def parse(path: Path, *, wal: bool = True) -> list[Record]:
    with open_private_copy(DatabaseFiles(path, Path(f"{path}-wal") if wal else None)) as db:
        schema = read_schema(db)
        assert TelegramAndroid.recognise(schema)
        return list(TelegramAndroid().parse(db, schema))


def messages(records: list[Record]) -> dict[str, ChatMessage]:
    found = {record.source_row: record for record in records if isinstance(record, ChatMessage)}
    assert len(found) == sum(isinstance(record, ChatMessage) for record in records), "source_row not unique"
    return found


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("telegram")
    built = {
        "cache4": tg.build_cache4(folder / "cache4.db"),
        "legacy": tg.build_cache4_legacy(folder / "legacy" / "cache4.db"),
    }
    for name in tg.LOOKALIKE_SCHEMAS:
        built[name] = tg.build_lookalike(folder / name / "cache4.db", name)
    return built


@pytest.fixture(scope="module")
def records(files: dict[str, Path]) -> list[Record]:
    return parse(files["cache4"])


def row(uid: int, mid: int) -> str:
    return tg.source_row(uid, mid)


# --- Recognition ----------------------------------------------------------------------------------------


def schema_of(path: Path) -> dict[str, frozenset[str]]:
    with open_private_copy(DatabaseFiles(path)) as db:
        return dict(read_schema(db))


def test_recognises_current_and_legacy_layouts(files: dict[str, Path]) -> None:
    assert TelegramAndroid.recognise(schema_of(files["cache4"]))
    assert TelegramAndroid.recognise(schema_of(files["legacy"]))


@pytest.mark.parametrize("name", sorted(tg.LOOKALIKE_SCHEMAS))
def test_rejects_lookalike_schemas(files: dict[str, Path], name: str) -> None:
    assert not TelegramAndroid.recognise(schema_of(files[name]))


def test_parser_names() -> None:
    assert (TelegramAndroid.NAME, TelegramAndroid.APP) == ("telegram-android", "telegram")


# --- The scenario -----------------------------------------------------------------------------------------


def test_every_message_exactly(records: list[Record]) -> None:
    assert messages(records) == tg.expected_messages()


def test_identities_exactly(records: list[Record]) -> None:
    found = [record for record in records if isinstance(record, Identity)]
    assert len(found) == len(set(found))
    assert set(found) == tg.expected_identities()


def test_newest_message_is_read_from_the_wal_only(files: dict[str, Path]) -> None:
    without_wal = messages(parse(files["cache4"], wal=False))
    assert row(tg.LINA_ID, tg.MID_WAL) not in without_wal
    assert without_wal[row(tg.LINA_ID, tg.MID_SENT)].text == tg.TEXT_SENT


def test_sent_direct_message_names_owner_and_recipient(records: list[Record]) -> None:
    sent = messages(records)[row(tg.LINA_ID, tg.MID_SENT)]
    assert (sent.direction, sent.sender, sent.recipients) == ("sent", str(tg.OWNER_ID), (str(tg.LINA_ID),))
    assert sent.media is None  # the empty media Telegram gives a sent text is no attachment


def test_received_document_gives_mime_size_and_name(records: list[Record]) -> None:
    video = messages(records)[row(tg.LINA_ID, tg.MID_VIDEO)]
    assert video.media == MediaRef(mime=tg.VIDEO_MIME, size=tg.VIDEO_SIZE, name=tg.VIDEO_NAME)
    assert video.text is None


def test_group_message_sender_comes_from_the_blob(records: list[Record]) -> None:
    received = messages(records)[row(-tg.GROUP_ID, tg.MID_GROUP_RECEIVED)]
    assert (received.chat, received.chat_type, received.sender) == (
        tg.CHATS["group"],
        "group",
        str(tg.OMAR_ID),
    )
    assert received.recipients == ()


def test_forwarded_message(records: list[Record]) -> None:
    forwarded = messages(records)[row(tg.LINA_ID, tg.MID_FORWARDED)]
    assert forwarded.forwarded and forwarded.text == tg.TEXT_FORWARDED
    assert not messages(records)[row(tg.LINA_ID, tg.MID_REPLY)].forwarded


def test_truncated_blob_falls_back_to_columns(records: list[Record]) -> None:
    truncated = messages(records)[row(tg.OMAR_ID, tg.MID_TRUNCATED)]
    assert truncated.text is None and not truncated.forwarded and truncated.media is None
    assert (truncated.chat, truncated.sender, truncated.direction) == (
        tg.CHATS["omar"],
        str(tg.OMAR_ID),
        "received",
    )
    assert truncated.time_utc is not None and int(truncated.time_utc.timestamp()) == tg.BASE_DATE + 8 * 60


def test_channel_post_is_the_channels_and_its_view_count_is_no_media(records: list[Record]) -> None:
    post = messages(records)[row(-tg.CHANNEL_ID, tg.MID_CHANNEL)]
    assert (post.chat, post.sender, post.media) == (tg.CHATS["channel"], tg.CHATS["channel"], None)
    assert post.chat_name == tg.CHANNEL_TITLE


def test_secret_chat_sender_comes_from_enc_chats(records: list[Record]) -> None:
    secret = messages(records)[row(tg.SECRET_DIALOG, tg.MID_SECRET)]
    assert (secret.chat, secret.chat_type, secret.sender) == (tg.CHATS["secret"], "direct", str(tg.LINA_ID))
    assert secret.text is None and secret.media == MediaRef()  # a photo by the `media` column


def test_legacy_messages_table(files: dict[str, Path]) -> None:
    found = messages(parse(files["legacy"], wal=False))
    direct = found[row(tg.LINA_ID, tg.LEGACY_MID_DIRECT)]
    assert (direct.chat, direct.sender, direct.text, direct.chat_name) == (
        f"user:{tg.LINA_ID}",
        str(tg.LINA_ID),
        tg.LEGACY_TEXT,
        tg.LINA_NAME,
    )
    secret = found[row(tg.LEGACY_SECRET_DIALOG, tg.LEGACY_MID_SECRET)]
    assert (secret.chat, secret.sender, secret.media) == (
        f"secret:{tg.LEGACY_SECRET_CHAT_ID}",
        str(tg.LINA_ID),
        None,
    )
    assert direct.direction == "received" and direct.recipients == ()


# --- Bad rows -------------------------------------------------------------------------------------------


def memory_cache4(rows: list[tuple[object, ...]]) -> tuple[sqlite3.Connection, dict[str, frozenset[str]]]:
    """A cache4.db in memory, users and chats empty; rows: mid, uid, date, data, out, media[, is_channel]."""
    db = sqlite3.connect(":memory:")
    db.executescript(tg.SCHEMA_SQL)
    for values in rows:
        padded = (*values, 0) if len(values) == 6 else values
        db.execute(
            "INSERT INTO messages_v2 (mid, uid, date, data, out, media, is_channel) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            padded,
        )
    return db, dict(read_schema(db))


def test_odd_column_values_are_skipped_or_read_without_a_blob() -> None:
    db, schema = memory_cache4(
        [
            (None, tg.LINA_ID, tg.BASE_DATE, None, 0, -1),  # no mid: skipped
            (301, "not a dialog", tg.BASE_DATE, None, 0, -1),  # text dialog id: skipped
            (302, 0, tg.BASE_DATE, None, 0, -1),  # dialog 0: skipped
            (303, tg.LINA_ID, "yesterday", "text, not a blob", None, None),
            (304, tg.LINA_ID, -5, b"", 1, 1),
        ]
    )
    found = messages(list(TelegramAndroid().parse(db, schema)))
    assert sorted(found) == [row(tg.LINA_ID, 303), row(tg.LINA_ID, 304)]
    odd = found[row(tg.LINA_ID, 303)]
    assert (odd.time_utc, odd.text, odd.direction, odd.sender) == (None, None, "received", str(tg.LINA_ID))
    assert found[row(tg.LINA_ID, 304)].media == MediaRef()


def test_undecodable_channel_post_reads_no_media_from_its_view_count() -> None:
    # `is_channel` 1 marks the dialog a channel; its `media` column (1) is a view count, not a photo.
    db, schema = memory_cache4([(305, -tg.CHANNEL_ID, tg.BASE_DATE, b"\x00" * 8, 0, 1, 1)])
    post = messages(list(TelegramAndroid().parse(db, schema)))[row(-tg.CHANNEL_ID, 305)]
    assert (post.chat, post.media, post.sender) == (tg.CHATS["channel"], None, None)
    db, schema = memory_cache4([(306, -tg.GROUP_ID, tg.BASE_DATE, b"\x00" * 8, 0, 1, 0)])
    group = messages(list(TelegramAndroid().parse(db, schema)))[row(-tg.GROUP_ID, 306)]
    assert (group.chat, group.media) == (tg.CHATS["group"], MediaRef())


@given(blobs=st.lists(st.binary(max_size=120), min_size=1, max_size=8), date=st.integers(-(2**63), 2**63 - 1))
def test_parse_never_fails_on_random_blobs(blobs: list[bytes], date: int) -> None:
    rows = [
        (400 + index, tg.LINA_ID - 2 * index, date, blob, index % 2, -1) for index, blob in enumerate(blobs)
    ]
    db, schema = memory_cache4(rows)
    found = messages(list(TelegramAndroid().parse(db, schema)))
    assert len(found) == len(blobs)


# --- TL reader --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 3, 4, 253, 254, 255, 1000, 70_000])
def test_string_round_trip_with_padding(length: int) -> None:
    text = "ب" * (length // 2) + "x" * (length % 2)
    data = tg.TlWriter().string(text).int32(-7).value()
    assert len(data) % 4 == 0
    reader = TlReader(data)
    assert reader.string() == text
    assert reader.int32() == -7 and reader.remaining == 0


@given(st.binary(max_size=600))
def test_blob_round_trip(value: bytes) -> None:
    assert TlReader(tg.TlWriter().blob(value).value()).blob() == value


def test_integers_and_vectors_round_trip() -> None:
    data = (
        tg.TlWriter().int32(-1).uint32(0xFFFFFFFF).int64(-(2**63)).vector([b"\x01\x00\x00\x00"] * 3).value()
    )
    reader = TlReader(data)
    assert (reader.int32(), reader.uint32(), reader.int64()) == (-1, 0xFFFFFFFF, -(2**63))
    assert reader.vector(TlReader.int32) == [1, 1, 1]


def test_truncation_raises_the_typed_error() -> None:
    with pytest.raises(TlError):
        TlReader(b"\x01\x02\x03").int32()
    with pytest.raises(TlError):
        TlReader(b"\x0a" + b"abc").blob()  # says 10 bytes, has 3
    with pytest.raises(TlError):  # a vector claiming more items than the bytes could hold
        TlReader(tg.TlWriter().uint32(tg.VECTOR).uint32(1000).value()).vector(TlReader.int32)


@pytest.mark.parametrize(
    ("data", "peer"),
    [
        (tg.peer_user(tg.LINA_ID), Peer("user", tg.LINA_ID)),
        (tg.peer_chat(tg.GROUP_ID), Peer("chat", tg.GROUP_ID)),
        (tg.peer_channel(2**40 + 5), Peer("channel", 2**40 + 5)),
        (tg.TlWriter().uint32(0x9DB1BC6D).int32(42).value(), Peer("user", 42)),
    ],
)
def test_peers(data: bytes, peer: Peer) -> None:
    assert read_peer(TlReader(data)) == peer


@pytest.mark.parametrize("constructor", tg.MESSAGE_WITH_FLAGS2 + tg.MESSAGE_WITHOUT_FLAGS2)
def test_message_round_trip_in_every_layout(constructor: int) -> None:
    data = tg.message(
        message_id=77,
        peer=tg.peer_chat(tg.GROUP_ID),
        date=tg.BASE_DATE,
        text="Meet at the north gate",
        from_peer=tg.peer_user(tg.OMAR_ID),
        fwd=tg.fwd_header(date=tg.BASE_DATE - 60, from_name="Hidden Sender"),
        reply=tg.reply_header(70, quote="north"),
        media=tg.photo_media(1, tg.BASE_DATE),
        constructor=constructor,
    )
    decoded = decode_message(data)
    assert (decoded.id, decoded.date, decoded.text, decoded.out, decoded.forwarded) == (
        77,
        tg.BASE_DATE,
        "Meet at the north gate",
        False,
        True,
    )
    assert (decoded.from_id, decoded.peer_id) == (Peer("user", tg.OMAR_ID), Peer("chat", tg.GROUP_ID))
    assert decoded.media == Attachment("photo")


def test_message_without_optional_fields() -> None:
    decoded = decode_message(tg.message(message_id=1, peer=tg.peer_user(5), date=9, text="", out=True))
    assert (decoded.out, decoded.from_id, decoded.forwarded, decoded.media, decoded.text) == (
        True,
        None,
        False,
        None,
        "",
    )


def test_message_saved_peer_and_boosts_are_skipped_where_the_layout_has_them() -> None:
    flags = (1 << 8) | (1 << 28) | (1 << 29)
    data = (
        tg.TlWriter()
        .uint32(0xA66C7EFC)
        .uint32(flags)
        .int32(3)
        .raw(tg.peer_user(11))
        .int32(4)  # from_boosts_applied
        .raw(tg.peer_channel(12))
        .raw(tg.peer_user(13))  # saved_peer_id
        .int32(tg.BASE_DATE)
        .string("boosted")
        .value()
    )
    decoded = decode_message(data)
    assert (decoded.from_id, decoded.peer_id, decoded.text) == (
        Peer("user", 11),
        Peer("channel", 12),
        "boosted",
    )


def test_document_attachment_without_a_name() -> None:
    media = tg.document_media(
        document_id=1, date=1, mime="application/pdf", size=2048, name=None, video=False
    )
    decoded = decode_message(tg.message(message_id=1, peer=tg.peer_user(5), date=9, text="x", media=media))
    assert decoded.media == Attachment("document", mime="application/pdf", size=2048, name=None)


@pytest.mark.parametrize(
    "media",
    [
        tg.media_empty(),
        tg.TlWriter().uint32(0x56E0D474).uint32(0x1117DA0A).value(),  # geo (geoPointEmpty)
    ],
)
def test_media_that_is_no_file(media: bytes) -> None:
    assert (
        decode_message(tg.message(message_id=1, peer=tg.peer_user(5), date=9, text="x", media=media)).media
        is None
    )


def test_unknown_media_still_counts_as_an_attachment() -> None:
    media = tg.TlWriter().uint32(0x12345678).value()
    assert decode_message(
        tg.message(message_id=1, peer=tg.peer_user(5), date=9, text="x", media=media)
    ).media == (Attachment("other"))


@pytest.mark.parametrize(
    "data",
    [
        tg.TlWriter().uint32(0x555555F9).uint32(0).value(),  # a constructor not decoded
        # a reply quoting formatted text (quote_entities, bit 7) is not walked
        tg.message(
            message_id=1,
            peer=tg.peer_user(5),
            date=9,
            text="x",
            reply=tg.TlWriter().uint32(0x6917560B).uint32(1 << 7).value(),
        ),
        b"",
    ],
)
def test_undecodable_messages_raise_the_typed_error(data: bytes) -> None:
    with pytest.raises(TlError):
        decode_message(data)


@given(st.binary(max_size=200))
def test_decoders_raise_only_the_typed_error_on_random_bytes(data: bytes) -> None:
    for decode in (decode_message, decode_user, decode_chat):
        with contextlib.suppress(TlError):
            decode(data)


@given(cut=st.integers(min_value=0, max_value=10_000), prefix=st.binary(max_size=4))
def test_truncated_and_shifted_blobs_raise_only_the_typed_error(cut: int, prefix: bytes) -> None:
    whole = tg.message(
        message_id=5,
        peer=tg.peer_user(tg.LINA_ID),
        date=tg.BASE_DATE,
        text="a" * 300,
        from_peer=tg.peer_user(tg.OMAR_ID),
        fwd=tg.fwd_header(date=1, from_peer=tg.peer_channel(9)),
        media=tg.document_media(document_id=1, date=1, mime="video/mp4", size=10, name="clip.mp4"),
    )
    blob = (prefix + whole)[: cut % (len(whole) + len(prefix) + 1)]
    with contextlib.suppress(TlError):
        decode_message(blob)


@pytest.mark.parametrize("constructor", [tg.USER_CURRENT, tg.USER_OLD])
def test_user_round_trip(constructor: int) -> None:
    data = tg.user(
        user_id=tg.LINA_ID,
        first_name="Lina",
        last_name=None,
        username="lina_s",
        phone=tg.LINA_PHONE,
        constructor=constructor,
    )
    decoded = decode_user(data)
    assert (decoded.id, decoded.first_name, decoded.last_name, decoded.username, decoded.phone) == (
        tg.LINA_ID,
        "Lina",
        None,
        "lina_s",
        tg.LINA_PHONE,
    )
    assert not decoded.is_self
    assert decode_user(tg.user(user_id=1, first_name="A", is_self=True, constructor=constructor)).is_self


def test_chat_and_channel_round_trip() -> None:
    group = decode_chat(tg.chat(chat_id=tg.GROUP_ID, title=tg.GROUP_TITLE))
    assert (group.id, group.title, group.is_channel) == (tg.GROUP_ID, tg.GROUP_TITLE, False)
    news = decode_chat(tg.channel(channel_id=tg.CHANNEL_ID, title=tg.CHANNEL_TITLE, username="amman_weather"))
    assert (news.id, news.title, news.is_channel) == (tg.CHANNEL_ID, tg.CHANNEL_TITLE, True)
