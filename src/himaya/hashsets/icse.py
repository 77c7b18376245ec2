"""Interpol ICSE CSV exports: one media item per row, its MD5 and SHA1 plus ICSE's own labels.

The export is `;`-separated with a header row (MD5;SHA1;PhotoDNA;Image ID;Is distributed;...;Baseline).
Versions and hand edits differ in column order, case and spacing of the header names, so columns are
found by name; the values are held strictly, because a mistyped flag or hash would silently change what
a match means in court.

Rows stream out as they are read: an export can hold millions of rows, and the importer rolls back on the
first error anyway.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from himaya.errors import HashSetFormatError
from himaya.hashsets.entries import HEX_DIGITS, HashType, ParsedEntry
from himaya.hashsets.progress import track

__all__ = ["ICSE_COLUMNS", "IcseRow", "is_icse_header", "read_icse", "write_icse"]

DELIMITER = ";"

# The header names as ICSE writes them, in its order; `write_icse` writes exactly these.
ICSE_COLUMNS = (
    "MD5",
    "SHA1",
    "PhotoDNA",
    "Image ID",
    "Is distributed",
    "Victim identified",
    "Offender identified",
    "Series name",
    "Number of submissions",
    "File Available",
    "Media Type",
    "Baseline",
)


def _column_key(name: str) -> str:
    return re.sub(r"[\s_\-.]", "", name.strip().lower())


# Header keys (see `_column_key`) and the field each names. A few short forms seen in hand-edited
# exports are accepted; anything else is an extra column and ignored.
_FIELD_BY_KEY: dict[str, str] = {
    **{_column_key(name): _column_key(name) for name in ICSE_COLUMNS},
    "imageid": "imageid",
    "series": "seriesname",
    "submissions": "numberofsubmissions",
    "distributed": "isdistributed",
}
_HASH_FIELDS: dict[str, HashType] = {"md5": "md5", "sha1": "sha1"}
# Beyond the hash columns, these names only ICSE writes (short forms excluded: a plain CSV may well have a
# "series" column): they tell an ICSE export from a plain CSV.
_ICSE_ONLY = frozenset(_column_key(name) for name in ICSE_COLUMNS[2:])
_BOOLEAN_FIELDS = ("isdistributed", "victimidentified", "offenderidentified", "fileavailable", "baseline")

_TRUE = frozenset({"yes", "true", "1", "y"})
_FALSE = frozenset({"no", "false", "0", "n"})
_BOOLEAN_HINT = "write Yes/No, True/False, 1/0 or Y/N, or leave the cell blank when unknown"
_HEADER_HINT = (
    "an ICSE export starts with the header row MD5;SHA1;PhotoDNA;Image ID;...;Baseline "
    "(columns may be in any order; MD5 or SHA1 is required)"
)
_HEX = re.compile(r"[0-9a-fA-F]+")

# Spreadsheets run a cell that starts with one of these as a formula (CSV injection). The writer puts an
# apostrophe before such a text cell (and before one that already starts with an apostrophe, so that the
# reader can take exactly one off again and a round trip gives the text back unchanged).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


@dataclass(frozen=True)
class IcseRow:
    """One media item as ICSE exports it. None is a blank cell."""

    md5: str | None
    sha1: str | None
    photodna: str | None
    image_id: str | None
    is_distributed: bool | None
    victim_identified: bool | None
    offender_identified: bool | None
    series: str | None
    submissions: int | None
    file_available: bool | None
    media_type: str | None
    baseline: bool | None


def is_icse_header(fields: Iterable[str]) -> bool:
    """Whether a row's fields are an ICSE header: MD5 and SHA1 plus at least one column only ICSE has."""
    keys = {_column_key(field) for field in fields}
    return {"md5", "sha1"} <= keys and bool(keys & _ICSE_ONLY)


