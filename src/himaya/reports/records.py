"""One reading of the store for every output, so that exports and reports cannot disagree."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import SQLColumnExpression, select
from sqlalchemy.orm import Session, defer, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from himaya.errors import CaseNotFoundError
from himaya.hashsets.categories import UNCATEGORIZED, CategoryMap
from himaya.store.models import Case, EvidenceItem, File, HashEntry, HashSetVersion, Match, VideoFacts


@dataclass(frozen=True)
class MatchRecord:
    hashset: str
    hashset_version: int
    kind: str
    method: str
    distance: int
    category: str | None  # the source's own label
    series: str | None
    pdq_pipeline: str | None
    internal_category: str = UNCATEGORIZED  # on Himaya's scale (docs/categories.md)
    category_scheme: str | None = None
    victim_identified: bool | None = None
    offender_identified: bool | None = None
    # Video matches (vpdq, pdq-frame): matched time ranges and shares of frames, as stored; None otherwise.
    details: dict[str, Any] | None = field(default=None, hash=False)

    def contract(self) -> dict[str, Any]:
        record = {
            "hashset": self.hashset,
            "hashset_version": self.hashset_version,
            "kind": self.kind,
            "method": self.method,
            "distance": self.distance,
            "category": self.category,
            # Grown: the label on Himaya's one scale, and the scheme the label belongs to.
            "internal_category": self.internal_category,
            "category_scheme": self.category_scheme,
        }
        # Grown with videos, and only where there is something to say: a picture's or a digest's match
        # keeps exactly the keys it always had (tests outside the project compare them whole).
        if self.details is not None:
            record["details"] = self.details
        return record


@dataclass(frozen=True)
class FileCategory:
    """A file's category from its alert matches: the most severe wins; disagreement stays visible."""

    category: str | None  # None: no alert match
    labels: tuple[str, ...]  # every distinct "set: label" that an alert match gave
    disagreement: bool  # alert matches put the file in different internal categories


def file_category(matches: list[MatchRecord], categories: CategoryMap | None = None) -> FileCategory:
    categories = categories or _default_categories()
    alerts = [m for m in matches if m.kind == "alert"]
    if not alerts:
        return FileCategory(None, (), False)
    internals = {m.internal_category for m in alerts}
    labels = tuple(sorted({f"{m.hashset}: {m.category}" for m in alerts if m.category}))
    # An alert without a label says nothing about the category, so it does not count as disagreeing.
    labelled = {m.internal_category for m in alerts if m.category}
    return FileCategory(categories.most_severe(internals), labels, len(labelled) > 1)


@lru_cache(maxsize=1)
def _default_categories() -> CategoryMap:
    return CategoryMap.default()


def find_case(session: Session, case_number: str) -> Case:
    case = session.scalar(select(Case).where(Case.number == case_number))
    if case is None:
        raise CaseNotFoundError(case_number)
    return case


def match_records(matches: list[Match], categories: CategoryMap | None = None) -> list[MatchRecord]:
    categories = categories or _default_categories()
    records = []
    for m in matches:
        if m.retired_at is not None:  # retired by a re-match: history, not a current match
            continue
        version: HashSetVersion = m.hash_set_version
        entry: HashEntry = m.entry
        scheme = version.category_scheme
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
                internal_category=categories.internal(entry.category, scheme),
                category_scheme=scheme,
                victim_identified=entry.victim_identified,
                offender_identified=entry.offender_identified,
                details=match_details(m.details),
            )
        )
    return sorted(
        records, key=lambda r: (r.hashset, r.hashset_version, r.method, r.distance, r.category or "")
    )


def match_details(stored: str | None) -> dict[str, Any] | None:
    """A match's stored details (JSON text, written for video matches) as an object, or None."""
    if not stored:
        return None
    details = json.loads(stored)
    return details if isinstance(details, dict) else None


def _code_point_order(session: Session, *columns: SQLColumnExpression[str]) -> list[SQLColumnExpression[str]]:
    """Text columns to sort by code point, as SQLite does, whatever the server's default collation.

    PostgreSQL sorts text by the database's collation, often a linguistic one (en_US.UTF-8) that puts
    "orig1_small.jpg" before "orig1.jpg"; the same case would then export in a different order in
    server mode than in the embedded store.
    """
    if session.get_bind().dialect.name == "postgresql":
        return [column.collate("C") for column in columns]
    return list(columns)


