"""The Messages page of a case: what its phones' chat, SMS and contact databases say — the databases read
(or not, and why), who exchanged media with whom, the persons merged from contacts and accounts, and every
message that carried matched media (a deleted picture through the SHA-256 its app recorded).

Persons and exchanges are computed when the page is read (`himaya.chats.people`: one grouped query over
the messages); the page lists the first rows of each and says how many there are in all.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy import select

from himaya.chats.people import OWNER, case_people
from himaya.chats.records import iso_utc, message_records
from himaya.security import audit
from himaya.store.models import ArtifactSource, EvidenceItem, File
from himaya.web.context import Ctx, require_case, user_ctx

router = APIRouter()

EXCHANGES_SHOWN = 200
PERSONS_SHOWN = 500
CARRIED_SHOWN = 500


@router.get("/cases/{case_number}/messages")
def messages_page(case_number: str, c: Annotated[Ctx, Depends(user_ctx)]) -> Response:
    case = require_case(c, case_number, "view_messages")
    databases = c.db.execute(
        select(ArtifactSource, File.path, EvidenceItem.name)
        .join(File, File.id == ArtifactSource.file_id)
        .join(EvidenceItem, EvidenceItem.id == ArtifactSource.evidence_id)
        .where(EvidenceItem.case_id == case.id, ArtifactSource.role == "database")
        .order_by(File.path, ArtifactSource.id)
    ).all()
    people = case_people(c.db, case.id)
    owner = c.gettext("phone owner")

    def party(key: str) -> str:
        person = people.persons.get(key)
        return owner if key == OWNER else person.label if person else key

    carried = []
    records = message_records(c.db, case, only_matches=True, people=people, categories=c.state.categories)
    for record in records:
        if any(m.kind == "alert" for m in record.matches):
            carried.append(record)
            if len(carried) >= CARRIED_SHOWN:
                break
    # Persons a tip names first: the link between a referral and the seized phone.
    persons = sorted(people.persons.values(), key=lambda p: (not p.tips, not p.names, p.label.casefold()))
    c.audit(
        audit.MESSAGES_VIEWED,
        case_id=case.id,
        detail={"persons": len(persons), "exchanges": len(people.exchanges), "via": "web"},
    )
    return c.render(
        "messages.html",
        case=case,
        databases=databases,
        exchanges=people.exchanges[:EXCHANGES_SHOWN],
        exchanges_total=len(people.exchanges),
        persons=persons[:PERSONS_SHOWN],
        persons_total=len(persons),
        carried=carried,
        carried_shown=CARRIED_SHOWN,
        party=party,
        when=lambda value: iso_utc(value) or "",
    )
