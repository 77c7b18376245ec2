"""The Online pages: a case's tracked locations (capture, confirm, approve, holds, notices), one notice as
recorded, and removal statistics over the cases a user may see (docs/online.md).

A tracked URL is shown as text, never as a link: one click must not load abuse material in an
investigator's browser. A capture fetches from the internet and scans what it fetched, which can take
minutes, so it runs in a background thread (one at a time per app) and the page polls its progress.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query
from fastapi.responses import RedirectResponse, Response
from rich.console import Console
from sqlalchemy import select

from himaya.config import ScanSettings
from himaya.errors import HimayaError, UsageError
from himaya.online import locations
from himaya.online import settings as online_settings
from himaya.online.capture import CaptureSummary, read_url_file
from himaya.online.notify import find_notice, mark_sent, notify
from himaya.online.service import capture_and_track, load_settings
from himaya.online.stats import statistics
from himaya.security import audit, auth
from himaya.store.models import Case, OnlineHold, OnlineLocation, OnlineNotice, utcnow
from himaya.web.context import Ctx, require, require_case, user_ctx
from himaya.web.i18n import N_
from himaya.web.state import WebState

router = APIRouter()
log = logging.getLogger(__name__)

MAX_URLS = 500  # one form; a longer list belongs in `himaya online capture --from-file`
MAX_SELECTED = 5000

# Words that come from data, in the reader's language (marked here so that the extractor sees them).
TERMS = {
    "detected": N_("detected"),
    "confirmed": N_("confirmed"),
    "notified": N_("notified"),
    "removed": N_("removed"),
    "online": N_("still online"),
    "to-send": N_("to send"),
    "sent": N_("sent"),
    "failed": N_("failed"),
    "cancelled": N_("cancelled"),
    "removal": N_("removal notice"),
    "follow-up": N_("follow-up"),
    "preservation": N_("preservation request"),
    "referral": N_("referral"),
    "direct": N_("direct"),
    "partner": N_("partner channel"),
    "case": N_("the whole case"),
    "host": N_("a host"),
    "location": N_("one location"),
    "running": N_("running"),
    "finished": N_("finished"),
    "interrupted": N_("interrupted"),
}


# ------------------------------------------------------------------ capture jobs


@dataclass
class CaptureJob:
    case_number: str
    urls: int
    started_by: str
    started_at: datetime = field(default_factory=utcnow)
    status: str = "running"  # running | finished | interrupted | failed
    summary: CaptureSummary | None = None
    error: str | None = None

    @property
    def matches(self) -> int:
        scan = self.summary.scan if self.summary is not None else None
        return scan.matched_files if scan is not None else 0


@dataclass
class CaptureJobs:
    """The app's capture jobs: the latest per case; at most one running (it uses the network and CPU)."""

    latest: dict[str, CaptureJob] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None

    def running(self) -> CaptureJob | None:
        return next((job for job in self.latest.values() if job.status == "running"), None)


_JOBS_ATTRIBUTE = "online_capture_jobs"
_JOBS_CREATED = threading.Lock()


def capture_jobs(state: WebState) -> CaptureJobs:
    """The jobs of this app, kept on its state (each app, and each test, has its own)."""
    with _JOBS_CREATED:
        jobs = getattr(state, _JOBS_ATTRIBUTE, None)
        if not isinstance(jobs, CaptureJobs):
            jobs = CaptureJobs()
            setattr(state, _JOBS_ATTRIBUTE, jobs)
        return jobs


def _run_capture(state: WebState, job: CaptureJob, urls: Sequence[str]) -> None:
    try:
        summary = capture_and_track(
            state.store,
            state.blobs,
            job.case_number,
            urls,
            settings=load_settings(state.store),
            # Analysed in this process: a form's list is a few hundred URLs at most, and starting worker
            # processes per capture would cost more; long lists belong to `himaya online capture`.
            scan_settings=ScanSettings(workers=0),
            actor=job.started_by,
            console=Console(file=io.StringIO()),
            quiet=True,
        )
    except HimayaError as error:
        job.error, job.status = str(error), "failed"
    except Exception:
        log.exception("online capture for case %s stopped", job.case_number)
        job.error, job.status = (
            N_("the capture stopped on an unexpected error; the server log says why"),
            "failed",
        )
    else:
        job.summary = summary
        finished = summary.scan is None or summary.scan.status == "finished"
        job.status = "finished" if finished else "interrupted"


# ------------------------------------------------------------------ access


