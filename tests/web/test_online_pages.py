"""The Online pages of the review app: need-to-know, confirm / approve by role, holds that keep notices
back, a notice as recorded, statistics limited to a user's cases, the capture form, online settings.

Tracked locations are built straight in the database (no capture, no network); host names are strings
under .example and are never resolved.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from himaya.online import settings as online_settings
from himaya.online.capture import CaptureSummary
from himaya.pipeline.scan import ScanSummary
from himaya.security import auth
from himaya.store.models import AuditEvent, Case, OnlineCapture, OnlineLocation, OnlineNotice, Setting
from himaya.web.routes import online as online_routes
from tests.builders.web_case import CASE, OTHER_CASE
from tests.builders.web_server import TestSite
from tests.web.conftest import PASSWORD, Web, csrf_of, post_form

PAGE = f"/cases/{CASE}/online"
HOSTILE_URL = 'http://host-a.example/TEST/"><b>bold</b>.jpg'


def build_locations(web: Web) -> dict[str, int]:
    """Tracked locations of the TEST case in each state, and one of a case nobody here is assigned to."""
    seen = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

    def location(case_id: int, url: str, host: str, status: str, **extra: Any) -> OnlineLocation:
        return OnlineLocation(
            case_id=case_id,
            url=url,
            page_url="http://host-a.example/TEST/page.html",
            host=host,
            status=status,
            sha256=f"{len(url):064x}",
            category="illegal",
            source_label="TEST-known",
            server_ip="192.0.2.10",
            asn=64500,
            org="TEST Hosting",
            country="NL",
            contact_email=f"abuse@{host}",
            contact_channel="direct",
            first_seen_at=seen,
            checks=0,
            **extra,
        )

    with web.store.transaction() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == CASE))
        other_id = session.scalar(select(Case.id).where(Case.number == OTHER_CASE))
        assert case_id is not None and other_id is not None
        rows = {
            "detected": location(case_id, "http://host-a.example/TEST/one.jpg", "host-a.example", "detected"),
            "confirmed": location(
                case_id,
                "http://host-a.example/TEST/two.jpg",
                "host-a.example",
                "confirmed",
                confirmed_by="ivan",
                confirmed_at=seen,
            ),
            "approved": location(
                case_id,
                "http://host-b.example/TEST/three.jpg",
                "host-b.example",
                "confirmed",
                confirmed_by="ivan",
                confirmed_at=seen,
                approved_by="sam",
                approved_at=seen,
            ),
            "removed": location(
                case_id,
                "http://host-a.example/TEST/gone.jpg",
                "host-a.example",
                "removed",
                notified_at=seen,
                removed_at=seen + timedelta(hours=5),
            ),
            "hostile": location(case_id, HOSTILE_URL, "host-a.example", "detected"),
            "other": location(
                other_id, "http://other-host.example/TEST/x.jpg", "other-host.example", "detected"
            ),
        }
        session.add_all(rows.values())
        session.flush()
        return {name: row.id for name, row in rows.items()}


def post(client: TestClient, url: str, data: dict[str, object], page: str = PAGE) -> httpx.Response:
    """Posts like the page's form does (its CSRF token taken from `page`)."""
    response = post_form(client, url, data, page=page)
    assert isinstance(response, httpx.Response)
    return response


def location_row(web: Web, location_id: int) -> OnlineLocation:
    with web.store.session() as session:
        row = session.get(OnlineLocation, location_id)
        assert row is not None
        session.expunge(row)
        return row


def events(web: Web, action: str) -> list[AuditEvent]:
    with web.store.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def login_new(web: Web, name: str, role: str) -> TestClient:
    """Someone in `role` who is assigned to no case."""
    with web.store.transaction() as session:
        auth.create_user(session, web.key, name, PASSWORD, role)
    return web.login(name)


