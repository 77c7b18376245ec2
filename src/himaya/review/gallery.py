"""The review gallery of a case: one denormalised row per picture, sorted, filtered and paged in SQL.

Why a derived table: the gallery's order (tier, rank, file id; see `himaya.review.ranking`) and its
filters (category, camera serial, date taken, evidence item, ...) join five tables when read from the
scan's own records. A page of 200 out of a million pictures must come back in well under a tenth of a
second on SQLite and on PostgreSQL, so `refresh` writes `gallery_items` once after a scan (and again
after a re-match or an import), and a page is then one index range scan of that table.

Pages of these rows (filters, keyset cursor) are read by `himaya.review.pages`.

Dates: `taken_at` is the camera's own clock (EXIF DateTimeOriginal, "YYYY:MM:DD HH:MM:SS"), never a
file-system time: a copied or downloaded file's times say when it was copied, not when the picture was
taken. EXIF has no time zone, so the wall-clock value is stored as if it were UTC and shown unchanged.
A date that is not a real date ("2024:02:30 ...", an unset clock) is left out rather than guessed.

Categories: `match_category` is the most severe internal category among the picture's current alert
matches (as `himaya.reports.records.file_category` reads it; retired matches do not count);
`category` is the latest review decision for the content (its SHA-256, every copy alike) when there is
one, else `match_category`.

Every function takes the caller's session and leaves committing to it, so the web app can write its
audit event in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Float,
    Integer,
    Table,
    and_,
    bindparam,
    case,
    cast,
    column,
    delete,
    extract,
    func,
    insert,
    literal,
    or_,
    select,
    table,
    text,
    update,
)
from sqlalchemy.orm import Session

from himaya.hashsets.categories import CategoryMap
from himaya.review.ranking import (
    RANK_FIRST,
    RANK_LAST,
    RANK_UNKNOWN,
    RANK_USER,
    TIER_ALERT,
    TIER_IGNORED,
    TIER_NEW,
    rank_sql,
)
from himaya.store.models import EvidenceItem, File, GalleryItem, MediaFacts, Review

CHUNK = 500  # ids per IN list: well under SQLite's bound-parameter limit
SQLITE_REFRESH_CACHE_KIB = 64 * 1024
ANALYZE_AFTER_ROWS = 10_000  # a refresh that inserted more leaves fresh statistics for the gallery's pages
T = TypeVar("T")

# ASCII digits only, as in SQL: Python's \d would also take Arabic-Indic digits, which SQL's [0-9] does not.
_EXIF_DATETIME = re.compile(r"([0-9]{4}):([0-9]{2}):([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})")


# -- dates -----------------------------------------------------------------------------------------------


def parse_exif_datetime(value: str | None) -> datetime | None:
    """EXIF "YYYY:MM:DD HH:MM:SS" (anything after the seconds ignored) as UTC; None unless a real date.

    The rule `refresh` applies in SQL (`taken_at_sql`), written out in Python for readers and tests.
    """
    if value is None:
        return None
    found = _EXIF_DATETIME.match(value)
    if found is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in found.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:  # 2024:02:30, hour 24, year 0000
        return None


def taken_at_sql(dialect: str, column: Any) -> ColumnElement[Any]:
    """`parse_exif_datetime` as a SQL expression of `dialect` ("sqlite" or "postgresql").

    SQLite keeps SQLAlchemy's DateTime as text "YYYY-MM-DD HH:MM:SS.ffffff": the EXIF text is rewritten
    to it, and accepted only when SQLite's own date arithmetic gives it back unchanged (which rejects
    February 30th and hour 24, which SQLite would otherwise roll over). PostgreSQL would abort the whole
    statement on an invalid date, so each step is guarded by a CASE before the next one is evaluated
    (PostgreSQL evaluates a CASE's branches only when reached).
    """
    d = column
    if dialect == "sqlite":
        iso = func.printf(
            "%s-%s-%s %s",
            func.substr(d, 1, 4),
            func.substr(d, 6, 2),
            func.substr(d, 9, 2),
            func.substr(d, 12, 8),
        )
        pattern = "[0-9][0-9][0-9][0-9]:[0-9][0-9]:[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]*"
        return case(
            (
                and_(
                    d.op("GLOB")(pattern),
                    func.substr(d, 1, 4) != "0000",
                    func.datetime(iso, "+0 seconds") == iso,
                ),
                func.printf("%s.000000", iso),
            ),
            else_=None,
        )

    def part(start: int, length: int) -> ColumnElement[int]:
        return cast(func.substr(d, start, length), Integer)

    year, month, day = part(1, 4), part(6, 2), part(9, 2)
    hour, minute, second = part(12, 2), part(15, 2), part(18, 2)
    shape = d.op("~")(
        r"^[0-9]{4}:(0[1-9]|1[0-2]):(0[1-9]|[12][0-9]|3[01]) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    )
    # make_date(y, m, 1) cannot fail once the month is known good; adding day - 1 days and finding the
    # same day of the month again proves the day exists in that month.
    real_day = extract("day", func.make_date(year, month, 1) + (day - 1)) == day
    stamp = func.make_timestamptz(year, month, day, hour, minute, cast(second, Float), "UTC")
    return case(
        (
            and_(shape, func.substr(d, 1, 4) != "0000"),
            case((real_day, stamp), else_=None),
        ),
        else_=None,
    ).cast(DateTime(timezone=True))


# -- scratch tables ----------------------------------------------------------------------------------------


@contextmanager
def scratch_table(session: Session, name: str, columns: str) -> Iterator[Connection]:
    """A temporary table `name` (`columns` as in CREATE TABLE) for the length of the block.

    Temporary tables are private to the connection and, on SQLite, live outside the store file, so they
    take no lock on it. `name` and `columns` are this package's constants, never user input.
    """
    connection = session.connection()
    connection.execute(text(f"DROP TABLE IF EXISTS {name}"))
    connection.execute(text(f"CREATE TEMPORARY TABLE {name} ({columns})"))
    yield connection
    # Not in a `finally`: after an error the transaction is rolled back, which takes the table with it
    # (and on PostgreSQL any statement in the failed transaction would hide the error).
    connection.execute(text(f"DROP TABLE IF EXISTS {name}"))


def _analyze(connection: Connection, name: str) -> None:
    # PostgreSQL's autovacuum never analyses temporary tables; without statistics the planner guesses.
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"ANALYZE {name}"))


def _distinct(connection: Connection) -> str:
    """Null-safe "differs": SQLite before 3.39 has no IS DISTINCT FROM, but its IS NOT means the same."""
    return "IS NOT" if connection.dialect.name == "sqlite" else "IS DISTINCT FROM"


def cast_table(model: type[Any]) -> Table:
    """A model's Core table, for executemany statements that must not go through the ORM's bulk paths."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def chunked(values: Sequence[T], size: int = CHUNK) -> Iterator[list[T]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


# -- refresh -------------------------------------------------------------------------------------------


def refresh(
    session: Session,
    case_id: int,
    file_ids: Iterable[int] | None = None,
    *,
    only_new: bool = False,
    categories: CategoryMap | None = None,
) -> int:
    """Bring the case's gallery rows up to date; returns how many rows were written (inserted or rebuilt).

    Default: a row is inserted for every decoded picture of the case (a file with media facts holding a
    PDQ hash or a thumbnail) that has none yet, and every row's tier, match category, category and
    reviewed flag is brought in line with the current matches and reviews (only rows that change are
    written). Call it after a scan, a re-match or a hash-set import.

    `only_new`: the cheap catch-up for a page view while a scan is still writing: only pictures with a
    file id above the highest one the case's gallery holds are added; nothing else is recomputed. A file
    stored earlier and given its picture facts later (a resumed scan re-reading a file in place) waits
    for the next full refresh.

    `file_ids`: only those files' rows are rebuilt from scratch (their near-duplicate stack kept).

    `categories`: the unit's category map (`CategoryMap.load(home)`); the built-in one when None.
    """
    categories = categories or CategoryMap.default()
    with _roomy_cache(session):
        if file_ids is None:
            after = _highest_file_id(session, case_id) if only_new else None
            scope = _Scope(case_id, after=after)
            if after is not None and not _any_new_picture(session, scope):
                return 0  # the usual answer to a page view: spare it the scratch tables
            if after is None:
                _fresh_statistics(session, ("files", "media_facts", "matches", "reviews", "gallery_items"))
            written = _refresh(session, scope, categories)
            if written > ANALYZE_AFTER_ROWS:
                _fresh_statistics(session, ("gallery_items",))
            return written
        written = 0
        for chunk in chunked(sorted(set(file_ids))):
            stacks = {
                file_id: stack_id
                for file_id, stack_id in session.execute(
                    select(GalleryItem.file_id, GalleryItem.stack_id).where(
                        GalleryItem.case_id == case_id,
                        GalleryItem.file_id.in_(chunk),
                        GalleryItem.stack_id.is_not(None),
                    )
                )
            }
            session.execute(
                delete(GalleryItem).where(GalleryItem.case_id == case_id, GalleryItem.file_id.in_(chunk))
            )
            written += _refresh(session, _Scope(case_id, file_ids=chunk), categories)
            if stacks:
                table = cast_table(GalleryItem)
                session.connection().execute(
                    update(table)
                    .where(table.c.file_id == bindparam("fid"))
                    .values(stack_id=bindparam("sid")),
                    [{"fid": fid, "sid": sid} for fid, sid in stacks.items()],
                )
        return written


def _fresh_statistics(session: Session, tables: Sequence[str]) -> None:
    """PostgreSQL only: ANALYZE the tables a full refresh reads (and, after a large insert, the gallery).

    A scan that has just written a million files leaves the planner's statistics behind until
    autovacuum comes round; planning the INSERT ... SELECT on a table believed empty chose nested loops
    that re-read the table being written for every row (stopped after 8 minutes where 60 s was due).
    ANALYZE samples 30,000 rows a table: about a second for all of them at a million files.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        for name in tables:
            connection.execute(text(f"ANALYZE {name}"))


@contextmanager
def _roomy_cache(session: Session) -> Iterator[None]:
    """SQLite only: a 64 MiB page cache (instead of 2 MiB) while the gallery is written. Inserting a
    million rows updates the (case, sha256) index in random order; with the larger cache a first refresh
    of a million pictures took 27 s instead of 34 s (bench/bench_gallery.py). Restored afterwards: the
    connection goes back to the pool."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    previous = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size = {-SQLITE_REFRESH_CACHE_KIB}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(previous or -2000)}")


