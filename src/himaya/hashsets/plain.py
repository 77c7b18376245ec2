"""Plain hash lists and CSV: one hash per line, or delimited rows with an optional header row.

Lists come from many tools (spreadsheets, `md5deep`, colleagues' scripts), so the reader is lenient about
shape (BOM, CRLF, comments, comma / semicolon / tab) and strict about content: every hash must be hex of
a known length, and a 64-digit value is refused unless the examiner says whether it is SHA256 or PDQ,
because guessing would silently match against the wrong kind of fact.

The importer writes what `iter_plain` yields inside one transaction and rolls it back on the first bad
line, so an import is all-or-nothing without holding the list in memory.
"""

from __future__ import annotations

import codecs
import csv
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from himaya.errors import HashSetFormatError, UsageError
from himaya.hashsets.entries import HASH_TYPES, HEX_DIGITS, MAX_CATEGORY_LENGTH, HashType, ParsedEntry
from himaya.hashsets.progress import track

__all__ = [
    "HASH_TYPES",
    "HEX_DIGITS",
    "LIST_HASH_TYPES",
    "HashType",
    "ParsedEntry",
    "check_hash_type",
    "iter_plain",
    "read_plain",
]

# What a line of a list can hold; "vpdq" entries come from vPDQ hash files only (himaya.hashsets.vpdq).
LIST_HASH_TYPES: tuple[HashType, ...] = tuple(hash_type for hash_type in HASH_TYPES if hash_type != "vpdq")

_TYPE_BY_DIGITS: dict[int, HashType] = {32: "md5", 40: "sha1"}  # 64 is SHA256 or PDQ: never guessed

_HASH_LENGTHS = frozenset(HEX_DIGITS.values())

DELIMITERS = ",;\t"
_HEX = re.compile(r"[0-9a-fA-F]+")

# Header names (lower-cased, '-', '_' and spaces removed) and what the column holds. A hash column maps
# to its type, or to None when the type is read from the value's length ("hash", "value").
_HASH_COLUMNS: dict[str, HashType | None] = {
    "md5": "md5",
    "sha1": "sha1",
    "sha256": "sha256",
    "pdq": "pdq",
    "hash": None,
    "value": None,
}
_OTHER_COLUMNS = frozenset({"category", "series"})
_HEADER_HINT = "name the columns md5, sha1, sha256, pdq or hash, and optionally category and series"


@dataclass(frozen=True)
class _Layout:
    hash_columns: tuple[tuple[int, HashType | None, str], ...]  # (field index, declared type, column name)
    category: int | None
    series: int | None
    max_fields: int | None  # header-less rows hold hash[,category[,series]]: more would be a guess


_HEADERLESS = _Layout(hash_columns=((0, None, ""),), category=1, series=2, max_fields=3)


def check_hash_type(hash_type: str | None) -> HashType | None:
    if hash_type is None:
        return None
    normalised = hash_type.strip().lower()
    if normalised == "vpdq":
        # A vPDQ entry is a whole video (all its frame hashes), not one hash on a line of a list.
        raise UsageError(
            "--type vpdq is not a type of hash list: vPDQ hashes come as vPDQ hash files (one per video); "
            "import the file or its folder with --format vpdq, without --type"
        )
    if normalised not in HEX_DIGITS:
        raise UsageError(f"--type {hash_type!r} is not a hash type; use one of {', '.join(LIST_HASH_TYPES)}")
    return normalised


def read_plain(path: Path, hash_type: str | None = None) -> list[ParsedEntry]:
    """Every entry of a plain list or CSV file, duplicates removed (the first line wins)."""
    entries: list[ParsedEntry] = []
    seen: set[tuple[str, str]] = set()
    for entry in iter_plain(path, hash_type):
        key = (entry.hash_type, entry.value)
        if key not in seen:
            seen.add(key)
            entries.append(entry)
    return entries


