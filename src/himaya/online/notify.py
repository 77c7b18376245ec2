"""Notices for approved locations: who gets what, in which order, and what is recorded.

Only a confirmed location that a supervisor approved, and that no hold covers, is ever put in a notice.
Locations are grouped per host and recipient: one notice lists all of a host's items. A host outside the
unit's country gets no notice: its items go to the partner channel as a referral. With
online.preservation_first, the host first gets a preservation request, and the removal notice only once
that request went out. Every notice is recorded (subject, text, HTML) before any attempt to send it;
without an SMTP server, or when sending fails, it stays `to-send` for a person.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from himaya.errors import NoticeError, UsageError
from himaya.online import notices
from himaya.online.locations import hold_on, route_of, standing_holds
from himaya.online.settings import OnlineSettings
from himaya.store.models import NoticeItem, OnlineLocation, OnlineNotice, utcnow


@dataclass
class NotifyResult:
    created: list[OnlineNotice] = field(default_factory=list)
    sent: list[OnlineNotice] = field(default_factory=list)
    to_send: list[OnlineNotice] = field(default_factory=list)
    failed: list[OnlineNotice] = field(default_factory=list)
    held: list[tuple[OnlineLocation, str]] = field(default_factory=list)  # (location, the hold's reason)
    waiting: list[OnlineLocation] = field(default_factory=list)  # preservation request not sent yet
    refused: list[tuple[list[OnlineLocation], str]] = field(default_factory=list)  # could not be rendered


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def smtp_settings(settings: OnlineSettings) -> notices.SmtpSettings | None:
    if not settings.smtp_host:
        return None
    return notices.SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username or None,
        password=settings.smtp_password(),
        sender=settings.smtp_sender or settings.unit_email,
    )


def _notice_items(locations: Sequence[OnlineLocation]) -> tuple[notices.NoticeItem, ...]:
    return tuple(
        notices.NoticeItem(
            url=loc.url,
            page_url=loc.page_url,
            captured_utc=_aware(loc.first_seen_at) or utcnow(),
            sha256=loc.sha256 or "",
            md5=loc.md5,
            pdq=loc.pdq,
            category=loc.category or "uncategorized",
            source_label=loc.source_label,
            server_ip=loc.server_ip,
        )
        for loc in locations
    )


def _kinds_sent(session: Session, location_ids: Sequence[int]) -> dict[int, dict[str, OnlineNotice]]:
    """For each location, its notices by kind (the latest of each kind), cancelled ones left out."""
    found: dict[int, dict[str, OnlineNotice]] = {}
    if not location_ids:
        return found
    for item, notice in session.execute(
        select(NoticeItem, OnlineNotice)
        .join(OnlineNotice, NoticeItem.notice_id == OnlineNotice.id)
        .where(NoticeItem.location_id.in_(location_ids), OnlineNotice.status != "cancelled")
        .order_by(OnlineNotice.id)
    ):
        found.setdefault(item.location_id, {})[notice.kind] = notice
    return found


def create_notice(
    session: Session,
    case_id: int,
    kind: str,
    locations: Sequence[OnlineLocation],
    settings: OnlineSettings,
    actor: str,
    *,
    previous: OnlineNotice | None = None,
    partner: bool | None = None,
) -> OnlineNotice:
    """Render and record one notice for `locations` (one host, one recipient); nothing is sent here.

    `partner`: addressed to the partner channel (a referral, or a follow-up of one).
    """
    first = locations[0]
    partner = kind == "referral" if partner is None else partner
    recipient_name = first.contact_name or f"Abuse desk of {first.host}"
    recipient_email = first.contact_email
    if partner and first.contact_channel != "partner":
        # The host's own abuse desk must not be told: the partner acts in the host's country.
        recipient_name, recipient_email = settings.partner_name, settings.partner_email or None
    # A referral is read by the partner, a notice by the host: each in the language of its country.
    language = settings.notice_language_for(None if partner else first.country)
    notice = OnlineNotice(
        case_id=case_id,
        reference=f"pending-{secrets.token_hex(8)}",
        kind=kind,
        language=language,
        channel="partner" if partner else "direct",
        host=first.host,
        recipient_name=recipient_name,
        recipient_email=recipient_email,
        subject="",
        body_text="",
        body_html="",
        status="to-send",
        created_by=actor,
        previous_id=previous.id if previous is not None else None,
    )
    session.add(notice)
    session.flush()
    # The reference is the notice's own number, never the case number: a host must not learn which
    # investigation it belongs to.
    notice.reference = f"{settings.reference_prefix}-{utcnow().year}-{notice.id:06d}"
    content = notices.NoticeContent(
        kind=kind,
        language=language,
        reference=notice.reference,
        unit_name=settings.unit_name,
        unit_email=settings.unit_email or None,
        unit_phone=settings.unit_phone or None,
        legal_basis=settings.legal_basis(language),
        recipient_name=recipient_name,
        recipient_email=recipient_email,
        host=first.host,
        asn=first.asn,
        org=first.org,
        country=first.country,
        items=_notice_items(locations),
        previous_reference=previous.reference if previous is not None else None,
        previous_sent_utc=_aware(previous.sent_at) if previous is not None else None,
        partner=recipient_name if partner else None,
    )
    rendered = notices.render(content)
    notice.subject, notice.body_text, notice.body_html = rendered.subject, rendered.text, rendered.html
    for location in locations:
        session.add(NoticeItem(notice_id=notice.id, location_id=location.id))
    if not recipient_email:
        notice.error = (
            "no e-mail address for this recipient: add the host's abuse contact "
            "(`himaya online contacts import`), or send it by hand and run `himaya online notice sent "
            f"{notice.reference}`"
        )
    session.flush()
    return notice


def mark_sent(session: Session, notice: OnlineNotice, when: datetime | None = None) -> None:
    """The notice went out (by SMTP, or by a person): its locations are notified as of now."""
    notice.status = "sent"
    notice.sent_at = when or utcnow()
    notice.error = None
    if notice.kind in ("removal", "referral", "follow-up"):
        for location in session.scalars(
            select(OnlineLocation)
            .join(NoticeItem, NoticeItem.location_id == OnlineLocation.id)
            .where(NoticeItem.notice_id == notice.id)
        ):
            if location.notified_at is None:
                location.notified_at = notice.sent_at
            if location.status in ("detected", "confirmed"):
                location.status = "notified"


def deliver(
    session: Session, notice: OnlineNotice, smtp: notices.SmtpSettings | None, reply_to: str = ""
) -> str:
    """Send one recorded notice if a server is configured: sent | to-send | failed."""
    if smtp is None or not notice.recipient_email:
        return notice.status
    rendered = notices.RenderedNotice(
        subject=notice.subject, text=notice.body_text, html=notice.body_html, language=notice.language
    )
    message = notices.build_message(
        rendered,
        sender=smtp.sender,
        to=notice.recipient_email,
        reference=notice.reference,
        reply_to=reply_to or None,
    )
    try:
        notice.message_id = notices.send(message, smtp)
    except NoticeError as error:
        notice.status, notice.error = "failed", str(error)
        return "failed"
    mark_sent(session, notice)
    return "sent"


def notify(
    session: Session,
    case_id: int,
    settings: OnlineSettings,
    actor: str,
    *,
    send: bool = True,
    dry_run: bool = False,
) -> NotifyResult:
    """Notices (or referrals) for every approved, confirmed, not yet notified location of the case."""
    result = NotifyResult()
    holds = standing_holds(session, case_id)
    candidates = list(
        session.scalars(
            select(OnlineLocation)
            .where(
                OnlineLocation.case_id == case_id,
                OnlineLocation.status == "confirmed",
                OnlineLocation.approved_at.is_not(None),
                OnlineLocation.notified_at.is_(None),
            )
            .order_by(OnlineLocation.id)
        )
    )
    ready: list[OnlineLocation] = []
    for location in candidates:
        hold = hold_on(location, holds)
        if hold is not None:
            result.held.append((location, hold.reason))
        else:
            ready.append(location)
    existing = _kinds_sent(session, [loc.id for loc in ready])
    groups: dict[tuple[str, str, str], list[OnlineLocation]] = {}
    for location in ready:
        kinds = existing.get(location.id, {})
        if route_of(location, settings) == "partner":
            if "referral" in kinds:
                continue  # recorded already (to send, sent or failed)
            kind = "referral"
        elif settings.preservation_first and "preservation" not in kinds:
            kind = "preservation"
        elif settings.preservation_first and kinds["preservation"].status != "sent":
            result.waiting.append(location)
            continue
        elif "removal" in kinds:
            continue
        else:
            kind = "removal"
        key = (kind, location.host, location.contact_email or "")
        groups.setdefault(key, []).append(location)
    if dry_run:
        return result
    smtp = smtp_settings(settings) if send else None
    for (kind, _, _), locations in groups.items():
        try:
            with session.begin_nested():  # a notice that cannot be rendered leaves no row behind
                notice = create_notice(session, case_id, kind, locations, settings, actor)
        except NoticeError as error:
            result.refused.append((locations, str(error)))
            continue
        result.created.append(notice)
        outcome = deliver(session, notice, smtp, settings.unit_email)
        {"sent": result.sent, "failed": result.failed}.get(outcome, result.to_send).append(notice)
    return result


def follow_ups(
    session: Session, settings: OnlineSettings, actor: str, *, now: datetime | None = None, send: bool = True
) -> list[OnlineNotice]:
    """A follow-up for every location still online `follow_up_hours` after its last notice was sent."""
    now = now or utcnow()
    due_before = now - timedelta(hours=settings.follow_up_hours)
    online = list(
        session.scalars(
            select(OnlineLocation).where(OnlineLocation.status == "online").order_by(OnlineLocation.id)
        )
    )
    sent_by_location = _kinds_sent(session, [loc.id for loc in online])
    holds = standing_holds(session)
    groups: dict[tuple[int, str, str, int], list[OnlineLocation]] = {}
    previous_of: dict[int, OnlineNotice] = {}
    for location in online:
        kinds = sent_by_location.get(location.id, {})
        last = kinds.get("follow-up") or kinds.get("removal") or kinds.get("referral")
        if last is None or last.status != "sent":
            continue  # nothing went out yet, or a follow-up waits to be sent
        sent_at = _aware(last.sent_at)
        if sent_at is None or sent_at > due_before or hold_on(location, holds) is not None:
            continue
        first = kinds.get("removal") or kinds.get("referral") or last
        previous_of[first.id] = first
        groups.setdefault(
            (location.case_id, location.host, location.contact_email or "", first.id), []
        ).append(location)
    smtp = smtp_settings(settings) if send else None
    created = []
    for (case_id, _, _, first_id), locations in groups.items():
        first = previous_of[first_id]
        try:
            with session.begin_nested():
                notice = create_notice(
                    session,
                    case_id,
                    "follow-up",
                    locations,
                    settings,
                    actor,
                    previous=first,
                    partner=first.channel == "partner",
                )
        except NoticeError:
            continue  # the removal notice went out, so this renders too unless a category was changed
        deliver(session, notice, smtp, settings.unit_email)
        created.append(notice)
    return created


def find_notice(session: Session, reference: str) -> OnlineNotice:
    notice = session.scalar(select(OnlineNotice).where(OnlineNotice.reference == reference))
    if notice is None:
        raise UsageError(f"no notice {reference!r}; `himaya online notices CASE` lists them")
    return notice
