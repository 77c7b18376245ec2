"""`himaya report`: a self-contained HTML triage report (no scripts, no external files, no pictures).

Everything a reviewer needs to act on the scan is in one file that can be printed or attached to a case
file: the case, its evidence, every match with its digests, method, distance and the hash-set version
that produced it, counts by category, and every file that could not be read. A matched video also gets
where it matches (the time ranges of it and of the known video) and its duration and codecs, so that a
reviewer goes to the right minute; its key-frame sheet is a picture and stays out, like every picture.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from himaya import __version__
from himaya.chats.people import OWNER, case_people
from himaya.chats.records import MessageRecord, iso_utc, message_records
from himaya.reports.records import MatchRecord, clock, file_category, file_records, find_case, ranges_text
from himaya.store.db import Store
from himaya.store.models import ArtifactSource, Case, CustodyEvent, EvidenceItem, File, ScanRun, VideoFacts

EXCHANGES_SHOWN = 50


@dataclass
class MatchRow:
    evidence: str
    file: File
    match: MatchRecord


@dataclass
class VideoMatchRow:
    """A match of a video, with where it is: known video (vpdq) or known picture in a frame (pdq-frame)."""

    evidence: str
    file: File
    video: VideoFacts
    match: MatchRecord
    duration: str  # m:ss
    ranges: str  # the matched parts of this video, "0:40-0:59, 1:30"
    known_ranges: str  # vpdq: the parts of the known video they match
    share: str  # vpdq: "95% of its frames (19 of 20); 40% of the known video's (19 of 48)"
    frame_time: str  # pdq-frame: the time of the nearest frame


@dataclass
class EvidenceRow:
    item: EvidenceItem
    filesystems: list[str] = field(default_factory=list)  # "seized.E01/p2 (NTFS)"
    problems: list[str] = field(default_factory=list)  # e.g. a volume left locked


@dataclass
class CustodyRow:
    evidence: str
    event: CustodyEvent
    summary: str


@dataclass
class ReportData:
    case_number: str
    case_title: str | None
    generated_at: str
    tool_version: str
    evidence: list[EvidenceRow]
    runs: list[ScanRun]
    custody: list[CustodyRow] = field(default_factory=list)
    deleted: int = 0
    carved: int = 0
    files: int = 0
    errors: int = 0
    matched_files: int = 0
    bytes_total: int = 0
    by_category: Counter[str] = field(default_factory=Counter)  # source labels
    by_internal: Counter[str] = field(default_factory=Counter)  # files per category on Himaya's scale
    disagreements: int = 0  # files whose alert sets put them in different categories
    by_method: Counter[str] = field(default_factory=Counter)
    by_mime: Counter[str] = field(default_factory=Counter)
    matches: list[MatchRow] = field(default_factory=list)
    error_files: list[tuple[str, File]] = field(default_factory=list)
    videos: int = 0  # files read as videos (frame hashes taken)
    video_matches: list[VideoMatchRow] = field(default_factory=list)
    # Videos hashed in part: (evidence, file, facts, duration as m:ss).
    partial_videos: list[tuple[str, File, VideoFacts, str]] = field(default_factory=list)
    # Phone databases kept for parsing: (evidence, path, parsers, status, messages, finding).
    databases: list[tuple[str, str, str, str, int, str | None]] = field(default_factory=list)
    # Matched media and the messages that carried them (a deleted picture through its recorded SHA-256).
    carried: list[CarriedRow] = field(default_factory=list)
    # Who exchanged media with whom: (from, to, media, messages, first, last, apps), most media first.
    exchanges: list[tuple[str, str, int, int, str, str, str]] = field(default_factory=list)
    persons: int = 0


@dataclass
class CarriedRow:
    """A matched picture (or a gone one, known by the SHA-256 its message recorded) and its messages."""

    path: str  # the file in the case, or the media path the app recorded when the file is gone
    present: bool
    sha256: str | None
    matches: list[MatchRecord]
    messages: list[MessageRecord]


def collect(store: Store, case_number: str) -> ReportData:
    with store.session() as session:
        case = find_case(session, case_number)
        evidence = list(
            session.scalars(
                select(EvidenceItem).where(EvidenceItem.case_id == case.id).order_by(EvidenceItem.id)
            )
        )
        runs = list(session.scalars(select(ScanRun).where(ScanRun.case_id == case.id).order_by(ScanRun.id)))
        names = {item.id: item.name for item in evidence}
        custody = session.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.evidence_id.in_(list(names)))
            .order_by(CustodyEvent.at, CustodyEvent.id)
        )
        data = ReportData(
            case_number=case.number,
            case_title=case.title,
            generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            tool_version=__version__,
            evidence=[evidence_row(item) for item in evidence],
            runs=runs,
            custody=[CustodyRow(names[e.evidence_id], e, custody_summary(e)) for e in custody],
        )
        for item, file, matches in file_records(session, case):
            data.files += 1
            data.deleted += bool(file.deleted)
            data.carved += bool(file.carved)
            if file.md5:  # bytes actually read; a refused zip-bomb member declares 200 MB it never gave
                data.bytes_total += file.size or 0
            data.by_mime[(file.mime or "unknown").split("/")[0]] += 1
            if file.status == "error":
                data.errors += 1
                data.error_files.append((item.name, file))
            alerts = [m for m in matches if m.kind == "alert"]
            if alerts:
                data.matched_files += 1
                # A file counts once per category, however many entries it matched.
                for category in {m.category or "uncategorised" for m in alerts}:
                    data.by_category[category] += 1
                verdict = file_category(matches)
                data.by_internal[verdict.category or "uncategorized"] += 1
                data.disagreements += verdict.disagreement
            for m in matches:
                data.by_method[m.method] += 1
                data.matches.append(MatchRow(item.name, file, m))
            if file.video is not None:
                data.videos += 1
                if file.video.incomplete:
                    data.partial_videos.append((item.name, file, file.video, clock(file.video.duration_s)))
                data.video_matches += [
                    video_match_row(item.name, file, file.video, m) for m in matches if m.details is not None
                ]
        _collect_messages(session, case, data, names)
        return data


def _collect_messages(session: Session, case: Case, data: ReportData, names: dict[int, str]) -> None:
    sources = session.execute(
        select(ArtifactSource, File.path)
        .join(File, File.id == ArtifactSource.file_id)
        .where(ArtifactSource.evidence_id.in_(list(names)), ArtifactSource.role == "database")
        .order_by(File.path, ArtifactSource.id)
    ).all()
    data.databases = [
        (names[s.evidence_id], path, (s.parsers or "").replace(",", ", "), s.status, s.messages, s.finding)
        for s, path in sources
    ]
    if not sources:
        return
    people = case_people(session, case.id)

    def party(key: str) -> str:
        person = people.persons.get(key)
        return "phone owner" if key == OWNER else person.label if person else key

    data.persons = len(people.persons)
    data.exchanges = [
        (party(e.sender), party(e.recipient), e.media, e.messages, iso_utc(e.first) or "",
         iso_utc(e.last) or "", ", ".join(sorted(e.apps)))
        for e in people.exchanges[:EXCHANGES_SHOWN]
    ]  # fmt: skip
    groups: dict[object, CarriedRow] = {}
    for record in message_records(session, case, only_matches=True, people=people):
        alerts = [m for m in record.matches if m.kind == "alert"]
        if not alerts:
            continue
        key: object = record.file_id if record.file_id is not None else ("gone", record.media_sha256)
        row = groups.get(key)
        if row is None:
            present = bool(record.media_present)
            row = groups[key] = CarriedRow(
                path=(record.file_path_in_case if present else record.media_path) or "",
                present=present,
                sha256=record.media_sha256,
                matches=alerts,
                messages=[],
            )
        row.messages.append(record)
    data.carried = sorted(groups.values(), key=lambda r: (not r.present, r.path))


def video_match_row(evidence: str, file: File, video: VideoFacts, match: MatchRecord) -> VideoMatchRow:
    details = match.details or {}
    share = ""
    if "query_percent" in details:
        share = (
            f"{details['query_percent']:g}% of its frames ({details.get('frames_matched')} of "
            f"{details.get('frames_usable')}); {details.get('compared_percent', 0):g}% of the known "
            f"video's ({details.get('known_frames_matched')} of {details.get('known_frames_usable')})"
        )
    time = details.get("time")
    return VideoMatchRow(
        evidence=evidence,
        file=file,
        video=video,
        match=match,
        duration=clock(video.duration_s),
        ranges=ranges_text(details.get("ranges")),
        known_ranges=ranges_text(details.get("known_ranges")),
        share=share,
        frame_time=clock(time) if isinstance(time, int | float) else "",
    )


def evidence_row(item: EvidenceItem) -> EvidenceRow:
    details = json.loads(item.details) if item.details else {}
    return EvidenceRow(
        item=item,
        filesystems=[f"{fs['path']} ({fs['type']})" for fs in details.get("filesystems", [])],
        problems=list(details.get("problems", [])),
    )


def custody_summary(event: CustodyEvent) -> str:
    """The detail a reader needs on one line: hashes compared, and who acquired the image, with what notes."""
    try:
        detail = json.loads(event.detail or "{}")
    except ValueError:
        return event.detail or ""
    if not isinstance(detail, dict):
        return str(detail)
    parts = []
    for name, value in sorted(detail.get("stored", {}).items()):
        computed = detail.get("computed", {}).get(name)
        if computed is None:
            verdict = ""
        else:
            verdict = " = computed" if computed == value else f" ≠ computed {computed}"
        parts.append(f"{name.upper()} {value}{verdict}")
    if detail.get("error"):
        parts.append(f"error: {detail['error']}")
    header = detail.get("header", {})
    parts += [f"{key.replace('_', ' ')}: {header[key]}" for key in sorted(header)]
    return "; ".join(parts)


def render(data: ReportData) -> str:
    env = Environment(
        loader=PackageLoader("himaya.reports", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc"] = lambda value: iso_utc(value) or ""
    return env.get_template("triage.html").render(r=data)


def write_report(store: Store, case_number: str, out: Path) -> ReportData:
    data = collect(store, case_number)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(data), encoding="utf-8")
    return data
