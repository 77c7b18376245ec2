"""Where a picture comes in the gallery: its tier (what the hash sets say) and its rank (where it was found).

A reviewer has hours, not weeks, and a case holds hundreds of thousands of pictures. The order puts
first what most likely shows a child no one has identified yet:

Tier (by the picture's current matches; retired matches do not count):

- `TIER_NEW` (0): in no alert and no ignore set. Unknown material is where unidentified victims are, so
  it comes before known material.
- `TIER_ALERT` (1): matched by at least one alert set (whatever ignore sets say too).
- `TIER_IGNORED` (2): matched only by ignore sets (known software, known harmless pictures).

Rank within a tier (small integers, lower first):

- `RANK_FIRST` (0): the camera roll and chat apps (origins camera, whatsapp, telegram, signal, snapchat,
  instagram, messenger, facebook; see `himaya.sources.phone` and docs/evidence.md), and any large picture
  (short side >= `LARGE_SIDE` px) wherever it was found: what a person took, sent or received.
- `RANK_USER` (1): the user's other pictures: downloads, screenshots, other apps' storage.
- `RANK_UNKNOWN` (2): everything else (an ordinary folder, a memory card without DCIM, no origin).
- `RANK_LAST` (3): icons (`.ico`, `image/x-icon`), cache tiles (origins thumbnails-cache and
  browser-cache, which include the members of thumbcache_*.db, Thumbs.db and .thumbdata files) and tiny
  pictures (short side < `TINY_SIDE` px or under `TINY_BYTES`). A thumbnail cache can hold the only copy
  of a deleted picture, so these are ranked last, never hidden.

`rank_of` is the rule in Python; `rank_sql` is the same rule as a SQL expression, so that the gallery of
a million pictures is built by one INSERT ... SELECT. The tests hold the two to the same answers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_

TIER_NEW = 0
TIER_ALERT = 1
TIER_IGNORED = 2

RANK_FIRST = 0
RANK_USER = 1
RANK_UNKNOWN = 2
RANK_LAST = 3

LARGE_SIDE = 1000  # px, short side: a phone camera's photo (1080 and up), not a web thumbnail
TINY_SIDE = 100  # px, short side
TINY_BYTES = 4096

FIRST_ORIGINS = ("camera", "whatsapp", "telegram", "signal", "snapchat", "instagram", "messenger", "facebook")
USER_ORIGINS = ("downloads", "screenshots", "app-data")
CACHE_ORIGINS = ("thumbnails-cache", "browser-cache")
ICON_MIMES = ("image/x-icon", "image/vnd.microsoft.icon")
ICON_SUFFIX = ".ico"


def _short_side(width: int | None, height: int | None) -> int | None:
    if width is None or height is None:
        return None
    return min(width, height)


def rank_of(
    origin: str | None,
    mime: str | None,
    width: int | None,
    height: int | None,
    size: int | None,
    path: str,
) -> int:
    """The rank of one picture (see the module docstring); an unknown dimension or size never makes a
    picture tiny or large."""
    short = _short_side(width, height)
    icon = mime in ICON_MIMES or path.lower().endswith(ICON_SUFFIX)
    tiny = (short is not None and short < TINY_SIDE) or (size is not None and size < TINY_BYTES)
    if icon or tiny or origin in CACHE_ORIGINS:
        return RANK_LAST
    if origin in FIRST_ORIGINS or (short is not None and short >= LARGE_SIDE):
        return RANK_FIRST
    if origin in USER_ORIGINS:
        return RANK_USER
    return RANK_UNKNOWN


def rank_sql(origin: Any, mime: Any, width: Any, height: Any, size: Any, path: Any) -> ColumnElement[int]:
    """`rank_of` over columns: the same rule as one CASE expression (SQLite and PostgreSQL).

    SQL's three-valued logic does the None handling: a comparison with NULL is never true, so an unknown
    dimension, size or origin falls through to the next rule exactly as in `rank_of`.
    """
    short = case((width < height, width), else_=height)
    small = or_(and_(width.is_not(None), height.is_not(None), short < TINY_SIDE), size < TINY_BYTES)
    icon = or_(mime.in_(ICON_MIMES), func.lower(path).like("%" + ICON_SUFFIX))
    large = and_(width.is_not(None), height.is_not(None), short >= LARGE_SIDE)
    return case(
        (or_(icon, small, origin.in_(CACHE_ORIGINS)), literal(RANK_LAST)),
        (or_(origin.in_(FIRST_ORIGINS), large), literal(RANK_FIRST)),
        (origin.in_(USER_ORIGINS), literal(RANK_USER)),
        else_=literal(RANK_UNKNOWN),
    )
