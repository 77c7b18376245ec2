"""Pictures: blurred and grey by default, made so on the server, one revealed at a time on demand.

The browser never receives a clear picture before the reviewer asks for it (a CSS blur would already have
sent it). Every picture answered — blurred or clear — is one audit event, so the trail counts exactly
what was shown. A reveal opens a short window in which that one picture may be fetched in clear; the next
reveal or a hide closes it, and the time between is the reviewer's exposure, measured on the server.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from PIL import Image, ImageFilter
from sqlalchemy import func, select

from himaya.security import audit
from himaya.security.auth import aware, now
from himaya.store.models import File, GalleryItem, MediaFacts, Reveal, User
from himaya.web.context import Ctx, require, require_case, user_ctx
from himaya.web.i18n import N_
from himaya.web.state import REVEAL_FETCH_WINDOW_S, REVEAL_UNREPORTED_CAP_S

router = APIRouter()


def _media(c: Ctx, case_id: int, file_id: int) -> tuple[GalleryItem | None, MediaFacts]:
    item = c.db.get(GalleryItem, file_id)
    media = c.db.get(MediaFacts, file_id)
    if item is not None and item.case_id != case_id:
        raise HTTPException(status_code=404, detail=N_("no such picture in this case"))
    if item is None:
        file = c.db.get(File, file_id)
        if file is None or media is None or not _in_case(c, case_id, file):
            raise HTTPException(status_code=404, detail=N_("no such picture in this case"))
    if media is None or media.thumbnail_blob is None:
        raise HTTPException(status_code=404, detail=N_("this file has no picture to show"))
    return item, media


def _in_case(c: Ctx, case_id: int, file: File) -> bool:
    from himaya.store.models import EvidenceItem

    evidence = c.db.get(EvidenceItem, file.evidence_id)
    return evidence is not None and evidence.case_id == case_id


def _jpeg(data: bytes) -> Response:
    return Response(data, media_type="image/jpeg")


def blurred_grey(c: Ctx, media: MediaFacts) -> bytes:
    """The blurred copy made at scan time, turned grey here (stores from before this version kept it in
    colour); a picture without one is blurred now, from its thumbnail, before it leaves the server."""
    image: Image.Image
    if media.blurred_blob is not None:
        image = Image.open(io.BytesIO(c.state.blobs.get(media.blurred_blob)))
    else:
        assert media.thumbnail_blob is not None
        image = Image.open(io.BytesIO(c.state.blobs.get(media.thumbnail_blob)))
        image = image.convert("RGB").filter(ImageFilter.GaussianBlur(radius=max(image.size) / 12))
    out = io.BytesIO()
    image.convert("L").save(out, format="JPEG", quality=60)
    return out.getvalue()


@router.get("/cases/{case_number}/files/{file_id}/thumb")
def thumbnail(case_number: str, file_id: int, c: Annotated[Ctx, Depends(user_ctx)]) -> Response:
    case = require_case(c, case_number, "view_pictures")
    _item, media = _media(c, case.id, file_id)
    data = blurred_grey(c, media)
    c.audit(audit.PICTURE_SHOWN, case_id=case.id, file_id=file_id, detail={"variant": "blurred"})
    return _jpeg(data)


def close_open_reveals(c: Ctx) -> list[int]:
    """Ends the user's open reveals (one picture at a time); returns their file ids."""
    assert c.user is not None
    closed = []
    at = now()
    for reveal in c.db.scalars(select(Reveal).where(Reveal.user_id == c.user.id, Reveal.hidden_at.is_(None))):
        revealed_at = aware(reveal.revealed_at)
        assert revealed_at is not None
        reveal.hidden_at = at
        reveal.seconds = min((at - revealed_at).total_seconds(), REVEAL_UNREPORTED_CAP_S)
        closed.append(reveal.file_id)
    return closed


@router.post("/cases/{case_number}/files/{file_id}/reveal")
def reveal(case_number: str, file_id: int, c: Annotated[Ctx, Depends(user_ctx)]) -> Response:
    case = require_case(c, case_number, "view_pictures")
    assert c.user is not None
    item, _media_facts = _media(c, case.id, file_id)
    closed = [fid for fid in close_open_reveals(c) if fid != file_id]
    row = Reveal(user_id=c.user.id, case_id=case.id, file_id=file_id, revealed_at=now())
    c.db.add(row)
    c.db.flush()
    c.audit(audit.PICTURE_REVEALED, case_id=case.id, file_id=file_id, detail={"reveal": row.id})
    others = [
        x for x in (c.db.get(GalleryItem, fid) for fid in closed) if x is not None and x.case_id == case.id
    ]
    return c.render("_tile.html", case=case, item=item, file_id=file_id, reveal=row, others=others, oob=False)


@router.get("/cases/{case_number}/files/{file_id}/clear")
def clear_picture(
    case_number: str,
    file_id: int,
    c: Annotated[Ctx, Depends(user_ctx)],
    reveal_id: Annotated[int | None, Query(alias="reveal")] = None,
) -> Response:
    case = require_case(c, case_number, "view_pictures")
    assert c.user is not None
    _item, media = _media(c, case.id, file_id)
    row = c.db.get(Reveal, reveal_id) if reveal_id is not None else None
    revealed_at = aware(row.revealed_at) if row is not None else None
    if (
        row is None
        or revealed_at is None
        or row.user_id != c.user.id
        or row.file_id != file_id
        or row.case_id != case.id
        or row.hidden_at is not None
        or now() - revealed_at > timedelta(seconds=REVEAL_FETCH_WINDOW_S)
    ):
        raise HTTPException(status_code=403, detail=N_("reveal the picture first (one at a time)"))
    assert media.thumbnail_blob is not None
    data = c.state.blobs.get(media.thumbnail_blob)
    c.audit(
        audit.PICTURE_SHOWN, case_id=case.id, file_id=file_id, detail={"variant": "clear", "reveal": row.id}
    )
    return _jpeg(data)


@router.post("/cases/{case_number}/files/{file_id}/hide")
def hide(case_number: str, file_id: int, c: Annotated[Ctx, Depends(user_ctx)]) -> Response:
    case = require_case(c, case_number, "view_pictures")
    item, _media_facts = _media(c, case.id, file_id)
    close_open_reveals(c)
    c.audit(audit.PICTURE_HIDDEN, case_id=case.id, file_id=file_id)
    return c.render("_tile.html", case=case, item=item, file_id=file_id, reveal=None, others=[], oob=False)


def exposure_rows(c: Ctx, user_ids: list[int] | None) -> list[tuple[str, int, float]]:
    """(user, pictures revealed, seconds revealed) — open reveals count up to the cap."""
    query = (
        select(User.username, func.count(Reveal.id), func.coalesce(func.sum(Reveal.seconds), 0.0))
        .join(Reveal, Reveal.user_id == User.id)
        .group_by(User.username)
        .order_by(User.username)
    )
    if user_ids is not None:
        query = query.where(User.id.in_(user_ids))
    return [(name, int(count), float(seconds or 0.0)) for name, count, seconds in c.db.execute(query)]


@router.get("/exposure")
def exposure(c: Annotated[Ctx, Depends(user_ctx)]) -> Response:
    assert c.user is not None
    everyone = c.can("view_exposure_all")
    if not everyone:
        require(c, "view_pictures")
    rows = exposure_rows(c, None if everyone else [c.user.id])
    return c.render("exposure.html", rows=rows, everyone=everyone)
