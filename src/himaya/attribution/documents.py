"""ISP requests and partner referrals as documents: HTML from Jinja2 templates, PDF from WeasyPrint.

The HTML is the record (kept on the request); the PDF is made from it whenever it is asked for. Arabic
documents are right-to-left (`<html lang="ar" dir="rtl">`) and every address, port, time and reference
is an isolated left-to-right run (`<bdi dir="ltr">`), so "203.0.113.66" never reads backwards. The PDF
is shaped by Pango / HarfBuzz in DejaVu Sans, which has the Arabic letters' joined forms.

Nothing is ever fetched: the style sheet is part of the template, and WeasyPrint gets a URL fetcher that
refuses every URL (a document naming an outside resource fails instead of reaching out, and could tell
a host that a request is being written). Values from outside the unit (an ISP's name from the IP
database, account and event names from a tip) are autoescaped and their bidi controls written out, so
they can neither add markup nor reorder the text around them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from himaya.errors import HimayaError, UsageError

KINDS = ("preservation", "subscriber", "referral")
LANGUAGES = ("en", "ar")
# Flags that put a visible warning on the document (the request is still drafted).
WARNING_FLAGS = ("hosting", "proxy-reported")

_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_TIME = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class RequestEvent:
    ip: str
    port: int | None
    time_utc: datetime  # tz-aware
    event: str
    account: str | None
    flags: tuple[str, ...] = ()
    asn: int | None = None  # who holds the address (a referral lists several networks of one country)
    org: str | None = None


@dataclass(frozen=True)
class RequestDocument:
    kind: str  # one of KINDS
    language: str  # "en" | "ar"
    reference: str
    date_utc: datetime
    case_number: str | None  # never given for a referral: the partner acts without our case file
    unit_name: str
    unit_email: str | None
    unit_phone: str | None
    legal_basis: str
    asn: int | None
    org: str | None
    country: str | None
    ipdb: str | None  # the databases that answered (their type)
    ipdb_built_utc: datetime | None
    zone: str  # IANA name of the local-time column
    events: tuple[RequestEvent, ...]
    partner: str | None = None  # referral: the partner channel (Interpol, a hotline)
    preservation_references: tuple[str, ...] = ()  # subscriber request: the preservation requests before it


def local_time(moment: datetime, zone: str) -> datetime:
    """`moment` in `zone` (daylight saving as it was on that day)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; pass a UTC-aware datetime")
    return moment.astimezone(ZoneInfo(zone))


