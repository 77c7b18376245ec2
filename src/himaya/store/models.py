"""Case-store records, named as investigators name them (see DESIGN.md, "Core records").

Every match keeps the hash-set version and the PDQ pipeline that produced it: a court must be able to
re-run the same comparison and get the same answer.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    evidence_items: Mapped[list[EvidenceItem]] = relationship(back_populates="case")


class EvidenceItem(Base):
    __tablename__ = "evidence_items"
    __table_args__ = (UniqueConstraint("case_id", "source_path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    name: Mapped[str] = mapped_column(String(1000))
    source_path: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(40))  # folder | file | disk-image
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    acquisition_md5: Mapped[str | None] = mapped_column(String(32))
    acquisition_sha1: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    # Disk images: the layers found (format, partitions, encryption, file systems) and the problems met,
    # such as an encrypted volume that no credential opened (JSON). Never holds a credential.
    details: Mapped[str | None] = mapped_column(Text)
    # What a phone extraction's layout says it is ("android" | "ios"), when the evidence is one.
    phone_platform: Mapped[str | None] = mapped_column(String(20))

    case: Mapped[Case] = relationship(back_populates="evidence_items")


class CustodyEvent(Base):
    __tablename__ = "custody_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence_items.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    event: Mapped[str] = mapped_column(String(80))
    detail: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(200))


class ScanRun(Base):
    __tablename__ = "scan_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), default="running")  # running|finished|interrupted|failed
    tool_version: Mapped[str] = mapped_column(String(40))
    settings_json: Mapped[str | None] = mapped_column(Text)  # never holds a password
    files_total: Mapped[int] = mapped_column(Integer, default=0)
    files_skipped: Mapped[int] = mapped_column(Integer, default=0)  # already in the store (resumed)
    files_ok: Mapped[int] = mapped_column(Integer, default=0)
    files_error: Mapped[int] = mapped_column(Integer, default=0)
    bytes_read: Mapped[int] = mapped_column(BigInteger, default=0)
    matches: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class File(Base):
    __tablename__ = "files"
    __table_args__ = (
        UniqueConstraint("evidence_id", "locator"),
        Index("ix_files_md5", "md5"),
        Index("ix_files_sha1", "sha1"),
        Index("ix_files_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence_items.id"), index=True)
    scan_run_id: Mapped[int | None] = mapped_column(ForeignKey("scan_runs.id"))
    locator: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    container_locator: Mapped[str | None] = mapped_column(Text)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int | None] = mapped_column(BigInteger)
    mtime: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    md5: Mapped[str | None] = mapped_column(String(32))
    sha1: Mapped[str | None] = mapped_column(String(40))
    sha256: Mapped[str | None] = mapped_column(String(64))
    mime: Mapped[str | None] = mapped_column(String(200))
    extension_mismatch: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    carved: Mapped[bool] = mapped_column(Boolean, default=False)  # recovered from unallocated space
    # Where on a seized phone or computer the file sits, in a reviewer's terms ("whatsapp", "camera", ...).
    origin: Mapped[str | None] = mapped_column(String(40), index=True)
    # Inside a disk image: the dfVFS path spec (JSON) that reaches the same bytes through every layer.
    path_spec: Mapped[str | None] = mapped_column(Text)
    accessed: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    changed: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # metadata change time
    created: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(10), default="ok")  # ok | error
    error: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    media: Mapped[MediaFacts | None] = relationship(back_populates="file", uselist=False)
    video: Mapped[VideoFacts | None] = relationship(back_populates="file", uselist=False)
    matches: Mapped[list[Match]] = relationship(back_populates="file")


class MediaFacts(Base):
    __tablename__ = "media_facts"
    __table_args__ = (Index("ix_media_facts_pdq", "pdq"),)

    file_id: Mapped[int] = mapped_column(ForeignKey("files.id"), primary_key=True)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    pdq: Mapped[str | None] = mapped_column(String(64))
    pdq_quality: Mapped[int | None] = mapped_column(Integer)
    pdq_pipeline: Mapped[str | None] = mapped_column(String(80))
    exif_make: Mapped[str | None] = mapped_column(Text)
    exif_model: Mapped[str | None] = mapped_column(Text)
    exif_serial: Mapped[str | None] = mapped_column(Text)
    exif_datetime: Mapped[str | None] = mapped_column(String(40))
    gps_lat: Mapped[float | None] = mapped_column(Float)
    gps_lon: Mapped[float | None] = mapped_column(Float)
    # The other seven dihedral variants (comma-separated hex) and the border-trimmed hash: kept so that a
    # re-match finds rotated, mirrored and re-framed copies without reading the evidence again.
    pdq_dihedral: Mapped[str | None] = mapped_column(Text)
    pdq_trimmed: Mapped[str | None] = mapped_column(String(64))
    pdq_trimmed_quality: Mapped[int | None] = mapped_column(Integer)
    pdq_trimmed_pipeline: Mapped[str | None] = mapped_column(String(80))
    thumbnail_blob: Mapped[str | None] = mapped_column(String(80))
    blurred_blob: Mapped[str | None] = mapped_column(String(80))

    file: Mapped[File] = relationship(back_populates="media")


class VideoFacts(Base):
    """A video's container facts and its frame hashes (one frame a second, vPDQ-compatible).

    The review thumbnails of a video (a key-frame contact sheet, sharp and blurred) live in its
    `media_facts` row with its size, so that the gallery and item view show videos like pictures.
    """

    __tablename__ = "video_facts"

    file_id: Mapped[int] = mapped_column(ForeignKey("files.id"), primary_key=True)
    duration_s: Mapped[float | None] = mapped_column(Float)
    container: Mapped[str | None] = mapped_column(String(80))
    video_codec: Mapped[str | None] = mapped_column(String(40))
    audio_codec: Mapped[str | None] = mapped_column(String(40))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    frame_rate: Mapped[float | None] = mapped_column(Float)
    creation_time: Mapped[str | None] = mapped_column(String(40))  # as the container writes it
    make: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text)
    gps_lat: Mapped[float | None] = mapped_column(Float)
    gps_lon: Mapped[float | None] = mapped_column(Float)
    pipeline: Mapped[str | None] = mapped_column(String(80))  # e.g. "vpdq-s360/1"
    frame_count: Mapped[int] = mapped_column(Integer, default=0)  # hashed frames kept
    # The frame hashes in Meta's vPDQ text form (frame,quality,pdq,seconds a line), then those of the
    # frames with borders trimmed (frame,quality,pdq a line): a re-match reads them, never the evidence.
    frames: Mapped[str | None] = mapped_column(Text)
    frames_trimmed: Mapped[str | None] = mapped_column(Text)
    # Why hashing stopped early (time or frame budget, a broken stream); None when the whole was read.
    incomplete: Mapped[str | None] = mapped_column(Text)

    file: Mapped[File] = relationship(back_populates="video")


class HashSet(Base):
    __tablename__ = "hash_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10))  # alert | ignore
    category_scheme: Mapped[str | None] = mapped_column(String(40))
    pdq_threshold: Mapped[int] = mapped_column(Integer, default=31)
    pdq_min_quality: Mapped[int] = mapped_column(Integer, default=50)
    # Also compare rotated and mirrored variants of each picture (method "pdq-dihedral"); on by default
    # for alert sets, where a mirrored copy of known material must not slip through.
    dihedral: Mapped[bool] = mapped_column(Boolean, default=True)
    # vPDQ: a video matches a known one when this share of its usable frames match some frame of it, and
    # this share of the known video's usable frames are matched (Meta's defaults 80 and 0).
    vpdq_query_percent: Mapped[float] = mapped_column(Float, default=80.0)
    vpdq_compared_percent: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    versions: Mapped[list[HashSetVersion]] = relationship(
        back_populates="hash_set", order_by="HashSetVersion.version"
    )


class HashSetVersion(Base):
    __tablename__ = "hash_set_versions"
    __table_args__ = (UniqueConstraint("hash_set_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash_set_id: Mapped[int] = mapped_column(ForeignKey("hash_sets.id"))
    version: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    source_file: Mapped[str | None] = mapped_column(Text)
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(20))
    category_scheme: Mapped[str | None] = mapped_column(String(40))  # vics | ncmec | caid | icse | custom
    entry_count: Mapped[int] = mapped_column(Integer, default=0)  # entries active in this version
    # What this version changed against the one before it (a changed entry kept its hash but got a new
    # category, series, flag or detail). None for versions imported before this was recorded.
    added_count: Mapped[int | None] = mapped_column(Integer)
    removed_count: Mapped[int | None] = mapped_column(Integer)
    changed_count: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[str | None] = mapped_column(Text)  # JSON: e.g. an attached NSRL database's version

    hash_set: Mapped[HashSet] = relationship(back_populates="versions")


class HashEntry(Base):
    """One hash of a set, alive from the version that added it until the version that retired it.

    An entry that a new version keeps unchanged keeps its row and id, so a monthly update of a list of
    millions writes only what changed, and matches made against the entry stay attached to it. The
    entries of version k are those added at or before k and not retired at or before k.
    """

    __tablename__ = "hash_entries"
    __table_args__ = (
        Index("ix_hash_entries_lookup", "hash_type", "value"),
        # A set's own entries by hash: what an import compares its staging table with. Without it the
        # planner walks every entry of the set for each staged row (quadratic on a list of millions).
        Index("ix_hash_entries_set_hash", "hash_set_id", "hash_type", "value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("hash_set_versions.id"), index=True)  # added in
    hash_set_id: Mapped[int] = mapped_column(ForeignKey("hash_sets.id"))
    retired_version_id: Mapped[int | None] = mapped_column(ForeignKey("hash_set_versions.id"))
    hash_type: Mapped[str] = mapped_column(String(10))  # md5 | sha1 | sha256 | pdq | vpdq (a known video)
    value: Mapped[str] = mapped_column(String(64))  # lower-case hex
    category: Mapped[str | None] = mapped_column(String(40))  # the source's own label
    series: Mapped[str | None] = mapped_column(Text)
    victim_identified: Mapped[bool | None] = mapped_column(Boolean)
    offender_identified: Mapped[bool | None] = mapped_column(Boolean)
    line: Mapped[int | None] = mapped_column(Integer)  # where the entry stood in the source file
    media_id: Mapped[str | None] = mapped_column(String(200))  # VICS MediaID, ICSE Image ID
    details: Mapped[str | None] = mapped_column(Text)  # JSON of the source's other fields (PhotoDNA, ...)


class Match(Base):
    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("file_id", "entry_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("hash_entries.id"), index=True)
    hash_set_version_id: Mapped[int] = mapped_column(ForeignKey("hash_set_versions.id"))
    # md5 | sha1 | sha256 | pdq | pdq-dihedral | pdq-trimmed | vpdq (a known video) | pdq-frame (a picture)
    method: Mapped[str] = mapped_column(String(20))
    distance: Mapped[int] = mapped_column(Integer, default=0)
    pdq_pipeline: Mapped[str | None] = mapped_column(String(80))
    # JSON for video matches: matched time ranges (seconds) of the file and of the known video, shares of
    # frames matched; None for pictures and digests.
    details: Mapped[str | None] = mapped_column(Text)
    matched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # A re-match that no longer finds this match (the entry was withdrawn or re-categorised) retires it
    # rather than deleting it: what was alerted on, and when, stays on record.
    rematch_run_id: Mapped[int | None] = mapped_column(ForeignKey("rematch_runs.id"))  # made by
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retired_run_id: Mapped[int | None] = mapped_column(ForeignKey("rematch_runs.id"))

    file: Mapped[File] = relationship(back_populates="matches")
    entry: Mapped[HashEntry] = relationship()
    hash_set_version: Mapped[HashSetVersion] = relationship()


class RematchRun(Base):
    """One `himaya rematch` of one case: stored facts against the hash sets' latest versions."""

    __tablename__ = "rematch_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    versions_json: Mapped[str] = mapped_column(Text)  # {"hash set name": version, ...} matched against
    files_checked: Mapped[int] = mapped_column(Integer, default=0)
    new_matches: Mapped[int] = mapped_column(Integer, default=0)
    lost_matches: Mapped[int] = mapped_column(Integer, default=0)
    kept_matches: Mapped[int] = mapped_column(Integer, default=0)


