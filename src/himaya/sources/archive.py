"""Archives as evidence sources: zip, 7z, RAR, tar and gzip/bzip2/xz, read without extracting anything.

Thumbnail caches are containers too: Windows `thumbcache_*.db` and `Thumbs.db`, and Android
`.thumbdata*` files. They often hold the only copy left of a deleted picture, so each cached picture is a
member (`thumbcache_256.db!/7c9f0a3be2d4c1e1.jpg`), hashed and matched like any other.

Members are streamed, never written out as files. The pipeline hands in a seekable `fileobj`: the file
on disk for a top-level archive, an `EncryptedSpool` for an archive inside an archive. Every member's
stream counts its bytes against `ArchiveLimits`; see `himaya.sources.archives.guard` for the defences.

Errors: a member that cannot be read carries `error` (and `open=None` when there is nothing to read).
An archive that cannot be read any further makes the iterator raise an `EvidenceError` (`ArchiveReadError`
or `ArchiveBombError`) for the pipeline to record on the container; members yielded before stay valid.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from himaya.config import ArchiveLimits
from himaya.sources.archives.guard import ArchiveBombError, ArchiveReadError, ExtractionBudget
from himaya.sources.archives.libarchive_reader import iter_libarchive
from himaya.sources.archives.sevenzip_reader import iter_encrypted_7z, needs_password
from himaya.sources.archives.tar_reader import COMPRESSORS, iter_tar
from himaya.sources.archives.thumbcache import iter_thumbcache, looks_like_thumbcache
from himaya.sources.archives.thumbdata import iter_thumbdata, looks_like_thumbdata
from himaya.sources.archives.thumbsdb import iter_thumbsdb, looks_like_thumbs_db
from himaya.sources.archives.zip_reader import iter_zip
from himaya.sources.interface import FileEntry

__all__ = [
    "FORMATS",
    "THUMBNAIL_CACHES",
    "ArchiveBombError",
    "ArchiveReadError",
    "ExtractionBudget",
    "detect_archive",
    "iter_members",
]

FORMATS = ("zip", "7z", "rar", "tar", "gzip", "bzip2", "xz", "thumbcache", "thumbsdb", "thumbdata")
# Thumbnail caches: read by Himaya's own readers, never by a decompressor.
THUMBNAIL_CACHES = ("thumbcache", "thumbsdb", "thumbdata")

_MAGIC = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty zip: only the end-of-directory record
    (b"PK\x07\x08", "zip"),  # first piece of a split zip, or a spanned single-part one
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07\x00", "rar"),
    (b"Rar!\x1a\x07\x01\x00", "rar"),
    (b"\x1f\x8b\x08", "gzip"),  # deflate is the only method gzip defines
    (b"\xfd7zXZ\x00", "xz"),
)
# "BZh" + block size digit, then a block or end-of-stream magic: plain text starting "BZh5" is not bzip2.
_BZIP2_BLOCK = (b"1AY&SY", b"\x17rE8P\x90")
_TAR_MAGIC_OFFSET = 257


def detect_archive(head: bytes, name: str) -> str | None:
    """The archive format of a file from its first bytes, or None.

    `head` should hold at least 512 bytes (a tar header); the others need a few. gzip, bzip2 and xz may
    wrap a tar or a single file, which `iter_members` finds out. `name` (a file name or a whole path,
    the last segment counts) helps with old tars that predate the "ustar" magic, recognised by a valid
    header checksum and a `.tar` name, and tells thumbnail caches from look-alikes: an OLE file is a
    container only when it is named Thumbs.db (a .doc is not), and Android caches are `.thumbdata*`
    files whose first bytes hold a JPEG (or only empty slots).
    """
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            return fmt
    base = _base_name(name)
    if looks_like_thumbcache(head):
        return "thumbcache"
    if looks_like_thumbs_db(head, base):
        return "thumbsdb"
    if looks_like_thumbdata(head, base):
        return "thumbdata"
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] in _BZIP2_BLOCK:
        return "bzip2"
    if head[_TAR_MAGIC_OFFSET : _TAR_MAGIC_OFFSET + 5] == b"ustar":
        return "tar"
    if name.lower().endswith(".tar") and _is_tar_header(head[: tarfile.BLOCKSIZE]):
        return "tar"
    return None


def _base_name(name: str) -> str:
    """The last segment of a path, member paths (`a.zip!/b/Thumbs.db`) and Windows separators included."""
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def _is_tar_header(block: bytes) -> bool:
    if len(block) < tarfile.BLOCKSIZE:
        return False
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.TarError:
        return False
    return True


def iter_members(
    container: FileEntry,
    fileobj: BinaryIO,
    fmt: str,
    *,
    limits: ArchiveLimits,
    passwords: Sequence[str],
    budget: ExtractionBudget,
) -> Iterator[FileEntry]:
    """The files inside `container` (directories are not yielded), one layer down.

    `fileobj` must be seekable and stay open while iterating. `budget` is shared by every layer of one
    top-level archive. A member's `open()` gives a stream that is valid until the iterator advances, and
    in streamed formats (compressed tar, 7z, RAR) it can be opened once.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown archive format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if container.depth >= limits.max_depth:
        raise ArchiveBombError(
            f"archive nested {container.depth} levels deep, the limit is {limits.max_depth}; its members "
            "were not read. If this is genuine evidence, raise it with --max-depth and re-run the scan"
        )
    if fmt == "zip":
        yield from iter_zip(container, fileobj, limits=limits, passwords=passwords, budget=budget)
    elif fmt == "tar" or fmt in COMPRESSORS:
        yield from iter_tar(container, fileobj, fmt, limits=limits, budget=budget)
    elif fmt == "thumbcache":
        yield from iter_thumbcache(container, fileobj, limits=limits, budget=budget)
    elif fmt == "thumbsdb":
        yield from iter_thumbsdb(container, fileobj, limits=limits, budget=budget)
    elif fmt == "thumbdata":
        yield from iter_thumbdata(container, fileobj, limits=limits, budget=budget)
    elif fmt == "7z" and needs_password(fileobj):
        yield from iter_encrypted_7z(container, fileobj, limits=limits, passwords=passwords, budget=budget)
    else:
        yield from iter_libarchive(container, fileobj, fmt, limits=limits, budget=budget)