def _highest_file_id(session: Session, case_id: int) -> int:
    """The highest file id in the case's gallery (0: none).

    One backward seek of the order index per (tier, rank) group, a dozen in all: `ORDER BY file_id DESC`
    over the whole case would walk the primary key through every later case's rows first."""
    g = GalleryItem
    groups = [
        select(g.file_id)
        .where(g.case_id == case_id, g.tier == tier, g.rank == rank)
        .order_by(g.file_id.desc())
        .limit(1)
        .scalar_subquery()
        for tier in (TIER_NEW, TIER_ALERT, TIER_IGNORED)
        for rank in (RANK_FIRST, RANK_USER, RANK_UNKNOWN, RANK_LAST)
    ]
    found = session.execute(select(*groups)).one()
    return max((int(value) for value in found if value is not None), default=0)


def _any_new_picture(session: Session, scope: _Scope) -> bool:
    found = session.scalar(
        select(File.id)
        .join(EvidenceItem, EvidenceItem.id == File.evidence_id)
        .join(MediaFacts, MediaFacts.file_id == File.id)
        .where(
            EvidenceItem.case_id == scope.case_id,
            or_(MediaFacts.pdq.is_not(None), MediaFacts.thumbnail_blob.is_not(None)),
            *scope.files(),
        )
        .limit(1)
    )
    return found is not None


