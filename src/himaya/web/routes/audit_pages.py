"""The audit trail in the app: auditors browse every event; supervisors and administrators see the events
of their cases and the chain head checkpointed outside the database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from sqlalchemy import select

from himaya.security import audit, auth
from himaya.store.models import Case
from himaya.web.context import Ctx, require, user_ctx
from himaya.web.i18n import N_

router = APIRouter()


def _when(value: str | None, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as error:
        raise HTTPException(status_code=400, detail=N_("dates are YYYY-MM-DD")) from error
    # `query`'s `until` is exclusive: the end of a day is the next day's first instant.
    return day + timedelta(days=1) if end else day


@router.get("/audit")
def audit_trail(
    c: Annotated[Ctx, Depends(user_ctx)],
    case: Annotated[str | None, Query(max_length=200)] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=60)] = None,
    since: Annotated[str | None, Query(max_length=10)] = None,
    until: Annotated[str | None, Query(max_length=10)] = None,
    before: Annotated[int | None, Query()] = None,
) -> Response:
    require(c, "view_audit")
    assert c.user is not None
    everything = c.can("view_audit_all")
    allowed = None if everything else auth.assigned_case_ids(c.db, c.user)
    case_ids: set[int] | None = allowed
    if case:
        found = c.db.scalar(select(Case.id).where(Case.number == case))
        if found is None or (allowed is not None and found not in allowed):
            raise HTTPException(status_code=403, detail=N_("you are not assigned to this case"))
        case_ids = {found}
    events = audit.query(
        c.db,
        case_ids=case_ids,
        actor=actor or None,
        action=action or None,
        since=_when(since),
        until=_when(until, end=True),
        before_seq=before,
        limit=100,
    )
    head_seq, head_hash = audit.head(c.db)
    c.audit(
        audit.AUDIT_VIEWED,
        detail={
            k: v
            for k, v in {
                "case": case,
                "actor": actor,
                "action": action,
                "since": since,
                "until": until,
                "before": before,
            }.items()
            if v
        },
    )
    details: dict[int, Any] = {}
    for event in events:
        try:
            details[event.seq] = json.loads(event.detail) if event.detail else {}
        except ValueError:
            details[event.seq] = {"raw": event.detail}
    return c.render(
        "audit.html",
        events=events,
        details=details,
        head_seq=head_seq,
        head_hash=head_hash,
        checkpoint=str(c.state.audit.checkpoint),
        actions=audit.ACTIONS,
        filters={
            "case": case or "",
            "actor": actor or "",
            "action": action or "",
            "since": since or "",
            "until": until or "",
        },
        next_before=events[-1].seq if len(events) == 100 else None,
    )
