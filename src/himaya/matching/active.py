"""What a scan or a re-match compares against: the latest version of every hash set, loaded once.

Older versions stay in the store for the matches already made against them, but new matching uses only
the active entries of each set: a hash withdrawn by its source must stop raising alerts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import and_, func, insert, select
from sqlalchemy.orm import Session

from himaya.matching.exact import ExactHit, ExactMethod, lookup_exact
from himaya.matching.index_store import pdq_index_for, video_index_for
from himaya.matching.pdq_sets import ActivePdq, PdqHit, match_pdq, match_pdq_many
from himaya.matching.video import ActiveVideo
from himaya.store.models import HashEntry, HashSet, HashSetVersion

if TYPE_CHECKING:
    from himaya.hashsets.nsrl import NsrlDatabase

__all__ = [
    "ActiveHashSets",
    "ActivePdq",
    "ActiveVersion",
    "ActiveVideo",
    "PdqHit",
    "latest_versions",
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
    format: str = "plain"
    dihedral: bool = False
    source_file: str | None = None
    vpdq_query_percent: float = 80.0
    vpdq_compared_percent: float = 0.0


@dataclass
class ActiveHashSets:
    versions: dict[int, ActiveVersion]  # by HashSetVersion.id
    pdq: tuple[ActivePdq, ...]  # only versions that hold PDQ entries
    nsrl: list[tuple[ActiveVersion, NsrlDatabase]] = field(default_factory=list)
    video: tuple[ActiveVideo, ...] = ()  # only versions that hold known videos (vpdq entries)

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
        md5s, sha1s, sha256s = list(md5s), list(sha1s), list(sha256s)
        hits = lookup_exact(session, self.versions, md5s, sha1s, sha256s)
        for version, database in self.nsrl:
            found = database.lookup(
                md5s=[v for v in md5s if v], sha1s=[v for v in sha1s if v], sha256s=[v for v in sha256s if v]
            )
            for (method, value), entry_id in _nsrl_entries(session, version, found).items():
                hit = ExactHit(entry_id, version.version_id, version.hash_set_name, version.kind, None)
                hits.setdefault((method, value), []).append(hit)
        return hits

    def match_pdq(self, pdq_hex: str, quality: int) -> list[PdqHit]:
        return match_pdq(self.pdq, pdq_hex, quality)

    def close(self) -> None:
        for _version, database in self.nsrl:
            database.close()
        self.nsrl = []


def _nsrl_entries(
    session: Session, version: ActiveVersion, found: set[tuple[str, str]]
) -> dict[tuple[ExactMethod, str], int]:
    """Entry ids for NSRL hits. The database is looked up in place; only a digest that a case actually
    holds becomes an entry row, because a match must point at an entry."""
    ids: dict[tuple[ExactMethod, str], int] = {}
    for method, value in sorted(found):
        if method not in ("md5", "sha1", "sha256"):
            continue
        key: tuple[ExactMethod, str] = (method, value)  # type: ignore[assignment]
        entry_id = session.scalar(
            select(HashEntry.id).where(
                HashEntry.hash_set_id == version.hash_set_id,
                HashEntry.retired_version_id.is_(None),
                HashEntry.hash_type == method,
                HashEntry.value == value,
            )
        )
        if entry_id is None:
            entry_id = session.execute(
                insert(HashEntry)
                .values(
                    version_id=version.version_id,
                    hash_set_id=version.hash_set_id,
                    hash_type=method,
                    value=value,
                )
                .returning(HashEntry.id)
            ).scalar_one()
        ids[key] = entry_id
    return ids


def latest_versions(session: Session) -> dict[int, ActiveVersion]:
    """The latest version of every set, by version id (no index loaded: for exact look-ups)."""
    latest = (
        select(HashSetVersion.hash_set_id, func.max(HashSetVersion.version).label("version"))
        .group_by(HashSetVersion.hash_set_id)
        .subquery()
    )
    rows = session.execute(
        select(
            HashSetVersion.id,
            HashSetVersion.version,
            HashSetVersion.format,
            HashSetVersion.source_file,
            HashSet,
        )
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
    return {
        version_id: ActiveVersion(
            version_id=version_id,
            hash_set_id=hash_set.id,
            hash_set_name=hash_set.name,
            kind=hash_set.kind,
            version=version,
            pdq_threshold=hash_set.pdq_threshold,
            pdq_min_quality=hash_set.pdq_min_quality,
            format=fmt,
            dihedral=hash_set.dihedral,
            source_file=source_file,
            vpdq_query_percent=hash_set.vpdq_query_percent,
            vpdq_compared_percent=hash_set.vpdq_compared_percent,
        )
        for version_id, version, fmt, source_file, hash_set in rows
    }


def load_active(session: Session, index_dir: Path | None = None) -> ActiveHashSets:
    """The latest version of every set. `index_dir` keeps each version's PDQ index on disk, so that a
    list of millions is read from the store once, and a new version is derived from the previous one."""
    versions = latest_versions(session)
    pictures, videos = _load_indexes(session, versions, index_dir)
    active = ActiveHashSets(versions=versions, pdq=pictures, video=videos)
    for version in versions.values():
        if version.format == "nsrl" and version.source_file:
            from himaya.hashsets.nsrl import NsrlDatabase

            active.nsrl.append((version, NsrlDatabase.open(Path(version.source_file))))
    return active


def _load_indexes(
    session: Session, versions: dict[int, ActiveVersion], index_dir: Path | None
) -> tuple[tuple[ActivePdq, ...], tuple[ActiveVideo, ...]]:
    """Each version's picture index and known-video frame index, for the versions that have them."""
    pictures: list[ActivePdq] = []
    videos: list[ActiveVideo] = []
    for version in sorted(versions.values(), key=lambda v: v.hash_set_name):
        if version.format == "nsrl":
            continue
        name, kind = version.hash_set_name, version.kind
        threshold, floor = version.pdq_threshold, version.pdq_min_quality
        index = pdq_index_for(session, version.hash_set_id, version.version_id, index_dir)
        if index is not None:
            pictures.append(
                ActivePdq(version.version_id, name, kind, threshold, floor, index, dihedral=version.dihedral)
            )
        frames = video_index_for(session, version.hash_set_id, version.version_id, index_dir)
        if frames is not None:
            videos.append(
                ActiveVideo(
                    version.version_id,
                    name,
                    kind,
                    threshold,
                    floor,
                    frames,
                    query_percent=version.vpdq_query_percent,
                    compared_percent=version.vpdq_compared_percent,
                )
            )
    return tuple(pictures), tuple(videos)
