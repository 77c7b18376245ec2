"""Build the demo evidence set: a small seized-data folder and a TEST alert hash set that hits part of it.

Everything is generated (benign colour fields and shapes, see `pictures.py`) and reproducible byte for
byte on one machine: fixed seeds, fixed file times, fixed archive member dates, no random ids. That lets
a golden export be compared across runs. Across machines the JPEG/PNG/zlib encoders may differ, so a
golden file is only as portable as the Pillow and zlib that made it.

What each file is and whether a scan must flag it is returned as `DemoLayout.entries`; the tests in
tests/demo check those expectations with PDQ itself.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image, ImageOps

from himaya.demo.archives import FIXED_TIME, bomb_zip, tar_gz, zip_bytes
from himaya.demo.chats import FRIEND_NAME, DemoMessage, msgstore, wa_db
from himaya.demo.pictures import camera_exif, encode, photo_like
from himaya.demo.videos import demo_video
from himaya.errors import UsageError

ORIGINAL_SIZE = (1024, 768)
ORIGINAL_QUALITY = 88
# Less noise than the test default keeps the originals near 100 KB and the whole set a few MB.
NOISE = 4.0
ORIGINAL_COUNT = 12
# Five of twelve originals are in the TEST hash set; the other seven are the unknown pictures of the case.
LISTED_ORIGINALS = tuple(f"IMG_{number:04d}.jpg" for number in range(1, 6))
ORIGINAL_SEED = 4100  # IMG_0001 is seed 4101, ...
DISTINCT_SEED = 4200
DECOY_COUNT = 20  # hash-set rows that match nothing, as most rows of a real set do
# Above ArchiveLimits.ratio_min_size (16 MiB) with a ratio near 1000 (limit 200); ~200 KB on disk.
BOMB_SIZE = 200 * 1024 * 1024
HASHSET_MD5 = "TEST-demo-alert-md5.txt"
HASHSET_PDQ = "TEST-demo-alert-pdq.txt"
HASHSET_VPDQ = "TEST-demo-alert-vpdq"  # a folder: one vPDQ file per known video
# A phone video in the TEST set (its vPDQ frame hashes), a shorter, smaller clip of it, and another video.
LISTED_VIDEO = "VID_0001.mp4"
VIDEO_SEED = 4300
VIDEO_CREATED = "2024-05-04T10:20:30.000000Z"
MARKER = ".himaya-demo"

NOTES_TEXT = """Shopping list
- bread
- olives
- batteries for the camera