def with_media_and_matches() -> tuple[LoaderOption, ...]:
    """Loader options for files read with their media facts and matches (entry, version, set)."""
    return (
        selectinload(File.media),
        selectinload(File.matches).selectinload(Match.entry),
        selectinload(File.matches).selectinload(Match.hash_set_version).selectinload(HashSetVersion.hash_set),
    )


def with_video_facts() -> tuple[LoaderOption, ...]:
    """Loader options for a video's container facts, without its frame hashes (a line a second: a long
    video's are hundreds of kilobytes, which no record or report shows)."""
    return (selectinload(File.video).options(defer(VideoFacts.frames), defer(VideoFacts.frames_trimmed)),)


def file_records(
    session: Session, case: Case, only_matches: bool = False, categories: CategoryMap | None = None
) -> Iterator[tuple[EvidenceItem, File, list[MatchRecord]]]:
    """Every file of the case in a stable order (evidence name, path, locator), with its matches."""
    query = (
        select(File, EvidenceItem)
        .join(EvidenceItem, File.evidence_id == EvidenceItem.id)
        .where(EvidenceItem.case_id == case.id)
        .options(*with_media_and_matches(), *with_video_facts())
        .order_by(*_code_point_order(session, EvidenceItem.name), EvidenceItem.id)
        .order_by(*_code_point_order(session, File.path, File.locator))
        .execution_options(yield_per=500)
    )
    if only_matches:
        query = query.where(File.matches.any(Match.retired_at.is_(None)))
    for file, item in session.execute(query):
        yield item, file, match_records(list(file.matches), categories)


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
        # Grown: the file's category on Himaya's scale (most severe alert match), every source label
        # behind it, and whether the sets disagree.
        **_category_fields(file_category(matches)),
        # Grown for seized devices: recovered from unallocated space; where on the phone or computer the
        # file sits ("whatsapp", "camera", ...); file-system times; and, inside a disk image, the dfVFS
        # path spec that reaches the same bytes through every layer (an object, or null).
        "carved": bool(file.carved),
        "origin": file.origin,
        "created": _iso(file.created),
        "modified": _iso(file.mtime),
        "accessed": _iso(file.accessed),
        "changed": _iso(file.changed),
        "path_spec": json.loads(file.path_spec) if file.path_spec else None,
        # Grown with videos, on a video's record only (the key set of every other record stays as it was):
        # container facts and how its frames were hashed. Its matches carry the matched time ranges.
        **({"video": video_record(file.video)} if file.video is not None else {}),
    }


def video_record(video: VideoFacts) -> dict[str, Any]:
    """The `video` object of a video's export record: what the container says, and how much was hashed."""
    return {
        "duration": video.duration_s,  # seconds
        "container": video.container,
        "video_codec": video.video_codec,
        "audio_codec": video.audio_codec,
        "width": video.width,
        "height": video.height,
        "frame_rate": video.frame_rate,
        "creation_time": video.creation_time,  # as the container writes it
        "make": video.make,
        "model": video.model,
        "gps_lat": video.gps_lat,
        "gps_lon": video.gps_lon,
        "pipeline": video.pipeline,
        "frame_count": video.frame_count,  # frames hashed (about one a second)
        "incomplete": video.incomplete,  # why hashing stopped before the end; null when all was read
    }


def ranges_text(ranges: object) -> str:
    """Matched time ranges ([[start, end], ...] in seconds, from a match's details) for people:
    "0:40-0:59, 1:30"; "" when there are none or they are not ranges."""
    # Imported here: the matcher brings the PDQ index (faiss) with it, which an export does not need.
    from himaya.matching.video import format_ranges

    if not isinstance(ranges, list) or not all(isinstance(r, list) and len(r) == 2 for r in ranges):
        return ""
    return format_ranges(ranges)


def clock(seconds: float | None) -> str:
    """A duration as the matched ranges are written (m:ss, h:mm:ss from an hour); "" when unknown."""
    return "" if seconds is None else ranges_text([[seconds, seconds]])


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes; they were stored as UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _category_fields(category: FileCategory) -> dict[str, Any]:
    return {
        "file_category": category.category,
        "category_labels": list(category.labels),
        "categories_disagree": category.disagreement,
    }