# --- Review workspace (`himaya serve`): people, access, audit, decisions -------------------------------


class User(Base):
    """A person who logs in. Secrets are never stored in clear: the password as an argon2id hash, the
    TOTP secret encrypted with the blob key (AES-GCM, the user's id as associated data)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    # administrator | supervisor | investigator | reviewer | auditor
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret_enc: Mapped[str | None] = mapped_column(Text)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)  # a code is accepted once only
    language: Mapped[str] = mapped_column(String(5), default="en")  # en | ar
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CaseAssignment(Base):
    """Need-to-know: a user sees a case only while assigned to it."""

    __tablename__ = "case_assignments"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True, index=True)
    assigned_by: Mapped[str | None] = mapped_column(String(100))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebSession(Base):
    """A logged-in browser. Only the SHA-256 of the cookie's token is kept: a copy of the database does
    not let anyone take over a session."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_ip_at", "ip", "at"),
        Index("ix_login_attempts_user_at", "username", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    ip: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    success: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEvent(Base):
    """One thing a person did or saw, chained to the event before it.

    `hash` is an HMAC (key derived from the blob key) over the previous hash and this event's canonical
    JSON, so editing, removing or reordering a row breaks the chain; the chain head is also appended to a
    checkpoint file outside the database, so truncating or rewriting the whole chain is caught too.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_case_seq", "case_id", "seq"),
        Index("ix_audit_events_actor_seq", "actor", "seq"),
        Index("ix_audit_events_action_seq", "action", "seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(100))  # username, or "system"
    action: Mapped[str] = mapped_column(String(60))
    case_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: the trail outlives a case
    file_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)  # canonical JSON; never a secret
    ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last sequence number and hash, one row: updating it first serialises writers."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class Review(Base):
    """A reviewer's decision on one content (SHA-256) of a case: every copy of it shares the decision.

    Rows are never updated: the latest row is the decision, the earlier ones are the review history.
    """

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_case_sha256", "case_id", "sha256", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    file_id: Mapped[int | None] = mapped_column(ForeignKey("files.id"))  # the copy the reviewer looked at
    category: Mapped[str] = mapped_column(String(40))  # internal scale (illegal, harmful-abusive, ...)
    label: Mapped[str | None] = mapped_column(String(20))  # the key pressed, VICS 0-5 style
    reviewer: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    via: Mapped[str] = mapped_column(String(20), default="single")  # single | bulk | stack
    note: Mapped[str | None] = mapped_column(Text)


class GalleryItem(Base):
    """One picture of a case as the gallery sorts and filters it (derived from files, media facts,
    matches and reviews; rebuilt by `himaya.review.gallery.refresh`).

    The sort order is (tier, rank, file_id): tier 0 is new material (in no alert or ignore set), where
    unidentified victims are; rank puts camera and chat pictures before icons, cache tiles and tiny
    pictures. Pages are fetched by keyset on that order, never by OFFSET.
    """

    __tablename__ = "gallery_items"
    __table_args__ = (
        Index("ix_gallery_order", "case_id", "tier", "rank", "file_id"),
        Index("ix_gallery_serial", "case_id", "exif_serial", "tier", "rank", "file_id"),
        Index("ix_gallery_category", "case_id", "category", "tier", "rank", "file_id"),
        Index("ix_gallery_evidence", "case_id", "evidence_id", "tier", "rank", "file_id"),
        Index("ix_gallery_sha256", "case_id", "sha256"),
        Index("ix_gallery_stack", "case_id", "stack_id"),
    )

    file_id: Mapped[int] = mapped_column(ForeignKey("files.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    evidence_id: Mapped[int] = mapped_column(Integer)
    tier: Mapped[int] = mapped_column(Integer)  # 0 new | 1 alert match | 2 ignore set only
    rank: Mapped[int] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(40))  # decision if reviewed, else matched category
    match_category: Mapped[str | None] = mapped_column(String(40))
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[str | None] = mapped_column(String(40))
    path: Mapped[str] = mapped_column(Text)
    exif_make: Mapped[str | None] = mapped_column(Text)
    exif_model: Mapped[str | None] = mapped_column(Text)
    exif_serial: Mapped[str | None] = mapped_column(Text)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    has_gps: Mapped[bool] = mapped_column(Boolean, default=False)
    sha256: Mapped[str | None] = mapped_column(String(64))
    pdq: Mapped[str | None] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    size: Mapped[int | None] = mapped_column(BigInteger)
    stack_id: Mapped[int | None] = mapped_column(Integer)  # the lowest file id of its near-duplicate stack


class Reveal(Base):
    """One picture shown in clear to one reviewer: exposure is measured on the server, from the reveal
    to the hide (or, when the page never said, capped)."""

    __tablename__ = "reveals"
    __table_args__ = (Index("ix_reveals_user_at", "user_id", "revealed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id"))
    revealed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    hidden_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seconds: Mapped[float | None] = mapped_column(Float)


class HashProposal(Base):
    """A categorised picture proposed for the unit's own (national) hash set: it enters the set only
    when a second person confirms it (two-person rule)."""

    __tablename__ = "hash_proposals"
    __table_args__ = (Index("ix_hash_proposals_status", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    md5: Mapped[str | None] = mapped_column(String(32))
    sha1: Mapped[str | None] = mapped_column(String(40))
    pdq: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(40))
    label: Mapped[str | None] = mapped_column(String(20))
    proposed_by: Mapped[str] = mapped_column(String(100))
    proposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="proposed")  # proposed | confirmed | rejected
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hash_set_version_id: Mapped[int | None] = mapped_column(ForeignKey("hash_set_versions.id"))


class Setting(Base):
    """Unit-wide settings changed in the app (each change is an audit event)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str | None] = mapped_column(String(100))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OnlineCapture(Base):
    """One reported page fetched for a case, with its media: an evidence item of kind `web-capture`.

    `status` moves fetching → fetched (every exchange stored as WARC, nothing analysed yet) → finished
    (media scanned, locations built). A capture killed while fetching is discarded and fetched again; one
    killed later is scanned again, which skips what was committed.
    """

    __tablename__ = "online_captures"
    __table_args__ = (Index("ix_online_captures_case_page", "case_id", "page_url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence_items.id"))
    page_url: Mapped[str] = mapped_column(Text)
    final_url: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), default="fetching")  # fetching | fetched | finished
    error: Mapped[str | None] = mapped_column(Text)
    warcinfo_blob_id: Mapped[str | None] = mapped_column(String(32))
    media_found: Mapped[int] = mapped_column(Integer, default=0)
    bytes_fetched: Mapped[int] = mapped_column(BigInteger, default=0)