def render_html(document: RequestDocument) -> str:
    """The document in its language, as a self-contained HTML page (style sheet inside, no URL)."""
    if document.kind not in KINDS:
        raise UsageError(f"unknown request kind {document.kind!r}; use one of {', '.join(KINDS)}")
    if document.language not in LANGUAGES:
        raise UsageError(
            f"requests are written in {' or '.join(LANGUAGES)}, not {document.language!r}; "
            "use --language en or ar, or check the setting online.notice_language"
        )
    if not document.events:
        raise UsageError(f"request {document.reference} lists no IP event; a request must cite at least one")
    if document.kind == "referral" and document.case_number is not None:
        # The partner and the host country's ISP learn nothing of our case file from a referral.
        raise UsageError(f"referral {document.reference} must not name the case number")
    name = "referral" if document.kind == "referral" else "request"
    template = _environment().get_template(f"{name}.{document.language}.html")
    return template.render(d=_view(document))


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("himaya.attribution", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _view(document: RequestDocument) -> dict[str, Any]:
    zone = ZoneInfo(document.zone)  # raises for a bad zone: online.unit_timezone is validated when set
    warnings: dict[str, list[str]] = {flag: [] for flag in WARNING_FLAGS}
    for event in document.events:
        for flag in WARNING_FLAGS:
            if flag in event.flags and event.ip not in warnings[flag]:
                warnings[flag].append(event.ip)
    return {
        "kind": document.kind,
        "reference": inert(document.reference),
        "date": _utc(document.date_utc),
        "case_number": inert(document.case_number) if document.case_number is not None else None,
        "unit_name": inert(document.unit_name),
        "unit_email": inert(document.unit_email) if document.unit_email else None,
        "unit_phone": inert(document.unit_phone) if document.unit_phone else None,
        "legal_basis": inert(document.legal_basis, multiline=True),
        "org": inert(document.org) if document.org else None,
        "asn": f"AS{document.asn}" if document.asn is not None else None,
        "country": inert(document.country) if document.country else None,
        "partner": inert(document.partner) if document.partner else None,
        "ipdb": inert(document.ipdb) if document.ipdb else None,
        "ipdb_built": document.ipdb_built_utc.astimezone(UTC).strftime("%Y-%m-%d")
        if document.ipdb_built_utc is not None
        else None,
        "zone": document.zone,
        "preservation_references": [inert(ref) for ref in document.preservation_references],
        "warnings": warnings,
        "warned": any(warnings.values()),
        # A shared address (carrier-grade NAT, a mobile network) with its port: the ISP must match all three.
        "shared": any("shared-address" in event.flags for event in document.events),
        "events": [
            {
                "ip": event.ip,
                "port": event.port,
                "utc": _utc(event.time_utc),
                "local": _local(event.time_utc, zone),
                "event": inert(event.event),
                "account": inert(event.account) if event.account else None,
                "asn": f"AS{event.asn}" if event.asn is not None else None,
                "org": inert(event.org) if event.org else None,
            }
            for event in document.events
        ],
    }


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; pass a UTC-aware datetime")
    return moment.astimezone(UTC).strftime(_TIME)


def _local(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local.strftime(_TIME)} {offset[:3]}:{offset[3:]}"


def inert(value: str, *, multiline: bool = False) -> str:
    """Text from outside made inert for a document: bidi controls, control characters and line breaks
    are written out as escapes (letters of every script, ZWNJ included, are kept). `multiline` keeps
    newlines (the legal basis)."""
    if multiline:
        value = value.replace("\r\n", "\n")

    def one(char: str) -> str:
        if char == "\n" and multiline:
            return char
        if char in _BIDI_CONTROLS or unicodedata.category(char) in {"Cc", "Cs", "Zl", "Zp"}:
            return char.encode("unicode_escape").decode("ascii")
        return char

    return "".join(one(char) for char in value)


# ------------------------------------------------------------------------------------------------ PDF


def render_pdf(html: str, *, what: str = "the request") -> bytes:
    """The HTML as PDF (A4). Fonts come from the machine (fontconfig); no URL is ever fetched."""
    from PIL import ImageFile

    # Importing WeasyPrint turns Pillow's LOAD_TRUNCATED_IMAGES on for the whole process; the analyzers
    # must keep treating a truncated picture as damaged evidence, so the flag is put back.
    lenient = ImageFile.LOAD_TRUNCATED_IMAGES
    import weasyprint
    import weasyprint.images  # the module that sets the flag, imported while guarded

    ImageFile.LOAD_TRUNCATED_IMAGES = lenient

    try:
        return bytes(weasyprint.HTML(string=html, base_url=None, url_fetcher=_refusing_fetcher()).write_pdf())
    except weasyprint.urls.FatalURLFetchingError as error:
        raise HimayaError(
            f"{what} names an outside resource ({error}); documents are self-contained and nothing is "
            "fetched — remove the link from the template"
        ) from None


@cache
def _refusing_fetcher_class() -> type[Any]:
    from weasyprint import URLFetcher

    class RefusingFetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint ships no type hints
        """Refuses every URL, data: and file: included: a request document needs nothing outside it."""

        def fetch(self, url: str, headers: Sequence[tuple[str, str]] | None = None) -> Any:
            raise ValueError(f"refused to fetch {url[:80]!r}: request documents fetch nothing")

    return RefusingFetcher


def _refusing_fetcher() -> Any:
    return _refusing_fetcher_class()(fail_on_errors=True)