def test_need_to_know_and_role_on_every_online_url(web: Web) -> None:
    ids = build_locations(web)
    with web.store.transaction() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == CASE))
        session.add(
            OnlineNotice(
                case_id=case_id,
                reference="HMY-TEST-000042",
                kind="removal",
                language="en",
                channel="direct",
                host="host-b.example",
                subject="TEST subject",
                body_text="TEST body",
                body_html="<p>TEST body</p>",
                created_by="ivan",
            )
        )
    notice = f"{PAGE}/notices/HMY-TEST-000042"
    gets = [PAGE, f"{PAGE}/capture", notice]
    posts = [
        f"{PAGE}/capture",
        f"{PAGE}/confirm",
        f"{PAGE}/approve",
        f"{PAGE}/holds",
        f"{PAGE}/holds/lift",
        f"{PAGE}/notify",
        f"{notice}/sent",
    ]
    data = {"location": ids["detected"], "urls": "http://192.0.2.1/", "reason": "TEST", "hold_id": 1}
    # An investigator of other cases: the same 403 as for an unknown case, before any form is read.
    outsider = login_new(web, "ines", "investigator")
    token = csrf_of(outsider.get("/").text)
    for url in gets:
        assert outsider.get(url).status_code == 403, url
    for url in posts:
        assert outsider.post(url, data={**data, "csrf_token": token}).status_code == 403, url
    assert outsider.get("/online/stats").status_code == 200
    # A reviewer assigned to the case has no online work.
    reviewer = web.login("rita")
    token = csrf_of(reviewer.get("/").text)
    for url in gets:
        assert reviewer.get(url).status_code == 403, url
    assert reviewer.post(f"{PAGE}/confirm", data={**data, "csrf_token": token}).status_code == 403
    assert reviewer.get("/online/stats").status_code == 403
    assert "/online/stats" not in reviewer.get("/").text
    with web.store.session() as session:
        assert session.get(OnlineLocation, ids["detected"]).status == "detected"  # type: ignore[union-attr]
        assert session.scalar(select(OnlineNotice.status)) == "to-send"


def test_an_investigator_confirms_and_only_a_supervisor_approves(web: Web) -> None:
    ids = build_locations(web)
    ivan = web.login("ivan")
    assert f'href="{PAGE}"' in ivan.get(f"/cases/{CASE}").text
    html = ivan.get(PAGE).text
    assert "http://host-a.example/TEST/one.jpg" in html
    assert 'href="http://' not in html  # addresses are text, never links
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "other-host.example" not in html
    assert 'id="confirm-selected"' in html and 'id="approve-selected"' not in html
    confirmed = post(ivan, f"{PAGE}/confirm", {"location": [ids["detected"]]})
    assert confirmed.status_code == 303 and confirmed.headers["location"] == PAGE
    row = location_row(web, ids["detected"])
    assert (row.status, row.confirmed_by) == ("confirmed", "ivan")
    [event] = events(web, "location_confirmed")
    assert event.actor == "ivan" and json.loads(event.detail or "{}")["location"] == ids["detected"]
    refused = post(ivan, f"{PAGE}/approve", {"location": [ids["detected"]]})
    assert refused.status_code == 403
    assert location_row(web, ids["detected"]).approved_by is None
    assert events(web, "location_approved") == []
    # Filters by status.
    detected = ivan.get(PAGE, params={"status": "detected"}).text
    assert "TEST/one.jpg" not in detected and "&lt;b&gt;bold" in detected
    assert ivan.get(PAGE, params={"status": "nonsense"}).status_code == 400
    # The other case's location cannot be named through this case.
    other = post(ivan, f"{PAGE}/confirm", {"location": [ids["other"]]})
    assert other.status_code == 400
    assert location_row(web, ids["other"]).status == "detected"
    # A supervisor approves what was confirmed, and only that.
    sam = web.login("sam")
    assert 'id="approve-selected"' in sam.get(PAGE).text
    approved = post(sam, f"{PAGE}/approve", {"location": [ids["confirmed"]]})
    assert approved.status_code == 303
    assert location_row(web, ids["confirmed"]).approved_by == "sam"
    [event] = events(web, "location_approved")
    assert event.actor == "sam" and json.loads(event.detail or "{}")["location"] == ids["confirmed"]
    unconfirmed = post(sam, f"{PAGE}/approve", {"location": [ids["hostile"]]})
    assert unconfirmed.status_code == 400
    assert "not confirmed yet" in unconfirmed.text
    assert location_row(web, ids["hostile"]).approved_by is None