# The SQL below names only this module's constant tables and columns; every value is a bound parameter.
_LABELS = "himaya_gallery_labels"
_STATE = "himaya_gallery_state"
_DECIDED = "himaya_gallery_decided"
_DECIDED_COLUMNS = "sha256 VARCHAR(64) PRIMARY KEY, category VARCHAR(40)"
_NEW = "himaya_gallery_new"
# The current matches of the case's files, with their set (kind), version (scheme) and entry (label).
_LIVE_MATCHES = (
    "FROM files f JOIN evidence_items ev ON ev.id = f.evidence_id "
    "JOIN matches m ON m.file_id = f.id "
    "JOIN hash_set_versions v ON v.id = m.hash_set_version_id "
    "JOIN hash_sets s ON s.id = v.hash_set_id "
    "JOIN hash_entries e ON e.id = m.entry_id "
)
_LIVE_WHERE = "WHERE ev.case_id = :case_id AND m.retired_at IS NULL"
# Null-safe without IS DISTINCT FROM: the labels table holds a few dozen rows, with '' standing for NULL.
_LABEL_JOIN = "l.label = COALESCE(e.category, '') AND l.scheme = COALESCE(v.category_scheme, '')"
_state = table(_STATE, column("file_id"), column("tier"), column("category"))
_decided = table(_DECIDED, column("sha256"), column("category"))
_new = table(_NEW, column("file_id"))


