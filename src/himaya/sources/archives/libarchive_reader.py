"""7z and RAR members through libarchive, which decompresses block by block instead of whole members.

libarchive records no compressed size per member for these formats (7z is usually solid), so the ratio
limit is judged over everything read from the archive against the archive's own size. It reads RAR 4
and RAR 5 where the system's libarchive was built with them, but decrypts neither RAR nor 7z; encrypted
7z goes to `sevenzip_reader` instead.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import ExitStack
from functools import partial
from typing import Any, BinaryIO

import libarchive
from libarchive import ffi

from himaya.config import ArchiveLimits
from himaya.sources.archives.guard import (
    DAMAGED,
    READ_SIZE,
    Cursor,
    ExtractionBudget,
    RatioScope,
    metered,
    reading,
    refusal,
    stop_if_tripped,
)
from himaya.sources.archives.members import member_entry, not_a_file, stream_length
from himaya.sources.interface import FileEntry
from himaya.sources.names import UNNAMED
from himaya.sources.timestamps import utc_from_timestamp

_RAR5_MAGIC = b"Rar!\x1a\x07\x01\x00"
_LABELS = {"7z": "7z", "rar": "RAR"}
_LIKELY_CAUSES = {
    "7z": DAMAGED,
    "rar": (
        "the archive is damaged, or uses a RAR feature this system's libarchive cannot read (RAR 5 needs "
        "libarchive 3.4 or later; encrypted RAR is never read)"
    ),
}


def iter_libarchive(
    container: FileEntry, fileobj: BinaryIO, fmt: str, *, limits: ArchiveLimits, budget: ExtractionBudget
) -> Iterator[FileEntry]:
    label = _LABELS[fmt]
    ratio = RatioScope(stream_length(fileobj))
    format_name = "7zip" if fmt == "7z" else _rar_format(fileobj)
    cursor = Cursor()
    with ExitStack() as stack:
        with reading(f"opening the {label} archive", _LIKELY_CAUSES[fmt]):
            archive = stack.enter_context(
                libarchive.stream_reader(fileobj, format_name=format_name, block_size=READ_SIZE)
            )
        entries = iter(archive)
        position = 0
        while True:
            with reading(f"reading the next {label} header", _LIKELY_CAUSES[fmt]):
                entry = next(entries, None)
            if entry is None:
                break
            cursor.position = position
            if not entry.isdir:
                budget.take_member()
                yield _member(container, entry, position, label, cursor, ratio, limits, budget)
                # A tripped limit ends the archive here: skipping the rest would decompress it all anyway.
                stop_if_tripped(budget, ratio)
            position += 1
        cursor.position = -1


def _member(
    container: FileEntry,
    entry: Any,
    position: int,
    label: str,
    cursor: Cursor,
    ratio: RatioScope,
    limits: ArchiveLimits,
    budget: ExtractionBudget,
) -> FileEntry:
    problem: str | None = None
    if entry.issym:
        problem = not_a_file(symlink=entry.linkpath or "")
    elif entry.islnk:
        problem = not_a_file(hardlink=entry.linkpath or "")
    elif not entry.isreg:
        problem = not_a_file()
    elif _is_encrypted(entry):
        problem = (
            f"encrypted {label} member; this system's libarchive cannot decrypt {label}, content not read"
        )
    else:
        problem = refusal(entry.size, None, budget)

    def opener() -> BinaryIO:
        cursor.require(position)
        blocks = _Blocks(entry.get_blocks(READ_SIZE))
        return metered(blocks, limits, budget, ratio, is_current=partial(cursor.at, position))

    return member_entry(
        container,
        position,
        entry.pathname if entry.pathname is not None else UNNAMED,
        size=entry.size,
        compressed_size=None,
        mtime=utc_from_timestamp(entry.mtime),
        opener=None if problem else opener,
        problems=[problem] if problem else [],
    )


class _Blocks:
    """A `read(n)` view of libarchive's block iterator, which hands out blocks of its own sizes."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks = blocks
        self._pending = b""

    def read(self, size: int, /) -> bytes:
        while not self._pending:
            block = next(self._blocks, None)
            if block is None:
                return b""
            self._pending = block
        piece, self._pending = self._pending[:size], self._pending[size:]
        return piece

    def close(self) -> None:
        self._pending = b""


def _is_encrypted(entry: Any) -> bool:
    # libarchive-c does not wrap archive_entry_is_data_encrypted (libarchive >= 3.2); ask the C library
    # directly so an encrypted member gets a clear reason instead of a decompression error.
    function = getattr(ffi.libarchive, "archive_entry_is_data_encrypted", None)
    if function is None:
        return False
    function.argtypes = [ctypes.c_void_p]
    function.restype = ctypes.c_int
    return bool(function(entry._entry_p))


def _rar_format(fileobj: BinaryIO) -> str:
    fileobj.seek(0)
    head = fileobj.read(len(_RAR5_MAGIC))
    fileobj.seek(0)
    return "rar5" if head == _RAR5_MAGIC else "rar"
