"""Persons merged from contacts, app accounts and message parties; who exchanged media with whom."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from himaya.analyzers.artifacts.interface import ChatMessage, Identity, MediaRef, Record
from himaya.cases import create_case
from himaya.chats.people import OWNER, case_people, merge_keys
from himaya.chats.writer import write_records
from himaya.store.db import Store, open_store
from himaya.store.models import ArtifactSource, Case, EvidenceItem, File

ALI_JID = "962790000001@s.whatsapp.net"
SARA_JID = "962790000002@s.whatsapp.net"
GROUP = "120363000000000001@g.us"


def test_merge_keys() -> None:
    assert merge_keys("whatsapp", ALI_JID) == [f"wa:{ALI_JID}", "tel:790000001"]
    assert merge_keys("phone", "+962 79 000 0001") == ["tel:790000001"]
    assert merge_keys("phone", "0790000001") == ["tel:790000001"]  # national form, same number
    assert merge_keys("email", "Ali@Example.TEST") == ["mail:ali@example.test"]
    assert merge_keys("whatsapp", GROUP) == []  # a group is not a person
    assert merge_keys("whatsapp", "status@broadcast") == []
    assert merge_keys("telegram", "7000001") == ["telegram:7000001"]


@given(st.sampled_from(["phone", "email", "whatsapp", "telegram", "other"]), st.text(max_size=40))
def test_merge_keys_never_fail(kind: str, value: str) -> None:
    for key in merge_keys(kind, value):
        assert ":" in key


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Store:
    store = open_store(himaya_env["home"])
    create_case(store, "C-PEOPLE", "TEST case")
    return store


def _source(store: Store, name: str) -> tuple[int, int]:
    with store.transaction() as session:
        case = session.scalar(select(Case).where(Case.number == "C-PEOPLE"))
        assert case is not None
        item = session.scalar(select(EvidenceItem).where(EvidenceItem.case_id == case.id))
        if item is None:
            item = EvidenceItem(case_id=case.id, name="phone", source_path="/x/phone", kind="folder")
            session.add(item)
            session.flush()
        file = File(evidence_id=item.id, locator=name, path=f"phone/{name}")
        session.add(file)
        session.flush()
        source = ArtifactSource(file_id=file.id, evidence_id=item.id, role="database", status="parsed")
        session.add(source)
        session.flush()
        return case.id, source.id


def _write(store: Store, name: str, parser: str, records: list[Record]) -> int:
    case_id, source_id = _source(store, name)
    with store.transaction() as session:
        write_records(session, case_id, source_id, [(parser, r) for r in records])
    return case_id


def _at(hour: int) -> datetime:
    return datetime(2023, 5, 14, hour, tzinfo=UTC)


def test_contacts_accounts_and_parties_become_persons_with_exchanges(store: Store) -> None:
    _write(
        store,
        "contacts2.db",
        "contacts-android",
        [
            Identity("phone", "+962 79 000 0001", "Ali TEST", card="contact:1", source="contacts-android"),
            Identity("email", "ali@example.test", "Ali TEST", card="contact:1", source="contacts-android"),
        ],
    )
    _write(
        store, "wa.db", "whatsapp-contacts-android", [Identity("whatsapp", SARA_JID, "Sara (WhatsApp name)")]
    )
    picture = MediaRef(path="Media/WhatsApp Images/a.jpg")
    case_id = _write(
        store,
        "msgstore.db",
        "whatsapp-android",
        [
            ChatMessage(
                "whatsapp",
                "message:1",
                ALI_JID,
                "direct",
                "received",
                ALI_JID,
                time_utc=_at(9),
                media=picture,
            ),
            ChatMessage(
                "whatsapp",
                "message:2",
                ALI_JID,
                "direct",
                "received",
                ALI_JID,
                time_utc=_at(11),
                media=picture,
            ),
            ChatMessage(
                "whatsapp",
                "message:3",
                ALI_JID,
                "direct",
                "sent",
                None,
                (ALI_JID,),
                time_utc=_at(10),
                text="hi",
            ),
            ChatMessage(
                "whatsapp",
                "message:4",
                GROUP,
                "group",
                "received",
                SARA_JID,
                (ALI_JID,),
                time_utc=_at(12),
                media=picture,
            ),
        ],
    )
    with store.session() as session:
        people = case_people(session, case_id)
    ali = people.person_of("phone", "0790000001")
    assert ali is not None
    assert ali.names == ["Ali TEST"]
    assert ("whatsapp", ALI_JID) in ali.identifiers and ("email", "ali@example.test") in ali.identifiers
    sara = people.person_of("whatsapp", SARA_JID)
    assert sara is not None and sara.names == ["Sara (WhatsApp name)"]
    assert people.name_of("whatsapp", SARA_JID) == "Sara (WhatsApp name)"
    edges = {(e.sender, e.recipient): e for e in people.exchanges}
    from_ali = edges[(ali.key, OWNER)]
    assert (from_ali.media, from_ali.messages, from_ali.first, from_ali.last) == (2, 2, _at(9), _at(11))
    to_ali = edges[(OWNER, ali.key)]
    assert (to_ali.media, to_ali.messages) == (0, 1)
    # A picture Sara sent to the group reached the owner and Ali.
    assert edges[(sara.key, OWNER)].media == 1 and edges[(sara.key, ali.key)].media == 1
    assert people.exchanges[0].media == 2  # most media first
