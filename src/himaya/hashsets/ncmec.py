"""NCMEC-style hash lists and CAID exports: one MD5 or PDQ per line, optionally with its category.

These lists hold only two kinds of hash, so the length says which: 32 hex digits is MD5 and 64 is PDQ.
(A plain list refuses to guess between SHA256 and PDQ; here there is nothing to guess, since NCMEC-style
lists carry no SHA256. A header naming a SHA256 or SHA1 column is refused for that reason.)

Categories are the source's own labels, stored upper-case: NCMEC's A1, A2, B1, B2 or CAID's (UK) A, B, C.
Any other label is refused rather than stored, because a mapping to the internal scale turns these labels
into what an examiner reads, and an unknown one would map to nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from himaya.errors import HashSetFormatError
from himaya.hashsets.entries import HashType, ParsedEntry
from himaya.hashsets.plain import _lines  # BOM, CRLF and UTF-16 handling shared with plain lists

__all__ = [
    "CAID_CATEGORIES",
    "CATEGORIES",
    "NCMEC_CATEGORIES",
    "is_ncmec_header",
    "read_ncmec",
    "split_ncmec_line",
]

NCMEC_CATEGORIES = ("A1", "A2", "B1", "B2")
CAID_CATEGORIES = ("A", "B", "C")
CATEGORIES = frozenset(NCMEC_CATEGORIES + CAID_CATEGORIES)

_TYPE_BY_DIGITS: dict[int, HashType] = {32: "md5", 64: "pdq"}
_SEPARATOR = re.compile(r"\s*[,;\t]\s*|\s+")
_HEX = re.compile(r"[0-9a-fA-F]+")
_CATEGORY_HINT = (
    f"use an NCMEC category ({', '.join(NCMEC_CATEGORIES)}) or a CAID category "
    f"({', '.join(CAID_CATEGORIES)}), or leave it out"
)
# Header names (lower-cased) of the hash column and the type each fixes; None: read from the length.
_HASH_HEADERS: dict[str, HashType | None] = {"md5": "md5", "pdq": "pdq", "hash": None, "value": None}
_CATEGORY_HEADERS = frozenset({"category", "cat", "label"})


def is_ncmec_header(fields: list[str]) -> bool:
    """Whether `fields` (a split line) is a header this reader takes: a hash column, then 'category'."""
    keys = [field.lower() for field in fields]
    return keys[0] in _HASH_HEADERS and (len(keys) == 1 or (len(keys) == 2 and keys[1] in _CATEGORY_HEADERS))


_PLAIN_HEADERS = frozenset({"sha1", "sha256", "sha-1", "sha-256", "sha_1", "sha_256"})
_HEADER_HINT = "an NCMEC-style header names the hash column (md5, pdq or hash) and then 'category'"


def split_ncmec_line(text: str) -> list[str]:
    """The fields of one line: split at whitespace, ',', ';' or tab; a trailing separator dropped."""
    fields = _SEPARATOR.split(text.strip())
    while len(fields) > 1 and not fields[-1]:
        fields.pop()
    return fields


def read_ncmec(path: Path) -> Iterator[ParsedEntry]:
    """Every entry of an NCMEC-style list or CAID export, in file order.

    Raises `HashSetFormatError` naming the line on the first problem.
    """
    source = str(path)
    fixed_type: HashType | None = None
    seen_row = False
    found = False
    for line_no, text in _lines(path, source):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = split_ncmec_line(stripped)
        if not seen_row:
            seen_row = True
            if not _HEX.fullmatch(fields[0]):
                fixed_type = _header_type(fields, source, line_no)
                continue
        if len(fields) > 2:
            raise HashSetFormatError(
                source,
                line_no,
                f"{len(fields)} fields, but an NCMEC-style line holds a hash and at most a category",
                "put one hash per line, optionally followed by its category; for more columns use "
                "--format plain",
            )
        hash_type, value = _hash(fields[0], fixed_type, source, line_no)
        category = _category(fields[1], source, line_no) if len(fields) == 2 else None
        found = True
        yield ParsedEntry(hash_type, value, category, None, line_no)
    if not found:
        raise HashSetFormatError(
            source, None, "no hashes found", "the file holds only blank lines, comments or a header row"
        )


def _header_type(fields: list[str], source: str, line_no: int) -> HashType | None:
    keys = [field.lower() for field in fields]
    if keys[0] in _PLAIN_HEADERS:
        raise HashSetFormatError(
            source,
            line_no,
            f"the header names a {fields[0]!r} column, which an NCMEC-style list (MD5 or PDQ) does not have",
            "import the list with --format plain",
        )
    if not is_ncmec_header(fields):
        problem = f"{fields[0][:80]!r} is not a hexadecimal hash"
        if len(keys) > 1 or keys[0].isalpha():
            problem = f"the first line {' '.join(fields)[:80]!r} is neither a hash nor a known header"
        raise HashSetFormatError(source, line_no, problem, _HEADER_HINT)
    return _HASH_HEADERS[keys[0]]


def _hash(raw: str, fixed_type: HashType | None, source: str, line_no: int) -> tuple[HashType, str]:
    if not _HEX.fullmatch(raw):
        raise HashSetFormatError(
            source,
            line_no,
            f"{raw[:80]!r} is not a hexadecimal hash",
            "a hash holds only the digits 0-9 and a-f: 32 for MD5, 64 for PDQ",
        )
    hash_type = _TYPE_BY_DIGITS.get(len(raw))
    if hash_type is None:
        hint = "an NCMEC-style list holds MD5 (32 hex digits) or PDQ (64); check the line is not truncated"
        if len(raw) == 40:
            hint = "40 hex digits is SHA1, which an NCMEC-style list does not hold; use --format plain"
        raise HashSetFormatError(source, line_no, f"{len(raw)} hex digits is not MD5 or PDQ", hint)
    if fixed_type is not None and hash_type != fixed_type:
        raise HashSetFormatError(
            source,
            line_no,
            f"{len(raw)} hex digits, but the header names the column {fixed_type.upper()}",
            "check the line is not truncated, or name the column 'hash' to mix MD5 and PDQ",
        )
    return hash_type, raw.lower()


def _category(raw: str, source: str, line_no: int) -> str:
    label = raw.upper()
    if label not in CATEGORIES:
        raise HashSetFormatError(source, line_no, f"{raw[:40]!r} is not a known category", _CATEGORY_HINT)
    return label
