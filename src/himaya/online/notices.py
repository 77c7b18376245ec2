"""Removal notices to hosts and referrals to partners: rendered from templates, sent over SMTP.

A notice carries hashes, addresses and category labels, never a picture or a description of content:
the recipient finds the files by hash. Every value that reached us from outside the unit (URLs, a host's
organisation, an abuse desk's name) is made inert before any template sees it: control, separator and
bidi characters are written out as escapes (percent-encoded in URLs), so a hostile URL cannot add a mail
header or a paragraph, nor reorder the text around it; the HTML is autoescaped on top of that.

No database here: the caller records the rendered text and HTML, then calls `send` when the unit has an
SMTP server. A failed send raises `NoticeError` and the notice stays 'to send' for a person.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import secrets
import smtplib
import ssl
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, getaddresses, parseaddr
from functools import cache
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from himaya.errors import NoticeError, UsageError

NOTICE_KINDS = ("removal", "follow-up", "preservation", "referral")
LANGUAGES = ("en", "ar")
SECURITY_MODES = ("none", "starttls", "tls")

# What a notice may say about a file. Only categories a unit can act on have a label: a notice that
# cites comparison, non-pertinent or uncategorized material is refused (review it first).
CATEGORY_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "illegal": "Illegal: child sexual abuse material",
        "harmful-abusive": (
            "Harmful-abusive: not illegal everywhere, removal requested under the host's terms"
        ),
        "age-difficult": (
            "Age-difficult: the subject's age cannot be established, removal requested under the host's terms"
        ),
        "cgi": (
            "Computer-generated or drawn: illegal in some countries, removal requested under the "
            "applicable law or the host's terms"
        ),
    },
    "ar": {
        "illegal": "غير قانوني: مواد اعتداء جنسي على الأطفال",
        "harmful-abusive": (
            "ضارّ ومسيء: غير مُجرَّم في جميع البلدان، ويُطلب حذفه استنادًا إلى شروط الاستخدام لدى جهة الاستضافة"
        ),
        "age-difficult": (
            "عمر يتعذّر تحديده: لا يمكن التحقق من عمر الشخص الظاهر، ويُطلب حذفه استنادًا إلى شروط الاستخدام "
            "لدى جهة الاستضافة"
        ),
        "cgi": (
            "مُولَّد حاسوبيًا أو مرسوم: غير قانوني في بعض البلدان، ويُطلب حذفه استنادًا إلى القانون المنطبق "
            "أو شروط الاستخدام لدى جهة الاستضافة"
        ),
    },
}

# A reference travels in a header and a subject: a plain token, nothing a header could be split on.
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
_HEX = {"sha256": 64, "md5": 32, "pdq": 64}
# Characters that change how text is laid out or read rather than what it says.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


@dataclass(frozen=True)
class NoticeItem:
    url: str  # the media URL
    page_url: str | None
    captured_utc: datetime  # tz-aware
    sha256: str
    md5: str | None
    pdq: str | None
    category: str  # internal category (himaya.hashsets.categories)
    source_label: str | None  # the hash set's own label, e.g. "VICS 1"
    server_ip: str | None


@dataclass(frozen=True)
class NoticeContent:
    kind: str  # one of NOTICE_KINDS
    language: str  # "en" | "ar"
    reference: str  # e.g. "HMY-2026-000123"; never the case number
    unit_name: str
    unit_email: str | None
    unit_phone: str | None
    legal_basis: str  # free text from settings, in the notice's language
    recipient_name: str
    recipient_email: str | None
    host: str
    asn: int | None
    org: str | None
    country: str | None
    items: tuple[NoticeItem, ...]
    previous_reference: str | None = None  # follow-up: the first notice
    previous_sent_utc: datetime | None = None
    partner: str | None = None  # referral: "INHOPE hotline NL", "Interpol"


@dataclass(frozen=True)
class RenderedNotice:
    subject: str
    text: str
    html: str
    language: str


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    security: str = "starttls"  # "none" | "starttls" | "tls"
    username: str | None = None
    # Memory only: the caller reads it from $HIMAYA_SMTP_PASSWORD or a file; never stored, never logged.
    password: str | None = field(default=None, repr=False)
    sender: str = ""
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise UsageError(
                f"online.smtp_security is {self.security!r}; use one of {', '.join(SECURITY_MODES)}"
            )
        if not 0 < self.port < 65536:
            raise UsageError(f"online.smtp_port is {self.port}; use a TCP port between 1 and 65535")

    def __repr__(self) -> str:
        password = "<set>" if self.password else None
        return (
            f"SmtpSettings(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"username={self.username!r}, password={password}, sender={self.sender!r}, "
            f"timeout_s={self.timeout_s})"
        )

    __str__ = __repr__


# ---------------------------------------------------------------------------------------- rendering


def render(content: NoticeContent, *, now: datetime | None = None) -> RenderedNotice:
    """The notice's subject, plain text and HTML in its language. `now` (default: the clock) dates it."""
    if content.kind not in NOTICE_KINDS:
        raise UsageError(f"unknown notice kind {content.kind!r}; use one of {', '.join(NOTICE_KINDS)}")
    if content.language not in LANGUAGES:
        raise UsageError(
            f"notices are written in {' or '.join(LANGUAGES)}, not {content.language!r}; "
            "check the setting online.notice_language"
        )
    view = _view(content, now or datetime.now(UTC))
    env = _environment()
    subject = env.get_template(f"subject.{content.language}.txt").render(n=view)
    view["subject"] = " ".join(subject.split())
    return RenderedNotice(
        subject=view["subject"],
        text=env.get_template(f"notice.{content.language}.txt").render(n=view),
        html=env.get_template(f"notice.{content.language}.html").render(n=view),
        language=content.language,
    )


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("himaya.online", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _view(content: NoticeContent, now: datetime) -> dict[str, Any]:
    reference = _reference(content.reference, "the notice's reference")
    if not content.items:
        raise NoticeError(f"notice {reference} lists no files; a notice must cite at least one capture")
    if content.kind == "follow-up" and (
        content.previous_reference is None or content.previous_sent_utc is None
    ):
        raise NoticeError(
            f"follow-up {reference} needs the first notice's reference and sending date; "
            "send a removal notice first, or pass previous_reference and previous_sent_utc"
        )
    if content.kind == "referral" and not content.partner:
        raise NoticeError(f"referral {reference} names no partner channel (INHOPE hotline, Interpol, a unit)")
    separator = "، " if content.language == "ar" else ", "
    network = [f"AS{content.asn}" if content.asn is not None else None, content.org, content.country]
    return {
        "kind": content.kind,
        "reference": reference,
        "date": _utc(now, "the notice date"),
        "unit_name": _prose(content.unit_name),
        "unit_email": _optional(_literal, content.unit_email),
        "unit_phone": _optional(_prose, content.unit_phone),
        "legal_basis": _prose(content.legal_basis, multiline=True),
        "recipient_name": _prose(content.recipient_name),
        "host": _literal(content.host),
        "network": separator.join(_prose(part) for part in network if part),
        "previous_reference": (
            _reference(content.previous_reference, "the previous notice's reference")
            if content.previous_reference is not None
            else None
        ),
        "previous_sent": (
            _utc(content.previous_sent_utc, "the previous notice's date")
            if content.previous_sent_utc is not None
            else None
        ),
        "partner": _optional(_prose, content.partner),
        "illegal": any(item.category == "illegal" for item in content.items),
        "files": [_item_view(item, number, content.language) for number, item in enumerate(content.items, 1)],
    }


def _item_view(item: NoticeItem, number: int, language: str) -> dict[str, Any]:
    labels = CATEGORY_LABELS[language]
    if item.category not in labels:
        raise NoticeError(
            f"file {number} ({_url(item.url)}) has category {item.category!r}; a notice can cite only "
            f"{', '.join(labels)} material — review the file's category before sending"
        )
    digests = {name: getattr(item, name) for name in _HEX}
    for name, value in digests.items():
        if value is not None and not re.fullmatch(rf"[0-9a-fA-F]{{{_HEX[name]}}}", value):
            raise NoticeError(f"file {number}: {name} {_literal(value)!r} is not {_HEX[name]} hex digits")
    if item.server_ip is not None:
        try:
            ipaddress.ip_address(item.server_ip)
        except ValueError:
            raise NoticeError(
                f"file {number}: server IP {_literal(item.server_ip)!r} is not an IP address"
            ) from None
    return {
        "url": _url(item.url),
        "page_url": _optional(_url, item.page_url),
        "captured": _utc(item.captured_utc, f"the capture time of file {number}"),
        **{name: value.lower() if value else None for name, value in digests.items()},
        "server_ip": item.server_ip,
        "category": labels[item.category],
        "source_label": _optional(_prose, item.source_label),
    }


def _reference(value: str, what: str) -> str:
    if not _REFERENCE.fullmatch(value):
        raise NoticeError(
            f"{what} {_literal(value)!r} is not a plain reference (letters, digits, '.', '_', '/', '-'); "
            "references look like HMY-2026-000123"
        )
    return value


def _utc(moment: datetime, what: str) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NoticeError(f"{what} ({moment.isoformat()}) has no time zone; pass a UTC-aware datetime")
    return moment.astimezone(UTC).strftime(_DATE_FORMAT)


def _escape(char: str) -> str:
    return char.encode("unicode_escape").decode("ascii")


def _optional(clean: Callable[[str], str], value: str | None) -> str | None:
    return None if value is None else clean(value)


def _literal(value: str) -> str:
    """An address, host or digest: anything invisible or layout-changing is written out as an escape."""
    return "".join(
        _escape(char) if unicodedata.category(char) in _INVISIBLE or char.isspace() else char
        for char in value
    )


def _url(value: str) -> str:
    """A URL stays one token: spaces and invisible characters percent-encoded, as browsers send them."""
    return "".join(
        quote(char, safe="", errors="surrogatepass")
        if unicodedata.category(char) in _INVISIBLE or char.isspace()
        else char
        for char in value
    )


def _prose(value: str, *, multiline: bool = False) -> str:
    """A name or free text: keeps letters of every script (ZWNJ included), escapes line breaks and bidi."""
    if multiline:
        value = value.replace("\r\n", "\n")

    def inert(char: str) -> str:
        if char == "\n" and multiline:
            return char
        if char in _BIDI_CONTROLS or unicodedata.category(char) in {"Cc", "Cs", "Zl", "Zp"}:
            return _escape(char)
        return char

    return "".join(inert(char) for char in value)


# ------------------------------------------------------------------------------------------ sending


def build_message(
    rendered: RenderedNotice, *, sender: str, to: str, reference: str, reply_to: str | None = None
) -> EmailMessage:
    """A multipart/alternative mail (text, then HTML), UTF-8, headers encoded per RFC 2047."""
    reference = _reference(reference, "the notice's reference")
    sender_address = _address(sender, "online.smtp_sender", UsageError)
    _address(to, f"the recipient of notice {reference}", NoticeError)
    domain = sender_address.rpartition("@")[2]
    subject = " ".join(rendered.subject.split())
    if reference not in subject:
        subject = f"[{reference}] {subject}"
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = sender
    message["To"] = to
    if reply_to:
        _address(reply_to, "the unit's email (Reply-To)", UsageError)
        message["Reply-To"] = reply_to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    # Built here rather than by make_msgid, which would ask the resolver for this machine's name, and short
    # so that the header stays on one line.
    message["Message-ID"] = f"<{reference.replace('/', '.')}.{secrets.token_hex(8)}@{domain}>"
    message["X-Himaya-Reference"] = reference
    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    # After the body: set_content clears every Content-* header already on the message.
    message["Content-Language"] = rendered.language
    return message


def _address(value: str, what: str, error: type[NoticeError] | type[UsageError]) -> str:
    if "\r" in value or "\n" in value:
        raise error(f"{what} {_literal(value)!r} contains a line break; give one email address")
    address = parseaddr(value)[1]
    local, at, domain = address.rpartition("@")
    if not (local and at and domain):
        raise error(f"{what} {_literal(value)!r} is not an email address (name@domain)")
    return address


def send(message: EmailMessage, smtp: SmtpSettings) -> str:
    """Hand the message to the unit's SMTP server; returns its Message-ID. Raises NoticeError on failure."""
    reference = str(message.get("X-Himaya-Reference", "(no reference)"))
    message_id = message.get("Message-ID")
    where = f"{smtp.host}:{smtp.port}"

    def failed(detail: str) -> NoticeError:
        return NoticeError(
            f"could not send notice {reference} to {where}: {_scrub(detail, smtp)}; it stays 'to send' "
            "— check online.smtp_* settings"
        )

    if message_id is None:
        raise failed("the message has no Message-ID (build it with build_message)")
    if smtp.username and smtp.password is None:
        raise failed(
            "online.smtp_username is set but no password was given ($HIMAYA_SMTP_PASSWORD or a file)"
        )
    if smtp.username and smtp.security == "none" and not _is_loopback(smtp.host):
        raise failed(
            "refusing to send the SMTP password unencrypted; set online.smtp_security to starttls or tls"
        )
    envelope_from = parseaddr(smtp.sender or str(message["From"]))[1]
    recipients = [address for _, address in getaddresses([str(value) for value in message.get_all("To", [])])]
    # HELO with the sender's domain: without it smtplib asks the resolver for this machine's FQDN.
    helo = envelope_from.rpartition("@")[2] or "localhost"
    try:
        client = _connect(smtp, helo)
        try:
            if smtp.security == "starttls":
                client.ehlo()
                if not client.has_extn("starttls"):
                    raise failed(
                        "the server does not offer STARTTLS; set online.smtp_security to tls if it expects "
                        "TLS from the start"
                    )
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if smtp.username and smtp.password is not None:
                try:
                    client.login(smtp.username, smtp.password)
                except smtplib.SMTPException as error:
                    # The server's own words may quote what we sent: keep only its code.
                    code = getattr(error, "smtp_code", "none")
                    raise failed(
                        f"login as {smtp.username!r} failed ({type(error).__name__}, code {code}); "
                        "check online.smtp_username and the password"
                    ) from None
            refused = client.send_message(message, from_addr=envelope_from, to_addrs=recipients)
        finally:
            _close(client)
    except NoticeError:
        raise
    except smtplib.SMTPRecipientsRefused as error:
        detail = "; ".join(f"{to}: {_said(code, text)}" for to, (code, text) in error.recipients.items())
        raise failed(f"every recipient was refused ({detail})") from None
    except smtplib.SMTPResponseException as error:
        raise failed(f"the server answered {_said(error.smtp_code, error.smtp_error)}") from None
    except smtplib.SMTPException as error:
        raise failed(f"{type(error).__name__}: {error}") from None
    except UnicodeError:
        raise failed("the user name or password has characters SMTP AUTH cannot carry (ASCII only)") from None
    except OSError as error:
        raise failed(f"{type(error).__name__}: {error}") from None
    if refused:
        raise failed(f"some recipients were refused: {', '.join(sorted(refused))}")
    return str(message_id)


def _connect(smtp: SmtpSettings, helo: str) -> smtplib.SMTP:
    if smtp.security == "tls":
        return smtplib.SMTP_SSL(
            smtp.host,
            smtp.port,
            local_hostname=helo,
            timeout=smtp.timeout_s,
            context=ssl.create_default_context(),
        )
    return smtplib.SMTP(smtp.host, smtp.port, local_hostname=helo, timeout=smtp.timeout_s)


def _close(client: smtplib.SMTP) -> None:
    # Once the server has accepted the message, a failed QUIT must not make the caller send it twice.
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _said(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {_prose(' '.join(words.split()))}".strip()


def _scrub(text: str, smtp: SmtpSettings) -> str:
    """Remove the password in every form an echoing server could send it back (plain, AUTH base64)."""
    if not smtp.password:
        return text
    user = smtp.username or ""
    forms = {smtp.password, _b64(smtp.password), _b64(f"\0{user}\0{smtp.password}")}
    forms |= {_prose(form) for form in list(forms)} | {_literal(form) for form in list(forms)}
    for form in sorted((form for form in forms if form), key=len, reverse=True):
        text = text.replace(form, "***")
    return text


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
