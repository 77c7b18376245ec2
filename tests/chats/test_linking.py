"""Media of messages linked to the case's files: by the path the app stored, else by the SHA-256 it kept."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from himaya.analyzers.artifacts.interface import ChatMessage, MediaRef
from himaya.cases import create_case
from himaya.chats.linking import link_media, path_parts
from himaya.chats.writer import write_records
from himaya.store.db import Store, open_store
from himaya.store.models import ArtifactSource, Case, EvidenceItem, File, Message


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Store:
    store = open_store(himaya_env["home"])
    create_case(store, "C-LINK", "TEST case")
    return store


def _setup(
    store: Store, files: list[tuple[str, str | None, bool]], second: list[str] = ()
) -> tuple[int, int]:
    """Evidence `phone.zip` with msgstore.db and `files` (path, content, deleted) → (case id, source id)."""
    with store.transaction() as session:
        case = session.scalar(select(Case).where(Case.number == "C-LINK"))
        assert case is not None
        phone = EvidenceItem(case_id=case.id, name="phone.zip", source_path="/x/phone.zip", kind="file")
        card = EvidenceItem(case_id=case.id, name="sdcard", source_path="/x/sdcard", kind="folder")
        session.add_all([phone, card])
        session.flush()
        db_file = File(
            evidence_id=phone.id, locator="db", path="phone.zip!/data/data/com.whatsapp/databases/msgstore.db"
        )
        session.add(db_file)
        for n, (path, content, deleted) in enumerate(files):
            session.add(
                File(
                    evidence_id=phone.id,
                    locator=f"f{n}",
                    path=path,
                    md5="0" * 32 if content is not None else None,
                    sha256=_sha(content) if content is not None else None,
                    deleted=deleted,
                )
            )
        for n, path in enumerate(second):
            session.add(
                File(evidence_id=card.id, locator=f"s{n}", path=path, md5="0" * 32, sha256=_sha(path))
            )
        session.flush()
        source = ArtifactSource(file_id=db_file.id, evidence_id=phone.id, role="database", status="parsed")
        session.add(source)
        session.flush()
        return case.id, source.id


def _message(row: int, path: str | None, sha256: str | None = None) -> tuple[str, ChatMessage]:
    return (
        "whatsapp-android",
        ChatMessage(
            app="whatsapp",
            source_row=f"message:{row}",
            chat="962790000001@s.whatsapp.net",
            chat_type="direct",
            direction="received",
            sender="962790000001@s.whatsapp.net",
            media=MediaRef(path=path, sha256=sha256),
        ),
    )


def _links(store: Store) -> dict[str, tuple[str | None, str | None, bool | None]]:
    with store.session() as session:
        rows = session.execute(
            select(Message.source_row, File.path, Message.link_method, Message.media_present).outerjoin(
                File, File.id == Message.file_id
            )
        ).all()
    return {row: (path, method, present) for row, path, method, present in rows}


WA = "phone.zip!/data/media/0/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images"


def test_paths_as_apps_store_them() -> None:
    assert path_parts("Media/WhatsApp Images/IMG-1.jpg") == ["media", "whatsapp images", "img-1.jpg"]
    assert path_parts("~/Library/SMS/Attachments/ab/IMG_1.HEIC") == [
        "library",
        "sms",
        "attachments",
        "ab",
        "img_1.heic",
    ]
    assert path_parts("file:///storage/emulated/0/DCIM/a.jpg") == [
        "storage",
        "emulated",
        "0",
        "dcim",
        "a.jpg",
    ]
    assert path_parts("C:\\Users\\x\\a.jpg") == ["c:", "users", "x", "a.jpg"]


def test_path_then_sha256_then_gone(store: Store) -> None:
    case_id, source_id = _setup(
        store,
        [
            (f"{WA}/IMG-20230514-WA0001.jpg", "one", False),
            # Same name elsewhere: shares only the file name, so it never wins over the right folder.
            ("phone.zip!/data/media/0/Download/IMG-20230514-WA0001.jpg", "other", False),
            ("phone.zip!/data/media/0/DCIM/Camera/renamed.jpg", "moved", False),
            (f"{WA}/Sent/IMG-20230514-WA0009.jpg", None, True),  # deleted, content not read
        ],
    )
    with store.transaction() as session:
        write_records(
            session,
            case_id,
            source_id,
            [
                _message(1, "Media/WhatsApp Images/IMG-20230514-WA0001.jpg"),
                _message(2, "Media/WhatsApp Images/IMG-20230514-WA0002.jpg", _sha("moved")),
                _message(3, "Media/WhatsApp Images/IMG-20230514-WA0003.jpg", _sha("never seen")),
                _message(4, "Media/WhatsApp Images/Sent/IMG-20230514-WA0009.jpg"),
                _message(5, None, _sha("moved")),
            ],
        )
        counts = link_media(session, case_id)
    links = _links(store)
    assert links["message:1"] == (f"{WA}/IMG-20230514-WA0001.jpg", "path", True)
    assert links["message:2"] == ("phone.zip!/data/media/0/DCIM/Camera/renamed.jpg", "sha256", True)
    assert links["message:3"] == (None, None, False)
    assert links["message:4"] == (f"{WA}/Sent/IMG-20230514-WA0009.jpg", "path", False)
    assert links["message:5"][1] == "sha256"
    assert (counts.by_path, counts.by_sha256, counts.missing) == (2, 2, 1)
    # Linking again changes nothing.
    with store.transaction() as session:
        assert link_media(session, case_id).changed == 0


def test_content_wins_over_a_path_holding_other_content(store: Store) -> None:
    case_id, source_id = _setup(
        store,
        [
            (f"{WA}/IMG-20230514-WA0001.jpg", "overwritten", False),
            ("phone.zip!/data/media/0/Pictures/copy.jpg", "original", False),
        ],
    )
    with store.transaction() as session:
        write_records(
            session,
            case_id,
            source_id,
            [_message(1, "Media/WhatsApp Images/IMG-20230514-WA0001.jpg", _sha("original"))],
        )
        link_media(session, case_id)
    assert _links(store)["message:1"] == ("phone.zip!/data/media/0/Pictures/copy.jpg", "sha256", True)


def test_media_on_a_memory_card_scanned_as_other_evidence(store: Store) -> None:
    case_id, source_id = _setup(
        store, [], second=["sdcard/WhatsApp/Media/WhatsApp Images/IMG-20230514-WA0001.jpg"]
    )
    with store.transaction() as session:
        write_records(
            session,
            case_id,
            source_id,
            [_message(1, "/storage/emulated/0/WhatsApp/Media/WhatsApp Images/IMG-20230514-WA0001.jpg")],
        )
        link_media(session, case_id)
    assert _links(store)["message:1"] == (
        "sdcard/WhatsApp/Media/WhatsApp Images/IMG-20230514-WA0001.jpg",
        "path",
        True,
    )


def test_a_bare_name_links_by_name_and_a_named_folder_must_match(store: Store) -> None:
    case_id, source_id = _setup(
        store, [("phone.zip!/a/IMG_1.jpg", "x", False), ("phone.zip!/b/IMG_2.jpg", "y", False)]
    )
    with store.transaction() as session:
        write_records(
            session, case_id, source_id, [_message(1, "IMG_1.jpg"), _message(2, "elsewhere/IMG_2.jpg")]
        )
        link_media(session, case_id)
    links = _links(store)
    assert links["message:1"][0] == "phone.zip!/a/IMG_1.jpg"
    assert links["message:2"] == (None, None, False)  # the app named a folder the file is not in


@given(st.text(max_size=200))
def test_any_stored_path_splits_into_clean_parts(text: str) -> None:
    parts = path_parts(text)
    assert all(part and part not in (".", "~") and "/" not in part and "\\" not in part for part in parts)
    assert parts == [p.lower() for p in parts]
    # The same path written with the other separator, or with a file:// prefix, gives the same parts.
    assert path_parts(text.replace("/", "\\")) == path_parts(text.replace("\\", "/"))
