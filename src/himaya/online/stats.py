"""How fast hosts remove what they were told about: `himaya online stats` and the statistics page.

Time to removal counts from the first notice sent (the host's own clock starts when it is told); a
location removed before any notice counts from its first sighting and is reported apart. Medians and
90th percentiles are of hours, nearest-rank.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from himaya.store.models import Case, OnlineLocation, OnlineNotice


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0–100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(p / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass
class _Group:
    after_notice: list[float]
    before_notice: list[float]
    open: int = 0
    total: int = 0

    def record(self) -> dict[str, Any]:
        return {
            "locations": self.total,
            "open": self.open,
            "removed_after_notice": len(self.after_notice),
            "removed_before_notice": len(self.before_notice),
            "median_hours_to_removal": _round(percentile(self.after_notice, 50)),
            "p90_hours_to_removal": _round(percentile(self.after_notice, 90)),
            "median_hours_to_removal_unnotified": _round(percentile(self.before_notice, 50)),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def statistics(session: Session, case_number: str | None = None) -> dict[str, Any]:
    query = select(OnlineLocation)
    notices = select(OnlineNotice.kind, OnlineNotice.status, func.count()).group_by(
        OnlineNotice.kind, OnlineNotice.status
    )
    if case_number is not None:
        case_id = session.scalar(select(Case.id).where(Case.number == case_number))
        query = query.where(OnlineLocation.case_id == case_id)
        notices = notices.where(OnlineNotice.case_id == case_id)
    overall = _Group([], [])
    hosts: dict[str, _Group] = {}
    statuses: dict[str, int] = {}
    reappearances = 0
    for location in session.scalars(query):
        statuses[location.status] = statuses.get(location.status, 0) + 1
        if location.reappearance_of is not None:
            reappearances += 1
        for group in (overall, hosts.setdefault(location.host, _Group([], []))):
            group.total += 1
            removed = _utc(location.removed_at)
            if removed is None:
                group.open += 1
                continue
            notified = _utc(location.notified_at)
            if notified is not None and notified <= removed:
                group.after_notice.append((removed - notified).total_seconds() / 3600)
            else:
                first = _utc(location.first_seen_at)
                assert first is not None
                group.before_notice.append(max((removed - first).total_seconds(), 0.0) / 3600)
    notice_counts: dict[str, dict[str, int]] = {}
    for kind, status, count in session.execute(notices):
        notice_counts.setdefault(kind, {})[status] = count
    return {
        "case": case_number,
        "overall": overall.record(),
        "statuses": statuses,
        "notices": notice_counts,
        "notices_sent": sum(by_status.get("sent", 0) for by_status in notice_counts.values()),
        # The same content found again at another URL after it was first tracked (any case).
        "reappearances": reappearances,
        "hosts": {host: group.record() for host, group in sorted(hosts.items())},
    }
