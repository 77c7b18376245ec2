"""What every tip and log reader returns: plain frozen dataclasses, nothing tied to the database.

A reader turns bytes into `TipReport`s and nothing else; the importer stores them. Every IP event keeps
the time as written and the zone it was read in next to the UTC time, so an examiner can show a court how
"13:55 local" became "10:55 UTC" (and whether the zone was stated or assumed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["IDENTIFIER_KINDS", "Identifier", "IpEvent", "Person", "ReportedFile", "TipReport"]

IDENTIFIER_KINDS = frozenset(
    {"email", "phone", "user_id", "screen_name", "display_name", "profile_url", "device_id", "account"}
)


@dataclass(frozen=True, slots=True)
class Identifier:
    kind: str  # one of IDENTIFIER_KINDS
    value: str  # normalised by `normalise.identifier` (emails lower-cased, phones as digits)


# slots: a log of a million lines is a million of these; without __dict__ each costs about half as much.
@dataclass(frozen=True, slots=True)
class IpEvent:
    ip: str  # canonical: IPv4-mapped IPv6 as IPv4, IPv6 compressed and lower case
    port: int | None  # source port as reported: behind carrier-grade NAT the IP alone names no subscriber
    time_utc: datetime  # tz-aware, UTC
    original_time: str  # as written in the source
    original_zone: str | None  # "+03:00", "Z", "Europe/Amman"; None when the default zone was applied
    zone_assumed: bool  # True when the source gave no zone and the importer's default was used
    event: str  # Login | Logout | Registration | Upload | Purchase | Request | Other | Unknown | as given
    account: str | None  # the account / user id the event belongs to
    service: str | None  # ESP service, site or virtual host
    possible_proxy: bool | None
    filename: str | None  # upload events: the file uploaded
    md5: str | None
    sha1: str | None
    sha256: str | None
    source: str  # where it was read: "<file>:line N" or "<file>:<element path or JSON pointer>"


@dataclass(frozen=True, slots=True)
class ReportedFile:
    filename: str | None  # the name the user uploaded it under when the report gives it
    url: str | None  # where the file was located
    md5: str | None  # lower-case hex
    sha1: str | None
    sha256: str | None
    classification: str | None  # industry scale A1 | A2 | B1 | B2
    viewed_by_esp: bool | None
    publicly_available: bool | None
    events: tuple[IpEvent, ...]  # the upload's IP capture


@dataclass(frozen=True, slots=True)
class Person:
    role: str  # reported | victim | recipient
    names: tuple[str, ...]  # full names as given ("first last")
    identifiers: tuple[Identifier, ...]
    events: tuple[IpEvent, ...]


@dataclass(frozen=True, slots=True)
class TipReport:
    source_format: str  # cybertip-xml | cybertip-json | upload-csv | upload-json | access-log
    source_name: str  # file name
    report_id: str | None  # the CyberTipline report number; None for logs
    esp: str | None  # reporting company / platform
    incident_type: str | None
    incident_time_utc: datetime | None
    summary: str | None
    persons: tuple[Person, ...]
    files: tuple[ReportedFile, ...]
    events: tuple[IpEvent, ...]  # every IP event of the report, flattened: persons', files', the log's lines
