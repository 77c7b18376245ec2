"""Thumbnail caches as containers: Windows thumbcache_*.db and Thumbs.db, Android .thumbdata files.

Every cache is built here in its real format from benign synthetic pictures (`tests.builders.thumbcaches`),
and read through the same `detect_archive` / `iter_members` the scan uses.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from himaya.cases import create_case
from himaya.config import ArchiveLimits, ScanSettings
from himaya.pipeline.scan import run_scan
from himaya.reports.export import export_case
from himaya.sources.archive import (
    FORMATS,
    ArchiveBombError,
    ArchiveReadError,
    ExtractionBudget,
    detect_archive,
    iter_members,
)
from himaya.sources.archives.thumbdata import find_jpegs
from himaya.sources.interface import FileEntry
from himaya.store.db import Store, open_store
from tests.builders.images import photo_jpeg
from tests.builders.thumbcaches import (
    SLOT,
    CacheEntry,
    compound_file,
    thumbcache,
    thumbdata,
    thumbnail_stream,
    thumbnails,
    thumbs_db,
    write_thumbcache,
)

LIMITS = ArchiveLimits()
HEAD = 64 * 1024  # what the pipeline hands detect_archive (filetype.SNIFF_BYTES)


# -- helpers -------------------------------------------------------------------------------------------


def container(name: str, depth: int = 0) -> FileEntry:
    return FileEntry(locator=name, path=name, size=None, mtime=None, depth=depth, open=None)


def members(
    data: bytes, name: str, *, limits: ArchiveLimits = LIMITS, budget: ExtractionBudget | None = None
) -> Iterator[FileEntry]:
    fmt = detect_archive(data[:HEAD], name)
    assert fmt is not None, f"{name} not recognised"
    return iter_members(
        container(name),
        io.BytesIO(data),
        fmt,
        limits=limits,
        passwords=(),
        budget=budget or ExtractionBudget(limits),
    )


def read_all(
    data: bytes, name: str, **options: Any
) -> tuple[list[tuple[FileEntry, bytes | None]], Exception | None]:
    """Each member with its content (read while the iterator sits on it), and the error that ended it."""
    found: list[tuple[FileEntry, bytes | None]] = []
    try:
        for entry in members(data, name, **options):
            content = None
            if entry.open is not None:
                with entry.open() as stream:
                    content = stream.read()
            found.append((entry, content))
    except (ArchiveReadError, ArchiveBombError) as exc:
        return found, exc
    return found, None


def contents(data: bytes, name: str) -> dict[str, bytes | None]:
    """{member name: content} for a cache that reads to its end without error."""
    found, error = read_all(data, name)
    assert error is None, error
    return {entry.path.split("!/", 1)[1]: content for entry, content in found}


# -- detection -----------------------------------------------------------------------------------------

DOC_LIKE = compound_file({"WordDocument": b"\xec\xa5" + bytes(5000), "\x05SummaryInformation": bytes(200)})


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (thumbcache()[0], "thumbcache_256.db", "thumbcache"),
        (thumbcache()[0], "renamed.bin", "thumbcache"),  # the header decides, not the name
        (thumbcache(version=21)[0], "thumbcache_96.db", "thumbcache"),
        (thumbcache(version=20)[0], "thumbcache_32.db", "thumbcache"),
        (thumbcache([], free_space=0)[0], "thumbcache_16.db", "thumbcache"),  # a bare header
        (b"CMMM is how my notes begin, nothing to see here" * 4, "notes.txt", None),
        (b"CMMM" + struct.pack("<II", 32, 4) + bytes(12) + b"not an entry" * 10, "fake.db", None),
        (b"IMMM" + struct.pack("<I", 32) + bytes(64), "thumbcache_idx.db", None),
        (thumbs_db()[0], "Thumbs.db", "thumbsdb"),
        (thumbs_db()[0], "THUMBS.DB", "thumbsdb"),
        (thumbs_db()[0], "usb.zip!/Photos/2009/Thumbs.db", "thumbsdb"),
        (thumbs_db()[0], "C:\\Photos\\thumbs.db", "thumbsdb"),
        (thumbs_db()[0], "Thumbs.db.bak", None),
        (DOC_LIKE, "report.doc", None),
        (DOC_LIKE, "Thumbs.db/report.doc", None),
        (thumbdata()[0], ".thumbdata3--1967290299", "thumbdata"),
        (thumbdata()[0], "sdcard/DCIM/.thumbnails/.thumbdata4--1763508120", "thumbdata"),
        (bytes(SLOT * 8) + photo_jpeg(1, 32, 24), ".thumbdata3-1", "thumbdata"),  # only empty slots so far
        (b"some text, no pictures", ".thumbdata3--1967290299", None),
        (photo_jpeg(1, 32, 24), "holiday.jpg", None),
        (b"", ".thumbdata3", None),
    ],
    ids=lambda value: value if isinstance(value, str) else "-" if isinstance(value, bytes) else str(value),
)
def test_detect_thumbnail_caches(data: bytes, name: str, expected: str | None) -> None:
    assert detect_archive(data[:HEAD], name) == expected


def test_formats_are_listed() -> None:
    assert {"thumbcache", "thumbsdb", "thumbdata"} <= set(FORMATS)


# -- thumbcache_*.db -----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [20, 21, 30, 31, 32])
def test_thumbcache_members_are_the_cached_pictures(version: int) -> None:
    data, expected = thumbcache(version=version)
    assert contents(data, "thumbcache_256.db") == expected
    assert list(expected) == [
        "7c9f0a3be2d4c1e1.jpg",
        "0123456789abcdef.jpg",
        "00000000deadbeef.jpg",
        "1111222233334444.png",
        "5555666677778888.bmp",
    ]


def test_thumbcache_provenance_and_sizes() -> None:
    data, expected = thumbcache()
    found, error = read_all(data, "Users/bob/AppData/Local/Microsoft/Windows/Explorer/thumbcache_256.db")
    assert error is None
    entry, content = found[0]
    assert entry.path == (
        "Users/bob/AppData/Local/Microsoft/Windows/Explorer/thumbcache_256.db!/7c9f0a3be2d4c1e1.jpg"
    )
    # Entry #2 is a placeholder without data: skipped, but it keeps its place in the locators.
    assert [e.locator.split("!#")[1].split("/")[0] for e, _ in found] == ["0", "1", "3", "4", "5"]
    assert entry.size == entry.compressed_size == len(content or b"") == len(expected["7c9f0a3be2d4c1e1.jpg"])
    assert entry.depth == 1 and entry.error is None and entry.mtime is None


def test_truncated_thumbcache_yields_the_good_entries_then_a_clear_error() -> None:
    pictures = thumbnails(3)
    data, _ = thumbcache([CacheEntry(0xA0 + n, p) for n, p in enumerate(pictures)], free_space=0)
    cut = data.index(pictures[2]) + len(pictures[2]) // 2  # inside the third picture
    found, error = read_all(data[:cut], "thumbcache_256.db")
    assert [content for _, content in found] == pictures[:2]
    assert isinstance(error, ArchiveReadError)
    assert "truncated" in str(error) and "2 entries before it were read" in str(error)


def test_damaged_thumbcache_entry_stops_the_listing() -> None:
    pictures = thumbnails(3)
    data, _ = thumbcache([CacheEntry(0xB0 + n, p) for n, p in enumerate(pictures)], free_space=0)
    second = data.index(b"CMMM", 24 + 4)
    broken = data[:second] + b"XXXX" + data[second + 4 :]
    found, error = read_all(broken, "thumbcache_256.db")
    assert [content for _, content in found] == pictures[:1]
    assert isinstance(error, ArchiveReadError)
    assert f"byte {second:,}" in str(error) and "'CMMM'" in str(error)


def test_thumbcache_entry_whose_parts_do_not_fit_is_damaged() -> None:
    data, _ = thumbcache([CacheEntry(1, thumbnails(1)[0])], free_space=0)
    lying = data[: 24 + 24] + struct.pack("<I", 10**6) + data[24 + 28 :]  # data size beyond the entry
    found, error = read_all(lying, "thumbcache_256.db")
    assert found == [] and isinstance(error, ArchiveReadError) and "damaged" in str(error)


def test_thumbcache_member_larger_than_the_budget_left_is_refused_alone() -> None:
    small, large = photo_jpeg(1, 32, 24), photo_jpeg(2, 320, 240)
    data, _ = thumbcache([CacheEntry(1, large), CacheEntry(2, small)], free_space=0)
    limits = ArchiveLimits(max_total_bytes=len(small) + 100)
    budget = ExtractionBudget(limits)
    found, error = read_all(data, "thumbcache_256.db", limits=limits, budget=budget)
    assert error is None
    (refused, nothing), (read, content) = found
    assert refused.open is None and nothing is None
    assert refused.error is not None and "--max-archive-bytes" in refused.error
    assert read.error is None and content == small
    assert budget.bytes_read == len(small)  # what was read is charged
    assert budget.members == 2


def test_thumbcache_member_count_limit() -> None:
    data, _ = thumbcache()
    found, error = read_all(data, "thumbcache_256.db", limits=ArchiveLimits(max_members=2))
    assert len(found) == 2 and isinstance(error, ArchiveBombError)


# -- Thumbs.db -----------------------------------------------------------------------------------------


def test_thumbs_db_members_are_named_after_the_original_files() -> None:
    data, expected = thumbs_db()
    found = contents(data, "Photos/Thumbs.db")
    assert found == expected
    # The thumbnail of a video or of a PNG is a JPEG: its own extension is added, the original kept.
    assert set(found) == {"holiday.jpg", "beach.JPEG", "clip.avi.jpg", "big.jpg", "scan.png.jpg"}


def test_thumbs_db_members_carry_the_original_files_time() -> None:
    data, _ = thumbs_db()
    found, _ = read_all(data, "Thumbs.db")
    assert {entry.mtime.isoformat() if entry.mtime else None for entry, _ in found} == {
        "2009-07-14T10:20:30+00:00"
    }
    assert all(entry.error is None for entry, _ in found)


def test_thumbs_db_without_catalog_uses_stream_names() -> None:
    pictures = thumbnails(2, seed=9800)
    vista_stream = struct.pack("<III", 24, 1, len(pictures[1])) + bytes(12) + pictures[1]
    data = compound_file({"1": thumbnail_stream(pictures[0]), "256_a1b2c3d4e5f60718": vista_stream})
    assert contents(data, "Thumbs.db") == {"1.jpg": pictures[0], "256_a1b2c3d4e5f60718.jpg": pictures[1]}


def test_thumbs_db_stream_without_a_picture_is_kept_and_flagged() -> None:
    type1 = struct.pack("<III", 12, 1, 40) + struct.pack("<IHH", 1, 24, 0) + bytes(32)
    data, _ = thumbs_db([("a.jpg", thumbnails(1)[0])], extra_streams={"2": type1})
    found, error = read_all(data, "Thumbs.db")
    assert error is None
    flagged = [(entry, content) for entry, content in found if entry.error]
    assert len(flagged) == 1
    entry, content = flagged[0]
    assert entry.path == "Thumbs.db!/2" and content == type1
    assert "no JPEG or PNG signature" in (entry.error or "")


def test_thumbs_db_with_a_damaged_catalog_falls_back_to_stream_names() -> None:
    pictures = thumbnails(2, seed=9900)
    catalog = struct.pack("<HHIII", 16, 7, 2, 96, 96) + struct.pack("<IIQ", 9999, 1, 0)  # record too long
    data = compound_file({"Catalog": catalog, "1": thumbnail_stream(pictures[0])})
    found, error = read_all(data, "Thumbs.db")
    assert error is None
    ((entry, content),) = found
    assert entry.path == "Thumbs.db!/1.jpg" and content == pictures[0]
    assert "Catalog is damaged" in (entry.error or "")


def test_a_doc_named_thumbs_db_yields_no_pictures_but_does_not_fail() -> None:
    found, error = read_all(DOC_LIKE, "Thumbs.db")
    assert error is None
    assert all(entry.error and "no JPEG or PNG signature" in entry.error for entry, _ in found)


def test_truncated_thumbs_db_still_gives_what_it_holds() -> None:
    data, expected = thumbs_db()
    # The big thumbnail lies in regular sectors at the end: cut inside it, the small ones stay whole.
    big = expected["big.jpg"]
    cut = data.index(big[1000:1100]) - 1000 + len(big) // 2
    found, error = read_all(data[:cut], "Thumbs.db")
    assert error is None
    read = {entry.path.split("!/")[1]: (entry, content) for entry, content in found}
    for name in ("holiday.jpg", "beach.JPEG", "clip.avi.jpg", "scan.png.jpg"):
        entry, content = read[name]
        assert content == expected[name] and entry.error is None
    partial, content = read["big.jpg"]
    assert content is not None and big.startswith(content) and len(content) < len(big)
    assert partial.error is not None and "damaged" in partial.error


def test_thumbs_db_cut_before_its_mini_stream_lists_what_it_cannot_read() -> None:
    data, _ = thumbs_db()
    found, error = read_all(data[:3000], "Thumbs.db")
    assert error is None
    assert [entry.path for entry, _ in found] == [f"Thumbs.db!/{name}" for name in ("1", "2", "3", "4", "51")]
    for entry, content in found:
        assert not content
        assert entry.error is not None and "Thumbs.db stream is damaged" in entry.error


def test_thumbs_db_cut_inside_its_directory_is_an_error_on_the_file() -> None:
    data, _ = thumbs_db()
    found, error = read_all(data[:1600], "Thumbs.db")
    assert found == []
    assert isinstance(error, ArchiveReadError) and "damaged or truncated" in str(error)


def test_looping_sector_chain_is_stopped() -> None:
    picture = photo_jpeg(8, 256, 192)  # over 4096 bytes: in regular sectors, chained by the FAT
    data = bytearray(compound_file({"1": thumbnail_stream(picture)}))
    # Point the stream's last sector back at its first: the chain now loops. Declare a huge size.
    fat = struct.unpack_from("<128I", data, 512)
    first = next(n for n, value in enumerate(fat) if value not in (0xFFFFFFFD, 0xFFFFFFFF) and n > 1)
    last = next(n for n in range(first, 128) if fat[n] == 0xFFFFFFFE)
    struct.pack_into("<I", data, 512 + 4 * last, first)
    directory = struct.unpack_from("<I", data, 48)[0]
    entry = 512 + 512 * directory + 128  # the stream's directory entry follows the root's
    struct.pack_into("<I", data, entry + 120, 0x40000000)
    found, error = read_all(bytes(data), "Thumbs.db", limits=ArchiveLimits(max_total_bytes=1 << 40))
    assert found == []
    assert isinstance(error, ArchiveReadError) and "loop back" in str(error)


def test_damaged_compound_file_is_an_archive_error() -> None:
    data, _ = thumbs_db()
    found, error = read_all(data[:700], "Thumbs.db")
    assert found == [] and isinstance(error, ArchiveReadError)


# -- .thumbdata ----------------------------------------------------------------------------------------


def test_thumbdata_members_are_named_by_their_offset() -> None:
    data, expected = thumbdata()
    found = contents(data, ".thumbdata3--1967290299")
    assert found == expected
    assert list(found) == ["thumb-10013.jpg", "thumb-20013.jpg", "thumb-50013.jpg"]
    for name, content in found.items():
        offset = int(name[len("thumb-") : -len(".jpg")])
        assert data[offset : offset + len(content or b"")] == content  # provenance points at the bytes


def with_exif_thumbnail(picture: bytes, inner: bytes) -> bytes:
    """`picture` with an APP1 segment that embeds another JPEG, as camera EXIF thumbnails do."""
    payload = b"Exif\x00\x00" + inner
    return picture[:2] + b"\xff\xe1" + struct.pack(">H", 2 + len(payload)) + payload + picture[2:]


def test_thumbdata_keeps_a_picture_with_an_embedded_thumbnail_whole() -> None:
    outer = with_exif_thumbnail(photo_jpeg(1, 64, 48), photo_jpeg(2, 16, 12))
    plain = photo_jpeg(3, 64, 48)
    data, expected = thumbdata({1: outer, 2: plain})
    assert contents(data, ".thumbdata3-1") == expected
    assert list(expected.values()) == [outer, plain]


def test_thumbdata_skips_stray_start_markers() -> None:
    picture = photo_jpeg(4, 64, 48)
    data = b"\x00junk\xff\xd8\xff\x00\x01\x02 more junk \xff\xd8\xff\xe0\x00" + bytes(100) + picture + b"tail"
    assert contents(data, ".thumbdata4-7") == {f"thumb-{data.index(picture)}.jpg": picture}


def test_truncated_thumbdata_yields_the_partial_picture_then_an_error() -> None:
    data, expected = thumbdata()
    last = list(expected.values())[-1]
    cut = data.index(last) + len(last) // 2
    found, error = read_all(data[:cut], ".thumbdata3--1967290299")
    assert [content for _, content in found[:2]] == list(expected.values())[:2]
    partial, content = found[2]
    assert content == last[: len(last) // 2]
    assert partial.error is not None and "incomplete JPEG" in partial.error
    assert isinstance(error, ArchiveReadError) and "truncated" in str(error)


def test_overwritten_slot_leaves_no_phantom_picture() -> None:
    old, new = photo_jpeg(5, 96, 72), photo_jpeg(6, 32, 24)
    slot = bytearray(b"\x01" + struct.pack(">qi", 1, len(old)) + old)
    slot[: 13 + len(new)] = b"\x01" + struct.pack(">qi", 2, len(new)) + new  # the old tail stays behind
    spans = list(find_jpegs(io.BytesIO(bytes(slot))))
    assert [(s.start, s.end, s.complete) for s in spans] == [(13, 13 + len(new), True)]


# -- arbitrary bytes never crash the readers -----------------------------------------------------------

SMALL = ArchiveLimits(max_total_bytes=4 << 20, max_members=500)
VALID_HEADERS = {
    "thumbcache_256.db": b"CMMM" + struct.pack("<IIIII", 32, 4, 24, 24, 0) + b"CMMM",
    "Thumbs.db": thumbs_db([("a.jpg", photo_jpeg(7, 16, 12))])[0][:512],
    ".thumbdata3--1": b"\x01" + bytes(12) + b"\xff\xd8\xff\xe0",
}


def exhaust(data: bytes, name: str) -> None:
    fmt = detect_archive(data[:HEAD], name)
    if fmt is None:
        return
    budget = ExtractionBudget(SMALL)
    try:
        for entry in iter_members(
            container(name), io.BytesIO(data), fmt, limits=SMALL, passwords=(), budget=budget
        ):
            if entry.open is not None:
                with entry.open() as stream:
                    stream.read()
    except (ArchiveReadError, ArchiveBombError):
        pass


@given(name=st.sampled_from(sorted(VALID_HEADERS)), tail=st.binary(max_size=4096))
def test_arbitrary_bytes_after_a_valid_header_never_crash(name: str, tail: bytes) -> None:
    exhaust(VALID_HEADERS[name] + tail, name)


# Real caches, built once so that each example only flips bytes.
BUILT = {
    "thumbcache_256.db": thumbcache()[0],
    "Thumbs.db": thumbs_db()[0],
    ".thumbdata3-1": thumbdata()[0],
}


@given(
    name=st.sampled_from(sorted(BUILT)),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=12),
)
def test_damaged_real_caches_never_crash(name: str, flips: list[tuple[int, int]]) -> None:
    data = bytearray(BUILT[name])
    for position, value in flips:
        data[position % len(data)] = value
    exhaust(bytes(data), name)


# -- through a scan ------------------------------------------------------------------------------------


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Store:
    store = open_store(himaya_env["home"])
    create_case(store, "C-1", "TEST case")
    return store


def export_records(store: Store) -> dict[str, dict[str, Any]]:
    out = io.StringIO()
    export_case(store, "C-1", "jsonl", out)
    return {r["path"]: r for r in (json.loads(line) for line in out.getvalue().splitlines())}


def test_scan_reads_pictures_out_of_thumbnail_caches(store: Store, tmp_path: Path) -> None:
    seized = tmp_path / "seized"
    explorer = seized / "Users/bob/AppData/Local/Microsoft/Windows/Explorer"
    cached = write_thumbcache(explorer / "thumbcache_256.db")
    thumbs, thumbs_members = thumbs_db()
    (seized / "usb").mkdir(parents=True)
    with zipfile.ZipFile(seized / "usb/photos.zip", "w") as archive:
        archive.writestr("2009/Thumbs.db", thumbs)

    summary = run_scan(
        store, "C-1", [seized], settings=ScanSettings(workers=0, thumbnails=False), blobs=None, quiet=True
    )

    assert summary.status == "finished"
    records = export_records(store)
    cache_path = "seized/Users/bob/AppData/Local/Microsoft/Windows/Explorer/thumbcache_256.db"
    for name, data in cached.items():
        record = records[f"{cache_path}!/{name}"]
        assert record["sha256"] == hashlib.sha256(data).hexdigest()
        assert record["size"] == len(data)
        assert record["status"] == "ok"
    jpeg = records[f"{cache_path}!/7c9f0a3be2d4c1e1.jpg"]
    assert jpeg["mime"] == "image/jpeg"
    assert records[cache_path]["status"] == "ok"
    # A Thumbs.db inside a zip is read from the spool, one layer further down.
    for name, data in thumbs_members.items():
        record = records[f"seized/usb/photos.zip!/2009/Thumbs.db!/{name}"]
        assert record["sha256"] == hashlib.sha256(data).hexdigest()