@dataclass(frozen=True)
class _Scope:
    """Which rows a refresh covers: the whole case, the files in `file_ids`, or those above `after`."""

    case_id: int
    file_ids: list[int] | None = None
    after: int | None = None

    def clause(self, file_id: str) -> str:
        """The scope as SQL text on the column `file_id` ("f.id", "gallery_items.file_id")."""
        if self.file_ids is not None:
            return f" AND {file_id} IN :scope"
        if self.after is not None:
            return f" AND {file_id} > :after"
        return ""

    def files(self) -> list[ColumnElement[bool]]:
        """The same, as conditions on `files` for Core statements."""
        if self.file_ids is not None:
            return [File.id.in_(self.file_ids)]
        if self.after is not None:
            return [File.id > self.after]
        return []

    def sql(self, statement: str) -> Any:
        query = text(statement)
        if self.file_ids is not None:
            query = query.bindparams(bindparam("scope", expanding=True))
        return query

    def params(self, **extra: Any) -> dict[str, Any]:
        scope: dict[str, Any] = {"scope": self.file_ids} if self.file_ids is not None else {}
        if self.after is not None:
            scope["after"] = self.after
        return {"case_id": self.case_id, **scope, **extra}


def _refresh(session: Session, scope: _Scope, categories: CategoryMap) -> int:
    """What the matches and reviews say of each file in scope is worked out once, in scratch tables;
    new rows are inserted with it, existing rows are updated where they differ from it."""
    with (
        scratch_table(session, _LABELS, "label TEXT, scheme TEXT, severity INTEGER") as connection,
        scratch_table(session, _STATE, "file_id INTEGER PRIMARY KEY, tier INTEGER, category VARCHAR(40)"),
        scratch_table(session, _DECIDED, _DECIDED_COLUMNS),
        scratch_table(session, _NEW, "file_id INTEGER PRIMARY KEY"),
    ):
        _fill_state(connection, scope, categories)
        _fill_decided(connection, scope.case_id)
        inserted = _insert_rows(session, scope) if _fill_new(session, scope) else 0
        if scope.after is None:  # above `after` every row was just inserted, complete
            _update_tiers(connection, scope)
            _update_decisions(connection, scope)
    return inserted


def _fill_state(connection: Connection, scope: _Scope, categories: CategoryMap) -> None:
    """One row per matched file in scope: its tier, and the most severe category of its alert matches."""
    # The labels among the case's alert matches, each mapped to its category's severity here in Python:
    # the mapping is data, which a unit may override, and these are a few dozen rows.
    pairs = connection.execute(
        scope.sql(
            f"SELECT DISTINCT e.category, v.category_scheme {_LIVE_MATCHES}{_LIVE_WHERE} "
            f"AND s.kind = 'alert'{scope.clause('f.id')}"
        ),
        scope.params(),
    ).all()
    if pairs:
        connection.execute(
            text(f"INSERT INTO {_LABELS} (label, scheme, severity) VALUES (:label, :scheme, :severity)"),  # noqa: S608
            [
                {
                    "label": label or "",
                    "scheme": scheme or "",
                    "severity": categories.severity(categories.internal(label, scheme)),
                }
                for label, scheme in pairs
            ],
        )
    named = " ".join(f"WHEN {n} THEN :category_{n}" for n in range(len(categories.order)))
    connection.execute(
        scope.sql(
            f"INSERT INTO {_STATE} (file_id, tier, category) "
            "SELECT m.file_id, "
            f"CASE WHEN MAX(CASE WHEN s.kind = 'alert' THEN 1 ELSE 0 END) = 1 "
            f"THEN {TIER_ALERT} ELSE {TIER_IGNORED} END, "
            f"CASE MIN(CASE WHEN s.kind = 'alert' THEN l.severity END) {named} END "
            f"{_LIVE_MATCHES}LEFT JOIN {_LABELS} l ON {_LABEL_JOIN} "
            f"{_LIVE_WHERE}{scope.clause('f.id')} GROUP BY m.file_id"
        ),
        scope.params(**{f"category_{n}": name for n, name in enumerate(categories.order)}),
    )
    _analyze(connection, _STATE)