def _case_for(permission: str) -> Callable[..., Case]:
    """A dependency: the case, if the user is assigned to it and may view online work; then `permission`.

    A dependency rather than a call in the handler, so that need-to-know answers 403 before a form is
    even validated.
    """

    def dependency(case_number: str, c: Annotated[Ctx, Depends(user_ctx)]) -> Case:
        case = require_case(c, case_number, "view_online")
        require(c, permission)
        return case

    return dependency


def _back(case: Case, query: str = "") -> RedirectResponse:
    return RedirectResponse(f"/cases/{case.number}/online{query}", status_code=303)


def _term(c: Ctx) -> Callable[[str | None], str]:
    gettext = c.gettext

    def term(value: str | None) -> str:
        if value is None:
            return ""
        return gettext(TERMS[value]) if value in TERMS else value

    return term


def _selected(c: Ctx, case: Case, ids: list[int] | None) -> list[OnlineLocation]:
    chosen = list(dict.fromkeys(ids or []))
    if not chosen:
        raise HTTPException(status_code=400, detail=N_("select at least one location"))
    if len(chosen) > MAX_SELECTED:
        raise HTTPException(status_code=400, detail=f"at most {MAX_SELECTED} locations at once")
    try:
        return locations.select_locations(c.db, case.id, [str(i) for i in chosen])
    except UsageError as error:
        raise HTTPException(status_code=400, detail=str(error)) from error


# ------------------------------------------------------------------ the case's online page


def _page(
    c: Ctx,
    case: Case,
    status: str | None,
    summary: dict[str, int] | None = None,
    capture_error: str | None = None,
    capture_text: str = "",
    status_code: int = 200,
) -> Response:
    if status is not None and status not in locations.STATUSES:
        raise HTTPException(
            status_code=400, detail=f"unknown status; use one of {', '.join(locations.STATUSES)}"
        )
    records = locations.status_records(c.db, case.id)
    held = [
        r
        for r in records
        if r["hold"] and r["status"] == "confirmed" and r["approved_by"] and not r["notified_utc"]
    ]
    counts = {name: sum(1 for r in records if r["status"] == name) for name in locations.STATUSES}
    shown = [r for r in records if status is None or r["status"] == status]
    holds = locations.standing_holds(c.db, case.id)
    notices = list(
        c.db.scalars(select(OnlineNotice).where(OnlineNotice.case_id == case.id).order_by(OnlineNotice.id))
    )
    return c.render(
        "online.html",
        status_code=status_code,
        case=case,
        records=shown,
        total=len(records),
        counts=counts,
        statuses=locations.STATUSES,
        status=status,
        held=held,
        holds=holds,
        notices=notices,
        summary=summary,
        job=capture_jobs(c.state).latest.get(case.number),
        capture_error=capture_error,
        capture_text=capture_text,
        term=_term(c),
    )


