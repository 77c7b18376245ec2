"""Tracked locations without a network: hosting look-up, routing to a partner, holds, confirm rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from himaya.errors import UsageError
from himaya.online.hosting import AbuseContact, IpDatabase
from himaya.online.locations import (
    HostingLookup,
    add_hold,
    approve,
    confirm,
    hold_on,
    route_of,
    select_locations,
    standing_holds,
)
from himaya.online.settings import OnlineSettings
from himaya.store.db import Store, open_store
from himaya.store.models import Case, OnlineLocation, utcnow
from tests.builders.mmdb import build_test_mmdb


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Iterator[Store]:
    opened = open_store(himaya_env["home"])
    yield opened
    opened.close()


def _case(store: Store, number: str, *hosts: str) -> int:
    with store.transaction() as session:
        case = Case(number=number)
        session.add(case)
        session.flush()
        for index, host in enumerate(hosts):
            session.add(
                OnlineLocation(
                    case_id=case.id,
                    url=f"http://{host}/TEST/{index}.jpg",
                    host=host,
                    status="detected",
                    first_seen_at=utcnow(),
                    checks=0,
                )
            )
        return case.id


def test_hosting_uses_the_connected_address_else_the_names_first(tmp_path: Path) -> None:
    contact = AbuseContact("TEST abuse", "abuse@test.example", "JO", "direct", "contacts", asn=64512)
    with IpDatabase([build_test_mmdb(tmp_path / "TEST.mmdb")]) as ipdb:
        lookup = HostingLookup(OnlineSettings(), ipdb, [contact], None, lambda host, port: ["127.0.0.9"])
        connected = lookup.identify("http://files.test/a.jpg", "192.0.2.7")
        assert connected.info is not None and connected.info.asn == 64513  # TEST-NET-1 in the test db
        assert connected.addresses == ["127.0.0.9"] and connected.contact is None
        proxied = lookup.identify("http://files.test/a.jpg", None)  # through a proxy: no peer address
        assert proxied.info is not None and proxied.info.asn == 64512
        assert proxied.contact == contact


def test_a_host_abroad_or_a_partner_contact_routes_to_the_partner() -> None:
    location = OnlineLocation(country="NL", contact_channel="direct")
    assert route_of(location, OnlineSettings(unit_country="JO")) == "partner"
    assert route_of(location, OnlineSettings(unit_country="NL")) == "direct"
    assert route_of(location, OnlineSettings()) == "direct"  # no country set: every host is told
    assert route_of(OnlineLocation(country="JO", contact_channel="partner"), OnlineSettings()) == "partner"


def test_holds_cover_their_case_host_and_subdomains_only(store: Store) -> None:
    first = _case(store, "TEST-HOLD-1", "cdn.bad.test", "good.test")
    second = _case(store, "TEST-HOLD-2", "cdn.bad.test")
    with store.transaction() as session:
        add_hold(session, first, "host", "BAD.test", "TEST suspect's host", "TEST")
        holds = standing_holds(session, second)
        assert holds == []  # a case's host hold does not reach other cases
        add_hold(session, None, "host", "bad.test", "TEST unit-wide", "TEST")
        [other] = select_locations(session, second, ["all"])
        hold = hold_on(other, standing_holds(session, second))
        assert hold is not None and hold.reason == "TEST unit-wide"
        bad, good = select_locations(session, first, ["all"])
        assert hold_on(good, standing_holds(session, first)) is None
        assert hold_on(bad, standing_holds(session, first)) is not None
        with pytest.raises(UsageError, match="--reason"):
            add_hold(session, first, "case", None, "  ", "TEST")
        with pytest.raises(UsageError, match="scope"):
            add_hold(session, first, "tip", "x", "reason", "TEST")


def test_confirm_needs_a_citable_category_and_approve_a_confirmation(store: Store) -> None:
    case_id = _case(store, "TEST-CONFIRM", "a.test", "b.test")
    with store.transaction() as session:
        first, second = select_locations(session, case_id, ["all"])
        first.category = "illegal"
        with pytest.raises(UsageError, match="not confirmed yet"):
            approve(session, [first], "TEST-supervisor")
        with pytest.raises(UsageError, match="--category"):
            confirm(session, [first, second], "TEST")  # the second has no category
        assert (first.status, second.status) == ("detected", "detected")  # nothing half-done
        with pytest.raises(UsageError, match="must be one of"):
            confirm(session, [second], "TEST", "comparison")
        assert confirm(session, [first, second], "TEST", "harmful-abusive") == [first, second]
        assert second.category == "harmful-abusive" and first.confirmed_by == "TEST"
        assert approve(session, [first], "TEST-supervisor") == [first]
        assert approve(session, [first], "TEST-supervisor") == []  # once
        with pytest.raises(UsageError, match="no tracked location"):
            select_locations(session, case_id, ["999"])
