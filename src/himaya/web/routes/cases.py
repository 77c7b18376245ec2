"""Case list, case page (scans with live progress, counts by category, evidence, errors, custody events),
evidence pages, and the case's HTML report and export downloads."""

from __future__ import annotations

import io
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from sqlalchemy import func, select

from himaya.reports import html as html_report
from himaya.reports.export import FORMATS, export_case
from himaya.review import gallery
from himaya.security import audit
from himaya.store.models import Case, CaseAssignment, CustodyEvent, EvidenceItem, File, ScanRun
from himaya.web.context import Ctx, require_case, user_ctx
from himaya.web.i18n import N_

router = APIRouter()


@router.get("/")
def home(c: Annotated[Ctx, Depends(user_ctx)]) -> Response:
    assert c.user is not None
    rows = c.db.execute(
        select(Case)
        .join(CaseAssignment, CaseAssignment.case_id == Case.id)
        .where(CaseAssignment.user_id == c.user.id)
        .order_by(Case.number)
    ).scalars()
    return c.render("home.html", cases=list(rows))


def _runs(c: Ctx, case: Case) -> list[ScanRun]:
    return list(c.db.scalars(select(ScanRun).where(ScanRun.case_id == case.id).order_by(ScanRun.id.desc())))


def _live_files(c: Ctx, case: Case) -> int:
    evidence_ids = select(EvidenceItem.id).where(EvidenceItem.case_id == case.id)
    return c.db.scalar(select(func.count(File.id)).where(File.evidence_id.in_(evidence_ids))) or 0


@router.get("/cases/{case_number}")
def case_page(case_number: str, c: Annotated[Ctx, Depends(user_ctx)]) -> Response:
    case = require_case(c, case_number)
    gallery.refresh(c.db, case.id, only_new=True, categories=c.state.categories)
    evidence = list(
        c.db.scalars(select(EvidenceItem).where(EvidenceItem.case_id == case.id).order_by(EvidenceItem.id))
    )
    errors = c.db.scalar(
        select(func.count(File.id)).where(
            File.evidence_id.in_([item.id for item in evidence] or [-1]), File.status == "error"
        )
    )
    custody = list(
        c.db.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.evidence_id.in_([item.id for item in evidence] or [-1]))
            .order_by(CustodyEvent.at)
        )
    )
    names = {item.id: item.name for item in evidence}
    c.audit(audit.CASE_VIEWED, case_id=case.id)
    return c.render(
        "case.html",
        case=case,
        evidence=evidence,
        runs=_runs(c, case),
        live_files=_live_files(c, case),
        counts=gallery.counts(c.db, case.id),
        errors=errors or 0,
        custody=custody,
        names=names,
        categories=c.state.categories.order,
    )


@router.get("/cases/{case_number}/progress")
def case_progress(case_number: str, c: Annotated[Ctx, Depends(user_ctx)]) -> Response:
    """The scans panel, polled by the case page while a scan runs (new hits appear in the gallery too)."""
    case = require_case(c, case_number)
    gallery.refresh(c.db, case.id, only_new=True, categories=c.state.categories)
    return c.render(
        "_scans.html",
        case=case,
        runs=_runs(c, case),
        live_files=_live_files(c, case),
        counts=gallery.counts(c.db, case.id),
        categories=c.state.categories.order,
    )


@router.get("/cases/{case_number}/evidence/{evidence_id}")
def evidence_page(
    case_number: str,
    evidence_id: int,
    c: Annotated[Ctx, Depends(user_ctx)],
    errors_after: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    case = require_case(c, case_number)
    item = c.db.get(EvidenceItem, evidence_id)
    if item is None or item.case_id != case.id:
        raise HTTPException(status_code=404, detail=N_("no such evidence item in this case"))
    error_files = list(
        c.db.scalars(
            select(File)
            .where(File.evidence_id == item.id, File.status == "error", File.id > errors_after)
            .order_by(File.id)
            .limit(200)
        )
    )
    custody = list(
        c.db.scalars(
            select(CustodyEvent).where(CustodyEvent.evidence_id == item.id).order_by(CustodyEvent.at)
        )
    )
    files = c.db.scalar(select(func.count(File.id)).where(File.evidence_id == item.id)) or 0
    row = html_report.evidence_row(item)
    c.audit(audit.EVIDENCE_VIEWED, case_id=case.id, detail={"evidence_id": item.id})
    return c.render(
        "evidence.html",
        case=case,
        item=item,
        row=row,
        error_files=error_files,
        custody=custody,
        files=files,
        summary=html_report.custody_summary,
    )


@router.get("/cases/{case_number}/report")
def report_download(case_number: str, c: Annotated[Ctx, Depends(user_ctx)]) -> Response:
    case = require_case(c, case_number, "export")
    data = html_report.collect(c.state.store, case.number)
    c.audit(audit.REPORT_DOWNLOADED, case_id=case.id, detail={"format": "html"})
    return Response(
        html_report.render(data),
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="himaya-report-{case.id}.html"'},
    )


@router.get("/cases/{case_number}/export")
def export_download(
    case_number: str,
    c: Annotated[Ctx, Depends(user_ctx)],
    fmt: Annotated[str, Query(alias="format")] = "jsonl",
) -> Response:
    case = require_case(c, case_number, "export")
    if fmt not in FORMATS:
        raise HTTPException(status_code=400, detail=f"unknown export format; use one of {', '.join(FORMATS)}")
    buffer = io.StringIO()
    count = export_case(c.state.store, case.number, fmt, buffer, False, c.state.categories)
    c.audit(audit.EXPORT, case_id=case.id, detail={"format": fmt, "records": count})
    media = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return Response(
        buffer.getvalue(),
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="himaya-export-{case.id}.{fmt}"'},
    )