class CaptureExchange(Base):
    """One HTTP exchange of a capture (a redirect hop, the page, a medium), kept as WARC records in an
    encrypted blob. `locator` names the file row made from its payload, when there is one."""

    __tablename__ = "capture_exchanges"
    __table_args__ = (UniqueConstraint("capture_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("online_captures.id"))
    seq: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(20))  # page | media | redirect | linked-page
    found_in: Mapped[str | None] = mapped_column(String(40))  # img, img-srcset, og:image, a-media, ...
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    http_status: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int | None] = mapped_column(BigInteger)
    payload_sha256: Mapped[str | None] = mapped_column(String(64))
    server_ip: Mapped[str | None] = mapped_column(String(64))
    tls_subject: Mapped[str | None] = mapped_column(Text)
    truncated: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    blob_id: Mapped[str | None] = mapped_column(String(32))
    locator: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(String(100))


class OnlineLocation(Base):
    """A URL of a case that serves known or confirmed material, followed until it is gone.

    status: detected (matched) → confirmed (a person looked) → notified → removed | online (still there
    after a notice). `removed_at` is the first re-check that found it gone.
    """

    __tablename__ = "online_locations"
    __table_args__ = (
        UniqueConstraint("case_id", "url"),
        Index("ix_online_locations_due", "status", "next_check_at"),
        Index("ix_online_locations_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    url: Mapped[str] = mapped_column(Text)
    page_url: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(300))
    file_id: Mapped[int | None] = mapped_column(ForeignKey("files.id"))
    capture_id: Mapped[int | None] = mapped_column(ForeignKey("online_captures.id"))
    sha256: Mapped[str | None] = mapped_column(String(64))
    md5: Mapped[str | None] = mapped_column(String(32))
    pdq: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(40))
    source_label: Mapped[str | None] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20), default="detected")
    server_ip: Mapped[str | None] = mapped_column(String(64))  # the address the capture connected to
    # Every address the host name resolved to when it was tracked (comma-separated): DNS → IPs → ASN.
    addresses: Mapped[str | None] = mapped_column(Text)
    asn: Mapped[int | None] = mapped_column(BigInteger)
    org: Mapped[str | None] = mapped_column(String(300))
    country: Mapped[str | None] = mapped_column(String(2))
    ipdb_built_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    contact_name: Mapped[str | None] = mapped_column(String(300))
    contact_email: Mapped[str | None] = mapped_column(String(300))
    contact_channel: Mapped[str | None] = mapped_column(String(20))  # direct | partner
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_outcome: Mapped[str | None] = mapped_column(String(40))
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(String(100))
    content_length: Mapped[int | None] = mapped_column(BigInteger)
    checks: Mapped[int] = mapped_column(Integer, default=0)
    # The earliest other location (any case) that served the same content: a re-appearance.
    reappearance_of: Mapped[int | None] = mapped_column(ForeignKey("online_locations.id"))


