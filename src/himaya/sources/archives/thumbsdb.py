"""Windows `Thumbs.db` (98 to XP, and Vista/7 on network folders): each thumbnail stream is a member.

A Thumbs.db is an OLE compound file, read with olefile. In the classic (XP) layout:

* the `Catalog` stream: a header (its own size, a version, the entry count, the thumbnail width and
  height) then one record per thumbnail: record size, entry id, the original file's modification time
  (FILETIME) and its name (UTF-16, NUL-terminated);
* one stream per thumbnail, named by its entry id written backwards ("1", "2", ... "01" for id 10,
  "21" for id 12): a small header (its size, a revision, the data size) then the JPEG.

Thumbs.db files written by Vista and 7 on network shares have streams named `<size>_<cache id>`
(`256_a1b2c3d4e5f60718`) and no names; they are read the same way, by finding the picture after the
header.

A member is named after the original file when the Catalog knows it (`Thumbs.db!/holiday.jpg`) and gets
that file's time; when the original's extension does not say what the thumbnail is (a JPEG thumbnail of
`clip.avi` or `scan.png`), the thumbnail's own extension is added (`clip.avi.jpg`), so the member is not
taken for a renamed file. Without a Catalog entry the stream name is used, with the extension
(`1.jpg`, `256_a1b2c3d4e5f60718.jpg`). A stream with no picture signature near its start (the
"type 1" thumbnails of Windows 98/2000 lack their JPEG tables; or a damaged stream) is kept as stored
and flagged.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from typing import Any, BinaryIO

import olefile

from himaya.config import ArchiveLimits
from himaya.sources.archives.guard import (
    ArchiveReadError,
    ExtractionBudget,
    reading,
    refusal,
    stop_if_tripped,
)
from himaya.sources.archives.members import member_entry, stream_length
from himaya.sources.archives.thumbcache import picture_extension, picture_member
from himaya.sources.interface import FileEntry
from himaya.sources.timestamps import utc_from_timestamp

__all__ = ["OLE_SIGNATURE", "is_thumbs_db_name", "iter_thumbsdb", "looks_like_thumbs_db", "stream_name_of"]

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_NAMES = frozenset({"thumbs.db"})
_CATALOG = "catalog"
# The picture normally starts right after the stream's header; failing that it is looked for this far in.
_SEARCH_SPAN = 64
# Reads olefile may make, in multiples of the file's size (and a little more for tiny files).
_READ_FACTOR, _READ_SLACK = 4, 1024 * 1024
_SEARCHABLE = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
_FILETIME_EPOCH = 116_444_736_000_000_000  # 1601-01-01 to 1970-01-01, in 100 ns
_EXTENSIONS = {
    "jpg": frozenset({"jpg", "jpeg", "jpe", "jfif"}),
    "png": frozenset({"png"}),
    "bmp": frozenset({"bmp", "dib"}),
}
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,8})$")


def is_thumbs_db_name(name: str) -> bool:
    return name.lower() in _NAMES


def looks_like_thumbs_db(head: bytes, name: str) -> bool:
    """An OLE compound file named Thumbs.db; other OLE files (.doc, .xls, .msg) are not containers."""
    return head.startswith(OLE_SIGNATURE) and is_thumbs_db_name(name)


def stream_name_of(entry_id: int) -> str:
    """The thumbnail stream of a Catalog entry: its id in decimal, written backwards (12 -> "21")."""
    return str(entry_id)[::-1]


class _Capped(io.RawIOBase):
    """The Thumbs.db as olefile sees it: reads are counted, and stop once they pass a few times the file.

    olefile follows sector chains for as many sectors as a stream declares. A damaged or hostile file
    whose chain loops back on itself would have it read the same sectors over and over, into memory;
    a genuine file is read about once (FAT, directory, mini stream, then each stream).
    """

    def __init__(self, fileobj: BinaryIO, size: int) -> None:
        super().__init__()
        self._fileobj = fileobj
        self._allowed = _READ_FACTOR * size + _READ_SLACK
        self._read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._fileobj.seek(offset, whence)

    def tell(self) -> int:
        return self._fileobj.tell()

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._fileobj.read(len(view))
        self._read += len(data)
        if self._read > self._allowed:
            raise ArchiveReadError(
                f"reading the Thumbs.db took more than {self._allowed:,} bytes out of a file that holds "
                "fewer: its sector chains loop back on themselves; the compound file is damaged"
            )
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:  # the file belongs to the caller
        super().close()


class _Catalog:
    def __init__(self) -> None:
        self.names: dict[str, tuple[str, datetime | None]] = {}  # stream name -> (file name, time)
        self.problem: str | None = None


def iter_thumbsdb(
    container: FileEntry, fileobj: BinaryIO, *, limits: ArchiveLimits, budget: ExtractionBudget
) -> Iterator[FileEntry]:
    with reading("reading the Thumbs.db compound file"):
        file_size = stream_length(fileobj)
        ole = olefile.OleFileIO(_Capped(fileobj, file_size))
    try:
        with reading("reading the Thumbs.db directory"):
            kids = sorted(ole.root.kids, key=lambda kid: kid.sid)
        # olefile reads damaged files leniently and notes what it overlooked; notes from opening the
        # file (header, FAT, directory) are about the Thumbs.db itself, and reported on it at the end.
        structure_issues = _summary(ole.parsing_issues)
        streams = [kid for kid in kids if kid.entry_type == olefile.STGTY_STREAM]
        catalog = _Catalog()
        for kid in streams:
            if kid.name.lower() == _CATALOG:
                catalog = _read_catalog(ole, kid)
                break
        for kid in streams:
            if kid.name.lower() == _CATALOG:
                continue
            budget.take_member()
            yield _entry(container, ole, kid, catalog, file_size, limits, budget)
            stop_if_tripped(budget)
        if structure_issues:
            raise ArchiveReadError(
                f"the Thumbs.db is damaged or truncated ({structure_issues}); its directory was read as far "
                "as possible and some thumbnails may be missing"
            )
    finally:
        ole.close()  # leaves `fileobj` open: it belongs to the caller


def _entry(
    container: FileEntry,
    ole: Any,
    kid: Any,
    catalog: _Catalog,
    file_size: int,
    limits: ArchiveLimits,
    budget: ExtractionBudget,
) -> FileEntry:
    stream_name: str = kid.name
    known = catalog.names.get(stream_name)
    original, mtime = known if known else (None, None)
    problems: list[str] = []
    # A damaged file may declare any size; no more than the file itself can be read out of it.
    declared = min(int(kid.size), file_size)
    refused = refusal(declared, declared, budget)
    if refused:
        return member_entry(
            container,
            kid.sid,
            original or stream_name,
            size=declared,
            compressed_size=declared,
            mtime=mtime,
            opener=None,
            problems=[refused],
        )
    data, issues = _read_stream(ole, kid)
    problems += issues
    if known is None and catalog.problem:
        problems.append(catalog.problem)
    start, extension = _picture_start(data)
    if extension is None:
        problems.append(
            "no JPEG or PNG signature in this Thumbs.db stream (an old 'type 1' thumbnail without its JPEG "
            "tables, or a damaged stream); its bytes are kept as stored"
        )
        name = original or stream_name
    else:
        name = _named(original, extension) if original else f"{stream_name}.{extension}"
    payload = data[start:]
    return picture_member(
        container,
        kid.sid,
        name,
        size=len(payload),
        source=partial(io.BytesIO, payload),
        limits=limits,
        budget=budget,
        mtime=mtime,
        problems=problems,
    )


def _read_stream(ole: Any, kid: Any) -> tuple[bytes, list[str]]:
    """A stream's bytes, and what olefile had to overlook to read them (it reads damaged files leniently)."""
    issues_before = len(ole.parsing_issues)
    # By directory entry, not by name: a hostile file may hold two streams of the same name.
    with reading(f"reading the Thumbs.db stream {kid.name!r}"), ole._open(kid.isectStart, kid.size) as stream:
        data: bytes = stream.read()
    found = _summary(ole.parsing_issues[issues_before:])
    return data, [f"Thumbs.db stream is damaged ({found}); read as far as possible"] if found else []


