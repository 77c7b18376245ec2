"""Zip members, read with pyzipper: it opens classic ZipCrypto and WinZip AES members alike.

Office documents, APKs and JARs are zips too; their embedded pictures are members like any other.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, BinaryIO

import pyzipper

from himaya.config import ArchiveLimits
from himaya.sources.archives.guard import (
    ExtractionBudget,
    RatioScope,
    metered,
    reading,
    refusal,
    stop_if_tripped,
)
from himaya.sources.archives.members import member_entry
from himaya.sources.interface import FileEntry
from himaya.sources.timestamps import utc_from_timestamp

_ENCRYPTED = 0x1
_UTF8_NAME = 0x800
_EXTENDED_TIMESTAMP = 0x5455

_READABLE_METHODS = frozenset({0, 8, 12, 14})  # stored, deflate, bzip2, lzma
_METHOD_NAMES = {
    1: "Shrink",
    6: "Implode",
    9: "Deflate64",
    10: "PKWARE DCL Implode",
    93: "Zstandard",
    95: "XZ",
    98: "PPMd",
}


def iter_zip(
    container: FileEntry,
    fileobj: BinaryIO,
    *,
    limits: ArchiveLimits,
    passwords: Sequence[str],
    budget: ExtractionBudget,
) -> Iterator[FileEntry]:
    with reading("reading the zip directory"):
        archive = _open_zip(fileobj)
    with archive:
        keys = _Passwords(passwords)
        for index, info in enumerate(archive.infolist()):
            if info.is_dir():
                continue
            budget.take_member()
            yield _entry(container, archive, index, info, keys, limits, budget)
            stop_if_tripped(budget)  # a member's own ratio is its own affair; the shared budget is not


def _open_zip(fileobj: BinaryIO) -> Any:
    try:
        return pyzipper.AESZipFile(fileobj)
    except UnicodeDecodeError:
        # A zipper set the UTF-8 flag on a name that is not UTF-8, and zipfile refuses the whole
        # directory for it. Read it again with that flag cleared (in memory only), so the name is read
        # as CP437, the zip default, and only that member is flagged.
        fileobj.seek(0)
        patches = _lying_utf8_flags(fileobj)
        archive = pyzipper.AESZipFile(_FlagPatchedZip(fileobj, patches))
        archive.himaya_lying_names = frozenset(patches)  # local-header flag offsets: header_offset + 6
        return archive


_EOCD = b"PK\x05\x06"
_CENTRAL = b"PK\x01\x02"


def _lying_utf8_flags(fileobj: BinaryIO) -> dict[int, bytes]:
    """Offsets of the flag fields (central and local headers) of names flagged UTF-8 that are not."""
    fileobj.seek(0, 2)
    end = fileobj.tell()
    tail_start = max(0, end - 65_557)  # the end record plus the longest possible comment
    fileobj.seek(tail_start)
    tail = fileobj.read()
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) < at + 22:
        return {}
    _, _, _, _, count, size, offset = struct.unpack("<4sHHHHII", tail[at : at + 20])
    fileobj.seek(offset)
    directory = fileobj.read(size)
    patches: dict[int, bytes] = {}
    position = 0
    for _ in range(count):
        if directory[position : position + 4] != _CENTRAL:
            break
        flags = struct.unpack_from("<H", directory, position + 8)[0]
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", directory, position + 28)
        local = struct.unpack_from("<I", directory, position + 42)[0]
        name = directory[position + 46 : position + 46 + name_len]
        if flags & _UTF8_NAME:
            try:
                name.decode("utf-8")
            except UnicodeDecodeError:
                cleared = struct.pack("<H", flags & ~_UTF8_NAME)
                patches[offset + position + 8] = cleared
                fileobj.seek(local + 6)
                local_flags = struct.unpack("<H", fileobj.read(2))[0]
                patches[local + 6] = struct.pack("<H", local_flags & ~_UTF8_NAME)
        position += 46 + name_len + extra_len + comment_len
    return patches


class _FlagPatchedZip(io.RawIOBase):
    """A read-only view of a zip with a few two-byte fields replaced; the evidence is never modified."""

    def __init__(self, fileobj: BinaryIO, patches: dict[int, bytes]) -> None:
        super().__init__()
        self._fileobj = fileobj
        self._patches = patches

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._fileobj.seek(offset, whence)

    def tell(self) -> int:
        return self._fileobj.tell()

    def read(self, size: int | None = -1) -> bytes:
        start = self._fileobj.tell()
        data = self._fileobj.read(-1 if size is None else size)
        if not any(start <= at < start + len(data) for at in self._patches):
            return data
        patched = bytearray(data)
        for at, value in self._patches.items():
            for n, byte in enumerate(value):
                if start <= at + n < start + len(data):
                    patched[at + n - start] = byte
        return bytes(patched)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _entry(
    container: FileEntry,
    archive: Any,
    index: int,
    info: Any,
    keys: _Passwords,
    limits: ArchiveLimits,
    budget: ExtractionBudget,
) -> FileEntry:
    problem = refusal(info.file_size, info.compress_size, budget)
    password: bytes | None = None
    if problem is None and info.compress_type not in _READABLE_METHODS:
        method = _METHOD_NAMES.get(info.compress_type, "an unknown method")
        problem = (
            f"compressed with {method} (zip method {info.compress_type}), which Himaya cannot decompress; "
            "content not read"
        )
    if problem is None and info.flag_bits & _ENCRYPTED:
        password = keys.find(archive, info)
        if password is None:
            problem = keys.refusal()
    opener = None if problem else partial(_open, archive, info, password, limits, budget)
    return member_entry(
        container,
        index,
        _stored_name(info, lying=info.header_offset + 6 in getattr(archive, "himaya_lying_names", ())),
        size=info.file_size,
        compressed_size=info.compress_size,
        mtime=_mtime(info),
        opener=opener,
        problems=[problem] if problem else [],
    )


def _open(
    archive: Any, info: Any, password: bytes | None, limits: ArchiveLimits, budget: ExtractionBudget
) -> BinaryIO:
    with reading("opening the zip member"):
        inner = archive.open(info, pwd=password)
    return metered(inner, limits, budget, RatioScope(info.compress_size))


class _Passwords:
    """Tries the examiner's passwords on each encrypted member; the one that worked last is tried first."""

    def __init__(self, passwords: Sequence[str]) -> None:
        self._candidates = [p.encode("utf-8") for p in passwords]
        self._last_good: bytes | None = None

    def find(self, archive: Any, info: Any) -> bytes | None:
        order = [self._last_good] if self._last_good is not None else []
        order += [c for c in self._candidates if c != self._last_good]
        for candidate in order:
            try:
                # Opening checks the password verifier (AES) or check byte (ZipCrypto); nothing is read.
                archive.open(info, pwd=candidate).close()
            except RuntimeError:  # pyzipper's "Bad password for file"
                continue
            except Exception:  # a damaged local header: let the real open report it
                return candidate
            self._last_good = candidate
            return candidate
        return None

    def refusal(self) -> str:
        count = len(self._candidates)
        if count == 0:
            tried = "no password was given"
        elif count == 1:
            tried = "the given password did not open it"
        else:
            tried = f"none of {count} given passwords opened it"
        return f"encrypted zip member; supply the password with --password-file or --password ({tried})"


