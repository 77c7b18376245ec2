"""The one process that writes scan results: files, media facts and matches, a task at a time.

A task's files go in one transaction, members before their container, so a killed scan leaves either
the whole of a top-level file or none of it... except that members already committed by an earlier,
killed run are recognised by locator and not written twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from himaya.analyzers.facts import FileFacts, VideoFacts, VideoFrame
from himaya.matching.active import ActiveHashSets
from himaya.matching.exact import ExactHit, ExactMethod
from himaya.sources.phone import origin_of
from himaya.store.models import ArtifactSource, File, Match, MediaFacts
from himaya.store.models import VideoFacts as VideoFactsRow

SQLITE_IN_LIMIT = 900


@dataclass
class WriteCounts:
    written: int = 0
    skipped: int = 0
    errors: int = 0
    matched_files: int = 0  # files with at least one alert match
    bytes: int = 0


def existing_locators(session: Session, evidence_id: int, locators: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(locators), SQLITE_IN_LIMIT):
        chunk = locators[start : start + SQLITE_IN_LIMIT]
        rows = session.scalars(
            select(File.locator).where(File.evidence_id == evidence_id, File.locator.in_(chunk))
        )
        found.update(rows)
    return found


def unread_top_level(session: Session, evidence_id: int, locators: list[str]) -> dict[str, File]:
    """Rows of top-level files recorded without content: nothing was read (permission denied, vanished...).

    Their error tells the examiner to fix the cause and re-run the scan, so a re-run reads them again and
    the new result replaces the row (same file id).
    """
    found: dict[str, File] = {}
    for start in range(0, len(locators), SQLITE_IN_LIMIT):
        chunk = locators[start : start + SQLITE_IN_LIMIT]
        rows = session.scalars(
            select(File).where(
                File.evidence_id == evidence_id,
                File.depth == 0,
                File.md5.is_(None),
                File.locator.in_(chunk),
            )
        )
        found.update((row.locator, row) for row in rows)
    return found


def write_results(
    session: Session,
    scan_run_id: int,
    active: ActiveHashSets,
    results: Iterable[tuple[int, list[FileFacts]]],
) -> WriteCounts:
    counts = WriteCounts()
    # One look-up and one flush per evidence item for the whole group, not per file: with small files
    # the per-file queries were most of a scan's time.
    grouped: dict[int, list[FileFacts]] = {}
    for evidence_id, facts_list in results:
        grouped.setdefault(evidence_id, []).extend(facts_list)
    for evidence_id, facts_list in grouped.items():
        done = existing_locators(session, evidence_id, [f.locator for f in facts_list])
        retried = unread_top_level(
            session, evidence_id, [f.locator for f in facts_list if f.depth == 0 and f.locator in done]
        )
        fresh = [f for f in facts_list if f.locator not in done or f.locator in retried]
        counts.skipped += len(facts_list) - len(fresh)
        if not fresh:
            continue
        hits = active.exact_lookup(
            session,
            md5s=[f.md5 for f in fresh if f.md5],
            sha1s=[f.sha1 for f in fresh if f.sha1],
            sha256s=[f.sha256 for f in fresh if f.sha256],
        )
        rows: list[tuple[FileFacts, File]] = []
        for facts in fresh:
            row = retried.get(facts.locator) or File(evidence_id=evidence_id, locator=facts.locator)
            row.scan_run_id = scan_run_id
            row.path = facts.path
            row.container_locator = facts.container_locator
            row.depth = facts.depth
            row.size = facts.size
            row.mtime = facts.mtime
            row.md5, row.sha1, row.sha256 = facts.md5, facts.sha1, facts.sha256
            row.mime = facts.mime
            row.extension_mismatch = facts.extension_mismatch
            row.path_spec = facts.path_spec
            row.deleted, row.carved = facts.deleted, facts.carved
            row.accessed, row.changed, row.created = facts.accessed, facts.changed, facts.created
            row.origin = origin_of(facts.path)
            row.status = facts.status
            row.error = facts.error
            rows.append((facts, row))
        session.add_all([row for _, row in rows])
        session.flush()  # assigns file ids for media facts and matches
        for facts, row in rows:
            counts.written += 1
            if facts.md5:  # read to the end; a refused member has a declared size it never gave
                counts.bytes += facts.size or 0
            if facts.status == "error":
                counts.errors += 1
            _add_media(session, facts, row)
            if facts.video is not None:
                session.add(video_row(row.id, facts.video))
            if facts.artifact is not None:
                session.add(artifact_row(evidence_id, row.id, facts))
            if _add_matches(session, facts, row, hits):
                counts.matched_files += 1
    return counts


def _add_media(session: Session, facts: FileFacts, row: File) -> None:
    media = facts.media
    if media is None:
        return
    pdq = media.pdq
    exif = media.exif
    trimmed = pdq.trimmed if pdq else None
    session.add(
        MediaFacts(
            file_id=row.id,
            width=media.width,
            height=media.height,
            pdq=pdq.hash_hex if pdq else None,
            pdq_quality=pdq.quality if pdq else None,
            pdq_pipeline=pdq.pipeline if pdq else None,
            pdq_dihedral=",".join(pdq.dihedral) if pdq and pdq.dihedral else None,
            pdq_trimmed=trimmed.hash_hex if trimmed else None,
            pdq_trimmed_quality=trimmed.quality if trimmed else None,
            pdq_trimmed_pipeline=trimmed.pipeline if trimmed else None,
            exif_make=exif.make,
            exif_model=exif.model,
            exif_serial=exif.body_serial,
            exif_datetime=exif.datetime_original,
            gps_lat=exif.gps_lat,
            gps_lon=exif.gps_lon,
            thumbnail_blob=media.thumbnail_blob,
            blurred_blob=media.blurred_blob,
        )
    )


def artifact_row(evidence_id: int, file_id: int, facts: FileFacts) -> ArtifactSource:
    artifact = facts.artifact
    assert artifact is not None
    unreadable = artifact.finding is not None and artifact.role == "database"
    return ArtifactSource(
        file_id=file_id,
        evidence_id=evidence_id,
        role=artifact.role,
        parsers=",".join(artifact.parsers) or None,
        blob_id=artifact.blob_id,
        status="failed" if unreadable else "pending",
        finding=artifact.finding,
        messages=0,
        identities=0,
    )


def video_row(file_id: int, video: VideoFacts) -> VideoFactsRow:
    return VideoFactsRow(
        file_id=file_id,
        duration_s=video.duration,
        container=video.container,
        video_codec=video.video_codec,
        audio_codec=video.audio_codec,
        width=video.width,
        height=video.height,
        frame_rate=video.frame_rate,
        creation_time=video.creation_time,
        make=video.make,
        model=video.model,
        gps_lat=video.gps_lat,
        gps_lon=video.gps_lon,
        pipeline=video.pipeline,
        frame_count=len(video.frames),
        frames=frames_text(video.frames) or None,
        frames_trimmed=trimmed_text(video.frames) or None,
        incomplete=video.incomplete,
    )


def frames_text(frames: Iterable[VideoFrame]) -> str:
    """Meta's vPDQ lines: frame,quality,pdq,seconds (3 decimals)."""
    return "".join(f"{f.frame_number},{f.quality},{f.pdq},{f.timestamp:.3f}\n" for f in frames)


