"""Android gallery thumbnail caches (`DCIM/.thumbnails/.thumbdata3-…`, `.thumbdata4-…`).

Android's media provider (MiniThumbFile) kept small JPEG thumbnails in one file of fixed-size slots:
a slot at `id × slot size` holds a flag byte, a 64-bit key and a 32-bit length (big-endian), then the
JPEG; empty slots are zeros and a slot that was reused keeps the tail of its old picture. Slot sizes
changed between versions, so the file is not read by slots: every JPEG in it is found by its start
marker and followed through its segment structure to its end marker. Following the structure, rather
than cutting at the next FF D9, keeps a picture whole when it carries an EXIF thumbnail of its own, and
skips stray FF D8 FF bytes that do not begin a real JPEG.

Each picture is a member named `thumb-<offset>.jpg`, the byte offset of its start in the cache file, so
provenance points at the bytes. A picture cut short (the cache file ends inside it, or another picture
overwrote its tail) is still yielded, flagged as incomplete: a partial thumbnail can still be shown and
matched. A cache that ends inside a picture then stops with an `ArchiveReadError`, so the truncation is
also on record for the cache file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO

from himaya.config import ArchiveLimits
from himaya.sources.archives.guard import ArchiveReadError, ExtractionBudget, reading, stop_if_tripped
from himaya.sources.archives.members import stream_length
from himaya.sources.archives.thumbcache import ByteRange, picture_member
from himaya.sources.interface import FileEntry

__all__ = ["JpegSpan", "find_jpegs", "is_thumbdata_name", "iter_thumbdata", "looks_like_thumbdata"]

SOI = b"\xff\xd8\xff"
_NAME = re.compile(r"\.thumbdata.*", re.IGNORECASE | re.DOTALL)
_WINDOW = 1024 * 1024

# Markers that stand alone (no length field): TEM and the restart markers.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_EOI, _SOS = 0xD9, 0xDA
# Markers followed by a length field: SOFn, DHT, JPG, DAC (C0-CF), SOS, DQT, DNL, DRI, DHP, EXP (DA-DF),
# APPn (E0-EF), JPGn extensions (F0-FD) and COM (FE).
_SEGMENTS = frozenset({*range(0xC0, 0xD0), *range(0xDA, 0xFF)})


def is_thumbdata_name(name: str) -> bool:
    """Whether a file's name (last path segment) is that of an Android thumbdata cache."""
    return _NAME.fullmatch(name) is not None


def looks_like_thumbdata(head: bytes, name: str) -> bool:
    """`.thumbdata*` by name, and either a JPEG in the first bytes or only empty slots (zeros) so far."""
    if not head or not is_thumbdata_name(name):
        return False
    return SOI in head or not any(head)


@dataclass(frozen=True)
class JpegSpan:
    """One JPEG found in a file: `start` and `end` (exclusive) byte offsets; `complete` when its end
    marker was reached, otherwise `problem` says where it stops."""

    start: int
    end: int
    complete: bool
    problem: str | None = None


class _Window:
    """Random access to a seekable stream through one cached window, so a scan reads each byte once."""

    def __init__(self, fileobj: BinaryIO, size: int) -> None:
        self._fileobj = fileobj
        self.size = size
        self._start = 0
        self._buffer = b""

    def _load(self, position: int, count: int) -> None:
        end = self._start + len(self._buffer)
        if self._start <= position and position + count <= end:
            return
        if position >= end and end >= self.size:
            return  # nothing left to load
        with reading("reading the thumbnail cache"):
            self._fileobj.seek(position)
            self._buffer = self._fileobj.read(max(_WINDOW, count))
        self._start = position

    def read(self, position: int, count: int) -> bytes:
        self._load(position, count)
        at = position - self._start
        if at < 0 or at > len(self._buffer):
            return b""
        return self._buffer[at : at + count]

    def byte(self, position: int) -> int:
        """The byte at `position`, -1 past the end."""
        data = self.read(position, 1)
        return data[0] if data else -1

    def find(self, needle: bytes, position: int) -> int:
        while position < self.size:
            self._load(position, len(needle))
            at = position - self._start
            if at < 0 or at >= len(self._buffer):
                return -1
            found = self._buffer.find(needle, at)
            if found >= 0:
                return self._start + found
            loaded_end = self._start + len(self._buffer)
            if loaded_end >= self.size:
                return -1
            position = max(position + 1, loaded_end - len(needle) + 1)  # a match across the boundary
        return -1