def iter_plain(path: Path, hash_type: str | None = None) -> Iterator[ParsedEntry]:
    """The entries of a plain list or CSV file as they are read, duplicates included.

    `hash_type` is the type of every hash whose column does not name one (the CLI's `--type`); values
    of another length are then refused. Raises `HashSetFormatError` naming the line on the first problem.
    """
    declared = check_hash_type(hash_type)
    source = str(path)
    found = 0
    delimiter: str | None = None
    layout: _Layout | None = None
    for line_no, text in _lines(path, source):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if delimiter is None:
            delimiter = _delimiter_of(text)
        # Split the unstripped line: with tabs as delimiter, a leading tab is an empty first column.
        fields = _split(text, delimiter)
        first_row = layout is None
        if layout is None:
            layout = _header_layout(fields, source, line_no)
            if layout is not None:
                continue
            layout = _HEADERLESS
        for entry in _row_entries(fields, layout, declared, source, line_no, first_row):
            found += 1
            yield entry
    if not found:
        raise HashSetFormatError(
            source, None, "no hashes found", "the file holds only blank lines, comments or a header row"
        )


def _lines(path: Path, source: str) -> Iterator[tuple[int, str]]:
    with path.open("rb") as handle:
        track(handle)
        start = handle.read(2)
        handle.seek(0)
        if start in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            # Windows tools (PowerShell's Out-File, Excel's "Unicode text") write UTF-16; splitting its
            # bytes on b"\n" would cut characters in half, so this rare case is decoded as a whole stream.
            yield from _utf16_lines(path, source)
            return
        for line_no, raw in enumerate(handle, start=1):
            if line_no == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                yield line_no, raw.rstrip(b"\r\n").decode("utf-8")
            except UnicodeDecodeError:
                raise HashSetFormatError(
                    source, line_no, "not valid UTF-8 text", "save the list as UTF-8 (with or without BOM)"
                ) from None


def _utf16_lines(path: Path, source: str) -> Iterator[tuple[int, str]]:
    line_no = 0
    try:
        with path.open(encoding="utf-16") as handle:
            track(handle)
            for line_no, text in enumerate(handle, start=1):
                yield line_no, text.rstrip("\r\n")
    except UnicodeDecodeError:
        raise HashSetFormatError(
            source, line_no + 1, "not valid UTF-16 text", "save the list as UTF-8 (with or without BOM)"
        ) from None


def _delimiter_of(line: str) -> str | None:
    """The delimiter is whatever ends the first field: a hash or a header name never contains one,
    whereas later fields (categories, series names) may hold any of them."""
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in DELIMITERS:
            return char
    return None