def test_a_hold_keeps_notices_back_until_a_supervisor_lifts_it(web: Web) -> None:
    ids = build_locations(web)
    ivan = web.login("ivan")
    assert post(ivan, f"{PAGE}/holds", {"scope": "host", "value": "", "reason": "x"}).status_code == 400
    assert post(ivan, f"{PAGE}/holds", {"scope": "case", "reason": "  "}).status_code == 400
    held = post(
        ivan,
        f"{PAGE}/holds",
        {"scope": "host", "value": "HOST-B.example", "reason": "TEST covert operation"},
        page=PAGE,
    )
    assert held.status_code == 303
    notified = post(ivan, f"{PAGE}/notify", {})
    assert notified.status_code == 303
    summary = notified.headers["location"]
    assert "created=0" in summary and "held=1" in summary
    html = ivan.get(summary).text
    assert 'id="notify-summary"' in html and 'id="held"' in html
    assert "TEST covert operation" in html and "http://host-b.example/TEST/three.jpg" in html
    with web.store.session() as session:
        assert session.scalars(select(OnlineNotice)).all() == []
        hold_id = session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "hold_set"))
    hold = json.loads(hold_id or "{}")
    assert hold["value"] == "host-b.example" and hold["reason"] == "TEST covert operation"
    # Only a supervisor lifts a hold.
    assert post(ivan, f"{PAGE}/holds/lift", {"hold_id": hold["hold"]}).status_code == 403
    sam = web.login("sam")
    assert post(sam, f"{PAGE}/holds/lift", {"hold_id": hold["hold"]}).status_code == 303
    assert len(events(web, "hold_lifted")) == 1
    again = post(ivan, f"{PAGE}/notify", {})
    assert "created=1" in again.headers["location"]
    with web.store.session() as session:
        notice = session.scalars(select(OnlineNotice)).one()
        assert (notice.status, notice.host, notice.recipient_email) == (
            "to-send",
            "host-b.example",
            "abuse@host-b.example",
        )
    assert [json.loads(e.detail or "{}")["notice"] for e in events(web, "notice_created")] == [
        notice.reference
    ]
    assert ids["approved"] and location_row(web, ids["approved"]).status == "confirmed"  # not sent yet


def test_notice_page_shows_the_text_and_records_a_send_by_hand(web: Web) -> None:
    ids = build_locations(web)
    ivan = web.login("ivan")
    post(ivan, f"{PAGE}/notify", {})
    with web.store.session() as session:
        notice = session.scalars(select(OnlineNotice)).one()
    page = f"{PAGE}/notices/{notice.reference}"
    assert f'href="{page}"' in ivan.get(PAGE).text
    html = ivan.get(page).text
    assert 'id="notice-text"' in html and "http://host-b.example/TEST/three.jpg" in html
    assert notice.subject.replace("'", "&#39;") in html and 'id="mark-sent"' in html
    assert CASE not in notice.body_text  # the host never learns the case number
    assert ivan.get(f"{PAGE}/notices/HMY-NO-SUCH").status_code == 404
    assert post(ivan, f"{page}/sent", {}, page=page).status_code == 303
    row = location_row(web, ids["approved"])
    assert row.status == "notified" and row.notified_at is not None
    [event] = events(web, "notice_sent")
    assert json.loads(event.detail or "{}") == {
        "notice": notice.reference,
        "to": "abuse@host-b.example",
        "by": "hand",
    }
    assert 'id="mark-sent"' not in ivan.get(page).text
    assert post(ivan, f"{page}/sent", {}, page=page).status_code == 400


def test_statistics_count_only_the_cases_a_user_is_assigned_to(web: Web) -> None:
    build_locations(web)
    ivan = web.login("ivan")
    html = ivan.get("/online/stats").text
    assert 'href="/online/stats"' in html  # the menu link
    assert f'href="/cases/{CASE}/online"' in html
    assert 'id="total-locations">5<' in html
    assert "other-host.example" not in html and OTHER_CASE not in html and 'id="unit"' not in html
    assert "host-b.example" in html
    sam = web.login("sam")
    unit = sam.get("/online/stats").text
    assert 'id="unit"' in unit and "other-host.example" in unit
    assert OTHER_CASE not in unit  # unit-wide figures name hosts, never the cases sam may not see


