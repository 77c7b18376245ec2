"""The Tips page of the review app: need-to-know, imports through the form (all or nothing, audited),
what the page shows per IP / account / person and in the timeline, escaping of hostile values, and the
safety of uploaded file names.

Every report and log is a TEST builder's (tests/builders/tips.py), posted through the real form;
addresses are documentation ranges and the IP database is the tests' .mmdb.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from himaya.attribution import importer
from himaya.attribution.summary import summary
from himaya.online import settings as online_settings
from himaya.store.models import AuditEvent, Case, TipReport, User, WebSession
from himaya.web.routes import tips as tips_routes
from tests.builders.mmdb import build_test_mmdb
from tests.builders.tips import (
    SUSPECT_ACCOUNT,
    SUSPECT_IP,
    cybertip_xml,
    sample_report,
    six_hundred_uploads,
    upload_log_csv,
    upload_row,
)
from tests.builders.web_case import CASE
from tests.web.conftest import Web, csrf_of

PAGE = f"/cases/{CASE}/tips"
IMPORT = f"{PAGE}/import"


def upload(
    client: TestClient,
    files: Sequence[tuple[str, bytes]],
    token_page: str = PAGE,
    **fields: str,
) -> httpx.Response:
    """Posts the import form as a browser does: multipart, the CSRF token from the page."""
    token = csrf_of(client.get(token_page).text)
    response = client.post(
        IMPORT,
        data={"csrf_token": token, "format": "auto", "timezone": "", "service": "", **fields},
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
    )
    assert isinstance(response, httpx.Response)
    return response


def recorded(web: Web, action: str) -> list[dict[str, Any]]:
    with web.store.session() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        return [json.loads(row.detail or "{}") for row in rows]


def case_summary(web: Web) -> dict[str, Any]:
    with web.store.session() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == CASE))
        assert case_id is not None
        return summary(session, case_id)


def section(html: str, table_id: str) -> str:
    found = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)
    assert found, f"no table {table_id}"
    return found.group(1)


def timeline_ips(html: str) -> list[str]:
    body = section(html, "timeline-table").split("<tbody>", 1)[1]
    return re.findall(
        r'<tr[^>]*>\n<td>[^<]*</td>\n<td class="mono">.*?</td>\n<td class="mono path">([^<]*)</td>', body
    )


def use_test_ip_database(web: Web, folder: Path) -> None:
    mmdb = build_test_mmdb(
        folder / "TEST.mmdb",
        [
            (
                "203.0.113.0/24",
                {
                    "autonomous_system_number": 64520,
                    "autonomous_system_organization": "TEST Home Broadband",
                    "country": {"iso_code": "JO"},
                },
            ),
            (
                "192.0.2.0/24",
                {
                    "autonomous_system_number": 64521,
                    "autonomous_system_organization": "TEST Cloud Hosting",
                    "country": {"iso_code": "NL"},
                },
            ),
        ],
    )
    with web.store.transaction() as session:
        online_settings.store(session, "online.mmdb", str(mmdb), "test")
        online_settings.store(session, "online.unit_country", "JO", "test")


def test_only_assigned_people_whose_role_reads_tips_reach_the_page_or_the_form(web: Web) -> None:
    log = ("TEST-uploads.csv", upload_log_csv([upload_row(SUSPECT_IP, "2026-03-20T08:00:00Z")]))
    # omar reviews other cases; rami is assigned to this one, but reviewers do not read tips.
    for name in ("omar", "rami"):
        client = web.login(name)
        assert client.get(PAGE).status_code == 403, name
        assert upload(client, [log], token_page="/").status_code == 403, name
        assert 'id="open-tips"' not in client.get(f"/cases/{CASE}").text
    assert case_summary(web)["reports"] == 0
    assert recorded(web, "tips_imported") == [] and recorded(web, "tips_viewed") == []
    for name in ("ivan", "sam"):
        client = web.login(name)
        assert f'href="{PAGE}"' in client.get(f"/cases/{CASE}").text
        assert client.get(PAGE).status_code == 200, name


def test_an_investigator_imports_six_hundred_uploads_and_reads_them_per_ip(web: Web, tmp_path: Path) -> None:
    use_test_ip_database(web, tmp_path)
    ivan = web.login("ivan")
    done = upload(ivan, [("TEST-uploads.csv", six_hundred_uploads())])
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"{PAGE}?imported=1&skipped=0&reports=1&events=1500"
    [imported] = recorded(web, "tips_imported")
    assert imported["files"] == ["TEST-uploads.csv"] and (imported["reports"], imported["events"]) == (
        1,
        1500,
    )

    html = ivan.get(done.headers["location"]).text
    assert 'id="import-result"' in html
    assert f"IP {SUSPECT_IP} published 600 items (0 matched as known material) between" in html
    ip_rows = section(html, "ip-table")
    row = re.search(
        rf">{re.escape(SUSPECT_IP)}</a></td>\n<td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>", ip_rows
    )
    assert row and row.groups() == ("600", "600", "0")
    assert "TEST Home Broadband (JO)" in ip_rows and "IP database built" in ip_rows
    # The hosting range abroad carries both flags, as words a person reads.
    noise = ip_rows.split(">192.0.2.10</a>", 1)[1].split("</tr>", 1)[0]
    assert "hosting/VPN range" in noise and "abroad → partner referral" in noise
    accounts = section(html, "account-table")
    assert f">{SUSPECT_ACCOUNT}</a></td>\n<td>600</td><td>600</td>" in accounts
    # The timeline: newest first, at most 500 rows, then how many more.
    assert len(timeline_ips(html)) == 500
    assert "1000 more: narrow the filter" in html
    assert "TEST-uploads.csv:line 1501" in html.split('id="timeline-table"', 1)[1]

    narrowed = ivan.get(PAGE, params={"ip": "192.0.2.10"}).text
    shown = timeline_ips(narrowed)
    assert shown and set(shown) == {"192.0.2.10"} and "narrow the filter" not in narrowed
    by_account = ivan.get(PAGE, params={"account": "test-user-101"}).text
    assert 0 < len(timeline_ips(by_account)) < 100
    nothing = ivan.get(PAGE, params={"ip": "not an address"}).text
    assert timeline_ips(nothing) == [] and "No event matches the filter." in nothing
    views = recorded(web, "tips_viewed")
    assert {"ip": "192.0.2.10", "account": None} in [{k: v[k] for k in ("ip", "account")} for v in views]

    # The same file again is skipped: nothing new, nothing audited as imported.
    again = upload(ivan, [("TEST-uploads.csv", six_hundred_uploads())])
    assert again.headers["location"] == f"{PAGE}?imported=0&skipped=1&reports=0&events=0"
    assert len(recorded(web, "tips_imported")) == 1
    assert case_summary(web)["reports"] == 1

    # In Arabic the flags and headings are translated; the data stays as written.
    with web.store.transaction() as session:
        user = session.scalar(select(User).where(User.username == "ivan"))
        assert user is not None
        user.language = "ar"
    arabic = ivan.get(PAGE).text
    assert "البلاغات وأحداث عناوين IP" in arabic and "خارج البلاد ← إحالة إلى جهة شريكة" in arabic
    assert SUSPECT_IP in arabic


def test_a_report_and_a_log_without_zones_show_persons_and_assumed_zones(web: Web) -> None:
    sam = web.login("sam")
    naive = upload_log_csv([upload_row("198.51.100.5", "2026-03-20 10:00:00", port=4242)])
    done = upload(
        sam,
        [("TEST-report.xml", cybertip_xml(sample_report())), ("TEST-naive.csv", naive)],
        timezone="Asia/Amman",
    )
    assert done.status_code == 303, done.text
    html = sam.get(PAGE).text
    persons = section(html, "person-table")
    assert "test-user-17@example.org" in persons and "Test Suspect" in persons
    assert "reported person" in persons and "intended recipient" in persons
    naive_row = html.split(">198.51.100.5</td>", 1)[0].rsplit("<tr", 1)[1]
    assert "2026-03-20 07:00:00" in naive_row and "(zone assumed)" in naive_row  # Amman is UTC+3


def test_a_refused_file_imports_nothing_and_names_the_line(web: Web) -> None:
    ivan = web.login("ivan")
    bad = upload_log_csv(
        [upload_row(SUSPECT_IP, "2026-03-20T08:00:00Z"), upload_row("not-an-ip", "2026-03-20T08:01:00Z")]
    )
    refused = upload(ivan, [("TEST-report.xml", cybertip_xml(sample_report())), ("TEST-bad.csv", bad)])
    assert refused.status_code == 400
    error = re.search(r'<p class="error" id="import-error" role="alert">(.*?)</p>', refused.text, re.S)
    assert error and "TEST-bad.csv: line 3" in error.group(1) and "not-an-ip" in error.group(1)
    assert case_summary(web)["reports"] == 0  # not even the good report beside it
    assert recorded(web, "tips_imported") == []
    with web.store.session() as session:
        assert session.scalar(select(TipReport.id)) is None
    # The form keeps the choices made; a format not offered is refused before anything is read.
    assert upload(ivan, [("TEST-bad.csv", bad)], format="pdf").status_code == 400
    assert upload(ivan, []).status_code == 400


def test_hostile_values_from_a_file_are_shown_as_text(web: Web) -> None:
    ivan = web.login("ivan")
    hostile = upload_row(SUSPECT_IP, "2026-03-20T08:00:00Z", account="<script>x</script>")
    hostile["filename"] = '"><img src=x onerror=alert(1)>.jpg'
    hostile["service"] = "<b>TEST</b>"
    assert upload(ivan, [("TEST-hostile.csv", upload_log_csv([hostile]))]).status_code == 303
    html = ivan.get(PAGE).text
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<img src=x" not in html and "<b>TEST</b>" not in html
    # The account links to its own filter, encoded, and the filter finds it.
    assert "?account=%3Cscript%3Ex%3C/script%3E#timeline" in html
    assert timeline_ips(ivan.get(PAGE, params={"account": "<script>x</script>"}).text) == [SUSPECT_IP]


def test_a_client_file_name_never_becomes_a_path(
    web: Web, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "spool" / "a" / "b"
    spool.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    seen: list[Path] = []
    real_import = importer.import_tips

    def spy(store: Any, case_number: str, paths: Sequence[Path], **options: Any) -> importer.ImportSummary:
        seen.extend(paths)
        assert all(path.is_file() for path in paths)
        return real_import(store, case_number, paths, **options)

    monkeypatch.setattr(tips_routes, "import_tips", spy)
    ivan = web.login("ivan")
    log = upload_log_csv([upload_row(SUSPECT_IP, "2026-03-20T08:00:00Z")])
    other = upload_log_csv([upload_row(SUSPECT_IP, "2026-03-21T08:00:00Z")])
    done = upload(ivan, [("../../etc/passwd", log), ("../../etc/passwd", other)])
    assert done.status_code == 303, done.text
    assert [path.name for path in seen] == [".._.._etc_passwd"] * 2
    for path in seen:
        assert path.parent.parent.parent == spool  # spool / himaya-tips-XXXX / index / name
    assert list(spool.iterdir()) == []  # the private folder is gone with the request
    assert not (tmp_path / "spool" / "etc").exists() and not (tmp_path / "etc").exists()
    html = ivan.get(PAGE).text
    assert ".._.._etc_passwd:line 2" in html and "../../etc/passwd" not in html
    [imported] = recorded(web, "tips_imported")
    assert imported["files"] == [".._.._etc_passwd"] * 2
    assert imported["uploaded_as"] == ["../../etc/passwd"] * 2


def test_an_import_after_a_pause_does_not_wait_on_the_request_own_write(web: Web) -> None:
    """The request refreshes an idle session's clock (a write) before the import writes: on SQLite a
    second transaction would wait for that lock until the busy timeout (30 s)."""
    ivan = web.login("ivan")
    token = csrf_of(ivan.get(PAGE).text)
    with web.store.transaction() as session:
        for row in session.scalars(select(WebSession)):
            row.last_seen_at = row.last_seen_at - timedelta(minutes=5)
    started = time.monotonic()
    done = ivan.post(
        IMPORT,
        data={"csrf_token": token, "format": "upload-csv"},
        files=[("files", ("TEST-one.csv", upload_log_csv([upload_row(SUSPECT_IP, "2026-03-20T08:00:00Z")])))],
    )
    assert done.status_code == 303, done.text
    assert time.monotonic() - started < 10
    assert case_summary(web)["reports"] == 1


def test_an_upload_beyond_the_limit_is_refused_whole(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tips_routes, "MAX_UPLOAD_BYTES", 2_000)
    ivan = web.login("ivan")
    rows = [upload_row(SUSPECT_IP, f"2026-03-20T08:{m:02d}:00Z", seed=str(m)) for m in range(40)]
    refused = upload(ivan, [("TEST-big.csv", upload_log_csv(rows))])
    assert refused.status_code == 413
    assert "import them in parts" in refused.text
    assert case_summary(web)["reports"] == 0


@given(st.text(max_size=300))
def test_a_stored_name_is_one_safe_path_component(name: str) -> None:
    stored = tips_routes.stored_name(name)
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,100}", stored)
    assert stored.strip(".") and "/" not in stored and "\\" not in stored


def test_stored_names_keep_what_is_safe() -> None:
    assert tips_routes.stored_name("TEST tips (2).csv") == "TEST_tips__2_.csv"
    assert tips_routes.stored_name("..") == "upload" and tips_routes.stored_name(None) == "upload"
    assert tips_routes.stored_name("C:\\Users\\x\\log.csv") == "C__Users_x_log.csv"
    assert len(tips_routes.stored_name("a" * 500)) == 100