def _fill_decided(connection: Connection, case_id: int) -> None:
    """The decision in force for each reviewed content of the case: its latest review."""
    connection.execute(
        text(
            f"INSERT INTO {_DECIDED} (sha256, category) SELECT r.sha256, r.category FROM reviews r "  # noqa: S608
            "WHERE r.case_id = :case_id AND r.id = "
            "(SELECT MAX(r2.id) FROM reviews r2 WHERE r2.case_id = :case_id AND r2.sha256 = r.sha256)"
        ),
        {"case_id": case_id},
    )
    _analyze(connection, _DECIDED)


_INSERTED = (
    "file_id",
    "case_id",
    "evidence_id",
    "tier",
    "rank",
    "match_category",
    "category",
    "reviewed",
    "origin",
    "path",
    "exif_make",
    "exif_model",
    "exif_serial",
    "taken_at",
    "has_gps",
    "sha256",
    "pdq",
    "width",
    "height",
    "size",
)


def _fill_new(session: Session, scope: _Scope) -> int:
    """The pictures in scope that have no gallery row yet, listed before any is inserted.

    Not a NOT EXISTS inside the INSERT itself: there the table being written is also read, and with
    stale statistics PostgreSQL re-read it once per inserted row (a million rows: stopped after 8 min).
    """
    found = (
        select(File.id)
        .join(EvidenceItem, EvidenceItem.id == File.evidence_id)
        .join(MediaFacts, MediaFacts.file_id == File.id)
        .where(
            EvidenceItem.case_id == scope.case_id,
            or_(MediaFacts.pdq.is_not(None), MediaFacts.thumbnail_blob.is_not(None)),
            ~select(GalleryItem.file_id).where(GalleryItem.file_id == File.id).exists(),
            *scope.files(),
        )
    )
    result = session.execute(
        insert(_new).from_select(["file_id"], found).execution_options(preserve_rowcount=True)
    )
    _analyze(session.connection(), _NEW)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _insert_rows(session: Session, scope: _Scope) -> int:
    """One INSERT ... SELECT of the listed new pictures, complete: rank and date taken are computed by
    the database, tier and categories come from the scratch tables."""
    dialect = session.get_bind().dialect.name
    rank = rank_sql(File.origin, File.mime, MediaFacts.width, MediaFacts.height, File.size, File.path)
    source = (
        select(
            File.id,
            EvidenceItem.case_id,
            File.evidence_id,
            func.coalesce(_state.c.tier, literal(TIER_NEW, Integer)),
            rank,
            _state.c.category,
            func.coalesce(_decided.c.category, _state.c.category),
            _decided.c.sha256.is_not(None),
            File.origin,
            File.path,
            MediaFacts.exif_make,
            MediaFacts.exif_model,
            MediaFacts.exif_serial,
            taken_at_sql(dialect, MediaFacts.exif_datetime),
            MediaFacts.gps_lat.is_not(None),
            File.sha256,
            MediaFacts.pdq,
            MediaFacts.width,
            MediaFacts.height,
            File.size,
        )
        .select_from(_new)
        .join(File, File.id == _new.c.file_id)
        .join(EvidenceItem, EvidenceItem.id == File.evidence_id)
        .join(MediaFacts, MediaFacts.file_id == File.id)
        .outerjoin(_state, _state.c.file_id == File.id)
        .outerjoin(_decided, _decided.c.sha256 == File.sha256)
    )
    # preserve_rowcount: SQLAlchemy otherwise reports -1 for an INSERT on psycopg.
    statement = insert(GalleryItem).from_select(list(_INSERTED), source)
    result = session.execute(statement.execution_options(preserve_rowcount=True))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _update_tiers(connection: Connection, scope: _Scope) -> None:
    """Existing rows whose tier or match category the matches no longer support. Only rows that change
    are written: an UPDATE of every row would rewrite a million index entries."""
    differs = _distinct(connection)
    connection.execute(
        scope.sql(
            f"UPDATE gallery_items SET tier = st.tier, match_category = st.category FROM {_STATE} st "  # noqa: S608
            "WHERE st.file_id = gallery_items.file_id AND gallery_items.case_id = :case_id "
            f"AND (gallery_items.tier <> st.tier OR gallery_items.match_category {differs} st.category)"
            f"{scope.clause('gallery_items.file_id')}"
        ),
        scope.params(),
    )
    connection.execute(
        scope.sql(
            f"UPDATE gallery_items SET tier = {TIER_NEW}, match_category = NULL "  # noqa: S608
            f"WHERE case_id = :case_id AND (tier <> {TIER_NEW} OR match_category IS NOT NULL) "
            f"AND NOT EXISTS (SELECT 1 FROM {_STATE} st WHERE st.file_id = gallery_items.file_id)"
            f"{scope.clause('gallery_items.file_id')}"
        ),
        scope.params(),
    )


