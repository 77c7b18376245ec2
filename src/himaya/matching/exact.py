"""Exact digest matching: indexed lookups of MD5 / SHA1 / SHA256 values in the active hash-set versions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from himaya.store.models import HashEntry

if TYPE_CHECKING:
    from himaya.matching.active import ActiveVersion

ExactMethod = Literal["md5", "sha1", "sha256"]

# SQLite builds without SQLITE_MAX_VARIABLE_NUMBER raised allow only 999 bound parameters per statement;
# the version ids and the hash type share that budget with the values.
SQLITE_MAX_PARAMETERS = 999
MAX_VALUES_PER_QUERY = 900


@dataclass(frozen=True)
class ExactHit:
    entry_id: int
    version_id: int
    hash_set_name: str
    kind: str  # alert | ignore
    category: str | None  # the source's own label


def lookup_exact(
    session: Session,
    versions: Mapping[int, ActiveVersion],
    md5s: Iterable[str | None] = (),
    sha1s: Iterable[str | None] = (),
    sha256s: Iterable[str | None] = (),
) -> dict[tuple[ExactMethod, str], list[ExactHit]]:
    """Hits per (method, lower-case value) among the active entries of the sets whose latest versions are
    `versions` (id → version); values without a hit are absent. Input is normalised (case, surrounding
    space); None and empty values are skipped. Attached NSRL sets are not looked up here."""
    by_set = {version.hash_set_id: version for version in versions.values() if version.format != "nsrl"}
    if not by_set:
        return {}
    set_ids = sorted(by_set)
    per_query = max(1, min(MAX_VALUES_PER_QUERY, SQLITE_MAX_PARAMETERS - len(set_ids) - 1))
    hits: dict[tuple[ExactMethod, str], list[ExactHit]] = {}
    wanted: tuple[tuple[ExactMethod, Iterable[str | None]], ...] = (
        ("md5", md5s),
        ("sha1", sha1s),
        ("sha256", sha256s),
    )
    for method, raw_values in wanted:
        values = sorted({value.strip().lower() for value in raw_values if value and value.strip()})
        for start in range(0, len(values), per_query):
            rows = session.execute(
                select(HashEntry.id, HashEntry.hash_set_id, HashEntry.value, HashEntry.category).where(
                    HashEntry.hash_type == method,
                    HashEntry.value.in_(values[start : start + per_query]),
                    HashEntry.hash_set_id.in_(set_ids),
                    HashEntry.retired_version_id.is_(None),
                )
            )
            for entry_id, hash_set_id, value, category in rows:
                version = by_set[hash_set_id]
                hit = ExactHit(entry_id, version.version_id, version.hash_set_name, version.kind, category)
                hits.setdefault((method, value), []).append(hit)
    for found in hits.values():
        found.sort(key=lambda hit: (hit.hash_set_name, hit.entry_id))
    return hits
