"""Who hosts an address: DNS → IP → ASN, organisation and country, and whom to tell.

The IP facts come from offline MaxMind-format databases (GeoLite2-ASN / -Country / -City, DB-IP lite):
looking an address up sends nothing anywhere, so a capture does not tip off the host. Address blocks
move between networks, so every answer carries the build date of the databases it came from: an
answer is "AS64512 as of 2024-05-01", never just "AS64512".

Abuse contacts come from the unit's own table (CSV) or, when online look-ups are allowed, from RDAP
(rdap.py).
"""

from __future__ import annotations

import contextlib
import csv
import io
import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import maxminddb
from maxminddb.errors import InvalidDatabaseError

from himaya.errors import OnlineError, UsageError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_GET_DATABASES = (
    "download GeoLite2-ASN and GeoLite2-Country "
    "(https://dev.maxmind.com/geoip/geolite2-free-geolocation-data) or DB-IP's lite databases "
    "(https://db-ip.com/db/lite.php) as .mmdb files and name them in the setting online.mmdb"
)


def canonical_ip(text: str) -> str:
    """The address in `ipaddress`'s text form; an IPv4-mapped IPv6 address becomes the IPv4 it carries.

    Raises ValueError when `text` is not an address.
    """
    return str(_parse_ip(text))


def _parse_ip(text: str) -> IpAddress:
    address = ipaddress.ip_address(text.strip().strip("[]"))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # The same host; databases hold it under its IPv4 form (MaxMind's own aliases are not promised).
        return address.ipv4_mapped
    return address


# --- IP databases -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IpInfo:
    """What the databases say about one address, and as of when.

    `database` names the databases that contributed (their `database_type`) and `built_utc` is the
    oldest of their build times; both are None, like every other field, when no database holds the
    address (`IpDatabase.databases` then says what was consulted).
    """

    ip: str
    asn: int | None
    org: str | None
    country: str | None
    network: str | None
    database: str | None
    built_utc: datetime | None


@dataclass
class _Opened:
    path: Path
    reader: maxminddb.Reader
    database_type: str
    built_utc: datetime
    ip_version: int


class IpDatabase:
    """One or more MaxMind-format databases read together (each may hold ASN fields, country fields or both).

    For each field the first database (in the order given) that has it for the address wins.
    """

    def __init__(self, paths: Sequence[Path]) -> None:
        if not paths:
            raise UsageError(f"no IP database given; {_GET_DATABASES}")
        self._opened: list[_Opened] = []
        self._closed = False
        try:
            for path in paths:
                self._opened.append(_open(Path(path)))
        except BaseException:
            self.close()
            raise

    @property
    def databases(self) -> list[tuple[str, datetime]]:
        """(database type, build time) of every database, for display beside the answers."""
        return [(opened.database_type, opened.built_utc) for opened in self._opened]

    def lookup(self, ip: str) -> IpInfo:
        if self._closed:
            raise ValueError("look-up in a closed IpDatabase")  # a programming error, not the user's
        try:
            address = _parse_ip(ip)
        except ValueError:
            raise UsageError(f"{ip!r} is not an IP address; give an IPv4 or IPv6 address") from None
        asn: int | None = None
        org: str | None = None
        country: str | None = None
        network: str | None = None
        used: list[_Opened] = []
        for opened in self._opened:
            found = _record(opened, address)
            if found is None:
                continue
            record, prefix_len = found
            contributed = False
            record_asn = _asn(record)
            if asn is None and record_asn is not None:
                asn, contributed = record_asn, True
                org = _text(record.get("autonomous_system_organization"))
                network = _network(address, prefix_len)  # the ASN's block is the one that moves
            record_country = _country(record)
            if country is None and record_country is not None:
                country, contributed = record_country, True
                if network is None:
                    network = _network(address, prefix_len)
            if contributed:
                used.append(opened)
        return IpInfo(
            ip=str(address),
            asn=asn,
            org=org,
            country=country,
            network=network,
            database=", ".join(opened.database_type for opened in used) or None,
            built_utc=min((opened.built_utc for opened in used), default=None),
        )

    def close(self) -> None:
        for opened in self._opened:
            opened.reader.close()
        self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def _open(path: Path) -> _Opened:
    if not path.is_file():
        raise OnlineError(f"IP database {path} does not exist or is not a file; {_GET_DATABASES}")
    try:
        reader = maxminddb.open_database(str(path), maxminddb.MODE_AUTO)
    except (InvalidDatabaseError, ValueError, OSError) as error:
        raise OnlineError(
            f"IP database {path} cannot be read as a MaxMind DB ({error}); it may be truncated or another "
            f"format (CSV, a .tar.gz not yet unpacked): {_GET_DATABASES}"
        ) from None
    try:
        metadata = reader.metadata()
        return _Opened(
            path=path,
            reader=reader,
            database_type=str(metadata.database_type),
            built_utc=datetime.fromtimestamp(int(metadata.build_epoch), tz=UTC),
            ip_version=int(metadata.ip_version),
        )
    except (TypeError, ValueError, OverflowError, OSError) as error:
        reader.close()
        raise OnlineError(
            f"IP database {path} has unreadable metadata ({error}), so its answers could not be dated; "
            f"{_GET_DATABASES}"
        ) from None