def find_jpegs(fileobj: BinaryIO, size: int | None = None) -> Iterator[JpegSpan]:
    """Every JPEG in a seekable stream of `size` bytes (all of it by default), in order; a stray
    FF D8 FF that begins no JPEG is passed over."""
    if size is None:
        with reading("reading the thumbnail cache"):
            size = stream_length(fileobj)
    window = _Window(fileobj, size)
    position = 0
    while True:
        start = window.find(SOI, position)
        if start < 0:
            return
        span = _follow(window, start)
        if span is None:
            position = start + 1
            continue
        yield span
        position = span.end


def _follow(window: _Window, start: int) -> JpegSpan | None:
    """The JPEG beginning at `start`, walked segment by segment; None if the bytes are not a JPEG."""
    position = start + 2
    segments = 0
    in_image = False  # a scan has begun: what follows belongs to this picture even if broken

    def cut(at: int, why: str) -> JpegSpan | None:
        if not in_image and segments == 0:
            return None
        return JpegSpan(start, at, complete=False, problem=why)

    while True:
        pair = window.read(position, 2)
        if len(pair) < 2:
            return cut(window.size, "the file ends inside this picture (no end-of-image marker)")
        if pair[0] != 0xFF:
            if in_image:
                return cut(position, f"the picture breaks off at byte {position:,} (no marker there)")
            return None
        marker = pair[1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker == _EOI:
            return JpegSpan(start, position + 2, complete=True)
        if marker in _STANDALONE:
            position += 2
            continue
        if marker not in _SEGMENTS:  # SOI again, or a reserved marker
            if in_image:
                return cut(position, f"the picture breaks off at byte {position:,} where another one begins")
            return None
        length_bytes = window.read(position + 2, 2)
        if len(length_bytes) < 2:
            return cut(window.size, "the file ends inside this picture (no end-of-image marker)")
        length = int.from_bytes(length_bytes, "big")
        if length < 2:
            if in_image:
                return cut(position, f"the picture breaks off at byte {position:,} (a damaged segment)")
            return None
        if position + 2 + length > window.size:
            return cut(window.size, "the file ends inside this picture (no end-of-image marker)")
        position += 2 + length
        segments += 1
        if marker == _SOS:
            in_image = True
            position = _skip_scan(window, position)
            if position < 0:
                return cut(window.size, "the file ends inside this picture (no end-of-image marker)")


def _skip_scan(window: _Window, position: int) -> int:
    """The offset of the marker that ends the entropy-coded data starting at `position`; -1 at the end."""
    while True:
        at = window.find(b"\xff", position)
        if at < 0:
            return -1
        following = window.byte(at + 1)
        if following < 0:
            return -1
        if following == 0x00 or 0xD0 <= following <= 0xD7:  # a stuffed FF, or a restart marker
            position = at + 2
        elif following == 0xFF:  # fill bytes
            position = at + 1
        else:
            return at


def iter_thumbdata(
    container: FileEntry, fileobj: BinaryIO, *, limits: ArchiveLimits, budget: ExtractionBudget
) -> Iterator[FileEntry]:
    with reading("reading the thumbnail cache"):
        file_size = stream_length(fileobj)
    for index, span in enumerate(find_jpegs(fileobj, file_size)):
        problems = []
        if not span.complete:
            problems.append(f"incomplete JPEG: {span.problem}; the partial picture is analysed as found")

        budget.take_member()
        yield picture_member(
            container,
            index,
            f"thumb-{span.start}.jpg",
            size=span.end - span.start,
            source=partial(ByteRange, fileobj, span.start, span.end - span.start),
            limits=limits,
            budget=budget,
            problems=problems,
        )
        stop_if_tripped(budget)
        if not span.complete and span.end >= file_size:
            raise ArchiveReadError(
                f"the thumbnail cache ends inside the picture at byte {span.start:,}: the file is "
                f"truncated. {index + 1} pictures were read, the last one partial"
            )
