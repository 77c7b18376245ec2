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


@dataclass(frozen=True)
class VersionRow:
    version: int
    imported_at: datetime
    format: str
    category_scheme: str | None
    entries: int
    added: int | None
    changed: int | None
    removed: int | None
    source_file: str | None
    source_sha256: str | None


def version_history(store: Store, name: str) -> list[VersionRow]:
    """Every version of one hash set, oldest first: where each came from and what it changed."""
    from himaya.errors import UsageError

    with store.session() as session:
        hash_set = session.scalars(select(HashSet).where(HashSet.name == name)).one_or_none()
        if hash_set is None:
            raise UsageError(f"no hash set named {name!r}; `himaya hashset list` shows them")
        return [
            VersionRow(
                version=v.version,
                imported_at=v.imported_at,
                format=v.format,
                category_scheme=v.category_scheme,
                entries=v.entry_count,
                added=v.added_count,
                changed=v.changed_count,
                removed=v.removed_count,
                source_file=v.source_file,
                source_sha256=v.source_sha256,
            )
            for v in hash_set.versions
        ]
