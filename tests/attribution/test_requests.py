"""Requests to ISPs from a case's IP events: which are drafted, to whom, which are refused and why.

The case is built from the TEST builders: upload logs and a CyberTipline-style report imported into a store,
and a TEST .mmdb in which some addresses are domestic (JO, the unit's country), one block is abroad (NL),
one organisation is a hosting provider, and carrier-grade NAT space belongs to a mobile network.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from himaya.attribution import requests
from himaya.attribution.importer import import_tips
from himaya.attribution.summary import summary
from himaya.errors import UsageError
from himaya.online import settings as online_settings
from himaya.online.hosting import IpDatabase
from himaya.online.settings import OnlineSettings
from himaya.store.blobs import BlobStore
from himaya.store.db import Store, open_store
from himaya.store.models import Case, IspRequest
from tests.builders.mmdb import build_test_mmdb
from tests.builders.tips import cybertip_json, ip_capture, upload_log_csv, upload_row
from tests.cli.test_cli import Cli, himaya  # noqa: F401 - the command-line fixture

CASE = "TEST-ISP-1"
BUILT = datetime(2026, 3, 1, tzinfo=UTC)


def _network(asn: int, org: str, country: str) -> dict[str, Any]:
    return {
        "autonomous_system_number": asn,
        "autonomous_system_organization": org,
        "country": {"iso_code": country},
    }


RECORDS = [
    ("203.0.113.0/24", _network(64520, "TEST Home Broadband", "JO")),
    ("198.51.100.0/24", _network(64523, "TEST Fibre", "JO")),
    ("192.0.2.0/25", _network(64521, "TEST Cloud Hosting", "JO")),
    ("192.0.2.128/25", _network(64530, "TEST Offshore Net", "NL")),
    ("100.64.0.0/10", _network(64522, "TEST Mobile", "JO")),
]

# The upload log: two events of the home-broadband subscriber either side of the UK's change to summer
# time (29 March 2026, 01:00 UTC), one on the hosting block, two abroad, two on carrier-grade NAT space
# (one with its source port, one without) and one internal address.
UPLOADS = [
    upload_row("203.0.113.66", "2026-03-28T21:00:00Z", port=51234, seed="home 1"),
    upload_row("203.0.113.66", "2026-03-29T02:30:00Z", port=51240, seed="home 2"),
    upload_row("192.0.2.10", "2026-03-27T09:00:00Z", port=40000, seed="hosting"),
    upload_row("192.0.2.200", "2026-03-26T08:00:00Z", port=40001, seed="abroad 1"),
    upload_row("192.0.2.201", "2026-03-26T08:05:00Z", port=None, seed="abroad 2"),
    upload_row("100.64.3.7", "2026-03-25T10:00:00+03:00", port=40002, seed="cgnat with port"),
    upload_row("100.64.3.7", "2026-03-25T11:00:00+03:00", port=None, seed="cgnat without port"),
    upload_row("10.1.2.3", "2026-03-24T12:00:00Z", port=5000, seed="internal"),
]

# A report whose platform flagged a possible proxy on a domestic fibre address.
PROXY_REPORT = {
    "reportId": "TEST-2001",
    "personOrUserReported": {
        "espIdentifier": "test-user-17",
        "ipCaptureEvent": [
            ip_capture("198.51.100.40", "2026-03-23T07:00:00Z", "Login", port=443, possibleProxy=True)
        ],
    },
}


@dataclass
class Unit:
    store: Store
    blobs: BlobStore
    home: Path
    folder: Path
    mmdb: Path

    def case_id(self) -> int:
        with self.store.session() as session:
            case = session.scalar(select(Case).where(Case.number == CASE))
            assert case is not None
            return case.id

    def settings(self) -> OnlineSettings:
        with self.store.session() as session:
            return online_settings.load(session)

    def set(self, key: str, value: str) -> None:
        with self.store.transaction() as session:
            online_settings.store(session, key, value, "TEST")

    def import_rows(self, name: str, rows: list[dict[str, str]]) -> None:
        path = self.folder / name
        path.write_bytes(upload_log_csv(rows))
        import_tips(self.store, CASE, [path], actor="TEST")

    def draft(self, language: str = "auto") -> requests.DraftResult:
        settings = self.settings()
        with IpDatabase([self.mmdb]) as ipdb, self.store.transaction() as session:
            case_id = self.case_id()
            record = summary(session, case_id, ipdb, settings.unit_country)
            result = requests.draft_requests(
                session, case_id, record, settings, actor="TEST", language=language
            )
            session.expunge_all()  # read after the commit, as the command line does
        return result


def _configure(store: Store, mmdb: Path) -> None:
    with store.transaction() as session:
        session.add(Case(number=CASE))
        for key, value in {
            "online.mmdb": str(mmdb),
            "online.unit_country": "JO",
            "online.unit_timezone": "Europe/London",
            "online.reference_prefix": "TEST",
            "online.unit_name": "TEST Cyber Unit",
            "online.unit_email": "unit@example.org",
            "online.partner_name": "TEST Interpol NCB",
            "online.legal_basis_en": "TEST Article 1 of the TEST Cybercrime Law",
            "online.legal_basis_ar": "المادة 1 من قانون الجرائم الإلكترونية التجريبي",
        }.items():
            online_settings.store(session, key, value, "TEST")


@pytest.fixture
def unit(himaya_env: dict[str, Path], tmp_path: Path) -> Iterator[Unit]:
    store = open_store(himaya_env["home"])
    mmdb = build_test_mmdb(tmp_path / "TEST.mmdb", RECORDS, built_utc=BUILT)
    _configure(store, mmdb)
    folder = tmp_path / "tips"
    folder.mkdir()
    (folder / "TEST-2001.json").write_bytes(cybertip_json(PROXY_REPORT))
    import_tips(store, CASE, [folder / "TEST-2001.json"], actor="TEST")
    built = Unit(
        store, BlobStore(himaya_env["home"] / "blobs", b"\x01" * 32), himaya_env["home"], folder, mmdb
    )
    built.import_rows("TEST-uploads.csv", UPLOADS)
    yield built
    store.close()


def _by_org(result: requests.DraftResult) -> dict[str | None, IspRequest]:
    return {request.org: request for request in result.drafted if request.kind != "referral"}


def _ips(request: IspRequest) -> list[str]:
    return [event["ip"] for event in requests.request_events(request)]


# ------------------------------------------------------------------------------------------- drafting


def test_one_request_per_isp_a_referral_abroad_and_refusals_with_reasons(unit: Unit) -> None:
    result = unit.draft()
    isps = _by_org(result)
    assert set(isps) == {"TEST Home Broadband", "TEST Fibre", "TEST Cloud Hosting", "TEST Mobile"}
    assert all(request.kind == "subscriber" and request.status == "draft" for request in isps.values())
    home = isps["TEST Home Broadband"]
    assert (home.asn, home.country, home.language) == (64520, "JO", "ar")  # Arabic for a Jordanian ISP
    assert _ips(home) == ["203.0.113.66", "203.0.113.66"]  # both events, one request
    assert home.ipdb_built_at is not None and home.ipdb_built_at.date() == BUILT.date()
    assert home.reference.startswith(f"TEST-ISP-{datetime.now(UTC).year}-")
    assert len(home.reference.rsplit("-", 1)[1]) == 6
    # The mobile network's address is requested only for the event that has its source port.
    mobile = requests.request_events(isps["TEST Mobile"])
    assert [(e["ip"], e["port"]) for e in mobile] == [("100.64.3.7", 40002)]
    assert "shared-address" in mobile[0]["flags"]
    [referral] = [request for request in result.drafted if request.kind == "referral"]
    assert (referral.country, referral.language) == ("NL", "en")  # the partner reads English
    assert sorted(_ips(referral)) == ["192.0.2.200", "192.0.2.201"]
    assert CASE not in referral.html  # a referral never names the case
    assert CASE in home.html
    refused = {(r.ip, r.reason, len(r.events)) for r in result.refused}
    assert refused == {
        ("100.64.3.7", requests.REASON_SHARED, 1),
        ("10.1.2.3", requests.REASON_INTERNAL, 1),
    }
    assert "wrong home" in requests.REASON_SHARED
    [no_port] = [r for r in result.refused if r.ip == "100.64.3.7"]
    assert no_port.events[0]["port"] is None


def test_hosting_and_proxy_addresses_are_requested_with_a_visible_warning(unit: Unit) -> None:
    result = unit.draft()
    isps = _by_org(result)
    hosting, fibre = isps["TEST Cloud Hosting"], isps["TEST Fibre"]
    assert "hosting customer" in result.warnings[hosting.reference][0]
    assert "proxy" in result.warnings[fibre.reference][0]
    assert isps["TEST Home Broadband"].reference not in result.warnings
    assert 'class="warning"' in hosting.html and "192.0.2.10" in hosting.html
    assert 'class="warning"' in fibre.html and "198.51.100.40" in fibre.html
    assert 'class="warning"' not in isps["TEST Home Broadband"].html


def test_drafting_again_drafts_nothing_and_new_events_get_a_new_request(unit: Unit) -> None:
    first = unit.draft()
    again = unit.draft()
    assert again.drafted == [] and again.covered == sum(len(_ips(r)) for r in first.drafted)
    assert {(r.ip, r.reason) for r in again.refused} == {(r.ip, r.reason) for r in first.refused}
    # A later import: one new event of the home subscriber, and the same event again from another log.
    unit.import_rows(
        "TEST-later.csv",
        [
            upload_row("203.0.113.66", "2026-03-30T08:00:00Z", port=51300, seed="home 3"),
            UPLOADS[0],
        ],
    )
    later = unit.draft()
    [request] = later.drafted
    assert (request.org, request.kind) == ("TEST Home Broadband", "subscriber")
    assert [(e["ip"], e["port"]) for e in requests.request_events(request)] == [("203.0.113.66", 51300)]
    with unit.store.session() as session:
        covering = requests.requests_by_event(session, unit.case_id())
    assert all(len(found) == 1 for found in covering.values())  # no event is in two requests of a kind


def test_a_cancelled_request_frees_its_events_for_a_new_draft(unit: Unit) -> None:
    home = _by_org(unit.draft())["TEST Home Broadband"]
    with unit.store.transaction() as session:
        session.get(IspRequest, home.id).status = "cancelled"  # type: ignore[union-attr]
    [again] = unit.draft().drafted
    assert again.org == "TEST Home Broadband" and again.reference != home.reference


def test_preservation_first_then_the_subscriber_request_once_it_is_sent(unit: Unit) -> None:
    unit.set("online.preservation_first", "true")
    first = unit.draft()
    kinds = sorted({request.kind for request in first.drafted})
    assert kinds == ["preservation", "referral"]  # no subscriber request yet
    preservation = _by_org(first)["TEST Home Broadband"]
    assert "طلب حفظ بيانات مشترك" in preservation.html  # Arabic, for a Jordanian ISP
    waiting = {w.isp: w for w in first.waiting}
    home_wait = waiting["AS64520 TEST Home Broadband (JO)"]
    assert home_wait.preservation == (preservation.reference,) and home_wait.events == 2
    # Not sent yet: drafting again drafts nothing and still waits.
    second = unit.draft()
    assert second.drafted == [] and len(second.waiting) == len(first.waiting)
    with unit.store.transaction() as session:
        requests.mark_sent(requests.find_request(session, preservation.reference))
    third = unit.draft()
    [subscriber] = third.drafted
    assert (subscriber.kind, subscriber.org) == ("subscriber", "TEST Home Broadband")
    assert subscriber.id > preservation.id
    assert preservation.reference in subscriber.html  # "further to our preservation request"
    assert "AS64520 TEST Home Broadband (JO)" not in {w.isp for w in third.waiting}


def test_language_can_be_forced_and_a_bad_choice_is_refused(unit: Unit) -> None:
    result = unit.draft(language="en")
    assert {request.language for request in result.drafted} == {"en"}
    with pytest.raises(UsageError, match="--language"):
        unit.draft(language="fr")


def test_a_reference_prefix_that_is_not_plain_is_refused(unit: Unit) -> None:
    unit.set("online.reference_prefix", "TEST/ISP")
    with pytest.raises(UsageError, match="reference_prefix"):
        unit.draft()


@pytest.mark.parametrize("zone", ["Mars/Olympus", "UTC+3", "/etc/localtime", "Asia/../Asia/Amman", "Asia"])
def test_the_local_time_zone_must_be_an_iana_name(zone: str) -> None:
    with pytest.raises(UsageError, match="not an IANA time zone"):
        online_settings.parse_value("online.unit_timezone", zone)
    assert online_settings.parse_value("online.unit_timezone", "Asia/Amman") == "Asia/Amman"


def test_an_address_the_database_does_not_know_is_refused_with_the_reason(unit: Unit) -> None:
    unit.import_rows("TEST-unknown.csv", [upload_row("198.18.0.1", "2026-03-22T10:00:00Z", port=1)])
    refused = {r.ip: r.reason for r in unit.draft().refused}
    assert refused["198.18.0.1"] == requests.REASON_NO_ISP


def test_status_changes_and_an_answer_with_a_file_kept_encrypted(unit: Unit) -> None:
    home = _by_org(unit.draft())["TEST Home Broadband"]
    answer = b"TEST ISP answer PDF bytes: subscriber TEST-SUBSCRIBER-91"
    with unit.store.transaction() as session:
        request = requests.find_request(session, home.reference)
        with pytest.raises(UsageError, match="still a draft"):
            requests.record_answer(request, unit.blobs, text="x", actor="TEST")
        requests.mark_sent(request)
        with pytest.raises(UsageError, match="not a draft"):
            requests.mark_sent(request)
        requests.record_answer(
            request,
            unit.blobs,
            text="TEST Subscriber, Amman",
            actor="TEST",
            attachment=("answer.pdf", answer),
        )
    with unit.store.session() as session:
        request = requests.find_request(session, home.reference)
        assert (request.status, request.response_text, request.response_name) == (
            "answered",
            "TEST Subscriber, Amman",
            "answer.pdf",
        )
        assert request.sent_at is not None and request.answered_at is not None
        assert request.response_blob_id is not None
        assert unit.blobs.get(request.response_blob_id) == answer
        covering = requests.requests_by_event(session, unit.case_id())
    home_events = [key for key in covering if key[0] == "203.0.113.66"]
    assert home_events and all(covering[key][0].status == "answered" for key in home_events)
    with pytest.raises(UsageError, match="no ISP request"), unit.store.session() as session:
        requests.find_request(session, "TEST-ISP-1999-000000")


# ---------------------------------------------------------------------------------- the command line


@pytest.fixture
def cli_case(himaya: Cli, tmp_path: Path) -> Path:  # noqa: F811
    assert himaya("case", "create", CASE).code == 0
    mmdb = build_test_mmdb(tmp_path / "TEST.mmdb", RECORDS, built_utc=BUILT)
    for key, value in [
        ("online.mmdb", str(mmdb)),
        ("online.unit_country", "JO"),
        ("online.unit_timezone", "Europe/London"),
        ("online.reference_prefix", "TEST"),
    ]:
        assert himaya("online", "settings", key, value).code == 0, key
    log = tmp_path / "TEST-uploads.csv"
    log.write_bytes(upload_log_csv(UPLOADS))
    assert himaya("tips", "import", CASE, str(log)).code == 0
    return tmp_path


def test_the_commands_draft_show_send_and_answer_each_on_the_audit_trail(
    himaya: Cli,  # noqa: F811
    cli_case: Path,
    himaya_env: dict[str, Path],
) -> None:
    out = cli_case / "TEST-out"
    drafted = himaya("tips", "requests", CASE, "--language", "en", "--out", str(out))
    assert drafted.code == 0, drafted.text
    text = drafted.text
    assert "subscriber → AS64520 TEST Home Broadband (JO), 2 events [en]" in text
    assert "referral → Interpol (ICSE) for NL, 2 events [en]" in text
    assert "warning: hosting / cloud / VPN address (192.0.2.10)" in text
    assert "NOT drafted for 100.64.3.7 (1 event): shared address" in text
    assert "NOT drafted for 10.1.2.3 (1 event): internal address" in text
    references = [word.rstrip(":") for word in drafted.out.split() if word.startswith("TEST-ISP-")]
    [reference] = [
        line.split()[1].rstrip(":") for line in drafted.out.splitlines() if "Home Broadband" in line
    ]
    assert sorted(path.name for path in out.iterdir()) == sorted(
        f"{ref}.{ext}" for ref in set(references) for ext in ("html", "pdf")
    )
    assert (out / f"{reference}.pdf").read_bytes().startswith(b"%PDF")
    again = himaya("tips", "requests", CASE)
    assert again.code == 0 and "nothing new to draft (6 events already covered by a request)" in again.text

    shown = himaya("tips", "request", "show", reference, "--pdf", str(cli_case / "shown.pdf"))
    assert shown.code == 0, shown.text
    assert f"{reference}: subscriber, draft [en]" in shown.out
    assert (
        "to: AS64520 TEST Home Broadband (JO)" in shown.out and "IP database built: 2026-03-01" in shown.out
    )
    assert "2026-03-29T02:30:00Z (2026-03-29T03:30:00+01:00 Europe/London)" in shown.text
    assert (cli_case / "shown.pdf").read_bytes().startswith(b"%PDF")

    early = himaya("tips", "request", "answer", reference, "--subscriber", "TEST")
    assert early.code == 2 and f"tips request sent {reference}" in early.text
    assert himaya("tips", "request", "sent", reference).code == 0
    assert himaya("tips", "request", "sent", reference).code == 2  # not a draft any more
    both = himaya("tips", "request", "answer", reference)
    assert both.code == 2 and "exactly one of" in both.text

    secret_file = b"%PDF-1.4 TEST ISP letter naming TEST-SUBSCRIBER-Q7X2 at TEST street 9"
    (cli_case / "isp-answer.pdf").write_bytes(secret_file)
    (cli_case / "subscriber.txt").write_text("TEST Subscriber Q7X2, TEST street 9, Amman", encoding="utf-8")
    answered = himaya(
        "tips",
        "request",
        "answer",
        reference,
        "--subscriber-file",
        str(cli_case / "subscriber.txt"),
        "--attach",
        str(cli_case / "isp-answer.pdf"),
    )
    assert answered.code == 0, answered.text
    shown = himaya("tips", "request", "show", reference)
    assert "answered" in shown.out and "TEST Subscriber Q7X2" in shown.out
    assert "attached file: isp-answer.pdf (kept encrypted in the blob store)" in shown.out
    # The attached file is nowhere under HIMAYA_HOME in clear: not in the database, not as a file.
    marker = b"TEST-SUBSCRIBER-Q7X2"
    for path in himaya_env["home"].rglob("*"):
        if path.is_file():
            assert marker not in path.read_bytes(), path

    for action, count in [("isp_request_drafted", len(set(references))), ("isp_request_sent", 1)]:
        listed = himaya("audit", "list", "--action", action, "--format", "jsonl")
        assert listed.code == 0, listed.text
        assert len(listed.out.splitlines()) == count, action
    listed = himaya("audit", "list", "--action", "isp_request_answered", "--format", "jsonl")
    [event] = [json.loads(line) for line in listed.out.splitlines()]
    assert event["detail"]["attachment"] == "isp-answer.pdf" and len(event["detail"]["sha256"]) == 64
    assert "Q7X2" not in listed.out  # the subscriber's details stay off the audit trail


def test_without_an_ip_database_the_command_says_how_to_set_one(himaya: Cli) -> None:  # noqa: F811
    assert himaya("case", "create", CASE).code == 0
    outcome = himaya("tips", "requests", CASE)
    assert outcome.code == 2 and "online.mmdb" in outcome.text