def _split(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        fields = [line]
    elif '"' in line:
        fields = next(csv.reader([line], delimiter=delimiter))
    else:
        fields = line.split(delimiter)  # the common case; csv.reader per line would dominate the run time
    fields = [field.strip() for field in fields]
    while len(fields) > 1 and not fields[-1]:  # a trailing delimiter is common in spreadsheet exports
        fields.pop()
    return fields


def _column_key(name: str) -> str:
    return re.sub(r"[\s_-]", "", name.strip().lower())


def _header_layout(fields: list[str], source: str, line_no: int) -> _Layout | None:
    """The layout a header row describes, or None when `fields` is a data row."""
    keys = [_column_key(field) for field in fields]
    known = [key for key in keys if key in _HASH_COLUMNS or key in _OTHER_COLUMNS]
    # A hash-shaped field makes it a data row even if a category happens to read "series"; mere hex
    # letters do not (a header may well have a column called "cafe" or "added").
    if not known or any(len(field) in _HASH_LENGTHS and _HEX.fullmatch(field) for field in fields):
        return None
    hash_columns: list[tuple[int, HashType | None, str]] = []
    others: dict[str, int] = {}
    for index, (key, field) in enumerate(zip(keys, fields, strict=True)):
        if key in _HASH_COLUMNS:
            twice = any(_HASH_COLUMNS[key] == declared for _, declared, _ in hash_columns)
            hash_columns.append((index, _HASH_COLUMNS[key], field))
        elif key in _OTHER_COLUMNS:
            twice = key in others
            others[key] = index
        else:
            continue  # columns the reader has no use for (file name, size, ...) are allowed and ignored
        if twice:
            raise HashSetFormatError(
                source, line_no, f"the header names column {field!r} twice", _HEADER_HINT
            )
    if not hash_columns:
        raise HashSetFormatError(source, line_no, "the header row names no hash column", _HEADER_HINT)
    return _Layout(tuple(hash_columns), others.get("category"), others.get("series"), max_fields=None)


def _row_entries(
    fields: list[str], layout: _Layout, declared: HashType | None, source: str, line_no: int, first_row: bool
) -> Iterator[ParsedEntry]:
    if layout.max_fields is not None and len(fields) > layout.max_fields:
        raise HashSetFormatError(
            source,
            line_no,
            f"{len(fields)} columns, but a list without a header row holds hash[,category[,series]]",
            f"add a header row that names the columns ({_HEADER_HINT.removeprefix('name the columns ')})",
        )
    category = _label(fields, layout.category)
    if category is not None and len(category) > MAX_CATEGORY_LENGTH:
        raise HashSetFormatError(
            source,
            line_no,
            f"category {category[:60]!r} is longer than {MAX_CATEGORY_LENGTH} characters",
            "keep the source's own short label (e.g. '1', 'CAID A', 'A1'); put longer text in 'series'",
        )
    series = _label(fields, layout.series)
    found = False
    for index, column_type, column_name in layout.hash_columns:
        raw = _cell(fields, index)
        if raw is None:
            continue
        found = True
        hash_type, value = _parse_hash(raw, column_type, column_name, declared, source, line_no, first_row)
        yield ParsedEntry(hash_type, value, category, series, line_no)
    if not found:
        raise HashSetFormatError(
            source, line_no, "the hash field is empty", "remove the line or fill in the hash"
        )


def _cell(fields: list[str], index: int | None) -> str | None:
    if index is None or index >= len(fields) or not fields[index]:
        return None
    return fields[index]


def _label(fields: list[str], index: int | None) -> str | None:
    # Lists of millions of entries repeat a handful of labels; one shared string each keeps memory flat.
    value = _cell(fields, index)
    return None if value is None else sys.intern(value)


def _parse_hash(
    raw: str,
    column_type: HashType | None,
    column_name: str,
    declared: HashType | None,
    source: str,
    line_no: int,
    first_row: bool,
) -> tuple[HashType, str]:
    if not _HEX.fullmatch(raw):
        hint = "a hash holds only the digits 0-9 and a-f: 32 for MD5, 40 for SHA1, 64 for SHA256 or PDQ"
        if first_row:
            hint += f"; if this line is a header row, {_HEADER_HINT}"
        raise HashSetFormatError(source, line_no, f"{raw[:80]!r} is not a hexadecimal hash", hint)
    value = raw.lower()
    digits = len(value)
    expected = column_type or declared
    if expected is not None:
        if digits != HEX_DIGITS[expected]:
            said_by = f"column {column_name!r}" if column_type else f"--type {expected}"
            raise HashSetFormatError(
                source,
                line_no,
                f"{digits} hex digits, but {said_by} expects {expected.upper()} ({HEX_DIGITS[expected]})",
                "check the line is not truncated and the type is right",
            )
        return expected, value
    if digits == 64:
        raise HashSetFormatError(
            source,
            line_no,
            "64 hex digits could be SHA256 or PDQ",
            "pass --type sha256 or --type pdq, or add a header column 'sha256' or 'pdq'",
        )
    hash_type = _TYPE_BY_DIGITS.get(digits)
    if hash_type is None:
        raise HashSetFormatError(
            source,
            line_no,
            f"{digits} hex digits is not a known hash length",
            "MD5 has 32, SHA1 40, SHA256 and PDQ 64; check the line is not truncated",
        )
    return hash_type, value