def _record(opened: _Opened, address: IpAddress) -> tuple[Mapping[str, Any], int] | None:
    if opened.ip_version == 4 and address.version == 6:
        return None  # an IPv4-only database has nothing to say about IPv6
    try:
        record, prefix_len = opened.reader.get_with_prefix_len(address)
    except InvalidDatabaseError as error:
        raise OnlineError(
            f"IP database {opened.path} is corrupt (looking up {address}: {error}); {_GET_DATABASES}"
        ) from None
    if not isinstance(record, Mapping):
        return None
    return record, prefix_len


def _network(address: IpAddress, prefix_len: int) -> str:
    # An IPv6 database whose record for IPv4 sits above ::/96 yields a prefix outside IPv4's range.
    prefix_len = min(max(prefix_len, 0), address.max_prefixlen)
    return str(ipaddress.ip_network(f"{address}/{prefix_len}", strict=False))


def _asn(record: Mapping[str, Any]) -> int | None:
    value = record.get("autonomous_system_number")
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFFFFFF:
        return value
    return None


def _country(record: Mapping[str, Any]) -> str | None:
    for key in ("country", "registered_country"):
        section = record.get(key)
        if isinstance(section, Mapping):
            code = section.get("iso_code")
            if isinstance(code, str) and re.fullmatch(r"[A-Za-z]{2}", code):
                return code.upper()
    return None


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


# --- abuse contacts ---------------------------------------------------------------------------------

CHANNELS = ("direct", "partner")
# Shared with rdap.py, so a contact from RDAP passes the check a contacts table does.
EMAIL_ADDRESS = re.compile(r"[^@\s<>\",;]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")
_HOST_LABELS = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*")
_CONTACT_COLUMNS = ("name", "email", "country", "channel", "asn", "domain", "org_contains")
_EXAMPLE = ",".join(_CONTACT_COLUMNS)


@dataclass(frozen=True)
class AbuseContact:
    """Whom to tell about a location, and how.

    `channel` "direct" means a removal notice goes to the host itself; "partner" means a referral to
    an INHOPE hotline, Interpol or a country's unit, who act in their own jurisdiction. A contact
    covers a location by any of `domain` (host-name suffix: "example.net" covers "cdn.example.net"),
    `asn` or `org_contains` (a case-insensitive part of the network's organisation name).
    """

    name: str
    email: str | None
    country: str | None
    channel: str
    source: str
    asn: int | None = None
    domain: str | None = None
    org_contains: str | None = None


def choose_contact(contacts: Sequence[AbuseContact], host: str, info: IpInfo) -> AbuseContact | None:
    """The most specific contact for a location: the longest domain suffix of `host`, else the ASN, else
    the longest organisation substring; among equals, the first in `contacts`."""
    host = _normal_host(host)
    if not _is_ip(host):
        by_domain = [c for c in contacts if c.domain and (host == c.domain or host.endswith("." + c.domain))]
        if by_domain:
            return max(by_domain, key=lambda contact: len(contact.domain or ""))
    if info.asn is not None:
        for contact in contacts:
            if contact.asn == info.asn:
                return contact
    if info.org:
        org = info.org.casefold()
        by_org = [c for c in contacts if c.org_contains and c.org_contains.casefold() in org]
        if by_org:
            return max(by_org, key=lambda contact: len(contact.org_contains or ""))
    return None


def parse_contacts_csv(text: str, source_name: str) -> list[AbuseContact]:
    """The unit's contacts table; any bad row refuses the whole file (UsageError naming the line).

    Columns, in any order: name, channel (required), email, country, asn, domain, org_contains; every
    row names at least one of asn, domain, org_contains.
    """
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    rows = _rows(reader, source_name)
    header: list[str] | None = None
    for row in rows:
        if any(cell.strip() for cell in row):
            header = [cell.strip().lower() for cell in row]
            break
    if header is None:
        raise UsageError(
            f"{source_name}: no header row; the first line must name the columns, e.g. {_EXAMPLE}"
        )
    where = f"{source_name}: line {reader.line_num}"
    unknown = [name for name in header if name not in _CONTACT_COLUMNS]
    if unknown:
        raise UsageError(
            f"{where}: unknown column(s) {', '.join(map(repr, unknown))}; the columns are {_EXAMPLE}"
        )
    missing = [name for name in ("name", "channel") if name not in header]
    if missing or not {"asn", "domain", "org_contains"} & set(header):
        needs = missing or ["one of asn, domain, org_contains"]
        raise UsageError(f"{where}: the header lacks {', '.join(needs)}; the columns are {_EXAMPLE}")
    if len(set(header)) != len(header):
        raise UsageError(f"{where}: a column is named twice in the header")
    contacts: list[AbuseContact] = []
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        try:
            contacts.append(_contact_row(header, row))
        except ValueError as error:
            raise UsageError(
                f"{source_name}: line {reader.line_num}: {error}; correct the row and import the file again "
                "(nothing was imported)"
            ) from None
    return contacts


