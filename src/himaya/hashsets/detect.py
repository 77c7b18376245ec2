"""Which reader a hash list needs, told from its first few KiB rather than its name.

Lists arrive renamed (`.txt` for CSV, `.dat` for JSON, NIST's `.db` as `.sqlite`), so the extension says
little. The checks run from the most certain to the least: SQLite's magic bytes, a JSON bracket, ICSE's
header names, vPDQ's four fields (frame, quality, PDQ hash, seconds), then NCMEC/CAID category labels;
whatever is left is a plain list, whose reader refuses anything it cannot read with a line number. A wrong
guess is therefore an error, never silent misreading, with one exception documented on `_looks_ncmec`.
A folder can only be vPDQ hash files, one per video (`himaya.hashsets.vpdq`).
"""

from __future__ import annotations

import codecs
import csv
import re
import sqlite3
from pathlib import Path
from typing import Literal

from himaya.errors import HashSetFormatError
from himaya.hashsets.icse import DELIMITER as ICSE_DELIMITER
from himaya.hashsets.icse import is_icse_header
from himaya.hashsets.ncmec import CATEGORIES, is_ncmec_header, split_ncmec_line
from himaya.hashsets.nsrl import _connect_read_only, _file_relation, is_sqlite
from himaya.hashsets.vpdq import looks_like_vpdq, vpdq_files

__all__ = ["FORMATS", "SNIFF_BYTES", "HashSetFormat", "detect_format"]

HashSetFormat = Literal["vics", "icse", "ncmec", "nsrl", "vpdq", "plain"]
FORMATS: tuple[HashSetFormat, ...] = ("vics", "icse", "ncmec", "nsrl", "vpdq", "plain")
SNIFF_BYTES = 8192

_HEX = re.compile(r"[0-9a-fA-F]+")
# Containers examiners are handed hash sets in: naming them beats "line 1 is not a hexadecimal hash".
_ARCHIVES = {
    b"PK\x03\x04": "a ZIP archive",
    b"\x1f\x8b": "a gzip file",
    b"7z\xbc\xaf\x27\x1c": "a 7-Zip archive",
}


def detect_format(path: Path) -> HashSetFormat:
    """The format of the hash set at `path`: "vics", "icse", "ncmec", "nsrl", "vpdq" or "plain".

    Raises `HashSetFormatError` for content no reader takes (XML, an archive, a non-NSRL SQLite file, a
    folder that is not of vPDQ files).
    """
    source = str(path)
    if path.is_dir():
        return _folder_format(path, source)
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
        truncated = bool(handle.read(1))
    if is_sqlite(head):
        return _sqlite_format(path, source)
    for magic, what in _ARCHIVES.items():
        if head.startswith(magic):
            raise HashSetFormatError(
                source, None, f"{what}, not a hash list", "extract the hash list (or NSRL .db) from it first"
            )
    text = _decode(head)
    first = text.lstrip()[:1]
    if first in ("{", "["):
        return "vics"
    if first == "<":
        raise HashSetFormatError(
            source,
            None,
            "XML hash sets are not supported",
            "export the set as VICS JSON or ICSE CSV from the source tool, or convert it to a plain list",
        )
    lines = text.splitlines()
    if truncated and lines:
        lines.pop()  # cut off mid-line by the sniff limit
    if _looks_icse(lines):
        return "icse"
    if looks_like_vpdq(lines):
        return "vpdq"
    if _looks_ncmec(lines):
        return "ncmec"
    return "plain"


def _folder_format(path: Path, source: str) -> HashSetFormat:
    """A folder is read as vPDQ hash files; its first file decides (the reader checks every one)."""
    files = vpdq_files(path)
    hint = "a folder is imported as vPDQ hash files, one per video; import any other hash list as a file"
    if not files:
        raise HashSetFormatError(source, None, "no files in this folder (hidden ones are skipped)", hint)
    found = detect_format(files[0])
    if found != "vpdq":
        raise HashSetFormatError(
            source, None, f"its first file {files[0].name!r} is not vPDQ but {found}", hint
        )
    return "vpdq"


def _sqlite_format(path: Path, source: str) -> HashSetFormat:
    try:
        connection = _connect_read_only(path)
        try:
            _file_relation(connection, source)  # raises, naming the tables, without a FILE table
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise HashSetFormatError(
            source,
            None,
            f"starts like an SQLite database but cannot be read as one ({error})",
            "check the file was copied completely (compare its hash with the published one)",
        ) from None
    return "nsrl"


def _decode(head: bytes) -> str:
    # The sniffed bytes may end inside a character; errors="replace" keeps that (and any binary junk)
    # from raising, and the readers report bad encoding properly, with a line number.
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="replace")
    if len(head) >= 2 and head[0] and not head[1]:
        return head.decode("utf-16-le", errors="replace")  # UTF-16 without BOM: ASCII is "x\0"
    if len(head) >= 2 and not head[0] and head[1]:
        return head.decode("utf-16-be", errors="replace")
    return head.removeprefix(codecs.BOM_UTF8).decode("utf-8", errors="replace")


def _looks_icse(lines: list[str]) -> bool:
    first = next((line for line in lines if line.strip()), None)
    if first is None or ICSE_DELIMITER not in first:
        return False
    try:
        fields = next(csv.reader([first], delimiter=ICSE_DELIMITER), [])
    except csv.Error:
        return False
    return is_icse_header(fields)


def _looks_ncmec(lines: list[str]) -> bool:
    """Every sniffed line is a hash of MD5 or PDQ length, optionally followed by an NCMEC or CAID
    category, and at least one has a category.

    The one ambiguity: a header-less plain list of SHA256 values labelled A, B or C reads as an NCMEC-style
    list of PDQ hashes. Lists that name their column (sha256,category) are left to the plain reader.
    """
    labelled = False
    first = True
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = split_ncmec_line(stripped)
        if len(fields) > 2:
            return False
        if first and not _HEX.fullmatch(fields[0]):
            first = False
            if not is_ncmec_header(fields):
                return False
            continue
        first = False
        if len(fields[0]) not in (32, 64) or not _HEX.fullmatch(fields[0]):
            return False
        if len(fields) == 2:
            if fields[1].upper() not in CATEGORIES:
                return False
            labelled = True
    return labelled
