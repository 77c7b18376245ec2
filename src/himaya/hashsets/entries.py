"""What every hash-list reader yields: one hash of one known item, with the source's own labels.

Readers stream: they yield entries as they read and raise `HashSetFormatError` naming the line (or, for
JSON, the media item and byte offset) on the first problem. The importer writes inside one transaction
and rolls back on that error, so a half-read list never matches anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# "vpdq": a known video, one entry for all its frame hashes (himaya.hashsets.vpdq): its value is the
# SHA-256 of the frames in canonical vPDQ text, its details hold the frames.
HashType = Literal["md5", "sha1", "sha256", "pdq", "vpdq"]
HASH_TYPES: tuple[HashType, ...] = ("md5", "sha1", "sha256", "pdq", "vpdq")
HEX_DIGITS: dict[HashType, int] = {"md5": 32, "sha1": 40, "sha256": 64, "pdq": 64, "vpdq": 64}

# HashEntry.category is String(40); PostgreSQL enforces that, so a longer label must fail in the reader,
# before anything is written, with a line number rather than a database error.
MAX_CATEGORY_LENGTH = 40


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    hash_type: HashType
    value: str  # lower-case hex
    category: str | None  # the source's own label, as written ("1", "A1", "CAID A", "baseline")
    series: str | None
    # Where the entry stood in the source: the 1-based line of a text list, or the 1-based ordinal of
    # the media item in a JSON list. Kept so that an examiner can find the entry there.
    line: int
    victim_identified: bool | None = None
    offender_identified: bool | None = None
    # Groups the hashes of one media item (VICS MediaID, ICSE Image ID), so that an export can give the
    # item back whole rather than one row per hash.
    media_id: str | None = None
    # A JSON object (text, keys sorted) of the source's other fields worth giving back on export:
    # PhotoDNA (opaque), MediaSize, Comments, Tags, IsDistributed, file names... None when there are none.
    details: str | None = None