def test_capture_checks_the_list_then_runs_in_the_background_one_at_a_time(
    web: Web, monkeypatch: Any
) -> None:
    release = threading.Event()
    calls: list[dict[str, Any]] = []

    def fake_capture(store: Any, blobs: Any, case_number: str, urls: Any, **options: Any) -> CaptureSummary:
        calls.append({"case": case_number, "urls": list(urls), **options})
        assert release.wait(10)
        scan = ScanSummary(1, "finished", 4, 0, 4, 0, 2, 1000, 0.1)
        return CaptureSummary(pages=2, media=4, scan=scan, locations_new=1)

    monkeypatch.setattr(online_routes, "capture_and_track", fake_capture)
    ivan = web.login("ivan")
    # A list with an address that is not http(s) starts nothing, and says which line is wrong.
    refused = post(ivan, f"{PAGE}/capture", {"urls": "http://192.0.2.1/ok\nftp://192.0.2.1/x.jpg"})
    assert refused.status_code == 400
    text = refused.text
    assert 'id="capture-error"' in text and "line 2" in text and "is not an http(s) URL" in text
    assert "ftp://192.0.2.1/x.jpg" in text  # the list stays in the form to be corrected
    empty = post(ivan, f"{PAGE}/capture", {"urls": "  \n# nothing\n"})
    assert empty.status_code == 400
    assert online_routes.capture_jobs(web.state).latest == {}
    assert events(web, "online_captured") == []
    with web.store.session() as session:
        assert session.scalars(select(OnlineCapture)).all() == []
    assert calls == []
    urls = "http://192.0.2.1/a.html\n\nhttps://192.0.2.2/b.html#top\n"
    started = post(ivan, f"{PAGE}/capture", {"urls": urls})
    assert started.status_code == 303
    [event] = events(web, "online_captured")
    assert json.loads(event.detail or "{}")["urls"] == 2 and event.actor == "ivan"
    running = ivan.get(f"{PAGE}/capture").text
    assert 'hx-trigger="every 3s"' in running and "A capture is running" in running
    busy = post(ivan, f"{PAGE}/capture", {"urls": "http://192.0.2.3/"})
    assert busy.status_code == 409 and "another capture is running" in busy.text
    release.set()
    thread = online_routes.capture_jobs(web.state).thread
    assert thread is not None
    thread.join(10)
    deadline = time.monotonic() + 5
    while "hx-trigger" in (done := ivan.get(f"{PAGE}/capture").text) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert 'id="capture-matches">2<' in done and "hx-trigger" not in done
    [call] = calls
    assert call["case"] == CASE and call["urls"] == ["http://192.0.2.1/a.html", "https://192.0.2.2/b.html"]
    assert call["scan_settings"].workers == 0 and call["actor"] == "ivan"


def test_administrator_changes_an_online_setting(web: Web) -> None:
    admin = web.login("admin")
    page = "/admin/users"
    html = admin.get(page).text
    assert 'value="online.unit_country"' in html and 'value="online.smtp_host"' in html
    assert 'smtp_password"' not in html  # the SMTP password is never a setting
    changed = post(admin, "/admin/settings", {"key": "online.unit_country", "value": "jo"}, page=page)
    assert changed.status_code == 303
    with web.store.session() as session:
        row = session.get(Setting, "online.unit_country")
        assert row is not None and (row.value, row.changed_by) == ("JO", "admin")
    [event] = events(web, "setting_changed")
    assert json.loads(event.detail or "{}") == {"setting": "online.unit_country", "from": None, "to": "JO"}
    refused = post(admin, "/admin/settings", {"key": "online.unit_country", "value": "Jordan"}, page=page)
    assert refused.status_code == 400
    assert "ISO 3166 alpha-2" in refused.text
    with web.store.session() as session:
        assert session.get(Setting, "online.unit_country").value == "JO"  # type: ignore[union-attr]
    assert len(events(web, "setting_changed")) == 1
    ivan = web.login("ivan")
    assert post(ivan, "/admin/settings", {"key": "online.unit_country", "value": "SA"}).status_code == 403


def test_a_capture_from_the_page_tracks_what_matched(web: Web) -> None:
    """The real capture service, in the app's background thread, against a site on 127.0.0.1."""
    known = (web.case.root / "WhatsApp" / "Media" / "known.jpg").read_bytes()  # in the TEST-known alert set
    site = TestSite()
    try:
        site.add("/TEST/known.jpg", known, "image/jpeg")
        site.add("/TEST/page.html", b'<html><body><img src="/TEST/known.jpg"></body></html>', "text/html")
        with web.store.transaction() as session:
            online_settings.store(session, "online.allow_networks", "127.0.0.1/32", "test")
        ivan = web.login("ivan")
        assert post(ivan, f"{PAGE}/capture", {"urls": site.url("/TEST/page.html")}).status_code == 303
        thread = online_routes.capture_jobs(web.state).thread
        assert thread is not None
        thread.join(60)
    finally:
        site.close()
    done = ivan.get(f"{PAGE}/capture").text
    assert 'id="capture-matches">1<' in done, done
    html = ivan.get(PAGE).text
    assert site.url("/TEST/known.jpg") in html and f'href="{site.url("/TEST/known.jpg")}"' not in html
    with web.store.session() as session:
        location = session.scalars(select(OnlineLocation)).one()
        assert (location.status, location.host, location.server_ip) == ("detected", "127.0.0.1", "127.0.0.1")
