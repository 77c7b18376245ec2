"""Tar archives, bare or inside gzip/bzip2/xz, and single files compressed with those (`notes.txt.gz`).

A compressed tar is one solid stream, so members come out strictly in order and the zip-bomb ratio is
judged over the whole stream against the compressed file's size. A plain tar is read with seeks, so a
member nobody reads costs nothing.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import tarfile
from collections.abc import Iterator
from functools import partial
from typing import BinaryIO

from himaya.config import ArchiveLimits
from himaya.sources.archives.guard import (
    Cursor,
    ExtractionBudget,
    MeteredReader,
    RatioScope,
    Readable,
    metered,
    reading,
    refusal,
    stop_if_tripped,
)
from himaya.sources.archives.members import member_entry, not_a_file, stream_length
from himaya.sources.interface import FileEntry
from himaya.sources.timestamps import utc_from_timestamp

COMPRESSORS = ("gzip", "bzip2", "xz")
_SUFFIXES = {"gzip": (".gz", ".gzip", ".z"), "bzip2": (".bz2", ".bz", ".bzip2"), "xz": (".xz", ".lzma")}
# Names that are not UTF-8 keep their bytes as surrogates; `names.safe_member_name` shows them as \x escapes.
_ENCODING, _ERRORS = "utf-8", "surrogateescape"


def iter_tar(
    container: FileEntry, fileobj: BinaryIO, fmt: str, *, limits: ArchiveLimits, budget: ExtractionBudget
) -> Iterator[FileEntry]:
    if fmt == "tar":
        with reading("reading the tar header"):
            archive = tarfile.open(fileobj=fileobj, mode="r:", encoding=_ENCODING, errors=_ERRORS)  # noqa: SIM115
        yield from _members(container, archive, limits, budget, ratio=None)
        return
    compressed_size = stream_length(fileobj)
    if not _holds_tar(fileobj, fmt):
        budget.take_member()
        ratio = RatioScope(compressed_size)
        yield _single_file(container, fileobj, fmt, ratio, limits, budget)
        stop_if_tripped(budget, ratio)
        return
    fileobj.seek(0)
    ratio = RatioScope(compressed_size)
    stream = MeteredReader(_decompressor(fmt, fileobj), limits, budget, ratio)
    with stream:
        with reading(f"reading the tar inside the {fmt} stream"):
            archive = tarfile.open(fileobj=stream, mode="r|", encoding=_ENCODING, errors=_ERRORS)  # noqa: SIM115
        yield from _members(container, archive, limits, budget, ratio=ratio)


def _members(
    container: FileEntry,
    archive: tarfile.TarFile,
    limits: ArchiveLimits,
    budget: ExtractionBudget,
    *,
    ratio: RatioScope | None,
) -> Iterator[FileEntry]:
    """`ratio` is the whole stream's in a compressed tar; its bytes are counted leaving the decompressor."""
    counted_upstream = ratio is not None
    cursor = Cursor()
    with archive:  # opened by the caller inside `reading`, which a `with` statement cannot span
        position = 0
        while True:
            with reading("reading the next tar header"):
                info = archive.next()
            if info is None:
                break
            # tarfile keeps every header it has seen; a million-member tar would hold them all in memory.
            archive.members.clear()  # type: ignore[attr-defined]  # public in tarfile, absent from typeshed
            cursor.position = position
            if not info.isdir():
                budget.take_member()
                yield _entry(container, archive, position, info, cursor, limits, budget, counted_upstream)
                stop_if_tripped(budget, ratio)
            position += 1
        cursor.position = -1


def _entry(
    container: FileEntry,
    archive: tarfile.TarFile,
    position: int,
    info: tarfile.TarInfo,
    cursor: Cursor,
    limits: ArchiveLimits,
    budget: ExtractionBudget,
    counted_upstream: bool,
) -> FileEntry:
    problem: str | None = None
    if info.issym():
        problem = not_a_file(symlink=info.linkname)
    elif info.islnk():
        problem = not_a_file(hardlink=info.linkname)
    elif not info.isreg():
        problem = not_a_file()
    else:
        problem = refusal(info.size, None, budget)

    def opener() -> BinaryIO:
        cursor.require(position)
        with reading("opening the tar member"):
            inner = archive.extractfile(info)
        assert inner is not None  # only regular files get an opener
        # In a compressed tar the bytes were counted as they left the decompressor.
        return metered(
            inner, limits, None if counted_upstream else budget, None, is_current=partial(cursor.at, position)
        )

    return member_entry(
        container,
        position,
        info.name,
        size=info.size if info.isreg() else None,
        compressed_size=None,
        mtime=utc_from_timestamp(info.mtime),
        opener=None if problem else opener,
        problems=[problem] if problem else [],
    )


def _single_file(
    container: FileEntry,
    fileobj: BinaryIO,
    fmt: str,
    ratio: RatioScope,
    limits: ArchiveLimits,
    budget: ExtractionBudget,
) -> FileEntry:
    def opener() -> BinaryIO:
        fileobj.seek(0)
        return metered(_decompressor(fmt, fileobj), limits, budget, ratio)

    name = container.path.rsplit("/", 1)[-1]
    for suffix in _SUFFIXES[fmt]:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return member_entry(
        container, 0, name, size=None, compressed_size=ratio.compressed, mtime=None, opener=opener
    )


def _decompressor(fmt: str, fileobj: BinaryIO) -> Readable:
    # None of these close `fileobj` when they are closed: it belongs to the caller.
    if fmt == "gzip":
        return gzip.GzipFile(fileobj=fileobj, mode="rb")
    if fmt == "bzip2":
        return bz2.BZ2File(fileobj)
    return lzma.LZMAFile(fileobj)


def _holds_tar(fileobj: BinaryIO, fmt: str) -> bool:
    fileobj.seek(0)
    with reading(f"decompressing the {fmt} stream"):
        decompressor = _decompressor(fmt, fileobj)
        try:
            block = decompressor.read(tarfile.BLOCKSIZE)
        finally:
            decompressor.close()
    if len(block) < tarfile.BLOCKSIZE:
        return False
    try:
        tarfile.TarInfo.frombuf(block, _ENCODING, _ERRORS)
    except tarfile.TarError:  # bad checksum, empty or truncated header: not a tar
        return False
    return True
