"""Notices: every kind in both languages, text no outside value can break, and sending to a local sink."""

from __future__ import annotations

import base64
import html
import smtplib
import socket
import traceback
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from himaya.errors import NoticeError, UsageError
from himaya.online.notices import (
    CATEGORY_LABELS,
    LANGUAGES,
    NOTICE_KINDS,
    NoticeContent,
    NoticeItem,
    RenderedNotice,
    SmtpSettings,
    build_message,
    render,
    send,
)
from tests.builders.hashlists import md5_of, pdq_of, sha256_of
from tests.builders.smtp_sink import SinkLogin, SmtpSink

REF = "HMY-2026-000123"
NOW = datetime(2026, 3, 6, 8, 0, 0, tzinfo=UTC)
SENDER = "Unit TEST <unit@example.org>"
PASSWORD = "TEST-pa55-9f3c"  # made up for these tests
HOSTILE_URL = (
    "http://192.0.2.7/a.jpg\r\nBcc: victim@example.org\r\n\r\n<script>alert(1)</script><p>Fake paragraph"
)

# Capture time given in +03:00 to prove the notice shows UTC.
CAPTURED = datetime(2026, 3, 5, 17, 22, 10, tzinfo=timezone(timedelta(hours=3)))
CAPTURED_UTC = "2026-03-05 14:22:10 UTC"

ILLEGAL = NoticeItem(
    url="http://192.0.2.7/media/TEST-1.jpg",
    page_url="http://192.0.2.7/gallery?id=TEST",
    captured_utc=CAPTURED,
    sha256=sha256_of("notice 1"),
    md5=md5_of("notice 1"),
    pdq=pdq_of("notice 1"),
    category="illegal",
    source_label="VICS 1",
    server_ip="192.0.2.7",
)
HARMFUL = NoticeItem(
    url="http://192.0.2.7/media/TEST-2.jpg",
    page_url=None,
    captured_utc=CAPTURED,
    sha256=sha256_of("notice 2"),
    md5=None,
    pdq=None,
    category="harmful-abusive",
    source_label="CAID TEST",
    server_ip=None,
)
LEGAL_BASIS = {"en": "TEST law, article 12\nsecond paragraph", "ar": "قانون تجريبي TEST، المادة 12"}
UNIT_NAME = {"en": "TEST Child Protection Unit", "ar": "وحدة حماية الطفل التجريبية TEST"}

# A phrase each kind must say (and, for preservation, the removal request it must not make).
ASKS = {
    ("removal", "en"): "remove these files",
    ("follow-up", "en"): "they were still online",
    ("preservation", "en"): "without alerting the user concerned",
    ("referral", "en"): "act on them in your country",
    ("removal", "ar"): "إزالة هذه الملفات",
    ("follow-up", "ar"): "لا تزال متاحة",
    ("preservation", "ar"): "دون إخطار المستخدم المعني",
    ("referral", "ar"): "في بلدكم",
}


def content(kind: str = "removal", language: str = "en", **changes: Any) -> NoticeContent:
    base = NoticeContent(
        kind=kind,
        language=language,
        reference=REF,
        unit_name=UNIT_NAME.get(language, "TEST unit"),
        unit_email="unit@example.org",
        unit_phone="+31 20 555 0100",
        legal_basis=LEGAL_BASIS.get(language, "TEST"),
        recipient_name="Abuse desk TEST",
        recipient_email="abuse@example.net",
        host="files.example.net",
        asn=64500,
        org="Example Hosting TEST B.V.",
        country="NL",
        items=(ILLEGAL, HARMFUL),
        previous_reference="HMY-2026-000100",
        previous_sent_utc=datetime(2026, 2, 1, 9, 30, tzinfo=UTC),
        partner="INHOPE hotline NL (TEST)",
    )
    return replace(base, **changes)


def smtp_to(sink: SmtpSink, **changes: Any) -> SmtpSettings:
    settings = SmtpSettings(
        host=sink.host,
        port=sink.port,
        security="none",
        username="unit-TEST",
        password=PASSWORD,
        sender="unit@example.org",
        timeout_s=5,
    )
    return replace(settings, **changes)


