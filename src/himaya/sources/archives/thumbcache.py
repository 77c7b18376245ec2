"""Windows Explorer thumbnail caches (`thumbcache_*.db`, Vista to 11): each cached picture is a member.

Thumbnail caches often hold the only copy left of a deleted picture, so every entry with data becomes a
member file, hashed and matched like any other picture. Layout (after Joachim Metz's libwtcdb notes,
"Windows Explorer Thumbnail Cache database format"), all little-endian:

* file header, 24 bytes: "CMMM", format version (20 Vista, 21 Windows 7, 30 Windows 8, 31 Windows 8.1,
  32 Windows 10 and 11), cache type, then offsets and a count that are not reliable and not used here:
  the entries follow the header back to back.
* each entry: "CMMM", entry size (whole entry), entry hash (64-bit), identifier size, padding size,
  data size, then unknown fields and two CRC-64 checksums (data, header); 48 bytes in version 21, 56 in
  the others (version 20 keeps an 8-byte extension after the hash). The identifier (UTF-16, the hash in
  hex), the padding and the data (a JPEG, PNG or BMP) follow.

Members are named by the entry hash in hex and an extension from the data's signature
(`7c9f0a3be2d4c1e1.jpg`); the hash is what the cache's index and Windows Search tie back to the original
file. Entries without data (placeholders, and the free space at the end) are skipped. The checksums are
not verified: the CRC-64 polynomial Windows uses is not published.

An entry that does not fit the file (truncated copy, damaged cache) stops the listing with an
`ArchiveReadError` after the good entries were yielded.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from functools import partial
from typing import BinaryIO

from himaya.config import ArchiveLimits
from himaya.sources.archives.guard import (
    ArchiveReadError,
    ExtractionBudget,
    Readable,
    metered,
    reading,
    refusal,
    stop_if_tripped,
)
from himaya.sources.archives.members import member_entry, stream_length
from himaya.sources.interface import FileEntry

__all__ = [
    "HEADER_SIZE",
    "SIGNATURE",
    "VERSIONS",
    "ByteRange",
    "iter_thumbcache",
    "looks_like_thumbcache",
    "picture_extension",
    "picture_member",
]

SIGNATURE = b"CMMM"
HEADER_SIZE = 24
VERSIONS = {20: "Windows Vista", 21: "Windows 7", 30: "Windows 8", 31: "Windows 8.1", 32: "Windows 10/11"}
# Later versions are read with the newest known layout when their first entry is where it should be.
_LATEST_KNOWN, _HIGHEST_ACCEPTED = 32, 63
_MAX_CACHE_TYPE = 31  # 0..13 are known; a text that happens to start "CMMM" has a huge one

# Picture signatures and the extension each member is named with.
_PICTURES = (
    (b"\xff\xd8\xff", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"BM", "bmp"),
)
SIGNATURE_BYTES = 8
_ZERO_SCAN = 1024 * 1024


def picture_extension(head: bytes) -> str | None:
    """ "jpg", "png" or "bmp" from a picture's first bytes; None for anything else."""
    for magic, extension in _PICTURES:
        if head.startswith(magic):
            return extension
    return None


class ByteRange:
    """The bytes `offset` to `offset + size` of a seekable stream, read in place (never all at once).

    It seeks before every read, so it stays right while the reader that lists the members moves
    about the same stream; a stream that ends early is a truncated cache, said so.
    """

    def __init__(self, fileobj: BinaryIO, offset: int, size: int) -> None:
        self._fileobj = fileobj
        self._offset = offset
        self._size = size
        self._position = 0

    def read(self, size: int = -1, /) -> bytes:
        left = self._size - self._position
        count = left if size < 0 else min(size, left)
        if count <= 0:
            return b""
        self._fileobj.seek(self._offset + self._position)
        data = self._fileobj.read(count)
        if not data:
            raise ArchiveReadError(
                f"the cache file ends {self._size - self._position:,} bytes before the end of this "
                "thumbnail; it is truncated or changed while it was read"
            )
        self._position += len(data)
        return data

    def close(self) -> None:
        """The stream belongs to the container's reader."""


def picture_member(
    container: FileEntry,
    index: int,
    name: str,
    *,
    size: int,
    source: Callable[[], Readable],
    limits: ArchiveLimits,
    budget: ExtractionBudget,
    mtime: datetime | None = None,
    problems: Sequence[str] = (),
) -> FileEntry:
    """A member whose `size` bytes lie uncompressed in the container; `source` gives them when it is
    opened (a `ByteRange` of the container, or a `BytesIO`).

    A member larger than what is left of the extraction budget is listed with the reason and not read;
    the bytes of one that is read are counted against the budget as they are read.
    """
    refused = refusal(size, size, budget)

    def opener() -> BinaryIO:
        with reading("reading the thumbnail"):
            inner = source()
        return metered(inner, limits, budget, None)

    return member_entry(
        container,
        index,
        name,
        size=size,
        compressed_size=size,
        mtime=mtime,
        opener=None if refused else opener,
        problems=[*problems, refused] if refused else list(problems),
    )


