"""Cases: the container every scan, match and report belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from himaya.errors import UsageError
from himaya.store.db import Store
from himaya.store.models import Case, EvidenceItem, File, HashSet, HashSetVersion, Match


def create_case(store: Store, number: str, title: str | None = None) -> Case:
    number = number.strip()
    if not number:
        raise UsageError("a case number cannot be empty")
    with store.transaction() as session:
        if session.scalar(select(Case).where(Case.number == number)) is not None:
            raise UsageError(
                f"case {number!r} already exists; scan into it with 'himaya scan {number} EVIDENCE...'"
            )
        case = Case(number=number, title=title)
        session.add(case)
        return case


@dataclass(frozen=True)
class CaseRow:
    number: str
    title: str | None
    created_at: datetime
    evidence: int
    files: int
    matched_files: int


def list_cases(store: Store) -> list[CaseRow]:
    rows: list[CaseRow] = []
    with store.session() as session:
        for case in session.scalars(select(Case).order_by(Case.created_at)):
            evidence = session.scalar(select(func.count()).where(EvidenceItem.case_id == case.id)) or 0
            files = (
                session.scalar(
                    select(func.count(File.id)).join(EvidenceItem).where(EvidenceItem.case_id == case.id)
                )
                or 0
            )
            matched = (
                session.scalar(
                    select(func.count(func.distinct(Match.file_id)))
                    .join(File, Match.file_id == File.id)
                    .where(Match.retired_at.is_(None))
                    .join(EvidenceItem, File.evidence_id == EvidenceItem.id)
                    .join(HashSetVersion, Match.hash_set_version_id == HashSetVersion.id)
                    .join(HashSet, HashSetVersion.hash_set_id == HashSet.id)
                    .where(EvidenceItem.case_id == case.id, HashSet.kind == "alert")
                )
                or 0
            )
            rows.append(CaseRow(case.number, case.title, case.created_at, evidence, files, matched))
    return rows
