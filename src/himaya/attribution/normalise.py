"""One written form for IP addresses, times and identifiers, whatever the source wrote.

Two sources naming the same address, instant or account must produce the same value, or the summary
splits one subscriber into two. Every function raises `ValueError` with a message fit for the examiner;
the readers add the file and the line or element.

Times are never guessed: a time without a zone is refused unless the importer names the zone the log was
written in, and a wall-clock time that daylight saving skips or repeats in that zone is refused too,
since either reading could point at the wrong subscriber behind a shared address.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from himaya.attribution.reports import IDENTIFIER_KINDS, Identifier

__all__ = [
    "MissingZoneError",
    "canonical_ip",
    "event_name",
    "format_offset",
    "identifier",
    "port_number",
    "resolve_zone",
    "split_host_port",
    "to_utc",
]

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# A dotted quad without leading zeros is already in canonical form; most log lines take this path.
_CANONICAL_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")

_ISO_TIME = re.compile(
    r"\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*(?:(Z|z|[+-]\d{2}(?::?\d{2})?)|\[?([A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*)\]?)?\s*"
)
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})?")

ISO_HINT = "write times as ISO-8601 with the zone, e.g. 2026-03-29T01:30:00+03:00"

# Zone text as written → (tzinfo, the form stored as original_zone). Logs repeat a handful of zones
# millions of times; parsing each once keeps the per-line cost down.
_ZONES: dict[str, tuple[tzinfo, str]] = {}


class MissingZoneError(ValueError):
    """A time written without a zone, and no default zone given: the reader says how to give one."""


def canonical_ip(text: str) -> str:
    """The canonical form of an IPv4 or IPv6 address; `ValueError` when `text` is none.

    Brackets ("[2001:db8::1]") are removed; an IPv4-mapped IPv6 address becomes the IPv4 address it
    carries (a dual-stack server logs `::ffff:192.0.2.1` for a client the ISP knows as 192.0.2.1).
    A zone id ("fe80::1%eth0") is refused: it names an interface of the logging machine, not a subscriber.
    """
    if _CANONICAL_IPV4.fullmatch(text):
        return text
    return _canonical_other(text)


# IPv6 parsing in `ipaddress` costs ~10 µs; a log repeats its clients' addresses many times over.
@functools.lru_cache(maxsize=65536)
def _canonical_other(text: str) -> str:
    value = text.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    if "%" in value:
        raise ValueError(f"{text!r} carries a zone id ('%...'): a link-local address names no subscriber")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def split_host_port(text: str) -> tuple[str, int | None]:
    """`ip`, `ip:port` (IPv4) or `[v6]:port` → (canonical ip, port or None). A bare IPv6 has no port."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"{text!r} opens '[' without closing it")
        rest = text[end + 1 :]
        if not rest:
            return canonical_ip(text[1:end]), None
        if not rest.startswith(":"):
            raise ValueError(f"{text!r} has {rest!r} after the address; expected ':port'")
        return canonical_ip(text[1:end]), port_number(rest[1:])
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return canonical_ip(host), port_number(port)
    return canonical_ip(text), None


def port_number(text: str | int) -> int:
    if isinstance(text, int) and not isinstance(text, bool):
        number = text
    elif isinstance(text, str) and text.strip().isdigit():
        number = int(text.strip())
    else:
        raise ValueError(f"port {text!r} is not a number")
    if not 0 <= number <= 65535:
        raise ValueError(f"port {number} is out of range (0-65535)")
    return number


def format_offset(offset: timedelta) -> str:
    """`timedelta(hours=3)` → "+03:00" (the form original_zone keeps for every fixed offset)."""
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def resolve_zone(text: str) -> tuple[tzinfo, str]:
    """A zone as written ("Z", "+0300", "+03:00", "Europe/London") → (tzinfo, stored form); `ValueError`."""
    cached = _ZONES.get(text)
    if cached is not None:
        return cached
    if text in ("Z", "z"):
        resolved: tuple[tzinfo, str] = (UTC, "Z")
    elif text[:1] in "+-" and (match := _OFFSET.fullmatch(text)):
        sign, hours, minutes = match.groups()
        if int(hours) > 23 or int(minutes or 0) > 59:
            raise ValueError(f"offset {text!r} is out of range")
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if sign == "-":
            delta = -delta
        resolved = (timezone(delta) if delta else UTC, format_offset(delta))
    else:
        try:
            resolved = (ZoneInfo(text), text)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(
                f"{text!r} is not a time zone; use an IANA name (Asia/Amman) or an offset (+03:00)"
            ) from None
    _ZONES[text] = resolved
    return resolved


