"""The facts analyzers produce for one file; the pipeline's writer turns them into store rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class ExifFacts:
    make: str | None = None
    model: str | None = None
    body_serial: str | None = None
    datetime_original: str | None = None  # as written in the file ("YYYY:MM:DD HH:MM:SS"), no zone
    gps_lat: float | None = None
    gps_lon: float | None = None


@dataclass
class PdqFacts:
    hash_hex: str  # 64 lower-case hex characters, bit 0 = most significant bit of the first byte
    quality: int
    pipeline: str  # e.g. "pdq-draft512/1"; a court can reproduce the hash with the same pipeline
    # The 7 other dihedral variants (rotations 90/180/270, mirrors), in pdqhash.compute_dihedral's order
    # after the original; empty when not computed. They come from the same decode at no extra cost.
    dihedral: tuple[str, ...] = ()
    # The hash of the picture with uniform borders / letterboxing trimmed away; None when it has none.
    trimmed: PdqFacts | None = None


@dataclass
class MediaFacts:
    width: int
    height: int
    pdq: PdqFacts | None = None
    exif: ExifFacts = field(default_factory=ExifFacts)
    thumbnail_blob: str | None = None
    blurred_blob: str | None = None


@dataclass
class PdqMatchFact:
    entry_id: int
    version_id: int
    kind: str  # alert | ignore
    distance: int
    method: str = "pdq"  # pdq | pdq-dihedral | pdq-trimmed


@dataclass
class VideoFrame:
    """One hashed frame, as Meta's vPDQ writes it, plus the hash of the frame inside its borders."""

    frame_number: int  # counted from the stream's first frame at its average frame rate
    timestamp: float  # seconds from the stream's start
    pdq: str
    quality: int
    trimmed: str | None = None
    trimmed_quality: int | None = None


@dataclass
class VideoFacts:
    pipeline: str  # e.g. "vpdq-s360/1": frame choice, scale and hasher; bump when the bits would change
    frames: list[VideoFrame] = field(default_factory=list)
    duration: float | None = None  # seconds
    container: str | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    creation_time: str | None = None
    make: str | None = None
    model: str | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    incomplete: str | None = None  # why hashing stopped before the end
    frames_decoded: int = 0  # decoder output, for the benchmark and the log; not stored


@dataclass
class VideoMatchFact:
    entry_id: int
    version_id: int
    kind: str  # alert | ignore
    method: str  # vpdq (a known video) | pdq-frame (a known picture, in one of the frames)
    distance: int  # vpdq: the median distance of the matched frames; pdq-frame: the nearest frame's
    details: dict[str, object] = field(default_factory=dict)


@dataclass
class ArtifactFacts:
    """A SQLite file kept for artifact parsing after the scan (see himaya.analyzers.artifacts.capture)."""

    role: str  # database | wal | journal
    parsers: tuple[str, ...] = ()  # the parsers that recognised a database's tables
    blob_id: str | None = None  # its bytes in the encrypted blob store
    finding: str | None = None  # why a database that looks like a chat database was not read


@dataclass
class FileFacts:
    locator: str
    path: str
    depth: int
    size: int | None = None
    mtime: datetime | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    mime: str | None = None
    extension_mismatch: bool = False
    status: str = "ok"  # "ok" | "error"
    error: str | None = None
    media: MediaFacts | None = None
    pdq_matches: list[PdqMatchFact] = field(default_factory=list)
    video: VideoFacts | None = None
    video_matches: list[VideoMatchFact] = field(default_factory=list)
    # A chat / SMS / contact database (or its -wal / -journal) kept for artifact parsing after the scan.
    artifact: ArtifactFacts | None = None
    container_locator: str | None = None
    # Inside disk images (see himaya.sources.interface.FileEntry).
    path_spec: str | None = None
    deleted: bool = False
    carved: bool = False
    accessed: datetime | None = None
    changed: datetime | None = None
    created: datetime | None = None