def message_for(rendered: RenderedNotice) -> EmailMessage:
    return build_message(
        rendered, sender=SENDER, to="abuse@example.net", reference=REF, reply_to="unit@example.org"
    )


class Markup(HTMLParser):
    """Every tag, and each run of body text with the direction it is laid out in (innermost `dir`; bdi: auto).

    The <title> is left out: it is the mail's subject, plain text that no markup can lay out.
    """

    VOID = frozenset({"meta", "br", "img", "hr", "input", "link"})

    def __init__(self, document: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.runs: list[tuple[str | None, str]] = []
        self._open: list[tuple[str, str | None]] = []
        self.feed(document)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in self.VOID:
            return
        direction = dict(attrs).get("dir") or ("auto" if tag == "bdi" else None)
        self._open.append((tag, direction or (self._open[-1][1] if self._open else None)))

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if data.strip() and "body" in self.tags:
            self.runs.append((self._open[-1][1] if self._open else None, data))


# ------------------------------------------------------------------------------------------ render


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", NOTICE_KINDS)
def test_every_notice_cites_reference_date_unit_law_and_each_file(kind: str, language: str) -> None:
    rendered = render(content(kind, language), now=NOW)

    assert rendered.language == language
    assert rendered.subject.startswith(f"[{REF}]")
    for document in (rendered.text, html.unescape(rendered.html)):
        for value in (REF, "2026-03-06 08:00:00 UTC", UNIT_NAME[language], "files.example.net", "AS64500"):
            assert value in document
        for line in LEGAL_BASIS[language].splitlines():
            assert line in document
        for item in (ILLEGAL, HARMFUL):
            assert item.url in document
            assert item.sha256 in document
        for optional in (ILLEGAL.page_url, ILLEGAL.md5, ILLEGAL.pdq, ILLEGAL.server_ip, ILLEGAL.source_label):
            assert optional is not None and optional in document
        assert document.count(CAPTURED_UTC) == 2
        assert CATEGORY_LABELS[language]["illegal"] in document
        assert CATEGORY_LABELS[language]["harmful-abusive"] in document
        assert ASKS[kind, language] in document


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", NOTICE_KINDS)
def test_html_has_no_picture_link_or_script(kind: str, language: str) -> None:
    markup = Markup(render(content(kind, language), now=NOW).html)
    assert set(markup.tags) <= {
        "html", "head", "meta", "title", "body", "table", "caption", "tr", "th", "td", "bdi", "code", "p",
        "br", "h2", "ol", "li", "strong",
    }  # fmt: skip
    assert "table" in markup.tags


@pytest.mark.parametrize("language", LANGUAGES)
def test_labels_tell_illegal_from_harmful_abusive(language: str) -> None:
    labels = CATEGORY_LABELS[language]
    assert labels["illegal"] != labels["harmful-abusive"]
    only_harmful = render(content(language=language, items=(HARMFUL,)), now=NOW)
    assert labels["illegal"] not in only_harmful.text
    assert labels["harmful-abusive"] in only_harmful.text
    assert "child sexual abuse" not in only_harmful.subject and "اعتداء" not in only_harmful.subject
    assert ("child sexual abuse" in render(content(), now=NOW).subject) is True


def test_english_labels_read_as_specified() -> None:
    assert CATEGORY_LABELS["en"]["illegal"] == "Illegal: child sexual abuse material"
    assert CATEGORY_LABELS["en"]["harmful-abusive"] == (
        "Harmful-abusive: not illegal everywhere, removal requested under the host's terms"
    )


@pytest.mark.parametrize("kind", NOTICE_KINDS)
def test_arabic_html_is_right_to_left_with_values_left_to_right(kind: str) -> None:
    rendered = render(content(kind, "ar"), now=NOW)
    assert '<html lang="ar" dir="rtl">' in rendered.html
    markup = Markup(rendered.html)
    values = [REF, "2026-03-06 08:00:00 UTC", CAPTURED_UTC, "files.example.net", "unit@example.org"]
    values += [ILLEGAL.url, ILLEGAL.page_url or "", ILLEGAL.sha256, ILLEGAL.md5 or "", ILLEGAL.pdq or ""]
    values += [ILLEGAL.server_ip or "", HARMFUL.url, HARMFUL.sha256]
    for value in values:
        directions = {direction for direction, text in markup.runs if value in text}
        assert directions == {"ltr"}, value
    # The Arabic prose itself is laid out right to left.
    assert ("rtl", CATEGORY_LABELS["ar"]["illegal"]) in markup.runs


def test_english_html_is_left_to_right() -> None:
    assert '<html lang="en" dir="ltr">' in render(content(), now=NOW).html


def test_follow_up_cites_the_first_notice_and_referral_the_partner() -> None:
    for language in LANGUAGES:
        follow_up = render(content("follow-up", language), now=NOW)
        assert "HMY-2026-000100" in follow_up.subject
        assert "2026-02-01 09:30:00 UTC" in follow_up.text
        referral = render(content("referral", language), now=NOW)
        assert "INHOPE hotline NL (TEST)" in referral.subject
        assert "INHOPE hotline NL (TEST)" in referral.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_preservation_does_not_ask_for_removal(language: str) -> None:
    text = render(content("preservation", language), now=NOW).text
    assert ASKS["removal", language] not in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_hostile_url_is_inert_in_text_and_html(language: str) -> None:
    hostile = replace(ILLEGAL, url=HOSTILE_URL, page_url="http://192.0.2.7/\u202egpj.exe")
    rendered = render(
        content(language=language, items=(hostile,), org="Evil\r\n\r\nFake paragraph\u2028Org"), now=NOW
    )
    lines = rendered.text.splitlines()
    assert not any(line.lstrip().startswith(("Bcc", "<p>Fake", "Fake paragraph")) for line in lines)
    assert "http://192.0.2.7/a.jpg%0D%0ABcc:%20victim@example.org%0D%0A%0D%0A<script>" in rendered.text
    assert "http://192.0.2.7/%E2%80%AEgpj.exe" in rendered.text
    assert "Evil\\r\\n\\r\\nFake paragraph\\u2028Org" in rendered.text
    assert "\u202e" not in rendered.text + rendered.html
    assert "<script>" not in rendered.html and "<p>Fake" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;p&gt;Fake" in rendered.html
    assert "script" not in Markup(rendered.html).tags


def test_hostile_values_cannot_add_a_header() -> None:
    hostile = replace(ILLEGAL, url=HOSTILE_URL)
    rendered = render(content(items=(hostile,), host="files.example.net\r\nBcc: victim@example.org"), now=NOW)
    raw = bytes(message_for(rendered))
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in raw and b"\nBcc:" not in raw
    parsed = message_from_bytes(raw, policy=default)
    assert parsed["Bcc"] is None
    assert {key.lower() for key in parsed} == {
        "from", "to", "reply-to", "subject", "date", "message-id", "x-himaya-reference", "mime-version",
        "content-type", "content-language",
    }  # fmt: skip
    assert head.isascii()
    assert "files.example.net\\r\\nBcc:" in str(parsed["Subject"])


def test_recipient_with_a_line_break_is_refused() -> None:
    rendered = render(content(), now=NOW)
    with pytest.raises(NoticeError, match="line break"):
        build_message(rendered, sender=SENDER, to="abuse@example.net\r\nBcc: x@example.org", reference=REF)
    with pytest.raises(UsageError, match=r"online\.smtp_sender"):
        build_message(rendered, sender="no address", to="abuse@example.net", reference=REF)


# Any character, plus the ones an attacker would pick: line breaks of every kind, bidi overrides, lone
# surrogates (which would stop the mail from being encoded at all).
OUTSIDE_TEXT = st.lists(
    st.characters(exclude_categories=())
    | st.sampled_from(["\r\n", "\x85", "\u2028", "\u202e", "\ud800", "<p>"]),
    max_size=30,
).map("".join)


@given(url=OUTSIDE_TEXT, org=OUTSIDE_TEXT, recipient=OUTSIDE_TEXT, language=st.sampled_from(LANGUAGES))
def test_outside_values_never_add_lines_markup_or_headers(
    url: str, org: str, recipient: str, language: str
) -> None:
    baseline = render(content(language=language, items=(ILLEGAL,)), now=NOW)
    # Prefixed so that every optional line is still there: only the values' own characters vary.
    item = replace(
        ILLEGAL, url=f"http://192.0.2.7/{url}", page_url=f"http://192.0.2.7/?{url}", source_label=f"T{org}"
    )
    hostile = render(
        content(
            language=language, items=(item,), org=f"T{org}", recipient_name=f"T{recipient}", host=f"h{url}"
        ),
        now=NOW,
    )
    assert len(hostile.text.splitlines()) == len(baseline.text.splitlines())
    assert Markup(hostile.html).tags == Markup(baseline.html).tags
    parsed = message_from_bytes(bytes(message_for(hostile)), policy=default)
    assert sorted(parsed.keys()) == sorted(message_for(baseline).keys())


@pytest.mark.parametrize(
    ("changes", "error", "words"),
    [
        ({"kind": "warning"}, UsageError, "unknown notice kind"),
        ({"language": "fr"}, UsageError, "online.notice_language"),
        ({"reference": "HMY 1\r\nX: y"}, NoticeError, "not a plain reference"),
        ({"items": ()}, NoticeError, "lists no files"),
        ({"kind": "follow-up", "previous_reference": None}, NoticeError, "first notice"),
        ({"kind": "referral", "partner": None}, NoticeError, "names no partner"),
        ({"items": (replace(ILLEGAL, category="non-pertinent"),)}, NoticeError, "review the file's category"),
        ({"items": (replace(ILLEGAL, captured_utc=datetime(2026, 3, 5)),)}, NoticeError, "no time zone"),
        ({"items": (replace(ILLEGAL, sha256="abc"),)}, NoticeError, "not 64 hex digits"),
        ({"items": (replace(ILLEGAL, server_ip="example.net"),)}, NoticeError, "not an IP address"),
    ],
)
def test_content_that_cannot_make_a_notice_is_refused(
    changes: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        render(content(**changes), now=NOW)


# -------------------------------------------------------------------------------------- message


def test_message_is_multipart_utf8_with_reference_and_message_id() -> None:
    rendered = render(content(language="ar"), now=NOW)
    message = message_for(rendered)
    raw = bytes(message)
    parsed = message_from_bytes(raw, policy=default)

    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in parts)
    assert parts[0].get_content().replace("\r\n", "\n") == rendered.text
    assert parts[1].get_content().replace("\r\n", "\n") == rendered.html
    assert parsed["X-Himaya-Reference"] == REF
    assert REF in parsed["Subject"]
    # The Arabic decodes back (strip: Python's parser keeps the space of a header folded before its value).
    assert parsed["Subject"].strip() == rendered.subject
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0]
    assert parsed["Message-ID"].endswith("@example.org>")
    assert parsed["Reply-To"] == "unit@example.org"
    assert parsed["Content-Language"] == "ar"
    assert parsed["Date"].datetime.tzinfo is not None


