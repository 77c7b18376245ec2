"""A page of the review gallery: filters, the keyset cursor, and the two index ranges that read a page.

Why keyset pages: page 2,000 by OFFSET reads and throws away 400,000 rows; by keyset it starts where the
previous page ended and costs what page 1 costs. The cursor is the last picture's place in the gallery's
order (tier, rank, file id), encoded so that a browser carries it as an opaque string. The rows themselves
are written by `himaya.review.gallery.refresh`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, exists, select, tuple_
from sqlalchemy.orm import Session

from himaya.hashsets.categories import CategoryMap
from himaya.review.ranking import TIER_ALERT, TIER_IGNORED, TIER_NEW
from himaya.store.models import File, GalleryItem, Message

MatchedFilter = Literal["all", "matched", "unknown", "ignored"]
MATCHED_TIERS: dict[str, int | None] = {
    "all": None,
    "unknown": TIER_NEW,  # in no alert or ignore set
    "matched": TIER_ALERT,
    "ignored": TIER_IGNORED,
}
DEFAULT_LIMIT = 200
MAX_LIMIT = 1000


def _utc(value: date | datetime) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), tzinfo=UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# -- pages -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last picture's place in the gallery's order (tier, rank, file id)."""

    tier: int
    rank: int
    file_id: int

    _PREFIX = "g1"
    _SHAPE = re.compile(r"g1\.(\d{1,9})\.(\d{1,9})\.(\d{1,18})")

    def encode(self) -> str:
        """An opaque, URL-safe string (no padding, so it needs no escaping in a query string)."""
        raw = f"{self._PREFIX}.{self.tier}.{self.rank}.{self.file_id}".encode("ascii")
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        """The cursor `encode` wrote; ValueError for anything else (a mangled link, a guessed value)."""
        if not isinstance(value, str) or not 0 < len(value) <= 64 or not value.isascii():
            raise ValueError("not a gallery cursor; start again from the first page")
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ValueError("not a gallery cursor; start again from the first page") from None
        found = cls._SHAPE.fullmatch(raw)
        if found is None:
            raise ValueError("not a gallery cursor; start again from the first page")
        tier, rank, file_id = (int(part) for part in found.groups())
        return cls(tier, rank, file_id)


@dataclass(frozen=True)
class GalleryFilter:
    """What the reviewer narrowed the gallery to; None (or "all") leaves a field out.

    `category`: an internal category ("illegal", ...; see docs/categories.md), matched against the
    picture's category (the review decision, else the matched one). `matched`: "matched" (an alert set),
    "unknown" (in no set: new material), "ignored" (ignore sets only). `path_contains`: a case-insensitive
    substring of the readable path. `make` / `model` / `serial`: the EXIF values, exactly. `date_from`:
    taken at or after (a `date`: from the start of that day); `date_to`: taken at or before (a `date`:
    up to the end of that day). Dates without a
    time zone are UTC, as `taken_at` is stored. `has_gps` / `reviewed`: True or False. `stack_id`: one
    near-duplicate stack (see `himaya.review.stacks`). `in_chats`: True, a copy of the content was
    carried by a chat, SMS or MMS message of the case (its media linked to a file); False, none was.
    """

    category: str | None = None
    matched: str = "all"  # a MatchedFilter; checked when the page is read
    evidence_id: int | None = None
    origin: str | None = None
    path_contains: str | None = None
    make: str | None = None
    model: str | None = None
    serial: str | None = None
    date_from: date | datetime | None = None
    date_to: date | datetime | None = None
    has_gps: bool | None = None
    reviewed: bool | None = None
    stack_id: int | None = None
    in_chats: bool | None = None  # a copy of the content was sent or received in a chat, SMS or MMS

    def tier(self) -> int | None:
        if self.matched not in MATCHED_TIERS:
            raise ValueError(
                f"matched={self.matched!r} is not a gallery filter; use one of {', '.join(MATCHED_TIERS)}"
            )
        return MATCHED_TIERS[self.matched]

    def conditions(self) -> list[ColumnElement[bool]]:
        """The filter as SQL conditions on gallery_items (the tier is left to `page`'s keyset)."""
        g = GalleryItem
        found: list[ColumnElement[bool]] = []
        equal: tuple[tuple[Any, object], ...] = (
            (g.category, self.category),
            (g.evidence_id, self.evidence_id),
            (g.origin, self.origin),
            (g.exif_make, self.make),
            (g.exif_model, self.model),
            (g.exif_serial, self.serial),
            (g.has_gps, self.has_gps),
            (g.reviewed, self.reviewed),
            (g.stack_id, self.stack_id),
        )
        for attribute, value in equal:
            if value is not None:
                found.append(attribute == value)
        if self.path_contains:
            found.append(g.path.icontains(self.path_contains, autoescape=True))
        if self.in_chats is not None:
            carried = exists(
                select(Message.id)
                .join(File, File.id == Message.file_id)
                .where(Message.case_id == g.case_id, File.sha256 == g.sha256)
            )
            found.append(carried if self.in_chats else ~carried)
        if self.date_from is not None:
            found.append(g.taken_at >= _utc(self.date_from))
        if self.date_to is not None:
            end = self.date_to
            if isinstance(end, datetime):
                found.append(g.taken_at <= _utc(end))
            else:
                found.append(g.taken_at < _utc(end + timedelta(days=1)))
        return found