def trimmed_text(frames: Iterable[VideoFrame]) -> str:
    return "".join(
        f"{f.frame_number},{f.trimmed_quality},{f.trimmed}\n" for f in frames if f.trimmed is not None
    )


def stored_frames(frames: str | None, trimmed: str | None) -> list[VideoFrame]:
    """The frames of a `video_facts` row, as the analyzer gave them (for re-matching and exports)."""
    inner: dict[int, tuple[str, int]] = {}
    for line in (trimmed or "").splitlines():
        number, quality, pdq = line.split(",")
        inner[int(number)] = (pdq, int(quality))
    result = []
    for line in (frames or "").splitlines():
        number, quality, pdq, seconds = line.split(",")
        found = inner.get(int(number))
        result.append(
            VideoFrame(
                frame_number=int(number),
                timestamp=float(seconds),
                pdq=pdq,
                quality=int(quality),
                trimmed=found[0] if found else None,
                trimmed_quality=found[1] if found else None,
            )
        )
    return result


def _add_matches(
    session: Session, facts: FileFacts, row: File, hits: Mapping[tuple[ExactMethod, str], list[ExactHit]]
) -> int:
    # (entry, version, kind, method, distance, pipeline, details): exact hits first, so an entry matched
    # both by digest and by PDQ is recorded once, as the stronger digest match.
    candidates: list[tuple[int, int, str, str, int, str | None, str | None]] = []
    digests: tuple[tuple[ExactMethod, str | None], ...] = (
        ("md5", facts.md5),
        ("sha1", facts.sha1),
        ("sha256", facts.sha256),
    )
    for method, value in digests:
        for hit in hits.get((method, value), []) if value else []:
            candidates.append((hit.entry_id, hit.version_id, hit.kind, method, 0, None, None))
    pdq = facts.media.pdq if facts.media else None
    for pdq_hit in facts.pdq_matches:
        pipeline = pdq.pipeline if pdq else None
        if pdq_hit.method == "pdq-trimmed" and pdq is not None and pdq.trimmed is not None:
            pipeline = pdq.trimmed.pipeline
        hit_row = (pdq_hit.entry_id, pdq_hit.version_id, pdq_hit.kind, pdq_hit.method, pdq_hit.distance)
        candidates.append((*hit_row, pipeline, None))
    video_pipeline = facts.video.pipeline if facts.video else None
    for video_hit in facts.video_matches:
        details = json.dumps(video_hit.details, sort_keys=True)
        video_row_of = (video_hit.entry_id, video_hit.version_id, video_hit.kind, video_hit.method)
        candidates.append((*video_row_of, video_hit.distance, video_pipeline, details))
    alerts = 0
    seen: set[int] = set()
    for entry_id, version_id, kind, match_method, distance, pdq_pipeline, match_details in candidates:
        if entry_id in seen:
            continue
        seen.add(entry_id)
        session.add(
            Match(
                file_id=row.id,
                entry_id=entry_id,
                hash_set_version_id=version_id,
                method=match_method,
                distance=distance,
                pdq_pipeline=pdq_pipeline,
                details=match_details,
            )
        )
        alerts += kind == "alert"
    return alerts
