"""NIST NSRL RDS v3: known software files, looked up in place in NIST's own SQLite database.

Since 2022 the RDS ships as an SQLite database of hundreds of millions of rows (the "modern" set alone
holds over 400 million `FILE` rows). Copying that into the store would take hours and double the disk
it needs, so the database is opened read-only where it lies and asked only about the digests a case has.

Opening is read-only twice over: the URI says `mode=ro` (SQLite refuses every write) and `immutable=1`
(SQLite takes no locks and writes no journal, so a copy on write-blocked or optical media works, and the
file's bytes and times stay as NIST published them, which its published hash lets anyone check).

The layout is NIST's: a `FILE` table (or view) with `sha256`, `sha1`, `md5` (upper-case hex), `file_name`,
`file_size` and `package_id`, and a `VERSION` table. In the "minimal" publication `FILE`'s primary key is
(sha256, sha1, md5, crc32, ...), so only SHA256 has an index it can search by; SHA1 and MD5 have one only
if the examiner added it. A lookup by a column without an index would scan every row for every batch,
hours per case, so such a column is not used at all (see `NsrlDatabase.hash_types`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from himaya.errors import HashSetFormatError
from himaya.hashsets.entries import HEX_DIGITS

__all__ = ["LOOKUP_BATCH", "NSRL_HASH_TYPES", "SQLITE_MAGIC", "NsrlDatabase", "is_sqlite"]

NsrlHashType = Literal["sha256", "sha1", "md5"]
# In order of preference: a lookup needs only one of them to hit.
NSRL_HASH_TYPES: tuple[NsrlHashType, ...] = ("sha256", "sha1", "md5")
REQUIRED_COLUMNS = frozenset({"sha256", "sha1", "md5", "file_name", "file_size", "package_id"})
SQLITE_MAGIC = b"SQLite format 3\x00"
# SQLite's default limit on host parameters was 999 before 3.32; 900 leaves room under it. Each digest
# is asked for in upper and lower case, so a batch holds 450 digests.
LOOKUP_BATCH = 900

_LAYOUT_HINT = (
    "open the RDS v3 SQLite database as NIST publishes it (e.g. RDS_2024.03.1_modern_minimal.db, "
    "extracted from its .zip)"
)
_DAMAGED_HINT = "the copy looks damaged or incomplete: extract it again from NIST's .zip and check its hash"


def is_sqlite(head: bytes) -> bool:
    return head.startswith(SQLITE_MAGIC)


class NsrlDatabase:
    """A read-only NSRL RDS v3 database. Use `NsrlDatabase.open(path)`; close it (or use `with`)."""

    def __init__(
        self,
        path: Path,
        connection: sqlite3.Connection,
        hash_types: tuple[NsrlHashType, ...],
        version: dict[str, str],
        is_view: bool,
    ) -> None:
        self.path = path
        self._connection = connection
        # The digest kinds that lookups use: those with an index to search by, best first.
        self.hash_types = hash_types
        self.version: str | None = version.get("version")
        self._version_row = version
        self._is_view = is_view

    @classmethod
    def open(cls, path: Path) -> NsrlDatabase:
        """Attach `path` read-only and check it has the RDS v3 layout and at least one usable index.

        Raises `HashSetFormatError` (with what to do) for a file that is not SQLite, lacks the layout, or
        has no index on sha256, sha1 or md5.
        """
        source = str(path)
        try:
            with path.open("rb") as handle:
                head = handle.read(len(SQLITE_MAGIC))
        except OSError as error:
            problem = f"cannot be read ({error.strerror})"
            raise HashSetFormatError(source, None, problem, _LAYOUT_HINT) from None
        if not is_sqlite(head):
            raise HashSetFormatError(
                source,
                None,
                "not an SQLite database, so not an NSRL RDS v3",
                "RDS v3 ships zipped: extract the .db file first; for RDS v2 text files "
                "(NSRLFile.txt) use --format plain",
            )
        connection = _connect_read_only(path)
        try:
            is_view = _file_relation(connection, source)
            _check_columns(connection, source)
            hash_types = _searchable(connection, is_view)
            if not hash_types:
                raise HashSetFormatError(
                    source,
                    None,
                    "the FILE table has no index on sha256, sha1 or md5, so every lookup would read all of "
                    "its rows",
                    "this database is opened read-only and cannot be changed here; on a writable copy run "
                    "'CREATE INDEX idx_file_sha256 ON FILE(sha256);' (and likewise for sha1 and md5) with "
                    "the sqlite3 tool, then open that copy",
                )
            version = _version(connection)
        except sqlite3.DatabaseError as error:
            connection.close()
            raise HashSetFormatError(
                source, None, f"not a readable SQLite database ({error})", _DAMAGED_HINT
            ) from None
        except BaseException:
            connection.close()
            raise
        return cls(path, connection, hash_types, version, is_view)

    def describe(self) -> dict[str, Any]:
        """What the examiner and the case report need to cite: version, size, what lookups can use."""
        return {
            "path": str(self.path),
            "version": self.version,
            "version_details": dict(self._version_row),
            "layout": "view" if self._is_view else "table",
            "rows_estimate": self._rows_estimate(),
            "hash_types": list(self.hash_types),
            "not_indexed": [kind for kind in NSRL_HASH_TYPES if kind not in self.hash_types],
        }

    def lookup(
        self, md5s: Iterable[str] = (), sha1s: Iterable[str] = (), sha256s: Iterable[str] = ()
    ) -> set[tuple[str, str]]:
        """The (hash type, lower-case hex) pairs among the given digests that the RDS holds.

        Digests of a kind without an index (not in `hash_types`) are not looked up; malformed digests
        cannot be in the RDS and are skipped. Case does not matter.
        """
        wanted: dict[NsrlHashType, Iterable[str]] = {"md5": md5s, "sha1": sha1s, "sha256": sha256s}
        found: set[tuple[str, str]] = set()
        for hash_type in self.hash_types:
            values = sorted(_well_formed(wanted[hash_type], HEX_DIGITS[hash_type]))
            per_batch = LOOKUP_BATCH // 2
            for start in range(0, len(values), per_batch):
                found.update(self._lookup_batch(hash_type, values[start : start + per_batch]))
        return found

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> NsrlDatabase:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _lookup_batch(self, hash_type: NsrlHashType, values: Sequence[str]) -> set[tuple[str, str]]:
        # NIST stores upper-case hex; a copy rebuilt by other tools may hold lower case. Asking for both
        # keeps each an indexed equality test, which lower()/upper() on the column would not be.
        parameters = [variant for value in values for variant in (value.upper(), value)]
        marks = ",".join("?" * len(parameters))
        # hash_type is one of three fixed column names, never user text.
        query = f"SELECT DISTINCT {hash_type} FROM FILE WHERE {hash_type} IN ({marks})"  # noqa: S608
        try:
            rows = self._connection.execute(query, parameters).fetchall()
        except sqlite3.DatabaseError as error:  # a damaged page, found only when a lookup reaches it
            raise HashSetFormatError(
                str(self.path), None, f"cannot be read ({error})", _DAMAGED_HINT
            ) from None
        return {(hash_type, str(row[0]).lower()) for row in rows}

    def _rows_estimate(self) -> int | None:
        """The number of FILE rows without counting them (COUNT(*) reads the whole table: minutes)."""
        try:
            stat = self._connection.execute(
                "SELECT stat FROM sqlite_stat1 WHERE tbl = 'FILE' ORDER BY idx IS NOT NULL LIMIT 1"
            ).fetchone()
        except sqlite3.OperationalError:
            stat = None  # no ANALYZE was run: no sqlite_stat1
        if stat is not None:
            first = str(stat[0]).split(" ", 1)[0]
            if first.isdigit():
                return int(first)
        if self._is_view:
            return None
        # Rows are appended, never deleted in bulk, so the largest rowid is close to the count; reading it
        # walks one path of the table's b-tree.
        try:
            row = self._connection.execute("SELECT max(rowid) FROM FILE").fetchone()
        except sqlite3.OperationalError:
            return None  # a WITHOUT ROWID table
        return int(row[0]) if row and row[0] is not None else 0


def _connect_read_only(path: Path) -> sqlite3.Connection:
    uri = path.resolve().as_uri() + "?mode=ro&immutable=1"
    try:
        connection = sqlite3.connect(uri, uri=True)
        connection.execute("PRAGMA query_only = ON")  # a second lock on the door, should a URI flag be lost
    except sqlite3.Error as error:
        raise HashSetFormatError(str(path), None, f"cannot be opened ({error})", _LAYOUT_HINT) from None
    return connection


def _file_relation(connection: sqlite3.Connection, source: str) -> bool:
    """Whether FILE is a view (True) or a table (False); refuse a database without it."""
    rows = connection.execute(
        "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
    ).fetchall()
    kinds = {str(name): str(kind) for kind, name in rows}
    kind = kinds.get("FILE")
    if kind is None:
        names = ", ".join(list(kinds)[:8]) or "none"
        raise HashSetFormatError(
            source,
            None,
            f"an SQLite database without a FILE table (tables: {names}), so not an NSRL RDS v3",
            _LAYOUT_HINT,
        )
    return kind == "view"


def _check_columns(connection: sqlite3.Connection, source: str) -> None:
    columns = {str(row[1]).lower() for row in connection.execute("PRAGMA table_info(FILE)")}
    missing = sorted(REQUIRED_COLUMNS - columns)
    if missing:
        raise HashSetFormatError(
            source,
            None,
            f"the FILE table lacks the RDS v3 column(s) {', '.join(missing)}",
            _LAYOUT_HINT,
        )


def _searchable(connection: sqlite3.Connection, is_view: bool) -> tuple[NsrlHashType, ...]:
    if is_view:
        return tuple(kind for kind in NSRL_HASH_TYPES if _plan_uses_index(connection, kind))
    # An index helps an equality lookup only through its first column: the primary key
    # (sha256, sha1, md5, ...) searches by sha256, but finding a sha1 in it means reading all of it.
    leading: set[str] = set()
    for index_row in connection.execute("PRAGMA index_list(FILE)").fetchall():
        index_name = str(index_row[1])
        if index_row[4]:  # partial index (WHERE ...): it does not hold every row
            continue
        info = connection.execute("PRAGMA index_info(" + _quoted(index_name) + ")").fetchall()
        first = next((row for row in info if row[0] == 0), None)
        if first is not None and first[2] is not None:
            leading.add(str(first[2]).lower())
    return tuple(kind for kind in NSRL_HASH_TYPES if kind in leading)


def _plan_uses_index(connection: sqlite3.Connection, column: str) -> bool:
    """For a FILE view (the full RDS), whether SQLite would search rather than scan for `column = ?`.

    NIST's full-publication view upper-cases the columns of its METADATA table, which no plain index on
    METADATA can serve; the planner is the one that knows.
    """
    plan = connection.execute(
        f"EXPLAIN QUERY PLAN SELECT 1 FROM FILE WHERE {column} = ?",  # noqa: S608 (fixed column names)
        ("",),
    ).fetchall()
    details = [str(row[-1]).upper() for row in plan]
    return bool(details) and not any(detail.startswith("SCAN") for detail in details)


def _version(connection: sqlite3.Connection) -> dict[str, str]:
    """The newest VERSION row (NIST: version, build_set, build_date, release_date, description), or {}."""
    try:
        cursor = connection.execute("SELECT * FROM VERSION ORDER BY version DESC LIMIT 1")
    except sqlite3.OperationalError:
        return {}  # no VERSION table (or no version column): a database rebuilt without it
    row = cursor.fetchone()
    if row is None:
        return {}
    names = [str(column[0]).lower() for column in cursor.description]
    return {name: str(value) for name, value in zip(names, row, strict=True) if value not in (None, "")}


def _well_formed(values: Iterable[str], digits: int) -> set[str]:
    accepted: set[str] = set()
    for value in values:
        value = value.strip().lower()
        if len(value) == digits and all(char in "0123456789abcdef" for char in value):
            accepted.add(value)
    return accepted


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
