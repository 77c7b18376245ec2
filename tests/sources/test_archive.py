"""Archives as evidence: real zip/7z/RAR/tar files built here, hostile ones included.

Every archive is generated in the test from benign synthetic content (pictures from
`tests.builders.images`, text, zeros). RAR has no writer on a normal system, so `rar4` below writes the
simplest real RAR 4 file by hand (stored members), which is what libarchive reads.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random
import struct
import tarfile
import threading
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import BinaryIO

import libarchive
import py7zr
import pytest

from himaya.config import ArchiveLimits
from himaya.errors import EvidenceError
from himaya.security.spool import spool_stream
from himaya.sources.archive import (
    ArchiveBombError,
    ArchiveReadError,
    ExtractionBudget,
    detect_archive,
    iter_members,
)
from himaya.sources.interface import FileEntry
from tests.builders.evidence import aes_zip
from tests.builders.images import photo_jpeg

LIMITS = ArchiveLimits()
# Small enough that a bomb trips within a few megabytes, so the tests stay fast.
BOMB_LIMITS = ArchiveLimits(ratio_min_size=1 << 20, max_ratio=50)
ZEROS = bytes(8 << 20)
JPEG_A = photo_jpeg(11, 64, 48)
JPEG_B = photo_jpeg(12, 64, 48)
WHEN = datetime(2021, 6, 5, 4, 3, 2, tzinfo=UTC)

# -- builders ----------------------------------------------------------------------------------------


def zip_of(members: Sequence[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, date_time=WHEN.timetuple()[:6]), data, method)
    return out.getvalue()


def zipcrypto_zip_of(members: Sequence[tuple[str, bytes]], password: str) -> bytes:
    """Classic PKWARE encryption, which only libarchive (of what is installed) can write."""
    out = io.BytesIO()
    with libarchive.custom_writer(
        out.write, "zip", options="encryption=zipcrypt", passphrase=password
    ) as archive:
        for name, data in members:
            archive.add_file_from_memory(name, len(data), data)
    return out.getvalue()


def tar_of(members: Sequence[tuple[str | tarfile.TarInfo, bytes]], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode, encoding="utf-8", errors="surrogateescape") as archive:
        for name, data in members:
            info = name if isinstance(name, tarfile.TarInfo) else tarfile.TarInfo(name)
            if info.isreg():
                info.size = len(data)
                info.mtime = int(WHEN.timestamp())
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out.getvalue()


def sevenzip_of(
    members: Sequence[tuple[str, bytes]], password: str | None = None, header_encryption: bool = False
) -> bytes:
    out = io.BytesIO()
    with py7zr.SevenZipFile(out, "w", password=password, header_encryption=header_encryption) as archive:
        for name, data in members:
            archive.writestr(data, name)
    return out.getvalue()


def rar4_of(members: Sequence[tuple[str, bytes]]) -> bytes:
    """A RAR 4 archive with stored (uncompressed) members, block by block as the format defines it."""

    def block(kind: int, flags: int, body: bytes) -> bytes:
        rest = struct.pack("<BHH", kind, flags, 7 + len(body)) + body
        return struct.pack("<H", zlib.crc32(rest) & 0xFFFF) + rest

    out = b"Rar!\x1a\x07\x00" + block(0x73, 0, bytes(6))  # marker, archive header
    # Host OS 3 (Unix): the attributes are a Unix mode. Method 0x30: stored.
    dos_time = (2021 - 1980) << 25 | 6 << 21 | 5 << 16 | 4 << 11 | 3 << 5 | 1
    for name, data in members:
        encoded = name.encode()
        header = struct.pack(
            "<IIBIIBBHI",
            len(data),
            len(data),
            3,
            zlib.crc32(data),
            dos_time,
            20,
            0x30,
            len(encoded),
            0o100644,
        )
        out += block(0x74, 0x8000, header + encoded) + data  # 0x8000: data follows the header
    return out + block(0x7B, 0x4000, b"")  # end of archive


def same_length_patch(data: bytes, old: bytes, new: bytes) -> bytes:
    """Rewrite a stored name (or field) in place, in the local header and the central directory alike."""
    assert len(old) == len(new) and old in data
    return data.replace(old, new)


# -- helpers -----------------------------------------------------------------------------------------


def container(name: str, depth: int = 0) -> FileEntry:
    return FileEntry(locator=name, path=name, size=None, mtime=None, depth=depth, open=None)


def members(
    data: bytes,
    name: str,
    *,
    limits: ArchiveLimits = LIMITS,
    passwords: Sequence[str] = (),
    budget: ExtractionBudget | None = None,
) -> Iterator[FileEntry]:
    fmt = detect_archive(data[:8192], name)
    assert fmt is not None, f"{name} not recognised"
    return iter_members(
        container(name),
        io.BytesIO(data),
        fmt,
        limits=limits,
        passwords=passwords,
        budget=budget or ExtractionBudget(limits),
    )


def read_all(data: bytes, name: str, **options: object) -> list[tuple[FileEntry, bytes | None]]:
    """Each member with its content, read while the archive sits on it (as the pipeline does)."""
    found = []
    for entry in members(data, name, **options):  # type: ignore[arg-type]
        content = None
        if entry.open is not None:
            with entry.open() as stream:
                content = stream.read()
        found.append((entry, content))
    return found


def contents(data: bytes, name: str, **options: object) -> dict[str, bytes | None]:
    return {entry.locator: content for entry, content in read_all(data, name, **options)}


# -- detection ---------------------------------------------------------------------------------------


def v7_tar_header() -> bytes:
    """A tar header from before POSIX: no "ustar" magic, only a valid checksum."""
    block = bytearray(tarfile.TarInfo("old.txt").tobuf(tarfile.USTAR_FORMAT)[:512])
    block[257:265] = bytes(8)
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (zip_of([("a", b"a")]), "x.zip", "zip"),
        (zip_of([]), "empty.zip", "zip"),
        (sevenzip_of([("a", b"a")]), "x.7z", "7z"),
        (rar4_of([("a", b"a")]), "x.rar", "rar"),
        (b"Rar!\x1a\x07\x01\x00" + bytes(20), "x.rar", "rar"),
        (gzip.compress(b"a"), "x.gz", "gzip"),
        (bz2.compress(b"a"), "x.bz2", "bzip2"),
        (bz2.compress(b""), "x.bz2", "bzip2"),
        (lzma.compress(b"a"), "x.xz", "xz"),
        (tar_of([("a", b"a")]), "x.bin", "tar"),
        (v7_tar_header() + bytes(1024), "old.tar", "tar"),
        (v7_tar_header() + bytes(1024), "old.bin", None),
        (JPEG_A, "a.jpg", None),
        (b"BZh5 is how this note starts", "note.txt", None),
        (b"", "empty", None),
    ],
    # Ids from the names only: compressed bytes (gzip stores a time) differ between xdist workers.
    ids=lambda value: value if isinstance(value, str) else "-" if isinstance(value, bytes) else str(value),
)
def test_detect_archive(data: bytes, name: str, expected: str | None) -> None:
    assert detect_archive(data[:8192], name) == expected


# -- zip ---------------------------------------------------------------------------------------------


def test_zip_members_are_streamed_with_provenance_and_metadata() -> None:
    data = zip_of([("DCIM/", b""), ("DCIM/a.jpg", JPEG_A), ("notes/b.txt", b"hello" * 100)])
    found = read_all(data, "phone.zip")
    assert [(e.locator, e.path, c) for e, c in found] == [
        ("phone.zip!#1/DCIM/a.jpg", "phone.zip!/DCIM/a.jpg", JPEG_A),  # the folder (#0) is not a member
        ("phone.zip!#2/notes/b.txt", "phone.zip!/notes/b.txt", b"hello" * 100),
    ]
    entry = found[1][0]
    assert entry.depth == 1 and entry.error is None and entry.disk_path is None
    assert entry.size == 500 and entry.compressed_size is not None and entry.compressed_size < 500
    assert entry.mtime == WHEN


def test_duplicate_member_names_stay_distinct() -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = zip_of([("DCIM/a.jpg", JPEG_A), ("DCIM/a.jpg", JPEG_B)])
    found = read_all(data, "dup.zip")
    assert [(e.locator, e.path, c) for e, c in found] == [
        ("dup.zip!#0/DCIM/a.jpg", "dup.zip!/DCIM/a.jpg", JPEG_A),
        ("dup.zip!#1/DCIM/a.jpg", "dup.zip!/DCIM/a.jpg", JPEG_B),
    ]


def test_hostile_zip_names_are_shown_safely_and_still_read() -> None:
    data = zip_of(
        [
            ("../../etc/x", b"up"),
            ("/abs/y", b"root"),
            ("..\\..\\windows\\z", b"win"),
            ("a/../../b", b"sneaky"),
            ("a/../b", b"harmless"),
            ("nulXname.jpg", b"nul"),
            ("photo\u202egpj.exe", b"rlo"),
        ]
    )
    data = same_length_patch(data, b"nulXname.jpg", b"nul\x00name.jpg")
    found = {e.path: (e.error, c) for e, c in read_all(data, "h.zip")}
    assert found == {
        "h.zip!/../../etc/x": (
            "member name escapes the archive ('../../etc/x'); content analysed, name shown as stored",
            b"up",
        ),
        "h.zip!/abs/y": (
            "member name is absolute ('/abs/y'); content analysed, shown without the leading '/'",
            b"root",
        ),
        "h.zip!/..\\\\..\\\\windows\\\\z": (
            "member name escapes the archive ('..\\\\..\\\\windows\\\\z'); "
            "content analysed, name shown as stored",
            b"win",
        ),
        "h.zip!/a/../../b": (
            "member name escapes the archive ('a/../../b'); content analysed, name shown as stored",
            b"sneaky",
        ),
        "h.zip!/a/../b": (None, b"harmless"),
        "h.zip!/nul\\x00name.jpg": (
            "member name contains control or text-direction characters; shown with escapes",
            b"nul",
        ),
        "h.zip!/photo\\u202egpj.exe": (
            "member name contains control or text-direction characters; shown with escapes",
            b"rlo",
        ),
    }


def test_zip_names_without_the_utf8_flag() -> None:
    data = zip_of([("cafeX.jpg", b"utf8"), ("menu-X.txt", b"cp437")])
    data = same_length_patch(data, b"cafeX.jpg", "café.jpg".encode())  # macOS writes UTF-8, no flag
    data = same_length_patch(data, b"menu-X.txt", b"menu-\x82.txt")  # DOS tools write cp437
    assert [e.path for e, _ in read_all(data, "n.zip")] == ["n.zip!/café.jpg", "n.zip!/menu-é.txt"]


@pytest.mark.parametrize("build", [aes_zip, zipcrypto_zip_of], ids=["winzip-aes", "zipcrypto"])
def test_encrypted_zip_opens_with_the_right_password(build: object) -> None:
    data = build([("DCIM/a.jpg", JPEG_A), ("b.txt", b"second")], "s3cret")  # type: ignore[operator]
    found = contents(data, "enc.zip", passwords=["wrong", "s3cret"])
    assert found == {"enc.zip!#0/DCIM/a.jpg": JPEG_A, "enc.zip!#1/b.txt": b"second"}


@pytest.mark.parametrize(
    ("passwords", "reason"),
    [
        ((), "no password was given"),
        (("nope",), "the given password did not open it"),
        (("nope", "also-wrong"), "none of 2 given passwords opened it"),
    ],
)
def test_encrypted_zip_without_its_password_is_listed_with_the_reason(
    passwords: tuple[str, ...], reason: str
) -> None:
    data = aes_zip([("DCIM/a.jpg", JPEG_A)], "s3cret")
    [(entry, content)] = read_all(data, "enc.zip", passwords=passwords)
    assert entry.open is None and content is None
    assert (
        entry.error
        == f"encrypted zip member; supply the password with --password-file or --password ({reason})"
    )
    assert entry.size == len(JPEG_A)


def test_zip_member_with_an_unsupported_method_is_listed_not_read() -> None:
    data = zip_of([("a.bin", b"stored bytes")], zipfile.ZIP_STORED)
    local, central = data.index(b"PK\x03\x04"), data.index(b"PK\x01\x02")
    patched = bytearray(data)
    struct.pack_into("<H", patched, local + 8, 9)  # Deflate64, as Windows Explorer writes for big files
    struct.pack_into("<H", patched, central + 10, 9)
    [(entry, _)] = read_all(bytes(patched), "big.zip")
    assert entry.open is None
    assert entry.error == (
        "compressed with Deflate64 (zip method 9), which Himaya cannot decompress; content not read"
    )


def test_damaged_zip_member_fails_alone() -> None:
    data = zip_of([("one.txt", b"one" * 1000), ("two.bin", JPEG_A), ("three.txt", b"three" * 1000)])
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("two.bin")
    start = info.header_offset + 30 + len("two.bin") + 10
    damaged = data[:start] + bytes(b ^ 0xFF for b in data[start : start + 200]) + data[start + 200 :]
    outcome = {}
    for entry in members(damaged, "d.zip"):
        assert entry.open is not None
        try:
            with entry.open() as stream:
                outcome[entry.path] = len(stream.read())
        except EvidenceError as exc:
            assert isinstance(exc, ArchiveReadError)
            outcome[entry.path] = str(exc)
    assert outcome["d.zip!/one.txt"] == 3000
    assert outcome["d.zip!/three.txt"] == 5000
    assert "damaged" in str(outcome["d.zip!/two.bin"])


def test_truncated_zip_is_an_archive_error() -> None:
    data = zip_of([("a.jpg", JPEG_A)])
    with pytest.raises(ArchiveReadError, match="reading the zip directory failed"):
        list(members(data[: len(data) // 2], "cut.zip"))


# -- tar and compressed single files -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "name"), [("w", "x.tar"), ("w:gz", "x.tgz"), ("w:bz2", "x.tbz"), ("w:xz", "x.txz")]
)
def test_tar_in_every_wrapper(mode: str, name: str) -> None:
    link = tarfile.TarInfo("latest.jpg")
    link.type, link.linkname = tarfile.SYMTYPE, "DCIM/a.jpg"
    hard = tarfile.TarInfo("copy.jpg")
    hard.type, hard.linkname = tarfile.LNKTYPE, "DCIM/a.jpg"
    folder = tarfile.TarInfo("DCIM")
    folder.type = tarfile.DIRTYPE
    data = tar_of([(folder, b""), ("DCIM/a.jpg", JPEG_A), (link, b""), (hard, b""), ("b.txt", b"bee")], mode)
    found = read_all(data, name)
    assert [(e.locator, e.error, c) for e, c in found] == [
        (f"{name}!#1/DCIM/a.jpg", None, JPEG_A),
        (f"{name}!#2/latest.jpg", "symbolic link to 'DCIM/a.jpg' stored in the archive; not followed", None),
        (
            f"{name}!#3/copy.jpg",
            "hard link to 'DCIM/a.jpg'; its content is read under that member's name",
            None,
        ),
        (f"{name}!#4/b.txt", None, b"bee"),
    ]
    assert found[0][0].mtime == WHEN and found[0][0].size == len(JPEG_A)


def test_tar_member_names_that_are_not_utf8() -> None:
    name = b"DCIM/\xff\xfe.jpg".decode("utf-8", "surrogateescape")
    [(entry, content)] = read_all(tar_of([(name, JPEG_A)], "w:gz"), "t.tar.gz")
    assert entry.path == "t.tar.gz!/DCIM/\\xff\\xfe.jpg"
    assert entry.error == "member name is not valid UTF-8; shown with \\x escapes"
    assert content == JPEG_A


@pytest.mark.parametrize(
    ("compress", "name", "member"),
    [
        (gzip.compress, "notes.txt.gz", "notes.txt"),
        (bz2.compress, "notes.txt.bz2", "notes.txt"),
        (lzma.compress, "notes.txt.xz", "notes.txt"),
        (gzip.compress, "no-suffix", "no-suffix"),
    ],
)
def test_a_compressed_single_file_is_one_member(compress: object, name: str, member: str) -> None:
    data = compress(JPEG_A)  # type: ignore[operator]
    [(entry, content)] = read_all(data, name)
    assert entry.locator == f"{name}!#0/{member}"
    assert content == JPEG_A
    assert entry.compressed_size == len(data) and entry.size is None


def test_stream_is_refused_once_the_archive_moved_on() -> None:
    data = tar_of([("a.bin", b"a" * 10_000), ("b.bin", b"b" * 10_000)], "w:gz")
    iterator = members(data, "s.tar.gz")
    first = next(iterator)
    assert first.open is not None
    stream = first.open()
    assert stream.read(10) == b"a" * 10
    next(iterator)
    with pytest.raises(ArchiveReadError, match="moved on to the next member"):
        stream.read()
    with pytest.raises(ArchiveReadError, match="moved on to the next member"):
        first.open()


def test_truncated_tar_gz_keeps_what_came_before() -> None:
    noise = random.Random(3).randbytes(200_000)  # incompressible: the cut lands well after a.bin
    data = tar_of([("a.bin", b"first"), ("b.bin", noise), ("c.bin", b"never seen")], "w:gz")
    found = []
    with pytest.raises(EvidenceError):
        for entry in members(data[: len(data) // 2], "cut.tar.gz"):
            assert entry.open is not None
            with entry.open() as stream:
                found.append((entry.locator, stream.read()))
    assert found == [("cut.tar.gz!#0/a.bin", b"first")]


# -- 7z ----------------------------------------------------------------------------------------------


def test_7z_members_stream_through_libarchive() -> None:
    data = sevenzip_of([("DCIM/a.jpg", JPEG_A), ("b.txt", b"bee"), ("DCIM/a.jpg", JPEG_B)])
    found = read_all(data, "x.7z")
    assert [(e.locator, e.error, c) for e, c in found] == [
        ("x.7z!#0/DCIM/a.jpg", None, JPEG_A),
        ("x.7z!#1/b.txt", None, b"bee"),
        ("x.7z!#2/DCIM/a.jpg", None, JPEG_B),
    ]
    assert found[0][0].mtime is not None and found[0][0].mtime.tzinfo == UTC


def test_7z_members_left_unread_are_skipped() -> None:
    data = sevenzip_of([("a.bin", JPEG_A), ("b.bin", JPEG_B)])
    entries = list(members(data, "x.7z"))
    assert [e.locator for e in entries] == ["x.7z!#0/a.bin", "x.7z!#1/b.bin"]


@pytest.mark.parametrize("header_encryption", [False, True], ids=["names-visible", "names-encrypted"])
def test_encrypted_7z_opens_with_the_right_password(header_encryption: bool) -> None:
    data = sevenzip_of(
        [("DCIM/a.jpg", JPEG_A), ("empty.txt", b""), ("b.bin", ZEROS[:300_000])], "pw", header_encryption
    )
    found = contents(data, "e.7z", passwords=["wrong", "pw"])
    assert found == {"e.7z!#0/DCIM/a.jpg": JPEG_A, "e.7z!#1/empty.txt": b"", "e.7z!#2/b.bin": ZEROS[:300_000]}


def test_encrypted_7z_without_its_password_lists_the_names() -> None:
    data = sevenzip_of([("DCIM/a.jpg", JPEG_A)], "pw")
    [(entry, content)] = read_all(data, "e.7z", passwords=["wrong"])
    assert entry.locator == "e.7z!#0/DCIM/a.jpg" and content is None and entry.open is None
    assert entry.error == (
        "encrypted 7z member; supply the password with --password-file or --password "
        "(the given password did not open it)"
    )


def test_7z_with_encrypted_names_and_no_password_is_an_archive_error() -> None:
    data = sevenzip_of([("DCIM/a.jpg", JPEG_A)], "pw", header_encryption=True)
    with pytest.raises(ArchiveReadError, match="7z archive with encrypted file names; supply the password"):
        list(members(data, "e.7z"))


def test_encrypted_7z_reader_stops_its_thread_when_abandoned() -> None:
    data = sevenzip_of([(f"f{i}.bin", bytes([i]) * 200_000) for i in range(6)], "pw")
    iterator = members(data, "e.7z", passwords=["pw"])
    first = next(iterator)
    assert first.open is not None and first.open().read(5) == b"\x00" * 5
    iterator.close()  # type: ignore[attr-defined]
    assert not [t for t in threading.enumerate() if t.name == "himaya-7z"]


def test_corrupt_7z_is_an_archive_error() -> None:
    data = sevenzip_of([("a.jpg", JPEG_A)])
    with pytest.raises(ArchiveReadError):
        list(members(data[:40] + bytes(200), "bad.7z"))


# -- RAR ---------------------------------------------------------------------------------------------


def test_rar_members_are_read_where_libarchive_can() -> None:
    found = read_all(rar4_of([("DCIM/a.jpg", JPEG_A), ("b.txt", b"bee")]), "x.rar")
    assert [(e.locator, e.error, c) for e, c in found] == [
        ("x.rar!#0/DCIM/a.jpg", None, JPEG_A),
        ("x.rar!#1/b.txt", None, b"bee"),
    ]
    assert found[0][0].mtime is not None and found[0][0].mtime.year == 2021


@pytest.mark.parametrize(
    "data",
    [b"Rar!\x1a\x07\x00" + b"this is not really a rar" * 10, b"Rar!\x1a\x07\x01\x00" + bytes(100)],
    ids=["rar4", "rar5"],
)
def test_unreadable_rar_is_a_clean_archive_error(data: bytes) -> None:
    with pytest.raises(ArchiveReadError, match="RAR"):
        list(members(data, "fake.rar"))


# -- limits ------------------------------------------------------------------------------------------


def test_zip_bomb_is_refused_on_its_declared_ratio() -> None:
    data = zip_of([("zeros.bin", ZEROS), ("fine.txt", b"fine")])
    found = read_all(data, "bomb.zip", limits=BOMB_LIMITS)
    bomb, fine = found
    assert bomb[0].open is None and bomb[1] is None
    assert bomb[0].error is not None and "likely zip bomb; raise it with --max-archive-ratio" in bomb[0].error
    assert fine[1] == b"fine"


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda: tar_of([("zeros.bin", ZEROS), ("after.txt", b"x")], "w:gz"), "bomb.tar.gz"),
        (lambda: gzip.compress(ZEROS), "zeros.gz"),
        (lambda: sevenzip_of([("zeros.bin", ZEROS), ("after.txt", b"x")]), "bomb.7z"),
    ],
    ids=["tar.gz", "gz", "7z"],
)
def test_bomb_is_stopped_while_reading(build: object, name: str) -> None:
    data = build()  # type: ignore[operator]
    iterator = members(data, name, limits=BOMB_LIMITS)
    entry = next(iterator)
    assert entry.open is not None
    with (
        pytest.raises(ArchiveBombError, match="a likely zip bomb; reading stopped") as raised,
        entry.open() as stream,
    ):
        while stream.read(1 << 16):
            pass
    assert "raise it with --max-archive-ratio" in str(raised.value)
    with pytest.raises(ArchiveBombError):  # and the archive is read no further
        next(iterator)


def test_total_budget_refuses_members_that_declare_too_much() -> None:
    limits = ArchiveLimits(max_total_bytes=1000)
    data = tar_of([("a.bin", b"a" * 600), ("b.bin", b"b" * 600), ("c.bin", b"c" * 300)])
    found = read_all(data, "t.tar", limits=limits)
    assert [c for _, c in found] == [b"a" * 600, None, b"c" * 300]
    assert found[1][0].error == (
        "not read: declares 600 bytes, more than the 400 bytes left of this archive's extraction budget; "
        "raise it with --max-archive-bytes to read it"
    )


def test_total_budget_stops_a_stream_that_expands_past_it() -> None:
    limits = ArchiveLimits(max_total_bytes=1 << 20)
    [entry] = members(gzip.compress(ZEROS[: 2 << 20]), "big.gz", limits=limits)
    assert entry.open is not None
    with pytest.raises(ArchiveBombError, match="--max-archive-bytes"), entry.open() as stream:
        stream.read()


def test_member_count_limit() -> None:
    limits = ArchiveLimits(max_members=3)
    data = zip_of([(f"{i}.txt", b"x") for i in range(5)])
    seen = []
    with pytest.raises(ArchiveBombError, match="more than 3 members"):
        for entry in members(data, "many.zip", limits=limits):
            seen.append(entry.locator)
    assert len(seen) == 3


def test_depth_limit() -> None:
    data = zip_of([("a.txt", b"a")])
    with pytest.raises(ArchiveBombError, match="raise it with --max-depth"):
        list(
            iter_members(
                container("deep.zip", depth=5),
                io.BytesIO(data),
                "zip",
                limits=LIMITS,
                passwords=(),
                budget=ExtractionBudget(LIMITS),
            )
        )


def test_unknown_format_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown archive format"):
        list(
            iter_members(
                container("x"),
                io.BytesIO(b""),
                "arj",
                limits=LIMITS,
                passwords=(),
                budget=ExtractionBudget(LIMITS),
            )
        )


# -- nesting -----------------------------------------------------------------------------------------


def walk_nested(
    entry: FileEntry,
    fileobj: BinaryIO,
    fmt: str,
    budget: ExtractionBudget,
    found: dict[str, bytes],
    passwords: Sequence[str] = (),
) -> None:
    """What the pipeline does: read each member, and spool any archive inside to read it in turn."""
    for member in iter_members(entry, fileobj, fmt, limits=LIMITS, passwords=passwords, budget=budget):
        assert member.open is not None, member.error
        with member.open() as stream:
            head = stream.read(8192)
            inner_fmt = detect_archive(head, member.path)
            if inner_fmt is None:
                found[member.locator] = head + stream.read()
                continue
            rest = io.BytesIO(head + stream.read())
        # A small memory limit pushes every nested archive into the encrypted temporary file.
        with spool_stream(rest, memory_limit=1024) as spool:
            walk_nested(member, spool, inner_fmt, budget, found, passwords)


def test_zip_in_tar_gz_in_7z() -> None:
    deep_zip = zip_of([("DCIM/a.jpg", JPEG_A), ("DCIM/b.jpg", JPEG_B)])
    middle = tar_of([("readme.txt", b"middle"), ("backup/deep.zip", deep_zip)], "w:gz")
    outer = sevenzip_of([("middle.tar.gz", middle), ("top.txt", b"top")])
    budget = ExtractionBudget(LIMITS)
    found: dict[str, bytes] = {}
    walk_nested(container("seized.7z"), io.BytesIO(outer), "7z", budget, found)
    assert found == {
        "seized.7z!#0/middle.tar.gz!#0/readme.txt": b"middle",
        "seized.7z!#0/middle.tar.gz!#1/backup/deep.zip!#0/DCIM/a.jpg": JPEG_A,
        "seized.7z!#0/middle.tar.gz!#1/backup/deep.zip!#1/DCIM/b.jpg": JPEG_B,
        "seized.7z!#1/top.txt": b"top",
    }
    # One budget for all layers: every byte that came out of any decompressor counts once.
    tar_stream = len(gzip.decompress(middle))
    assert budget.bytes_read == len(middle) + len(b"top") + tar_stream + len(JPEG_A) + len(JPEG_B)
    assert budget.members == 6


def test_encrypted_7z_inside_a_zip_is_read_from_the_spool() -> None:
    inner = sevenzip_of([("DCIM/a.jpg", JPEG_A)], "pw", header_encryption=True)
    outer = zip_of([("backup/photos.7z", inner)], zipfile.ZIP_STORED)
    found: dict[str, bytes] = {}
    walk_nested(container("usb.zip"), io.BytesIO(outer), "zip", ExtractionBudget(LIMITS), found, ["pw"])
    assert found == {"usb.zip!#0/backup/photos.7z!#0/DCIM/a.jpg": JPEG_A}
