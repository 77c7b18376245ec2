"""`himaya online recheck`: is each tracked location still serving what was matched?

A location is due when its next check time has passed (every online.recheck_hours, default 24 h). The
check is a conditional request (If-None-Match / If-Modified-Since from the last answer): `304 Not
Modified` means still online without a byte downloaded. A host that gives no validators gets a HEAD
first, and the same length counts as unchanged. Bytes are downloaded only when they may have changed,
hashed in memory and then dropped: a re-check keeps nothing but its outcome.

Removed: 404 / 410 / 451, the host name gone from DNS, or content that is no longer the matched one (not
the same SHA-256, and for pictures not within the PDQ threshold either). Anything else that fails (a
time-out, 5xx, a refused address) is an error: the location stays as it was and is tried again next time.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import or_, select

from himaya.config import ImageLimits
from himaya.hashsets.importer import DEFAULT_PDQ_THRESHOLD
from himaya.online.capture import _HostSlots
from himaya.online.fetch import Exchange, Fetcher
from himaya.online.locations import OPEN
from himaya.online.settings import OnlineSettings
from himaya.store.db import Store
from himaya.store.models import Case, OnlineCheck, OnlineLocation, utcnow

REMOVED_OUTCOMES = frozenset({"gone", "dns-gone", "other-content"})
ONLINE_OUTCOMES = frozenset({"not-modified", "same-length", "same-content", "similar-content"})
GONE_STATUSES = frozenset({404, 410, 451})
WRITE_EVERY = 500


@dataclass(frozen=True)
class _Due:
    """What a check needs of a location, read before the threads start (no database in them)."""

    id: int
    url: str
    sha256: str | None
    pdq: str | None
    etag: str | None
    last_modified: str | None
    content_length: int | None


@dataclass(frozen=True)
class CheckResult:
    location_id: int
    outcome: str
    http_status: int | None
    sha256: str | None = None
    detail: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_length: int | None = None


@dataclass
class RecheckSummary:
    checked: int = 0
    removed: int = 0
    online: int = 0
    errors: int = 0
    follow_ups: int = 0
    seconds: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)


def due_locations(
    store: Store,
    *,
    now: datetime,
    case_numbers: Sequence[str] = (),
    every: bool = False,
    limit: int | None = None,
) -> list[_Due]:
    with store.session() as session:
        query = select(OnlineLocation).where(OnlineLocation.status.in_(OPEN))
        if not every:
            query = query.where(
                or_(OnlineLocation.next_check_at.is_(None), OnlineLocation.next_check_at <= now)
            )
        if case_numbers:
            query = query.join(Case, Case.id == OnlineLocation.case_id).where(Case.number.in_(case_numbers))
        query = query.order_by(OnlineLocation.next_check_at, OnlineLocation.id)
        if limit:
            query = query.limit(limit)
        return [
            _Due(loc.id, loc.url, loc.sha256, loc.pdq, loc.etag, loc.last_modified, loc.content_length)
            for loc in session.scalars(query)
        ]


def _pdq_distance(data: bytes, reference: str) -> int | None:
    from himaya.analyzers.image import ImageError, pdq_full_resolution
    from himaya.matching.pdq_index import hamming

    try:
        facts = pdq_full_resolution(data, ImageLimits())
    except (ImageError, OSError, ValueError):
        return None
    return hamming(facts.hash_hex, reference)


class Checker:
    """Checks one location at a time; thread-safe (the fetcher is)."""

    def __init__(self, fetcher: Fetcher, settings: OnlineSettings) -> None:
        self.fetcher = fetcher
        self.settings = settings
        self.threshold = DEFAULT_PDQ_THRESHOLD

    def check(self, due: _Due) -> CheckResult:
        headers: dict[str, str] = {}
        if due.etag:
            headers["If-None-Match"] = due.etag
        if due.last_modified:
            headers["If-Modified-Since"] = due.last_modified
        if not headers and due.content_length is not None:
            head = self.fetcher.fetch(due.url, method="HEAD")[-1]
            gone = self._gone(due, head)
            if gone is not None:
                return gone
            length = head.header("content-length")
            if head.status == 200 and length is not None and length.strip() == str(due.content_length):
                return CheckResult(due.id, "same-length", 200, content_length=due.content_length)
        chain = self.fetcher.fetch(due.url, max_bytes=self.settings.max_media_bytes, headers=headers)
        final = chain[-1]
        gone = self._gone(due, final)
        if gone is not None:
            return gone
        etag = final.header("etag") or due.etag
        last_modified = final.header("last-modified") or due.last_modified
        if final.status == 304:
            return CheckResult(
                due.id,
                "not-modified",
                304,
                etag=etag,
                last_modified=last_modified,
                content_length=due.content_length,
            )
        if final.status != 200:
            return CheckResult(due.id, "error", final.status, detail=final.error or f"HTTP {final.status}")
        if final.truncated:
            return CheckResult(
                due.id, "error", 200, detail=f"the answer was cut short ({final.truncated}); judged next time"
            )
        body = final.decoded_body(self.settings.max_media_bytes)
        digest = hashlib.sha256(body).hexdigest()
        outcome = "other-content"
        detail: str | None = "the URL no longer serves the matched content"
        if due.sha256 is not None and digest == due.sha256:
            outcome, detail = "same-content", None
        elif due.pdq is not None:
            distance = _pdq_distance(body, due.pdq)
            if distance is not None and distance <= self.threshold:
                outcome, detail = "similar-content", f"PDQ distance {distance}"
        return CheckResult(
            due.id,
            outcome,
            200,
            sha256=digest,
            detail=detail,
            etag=etag,
            last_modified=last_modified,
            content_length=len(final.body),
        )

    def _gone(self, due: _Due, final: Exchange) -> CheckResult | None:
        if final.dns_gone:
            return CheckResult(due.id, "dns-gone", None, detail=final.error)
        if final.blocked:
            return CheckResult(due.id, "blocked", None, detail=final.error)
        if final.status is None:
            return CheckResult(due.id, "error", None, detail=final.error or "no answer")
        if final.status in GONE_STATUSES:
            return CheckResult(due.id, "gone", final.status)
        return None


def apply_results(
    store: Store, results: Sequence[CheckResult], settings: OnlineSettings, now: datetime
) -> None:
    """One transaction for a batch of checks: the check rows, and each location's new state."""
    if not results:
        return
    by_id = {r.location_id: r for r in results}
    next_check = now + timedelta(hours=settings.recheck_hours)
    with store.transaction() as session:
        for location in session.scalars(select(OnlineLocation).where(OnlineLocation.id.in_(by_id))):
            result = by_id[location.id]
            session.add(
                OnlineCheck(
                    location_id=location.id,
                    checked_at=now,
                    outcome=result.outcome,
                    http_status=result.http_status,
                    sha256=result.sha256,
                    detail=result.detail,
                )
            )
            location.checks = (location.checks or 0) + 1
            location.last_checked_at = now
            location.last_outcome = result.outcome
            location.next_check_at = next_check
            if result.outcome in REMOVED_OUTCOMES:
                location.status = "removed"
                location.removed_at = now
            elif result.outcome in ONLINE_OUTCOMES:
                if location.status == "notified":
                    location.status = "online"
                if result.etag is not None:
                    location.etag = result.etag
                if result.last_modified is not None:
                    location.last_modified = result.last_modified
                if result.content_length is not None:
                    location.content_length = result.content_length