def read_at(fileobj: BinaryIO, offset: int, size: int) -> bytes:
    """`size` bytes at `offset` (fewer at the end of the file)."""
    with reading("reading the thumbnail cache"):
        fileobj.seek(offset)
        return fileobj.read(size)


def looks_like_thumbcache(head: bytes) -> bool:
    """Whether a file's first bytes are a thumbcache_*.db header (not thumbcache_idx.db, not "CMMM" text)."""
    if len(head) < HEADER_SIZE or not head.startswith(SIGNATURE):
        return False
    version, cache_type = struct.unpack_from("<II", head, 4)
    if cache_type > _MAX_CACHE_TYPE:
        return False
    first = head[HEADER_SIZE : HEADER_SIZE + 4]
    if version in VERSIONS:
        # A cache with entries has the first right after the header; an empty one has nothing, or zeros.
        return first in (SIGNATURE, b"") or not any(head[HEADER_SIZE:])
    return _LATEST_KNOWN < version <= _HIGHEST_ACCEPTED and first == SIGNATURE


class _Layout:
    """Where one format version keeps an entry's fields."""

    def __init__(self, version: int) -> None:
        self.version = version
        if version == 20:
            self.header_size, self.sizes_at = 56, 24  # an 8-byte extension follows the hash
        elif version == 21:
            self.header_size, self.sizes_at = 48, 16
        else:
            self.header_size, self.sizes_at = 56, 16

    def describe(self) -> str:
        name = VERSIONS.get(self.version, f"unknown, read as {VERSIONS[_LATEST_KNOWN]}")
        return f"format version {self.version} ({name})"


def iter_thumbcache(
    container: FileEntry, fileobj: BinaryIO, *, limits: ArchiveLimits, budget: ExtractionBudget
) -> Iterator[FileEntry]:
    file_size = stream_length(fileobj)
    header = read_at(fileobj, 0, HEADER_SIZE)
    if len(header) < HEADER_SIZE or not header.startswith(SIGNATURE):
        raise ArchiveReadError("not a Windows thumbnail cache: the 24-byte 'CMMM' file header is missing")
    layout = _Layout(struct.unpack_from("<I", header, 4)[0])
    offset = HEADER_SIZE
    index = 0
    while offset < file_size:
        raw = read_at(fileobj, offset, layout.header_size)
        if not raw.startswith(SIGNATURE):
            if _zeros_to_end(fileobj, offset, file_size):
                return  # free space at the end of the cache
            raise ArchiveReadError(
                f"no thumbnail cache entry at byte {offset:,} (found {raw[:4]!r} where 'CMMM' should be, "
                f"{layout.describe()}); the cache is damaged or not what its header says. The {index} "
                "entries before it were read"
            )
        if len(raw) < layout.header_size:
            raise _truncated(offset, index, f"its {layout.header_size}-byte header is cut off")
        entry_size, entry_hash = struct.unpack_from("<IQ", raw, 4)
        identifier_size, padding_size, data_size = struct.unpack_from("<III", raw, layout.sizes_at)
        if entry_size < layout.header_size:
            raise _damaged(offset, index, f"its declared size ({entry_size:,} bytes) is below its header's")
        if offset + entry_size > file_size:
            past = offset + entry_size - file_size
            raise _truncated(offset, index, f"it declares {entry_size:,} bytes, {past:,} past the end")
        data_at = layout.header_size + identifier_size + padding_size
        if data_at + data_size > entry_size:
            raise _damaged(
                offset,
                index,
                f"its identifier, padding and data ({data_at - layout.header_size + data_size:,} bytes) do "
                f"not fit in it ({entry_size:,} bytes)",
            )
        if data_size:
            budget.take_member()
            yield _entry(container, fileobj, index, offset + data_at, data_size, entry_hash, limits, budget)
            stop_if_tripped(budget)
        index += 1
        offset += entry_size


def _entry(
    container: FileEntry,
    fileobj: BinaryIO,
    index: int,
    data_offset: int,
    data_size: int,
    entry_hash: int,
    limits: ArchiveLimits,
    budget: ExtractionBudget,
) -> FileEntry:
    extension = picture_extension(read_at(fileobj, data_offset, min(SIGNATURE_BYTES, data_size))) or "bin"
    return picture_member(
        container,
        index,
        f"{entry_hash:016x}.{extension}",
        size=data_size,
        source=partial(ByteRange, fileobj, data_offset, data_size),
        limits=limits,
        budget=budget,
    )


def _zeros_to_end(fileobj: BinaryIO, offset: int, end: int) -> bool:
    while offset < end:
        chunk = read_at(fileobj, offset, min(_ZERO_SCAN, end - offset))
        if not chunk:
            return True
        if any(chunk):
            return False
        offset += len(chunk)
    return True


def _truncated(offset: int, index: int, detail: str) -> ArchiveReadError:
    return ArchiveReadError(
        f"thumbnail cache entry at byte {offset:,} is truncated: {detail}; the cache file was cut short "
        f"(incomplete copy or carved file). The {index} entries before it were read"
    )


def _damaged(offset: int, index: int, detail: str) -> ArchiveReadError:
    return ArchiveReadError(
        f"thumbnail cache entry at byte {offset:,} is damaged: {detail}. The {index} entries before it "
        "were read"
    )