@router.get("/cases/{case_number}/online")
def online_page(
    c: Annotated[Ctx, Depends(user_ctx)],
    case: Annotated[Case, Depends(_case_for("view_online"))],
    status: Annotated[str | None, Query(max_length=20)] = None,
    created: Annotated[int | None, Query(ge=0)] = None,
    sent: Annotated[int, Query(ge=0)] = 0,
    to_send: Annotated[int, Query(ge=0)] = 0,
    failed: Annotated[int, Query(ge=0)] = 0,
    held: Annotated[int, Query(ge=0)] = 0,
    waiting: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    # The outcome of "create notices" comes back as counts in the address (a redirect after the post):
    # only numbers, nothing about a host or URL ends up in a browser history or a proxy log.
    summary = None
    if created is not None:
        summary = dict(created=created, sent=sent, to_send=to_send, failed=failed, held=held, waiting=waiting)
    return _page(c, case, status or None, summary)


@router.get("/cases/{case_number}/online/capture")
def capture_progress(
    c: Annotated[Ctx, Depends(user_ctx)], case: Annotated[Case, Depends(_case_for("view_online"))]
) -> Response:
    """The capture panel, polled by the online page while a capture runs."""
    return c.render(
        "online_capture.html", case=case, job=capture_jobs(c.state).latest.get(case.number), term=_term(c)
    )


@router.post("/cases/{case_number}/online/capture")
def start_capture(
    c: Annotated[Ctx, Depends(user_ctx)],
    case: Annotated[Case, Depends(_case_for("capture_online"))],
    urls: Annotated[str, Form(max_length=200_000)] = "",
) -> Response:
    assert c.user is not None
    try:
        pages = read_url_file(urls, "URL list")
        if not pages:
            raise UsageError("give at least one page, as http://... or https://..., one per line")
        if len(pages) > MAX_URLS:
            raise UsageError(
                f"{len(pages)} URLs: at most {MAX_URLS} per capture here; capture a longer list with "
                "`himaya online capture CASE --from-file FILE`"
            )
    except UsageError as error:
        return _page(c, case, None, capture_error=str(error), capture_text=urls, status_code=400)
    jobs = capture_jobs(c.state)
    with jobs.lock:
        if jobs.running() is not None:
            return _page(
                c,
                case,
                None,
                capture_error=c.gettext(
                    N_("another capture is running; start this one when it has finished")
                ),
                capture_text=urls,
                status_code=409,
            )
        job = CaptureJob(case_number=case.number, urls=len(pages), started_by=c.user.username)
        jobs.latest[case.number] = job
        c.audit(audit.ONLINE_CAPTURED, case_id=case.id, detail={"urls": len(pages), "via": "web"})
        jobs.thread = threading.Thread(
            target=_run_capture, args=(c.state, job, pages), name=f"capture-{case.number}", daemon=True
        )
        jobs.thread.start()
    return _back(case)


@router.post("/cases/{case_number}/online/confirm")
def confirm(
    c: Annotated[Ctx, Depends(user_ctx)],
    case: Annotated[Case, Depends(_case_for("confirm_online"))],
    location: Annotated[list[int] | None, Form()] = None,
    category: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    assert c.user is not None
    try:
        confirmed = locations.confirm(c.db, _selected(c, case, location), c.user.username, category or None)
    except UsageError as error:
        raise HTTPException(status_code=400, detail=str(error)) from error
    for changed in confirmed:
        c.audit(
            audit.LOCATION_CONFIRMED, case_id=case.id, detail={"location": changed.id, "url": changed.url}
        )
    return _back(case)


@router.post("/cases/{case_number}/online/approve")
def approve(
    c: Annotated[Ctx, Depends(user_ctx)],
    case: Annotated[Case, Depends(_case_for("approve_notice"))],
    location: Annotated[list[int] | None, Form()] = None,
) -> Response:
    assert c.user is not None
    try:
        changed = locations.approve(c.db, _selected(c, case, location), c.user.username)
    except UsageError as error:
        raise HTTPException(status_code=400, detail=str(error)) from error
    for approved in changed:
        c.audit(
            audit.LOCATION_APPROVED, case_id=case.id, detail={"location": approved.id, "url": approved.url}
        )
    return _back(case)


@router.post("/cases/{case_number}/online/holds")
def set_hold(
    c: Annotated[Ctx, Depends(user_ctx)],
    case: Annotated[Case, Depends(_case_for("hold_notices"))],
    scope: Annotated[str, Form(max_length=20)] = "case",
    value: Annotated[str, Form(max_length=300)] = "",
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    assert c.user is not None
    if scope not in locations.HOLD_SCOPES:
        raise HTTPException(
            status_code=400, detail=N_("choose what the hold covers: the case, a host or a location")
        )
    if not reason.strip():
        raise HTTPException(
            status_code=400, detail=N_("say why notices must wait: whoever lifts the hold reads the reason")
        )
    target: str | None = None
    if scope == "host":
        target = value.strip().lower()
        if not target:
            raise HTTPException(status_code=400, detail=N_("a host hold needs the host name"))
    elif scope == "location":
        if not value.strip().isdigit():
            raise HTTPException(status_code=400, detail=N_("a location hold needs the location's number"))
        target = str(_selected(c, case, [int(value.strip())])[0].id)
    # Holds set here cover this case only: a unit-wide hold would silence other cases' notices, which a
    # person assigned to this one cannot see (`himaya online hold --unit-wide` sets those).
    try:
        made = locations.add_hold(c.db, case.id, scope, target, reason, c.user.username)
    except UsageError as error:
        raise HTTPException(status_code=400, detail=str(error)) from error
    c.audit(
        audit.HOLD_SET,
        case_id=case.id,
        detail={"hold": made.id, "scope": scope, "value": made.value, "reason": made.reason},
    )
    return _back(case)


@router.post("/cases/{case_number}/online/holds/lift")
def lift_hold(
    c: Annotated[Ctx, Depends(user_ctx)],
    case: Annotated[Case, Depends(_case_for("lift_hold"))],
    hold_id: Annotated[int | None, Form()] = None,
) -> Response:
    assert c.user is not None
    hold = c.db.get(OnlineHold, hold_id) if hold_id is not None else None
    # Only this case's holds: a unit-wide one protects cases this person may not know of.
    if hold is None or hold.case_id != case.id or hold.lifted_at is not None:
        raise HTTPException(status_code=404, detail=N_("no standing hold of this case has that number"))
    locations.lift_hold(c.db, hold.id, c.user.username)
    c.audit(
        audit.HOLD_LIFTED, case_id=case.id, detail={"hold": hold.id, "scope": hold.scope, "value": hold.value}
    )
    return _back(case)


@router.post("/cases/{case_number}/online/notify")
def create_notices(
    c: Annotated[Ctx, Depends(user_ctx)], case: Annotated[Case, Depends(_case_for("send_notice"))]
) -> Response:
    assert c.user is not None
    settings = online_settings.load(c.db)
    try:
        result = notify(c.db, case.id, settings, c.user.username, send=True)
    except UsageError as error:
        raise HTTPException(status_code=400, detail=str(error)) from error
    for notice in result.created:
        c.audit(
            audit.NOTICE_CREATED,
            case_id=case.id,
            detail={"notice": notice.reference, "kind": notice.kind, "host": notice.host},
        )
    for notice in result.sent:
        c.audit(
            audit.NOTICE_SENT,
            case_id=case.id,
            detail={"notice": notice.reference, "to": notice.recipient_email},
        )
    counts = {
        "created": len(result.created),
        "sent": len(result.sent),
        "to_send": len(result.to_send),
        "failed": len(result.failed),
        "held": len(result.held),
        "waiting": len(result.waiting),
    }
    return _back(case, "?" + "&".join(f"{k}={v}" for k, v in counts.items()))


# ------------------------------------------------------------------ one notice


def _notice(c: Ctx, case: Case, reference: str) -> OnlineNotice:
    try:
        notice = find_notice(c.db, reference)
    except UsageError:
        notice = None
    # Another case's notice answers as if there were none: references do not reveal other cases.
    if notice is None or notice.case_id != case.id:
        raise HTTPException(status_code=404, detail=N_("this case has no notice with that reference"))
    return notice


@router.get("/cases/{case_number}/online/notices/{reference}")
def notice_page(
    reference: str,
    c: Annotated[Ctx, Depends(user_ctx)],
    case: Annotated[Case, Depends(_case_for("view_online"))],
) -> Response:
    notice = _notice(c, case, reference)
    return c.render("online_notice.html", case=case, notice=notice, term=_term(c))


@router.post("/cases/{case_number}/online/notices/{reference}/sent")
def notice_sent(
    reference: str,
    c: Annotated[Ctx, Depends(user_ctx)],
    case: Annotated[Case, Depends(_case_for("send_notice"))],
) -> Response:
    notice = _notice(c, case, reference)
    if notice.status not in ("to-send", "failed"):
        raise HTTPException(status_code=400, detail=N_("this notice was already sent, or cancelled"))
    mark_sent(c.db, notice)
    c.audit(
        audit.NOTICE_SENT,
        case_id=case.id,
        detail={"notice": notice.reference, "to": notice.recipient_email, "by": "hand"},
    )
    return RedirectResponse(f"/cases/{case.number}/online/notices/{notice.reference}", status_code=303)


# ------------------------------------------------------------------ statistics


def _totals(per_case: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Counts added over cases (medians do not add up: they are shown per case)."""
    keys = ("locations", "open", "removed_after_notice", "removed_before_notice")
    totals = {key: sum(int(s["overall"][key]) for s in per_case) for key in keys}
    totals["notices_sent"] = sum(int(s["notices_sent"]) for s in per_case)
    totals["reappearances"] = sum(int(s["reappearances"]) for s in per_case)
    return totals


@router.get("/online/stats")
def stats_page(c: Annotated[Ctx, Depends(user_ctx)]) -> Response:
    """Time to removal and notices. Per case over the cases the user is assigned to; unit-wide figures
    (which name hosts of every case) for supervisors only, who oversee the unit's takedown work."""
    assert c.user is not None
    require(c, "view_online")
    case_ids = auth.assigned_case_ids(c.db, c.user)
    cases = list(c.db.scalars(select(Case).where(Case.id.in_(case_ids or {-1})).order_by(Case.number)))
    per_case = [statistics(c.db, case.number) for case in cases]
    per_case = [s for s in per_case if s["overall"]["locations"] or s["notices"]]
    unit = statistics(c.db, None) if c.user.role == "supervisor" else None
    return c.render(
        "online_stats.html", per_case=per_case, totals=_totals(per_case), unit=unit, term=_term(c)
    )