def recheck(
    store: Store,
    fetcher: Fetcher,
    settings: OnlineSettings,
    *,
    actor: str,
    case_numbers: Sequence[str] = (),
    every: bool = False,
    limit: int | None = None,
    now: Callable[[], datetime] = utcnow,
    console: Console | None = None,
    quiet: bool = False,
    follow_up: bool = True,
) -> RecheckSummary:
    """Re-check every due location (or every open one with `every`), then send follow-ups that are due."""
    summary = RecheckSummary()
    started = time.monotonic()
    due = due_locations(store, now=now(), case_numbers=case_numbers, every=every, limit=limit)
    checker = Checker(fetcher, settings)
    slots = _HostSlots(settings.per_host)
    pending: list[CheckResult] = []
    lock = threading.Lock()

    def one(item: _Due) -> CheckResult:
        with slots.hold(item.url):
            try:
                return checker.check(item)
            except Exception as error:  # one location's surprise must not stop the others' checks
                return CheckResult(item.id, "error", None, detail=f"{type(error).__name__}: {error}")

    # Hosts interleaved: with per-host slots, a run of one host's URLs would leave the threads waiting.
    order = _interleave_hosts(due)
    progress = Progress(
        TextColumn("re-checking"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        disable=quiet,
    )
    with progress, ThreadPoolExecutor(max(settings.concurrency, 1), thread_name_prefix="recheck") as pool:
        task = progress.add_task("recheck", total=len(order), rate="")
        futures = [pool.submit(one, item) for item in order]
        for future in as_completed(futures):
            result = future.result()
            with lock:
                pending.append(result)
                summary.checked += 1
                summary.outcomes[result.outcome] = summary.outcomes.get(result.outcome, 0) + 1
            elapsed = max(time.monotonic() - started, 1e-6)
            progress.update(task, advance=1, rate=f"{summary.checked / elapsed:.0f} URLs/s")
            if len(pending) >= WRITE_EVERY:
                apply_results(store, pending, settings, now())
                pending = []
    apply_results(store, pending, settings, now())
    summary.removed = sum(summary.outcomes.get(o, 0) for o in REMOVED_OUTCOMES)
    summary.online = sum(summary.outcomes.get(o, 0) for o in ONLINE_OUTCOMES)
    summary.errors = summary.checked - summary.removed - summary.online
    if follow_up:
        from himaya.online.notify import follow_ups

        with store.transaction() as session:
            summary.follow_ups = len(follow_ups(session, settings, actor, now=now()))
    summary.seconds = time.monotonic() - started
    return summary


def _interleave_hosts(due: Sequence[_Due]) -> list[_Due]:
    by_host: dict[str, list[_Due]] = {}
    for item in due:
        by_host.setdefault((urlsplit(item.url).hostname or "").lower(), []).append(item)
    queues = list(by_host.values())
    order: list[_Due] = []
    index = 0
    while queues:
        queues = [q for q in queues if len(q) > index]
        order.extend(q[index] for q in queues)
        index += 1
    return order


def as_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
