"""The item view: everything known about one picture's or video's content, without showing more than asked.

A video shows like a picture (its key-frame sheet is its thumbnail, blurred and grey until revealed), with
its container facts and, per match, where in the video the match is. The chat, SMS and MMS messages that
carried the content (any copy of it, or its SHA-256 recorded by the app) are listed with sender,
recipients, time and caption.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import defer

from himaya.chats.records import carrying_messages
from himaya.reports.records import clock, match_records, ranges_text
from himaya.review import decisions as decisions
from himaya.security import audit
from himaya.store.models import EvidenceItem, File, GalleryItem, HashProposal, Match, MediaFacts, VideoFacts
from himaya.web.context import Ctx, require_case, user_ctx
from himaya.web.i18n import N_

router = APIRouter()


@router.get("/cases/{case_number}/files/{file_id}")
def item_view(case_number: str, file_id: int, c: Annotated[Ctx, Depends(user_ctx)]) -> Response:
    case = require_case(c, case_number, "view_pictures")
    file = c.db.get(File, file_id)
    evidence = c.db.get(EvidenceItem, file.evidence_id) if file is not None else None
    if file is None or evidence is None or evidence.case_id != case.id:
        raise HTTPException(status_code=404, detail=N_("no such file in this case"))
    media = c.db.get(MediaFacts, file_id)
    # Not its frame hashes: a line a second, which the page does not show.
    video = c.db.scalar(
        select(VideoFacts)
        .where(VideoFacts.file_id == file_id)
        .options(defer(VideoFacts.frames), defer(VideoFacts.frames_trimmed))
    )
    item = c.db.get(GalleryItem, file_id)
    evidence_ids = select(EvidenceItem.id).where(EvidenceItem.case_id == case.id)
    locations = (
        list(
            c.db.scalars(
                select(File)
                .where(File.sha256 == file.sha256, File.evidence_id.in_(evidence_ids))
                .order_by(File.id)
                .limit(500)
            )
        )
        if file.sha256
        else [file]
    )
    names = {e.id: e.name for e in c.db.scalars(select(EvidenceItem).where(EvidenceItem.case_id == case.id))}
    matches = list(
        c.db.scalars(
            select(Match).where(Match.file_id == file_id, Match.retired_at.is_(None)).order_by(Match.id)
        )
    )
    same_camera: list[GalleryItem] = []
    if media is not None and media.exif_serial:
        same_camera = list(
            c.db.scalars(
                select(GalleryItem)
                .where(
                    GalleryItem.case_id == case.id,
                    GalleryItem.exif_serial == media.exif_serial,
                    GalleryItem.file_id != file_id,
                )
                .order_by(GalleryItem.tier, GalleryItem.rank, GalleryItem.file_id)
                .limit(24)
            )
        )
    stack: list[GalleryItem] = []
    if item is not None and item.stack_id is not None:
        stack = list(
            c.db.scalars(
                select(GalleryItem)
                .where(GalleryItem.case_id == case.id, GalleryItem.stack_id == item.stack_id)
                .order_by(GalleryItem.file_id)
                .limit(48)
            )
        )
    history = decisions.history(c.db, case.id, file.sha256) if file.sha256 else []
    proposals = (
        list(
            c.db.scalars(
                select(HashProposal).where(
                    HashProposal.case_id == case.id, HashProposal.sha256 == file.sha256
                )
            )
        )
        if file.sha256
        else []
    )
    messages = carrying_messages(c.db, case.id, [other.id for other in locations], file.sha256)
    c.audit(audit.ITEM_VIEWED, case_id=case.id, file_id=file_id)
    return c.render(
        "item.html",
        case=case,
        file=file,
        media=media,
        video=video,
        clock=clock,
        ranges_text=ranges_text,
        item=item,
        evidence=evidence,
        locations=locations,
        names=names,
        matches=match_records(matches, c.state.categories),
        same_camera=same_camera,
        stack=stack,
        history=history,
        proposals=proposals,
        keys=decisions.REVIEW_KEYS,
        messages=messages,
    )