# ----------------------------------------------------------------------------------------- send


def test_notice_arrives_at_the_sink(smtp_sink: SmtpSink) -> None:
    rendered = render(content(language="ar"), now=NOW)
    message_id = send(message_for(rendered), smtp_to(smtp_sink))

    [received] = smtp_sink.messages
    assert received.mail_from == "unit@example.org"
    assert received.rcpt_to == ["abuse@example.net"]
    assert received.authenticated_as == "unit-TEST"
    assert smtp_sink.logins == [SinkLogin("PLAIN", "unit-TEST", PASSWORD)]
    assert received.message["Message-ID"] == message_id
    assert received.message["Subject"].strip() == rendered.subject
    plain = received.message.get_body(("plain",))
    assert plain is not None and ILLEGAL.sha256 in plain.get_content()
    assert [part.get_content_type() for part in received.message.iter_parts()] == ["text/plain", "text/html"]
    assert smtp_sink.commands[-1] == "QUIT"


def test_sink_unstuffs_leading_dots(smtp_sink: SmtpSink) -> None:
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, local_hostname="localhost", timeout=5) as client:
        client.sendmail(
            "a@example.org", ["b@example.org"], b"Subject: TEST\r\n\r\n.one dot\r\n..two\r\nend\r\n"
        )
    assert smtp_sink.messages[0].raw.endswith(b"\r\n.one dot\r\n..two\r\nend\r\n")


