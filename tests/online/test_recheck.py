"""Re-checks at the library level: outcomes the command line cannot stage (a host name gone from DNS, a
host without validators), errors that must never count as removal, and the scheduler inside `serve`.

Locations are inserted straight into a store; the site is the benign TEST site on 127.0.0.1 and host
names resolve through a table, never through DNS.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from himaya.online import settings as online_settings
from himaya.online.fetch import Fetcher, FetchLimits
from himaya.online.guard import AddressPolicy
from himaya.online.recheck import _Due, _interleave_hosts, recheck
from himaya.online.scheduler import RecheckScheduler
from himaya.online.settings import OnlineSettings
from himaya.store.db import Store, open_store
from himaya.store.models import Case, OnlineCheck, OnlineLocation, utcnow
from tests.builders.web_server import TestSite, benign_png
from tests.conftest import postgres_schema
from tests.online.test_fetch import TableResolver

FAST = FetchLimits(connect_timeout_s=1.0, read_timeout_s=0.5, total_timeout_s=1.5, max_bytes=1 << 20)
LOCAL_ONLY = AddressPolicy.from_cidrs(["127.0.0.1/32"])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(
    request: pytest.FixtureRequest, himaya_env: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    """Each test on the embedded store and on server mode (a fresh PostgreSQL schema)."""
    with ExitStack() as stack:
        if request.param == "postgresql":
            monkeypatch.setenv("HIMAYA_DATABASE_URL", stack.enter_context(postgres_schema()))
        opened = open_store(himaya_env["home"])
        yield opened
        opened.close()


def _track(store: Store, url: str, content: bytes, **fields: object) -> int:
    with store.transaction() as session:
        case = session.scalar(select(Case).where(Case.number == "TEST-RECHECK"))
        if case is None:
            case = Case(number="TEST-RECHECK")
            session.add(case)
            session.flush()
        location = OnlineLocation(
            case_id=case.id,
            url=url,
            host=url.split("/")[2].split(":")[0],
            status="notified",
            sha256=hashlib.sha256(content).hexdigest(),
            first_seen_at=utcnow() - timedelta(days=2),
            notified_at=utcnow() - timedelta(days=1),
            checks=0,
            **fields,
        )
        session.add(location)
        session.flush()
        return location.id


def _location(store: Store, location_id: int) -> OnlineLocation:
    with store.session() as session:
        location = session.get(OnlineLocation, location_id)
        assert location is not None
        session.expunge(location)
        return location


def _recheck(store: Store, resolver: TableResolver | None = None) -> dict[str, int]:
    with Fetcher(FAST, LOCAL_ONLY, resolver) as fetcher:
        summary = recheck(store, fetcher, OnlineSettings(), actor="TEST", every=True, quiet=True)
    return summary.outcomes


def test_a_host_name_gone_from_dns_is_removed(store: Store) -> None:
    location_id = _track(store, "http://gone.test/TEST/a.png", b"x")
    resolver = TableResolver()  # knows no name: NXDOMAIN for everything
    assert _recheck(store, resolver) == {"dns-gone": 1}
    location = _location(store, location_id)
    assert location.status == "removed" and location.removed_at is not None
    assert resolver.calls == ["gone.test"]


def test_a_name_that_now_resolves_to_a_private_address_is_refused_not_removed(store: Store) -> None:
    location_id = _track(store, "http://moved.test/TEST/a.png", b"x")
    assert _recheck(store, TableResolver({"moved.test": ["10.0.0.1"]})) == {"blocked": 1}
    location = _location(store, location_id)
    assert (location.status, location.removed_at, location.last_outcome) == ("notified", None, "blocked")


def test_server_errors_and_time_outs_never_count_as_removal(store: Store, test_site: TestSite) -> None:
    content = benign_png(61)
    test_site.add("/TEST/error.png", content, "image/png", status=503)
    failing = _track(store, test_site.url("/TEST/error.png"), content)
    slow = _track(store, test_site.url("/slow"), content)
    outcomes = _recheck(store)
    assert outcomes == {"error": 2}
    for location_id in (failing, slow):
        location = _location(store, location_id)
        assert location.status == "notified" and location.removed_at is None
        assert location.next_check_at is not None  # tried again at the next round
    with store.session() as session:
        details = {c.detail for c in session.scalars(select(OnlineCheck))}
    assert any("503" in (d or "") for d in details)


def test_without_validators_a_head_with_the_same_length_downloads_nothing(
    store: Store, test_site: TestSite
) -> None:
    content = benign_png(62)
    test_site.add("/TEST/plain.png", content, "image/png", headers={"ETag": "", "Last-Modified": ""})
    location_id = _track(store, test_site.url("/TEST/plain.png"), content, content_length=len(content))
    assert _recheck(store) == {"same-length": 1}
    assert [m for m, _, _ in test_site.requests_for("/TEST/plain.png")] == ["HEAD"]
    assert _location(store, location_id).status == "online"
    # A different length: the bytes are fetched and compared (and, being the same content, still online).
    with store.transaction() as session:
        location = session.get(OnlineLocation, location_id)
        assert location is not None
        location.content_length = len(content) + 1
    assert _recheck(store) == {"same-content": 1}
    assert [m for m, _, _ in test_site.requests_for("/TEST/plain.png")] == ["HEAD", "HEAD", "GET"]


def test_hosts_are_interleaved_so_per_host_slots_do_not_idle_the_threads() -> None:
    due = [_Due(i, f"http://{host}/{i}", None, None, None, None, None) for i, host in enumerate("aaabbc")]
    assert [d.url.split("/")[2] for d in _interleave_hosts(due)] == ["a", "b", "c", "a", "b", "a"]


def test_the_scheduler_rechecks_only_when_turned_on(store: Store, test_site: TestSite) -> None:
    content = benign_png(63)
    test_site.add("/TEST/s.png", content, "image/png")
    location_id = _track(store, test_site.url("/TEST/s.png"), content)
    with store.transaction() as session:
        online_settings.store(session, "online.allow_networks", "127.0.0.1/32", "TEST")
    scheduler = RecheckScheduler(store)
    assert scheduler.run_once() == 0  # online.scheduler is off by default
    assert _location(store, location_id).checks == 0
    with store.transaction() as session:
        online_settings.store(session, "online.scheduler", "true", "TEST")
    assert scheduler.run_once() == 1
    location = _location(store, location_id)
    assert (location.checks, location.last_outcome) == (1, "same-content")
    assert scheduler.run_once() == 0  # not due again for online.recheck_hours
    assert RecheckScheduler(store, forced=False).run_once() == 0


def test_the_scheduler_thread_runs_and_stops(store: Store, test_site: TestSite) -> None:
    content = benign_png(64)
    test_site.add("/TEST/t.png", content, "image/png")
    location_id = _track(store, test_site.url("/TEST/t.png"), content)
    with store.transaction() as session:
        online_settings.store(session, "online.allow_networks", "127.0.0.1/32", "TEST")
    scheduler = RecheckScheduler(store, forced=True)
    scheduler.start()
    try:
        for _ in range(100):
            if _location(store, location_id).checks:
                break
            import time

            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert _location(store, location_id).checks == 1
    assert scheduler.rounds >= 1
