"""`himaya hashset list`: each hash set with its latest version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from himaya.store.db import Store
from himaya.store.models import HashSet


@dataclass(frozen=True)
class HashSetRow:
    name: str
    kind: str
    version: int
    entries: int
    imported_at: datetime
    pdq_threshold: int
    pdq_min_quality: int
    format: str
    category_scheme: str | None
    dihedral: bool
    added: int | None  # what the latest version changed against the one before (None: not recorded)
    changed: int | None
    removed: int | None


def list_hash_sets(store: Store) -> list[HashSetRow]:
    rows = []
    with store.session() as session:
        for hash_set in session.scalars(select(HashSet).order_by(HashSet.name)):
            if not hash_set.versions:
                continue
            latest = hash_set.versions[-1]
            rows.append(
                HashSetRow(
                    name=hash_set.name,
                    kind=hash_set.kind,
                    version=latest.version,
                    entries=latest.entry_count,
                    imported_at=latest.imported_at,
                    pdq_threshold=hash_set.pdq_threshold,
                    pdq_min_quality=hash_set.pdq_min_quality,
                    format=latest.format,
                    category_scheme=latest.category_scheme,
                    dihedral=hash_set.dihedral,
                    added=latest.added_count,
                    changed=latest.changed_count,
                    removed=latest.removed_count,
                )
            )
    return rows
