"""Re-matching stored cases against the hash sets' latest versions, without reading any evidence.

Digests and PDQ hashes (with their dihedral variants and border-trimmed hash) are in the store, so a new
list version is checked against every old case in minutes. A match the new versions no longer support
(the entry was withdrawn, re-labelled, or a threshold was tightened) is retired, not deleted: what was
alerted on, and when, stays on record. Each run is recorded with the versions it used.

The stored PDQ hash is the one the scan decided on. A scan re-hashes at full resolution only near a set's
threshold, so a hash that was far from every entry then stays the reduced-scale one; a new entry within a
few bits of the threshold may be decided on it (the drift is a handful of bits; see docs/performance.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from himaya.analyzers.facts import PdqFacts
from himaya.matching.active import ActiveHashSets, load_active
from himaya.matching.exact import ExactHit, ExactMethod
from himaya.matching.pdq_sets import match_media
from himaya.matching.video import match_video
from himaya.store.db import Store
from himaya.store.models import (
    Case,
    EvidenceItem,
    File,
    HashEntry,
    HashSet,
    HashSetVersion,
    Match,
    MediaFacts,
    RematchRun,
    VideoFacts,
    utcnow,
)

CHUNK = 500  # files per round trip: three IN lists of digests stay under SQLite's 999 parameters


@dataclass(frozen=True)
class MatchChange:
    path: str
    evidence: str
    hashset: str
    hashset_version: int
    method: str
    distance: int
    category: str | None  # the source's label


@dataclass
class RematchResult:
    case: str
    run_id: int
    files_checked: int = 0
    kept: int = 0
    new: list[MatchChange] = field(default_factory=list)
    lost: list[MatchChange] = field(default_factory=list)


@dataclass(frozen=True)
class _Wanted:
    entry_id: int
    version_id: int
    method: str
    distance: int
    pipeline: str | None
    details: str | None = None


def rematch(store: Store, case_numbers: Sequence[str] = ()) -> list[RematchResult]:
    """Re-match the named cases (all cases when none are named), one transaction per case."""
    with store.session() as session:
        cases = _cases(session, case_numbers)
        active = load_active(session, store.index_dir)
    try:
        results = []
        for case_id, number in cases:
            with store.transaction() as session:
                results.append(_rematch_case(session, active, case_id, number))
        return results
    finally:
        active.close()


def _cases(session: Session, numbers: Sequence[str]) -> list[tuple[int, str]]:
    if not numbers:
        return [(row.id, row.number) for row in session.scalars(select(Case).order_by(Case.number))]
    found = []
    for number in numbers:
        case = session.scalar(select(Case).where(Case.number == number))
        if case is None:
            from himaya.errors import CaseNotFoundError

            raise CaseNotFoundError(number)
        found.append((case.id, case.number))
    return found


def _rematch_case(session: Session, active: ActiveHashSets, case_id: int, number: str) -> RematchResult:
    versions = {v.hash_set_name: v.version for v in active.versions.values()}
    run = RematchRun(case_id=case_id, versions_json=json.dumps(versions, sort_keys=True))
    session.add(run)
    session.flush()
    result = RematchResult(case=number, run_id=run.id)
    file_ids = session.scalars(
        select(File.id)
        .join(EvidenceItem, EvidenceItem.id == File.evidence_id)
        .where(EvidenceItem.case_id == case_id, File.md5.is_not(None))
        .order_by(File.id)
    ).all()
    for start in range(0, len(file_ids), CHUNK):
        _rematch_files(session, active, run, list(file_ids[start : start + CHUNK]), result)
    run.files_checked = result.files_checked
    run.new_matches = len(result.new)
    run.lost_matches = len(result.lost)
    run.kept_matches = result.kept
    run.finished_at = utcnow()
    # Matches changed: the gallery's tiers and categories follow (imported here: rematch runs in the CLI).
    from himaya.review.gallery import refresh

    refresh(session, case_id)
    return result


def _rematch_files(
    session: Session, active: ActiveHashSets, run: RematchRun, file_ids: list[int], result: RematchResult
) -> None:
    rows = session.execute(
        select(File, MediaFacts, VideoFacts)
        .outerjoin(MediaFacts, MediaFacts.file_id == File.id)
        .outerjoin(VideoFacts, VideoFacts.file_id == File.id)
        .where(File.id.in_(file_ids))
    ).all()
    hits = active.exact_lookup(
        session,
        md5s=[f.md5 for f, _, _ in rows],
        sha1s=[f.sha1 for f, _, _ in rows],
        sha256s=[f.sha256 for f, _, _ in rows],
    )
    existing: dict[int, dict[int, Match]] = {}
    retired: dict[int, dict[int, Match]] = {}
    for match in session.scalars(select(Match).where(Match.file_id.in_(file_ids))):
        into = existing if match.retired_at is None else retired
        into.setdefault(match.file_id, {})[match.entry_id] = match
    for file, media, video in rows:
        result.files_checked += 1
        wanted = _wanted(file, media, hits, active, video)
        before = existing.get(file.id, {})
        for entry_id, want in wanted.items():
            if entry_id in before:
                result.kept += 1
                continue
            earlier = retired.get(file.id, {}).get(entry_id)
            if earlier is not None:
                # Matched once, retired (say a threshold was tightened), wanted again: the one row per
                # file and entry comes back to life, re-made by this run.
                earlier.retired_at = None
                earlier.retired_run_id = None
                earlier.rematch_run_id = run.id
                earlier.hash_set_version_id = want.version_id
                earlier.method, earlier.distance, earlier.pdq_pipeline = (
                    want.method,
                    want.distance,
                    want.pipeline,
                )
                earlier.details = want.details
                earlier.matched_at = utcnow()
            else:
                session.add(
                    Match(
                        file_id=file.id,
                        entry_id=entry_id,
                        hash_set_version_id=want.version_id,
                        method=want.method,
                        distance=want.distance,
                        pdq_pipeline=want.pipeline,
                        details=want.details,
                        rematch_run_id=run.id,
                    )
                )
            result.new.append(_change(session, file, entry_id, want.version_id, want.method, want.distance))
        for entry_id, match in before.items():
            if entry_id in wanted:
                continue
            match.retired_at = utcnow()
            match.retired_run_id = run.id
            result.lost.append(
                _change(session, file, entry_id, match.hash_set_version_id, match.method, match.distance)
            )
    session.flush()


def _wanted(
    file: File,
    media: MediaFacts | None,
    hits: dict[tuple[ExactMethod, str], list[ExactHit]],
    active: ActiveHashSets,
    video: VideoFacts | None = None,
) -> dict[int, _Wanted]:
    """What the latest versions say this file matches: exact digests first, so an entry matched both
    ways is recorded once, as the stronger digest match (as a scan does)."""
    wanted: dict[int, _Wanted] = {}
    digests: tuple[tuple[ExactMethod, str | None], ...] = (
        ("md5", file.md5),
        ("sha1", file.sha1),
        ("sha256", file.sha256),
    )
    for method, value in digests:
        for hit in hits.get((method, value), []) if value else []:
            wanted.setdefault(hit.entry_id, _Wanted(hit.entry_id, hit.version_id, method, 0, None))
    pdq = _stored_pdq(media)
    if pdq is not None and active.pdq:
        for pdq_hit in match_media(active.pdq, pdq):
            pipeline = pdq.pipeline
            if pdq_hit.method == "pdq-trimmed" and pdq.trimmed is not None:
                pipeline = pdq.trimmed.pipeline
            wanted.setdefault(
                pdq_hit.entry_id,
                _Wanted(pdq_hit.entry_id, pdq_hit.version_id, pdq_hit.method, pdq_hit.distance, pipeline),
            )
    if video is not None and video.frames and (active.video or active.pdq):
        from himaya.pipeline.writer import stored_frames

        frames = stored_frames(video.frames, video.frames_trimmed)
        for video_hit in match_video(frames, active.video, active.pdq):
            details = json.dumps(video_hit.details, sort_keys=True)
            found = (video_hit.entry_id, video_hit.version_id, video_hit.method, video_hit.distance)
            wanted.setdefault(video_hit.entry_id, _Wanted(*found, video.pipeline, details))
    return wanted


def _stored_pdq(media: MediaFacts | None) -> PdqFacts | None:
    if media is None or media.pdq is None or media.pdq_quality is None:
        return None
    trimmed = None
    if media.pdq_trimmed and media.pdq_trimmed_quality is not None:
        trimmed = PdqFacts(media.pdq_trimmed, media.pdq_trimmed_quality, media.pdq_trimmed_pipeline or "")
    return PdqFacts(
        hash_hex=media.pdq,
        quality=media.pdq_quality,
        pipeline=media.pdq_pipeline or "",
        dihedral=tuple(media.pdq_dihedral.split(",")) if media.pdq_dihedral else (),
        trimmed=trimmed,
    )


def _change(
    session: Session, file: File, entry_id: int, version_id: int, method: str, distance: int
) -> MatchChange:
    entry = session.get(HashEntry, entry_id)
    version = session.get(HashSetVersion, version_id)
    hash_set = session.get(HashSet, version.hash_set_id) if version else None
    evidence = session.get(EvidenceItem, file.evidence_id)
    return MatchChange(
        path=file.path,
        evidence=evidence.name if evidence else "",
        hashset=hash_set.name if hash_set else "",
        hashset_version=version.version if version else 0,
        method=method,
        distance=distance,
        category=entry.category if entry else None,
    )