def _stored_name(info: Any, *, lying: bool = False) -> str:
    name: str = info.orig_filename  # keeps a NUL that `filename` cuts off: the name as stored
    if lying:
        # Flagged UTF-8 but not: keep the bad bytes, so the name is shown escaped and flagged invalid.
        return name.encode("cp437").decode("utf-8", "surrogateescape")
    if info.flag_bits & _UTF8_NAME:
        return name
    # Without the UTF-8 flag zipfile decodes as cp437, the spec's default. macOS and many Linux tools
    # write UTF-8 without setting the flag, so UTF-8 wins when the stored bytes are valid UTF-8.
    try:
        return name.encode("cp437").decode("utf-8")
    except UnicodeError:
        return name


def _mtime(info: Any) -> datetime | None:
    unix = _extended_timestamp(info.extra)
    if unix is not None:
        return utc_from_timestamp(unix)
    # A DOS time has no zone: it is the wall clock of the machine that wrote the zip. It is reported
    # as if it were UTC, which is all the zip says; the examiner must not read a zone into it.
    try:
        return datetime(*info.date_time[:6]).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _extended_timestamp(extra: bytes) -> int | None:
    """The UTC modification time from the Info-ZIP extended-timestamp field, when the writer added one."""
    position = 0
    while position + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, position)
        body = extra[position + 4 : position + 4 + length]
        if tag == _EXTENDED_TIMESTAMP and len(body) >= 5 and body[0] & 1:
            value: int = struct.unpack_from("<i", body, 1)[0]
            return value
        position += 4 + length
    return None
