"""Where Himaya keeps its data and the limits every scan runs under.

The home folder holds the case store (SQLite) and the encrypted blob store. The blob key is kept
*outside* the home folder on purpose: a copied or seized home folder alone must not reveal thumbnails.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from himaya.sources.disk.credentials import VolumeCredentials

APP_NAME = "himaya"

# File systems on which SQLite's WAL mode is unsafe (shared-memory index needs a local disk).
NETWORK_FILESYSTEMS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "ceph", "glusterfs", "fuse.glusterfs"}
)


def default_home() -> Path:
    env = os.environ.get("HIMAYA_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_key_file() -> Path:
    env = os.environ.get("HIMAYA_KEY_FILE")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "blob.key"


def filesystem_type(path: Path) -> str | None:
    """The type of the file system holding `path`, read from /proc/mounts (Linux); None elsewhere."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    target = str(path.resolve())
    best, best_type = "", None
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount_point = parts[1].replace("\\040", " ")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, best_type = mount_point, parts[2]
    return best_type


def is_network_share(path: Path) -> bool:
    fs = filesystem_type(path)
    return fs is not None and fs in NETWORK_FILESYSTEMS


@dataclass(frozen=True)
class ArchiveLimits:
    """Limits that keep hostile archives (zip bombs, deep nesting) from exhausting the examiner's machine."""

    max_depth: int = 5
    # A member whose uncompressed size exceeds its compressed size by this factor is a bomb.
    max_ratio: float = 200.0
    # Ratios are only judged above this size: small text files compress 1000:1 legitimately.
    ratio_min_size: int = 16 * 1024 * 1024
    # Total uncompressed bytes read out of one top-level archive (all layers).
    max_total_bytes: int = 64 * 1024 * 1024 * 1024
    max_members: int = 1_000_000
    # Members that must be seekable (nested archives) are spooled in memory up to this size,
    # above it into an encrypted temporary file.
    spool_memory_limit: int = 64 * 1024 * 1024


@dataclass(frozen=True)
class ImageLimits:
    # Pillow's decompression-bomb guard; an image above this pixel count is recorded as an error.
    max_pixels: int = 180_000_000
    # Images larger than this (bytes) are hashed but not decoded.
    max_image_bytes: int = 512 * 1024 * 1024


@dataclass(frozen=True)
class PdqSettings:
    # Reduced-scale decode drifts a few bits; within this margin of a threshold the image is re-hashed
    # at full resolution so that no match is lost to the speed-up.
    rehash_margin: int = 16
    # ...and within this many quality points of a hash set's quality floor (drift moves quality too).
    quality_margin: int = 8
    # Reduced decode keeps the short side at least this long (PDQ downsamples to 64x64 anyway).
    min_short_side: int = 512


@dataclass(frozen=True)
class VideoSettings:
    """How videos are hashed (see himaya.analyzers.video); the defaults follow Meta's vPDQ."""

    enabled: bool = True  # False: videos are digested only (exact hash sets still match them)
    # One frame hashed every this many seconds (vPDQ's secondsPerHash).
    seconds_per_hash: float = 1.0
    # "exact": vPDQ's frames (every int(seconds_per_hash * fps)-th), decoded with what they depend on.
    # "keyframes", for a fast triage pass: a group of pictures at most two intervals long is sampled by its
    # key frame alone (no other frame decoded), longer groups exactly; fewer frames hashed (one every 2 s
    # with a key frame every 2 s), on key frames' times rather than vPDQ's.
    sampling: str = "exact"
    # Frames are scaled (by a whole factor, area-averaged) so the short side stays at least this long
    # before PDQ; 0 hashes full frames as Meta's tool does (slower, same bits as vpdq-hash-video).
    frame_short_side: int = 360
    # A hashed frame within this distance of the last one kept is dropped (a still scene); 0 keeps all.
    prune_distance: int = 0
    # Budget per file: wall-clock seconds of decoding and frames decoded; past it the file is recorded as
    # hashed in part, with the reason.
    max_seconds: float = 600.0
    max_frames: int = 2_000_000
    # Videos inside archives or captures are decoded from an encrypted spool (memory, then an encrypted
    # temporary file) up to this size; larger ones are digested only. Videos on disk or in disk images are
    # read in place at any size.
    max_buffer_bytes: int = 64 * 1024 * 1024 * 1024
    contact_sheet: bool = True


@dataclass(frozen=True)
class ArtifactSettings:
    """Chat, SMS and contact databases (see himaya.analyzers.artifacts)."""

    enabled: bool = True  # False: such databases are hashed like any file, their messages not read
    # Databases (and their -wal / -journal files) up to this size are kept for parsing, in the encrypted
    # blob store; a worker holds one in memory (about twice over while reading its schema).
    max_database_bytes: int = 2 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class ScanSettings:
    workers: int = 1
    archive: ArchiveLimits = field(default_factory=ArchiveLimits)
    image: ImageLimits = field(default_factory=ImageLimits)
    pdq: PdqSettings = field(default_factory=PdqSettings)
    video: VideoSettings = field(default_factory=VideoSettings)
    artifacts: ArtifactSettings = field(default_factory=ArtifactSettings)
    thumbnails: bool = True
    archive_passwords: tuple[str, ...] = ()
    # Encrypted volumes in disk images: tried on each one (memory only; the run records how many).
    volume_credentials: VolumeCredentials = field(default_factory=VolumeCredentials)
    shadow_copies: bool = False  # also scan each Volume Shadow Copy of an NTFS volume
    carve: bool = True  # carve pictures out of the unallocated space of disk images' file systems
    verify: bool = True  # read each E01 again in full and compare with its stored acquisition hashes
