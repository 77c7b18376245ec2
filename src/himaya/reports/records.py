"""One reading of the store for every output, so that exports and reports cannot disagree."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import SQLColumnExpression, select
from sqlalchemy.orm import Session, selectinload

from himaya.errors import CaseNotFoundError
from himaya.store.models import Case, EvidenceItem, File, HashEntry, HashSetVersion, Match


@dataclass(frozen=True)
class MatchRecord:
    hashset: str
    hashset_version: int
    kind: str
    method: str
    distance: int
    category: str | None
    series: str | None
    pdq_pipeline: str | None

    def contract(self) -> dict[str, Any]:
        return {
            "hashset": self.hashset,
            "hashset_version": self.hashset_version,
            "kind": self.kind,
            "method": self.method,
            "distance": self.distance,
            "category": self.category,
        }


def find_case(session: Session, case_number: str) -> Case:
    case = session.scalar(select(Case).where(Case.number == case_number))
    if case is None:
        raise CaseNotFoundError(case_number)
    return case


def _match_records(matches: list[Match]) -> list[MatchRecord]:
    records = []
    for m in matches:
        version: HashSetVersion = m.hash_set_version
        entry: HashEntry = m.entry
        records.append(
            MatchRecord(
                hashset=version.hash_set.name,
                hashset_version=version.version,
                kind=version.hash_set.kind,
                method=m.method,
                distance=m.distance,
                category=entry.category,
                series=entry.series,
                pdq_pipeline=m.pdq_pipeline,
            )
        )
    return sorted(
        records, key=lambda r: (r.hashset, r.hashset_version, r.method, r.distance, r.category or "")
    )


def _code_point_order(session: Session, *columns: SQLColumnExpression[str]) -> list[SQLColumnExpression[str]]:
    """Text columns to sort by code point, as SQLite does, whatever the server's default collation.

    PostgreSQL sorts text by the database's collation, often a linguistic one (en_US.UTF-8) that puts
    "orig1_small.jpg" before "orig1.jpg"; the same case would then export in a different order in
    server mode than in the embedded store.
    """
    if session.get_bind().dialect.name == "postgresql":
        return [column.collate("C") for column in columns]
    return list(columns)


def file_records(
    session: Session, case: Case, only_matches: bool = False
) -> Iterator[tuple[EvidenceItem, File, list[MatchRecord]]]:
    """Every file of the case in a stable order (evidence name, path, locator), with its matches."""
    query = (
        select(File, EvidenceItem)
        .join(EvidenceItem, File.evidence_id == EvidenceItem.id)
        .where(EvidenceItem.case_id == case.id)
        .options(
            selectinload(File.media),
            selectinload(File.matches).selectinload(Match.entry),
            selectinload(File.matches)
            .selectinload(Match.hash_set_version)
            .selectinload(HashSetVersion.hash_set),
        )
        .order_by(*_code_point_order(session, EvidenceItem.name), EvidenceItem.id)
        .order_by(*_code_point_order(session, File.path, File.locator))
        .execution_options(yield_per=500)
    )
    if only_matches:
        query = query.where(File.matches.any())
    for file, item in session.execute(query):
        yield item, file, _match_records(list(file.matches))


def contract_record(case: Case, item: EvidenceItem, file: File, matches: list[MatchRecord]) -> dict[str, Any]:
    """The `export --format jsonl` object of DESIGN.md's command-line contract."""
    media = file.media
    return {
        "case": case.number,
        "evidence": item.name,
        "path": file.path,
        "size": file.size,
        "md5": file.md5,
        "sha1": file.sha1,
        "sha256": file.sha256,
        "mime": file.mime,
        "pdq": media.pdq if media else None,
        "pdq_quality": media.pdq_quality if media else None,
        "deleted": bool(file.deleted),
        "status": file.status,
        "error": file.error,
        "matches": [m.contract() for m in matches],
        # Grown since the contract was written (it only grows): content type disagrees with the name.
        "extension_mismatch": bool(file.extension_mismatch),
        # The path with each archive member's index (`a.zip!#3/b.jpg`): unique even where names repeat.
        "locator": file.locator,
    }
