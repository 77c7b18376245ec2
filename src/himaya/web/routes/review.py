"""Categorising: one picture, a bulk selection or a whole near-duplicate stack per decision; every copy of
the same content in the case shares it. Proposals to the unit's own hash set need a second person."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from himaya.review import decisions as decisions
from himaya.security import audit, auth
from himaya.store.models import Case, GalleryItem, HashProposal
from himaya.web.context import Ctx, require, require_case, user_ctx
from himaya.web.i18n import N_
from himaya.web.routes.pictures import close_open_reveals

router = APIRouter()

MAX_BULK = 5000


@router.post("/cases/{case_number}/categorise")
def categorise(
    case_number: str,
    c: Annotated[Ctx, Depends(user_ctx)],
    key: Annotated[str, Form(max_length=2)],
    file_ids: Annotated[list[int] | None, Form()] = None,
    stack_id: Annotated[int | None, Form()] = None,
) -> Response:
    case = require_case(c, case_number, "categorise")
    assert c.user is not None
    if key not in decisions.REVIEW_KEYS:
        raise HTTPException(
            status_code=400, detail=f"unknown category key; use one of {', '.join(decisions.REVIEW_KEYS)}"
        )
    ids = list(dict.fromkeys(file_ids or []))
    via = "bulk" if len(ids) > 1 else "single"
    if stack_id is not None:
        ids = list(
            c.db.scalars(
                select(GalleryItem.file_id).where(
                    GalleryItem.case_id == case.id, GalleryItem.stack_id == stack_id
                )
            )
        )
        via = "stack"
    if not ids:
        raise HTTPException(status_code=400, detail=N_("select at least one picture"))
    if len(ids) > MAX_BULK:
        raise HTTPException(status_code=400, detail=f"at most {MAX_BULK} pictures per decision")
    items = list(
        c.db.scalars(select(GalleryItem).where(GalleryItem.case_id == case.id, GalleryItem.file_id.in_(ids)))
    )
    if len(items) != len(ids):
        raise HTTPException(status_code=404, detail=N_("some of these pictures are not in this case"))
    category = decisions.REVIEW_KEYS[key]
    # The answer redraws the tiles blurred: a picture revealed for this decision stops counting as exposure.
    close_open_reveals(c)
    affected = decisions.categorise(c.db, case.id, ids, category, key, c.user.username, via)
    for sha256 in sorted({item.sha256 for item in items if item.sha256}):
        first = next(item for item in items if item.sha256 == sha256)
        c.audit(
            audit.CATEGORY_SET,
            case_id=case.id,
            file_id=first.file_id,
            detail={"sha256": sha256, "category": category, "shortcut": key, "via": via},
        )
    c.db.flush()
    shown = list(
        c.db.scalars(
            select(GalleryItem)
            .where(
                GalleryItem.case_id == case.id, GalleryItem.sha256.in_({i.sha256 for i in items if i.sha256})
            )
            .limit(500)
        )
    )
    for item in shown:
        c.db.refresh(item)
    response = c.render("_tiles_oob.html", case=case, items=shown, keys=decisions.REVIEW_KEYS)
    response.headers["HX-Trigger"] = json.dumps({"himaya:categorised": affected})
    return response


@router.post("/cases/{case_number}/files/{file_id}/propose")
def propose(case_number: str, file_id: int, c: Annotated[Ctx, Depends(user_ctx)]) -> Response:
    case = require_case(c, case_number, "propose")
    assert c.user is not None
    try:
        proposal = decisions.propose_for_national_set(c.db, case.id, file_id, c.user.username)
    except decisions.ReviewError as error:
        raise HTTPException(status_code=400, detail=str(error)) from error
    c.audit(
        audit.HASH_PROPOSED,
        case_id=case.id,
        file_id=file_id,
        detail={"proposal": proposal.id, "sha256": proposal.sha256, "category": proposal.category},
    )
    return RedirectResponse(f"/cases/{case.number}/files/{file_id}", status_code=303)


def _proposal_case(c: Ctx, proposal_id: int) -> tuple[HashProposal, Case]:
    assert c.user is not None
    proposal = c.db.get(HashProposal, proposal_id)
    if proposal is None:
        raise HTTPException(status_code=403, detail=N_("you are not assigned to this case"))
    case = c.db.get(Case, proposal.case_id)
    if case is None or not auth.is_assigned(c.db, c.user, case.id):
        raise HTTPException(status_code=403, detail=N_("you are not assigned to this case"))
    return proposal, case


@router.get("/proposals")
def proposals(c: Annotated[Ctx, Depends(user_ctx)]) -> Response:
    assert c.user is not None
    require(c, "confirm")
    case_ids = auth.assigned_case_ids(c.db, c.user)
    rows = list(
        c.db.scalars(
            select(HashProposal)
            .where(HashProposal.case_id.in_(case_ids or {-1}), HashProposal.status == "proposed")
            .order_by(HashProposal.id)
            .limit(500)
        )
    )
    cases = {case.id: case for case in c.db.scalars(select(Case).where(Case.id.in_(case_ids or {-1})))}
    return c.render("proposals.html", rows=rows, cases=cases, national_set=c.state.national_set)


@router.post("/proposals/{proposal_id}/confirm")
def confirm(proposal_id: int, c: Annotated[Ctx, Depends(user_ctx)]) -> Response:
    require(c, "confirm")
    assert c.user is not None
    proposal, case = _proposal_case(c, proposal_id)
    try:
        version = decisions.confirm_proposal(c.db, proposal.id, c.user.username, c.state.national_set)
    except decisions.ReviewError as error:
        raise HTTPException(status_code=400, detail=str(error)) from error
    c.audit(
        audit.HASH_CONFIRMED,
        case_id=case.id,
        file_id=proposal.file_id,
        detail={"proposal": proposal.id, "hash_set": c.state.national_set, "version": version},
    )
    return RedirectResponse("/proposals", status_code=303)


@router.post("/proposals/{proposal_id}/reject")
def reject(proposal_id: int, c: Annotated[Ctx, Depends(user_ctx)]) -> Response:
    require(c, "confirm")
    assert c.user is not None
    proposal, case = _proposal_case(c, proposal_id)
    try:
        decisions.reject_proposal(c.db, proposal.id, c.user.username)
    except decisions.ReviewError as error:
        raise HTTPException(status_code=400, detail=str(error)) from error
    c.audit(audit.HASH_REJECTED, case_id=case.id, file_id=proposal.file_id, detail={"proposal": proposal.id})
    return RedirectResponse("/proposals", status_code=303)