Call the landlord about the window on Tuesday.
"""
README_TEXT = "Photos from the trip. Some are resized for sharing.\n"


@dataclass(frozen=True)
class DemoEntry:
    """One file of the demo evidence, on disk or inside an archive.

    `path` is relative to the evidence folder, POSIX separators, with `!/` between container layers
    (`Downloads/holiday.zip!/holiday/beach.jpg`) like a source's readable path. Names repeat inside
    archives on purpose; `member_index` (0-based position in its own archive) tells them apart. Both
    members of a repeated name have the same expectation, so checks keyed on the readable path hold.
    `kind` is one of: original (camera picture), copy (resized / recompressed / re-encoded original),
    distinct (a picture unrelated to every original), corrupt, text, archive, bomb, video-original,
    video-copy (a clip of it, smaller), video-distinct, chat-database (a phone app's message database).
    """

    path: str
    kind: str
    expected_match: bool
    original: str | None = None  # the camera original this file shows, e.g. "IMG_0003.jpg"
    member_index: int | None = None
    wrong_extension: bool = False
    note: str = ""


@dataclass(frozen=True)
class DemoLayout:
    root: Path
    evidence_dir: Path
    md5_hashset: Path  # header md5,category,series
    pdq_hashset: Path  # header pdq,category,series
    listed_originals: tuple[str, ...]  # originals in the TEST set (their MD5 and PDQ are listed)
    entries: tuple[DemoEntry, ...] = field(repr=False)
    vpdq_hashset: Path | None = None  # folder of vPDQ files: the listed video's frame hashes

    @property
    def hashsets(self) -> tuple[Path, Path]:
        return (self.md5_hashset, self.pdq_hashset)

    @property
    def expected_matches(self) -> tuple[str, ...]:
        """Paths a scan must flag (exact copies by MD5 and PDQ, altered copies by PDQ ≤ 31)."""
        return tuple(e.path for e in self.entries if e.expected_match)

    @property
    def expected_non_matches(self) -> tuple[str, ...]:
        """Paths a scan must not flag, containers and the bomb's member included (see `DemoEntry.kind`)."""
        return tuple(e.path for e in self.entries if not e.expected_match)


def full_resolution_pdq(image: Image.Image) -> tuple[str, int]:
    """PDQ hash (64 hex, first bit = most significant bit of the first byte) and quality of `image`."""
    bits, quality = pdqhash.compute(np.asarray(image.convert("RGB")))
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex(), int(quality)


def build_demo(out_dir: Path) -> DemoLayout:
    """Write `out_dir/evidence`, `out_dir/hashsets` and a marker file; replace an earlier demo there.

    Other content of `out_dir` (a Himaya home, a key folder) is left alone.
    """
    out_dir = Path(out_dir)
    evidence, hashsets = out_dir / "evidence", out_dir / "hashsets"
    _clear_previous(out_dir, (evidence, hashsets))
    files = _Files(evidence, frozenset((*LISTED_ORIGINALS, LISTED_VIDEO)))

    originals: dict[str, bytes] = {}
    for number in range(1, ORIGINAL_COUNT + 1):
        name = f"IMG_{number:04d}.jpg"
        picture = photo_like(ORIGINAL_SEED + number, *ORIGINAL_SIZE, noise=NOISE)
        originals[name] = encode(picture, "JPEG", quality=ORIGINAL_QUALITY, exif=_camera_exif(number))
        files.add(f"DCIM/Camera/{name}", originals[name], "original", name)

    def copy(name: str, scale: float, quality: int) -> bytes:
        return encode(_resized(originals[name], scale), "JPEG", quality=quality)

    files.add(
        "Pictures/IMG_0001_small.jpg", copy("IMG_0001.jpg", 0.5, 60), "copy", "IMG_0001.jpg", "50%, q60"
    )
    files.add(
        "Pictures/IMG_0002_thumb.jpg", copy("IMG_0002.jpg", 1 / 3, 50), "copy", "IMG_0002.jpg", "33%, q50"
    )
    files.add(
        "Pictures/IMG_0005_edit.jpg", copy("IMG_0005.jpg", 2 / 3, 55), "copy", "IMG_0005.jpg", "67%, q55"
    )
    png = encode(_decoded(originals["IMG_0004.jpg"]), "PNG")
    files.add("Pictures/IMG_0004.png", png, "copy", "IMG_0004.jpg", "PNG re-encode, same pixels")
    files.add(
        "Pictures/IMG_0007_small.jpg", copy("IMG_0007.jpg", 0.5, 60), "copy", "IMG_0007.jpg", "50%, q60"
    )
    # Re-shared copies that plain PDQ misses: a mirrored picture (found by the dihedral variants) and a
    # screenshot-like copy on a black canvas (found by the border-trimmed hash).
    mirror = encode(ImageOps.mirror(_decoded(originals["IMG_0003.jpg"])), "JPEG", quality=80)
    files.add("Pictures/IMG_0003_mirrored.jpg", mirror, "copy", "IMG_0003.jpg", "mirrored, q80")
    files.add(
        "Pictures/Screenshot_0002.png",
        encode(_letterboxed(originals["IMG_0002.jpg"]), "PNG"),
        "copy",
        "IMG_0002.jpg",
        "75% on a black 16:9 canvas, PNG",
    )
    broken = originals["IMG_0008.jpg"][: len(originals["IMG_0008.jpg"]) // 2]
    files.add("Pictures/broken.jpg", broken, "corrupt", "IMG_0008.jpg", "JPEG truncated at half")
    files.add("Pictures/wallpaper_01.jpg", _distinct(1, (800, 600)), "distinct")
    files.add("Pictures/wallpaper_02.jpg", _distinct(2, (800, 600)), "distinct")

    files.add("Documents/notes.txt", NOTES_TEXT.encode(), "text")
    scan = copy("IMG_0004.jpg", 0.4, 70)
    files.add("Documents/scan_0004.dat", scan, "copy", "IMG_0004.jpg", "40%, q70", wrong_extension=True)
    diagram = encode(photo_like(DISTINCT_SEED + 3, 400, 300, noise=NOISE), "PNG")
    files.add("Documents/diagram.txt", diagram, "distinct", note="PNG named .txt", wrong_extension=True)

    tar_members = [
        ("IMG_0002.jpg", originals["IMG_0002.jpg"], "original", "IMG_0002.jpg", "exact copy"),
        ("IMG_0003_small.jpg", copy("IMG_0003.jpg", 0.5, 65), "copy", "IMG_0003.jpg", "50%, q65"),
        ("readme.txt", README_TEXT.encode(), "text", None, ""),
        (
            "IMG_0002.jpg",
            copy("IMG_0002.jpg", 0.5, 60),
            "copy",
            "IMG_0002.jpg",
            "50%, q60; repeats member 0's name",
        ),
    ]
    zip_members = [
        ("holiday/IMG_0001.jpg", originals["IMG_0001.jpg"], "original", "IMG_0001.jpg", "exact copy"),
        ("holiday/IMG_0009.jpg", originals["IMG_0009.jpg"], "original", "IMG_0009.jpg", "exact copy"),
        ("holiday/beach.jpg", copy("IMG_0005.jpg", 1 / 3, 55), "copy", "IMG_0005.jpg", "33%, q55"),
        (
            "holiday/beach.jpg",
            copy("IMG_0003.jpg", 0.5, 60),
            "copy",
            "IMG_0003.jpg",
            "50%, q60; repeats member 2's name",
        ),
        (
            "holiday/more.tar.gz",
            tar_gz((n, d) for n, d, *_ in tar_members),
            "archive",
            None,
            "tar.gz in zip",
        ),
    ]
    holiday = "Downloads/holiday.zip"
    files.add(holiday, zip_bytes((n, d) for n, d, *_ in zip_members), "archive")
    for index, (name, _, kind, original, note) in enumerate(zip_members):
        files.record(f"{holiday}!/{name}", kind, original, note, member_index=index)
    for index, (name, _, kind, original, note) in enumerate(tar_members):
        files.record(f"{holiday}!/holiday/more.tar.gz!/{name}", kind, original, note, member_index=index)

    files.add("Downloads/bomb.zip", bomb_zip(BOMB_SIZE), "archive", note="zip bomb")
    files.record("Downloads/bomb.zip!/zeros.bin", "bomb", None, f"{BOMB_SIZE} zero bytes", member_index=0)

    video = demo_video(VIDEO_SEED + 1, 12, creation_time=VIDEO_CREATED)
    files.add(f"DCIM/Camera/{LISTED_VIDEO}", video, "video-original", LISTED_VIDEO, "12 s, 320x240, MPEG-4")
    clip = demo_video(VIDEO_SEED + 1, 6, (240, 180), start=3.0, bit_rate=150_000)
    files.add("Movies/VID_0001_clip.mp4", clip, "video-copy", LISTED_VIDEO, "6 s from 0:03, 240x180")
    other = demo_video(VIDEO_SEED + 2, 8, creation_time=VIDEO_CREATED)
    files.add("DCIM/Camera/VID_0002.mp4", other, "video-distinct", note="8 s, another scene")

    _add_phone(files, originals)

    md5_file, pdq_file = _write_hashsets(hashsets, {name: originals[name] for name in LISTED_ORIGINALS})
    vpdq_folder = _write_vpdq(hashsets / HASHSET_VPDQ, LISTED_VIDEO, video)
    (out_dir / MARKER).write_text(
        "Made by himaya.demo.builder: benign generated pictures and a TEST hash set. "
        "Building the demo again replaces evidence/ and hashsets/ here.\n"
    )
    for tree in (evidence, hashsets, out_dir / MARKER):
        _fix_times(tree)
    return DemoLayout(
        root=out_dir,
        evidence_dir=evidence,
        md5_hashset=md5_file,
        pdq_hashset=pdq_file,
        listed_originals=LISTED_ORIGINALS,
        entries=tuple(files.entries),
        vpdq_hashset=vpdq_folder,
    )


def _add_phone(files: _Files, originals: dict[str, bytes]) -> None:
    """A phone's WhatsApp: a listed picture received from a friend and an unlisted one sent, both
    recompressed as WhatsApp does, and a listed one whose WhatsApp copy was deleted (only the SHA-256
    WhatsApp recorded links the message to the camera original, which was sent as it was)."""
    media = "Media/WhatsApp Images"
    received, sent, gone = (f"{media}/IMG-20240504-WA{n:04d}.jpg" for n in (1, 2, 3))
    received_bytes = encode(_resized(originals["IMG_0002.jpg"], 0.75), "JPEG", quality=80)
    sent_bytes = encode(_resized(originals["IMG_0007.jpg"], 0.75), "JPEG", quality=80)
    files.add(f"Phone/WhatsApp/{received}", received_bytes, "copy", "IMG_0002.jpg", "WhatsApp, 75%, q80")
    files.add(f"Phone/WhatsApp/{sent}", sent_bytes, "copy", "IMG_0007.jpg", "WhatsApp, 75%, q80")
    day = datetime(2024, 5, 4, 10, 0, tzinfo=UTC)
    database = msgstore(
        [
            DemoMessage(day.replace(minute=21), False, "Look at this one", received, received_bytes),
            DemoMessage(day.replace(minute=25), True, "And mine", sent, sent_bytes),
            DemoMessage(day.replace(minute=31), False, None, gone, originals["IMG_0004.jpg"], forwarded=True),
            DemoMessage(day.replace(minute=40), True, "See you at the market"),
        ]
    )
    databases = "Phone/data/data/com.whatsapp/databases"
    note = f"WhatsApp: 4 messages with {FRIEND_NAME}, one picture deleted"
    files.add(f"{databases}/msgstore.db", database, "chat-database", note=note)
    files.add(f"{databases}/wa.db", wa_db(), "chat-database", note="WhatsApp contacts")


class _Files:
    """Writes evidence files and records what each is, deciding `expected_match` from its original."""

    def __init__(self, evidence: Path, listed: frozenset[str]) -> None:
        self.evidence = evidence
        self.listed = listed
        self.entries: list[DemoEntry] = []

    def add(
        self,
        path: str,
        data: bytes,
        kind: str,
        original: str | None = None,
        note: str = "",
        *,
        wrong_extension: bool = False,
    ) -> None:
        target = self.evidence / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.record(path, kind, original, note, wrong_extension=wrong_extension)

    def record(
        self,
        path: str,
        kind: str,
        original: str | None,
        note: str,
        *,
        member_index: int | None = None,
        wrong_extension: bool = False,
    ) -> None:
        # Only readable pictures and videos of a listed original can match; a corrupt one is an error.
        expected = kind in ("original", "copy", "video-original", "video-copy") and original in self.listed
        self.entries.append(
            DemoEntry(
                path=path,
                kind=kind,
                expected_match=expected,
                original=original,
                member_index=member_index,
                wrong_extension=wrong_extension,
                note=note,
            )
        )


def _clear_previous(out_dir: Path, owned: Iterable[Path]) -> None:
    owned = list(owned)
    if any(p.exists() for p in owned) and not (out_dir / MARKER).exists():
        raise UsageError(
            f"{out_dir} already holds evidence/ or hashsets/ that the demo builder did not make; "
            "choose an empty folder for --out"
        )
    for path in owned:
        shutil.rmtree(path, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)


def _camera_exif(number: int) -> bytes:
    # Two benign demo cameras, so device attribution has something to group. GPS sits near
    # 0°N 0°E ("Null Island", open sea): obviously not a real place.
    camera = 1 if number <= 6 else 2
    return camera_exif(
        make="HIMAYA-DEMO",
        model=f"Demo Cam {camera}",
        serial=f"HMY-DEMO-{camera:04d}",
        when=f"2023:07:{number:02d} {8 + number % 10:02d}:{(7 * number) % 60:02d}:00",
        gps=(0.1 + 0.001 * number, 0.2 + 0.002 * number),
    )


def _decoded(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def _resized(data: bytes, scale: float) -> Image.Image:
    image = _decoded(data)
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, Image.Resampling.LANCZOS)


def _letterboxed(data: bytes) -> Image.Image:
    """The picture at 75% in the middle of a black 16:9 canvas, as a phone screenshot shows it."""
    picture = _resized(data, 0.75)
    height = picture.height + 2 * (picture.height // 8)
    canvas = Image.new("RGB", (height * 16 // 9, height), (0, 0, 0))
    canvas.paste(picture, ((canvas.width - picture.width) // 2, (height - picture.height) // 2))
    return canvas


def _distinct(number: int, size: tuple[int, int]) -> bytes:
    return encode(photo_like(DISTINCT_SEED + number, *size, noise=NOISE), "JPEG", quality=85)


def _write_hashsets(folder: Path, listed: dict[str, bytes]) -> tuple[Path, Path]:
    """One row per hash (the hash-set reader takes one value per row), listed originals first."""
    folder.mkdir(parents=True)
    md5_rows, pdq_rows = ["md5,category,series"], ["pdq,category,series"]
    for number, (_, data) in enumerate(sorted(listed.items()), start=1):
        category, series = ("TEST-A", "TEST-series-1") if number <= 3 else ("TEST-B", "TEST-series-2")
        md5_rows.append(f"{hashlib.md5(data).hexdigest()},{category},{series}")  # noqa: S324 (a file digest)
        pdq_rows.append(f"{full_resolution_pdq(_decoded(data))[0]},{category},{series}")
    # Random 128/256-bit values: the chance that one lands within PDQ distance 31 of a demo picture is
    # below 1e-20, so the decoys never match; they make the set look like a real one (mostly misses).
    rng = np.random.default_rng(ORIGINAL_SEED)
    for _ in range(DECOY_COUNT):
        md5_rows.append(f"{rng.bytes(16).hex()},TEST-C,TEST-decoy")
        pdq_rows.append(f"{rng.bytes(32).hex()},TEST-C,TEST-decoy")
    md5_file, pdq_file = folder / HASHSET_MD5, folder / HASHSET_PDQ
    md5_file.write_text("\n".join(md5_rows) + "\n", newline="\n")
    pdq_file.write_text("\n".join(pdq_rows) + "\n", newline="\n")
    return md5_file, pdq_file


def _write_vpdq(folder: Path, name: str, video: bytes) -> Path:
    """The listed video's frame hashes, as Meta's vpdq-hash-video writes them, hashed by Himaya itself."""
    from himaya.analyzers.video import analyze_video
    from himaya.config import ImageLimits, VideoSettings
    from himaya.hashsets.vpdq import format_vpdq

    facts, _media = analyze_video(
        io.BytesIO(video), settings=VideoSettings(), limits=ImageLimits(), thumbnails=None
    )
    folder.mkdir(parents=True)
    (folder / (Path(name).stem + ".txt")).write_text(format_vpdq(facts.frames), newline="\n")
    return folder


def _fix_times(tree: Path) -> None:
    # Folders last (bottom-up): writing into a folder would move its time again.
    paths = [tree] if tree.is_file() else [*sorted(tree.rglob("*"), reverse=True), tree]
    for path in paths:
        os.utime(path, (FIXED_TIME, FIXED_TIME))
