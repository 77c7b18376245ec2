"""The gallery: a grid of blurred thumbnails, new material first, filtered, paged by keyset."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from sqlalchemy import select

from himaya.review import gallery, pages
from himaya.review.decisions import REVIEW_KEYS
from himaya.security import audit
from himaya.store.models import EvidenceItem
from himaya.web.context import Ctx, require_case, user_ctx
from himaya.web.i18n import N_

router = APIRouter()

PAGE_SIZE = 200


def _date(value: str | None, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value.strip()[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as error:
        raise HTTPException(status_code=400, detail=N_("dates are YYYY-MM-DD")) from error
    return day.replace(hour=23, minute=59, second=59) if end else day


def _flag(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


def parse_filters(
    category: str | None = None,
    matched: str = "all",
    evidence: int | None = None,
    origin: str | None = None,
    path: str | None = None,
    make: str | None = None,
    model: str | None = None,
    serial: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    gps: str | None = None,
    reviewed: str | None = None,
    stack: int | None = None,
    chats: str | None = None,
) -> pages.GalleryFilter:
    if matched not in ("all", "matched", "unknown", "ignored"):
        raise HTTPException(status_code=400, detail=N_("matched is all, matched, unknown or ignored"))
    return pages.GalleryFilter(
        category=category or None,
        matched=matched,
        evidence_id=evidence,
        origin=origin or None,
        path_contains=path or None,
        make=make or None,
        model=model or None,
        serial=serial or None,
        date_from=_date(date_from),
        date_to=_date(date_to, end=True),
        has_gps=_flag(gps),
        reviewed=_flag(reviewed),
        stack_id=stack,
        in_chats=_flag(chats),
    )


def describe(filters: pages.GalleryFilter) -> dict[str, object]:
    """The filters in force, for the audit trail (only those set)."""
    out: dict[str, object] = {}
    for name, value in vars(filters).items():
        if value is None or (name == "matched" and value == "all"):
            continue
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


@router.get("/cases/{case_number}/gallery")
def gallery_page(
    case_number: str,
    c: Annotated[Ctx, Depends(user_ctx)],
    filters: Annotated[pages.GalleryFilter, Depends(parse_filters)],
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    case = require_case(c, case_number, "view_pictures")
    cursor = None
    if after:
        try:
            cursor = pages.Cursor.decode(after)
        except ValueError as error:
            raise HTTPException(
                status_code=400, detail=N_("this page link is damaged; start from the first page")
            ) from error
    else:
        # Pictures a running scan wrote since the last page view (cheap when there are none).
        gallery.refresh(c.db, case.id, only_new=True, categories=c.state.categories)
    page = pages.page(c.db, case.id, filters, after=cursor, limit=PAGE_SIZE)
    c.audit(
        audit.GALLERY_VIEWED,
        case_id=case.id,
        detail={
            "items": len(page.items),
            "first_file": page.items[0].file_id if page.items else None,
            "last_file": page.items[-1].file_id if page.items else None,
            "filters": describe(filters),
            "after": after,
        },
    )
    query = c.request.url.query
    base_query = "&".join(part for part in query.split("&") if part and not part.startswith("after="))
    values: dict[str, Any] = {
        "case": case,
        "page": page,
        "filters": filters,
        "next_url": (
            f"/cases/{case.number}/gallery?{base_query}&after={page.next_cursor.encode()}"
            if page.next_cursor is not None
            else None
        ),
        "keys": REVIEW_KEYS,
    }
    if c.request.headers.get("hx-request") and after:
        return c.render("_tiles.html", **values)
    evidence = list(
        c.db.scalars(select(EvidenceItem).where(EvidenceItem.case_id == case.id).order_by(EvidenceItem.id))
    )
    return c.render("gallery.html", evidence=evidence, categories=c.state.categories.order, **values)
