"""From a match to its removal: confirm, approve, holds, notices over SMTP, referrals, re-checks, statistics.

All against the benign test site on 127.0.0.1 and a local SMTP sink; times that a test needs in the
past are moved in the store, never waited for.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from himaya.store.db import Store, open_store
from himaya.store.models import AuditEvent, OnlineLocation, OnlineNotice
from tests.builders.images import photo_jpeg
from tests.builders.mmdb import build_test_mmdb
from tests.builders.smtp_sink import SmtpSink
from tests.builders.web_server import TestSite
from tests.cli.test_cli import Cli, himaya  # noqa: F401 - the command-line fixture
from tests.online.test_capture import _md5

CASE = "TEST-TAKEDOWN-1"


@contextmanager
def _store(home: Path) -> Iterator[Store]:
    store = open_store(home)
    try:
        yield store
    finally:
        store.close()


class Tracked:
    def __init__(self, himaya: Cli, site: TestSite, sink: SmtpSink, home: Path) -> None:  # noqa: F811
        self.himaya, self.site, self.sink, self.home = himaya, site, sink, home
        self.known = photo_jpeg(8901, 320, 240)
        self.url = site.url("/TEST/known.jpg")
        self.page = site.url("/TEST/page.html")

    def run(self, *args: str) -> Any:
        outcome = self.himaya(*args)
        assert outcome.code == 0, outcome.text
        return outcome

    def status(self) -> dict[str, Any]:
        [record] = json.loads(self.run("online", "status", CASE, "--format", "json").out)
        return record  # type: ignore[no-any-return]

    def shift(self, **times: timedelta) -> None:
        """Move the location's and its notices' times into the past, as if that much time had passed."""
        with _store(self.home) as store, store.transaction() as session:
            location = session.scalars(select(OnlineLocation)).one()
            for name, delta in times.items():
                if name == "notices":
                    for notice in session.scalars(select(OnlineNotice)):
                        if notice.sent_at is not None:
                            notice.sent_at = notice.sent_at - delta
                    continue
                value = getattr(location, name)
                assert value is not None, name
                setattr(location, name, value - delta)


@pytest.fixture
def tracked(
    himaya: Cli,  # noqa: F811
    test_site: TestSite,
    smtp_sink: SmtpSink,
    tmp_path: Path,
    himaya_env: dict[str, Path],
) -> Tracked:
    t = Tracked(himaya, test_site, smtp_sink, himaya_env["home"])
    test_site.add("/TEST/known.jpg", t.known, "image/jpeg")
    test_site.add("/TEST/page.html", b'<html><img src="/TEST/known.jpg"></html>', "text/html")
    hashes = tmp_path / "TEST-known.txt"
    hashes.write_text(_md5(t.known) + "\n")
    contacts = tmp_path / "TEST-contacts.csv"
    contacts.write_text(
        "name,email,country,channel,asn,domain,org_contains\n"
        "TEST Loopback abuse desk,abuse@hosting.example,JO,direct,64512,,\n"
    )
    t.run("case", "create", CASE)
    t.run("hashset", "import", str(hashes), "--name", "TEST-known", "--kind", "alert")
    t.run("online", "contacts", "import", str(contacts))
    for key, value in [
        ("online.allow_networks", "127.0.0.1/32"),
        ("online.mmdb", str(build_test_mmdb(tmp_path / "TEST.mmdb"))),
        ("online.unit_country", "JO"),
        ("online.unit_email", "unit@police.example"),
        ("online.legal_basis_en", "TEST legal basis: Article 1 of the TEST law."),
        ("online.legal_basis_ar", "TEST الأساس القانوني: المادة 1 من قانون TEST."),
        ("online.smtp_host", "127.0.0.1"),
        ("online.smtp_port", str(smtp_sink.port)),
        ("online.smtp_security", "none"),
        ("online.smtp_sender", "unit@police.example"),
        ("online.read_timeout_s", "2"),
        ("online.total_timeout_s", "5"),
    ]:
        t.run("online", "settings", key, value)
    t.run("online", "capture", CASE, t.page, "--workers", "0", "-q")
    return t


def test_only_a_confirmed_approved_location_is_notified(tracked: Tracked) -> None:
    record = tracked.status()
    assert (record["url"], record["status"], record["contact"]) == (
        tracked.url,
        "detected",
        "abuse@hosting.example",
    )
    refused = tracked.himaya("online", "approve", CASE, str(record["id"]))
    assert refused.code == 2 and "not confirmed yet" in refused.text
    assert "nothing to notify" in tracked.run("online", "notify", CASE).text
    # The TEST list gives no category: the person who looks must say what it is.
    unlabelled = tracked.himaya("online", "confirm", CASE, "all")
    assert unlabelled.code == 2 and "--category" in unlabelled.text
    assert tracked.status()["status"] == "detected"
    tracked.run("online", "confirm", CASE, "all", "--category", "illegal")
    assert "nothing to notify" in tracked.run("online", "notify", CASE).text  # not approved yet
    assert tracked.sink.messages == []
    tracked.run("online", "approve", CASE, tracked.url)
    out = tracked.run("online", "notify", CASE).text
    assert "removal to TEST Loopback abuse desk" in out and ": sent" in out
    [message] = tracked.sink.messages
    assert message.rcpt_to == ["abuse@hosting.example"]
    body = message.message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    # The host is in JO: the notice is in Arabic (online.notice_language = auto).
    assert tracked.url in text and "TEST الأساس القانوني" in text and "TEST legal basis" not in text
    assert CASE not in message.raw.decode("utf-8", "replace")  # the case number never leaves
    record = tracked.status()
    assert record["status"] == "notified" and record["notices"][0]["status"] == "sent"
    assert record["notices"][0]["reference"] in message.message["Subject"]
    # Once only: a second run sends nothing more.
    assert "nothing to notify" in tracked.run("online", "notify", CASE).text
    assert len(tracked.sink.messages) == 1
    with _store(tracked.home) as store, store.session() as session:
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert {
        "online_captured",
        "location_confirmed",
        "location_approved",
        "notice_created",
        "notice_sent",
    } <= set(actions)


def test_a_hold_keeps_every_notice_back_until_lifted(tracked: Tracked) -> None:
    tracked.run("online", "confirm", CASE, "all", "--category", "illegal")
    tracked.run("online", "approve", CASE, "all")
    held = tracked.run("online", "hold", CASE, "--reason", "TEST covert operation")
    hold_id = held.text.split("hold ", 1)[1].split(" ", 1)[0]
    out = tracked.run("online", "notify", CASE).text
    assert "held, no notice: TEST covert operation" in out
    assert tracked.sink.messages == []
    with _store(tracked.home) as store, store.session() as session:
        assert session.scalars(select(OnlineNotice)).all() == []
    assert tracked.status()["hold"] == "TEST covert operation"
    # A unit-wide hold on the host works the same way, from another case's point of view too.
    tracked.run("online", "lift", hold_id)
    tracked.run(
        "online",
        "hold",
        CASE,
        "--reason",
        "TEST host run by the suspect",
        "--host",
        "127.0.0.1",
        "--unit-wide",
    )
    assert "TEST host run by the suspect" in tracked.run("online", "notify", CASE).text
    assert tracked.sink.messages == []
    holds = tracked.run("online", "holds").out
    assert "unit-wide" in holds and "127.0.0.1" in holds


def test_a_host_abroad_gets_a_referral_to_the_partner(tracked: Tracked) -> None:
    tracked.run("online", "settings", "online.unit_country", "NL")  # the test host is in JO
    tracked.run("online", "settings", "online.partner_name", "TEST INHOPE hotline")
    tracked.run("online", "settings", "online.partner_email", "hotline@partner.example")
    tracked.run("online", "confirm", CASE, "all", "--category", "illegal")
    tracked.run("online", "approve", CASE, "all")
    out = tracked.run("online", "notify", CASE).text
    assert "referral to TEST INHOPE hotline" in out
    [message] = tracked.sink.messages
    assert message.rcpt_to == ["hotline@partner.example"]  # never the host's own abuse desk
    assert tracked.status()["notices"][0]["channel"] == "partner"
    assert tracked.status()["status"] == "notified"


def test_without_smtp_a_notice_waits_for_a_person(tracked: Tracked) -> None:
    tracked.run("online", "settings", "online.smtp_host", "")
    tracked.run("online", "confirm", CASE, "all", "--category", "illegal")
    tracked.run("online", "approve", CASE, "all")
    assert "to-send" in tracked.run("online", "notify", CASE).text
    record = tracked.status()
    assert record["status"] == "confirmed"
    reference = record["notices"][0]["reference"]
    shown = tracked.run("online", "notice", "show", reference).out
    assert "abuse@hosting.example" in shown and tracked.url in shown
    tracked.run("online", "notice", "sent", reference)
    assert tracked.status()["status"] == "notified"


def test_preservation_request_goes_first(tracked: Tracked) -> None:
    tracked.run("online", "settings", "online.preservation_first", "true")
    tracked.run("online", "confirm", CASE, "all", "--category", "illegal")
    tracked.run("online", "approve", CASE, "all")
    first = tracked.run("online", "notify", CASE).text
    assert "preservation to" in first and "removal" not in first
    second = tracked.run("online", "notify", CASE).text
    assert "removal to" in second
    kinds = [n["kind"] for n in tracked.status()["notices"]]
    assert kinds == ["preservation", "removal"]


def test_recheck_uses_conditional_requests_and_downloads_nothing_unchanged(tracked: Tracked) -> None:
    out = tracked.run("online", "recheck", "--all", "-q").text
    assert "1 still online" in out
    method, _, headers = tracked.site.requests_for("/TEST/known.jpg")[-1]
    assert method == "GET" and "if-none-match" in headers
    assert tracked.status()["last_outcome"] == "not-modified"
    # Not due again before online.recheck_hours: a plain run checks nothing.
    assert "re-checked 0 locations" in tracked.run("online", "recheck", "-q").text


def test_taking_the_picture_down_marks_it_removed_with_the_time_to_removal(tracked: Tracked) -> None:
    tracked.run("online", "confirm", CASE, "all", "--category", "illegal")
    tracked.run("online", "approve", CASE, "all")
    tracked.run("online", "notify", CASE)
    tracked.shift(
        notified_at=timedelta(hours=30), first_seen_at=timedelta(hours=40), notices=timedelta(hours=30)
    )
    tracked.site.remove("/TEST/known.jpg")
    before = datetime.now(UTC)
    out = tracked.run("online", "recheck", "--all", "-q").text
    assert "1 removed" in out
    record = tracked.status()
    assert record["status"] == "removed" and record["last_outcome"] == "gone"
    removed = datetime.fromisoformat(record["removed_utc"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= removed <= datetime.now(UTC)
    stats = json.loads(tracked.run("online", "stats", CASE, "--format", "json").out)
    assert stats["overall"]["removed_after_notice"] == 1
    assert 29.9 < stats["overall"]["median_hours_to_removal"] < 30.2
    assert 29.9 < stats["hosts"]["127.0.0.1"]["p90_hours_to_removal"] < 30.2
    assert stats["notices_sent"] == 1 and stats["overall"]["open"] == 0
    # Removed locations are not re-checked.
    assert "re-checked 0 locations" in tracked.run("online", "recheck", "--all", "-q").text


def test_other_content_at_the_url_counts_as_removed_but_a_re_encoding_does_not(tracked: Tracked) -> None:
    smaller = io.BytesIO()
    Image.open(io.BytesIO(tracked.known)).resize((240, 180)).save(smaller, "JPEG", quality=70)
    tracked.site.add("/TEST/known.jpg", smaller.getvalue(), "image/jpeg")
    tracked.run("online", "recheck", "--all", "-q")
    record = tracked.status()
    assert (record["status"], record["last_outcome"]) == ("detected", "similar-content")
    tracked.site.add("/TEST/known.jpg", photo_jpeg(8999, 320, 240), "image/jpeg")
    tracked.run("online", "recheck", "--all", "-q")
    record = tracked.status()
    assert (record["status"], record["last_outcome"]) == ("removed", "other-content")


def test_still_online_after_the_delay_gets_a_follow_up(tracked: Tracked) -> None:
    tracked.run("online", "confirm", CASE, "all", "--category", "illegal")
    tracked.run("online", "approve", CASE, "all")
    tracked.run("online", "notify", CASE)
    first = tracked.status()["notices"][0]["reference"]
    tracked.run("online", "recheck", "--all", "-q")
    assert tracked.status()["status"] == "online"  # still there after the notice
    assert len(tracked.sink.messages) == 1  # too early for a follow-up
    tracked.shift(notices=timedelta(hours=80))
    out = tracked.run("online", "recheck", "--all", "-q").text
    assert "1 follow-up notices" in out
    follow_up = tracked.sink.messages[-1].message.get_body(("plain",))
    assert follow_up is not None and first in follow_up.get_content()
    assert [n["kind"] for n in tracked.status()["notices"]] == ["removal", "follow-up"]


def test_the_same_content_at_a_new_url_is_a_reappearance(tracked: Tracked) -> None:
    tracked.site.add("/TEST/mirror/copy.jpg", tracked.known, "image/jpeg")
    tracked.run("online", "capture", CASE, tracked.site.url("/TEST/mirror/copy.jpg"), "--workers", "0", "-q")
    records = json.loads(tracked.run("online", "status", CASE, "--format", "json").out)
    first, second = records
    assert second["reappearance_of"] == first["id"]
    stats = json.loads(tracked.run("online", "stats", "--format", "json").out)
    assert stats["reappearances"] == 1
    by_hash = json.loads(tracked.run("online", "status", CASE, "--by-hash", "--format", "json").out)
    assert [(h["locations"], h["status"]) for h in by_hash] == [(2, "detected")]
