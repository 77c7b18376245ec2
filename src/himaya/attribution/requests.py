"""Requests about the subscriber behind a case's IP events: which are due, to whom, and which may not be.

From the tips summary (`summary.py`: merged events, the ISP of every address from the offline IP
database with its build date, and flags), per address:

- an internal address (10/8, 192.168/16, ...) is never requested: no ISP assigned it to a subscriber;
- an event on a shared address (carrier-grade NAT, a mobile network) without the source port is not
  requested: the ISP would name every subscriber behind the address, or a wrong one, and a wrong
  subscriber means the wrong home is searched. The same address's events with a port are requested;
- an address outside the unit's country (`online.unit_country`) goes to the partner channel
  (`online.partner_name`): one referral per country, which never names the case;
- a hosting / cloud / VPN address, or one the platform flagged as a possible proxy, is requested, and the
  document carries a visible warning: its subscriber may be a hosting customer or the proxy's operator;
- the rest: one subscriber-information request per ISP (AS number and organisation) listing every event.
  With `online.preservation_first` each ISP first gets a preservation request, and the subscriber request
  only once that one is marked sent.

Drafting again drafts nothing for events already covered by a request that is not cancelled (events are
compared by their merge key: ip, port, UTC time, event, account); events imported later get new requests.
A request's answer (the subscriber's details, an attached file kept encrypted in the blob store) is
recorded against the request, and so against the IP events it lists.
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from himaya.attribution import documents
from himaya.attribution.summary import CGNAT
from himaya.errors import UsageError
from himaya.online.settings import OnlineSettings
from himaya.store.blobs import BlobStore
from himaya.store.models import Case, IspRequest, utcnow

KINDS = documents.KINDS
STATUSES = ("draft", "sent", "answered", "cancelled")
LANGUAGE_CHOICES = ("auto", "en", "ar")
# Organisation names that say "a mobile network": its public addresses are shared by many subscribers at
# once, like carrier-grade NAT space, so an event without the source port names nobody (a heuristic).
MOBILE_WORDS = ("mobile", "cellular", "wireless", "gsm", "lte", "umts")
MAX_ATTACHMENT = 100 * 1024 * 1024
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")

REASON_INTERNAL = (
    "internal address: no ISP assigns it to a subscriber (the log recorded an internal hop, not the user)"
)
REASON_SHARED = (
    "shared address (carrier-grade NAT or a mobile network) without a source port: the ISP cannot tell "
    "its subscribers apart, and a wrong subscriber means the wrong home is searched — ask the platform "
    "for the source port"
)
REASON_NO_ISP = (
    "the IP database holds no network for this address: no ISP to ask — check online.mmdb (an ASN "
    "database such as GeoLite2-ASN) and look the address up by hand"
)

EventKey = tuple[str, int | None, str, str, str | None]


def event_key(event: dict[str, Any]) -> EventKey:
    """The merge key of `summary.py`: the same event from several sources is one event."""
    return (event["ip"], event["port"], event["time_utc"], event["event"], event["account"])


@dataclass(frozen=True)
class Refused:
    """Events of one address that get no request, and why."""

    ip: str
    reason: str
    events: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Waiting:
    """Events of one ISP whose subscriber request waits for a preservation request to be marked sent."""

    isp: str
    preservation: tuple[str, ...]  # the references to mark sent
    events: int


@dataclass
class DraftResult:
    drafted: list[IspRequest] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    warnings: dict[str, list[str]] = field(default_factory=dict)  # reference → what a reader must know
    covered: int = 0  # events already covered by an earlier request


@dataclass
class _Group:
    asn: int | None
    org: str | None
    country: str | None
    ipdb: set[str] = field(default_factory=set)
    built: list[datetime] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def isp_label(asn: int | None, org: str | None, country: str | None) -> str:
    parts = [f"AS{asn}" if asn is not None else None, org, f"({country})" if country else None]
    return " ".join(part for part in parts if part) or "unknown network"


def _parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _mobile(org: str | None) -> bool:
    return bool(org) and any(word in (org or "").lower() for word in MOBILE_WORDS)


def _shared(ip: str, org: str | None) -> bool:
    return ipaddress.ip_address(ip) in CGNAT or _mobile(org)


def draft_requests(
    session: Session,
    case_id: int,
    record: dict[str, Any],
    settings: OnlineSettings,
    *,
    actor: str,
    language: str = "auto",
    now: datetime | None = None,
) -> DraftResult:
    """Draft every request due for the case's events in `record` (`summary.summary(...)` with the IP
    database and `settings.unit_country`): recorded with their HTML, status draft; nothing is sent."""
    if language not in LANGUAGE_CHOICES:
        raise UsageError(f"--language must be one of {', '.join(LANGUAGE_CHOICES)}")
    if not _PREFIX.fullmatch(settings.reference_prefix):
        raise UsageError(
            f"online.reference_prefix {settings.reference_prefix!r} is not a plain prefix (letters, digits, "
            "'.', '_', '-'; at most 40); set one such as HMY"
        )
    ips = {row["ip"]: row for row in record["ips"]}
    result = DraftResult()
    referrals: dict[str, _Group] = {}
    isps: dict[tuple[int | None, str | None], _Group] = {}
    refused: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for event in sorted(record["events"], key=lambda e: (e["time_utc"], e["ip"], e["port"] or 0)):
        row = ips[event["ip"]]
        flags: list[str] = list(row["flags"])
        shared = _shared(event["ip"], row["org"])
        if "internal-address" in flags:
            refused[(event["ip"], REASON_INTERNAL)].append(event)
            continue
        if shared and event["port"] is None:
            refused[(event["ip"], REASON_SHARED)].append(event)
            continue
        if shared:
            flags.append("shared-address")
        entry = {**event, "flags": flags, "asn": row["asn"], "org": row["org"]}
        if "abroad" in flags:
            group = referrals.setdefault(row["country"], _Group(None, None, row["country"]))
        elif row["asn"] is None:
            refused[(event["ip"], REASON_NO_ISP)].append(event)
            continue
        else:
            key = (row["asn"], row["org"])
            group = isps.setdefault(key, _Group(row["asn"], row["org"], row["country"]))
        if row["ipdb"]:
            group.ipdb.add(row["ipdb"])
        if row["ipdb_built_utc"]:
            group.built.append(_parse_utc(row["ipdb_built_utc"]))
        group.events.append(entry)
    result.refused = [Refused(ip, reason, tuple(events)) for (ip, reason), events in sorted(refused.items())]
    covered = _covered(session, case_id)
    case = session.get(Case, case_id)
    if case is None:
        raise UsageError(f"case id {case_id} does not exist in this store")
    drafter = _Drafter(session, case_id, case.number, settings, actor, language, now or utcnow())
    for _country, group in sorted(referrals.items()):
        new = _uncovered(group.events, covered["referral"], result)
        if new:
            result.drafted.append(drafter.draft("referral", group, new))
    for _isp, group in sorted(isps.items(), key=lambda item: (item[0][0] or 0, item[0][1] or "")):
        need = _uncovered(group.events, covered["subscriber"], result)
        if not need:
            continue
        if settings.preservation_first:
            _preservation_first(drafter, group, need, covered["preservation"], result)
        else:
            result.drafted.append(drafter.draft("subscriber", group, need))
    result.warnings = drafter.warnings
    return result


def _preservation_first(
    drafter: _Drafter,
    group: _Group,
    need: list[dict[str, Any]],
    preserved: dict[EventKey, IspRequest],
    result: DraftResult,
) -> None:
    """The ISP's preservation request for events not yet preserved; the subscriber request for events
    whose preservation request went out; the rest wait for theirs to be marked sent."""
    unpreserved = [e for e in need if event_key(e) not in preserved]
    ready = [e for e in need if event_key(e) in preserved and preserved[event_key(e)].status != "draft"]
    waiting_for = {
        preserved[event_key(e)].reference
        for e in need
        if event_key(e) in preserved and preserved[event_key(e)].status == "draft"
    }
    if unpreserved:
        preservation = drafter.draft("preservation", group, unpreserved)
        result.drafted.append(preservation)
        waiting_for.add(preservation.reference)
    if ready:
        before = sorted({preserved[event_key(e)].reference for e in ready})
        result.drafted.append(drafter.draft("subscriber", group, ready, before))
    if len(ready) < len(need):
        label = isp_label(group.asn, group.org, group.country)
        result.waiting.append(Waiting(label, tuple(sorted(waiting_for)), len(need) - len(ready)))


def _uncovered(
    events: Sequence[dict[str, Any]], covered: dict[EventKey, IspRequest], result: DraftResult
) -> list[dict[str, Any]]:
    new = [e for e in events if event_key(e) not in covered]
    result.covered += len(events) - len(new)
    return new


def _covered(session: Session, case_id: int) -> dict[str, dict[EventKey, IspRequest]]:
    """Per kind, the events covered by a request that is not cancelled (the oldest request wins)."""
    covered: dict[str, dict[EventKey, IspRequest]] = {kind: {} for kind in KINDS}
    for request in session.scalars(
        select(IspRequest)
        .where(IspRequest.case_id == case_id, IspRequest.status != "cancelled")
        .order_by(IspRequest.id)
    ):
        for event in request_events(request):
            covered[request.kind].setdefault(event_key(event), request)
    return covered


class _Drafter:
    def __init__(
        self,
        session: Session,
        case_id: int,
        case_number: str,
        settings: OnlineSettings,
        actor: str,
        language: str,
        now: datetime,
    ) -> None:
        self.session = session
        self.case_id = case_id
        self.case_number = case_number
        self.settings = settings
        self.actor = actor
        self.language = language
        self.now = now
        self.warnings: dict[str, list[str]] = {}

    def draft(
        self, kind: str, group: _Group, events: list[dict[str, Any]], before: Sequence[str] = ()
    ) -> IspRequest:
        referral = kind == "referral"
        language = self.language
        if language == "auto":
            # A referral is read by the partner channel, a request by the ISP: each in its own language.
            language = self.settings.notice_language_for(None if referral else group.country)
        zone = self.settings.unit_timezone
        stored = [_stored_event(e, zone) for e in events]
        request = IspRequest(
            case_id=self.case_id,
            reference=f"pending-{secrets.token_hex(8)}",
            kind=kind,
            asn=group.asn,
            org=group.org,
            country=group.country,
            ipdb_built_at=min(group.built) if group.built else None,
            language=language,
            status="draft",
            events_json=json.dumps(stored, ensure_ascii=False),
            html="",
            created_by=self.actor,
            created_at=self.now,
        )
        self.session.add(request)
        self.session.flush()
        request.reference = f"{self.settings.reference_prefix}-ISP-{self.now.year}-{request.id:06d}"
        document = documents.RequestDocument(
            kind=kind,
            language=language,
            reference=request.reference,
            date_utc=self.now,
            case_number=None if referral else self.case_number,
            unit_name=self.settings.unit_name,
            unit_email=self.settings.unit_email or None,
            unit_phone=self.settings.unit_phone or None,
            legal_basis=self.settings.legal_basis(language),
            asn=group.asn,
            org=group.org,
            country=group.country,
            ipdb=", ".join(sorted(group.ipdb)) or None,
            ipdb_built_utc=request.ipdb_built_at,
            zone=zone,
            events=tuple(_document_event(e) for e in stored),
            partner=self.settings.partner_name if referral else None,
            preservation_references=tuple(before),
        )
        request.html = documents.render_html(document)
        self.session.flush()
        notes = warnings_of(stored)
        if notes:
            self.warnings[request.reference] = notes
        return request


def _stored_event(event: dict[str, Any], zone: str) -> dict[str, Any]:
    local = documents.local_time(_parse_utc(event["time_utc"]), zone)
    return {
        "ip": event["ip"],
        "port": event["port"],
        "time_utc": event["time_utc"],
        "time_local": local.isoformat(),
        "zone": zone,
        "event": event["event"],
        "account": event["account"],
        "flags": event["flags"],
        "asn": event["asn"],
        "org": event["org"],
    }


def _document_event(stored: dict[str, Any]) -> documents.RequestEvent:
    return documents.RequestEvent(
        ip=stored["ip"],
        port=stored["port"],
        time_utc=_parse_utc(stored["time_utc"]),
        event=stored["event"],
        account=stored["account"],
        flags=tuple(stored["flags"]),
        asn=stored.get("asn"),
        org=stored.get("org"),
    )


def warnings_of(events: Iterable[dict[str, Any]]) -> list[str]:
    """What a reader of the request must know about its addresses (hosting, reported proxy)."""
    hosting: dict[str, None] = {}
    proxy: dict[str, None] = {}
    for event in events:
        if "hosting" in event["flags"]:
            hosting[event["ip"]] = None
        if "proxy-reported" in event["flags"]:
            proxy[event["ip"]] = None
    notes = []
    if hosting:
        notes.append(
            f"hosting / cloud / VPN address ({', '.join(hosting)}): the subscriber may be a hosting customer "
            "or the provider itself"
        )
    if proxy:
        notes.append(
            f"possible proxy reported ({', '.join(proxy)}): the subscriber may be the proxy's operator"
        )
    return notes


# ----------------------------------------------------------------------------------- after drafting


def request_events(request: IspRequest) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(request.events_json)
    return events


def find_request(session: Session, reference: str) -> IspRequest:
    request = session.scalar(select(IspRequest).where(IspRequest.reference == reference))
    if request is None:
        raise UsageError(f"no ISP request {reference!r}; `himaya tips requests CASE` drafts and lists them")
    return request


def case_requests(session: Session, case_id: int) -> list[IspRequest]:
    return list(
        session.scalars(select(IspRequest).where(IspRequest.case_id == case_id).order_by(IspRequest.id))
    )


def requests_by_event(session: Session, case_id: int) -> dict[EventKey, list[IspRequest]]:
    """Every request (cancelled ones too) recorded against each IP event of the case."""
    found: dict[EventKey, list[IspRequest]] = defaultdict(list)
    for request in case_requests(session, case_id):
        for event in request_events(request):
            found[event_key(event)].append(request)
    return dict(found)


def mark_sent(request: IspRequest, when: datetime | None = None) -> None:
    """A person sent the request (by the unit's own channel): it is no longer a draft."""
    if request.status != "draft":
        raise UsageError(
            f"{request.reference} is {request.status}, not a draft; only a draft can be recorded as sent"
        )
    request.status = "sent"
    request.sent_at = when or utcnow()


def record_answer(
    request: IspRequest,
    blobs: BlobStore,
    *,
    text: str,
    actor: str,
    attachment: tuple[str, bytes] | None = None,
    when: datetime | None = None,
) -> None:
    """The ISP's (or partner's) answer: the subscriber's details as text, and the file that came with it,
    encrypted into the blob store (it holds a person's details: never a plain file under HIMAYA_HOME)."""
    if request.status == "draft":
        raise UsageError(
            f"{request.reference} is still a draft; record that it was sent first "
            f"(`himaya tips request sent {request.reference}`)"
        )
    if request.status != "sent":
        raise UsageError(f"{request.reference} is {request.status}; only a sent request can be answered")
    if not text.strip() and attachment is None:
        raise UsageError(
            f"the answer to {request.reference} is empty; give the subscriber's details or a file"
        )
    if attachment is not None:
        name, data = attachment
        if len(data) > MAX_ATTACHMENT:
            raise UsageError(
                f"{name} is {len(data):,} bytes; an attached answer may be at most {MAX_ATTACHMENT:,} bytes"
            )
        request.response_blob_id = blobs.put(data)
        request.response_name = name[:500]
    request.response_text = text
    request.status = "answered"
    request.answered_at = when or utcnow()
    request.answered_by = actor