def _summary(issues: list[tuple[type, str]]) -> str:
    """olefile's notes, each once with how often it came: "incomplete OLE sector (x12), ..."."""
    counts: dict[str, int] = {}
    for _kind, message in issues:
        counts[message] = counts.get(message, 0) + 1
    return ", ".join(message if n == 1 else f"{message} (x{n})" for message, n in counts.items())


def _picture_start(data: bytes) -> tuple[int, str | None]:
    """Where the picture starts in a thumbnail stream, and its extension (None when none is found)."""
    if len(data) >= 4:
        header_size = struct.unpack_from("<I", data, 0)[0]
        if 4 <= header_size < len(data):
            extension = picture_extension(data[header_size : header_size + 8])
            if extension is not None:
                return header_size, extension
    for signature in _SEARCHABLE:
        at = data.find(signature, 0, _SEARCH_SPAN + len(signature))
        if at >= 0:
            return at, picture_extension(signature)
    return 0, None


def _named(original: str, extension: str) -> str:
    match = _EXTENSION.search(original)
    if match and match.group(1).lower() in _EXTENSIONS[extension]:
        return original
    return f"{original}.{extension}"


def _read_catalog(ole: Any, kid: Any) -> _Catalog:
    catalog = _Catalog()
    try:
        data, _issues = _read_stream(ole, kid)
    except ArchiveReadError as exc:
        catalog.problem = f"the Thumbs.db Catalog could not be read ({exc}); original names unknown"
        return catalog
    if len(data) < 16:
        catalog.problem = "the Thumbs.db Catalog is too short to hold its header; original names unknown"
        return catalog
    position = struct.unpack_from("<H", data, 0)[0]
    if position < 16:
        position = 16
    read = 0
    while position + 16 <= len(data):
        size, entry_id, filetime = struct.unpack_from("<IIQ", data, position)
        if size == 0:
            break  # unused space after the last record
        if size < 16 or position + size > len(data):
            catalog.problem = (
                f"the Thumbs.db Catalog is damaged after {read} records (a record at byte {position:,} "
                "does not fit); this thumbnail's original name is unknown"
            )
            break
        raw = data[position + 16 : position + size]
        name = raw[: len(raw) - len(raw) % 2].decode("utf-16-le", "surrogatepass").split("\x00", 1)[0]
        catalog.names[stream_name_of(entry_id)] = (name, _filetime(filetime))
        read += 1
        position += size
    return catalog


def _filetime(value: int) -> datetime | None:
    if value == 0:
        return None
    return utc_from_timestamp((value - _FILETIME_EPOCH) / 10_000_000)