def assert_no_password(error: BaseException) -> None:
    shown = "".join(traceback.format_exception(error))
    for form in (PASSWORD, base64.b64encode(PASSWORD.encode()).decode()):
        assert form not in shown
    assert base64.b64encode(f"\0unit-TEST\0{PASSWORD}".encode()).decode() not in shown


def test_refused_message_raises_without_the_echoed_password() -> None:
    with SmtpSink(fail=True, echo_credentials=True) as sink:
        rendered = render(content(), now=NOW)
        with pytest.raises(NoticeError) as caught:
            send(message_for(rendered), smtp_to(sink))
    text = str(caught.value)
    assert text.startswith(f"could not send notice {REF} to 127.0.0.1:{sink.port}: ")
    assert "554" in text and "stays 'to send'" in text and "online.smtp_" in text
    assert "***" in text  # the server did echo it: the test would catch a leak
    assert sink.logins[0].password == PASSWORD
    assert sink.messages == []
    assert_no_password(caught.value)


def test_refused_login_raises_without_the_echoed_password() -> None:
    with (
        SmtpSink(reject_auth=True, echo_credentials=True) as sink,
        pytest.raises(NoticeError, match="login as 'unit-TEST' failed") as caught,
    ):
        send(message_for(render(content(), now=NOW)), smtp_to(sink))
    assert sink.logins and sink.messages == []
    assert_no_password(caught.value)