def _update_decisions(connection: Connection, scope: _Scope) -> None:
    """Existing rows' category and reviewed flag: the decision in force, else the match category."""
    differs = _distinct(connection)
    connection.execute(
        scope.sql(
            f"UPDATE gallery_items SET category = d.category, reviewed = TRUE FROM {_DECIDED} d "  # noqa: S608
            "WHERE d.sha256 = gallery_items.sha256 AND gallery_items.case_id = :case_id "
            f"AND (NOT gallery_items.reviewed OR gallery_items.category {differs} d.category)"
            f"{scope.clause('gallery_items.file_id')}"
        ),
        scope.params(),
    )
    connection.execute(
        scope.sql(
            "UPDATE gallery_items SET category = match_category, reviewed = FALSE "  # noqa: S608
            f"WHERE case_id = :case_id AND (reviewed OR category {differs} match_category) "
            f"AND NOT EXISTS (SELECT 1 FROM {_DECIDED} d WHERE d.sha256 = gallery_items.sha256)"
            f"{scope.clause('gallery_items.file_id')}"
        ),
        scope.params(),
    )


def apply_reviews(session: Session, case_id: int, file_ids: list[int] | None = None) -> None:
    """`category` and `reviewed` of the case's rows (or of `file_ids`' rows) from the latest review of
    each content, falling back to the match category where the content was never reviewed."""
    with scratch_table(
        session, _DECIDED, "sha256 VARCHAR(64) PRIMARY KEY, category VARCHAR(40)"
    ) as connection:
        _fill_decided(connection, case_id)
        if file_ids is None:
            _update_decisions(connection, _Scope(case_id))
        for chunk in chunked(file_ids or []):
            _update_decisions(connection, _Scope(case_id, file_ids=chunk))


def counts(session: Session, case_id: int) -> dict[str, Any]:
    """The case page's figures: pictures, new / matched / ignored (by tier), reviewed, and pictures per
    category (`by_category`, most severe first; categories with no picture left out).

    Five small queries, each answered from an index, rather than one GROUP BY over every row: at a
    million pictures that was 1.8 s on SQLite (a table read per row for the reviewed flag), this ~0.15 s.
    """
    g = GalleryItem
    in_case = g.case_id == case_id

    def count(*conditions: ColumnElement[bool]) -> int:
        return int(session.scalar(select(func.count()).select_from(g).where(in_case, *conditions)) or 0)

    pictures = count()
    matched = count(g.tier == TIER_ALERT)
    ignored = count(g.tier == TIER_IGNORED)
    # Reviewed rows are copies of reviewed contents: found through the (case, sha256) index.
    reviewed_contents = select(Review.sha256).where(Review.case_id == case_id)
    reviewed = count(g.sha256.in_(reviewed_contents), g.reviewed.is_(True))
    rows = session.execute(
        select(g.category, func.count()).where(in_case, g.category.is_not(None)).group_by(g.category)
    ).all()
    scale = CategoryMap.default()
    found = {str(category): int(n) for category, n in rows}
    by_category = {name: found[name] for name in sorted(found, key=lambda name: (scale.severity(name), name))}
    return {
        "pictures": pictures,
        "new": pictures - matched - ignored,
        "matched": matched,
        "ignored": ignored,
        "reviewed": reviewed,
        "by_category": by_category,
    }