def to_utc(text: str, default_zone: str | None) -> tuple[datetime, str | None, bool]:
    """An ISO-8601 time → (UTC datetime, zone as written or None, whether the default zone was assumed).

    Accepts `2026-03-29T01:30:00+03:00`, `…Z`, `…+0300`, a space for `T`, fractions of a second, and an
    IANA zone name after the time (`2026-03-29 01:30:00 Europe/London` or `[Europe/London]`). Without a
    zone, `default_zone` (an IANA name or an offset) is applied with its daylight-saving rules.
    """
    match = _ISO_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"time {text!r} is not an ISO-8601 date and time")
    year, month, day, hour, minute, second, fraction, offset, name = match.groups()
    try:
        naive = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int(fraction[:6].ljust(6, "0")) if fraction else 0,
        )
    except ValueError as error:
        raise ValueError(f"time {text!r} is not a real date and time ({error})") from None
    zone_text = offset or name
    if zone_text is not None:
        zone, original = resolve_zone(zone_text)
        return _localise(naive, zone, text), original, False
    if default_zone is None:
        raise MissingZoneError(f"time {text!r} has no zone (no offset, no Z)")
    zone, _ = resolve_zone(default_zone)
    return _localise(naive, zone, text), None, True


def _localise(naive: datetime, zone: tzinfo, text: str) -> datetime:
    if isinstance(zone, timezone):  # fixed offsets (and UTC): no daylight saving to check
        return (naive - zone.utcoffset(None)).replace(tzinfo=UTC)
    first = naive.replace(tzinfo=zone)
    second = naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        # PEP 495: fold only changes the offset inside a gap (clocks forward) or an overlap (clocks back).
        if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
            raise ValueError(
                f"time {text!r} does not exist in {zone}: clocks went forward over it; the log is probably "
                "not in that zone (or it writes UTC)"
            )
        raise ValueError(
            f"time {text!r} happened twice in {zone} (clocks went back): it could be either of two instants "
            "an hour apart; ask for the log with offsets or in UTC"
        )
    return first.astimezone(UTC)


_EVENTS = {
    name.lower(): name
    for name in ("Login", "Logout", "Registration", "Upload", "Purchase", "Request", "Other", "Unknown")
}


def event_name(text: str) -> str:
    """Known event names in their canonical capitalisation ("LOGIN" → "Login"); others as given."""
    value = text.strip()
    return _EVENTS.get(value.lower(), value)


def identifier(kind: str, value: str) -> Identifier:
    """An account identifier in the form two sources will agree on; `ValueError` when empty or unknown.

    Emails are lower-cased. Phones keep only digits, with a leading "+" when the number is international
    (written with "+" or "00"); a national number stays without one, since its country is not known here.
    Everything else is stripped of surrounding space and kept as given (URLs and screen names can be
    case-sensitive).
    """
    if kind not in IDENTIFIER_KINDS:
        raise ValueError(
            f"{kind!r} is not an identifier kind; use one of {', '.join(sorted(IDENTIFIER_KINDS))}"
        )
    text = value.strip()
    if kind == "email":
        text = text.lower()
    elif kind == "phone":
        digits = "".join(ch for ch in text if ch.isdigit() and ch.isascii())
        if text.startswith("+"):
            text = "+" + digits
        elif digits.startswith("00"):
            text = "+" + digits[2:]
        else:
            text = digits
        if not digits.strip("0"):
            raise ValueError(f"phone number {value!r} has no digits")
    if not text:
        raise ValueError(f"{kind} is empty")
    return Identifier(kind, text)
