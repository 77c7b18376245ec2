"""Who gets which notice: one per host and recipient, nothing for what cannot be cited, no half rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from himaya.online.notify import notify
from himaya.online.settings import OnlineSettings
from himaya.store.db import Store, open_store
from himaya.store.models import Case, NoticeItem, OnlineLocation, OnlineNotice, utcnow

SETTINGS = OnlineSettings(unit_country="JO", notice_language="en", legal_basis_en="TEST basis")


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Iterator[Store]:
    opened = open_store(himaya_env["home"])
    yield opened
    opened.close()


def _approved(store: Store, *rows: tuple[str, str | None, str]) -> int:
    """(url, contact e-mail, category) per location, confirmed and approved."""
    with store.transaction() as session:
        case = Case(number="TEST-NOTIFY")
        session.add(case)
        session.flush()
        for index, (url, email, category) in enumerate(rows):
            session.add(
                OnlineLocation(
                    case_id=case.id,
                    url=url,
                    host=url.split("/")[2],
                    status="confirmed",
                    category=category,
                    sha256=f"{index:064x}",
                    server_ip="192.0.2.10",
                    country="JO",
                    contact_name="TEST desk" if email else None,
                    contact_email=email,
                    contact_channel="direct" if email else None,
                    first_seen_at=utcnow(),
                    confirmed_at=utcnow(),
                    approved_at=utcnow(),
                    approved_by="TEST-supervisor",
                    checks=0,
                )
            )
        return case.id


def test_one_notice_per_host_lists_all_its_items(store: Store) -> None:
    case_id = _approved(
        store,
        ("http://a.test/1.jpg", "abuse@a.test", "illegal"),
        ("http://a.test/2.jpg", "abuse@a.test", "harmful-abusive"),
        ("http://b.test/1.jpg", None, "illegal"),
    )
    with store.transaction() as session:
        result = notify(session, case_id, SETTINGS, "TEST", send=False)
        assert [(n.host, n.kind, n.status) for n in result.created] == [
            ("a.test", "removal", "to-send"),
            ("b.test", "removal", "to-send"),
        ]
        a_notice, b_notice = result.created
        assert "http://a.test/1.jpg" in a_notice.body_text and "http://a.test/2.jpg" in a_notice.body_text
        assert "TEST basis" in a_notice.body_text and a_notice.reference.startswith("HMY-")
        assert b_notice.recipient_email is None and "contacts import" in (b_notice.error or "")
        items = session.scalars(select(NoticeItem.notice_id).order_by(NoticeItem.location_id)).all()
        assert items == [a_notice.id, a_notice.id, b_notice.id]
    with store.transaction() as session:
        assert notify(session, case_id, SETTINGS, "TEST", send=False).created == []  # once only


def test_a_notice_that_cannot_be_rendered_leaves_no_row(store: Store) -> None:
    case_id = _approved(
        store,
        ("http://a.test/1.jpg", "abuse@a.test", "comparison"),  # nothing a notice can cite
        ("http://b.test/1.jpg", "abuse@b.test", "illegal"),
    )
    with store.transaction() as session:
        result = notify(session, case_id, SETTINGS, "TEST", send=False)
        assert [n.host for n in result.created] == ["b.test"]
        [(refused, reason)] = result.refused
        assert [loc.url for loc in refused] == ["http://a.test/1.jpg"] and "category" in reason
    with store.session() as session:
        assert [n.host for n in session.scalars(select(OnlineNotice))] == ["b.test"]
        assert len(session.scalars(select(NoticeItem)).all()) == 1


def test_dry_run_creates_nothing(store: Store) -> None:
    case_id = _approved(store, ("http://a.test/1.jpg", "abuse@a.test", "illegal"))
    with store.transaction() as session:
        assert notify(session, case_id, SETTINGS, "TEST", dry_run=True).created == []
    with store.session() as session:
        assert session.scalars(select(OnlineNotice)).all() == []