def read_icse(path: Path) -> Iterator[ParsedEntry]:
    """The MD5 and SHA1 entries of every row of an ICSE CSV export, in file order.

    Raises `HashSetFormatError` naming the line (and column) on the first problem.
    """
    source = str(path)
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter=DELIMITER)
        columns: dict[str, int] | None = None
        header_width = 0
        found = False
        line_no = 1
        while True:
            try:
                fields = next(reader, None)
            except csv.Error as error:
                raise HashSetFormatError(
                    source, reader.line_num, f"not readable as CSV ({error})", "check the quoting of the line"
                ) from None
            if fields is None:
                break
            row_line, line_no = line_no, reader.line_num + 1  # where this row started; where the next will
            cells = [field.strip() for field in fields]
            _check_text(cells, source, row_line)
            if not any(cells):
                continue
            if columns is None:
                columns = _header_columns(cells, source, row_line)
                header_width = len(cells)
                continue
            _check_width(cells, header_width, source, row_line)
            for entry in _row_entries(cells, columns, source, row_line):
                found = True
                yield entry
    if columns is None:
        raise HashSetFormatError(source, None, "the file is empty", _HEADER_HINT)
    if not found:
        raise HashSetFormatError(source, None, "no hashes found", "the export holds only its header row")


def write_icse(out: TextIO, rows: Iterable[IcseRow]) -> int:
    """Write an ICSE CSV export (header and rows) to `out`; return the number of rows written.

    Open `out` with `newline=""`: the csv module writes CRLF itself. Raises ValueError for a row whose
    hashes are not valid, since an export must never carry a hash the reader would refuse.
    """
    writer = csv.writer(out, delimiter=DELIMITER, lineterminator="\r\n")
    writer.writerow(ICSE_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow(_row_cells(row))
        count += 1
    return count


def _open_text(path: Path) -> TextIO:
    with path.open("rb") as probe:
        start = probe.read(2)
    # ICSE writes UTF-8 (Excel adds a BOM on re-save); "Unicode text" from Excel is UTF-16 with a BOM.
    encoding = "utf-16" if start in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-8-sig"
    # Undecodable bytes become lone surrogates, so that `_check_text` can name their line: a strict
    # decoder fails a whole 8 KiB chunk ahead of the line actually being read.
    handle = path.open(encoding=encoding, errors="surrogateescape", newline="")
    track(handle)
    return handle


def _check_text(cells: list[str], source: str, line_no: int) -> None:
    for cell in cells:
        try:
            cell.encode("utf-8")
        except UnicodeEncodeError:
            raise HashSetFormatError(
                source, line_no, "not valid UTF-8 text", "save the export as UTF-8 (with or without BOM)"
            ) from None


def _header_columns(cells: list[str], source: str, line_no: int) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        field = _FIELD_BY_KEY.get(_column_key(cell))
        if field is None:
            continue  # ICSE adds columns between versions; the reader has no use for them
        if field in columns:
            raise HashSetFormatError(source, line_no, f"the header names column {cell!r} twice", _HEADER_HINT)
        columns[field] = index
    if not columns.keys() & _HASH_FIELDS.keys():
        if any(_HEX.fullmatch(cell) and len(cell) in (32, 40) for cell in cells):
            problem = "the first row holds hashes, but an ICSE export starts with a header row"
        else:
            problem = "the header row names neither an MD5 nor a SHA1 column"
        raise HashSetFormatError(source, line_no, problem, _HEADER_HINT)
    return columns


def _check_width(cells: list[str], header_width: int, source: str, line_no: int) -> None:
    # More cells than header names almost always means a ';' inside an unquoted value, which shifts every
    # later column: reading on would put one item's flags on another's column.
    if len(cells) > header_width and any(cells[header_width:]):
        raise HashSetFormatError(
            source,
            line_no,
            f"{len(cells)} columns, but the header row has {header_width}",
            "a value that contains ';' must be in double quotes",
        )


def _row_entries(
    cells: list[str], columns: dict[str, int], source: str, line_no: int
) -> Iterator[ParsedEntry]:
    def cell(field: str) -> str | None:
        index = columns.get(field)
        if index is None or index >= len(cells) or not cells[index]:
            return None
        return cells[index]

    def text(field: str) -> str | None:
        value = cell(field)
        return None if value is None else _unguard(value)

    hashes = [
        (hash_type, _hash(value, hash_type, source, line_no))
        for field, hash_type in _HASH_FIELDS.items()
        if (value := cell(field)) is not None
    ]
    if not hashes:
        raise HashSetFormatError(
            source, line_no, "neither MD5 nor SHA1 is filled in", "remove the row or fill in a hash"
        )
    flags = {field: _boolean(cell(field), field, source, line_no) for field in _BOOLEAN_FIELDS}
    baseline = flags["baseline"]
    category = None if baseline is None else ("baseline" if baseline else "non-baseline")
    series = text("seriesname")
    details = {
        "PhotoDNA": text("photodna"),
        "IsDistributed": flags["isdistributed"],
        "NumberOfSubmissions": _count(cell("numberofsubmissions"), source, line_no),
        "FileAvailable": flags["fileavailable"],
        "MediaType": text("mediatype"),
    }
    kept = {key: value for key, value in details.items() if value is not None}
    if series is not None:
        series = sys.intern(series)  # exports of millions of rows repeat a few hundred series names
    media_id = text("imageid")
    details_json = json.dumps(kept, sort_keys=True) if kept else None
    for hash_type, value in hashes:
        yield ParsedEntry(
            hash_type,
            value,
            category,
            series,
            line_no,
            victim_identified=flags["victimidentified"],
            offender_identified=flags["offenderidentified"],
            media_id=media_id,
            details=details_json,
        )


def _hash(raw: str, hash_type: HashType, source: str, line_no: int) -> str:
    digits = HEX_DIGITS[hash_type]
    if len(raw) != digits or not _HEX.fullmatch(raw):
        raise HashSetFormatError(
            source,
            line_no,
            f"column {hash_type.upper()} holds {raw[:80]!r}, not {digits} hex digits",
            "check the cell was not cut short or reformatted by a spreadsheet",
        )
    return raw.lower()


def _boolean(raw: str | None, field: str, source: str, line_no: int) -> bool | None:
    if raw is None:
        return None
    value = raw.lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    name = _column_name(field)
    raise HashSetFormatError(
        source, line_no, f"column {name!r} holds {raw[:40]!r}, which is not yes or no", _BOOLEAN_HINT
    )


def _count(raw: str | None, source: str, line_no: int) -> int | None:
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise HashSetFormatError(
            source,
            line_no,
            f"column 'Number of submissions' holds {raw[:40]!r}, not a whole number",
            "write the count in digits (0, 1, 2, ...) or leave the cell blank",
        )
    return int(raw)


def _column_name(field: str) -> str:
    return next(name for name in ICSE_COLUMNS if _column_key(name) == field)


def _unguard(value: str) -> str:
    if len(value) > 1 and value[0] == "'" and value[1] in _FORMULA_STARTS:
        return value[1:]
    return value


def _guard(value: str | None) -> str:
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("Yes" if value else "No")


def _checked_hash(value: str | None, hash_type: HashType) -> str:
    if value is None:
        return ""
    if len(value) != HEX_DIGITS[hash_type] or not _HEX.fullmatch(value):
        raise ValueError(f"{hash_type} {value!r} is not {HEX_DIGITS[hash_type]} hex digits")
    return value.lower()


def _row_cells(row: IcseRow) -> list[str]:
    if row.md5 is None and row.sha1 is None:
        raise ValueError(f"ICSE row {row.image_id!r} has neither MD5 nor SHA1")
    if row.submissions is not None and row.submissions < 0:
        raise ValueError(f"ICSE row {row.image_id!r} has a negative number of submissions")
    return [
        _checked_hash(row.md5, "md5"),
        _checked_hash(row.sha1, "sha1"),
        _guard(row.photodna),
        _guard(row.image_id),
        _yes_no(row.is_distributed),
        _yes_no(row.victim_identified),
        _yes_no(row.offender_identified),
        _guard(row.series),
        "" if row.submissions is None else str(row.submissions),
        _yes_no(row.file_available),
        _guard(row.media_type),
        _yes_no(row.baseline),
    ]