class OnlineHold(Base):
    """Deconfliction: no notice may reach this case's hosts, this host or this location while it stands
    (a covert investigation, a host run by the suspect). `case_id` None: unit-wide (a host)."""

    __tablename__ = "online_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    scope: Mapped[str] = mapped_column(String(20))  # case | host | location
    value: Mapped[str | None] = mapped_column(String(300))  # host name, or location id
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lifted_by: Mapped[str | None] = mapped_column(String(100))
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OnlineNotice(Base):
    """A removal, follow-up or preservation notice to a host, or a referral to a partner channel, as
    rendered and recorded; `status` to-send | sent | failed | cancelled."""

    __tablename__ = "online_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    reference: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # removal | follow-up | preservation | referral
    language: Mapped[str] = mapped_column(String(5))
    channel: Mapped[str] = mapped_column(String(20))  # direct | partner
    host: Mapped[str] = mapped_column(String(300))
    recipient_name: Mapped[str | None] = mapped_column(String(300))
    recipient_email: Mapped[str | None] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="to-send")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    message_id: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("online_notices.id"))


class NoticeItem(Base):
    __tablename__ = "notice_items"

    notice_id: Mapped[int] = mapped_column(ForeignKey("online_notices.id"), primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("online_locations.id"), primary_key=True, index=True)