@pytest.mark.parametrize(("security", "words"), [("tls", "SSL"), ("starttls", "does not offer STARTTLS")])
def test_encryption_against_a_plain_server_fails_cleanly(
    smtp_sink: SmtpSink, security: str, words: str
) -> None:
    with pytest.raises(NoticeError, match=words) as caught:
        send(message_for(render(content(), now=NOW)), smtp_to(smtp_sink, security=security))
    # Nothing went out in clear: no login, no message.
    assert "AUTH" not in smtp_sink.commands and "MAIL" not in smtp_sink.commands
    assert smtp_sink.messages == [] and smtp_sink.logins == []
    assert_no_password(caught.value)


def test_closed_port_fails_cleanly() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(NoticeError, match=f"127.0.0.1:{port}: ConnectionRefusedError"):
        send(
            message_for(render(content(), now=NOW)),
            SmtpSettings(host="127.0.0.1", port=port, security="none"),
        )


def test_password_is_never_sent_in_clear_off_this_machine() -> None:
    # If send() connected, the suite's network guard would raise an AssertionError, not a NoticeError.
    settings = SmtpSettings(host="192.0.2.25", security="none", username="unit-TEST", password=PASSWORD)
    with pytest.raises(NoticeError, match="refusing to send the SMTP password unencrypted"):
        send(message_for(render(content(), now=NOW)), settings)


def test_user_without_password_is_refused_before_connecting() -> None:
    settings = SmtpSettings(host="192.0.2.25", security="tls", username="unit-TEST")
    with pytest.raises(NoticeError, match=r"\$HIMAYA_SMTP_PASSWORD"):
        send(message_for(render(content(), now=NOW)), settings)


def test_settings_never_show_the_password() -> None:
    settings = SmtpSettings(host="127.0.0.1", username="unit-TEST", password=PASSWORD)
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings) and PASSWORD not in f"{settings}"
    assert "password=<set>" in repr(settings)
    assert "password=None" in repr(SmtpSettings(host="127.0.0.1"))


def test_unknown_security_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"online\.smtp_security"):
        SmtpSettings(host="127.0.0.1", security="ssl")