def _rows(reader: Iterator[list[str]], source_name: str) -> Iterator[list[str]]:
    line = 0
    try:
        for row in reader:
            line += 1
            yield row
    except csv.Error as error:
        raise UsageError(
            f"{source_name}: after row {line}: not readable as CSV ({error}); save the table as CSV "
            "(comma-separated, UTF-8) and import it again (nothing was imported)"
        ) from None


def _contact_row(header: list[str], row: list[str]) -> AbuseContact:
    if len(row) > len(header):
        raise ValueError(f"{len(row)} fields but the header names {len(header)}")
    cells = {name: (row[index].strip() if index < len(row) else "") for index, name in enumerate(header)}
    name = cells.get("name", "")
    if not name:
        raise ValueError("the name is empty")
    channel = cells.get("channel", "").lower()
    if channel not in CHANNELS:
        raise ValueError(f"channel {cells.get('channel', '')!r} is neither 'direct' nor 'partner'")
    email = cells.get("email") or None
    if email is not None:
        email = email.removeprefix("mailto:")
        if not EMAIL_ADDRESS.fullmatch(email):
            raise ValueError(f"{email!r} is not an e-mail address")
    country = cells.get("country") or None
    if country is not None:
        if not re.fullmatch(r"[A-Za-z]{2}", country):
            raise ValueError(f"country {country!r} is not an ISO 3166 two-letter code")
        country = country.upper()
    asn = _parse_asn(cells.get("asn", ""))
    domain = cells.get("domain") or None
    if domain is not None:
        domain = _normal_host(domain)
        if not _HOST_LABELS.fullmatch(domain) or _is_ip(domain):
            raise ValueError(f"domain {cells['domain']!r} is not a host name (write e.g. example.net)")
    org_contains = cells.get("org_contains") or None
    if asn is None and domain is None and org_contains is None:
        raise ValueError("the row names no asn, domain or org_contains, so it would cover nothing")
    return AbuseContact(
        name=name,
        email=email,
        country=country,
        channel=channel,
        source="contacts",
        asn=asn,
        domain=domain,
        org_contains=org_contains,
    )


def _parse_asn(text: str) -> int | None:
    if not text:
        return None
    digits = text[2:] if text[:2].upper() == "AS" else text
    if not digits.isascii() or not digits.isdigit() or int(digits) > 0xFFFFFFFF:
        raise ValueError(f"asn {text!r} is not an AS number (write 64512 or AS64512)")
    return int(digits)


# --- host names and addresses -----------------------------------------------------------------------


def host_of(url: str) -> str:
    """The URL's host in lower case (an IP literal without brackets, in canonical form)."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        host = None
    if not host:
        raise UsageError(f"{url!r} has no host name; give an absolute URL such as https://example.net/page")
    return _normal_host(host)


def resolve_addresses(host: str, resolve: Callable[[str, int], list[str]]) -> list[str]:
    """The addresses of `host`, IPv4 first, each once; an IP literal is its own answer (no look-up).

    `resolve(host, port)` is the caller's resolver (the guarded one in production, a fake in tests);
    the port plays no part in which addresses a name has, so 0 is passed.
    """
    host = _normal_host(host)
    if not host:
        raise UsageError("an empty host name cannot be resolved; give the host of the location's URL")
    if _is_ip(host):
        return [host]
    try:
        answers = resolve(host, 0)
    except OSError as error:
        raise OnlineError(
            f"{host} could not be resolved ({error}); check the name or this machine's DNS"
        ) from None
    addresses: set[IpAddress] = set()
    for answer in answers:
        try:
            addresses.add(_parse_ip(answer.split("%", 1)[0]))
        except ValueError:
            raise OnlineError(
                f"the resolver answered {answer!r} for {host}, which is not an IP address; check the "
                "resolver setting"
            ) from None
    return [str(address) for address in sorted(addresses, key=lambda a: (a.version, int(a)))]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _normal_host(host: str) -> str:
    host = host.strip().strip("[]").rstrip(".").lower()
    try:
        return canonical_ip(host)
    except ValueError:
        pass
    if not host.isascii():
        # Contacts name domains in the form mail and DNS use; a URL may carry the Unicode form.
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    return host.lstrip(".")