class OnlineCheck(Base):
    """One re-check of a location: what the host answered, and what Himaya concluded."""

    __tablename__ = "online_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("online_locations.id"), index=True)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # not-modified | same-content | similar-content | other-content | gone | dns-gone | error | blocked
    outcome: Mapped[str] = mapped_column(String(40))
    http_status: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


class AbuseContactRow(Base):
    """The unit's own table of abuse desks and partner channels, matched by host name, ASN or org."""

    __tablename__ = "abuse_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(300))
    country: Mapped[str | None] = mapped_column(String(2))
    channel: Mapped[str] = mapped_column(String(20))  # direct | partner
    asn: Mapped[int | None] = mapped_column(BigInteger)
    domain: Mapped[str | None] = mapped_column(String(300))
    org_contains: Mapped[str | None] = mapped_column(String(300))
    source: Mapped[str | None] = mapped_column(String(300))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TipReport(Base):
    """One imported report or log: a CyberTipline-style report, a referral, an upload or access log.

    `source_sha256` is the imported file's digest: importing the same file again into the case is a no-op.
    """

    __tablename__ = "tip_reports"
    __table_args__ = (UniqueConstraint("case_id", "source_sha256", "ordinal"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    source_format: Mapped[str] = mapped_column(String(20))  # cybertip-xml | cybertip-json | upload-csv | ...
    source_name: Mapped[str] = mapped_column(String(500))
    source_sha256: Mapped[str] = mapped_column(String(64))
    ordinal: Mapped[int] = mapped_column(Integer, default=0)  # the report's place in a file of several
    report_id: Mapped[str | None] = mapped_column(String(100))
    esp: Mapped[str | None] = mapped_column(String(300))
    incident_type: Mapped[str | None] = mapped_column(String(200))
    incident_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    summary: Mapped[str | None] = mapped_column(Text)
    imported_by: Mapped[str | None] = mapped_column(String(100))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TipPerson(Base):
    __tablename__ = "tip_persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("tip_reports.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))  # reported | victim | recipient
    names: Mapped[str | None] = mapped_column(Text)  # JSON list


