"""Benign thumbnail caches in their real on-disk formats, holding pictures from `tests.builders.images`.

* `thumbcache(...)`: a Windows `thumbcache_*.db`, by default the Windows 10/11 layout (format version
  32) of a `thumbcache_256.db`: a 24-byte header, then entries ("CMMM", sizes, the entry hash, the hash
  as a UTF-16 identifier, padding, the picture), an empty placeholder entry, and the trailing free
  entry that spans the rest of the file as Windows leaves it. Checksums are left zero (Windows' CRC-64
  polynomial is not published; readers do not check them).
* `thumbs_db(...)`: a Windows XP `Thumbs.db`, an OLE compound file written by `compound_file`, a minimal
  writer (version 3, 512-byte sectors, one FAT, a mini stream for streams under 4096 bytes) that
  olefile reads. olefile itself cannot write.
* `thumbdata(...)`: an Android `.thumbdata3-…` file: fixed 10,000-byte slots at `id × 10000`, each a
  flag byte, a 64-bit key and a 32-bit length (big-endian) before the JPEG.

Each returns the file's bytes and the members a reader should find, `{member name: exact bytes}`; the
`write_*` helpers put the file on disk and return the same mapping.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.builders.images import encode, photo_jpeg, photo_like

# -- pictures ------------------------------------------------------------------------------------------


def thumbnails(count: int = 3, seed: int = 9100, size: tuple[int, int] = (96, 72)) -> list[bytes]:
    """`count` distinct small JPEG thumbnails."""
    return [photo_jpeg(seed + n, *size) for n in range(count)]


def png_thumbnail(seed: int = 9200, size: tuple[int, int] = (64, 48)) -> bytes:
    return encode(photo_like(seed, *size), "PNG")


def bmp_thumbnail(seed: int = 9300, size: tuple[int, int] = (32, 24)) -> bytes:
    return encode(photo_like(seed, *size), "BMP")


# -- thumbcache_*.db -----------------------------------------------------------------------------------

THUMBCACHE_VERSION_10 = 32
CACHE_TYPE_256 = 4  # thumbcache_256.db in format version 32


@dataclass(frozen=True)
class CacheEntry:
    entry_hash: int
    data: bytes  # b"" for a placeholder entry without data


def _extension(data: bytes) -> str:
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG"):
        return "png"
    if data.startswith(b"BM"):
        return "bmp"
    return "bin"


def cache_entry(entry_hash: int, data: bytes, version: int = THUMBCACHE_VERSION_10) -> bytes:
    """One "CMMM" entry of the given format version (20 Vista, 21 Windows 7, 30+ Windows 8 to 11)."""
    identifier = f"{entry_hash:016x}".encode("utf-16-le")
    header_size = 48 if version == 21 else 56
    unpadded = header_size + len(identifier) + len(data)
    padding = (-unpadded) % 8 if data else 0  # Windows pads entries; any padding size is valid
    size = unpadded + padding
    sizes = struct.pack("<III", len(identifier), padding, len(data))
    if version == 20:
        fixed = b"CMMM" + struct.pack("<IQ", size, entry_hash) + "jpg\0".encode("utf-16-le") + sizes
        fixed += bytes(4 + 8 + 8)  # unknown, data checksum, header checksum
    elif version == 21:
        fixed = b"CMMM" + struct.pack("<IQ", size, entry_hash) + sizes + bytes(4 + 8 + 8)
    else:
        # unknown (4), unknown (8), data checksum, header checksum
        fixed = b"CMMM" + struct.pack("<IQ", size, entry_hash) + sizes + bytes(4 + 8 + 8 + 8)
    assert len(fixed) == header_size
    return fixed + identifier + bytes(padding) + data


def thumbcache(
    entries: Sequence[CacheEntry] | None = None,
    *,
    version: int = THUMBCACHE_VERSION_10,
    cache_type: int = CACHE_TYPE_256,
    free_space: int = 4096,
) -> tuple[bytes, dict[str, bytes]]:
    """A thumbcache file and its members. Default entries: three JPEGs, a placeholder, a PNG and a BMP."""
    if entries is None:
        jpegs = thumbnails(3)
        entries = [
            CacheEntry(0x7C9F0A3BE2D4C1E1, jpegs[0]),
            CacheEntry(0x0123456789ABCDEF, jpegs[1]),
            CacheEntry(0x482D656EE647F25E, b""),  # a placeholder: no data, skipped by readers
            CacheEntry(0x00000000DEADBEEF, jpegs[2]),
            CacheEntry(0x1111222233334444, png_thumbnail()),
            CacheEntry(0x5555666677778888, bmp_thumbnail()),
        ]
    body = b"".join(cache_entry(e.entry_hash, e.data, version) for e in entries)
    available = 24 + len(body)
    if free_space:
        # The first available entry takes the rest of the file: a bare header followed by zeros.
        free_size = max(free_space, 56)
        body += b"CMMM" + struct.pack("<I", free_size) + bytes(free_size - 8)
    used = sum(1 for e in entries if e.data)
    header = b"CMMM" + struct.pack("<IIIII", version, cache_type, 24, available, used)
    members = {f"{e.entry_hash:016x}.{_extension(e.data)}": e.data for e in entries if e.data}
    return header + body, members


def write_thumbcache(
    path: Path, entries: Sequence[CacheEntry] | None = None, **options: int
) -> dict[str, bytes]:
    data, members = thumbcache(entries, **options)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return members


# -- OLE compound files --------------------------------------------------------------------------------

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SECTOR = 512
_MINI = 64
_CUTOFF = 4096
_FREE, _END, _FATSECT, _NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def _sectors(size: int, unit: int) -> int:
    return (size + unit - 1) // unit


def _ole_order(name: str) -> tuple[int, str]:
    """The compound-file directory order: shorter names first, then by upper-cased name."""
    return (len(name), name.upper())


def _direntry(name: str, kind: int, *, left: int, right: int, child: int, start: int, size: int) -> bytes:
    encoded = name.encode("utf-16-le") + b"\0\0"
    assert len(encoded) <= 64, "compound-file names are at most 31 characters"
    return struct.pack(
        "<64sHBBIII16sIQQIII",
        encoded,
        len(encoded),
        kind,
        1,  # black: the tree is not checked for balance by readers
        left,
        right,
        child,
        bytes(16),
        0,
        0,
        0,
        start,
        size,
        0,
    )


def compound_file(streams: Mapping[str, bytes]) -> bytes:
    """An OLE compound file (CFB version 3) holding `streams` at its root, readable by olefile.

    Streams under 4096 bytes go to the mini stream (64-byte mini sectors, chained by the mini FAT),
    the others to 512-byte sectors chained by the FAT. The directory is a binary search tree in the
    format's name order. Up to 109 FAT sectors (about 7 MB): no DIFAT sectors are written.
    """
    names = list(streams)
    small = [n for n in names if len(streams[n]) < _CUTOFF]
    large = [n for n in names if len(streams[n]) >= _CUTOFF]

    # Mini stream: small streams back to back in 64-byte mini sectors.
    mini_start: dict[str, int] = {}
    mini_fat: list[int] = []
    ministream = bytearray()
    for name in small:
        data = streams[name]
        count = _sectors(len(data), _MINI)
        mini_start[name] = len(mini_fat) if count else _END
        first = len(mini_fat)
        mini_fat += [first + i + 1 for i in range(count - 1)] + ([_END] if count else [])
        ministream += data + bytes(count * _MINI - len(data))

    directory_entries = 1 + len(names)
    counts = {
        "directory": _sectors(directory_entries * 128, _SECTOR),
        "minifat": _sectors(len(mini_fat) * 4, _SECTOR),
        "ministream": _sectors(len(ministream), _SECTOR),
    }
    large_counts = [_sectors(len(streams[n]), _SECTOR) for n in large]
    content = sum(counts.values()) + sum(large_counts)
    fat_sectors = 1
    while fat_sectors * (_SECTOR // 4) < fat_sectors + content:
        fat_sectors += 1
    assert fat_sectors <= 109, "too large for a header-only DIFAT"

    fat: list[int] = [_FATSECT] * fat_sectors
    body = bytearray()

    def allocate(data: bytes, count: int) -> int:
        if count == 0:
            return _END
        first = len(fat)
        fat.extend(first + i + 1 for i in range(count - 1))
        fat.append(_END)
        body.extend(data + bytes(count * _SECTOR - len(data)))
        return first

    # Directory: root (0), then the streams (1..n) as a balanced search tree under the root.
    ids = {name: sid for sid, name in enumerate(names, start=1)}
    ordered = sorted(names, key=_ole_order)
    links: dict[str, tuple[int, int]] = {}

    def build(lo: int, hi: int) -> int:
        if lo >= hi:
            return _NOSTREAM
        mid = (lo + hi) // 2
        links[ordered[mid]] = (build(lo, mid), build(mid + 1, hi))
        return ids[ordered[mid]]

    tree_root = build(0, len(ordered))
    minifat_bytes = b"".join(struct.pack("<I", v) for v in mini_fat)
    # Sector numbers are fixed by the order of allocation: directory, mini FAT, mini stream, large.
    directory_at = fat_sectors
    minifat_at = directory_at + counts["directory"]
    ministream_at = minifat_at + counts["minifat"]
    large_at: dict[str, int] = {}
    position = ministream_at + counts["ministream"]
    for name, count in zip(large, large_counts, strict=True):
        large_at[name] = position if count else _END
        position += count

    entries = [
        _direntry(
            "Root Entry",
            5,
            left=_NOSTREAM,
            right=_NOSTREAM,
            child=tree_root,
            start=ministream_at if ministream else _END,
            size=len(ministream),
        )
    ]
    for name in names:
        left, right = links[name]
        start = mini_start[name] if name in mini_start else large_at[name]
        entries.append(
            _direntry(name, 2, left=left, right=right, child=_NOSTREAM, start=start, size=len(streams[name]))
        )
    directory = b"".join(entries)
    unused = counts["directory"] * (_SECTOR // 128) - directory_entries
    directory += b"".join(
        _direntry("", 0, left=_NOSTREAM, right=_NOSTREAM, child=_NOSTREAM, start=0, size=0)
        for _ in range(unused)
    )

    assert allocate(directory, counts["directory"]) == (directory_at if counts["directory"] else _END)
    assert allocate(minifat_bytes, counts["minifat"]) == (minifat_at if counts["minifat"] else _END)
    assert allocate(bytes(ministream), counts["ministream"]) == (
        ministream_at if counts["ministream"] else _END
    )
    for name, count in zip(large, large_counts, strict=True):
        assert allocate(streams[name], count) == large_at[name]

    fat += [_FREE] * (fat_sectors * (_SECTOR // 4) - len(fat))
    fat_bytes = b"".join(struct.pack("<I", v) for v in fat)
    difat = list(range(fat_sectors)) + [_FREE] * (109 - fat_sectors)
    header = (
        OLE_SIGNATURE
        + bytes(16)
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + bytes(6)
        + struct.pack(
            "<IIIIIIIII",
            0,  # directory sectors (always 0 in version 3)
            fat_sectors,
            directory_at,
            0,  # transaction signature
            _CUTOFF,
            minifat_at if mini_fat else _END,
            counts["minifat"],
            _END,  # first DIFAT sector: none
            0,
        )
        + b"".join(struct.pack("<I", v) for v in difat)
    )
    assert len(header) == _SECTOR
    return header + fat_bytes + bytes(body)


# -- Thumbs.db -----------------------------------------------------------------------------------------

WHEN = datetime(2009, 7, 14, 10, 20, 30, tzinfo=UTC)
_FILETIME_EPOCH = 116_444_736_000_000_000


def filetime(when: datetime) -> int:
    return int(when.timestamp() * 10_000_000) + _FILETIME_EPOCH


def thumbnail_stream(picture: bytes) -> bytes:
    """An XP thumbnail stream: header size (12), revision (1), picture size, then the JPEG."""
    return struct.pack("<III", 12, 1, len(picture)) + picture


def catalog(names: Sequence[tuple[int, str, datetime]], width: int = 96, height: int = 96) -> bytes:
    """The Catalog stream: a 16-byte header, then (size, id, FILETIME, UTF-16 name + 4 NUL bytes)."""
    records = b""
    for entry_id, name, when in names:
        encoded = name.encode("utf-16-le") + bytes(4)
        records += struct.pack("<IIQ", 16 + len(encoded), entry_id, filetime(when)) + encoded
    return struct.pack("<HHIII", 16, 7, len(names), width, height) + records


def thumbs_db(
    originals: Sequence[tuple[str, bytes]] | None = None,
    *,
    extra_streams: Mapping[str, bytes] | None = None,
    when: datetime = WHEN,
) -> tuple[bytes, dict[str, bytes]]:
    """A Thumbs.db: a Catalog naming each original file, and a stream per thumbnail (id reversed).

    Default: five thumbnails, among them one of 11 entries so a two-digit id ("01") is reversed, one
    large enough (over 4096 bytes) to live in regular sectors rather than the mini stream, and a JPEG
    thumbnail of a video (`clip.avi`, member `clip.avi.jpg`).
    """
    if originals is None:
        small = thumbnails(4, seed=9400)
        originals = [
            ("holiday.jpg", small[0]),
            ("beach.JPEG", small[1]),
            ("clip.avi", small[2]),
            ("big.jpg", photo_jpeg(9450, 256, 192)),
            ("scan.png", small[3]),
        ]
    ids = list(range(1, len(originals) + 1))
    if len(ids) >= 2:
        ids[-1] = 10 + len(originals)  # a multi-digit id: its stream name is written backwards
    streams: dict[str, bytes] = {
        "Catalog": catalog([(i, name, when) for i, (name, _) in zip(ids, originals, strict=True)])
    }
    members: dict[str, bytes] = {}
    for entry_id, (name, picture) in zip(ids, originals, strict=True):
        streams[str(entry_id)[::-1]] = thumbnail_stream(picture)
        members[_member_name(name, picture)] = picture
    for name, data in (extra_streams or {}).items():
        streams[name] = data
    return compound_file(streams), members


def _member_name(original: str, picture: bytes) -> str:
    extension = _extension(picture)
    suffix = original.rsplit(".", 1)[-1].lower() if "." in original else ""
    same = {"jpg": {"jpg", "jpeg", "jpe", "jfif"}, "png": {"png"}, "bmp": {"bmp", "dib"}}
    return original if suffix in same.get(extension, set()) else f"{original}.{extension}"


def write_thumbs_db(path: Path, originals: Sequence[tuple[str, bytes]] | None = None) -> dict[str, bytes]:
    data, members = thumbs_db(originals)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return members


# -- Android .thumbdata --------------------------------------------------------------------------------

SLOT = 10_000  # MiniThumbFile.BYTES_PER_MINTHUMB of the .thumbdata3 files
_SLOT_HEADER = 1 + 8 + 4


def thumbdata(
    pictures: Mapping[int, bytes] | None = None, *, slot: int = SLOT
) -> tuple[bytes, dict[str, bytes]]:
    """A .thumbdata3 file with each picture in the slot of its media id; empty slots are zeros.

    Default: three thumbnails at ids 1, 2 and 5 (slot 0 and slots 3-4 stay empty, as on a phone).
    """
    if pictures is None:
        jpegs = thumbnails(3, seed=9500)
        pictures = {1: jpegs[0], 2: jpegs[1], 5: jpegs[2]}
    size = (max(pictures) + 1) * slot if pictures else slot
    out = bytearray(size)
    members: dict[str, bytes] = {}
    for media_id, picture in pictures.items():
        assert len(picture) + _SLOT_HEADER <= slot, "a thumbnail must fit its slot"
        at = media_id * slot
        record = b"\x01" + struct.pack(">qi", 0x5EED0000 + media_id, len(picture)) + picture
        out[at : at + len(record)] = record
        members[f"thumb-{at + _SLOT_HEADER}.jpg"] = picture
    return bytes(out), dict(sorted(members.items(), key=lambda item: int(item[0][6:-4])))


def write_thumbdata(path: Path, pictures: Mapping[int, bytes] | None = None) -> dict[str, bytes]:
    data, members = thumbdata(pictures)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return members
