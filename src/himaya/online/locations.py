"""Tracked locations: URLs serving known or confirmed material, from detection to removal.

detected (a captured medium matched an alert hash set) → confirmed (a person looked at it) → notified (a
notice went to the host, or a referral to a partner) → removed (a re-check found it gone) | online (still
there after a notice). Approval by a supervisor and the absence of any hold (deconfliction) are what let
a confirmed location be notified.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from himaya.errors import OnlineError, UsageError
from himaya.hashsets.categories import CategoryMap
from himaya.online.hosting import (
    AbuseContact,
    IpDatabase,
    IpInfo,
    choose_contact,
    host_of,
    resolve_addresses,
)
from himaya.online.settings import OnlineSettings
from himaya.reports.records import file_category, match_records, with_media_and_matches
from himaya.store.models import (
    AbuseContactRow,
    CaptureExchange,
    File,
    NoticeItem,
    OnlineCapture,
    OnlineHold,
    OnlineLocation,
    OnlineNotice,
    utcnow,
)

STATUSES = ("detected", "confirmed", "notified", "removed", "online")
OPEN = ("detected", "confirmed", "notified", "online")  # re-checked until removed
HOLD_SCOPES = ("case", "host", "location")


@dataclass(frozen=True)
class Hosting:
    """Who hosts a location, as far as the offline database and the contacts say."""

    info: IpInfo | None
    contact: AbuseContact | None
    addresses: list[str] | None = None  # every address the host name resolves to (None: not resolved)


@dataclass
class HostingLookup:
    """DNS → IP → ASN / organisation / country (offline .mmdb) → abuse contact (table, then RDAP)."""

    settings: OnlineSettings
    ipdb: IpDatabase | None = None
    contacts: list[AbuseContact] = field(default_factory=list)
    rdap: Callable[[str], AbuseContact | None] | None = None  # online look-up, only when allowed
    resolve: Callable[[str, int], list[str]] | None = None  # the capture's own resolver (DNS → IPs)

    def identify(self, url: str, server_ip: str | None) -> Hosting:
        host = host_of(url)
        addresses = None
        if self.resolve is not None:
            try:
                addresses = resolve_addresses(host, self.resolve)
            except (OnlineError, UsageError):
                addresses = None  # gone from DNS since the capture: the connected address stands
        # The address connected to is the evidence; through a proxy there is none, so the name's own.
        ip = server_ip or (addresses[0] if addresses else None)
        info = self.ipdb.lookup(ip) if self.ipdb is not None and ip else None
        blank = IpInfo(ip or "", None, None, None, None, None, None)
        contact = choose_contact(self.contacts, host, info or blank)
        if contact is None and self.rdap is not None and ip:
            contact = self.rdap(ip)
        return Hosting(info, contact, addresses)


def load_contacts(session: Session) -> list[AbuseContact]:
    return [
        AbuseContact(
            name=row.name,
            email=row.email,
            country=row.country,
            channel=row.channel,
            source="contacts",
            asn=row.asn,
            domain=row.domain,
            org_contains=row.org_contains,
        )
        for row in session.scalars(select(AbuseContactRow).order_by(AbuseContactRow.id))
    ]


def replace_contacts(session: Session, contacts: Sequence[AbuseContact], source: str) -> int:
    """The unit's contacts table becomes `contacts` (an import replaces the file's earlier rows)."""
    for row in session.scalars(select(AbuseContactRow).where(AbuseContactRow.source == source)):
        session.delete(row)
    for contact in contacts:
        session.add(
            AbuseContactRow(
                name=contact.name,
                email=contact.email,
                country=contact.country,
                channel=contact.channel,
                asn=contact.asn,
                domain=contact.domain,
                org_contains=contact.org_contains,
                source=source,
            )
        )
    return len(contacts)


def _apply_hosting(location: OnlineLocation, hosting: Hosting) -> None:
    info, contact = hosting.info, hosting.contact
    if hosting.addresses:
        location.addresses = ",".join(hosting.addresses)
    if info is not None:
        location.asn, location.org, location.country = info.asn, info.org, info.country
        location.ipdb_built_at = info.built_utc
    if contact is not None:
        location.contact_name, location.contact_email = contact.name, contact.email
        if location.country is None:
            location.country = contact.country
    location.contact_channel = contact.channel if contact is not None else None


def route_of(location: OnlineLocation, settings: OnlineSettings) -> str:
    """`partner` when the host is outside the unit's country (as far as the database says) or its only
    contact is a partner channel: then a referral goes to the partner instead of a notice to the host.
    Decided when notices are made, so a change of online.unit_country applies to what is tracked."""
    abroad = bool(settings.unit_country and location.country and location.country != settings.unit_country)
    return "partner" if abroad or location.contact_channel == "partner" else "direct"


def track_captures(
    session: Session,
    capture_ids: Sequence[int],
    lookup: HostingLookup,
    categories: CategoryMap | None = None,
    *,
    only_new: bool = False,
) -> int:
    """A location for every captured URL whose content (or a member of it) matched an alert hash set.

    Returns how many locations are new. A URL tracked before (an earlier capture) is brought up to date;
    if it had been removed, it is back online. `only_new` (after a re-match: nothing was fetched again)
    leaves tracked URLs as they are.
    """
    if not capture_ids:
        return 0
    rows = session.execute(
        select(CaptureExchange, OnlineCapture)
        .join(OnlineCapture, CaptureExchange.capture_id == OnlineCapture.id)
        .where(CaptureExchange.capture_id.in_(capture_ids), CaptureExchange.locator.is_not(None))
    ).all()
    by_locator: dict[tuple[int, str], tuple[CaptureExchange, OnlineCapture]] = {
        (capture.evidence_id, exchange.locator or ""): (exchange, capture) for exchange, capture in rows
    }
    evidence_ids = {capture.evidence_id for _, capture in rows}
    files = session.scalars(
        select(File)
        .where(File.evidence_id.in_(evidence_ids), File.matches.any())
        .options(*with_media_and_matches())
    ).all()
    best: dict[tuple[int, str], tuple[File, str, str | None]] = {}
    for file in files:
        # A member of a captured archive is tracked at the archive's URL.
        key = (file.evidence_id, file.locator.split("!#", 1)[0])
        if key not in by_locator:
            continue
        category = file_category(match_records(list(file.matches), categories), categories)
        if category.category is None:
            continue  # ignore-set matches only
        label = category.labels[0] if category.labels else None
        if key not in best or file.depth < best[key][0].depth:
            best[key] = (file, category.category, label)
    new = 0
    tracked = (
        set(
            session.scalars(
                select(OnlineLocation.url).where(
                    OnlineLocation.case_id.in_({capture.case_id for _, capture in rows})
                )
            )
        )
        if only_new
        else set()
    )
    for key, (file, category_name, label) in best.items():
        exchange, capture = by_locator[key]
        if exchange.url in tracked:
            continue
        new += _track(session, capture, exchange, file, category_name, label, lookup)
    return new


def _track(
    session: Session,
    capture: OnlineCapture,
    exchange: CaptureExchange,
    file: File,
    category: str,
    label: str | None,
    lookup: HostingLookup,
    status: str = "detected",
    actor: str | None = None,
) -> int:
    location = session.scalar(
        select(OnlineLocation).where(
            OnlineLocation.case_id == capture.case_id, OnlineLocation.url == exchange.url
        )
    )
    created = location is None
    if location is None:
        earlier = (
            session.scalar(
                select(OnlineLocation.id)
                .where(OnlineLocation.sha256 == file.sha256, OnlineLocation.url != exchange.url)
                .order_by(OnlineLocation.first_seen_at, OnlineLocation.id)
                .limit(1)
            )
            if file.sha256
            else None
        )
        location = OnlineLocation(
            case_id=capture.case_id,
            url=exchange.url,
            host=host_of(exchange.url),
            status=status,
            first_seen_at=exchange.fetched_at,
            checks=0,
            reappearance_of=earlier,
        )
        if status == "confirmed":
            location.confirmed_at, location.confirmed_by = utcnow(), actor
        session.add(location)
    elif location.status == "removed":
        location.status = "online"  # it came back at the same address
    location.page_url = capture.page_url
    location.capture_id = capture.id
    location.file_id = file.id
    location.sha256, location.md5 = file.sha256, file.md5
    location.pdq = file.media.pdq if file.media is not None else None
    location.category, location.source_label = category, label
    location.server_ip = exchange.server_ip
    location.etag, location.last_modified = exchange.etag, exchange.last_modified
    location.content_length = exchange.size
    _apply_hosting(location, lookup.identify(exchange.url, exchange.server_ip))
    session.flush()
    return 1 if created else 0


# ------------------------------------------------------------------ selection and lifecycle


def select_locations(
    session: Session, case_id: int, selectors: Sequence[str], *, statuses: Sequence[str] = ()
) -> list[OnlineLocation]:
    """Locations of the case named by id or URL; `all` names every one (in `statuses` when given)."""
    query = select(OnlineLocation).where(OnlineLocation.case_id == case_id)
    if statuses:
        query = query.where(OnlineLocation.status.in_(statuses))
    if list(selectors) == ["all"]:
        return list(session.scalars(query.order_by(OnlineLocation.id)))
    ids = [int(s) for s in selectors if s.isdigit()]
    urls = [s for s in selectors if not s.isdigit()]
    found = list(
        session.scalars(
            query.where(or_(OnlineLocation.id.in_(ids), OnlineLocation.url.in_(urls))).order_by(
                OnlineLocation.id
            )
        )
    )
    named = {str(loc.id) for loc in found} | {loc.url for loc in found}
    missing = [s for s in selectors if s not in named]
    if missing and not statuses:
        raise UsageError(
            f"no tracked location {missing[0]!r} in this case; `himaya online status CASE` lists them"
        )
    return found


# The categories a notice can cite (docs/categories.md): illegal material, and material removed under the
# host's terms. Comparison, non-pertinent or uncategorized content is never the object of a notice.
NOTICE_CATEGORIES = ("illegal", "harmful-abusive", "age-difficult", "cgi")


def confirm(
    session: Session, locations: Sequence[OnlineLocation], actor: str, category: str | None = None
) -> list[OnlineLocation]:
    """A person looked at the captured content and confirms it: detected → confirmed.

    `category` is the person's own decision; without it the matched hash set's category stands, and a
    location matched without a category a notice could cite must be given one.
    """
    if category is not None and category not in NOTICE_CATEGORIES:
        raise UsageError(f"--category must be one of {', '.join(NOTICE_CATEGORIES)}, not {category!r}")
    unlabelled = [
        loc
        for loc in locations
        if loc.status == "detected" and category is None and loc.category not in NOTICE_CATEGORIES
    ]
    if unlabelled:
        raise UsageError(
            f"location {unlabelled[0].id} ({unlabelled[0].url}) matched without a category a notice can "
            f"cite ({unlabelled[0].category or 'none'}); look at it and give one: --category "
            + " | ".join(NOTICE_CATEGORIES)
        )
    changed = []
    for location in locations:
        if location.status == "detected":
            location.status = "confirmed"
            location.confirmed_at, location.confirmed_by = utcnow(), actor
            if category is not None:
                location.category = category
            changed.append(location)
    return changed


def confirm_captured(
    session: Session, case_id: int, url: str, actor: str, lookup: HostingLookup, category: str
) -> OnlineLocation:
    """Track a captured URL that matched nothing (new material) because a person confirmed it."""
    if category not in NOTICE_CATEGORIES:
        raise UsageError(f"--category must be one of {', '.join(NOTICE_CATEGORIES)}, not {category!r}")
    row = session.execute(
        select(CaptureExchange, OnlineCapture)
        .join(OnlineCapture, CaptureExchange.capture_id == OnlineCapture.id)
        .where(
            OnlineCapture.case_id == case_id, CaptureExchange.url == url, CaptureExchange.locator.is_not(None)
        )
        .order_by(CaptureExchange.id.desc())
        .limit(1)
    ).first()
    if row is None:
        raise UsageError(f"{url} was not captured in this case; capture its page first")
    exchange, capture = row
    file = session.scalar(
        select(File).where(File.evidence_id == capture.evidence_id, File.locator == exchange.locator)
    )
    if file is None or file.sha256 is None:
        raise UsageError(f"{url} has no analysed content in this case (was the capture scanned?)")
    _track(session, capture, exchange, file, category, None, lookup, status="confirmed", actor=actor)
    location = session.scalar(
        select(OnlineLocation).where(OnlineLocation.case_id == case_id, OnlineLocation.url == url)
    )
    assert location is not None
    if location.status == "detected":
        confirm(session, [location], actor, category)
    return location


def approve(session: Session, locations: Sequence[OnlineLocation], actor: str) -> list[OnlineLocation]:
    """A supervisor approves notifying the host of confirmed locations (recorded, never implied)."""
    unconfirmed = [loc for loc in locations if loc.status == "detected"]
    if unconfirmed:
        raise UsageError(
            f"location {unconfirmed[0].id} ({unconfirmed[0].url}) is not confirmed yet: a person must "
            "look at it first (`himaya online confirm`)"
        )
    changed = []
    for location in locations:
        if location.approved_at is None and location.status != "removed":
            location.approved_at, location.approved_by = utcnow(), actor
            changed.append(location)
    return changed


def add_hold(
    session: Session, case_id: int | None, scope: str, value: str | None, reason: str, actor: str
) -> OnlineHold:
    if scope not in HOLD_SCOPES:
        raise UsageError(f"hold scope must be one of {', '.join(HOLD_SCOPES)}")
    if not reason.strip():
        raise UsageError("say why notices must wait (--reason): the hold is read by whoever lifts it")
    if scope == "host":
        value = (value or "").strip().lower()
        if not value:
            raise UsageError("a host hold needs the host name (--host example.net)")
    hold = OnlineHold(case_id=case_id, scope=scope, value=value, reason=reason.strip(), created_by=actor)
    session.add(hold)
    session.flush()
    return hold


def lift_hold(session: Session, hold_id: int, actor: str) -> OnlineHold:
    hold = session.get(OnlineHold, hold_id)
    if hold is None or hold.lifted_at is not None:
        raise UsageError(f"no standing hold {hold_id}; `himaya online holds` lists them")
    hold.lifted_at, hold.lifted_by = utcnow(), actor
    return hold


def standing_holds(session: Session, case_id: int | None = None) -> list[OnlineHold]:
    query = select(OnlineHold).where(OnlineHold.lifted_at.is_(None)).order_by(OnlineHold.id)
    if case_id is not None:
        query = query.where(or_(OnlineHold.case_id == case_id, OnlineHold.case_id.is_(None)))
    return list(session.scalars(query))


def hold_on(location: OnlineLocation, holds: Sequence[OnlineHold]) -> OnlineHold | None:
    """The hold that keeps this location's host from being told, if any: the case, its host (or a
    parent domain of it), or the location itself."""
    for hold in holds:
        if hold.case_id is not None and hold.case_id != location.case_id:
            continue
        if hold.scope == "case" and hold.case_id == location.case_id:
            return hold
        if hold.scope == "location" and hold.value == str(location.id):
            return hold
        if (
            hold.scope == "host"
            and hold.value
            and (location.host == hold.value or location.host.endswith("." + hold.value))
        ):
            return hold
    return None


# ------------------------------------------------------------------ the status contract


def _utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def status_records(session: Session, case_id: int) -> list[dict[str, Any]]:
    """`himaya online status CASE --format json`: one object per tracked location (docs/online.md)."""
    notices: dict[int, list[dict[str, Any]]] = {}
    for item, notice in session.execute(
        select(NoticeItem, OnlineNotice)
        .join(OnlineNotice, NoticeItem.notice_id == OnlineNotice.id)
        .where(OnlineNotice.case_id == case_id)
        .order_by(OnlineNotice.id)
    ):
        notices.setdefault(item.location_id, []).append(
            {
                "reference": notice.reference,
                "kind": notice.kind,
                "status": notice.status,
                "channel": notice.channel,
                "created_utc": _utc(notice.created_at),
                "sent_utc": _utc(notice.sent_at),
            }
        )
    holds = standing_holds(session, case_id)
    records = []
    for location in session.scalars(
        select(OnlineLocation).where(OnlineLocation.case_id == case_id).order_by(OnlineLocation.id)
    ):
        hold = hold_on(location, holds)
        records.append(
            {
                "id": location.id,
                "url": location.url,
                "page_url": location.page_url,
                "status": location.status,
                "server_ip": location.server_ip,
                "addresses": location.addresses.split(",") if location.addresses else [],
                "asn": location.asn,
                "org": location.org,
                "country": location.country,
                "first_seen_utc": _utc(location.first_seen_at),
                "removed_utc": _utc(location.removed_at),
                "notices": notices.get(location.id, []),
                # Grown beyond the contract: what a person needs to act on it.
                "host": location.host,
                "sha256": location.sha256,
                "category": location.category,
                "source_label": location.source_label,
                "confirmed_by": location.confirmed_by,
                "approved_by": location.approved_by,
                "notified_utc": _utc(location.notified_at),
                "last_checked_utc": _utc(location.last_checked_at),
                "next_check_utc": _utc(location.next_check_at),
                "last_outcome": location.last_outcome,
                "contact": location.contact_email,
                "channel": location.contact_channel,
                "hold": hold.reason if hold is not None else None,
                "reappearance_of": location.reappearance_of,
            }
        )
    return records


_PROGRESS = {"detected": 0, "confirmed": 1, "notified": 2, "online": 3, "removed": 4}


def hash_records(session: Session, case_id: int) -> list[dict[str, Any]]:
    """The lifecycle per content: one object per SHA-256 over every URL that served it in the case.

    `status` is `removed` only when every one of its locations is; otherwise the least advanced open
    status (the content is still out there, at least as far as that location goes).
    """
    groups: dict[str, list[OnlineLocation]] = {}
    for location in session.scalars(
        select(OnlineLocation)
        .where(OnlineLocation.case_id == case_id, OnlineLocation.sha256.is_not(None))
        .order_by(OnlineLocation.id)
    ):
        groups.setdefault(location.sha256 or "", []).append(location)
    records = []
    for sha256, locations in groups.items():
        open_ones = [loc for loc in locations if loc.status != "removed"]
        status = (
            min((loc.status for loc in open_ones), key=lambda s: _PROGRESS[s]) if open_ones else "removed"
        )
        removed = [loc.removed_at for loc in locations if loc.removed_at is not None]
        records.append(
            {
                "sha256": sha256,
                "status": status,
                "category": locations[0].category,
                "locations": len(locations),
                "open": len(open_ones),
                "urls": [loc.url for loc in locations],
                "hosts": sorted({loc.host for loc in locations}),
                "first_seen_utc": _utc(min(loc.first_seen_at for loc in locations)),
                "removed_utc": _utc(max(removed)) if not open_ones and removed else None,
            }
        )
    return records