class TipIdentifier(Base):
    """An email, phone, account, device id... of a person: persons sharing one are the same person."""

    __tablename__ = "tip_identifiers"
    __table_args__ = (Index("ix_tip_identifiers_value", "kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("tip_persons.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(500))


class TipFile(Base):
    __tablename__ = "tip_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("tip_reports.id"), index=True)
    filename: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    md5: Mapped[str | None] = mapped_column(String(32))
    sha1: Mapped[str | None] = mapped_column(String(40))
    sha256: Mapped[str | None] = mapped_column(String(64))
    classification: Mapped[str | None] = mapped_column(String(20))
    viewed_by_esp: Mapped[bool | None] = mapped_column(Boolean)
    publicly_available: Mapped[bool | None] = mapped_column(Boolean)


class IpEvent(Base):
    """One IP event as one source reported it. The same event in several sources is several rows, merged
    when read (ip, port, UTC time, event, account): every source stays on record."""

    __tablename__ = "ip_events"
    __table_args__ = (
        Index("ix_ip_events_case_ip", "case_id", "ip", "time_utc"),
        Index("ix_ip_events_case_account", "case_id", "account"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    report_id: Mapped[int] = mapped_column(ForeignKey("tip_reports.id"), index=True)
    ip: Mapped[str] = mapped_column(String(64))
    port: Mapped[int | None] = mapped_column(Integer)
    time_utc: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    original_time: Mapped[str] = mapped_column(String(100))
    original_zone: Mapped[str | None] = mapped_column(String(64))
    zone_assumed: Mapped[bool] = mapped_column(Boolean, default=False)
    event: Mapped[str] = mapped_column(String(40))
    account: Mapped[str | None] = mapped_column(String(300))
    service: Mapped[str | None] = mapped_column(String(300))
    possible_proxy: Mapped[bool | None] = mapped_column(Boolean)
    filename: Mapped[str | None] = mapped_column(Text)
    md5: Mapped[str | None] = mapped_column(String(32))
    sha1: Mapped[str | None] = mapped_column(String(40))
    sha256: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)  # "<file>:<line N>" or "<file>:<element path>"


class IspRequest(Base):
    """A request about the subscriber behind IP events: a preservation or subscriber-information request to
    an ISP, or a referral to a partner channel for addresses abroad; as drafted, sent and answered.

    `events_json` lists the merged events it covers (ip, port, time_utc, time_local, zone, event, account,
    flags): an event covered by a request that is not cancelled is not drafted again. The ISP comes from
    the offline IP database, `ipdb_built_at` being its build date (address blocks move between ISPs).
    The answer's attached file is in the encrypted blob store (`response_blob_id`), never a plain file.
    status: draft → sent → answered, or cancelled.
    """

    __tablename__ = "isp_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    reference: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # preservation | subscriber | referral
    asn: Mapped[int | None] = mapped_column(BigInteger)
    org: Mapped[str | None] = mapped_column(String(300))
    country: Mapped[str | None] = mapped_column(String(2))
    ipdb_built_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    language: Mapped[str] = mapped_column(String(5))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    events_json: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    response_text: Mapped[str | None] = mapped_column(Text)
    response_blob_id: Mapped[str | None] = mapped_column(String(32))
    response_name: Mapped[str | None] = mapped_column(String(500))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_by: Mapped[str | None] = mapped_column(String(100))


class ArtifactSource(Base):
    """A file kept for artifact parsing: an app database a parser recognised (or one whose tables may be
    only in its write-ahead log), or a SQLite `-wal` / `-journal` file that may belong to one.

    The bytes are kept in the encrypted blob store (`blob_id`): the parse runs after the scan, when the
    database and its log, which can sit anywhere in an archive, have both been read. `status`: pending →
    parsed | failed (`finding` says why and what to do) | unrecognised (no parser reads it, even with its
    log applied); side files stay `pending` until a database uses them (`used_by`).
    """

    __tablename__ = "artifact_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id"), unique=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence_items.id"), index=True)
    role: Mapped[str] = mapped_column(String(10))  # database | wal | journal
    parsers: Mapped[str | None] = mapped_column(Text)  # comma-separated parser names
    blob_id: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    finding: Mapped[str | None] = mapped_column(Text)
    used_by: Mapped[int | None] = mapped_column(Integer)  # side files: the database source applied with
    messages: Mapped[int] = mapped_column(Integer, default=0)
    identities: Mapped[int] = mapped_column(Integer, default=0)
    parsed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Chat(Base):
    __tablename__ = "chats"
    __table_args__ = (UniqueConstraint("source_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("artifact_sources.id"))
    app: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(Text)  # the chat as the app identifies it (a JID, a thread id)
    name: Mapped[str | None] = mapped_column(Text)
    chat_type: Mapped[str] = mapped_column(String(10))  # direct | group


class Message(Base):
    """One message of a chat, SMS or MMS, as the app's database recorded it.

    Media is linked to the case's file record by its path inside the extraction, else by content hash
    (`link_method` path | sha256); `media_present` is False when the message names media that no file of
    the case holds (deleted), None when it carries none.
    """

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_case_file", "case_id", "file_id"),
        Index("ix_messages_case_sha256", "case_id", "media_sha256"),
        Index("ix_messages_chat_time", "chat_id", "time_utc"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    source_id: Mapped[int] = mapped_column(ForeignKey("artifact_sources.id"), index=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"))
    app: Mapped[str] = mapped_column(String(20))
    source_row: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(10))  # sent | received
    sender: Mapped[str | None] = mapped_column(Text)
    recipients: Mapped[str | None] = mapped_column(Text)  # JSON list
    time_utc: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    text: Mapped[str | None] = mapped_column(Text)
    forwarded: Mapped[bool] = mapped_column(Boolean, default=False)
    media_path: Mapped[str | None] = mapped_column(Text)
    media_sha256: Mapped[str | None] = mapped_column(String(64))
    media_mime: Mapped[str | None] = mapped_column(String(200))
    media_size: Mapped[int | None] = mapped_column(BigInteger)
    media_name: Mapped[str | None] = mapped_column(Text)
    has_media: Mapped[bool] = mapped_column(Boolean, default=False)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("files.id"))
    link_method: Mapped[str | None] = mapped_column(String(10))
    media_present: Mapped[bool | None] = mapped_column(Boolean)


class ArtifactIdentity(Base):
    """An account or identifier a database names (a contact card's phone, a WhatsApp JID, a Telegram id),
    with the name it gives it; identifiers sharing a `card` within a source are one person."""

    __tablename__ = "artifact_identities"
    __table_args__ = (Index("ix_artifact_identities_value", "case_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    source_id: Mapped[int] = mapped_column(ForeignKey("artifact_sources.id"), index=True)
    parser: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    card: Mapped[str | None] = mapped_column(String(200))
