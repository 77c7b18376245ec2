"""What a scan matches against: the latest version of every hash set, loaded once per scan.

Older versions stay in the store for the matches already made against them, but new matching uses only
the latest: a hash withdrawn by its source must stop raising alerts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from himaya.matching.exact import ExactHit, ExactMethod, lookup_exact
from himaya.matching.pdq_index import PdqIndex
from himaya.matching.pdq_sets import ActivePdq, PdqHit, match_pdq, match_pdq_many
from himaya.store.models import HashEntry, HashSet, HashSetVersion

__all__ = [
    "ActiveHashSets",
    "ActivePdq",
    "ActiveVersion",
    "PdqHit",
    "load_active",
    "match_pdq",
    "match_pdq_many",
]


@dataclass(frozen=True)
class ActiveVersion:
    version_id: int
    hash_set_id: int
    hash_set_name: str
    kind: str  # alert | ignore
    version: int
    pdq_threshold: int
    pdq_min_quality: int


@dataclass(frozen=True)
class ActiveHashSets:
    versions: dict[int, ActiveVersion]  # by HashSetVersion.id
    pdq: tuple[ActivePdq, ...]  # only versions that hold PDQ entries

    @property
    def version_ids(self) -> list[int]:
        return sorted(self.versions)

    def exact_lookup(
        self,
        session: Session,
        md5s: Iterable[str | None] = (),
        sha1s: Iterable[str | None] = (),
        sha256s: Iterable[str | None] = (),
    ) -> dict[tuple[ExactMethod, str], list[ExactHit]]:
        return lookup_exact(session, self.versions, md5s, sha1s, sha256s)

    def match_pdq(self, pdq_hex: str, quality: int) -> list[PdqHit]:
        return match_pdq(self.pdq, pdq_hex, quality)


def load_active(session: Session) -> ActiveHashSets:
    latest = (
        select(HashSetVersion.hash_set_id, func.max(HashSetVersion.version).label("version"))
        .group_by(HashSetVersion.hash_set_id)
        .subquery()
    )
    rows = session.execute(
        select(HashSetVersion.id, HashSetVersion.version, HashSet)
        .join(HashSet, HashSet.id == HashSetVersion.hash_set_id)
        .join(
            latest,
            and_(
                latest.c.hash_set_id == HashSetVersion.hash_set_id,
                latest.c.version == HashSetVersion.version,
            ),
        )
        .order_by(HashSet.name)
    ).all()
    versions = {
        version_id: ActiveVersion(
            version_id=version_id,
            hash_set_id=hash_set.id,
            hash_set_name=hash_set.name,
            kind=hash_set.kind,
            version=version,
            pdq_threshold=hash_set.pdq_threshold,
            pdq_min_quality=hash_set.pdq_min_quality,
        )
        for version_id, version, hash_set in rows
    }
    return ActiveHashSets(versions=versions, pdq=_load_pdq(session, versions))


def _load_pdq(session: Session, versions: dict[int, ActiveVersion]) -> tuple[ActivePdq, ...]:
    loaded: list[ActivePdq] = []
    for version in sorted(versions.values(), key=lambda v: v.hash_set_name):
        rows = session.execute(
            select(HashEntry.id, HashEntry.value)
            .where(HashEntry.version_id == version.version_id, HashEntry.hash_type == "pdq")
            .order_by(HashEntry.id)
        ).all()
        if not rows:
            continue
        index = PdqIndex.from_hex([entry_id for entry_id, _ in rows], [value for _, value in rows])
        loaded.append(
            ActivePdq(
                version_id=version.version_id,
                hash_set_name=version.hash_set_name,
                kind=version.kind,
                threshold=version.pdq_threshold,
                min_quality=version.pdq_min_quality,
                index=index,
            )
        )
    return tuple(loaded)