@dataclass(frozen=True)
class GalleryPicture:
    """One picture of a page, detached from the session (the web app renders it after commit)."""

    file_id: int
    evidence_id: int
    tier: int
    rank: int
    category: str | None
    match_category: str | None
    reviewed: bool
    origin: str | None
    path: str
    exif_make: str | None
    exif_model: str | None
    exif_serial: str | None
    taken_at: datetime | None
    has_gps: bool
    sha256: str | None
    pdq: str | None
    width: int | None
    height: int | None
    size: int | None
    stack_id: int | None

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.tier, self.rank, self.file_id)


_PICTURE_COLUMNS = tuple(getattr(GalleryItem, name) for name in GalleryPicture.__dataclass_fields__)


@dataclass(frozen=True)
class GalleryPage:
    items: list[GalleryPicture]
    next_cursor: Cursor | None  # None: this is the last page
    filters: GalleryFilter = field(default_factory=GalleryFilter)


def page(
    session: Session,
    case_id: int,
    filters: GalleryFilter | None = None,
    after: Cursor | None = None,
    limit: int = DEFAULT_LIMIT,
) -> GalleryPage:
    """The next `limit` pictures of the case after `after` (None: the first page), in gallery order."""
    filters = filters or GalleryFilter()
    rows: list[Any] = []
    # One row more than asked for tells whether another page follows.
    for statement in page_statements(case_id, filters, after, limit):
        rows.extend(session.execute(statement.limit(limit + 1 - len(rows))).all())
        if len(rows) > limit:
            break
    items = [GalleryPicture(*row) for row in rows[:limit]]
    next_cursor = items[-1].cursor if len(rows) > limit else None
    return GalleryPage(items, next_cursor, filters)


def page_statements(
    case_id: int, filters: GalleryFilter, after: Cursor | None, limit: int = DEFAULT_LIMIT
) -> list[Select[Any]]:
    """The SELECTs behind `page`, in gallery order (without LIMIT): each is read only if the ones before
    it did not fill the page.

    Each is one range of the index whose leading columns the filters fix (category, camera serial,
    evidence item, or none), never OFFSET. The keyset `(tier, rank, file_id) > (t, r, f)` is read as
    two ranges: the rest of the cursor's own (tier, rank) group, `tier = t AND rank = r AND file_id > f`,
    then `(tier, rank) > (t, r)`. SQLite cannot seek on the full row value here: file_id is its rowid,
    which it leaves out of a row-value range, so it would seek to the start of the (tier, rank) group
    and step over every row before the cursor (80 ms at 500,000 rows into a group, against 1 ms for the
    two ranges). When the filter fixes the tier, the ranges are on rank and file_id alone.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit={limit} is out of range; ask for 1 to {MAX_LIMIT} pictures a page")
    scale = CategoryMap.default().order
    if filters.category is not None and filters.category not in scale:
        raise ValueError(
            f"category {filters.category!r} is not on the internal scale; use one of {', '.join(scale)}"
        )
    g = GalleryItem
    base = select(*_PICTURE_COLUMNS).where(g.case_id == case_id, *filters.conditions())
    tier = filters.tier()
    if tier is not None:
        base = base.where(g.tier == tier)
    ranges: list[Select[Any]]
    if after is None or (tier is not None and after.tier < tier):
        ranges = [base]
    elif tier is not None and after.tier > tier:
        ranges = []
    else:
        same_group = base.where(g.rank == after.rank, g.file_id > after.file_id)
        if tier is None:
            ranges = [
                same_group.where(g.tier == after.tier),
                base.where(tuple_(g.tier, g.rank) > tuple_(after.tier, after.rank)),
            ]
        else:
            ranges = [same_group, base.where(g.rank > after.rank)]
    return [statement.order_by(g.tier, g.rank, g.file_id) for statement in ranges]
