"""Importing a hash list as the next version of a named hash set, all-or-nothing, recording what changed.

The list is streamed from its reader into a temporary staging table inside one transaction, so a list of
tens of millions of hashes is never held in memory and a bad line rolls everything back: a half-imported
list never matches. The staging table is then compared with the set's active entries in SQL: entries
the new version keeps unchanged keep their rows (and the matches made against them); withdrawn and
re-labelled entries are retired by the new version; new and re-labelled ones are added by it.

An NSRL RDS v3 database is not copied: the version records where it is, and matching looks digests up
in place (see `himaya.hashsets.nsrl`). A folder is imported as vPDQ hash files, one known video each
(see `himaya.hashsets.vpdq`); its provenance digest covers every file's name and bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from himaya.errors import HashSetFormatError, UsageError
from himaya.hashsets.categories import CategoryMap
from himaya.hashsets.entries import ParsedEntry
from himaya.hashsets.plain import check_hash_type, iter_plain
from himaya.hashsets.progress import stop_watching, watching
from himaya.hashsets.vpdq import vpdq_files
from himaya.store.db import Store
from himaya.store.models import HashEntry, HashSet, HashSetVersion

KINDS = ("alert", "ignore")
FORMATS = ("auto", "plain", "vics", "icse", "ncmec", "nsrl", "vpdq")
DEFAULT_PDQ_THRESHOLD = 31
DEFAULT_PDQ_MIN_QUALITY = 50
INSERT_CHUNK = 10_000  # rows per bulk INSERT: large enough to be fast, small enough to bound memory
STAGING = "himaya_import_staging"

_staging_metadata = MetaData()
_staging = Table(
    STAGING,
    _staging_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("hash_type", String(10)),
    Column("value", String(64)),
    Column("category", String(40)),
    Column("series", Text),
    Column("victim_identified", Boolean),
    Column("offender_identified", Boolean),
    Column("media_id", String(200)),
    Column("details", Text),
    Column("line", Integer),
    prefixes=["TEMPORARY"],
)
# What makes an entry "changed" when a new version keeps its hash: everything but where it stood.
_COMPARED = ("category", "series", "victim_identified", "offender_identified", "media_id", "details")


# (phase, bytes of the list read so far or None when unknown, the list's size, entries read)
ProgressCallback = Callable[[str, int | None, int, int], None]


def _silent(_phase: str, _read: int | None, _size: int, _entries: int) -> None:
    pass


@dataclass(frozen=True)
class ImportSummary:
    hash_set: str
    kind: str
    version: int  # 1, 2, ... within the hash set
    version_id: int  # HashSetVersion.id: what matches record and what a re-match of old cases starts from
    counts: dict[str, int]  # active entries per hash type ("md5", "sha1", "sha256", "pdq", "vpdq")
    unchanged: bool  # the file (or folder) was byte-identical to the latest version: no new version was made
    source_sha256: str | None  # None for an attached NSRL database (too large to hash on every import)
    format: str = "plain"
    category_scheme: str | None = None
    added: int = 0
    removed: int = 0
    changed: int = 0
    duplicates: int = 0  # lines that repeated a hash already read (the first one wins)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def entry_count(self) -> int:
        return sum(self.counts.values())


def import_hash_set(
    store: Store,
    path: Path,
    *,
    name: str,
    kind: str | None = None,
    fmt: str = "auto",
    hash_type: str | None = None,
    pdq_threshold: int | None = None,
    pdq_min_quality: int | None = None,
    dihedral: bool | None = None,
    vpdq_query_percent: float | None = None,
    vpdq_compared_percent: float | None = None,
    categories: CategoryMap | None = None,
    on_progress: ProgressCallback | None = None,
) -> ImportSummary:
    """Store `path` (a list's file, or a folder of vPDQ hash files) as the next version of hash set `name`
    (created if new).

    `kind` None means alert, except for an NSRL database, which can only be an ignore set.
    `pdq_threshold` / `pdq_min_quality` / `dihedral` / `vpdq_query_percent` / `vpdq_compared_percent` of
    None keep the set's current values (31 / 50 / on for alert sets / 80 / 0 when new); a value replaces
    them. `on_progress(phase, bytes_read, file_size, entries)` is called as the list is read ("reading")
    and once when it is compared ("comparing").
    """
    name = name.strip()
    if not name:
        raise UsageError("--name must not be empty; name the hash set, e.g. --name 'NCMEC-2024-06'")
    if kind is not None and kind not in KINDS:
        raise UsageError(f"--kind {kind!r} is not a hash-set kind; use --kind alert or --kind ignore")
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not a hash-set format; use one of {', '.join(FORMATS)}")
    check_hash_type(hash_type)
    _check_range("--pdq-threshold", pdq_threshold, 0, 256)
    _check_range("--pdq-min-quality", pdq_min_quality, 0, 100)
    _check_percent("--vpdq-query-percent", vpdq_query_percent)
    _check_percent("--vpdq-compared-percent", vpdq_compared_percent)
    folder = path.is_dir()
    if not folder and not path.is_file():
        raise UsageError(f"hash list {path} does not exist or is not a file; check the path")
    if folder and fmt not in ("auto", "vpdq"):
        raise UsageError(
            f"{path} is a folder, and only vPDQ hash files (one per video) are imported from a folder; "
            f"pass the {fmt} list's file instead, or --format vpdq"
        )

    from himaya.hashsets.detect import detect_format

    # A folder forced to vPDQ is not sniffed: its reader names the file and line of any problem.
    detected = "vpdq" if folder and fmt == "vpdq" else detect_format(path)
    if fmt == "auto":
        fmt = detected
    elif fmt == "plain" and detected in ("vics", "nsrl", "vpdq"):
        # A JSON or SQLite file read as lines would fail on "line 1: not hex", which hides the problem.
        raise HashSetFormatError(
            str(path), None, f"this is not a plain list but {detected.upper()}", f"use --format {detected}"
        )
    if fmt == "nsrl":
        if kind == "alert":
            raise UsageError(
                "an NSRL database lists known software files: it can only be an ignore set; "
                "pass --kind ignore (or leave --kind out)"
            )
        kind = "ignore"
    if fmt == "vpdq" and hash_type is not None:
        raise UsageError("--type does not apply to vPDQ hash files (every entry is a video); leave it out")
    kind = kind or "alert"
    request = _Request(
        name, kind, fmt, pdq_threshold, pdq_min_quality, dihedral, vpdq_query_percent, vpdq_compared_percent
    )
    if fmt == "nsrl":
        return _attach_nsrl(store, path, request)

    source_sha256 = source_digest(path)
    with store.transaction() as session:
        summary = _unchanged_outcome(session, request, source_sha256)
        if summary is not None:
            return summary

    reader = _reader(fmt, hash_type)
    with store.transaction() as session:
        summary = _import_version(
            session, path, request, reader(path), source_sha256, categories, on_progress or _silent
        )
        # The version records the file's SHA256 as provenance, so it must be the hash of the bytes read;
        # raising here, before the commit, rolls the version back.
        if source_digest(path) != source_sha256:
            raise HashSetFormatError(
                str(path),
                None,
                f"the {'folder' if folder else 'file'} changed while it was being imported",
                "wait until it is complete, then retry",
            )
        return summary


@dataclass(frozen=True)
class _Request:
    name: str
    kind: str
    fmt: str
    pdq_threshold: int | None
    pdq_min_quality: int | None
    dihedral: bool | None
    vpdq_query_percent: float | None = None
    vpdq_compared_percent: float | None = None


def _reader(fmt: str, hash_type: str | None) -> Callable[[Path], Iterator[ParsedEntry]]:
    if fmt == "vics":
        from himaya.hashsets.vics import read_vics

        return read_vics
    if fmt == "icse":
        from himaya.hashsets.icse import read_icse

        return read_icse
    if fmt == "ncmec":
        from himaya.hashsets.ncmec import read_ncmec

        if hash_type == "sha256":
            # NCMEC-style lists carry PDQ as 64 hex digits; a list of SHA256 with the same labels can only
            # be told apart by the examiner, with --type sha256.
            return lambda path: (
                replace(entry, hash_type="sha256") if entry.hash_type == "pdq" else entry
                for entry in read_ncmec(path)
            )
        return read_ncmec
    if fmt == "vpdq":
        from himaya.hashsets.vpdq import iter_vpdq

        return iter_vpdq
    return lambda path: iter_plain(path, hash_type)


def _hash_set_for(session: Session, request: _Request) -> HashSet | None:
    """The named set, after refusing a kind conflict. None: it does not exist yet."""
    hash_set = session.scalars(select(HashSet).where(HashSet.name == request.name)).one_or_none()
    if hash_set is not None and hash_set.kind != request.kind:
        raise UsageError(
            f"hash set {request.name!r} is an {hash_set.kind} set, so it cannot take a version of kind "
            f"{request.kind!r} (alert sets flag files, ignore sets clear them); pass --kind {hash_set.kind} "
            f"to add a version, or import the list under another --name"
        )
    return hash_set


def _latest(session: Session, hash_set_id: int) -> HashSetVersion | None:
    return session.scalars(
        select(HashSetVersion)
        .where(HashSetVersion.hash_set_id == hash_set_id)
        .order_by(HashSetVersion.version.desc())
        .limit(1)
    ).first()


def _unchanged_outcome(session: Session, request: _Request, source_sha256: str) -> ImportSummary | None:
    """Settle a byte-identical re-import (settings may still change). None: a new version is to be written."""
    hash_set = _hash_set_for(session, request)
    if hash_set is None:
        return None
    latest = _latest(session, hash_set.id)
    if latest is None or latest.source_sha256 != source_sha256:
        return None
    _apply_settings(hash_set, request)
    return _summary(session, hash_set, latest, unchanged=True)


def _summary(
    session: Session, hash_set: HashSet, version: HashSetVersion, *, unchanged: bool, duplicates: int = 0
) -> ImportSummary:
    details = json.loads(version.details) if version.details else {}
    counts = details.get("counts")
    if not isinstance(counts, dict):  # versions imported before the counts were recorded
        rows = session.execute(
            select(HashEntry.hash_type, func.count())
            .where(*entries_alive_at(version))
            .group_by(HashEntry.hash_type)
            .order_by(HashEntry.hash_type)
        ).all()
        counts = {hash_type: count for hash_type, count in rows}
    return ImportSummary(
        hash_set=hash_set.name,
        kind=hash_set.kind,
        version=version.version,
        version_id=version.id,
        counts=counts,
        unchanged=unchanged,
        source_sha256=version.source_sha256,
        format=version.format,
        category_scheme=version.category_scheme,
        added=version.added_count or 0,
        removed=version.removed_count or 0,
        changed=version.changed_count or 0,
        duplicates=duplicates,
        details=details,
    )


def entries_alive_at(version: HashSetVersion) -> tuple[Any, ...]:
    """Conditions selecting the entries of `version`: added at or before it, not retired by then."""
    added_by = select(HashSetVersion.id).where(
        HashSetVersion.hash_set_id == version.hash_set_id, HashSetVersion.version <= version.version
    )
    return (
        HashEntry.hash_set_id == version.hash_set_id,
        HashEntry.version_id.in_(added_by),
        (HashEntry.retired_version_id.is_(None)) | (HashEntry.retired_version_id.not_in(added_by)),
    )


def _new_version(
    session: Session, request: _Request, path: Path, source_sha256: str | None
) -> tuple[HashSet, HashSetVersion, HashSetVersion | None]:
    hash_set = _hash_set_for(session, request)
    if hash_set is None:
        hash_set = HashSet(
            name=request.name,
            kind=request.kind,
            pdq_threshold=DEFAULT_PDQ_THRESHOLD,
            pdq_min_quality=DEFAULT_PDQ_MIN_QUALITY,
            dihedral=request.kind == "alert",
        )
        session.add(hash_set)
    _apply_settings(hash_set, request)
    session.flush()
    previous = _latest(session, hash_set.id)
    version = HashSetVersion(
        hash_set_id=hash_set.id,
        version=(previous.version if previous else 0) + 1,
        source_file=str(path.resolve()),
        source_sha256=source_sha256,
        format=request.fmt,
    )
    session.add(version)
    session.flush()
    return hash_set, version, previous


def _import_version(
    session: Session,
    path: Path,
    request: _Request,
    entries: Iterable[ParsedEntry],
    source_sha256: str,
    categories: CategoryMap | None,
    on_progress: ProgressCallback,
) -> ImportSummary:
    connection = session.connection()
    _staging.drop(connection, checkfirst=True)
    _staging.create(connection)
    size = _size_of(path)
    position, token = watching()
    try:
        # Reading and staging (the long part) write only to the temporary table: on SQLite that takes no
        # lock on the store, so scans go on meanwhile; the version is written once the list is known good.
        read = _stage(connection, entries, lambda n: on_progress("reading", position.bytes_read(), size, n))
        on_progress("comparing", size, size, read)
        if read == 0:
            raise HashSetFormatError(str(path), None, "no hashes found", "check that this is the right file")
        connection.execute(text(f"CREATE INDEX ix_{STAGING}_hash ON {STAGING} (hash_type, value)"))
        duplicates = _drop_duplicates(connection)
        # Another process may have imported the same file meanwhile. Checked only now: on SQLite a read
        # of the store held across the staging would stop this transaction from writing afterwards if a
        # scan committed in between.
        unchanged = _unchanged_outcome(session, request, source_sha256)
        if unchanged is not None:
            return unchanged
        hash_set, version, previous = _new_version(session, request, path, source_sha256)
        removed, changed = _retire(connection, hash_set.id, version.id) if previous else (0, 0)
        added = _add_new(connection, hash_set.id, version.id)
        labels = connection.execute(text(f"SELECT DISTINCT category FROM {STAGING} LIMIT 1000")).scalars()  # noqa: S608
        scheme = (categories or CategoryMap.default()).scheme_of(labels, request.fmt)
    finally:
        stop_watching(token)
        _staging.drop(connection, checkfirst=True)
    version.added_count = added - changed  # a re-labelled entry is retired and added again
    version.removed_count = removed
    version.changed_count = changed
    version.category_scheme = scheme
    hash_set.category_scheme = scheme
    summary = _summary(session, hash_set, version, unchanged=False, duplicates=duplicates)
    version.entry_count = summary.entry_count
    # Kept so that loading the version's PDQ index can check its size without counting a list of millions.
    version.details = json.dumps({"counts": summary.counts}, sort_keys=True)
    return replace(summary, details={"counts": summary.counts})


def _stage(connection: Connection, entries: Iterable[ParsedEntry], staged: Callable[[int], None]) -> int:
    chunk: list[dict[str, Any]] = []
    read = 0
    for entry in entries:
        read += 1
        chunk.append(
            {
                "id": read,
                "hash_type": entry.hash_type,
                "value": entry.value,
                "category": entry.category,
                "series": entry.series,
                "victim_identified": entry.victim_identified,
                "offender_identified": entry.offender_identified,
                "media_id": entry.media_id,
                "details": entry.details,
                "line": entry.line,
            }
        )
        if len(chunk) >= INSERT_CHUNK:
            _insert_chunk(connection, chunk)
            chunk = []
            staged(read)
    if chunk:
        _insert_chunk(connection, chunk)
    return read


def _insert_chunk(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    connection.execute(insert(_staging), list(rows))


def _drop_duplicates(connection: Connection) -> int:
    result = connection.execute(
        text(
            f"DELETE FROM {STAGING} WHERE id NOT IN (SELECT MIN(id) FROM {STAGING} GROUP BY hash_type, value)"  # noqa: S608
        )
    )
    return int(result.rowcount or 0)


# The SQL below is assembled from this module's constant table and column names only; every value is a
# bound parameter, hence the S608 exemptions.
_SAME_HASH = "s.hash_type = e.hash_type AND s.value = e.value"


def _differs(connection: Connection) -> str:
    """Null-safe "not equal" on every compared column. SQLite before 3.39 (Ubuntu 22.04 ships 3.37) has
    no IS DISTINCT FROM, but its IS NOT has always meant the same."""
    operator = "IS NOT" if connection.dialect.name == "sqlite" else "IS DISTINCT FROM"
    return " OR ".join(f"s.{column} {operator} e.{column}" for column in _COMPARED)


_ACTIVE = "e.hash_set_id = :set_id AND e.retired_version_id IS NULL"


def _retire(connection: Connection, set_id: int, version_id: int) -> tuple[int, int]:
    """Retire the active entries the new list drops (removed) or labels differently (changed)."""
    differs = _differs(connection)
    params = {"set_id": set_id, "version_id": version_id}
    changed = connection.execute(
        text(
            f"SELECT COUNT(*) FROM hash_entries e WHERE {_ACTIVE} AND EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {STAGING} s WHERE {_SAME_HASH} AND ({differs}))"
        ),
        params,
    ).scalar_one()
    retired = connection.execute(
        text(
            f"UPDATE hash_entries SET retired_version_id = :version_id WHERE id IN ("  # noqa: S608
            f"SELECT e.id FROM hash_entries e WHERE {_ACTIVE} AND NOT EXISTS "
            f"(SELECT 1 FROM {STAGING} s WHERE {_SAME_HASH} AND NOT ({differs})))"
        ),
        params,
    ).rowcount
    return int(retired or 0) - int(changed), int(changed)


def _add_new(connection: Connection, set_id: int, version_id: int) -> int:
    names = ("hash_type", "value", *_COMPARED, "line")
    columns = ", ".join(names)
    staged = ", ".join(f"s.{column}" for column in names)
    result = connection.execute(
        text(
            f"INSERT INTO hash_entries (version_id, hash_set_id, {columns}) "  # noqa: S608
            f"SELECT :version_id, :set_id, {staged} FROM {STAGING} s "
            f"WHERE NOT EXISTS (SELECT 1 FROM hash_entries e WHERE {_ACTIVE} AND {_SAME_HASH}) ORDER BY s.id"
        ),
        {"set_id": set_id, "version_id": version_id},
    )
    return int(result.rowcount or 0)


def _attach_nsrl(store: Store, path: Path, request: _Request) -> ImportSummary:
    from himaya.hashsets.nsrl import NsrlDatabase

    database = NsrlDatabase.open(path)
    try:
        described = database.describe()
    finally:
        database.close()
    stat = path.stat()
    details = {**described, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    details_json = json.dumps(details, sort_keys=True, default=str)
    with store.transaction() as session:
        hash_set = _hash_set_for(session, request)
        latest = _latest(session, hash_set.id) if hash_set is not None else None
        if (
            hash_set is not None
            and latest is not None
            and latest.format == "nsrl"
            and latest.source_file == str(path.resolve())
            and latest.details == details_json
        ):
            _apply_settings(hash_set, request)
            return _summary(session, hash_set, latest, unchanged=True)
        hash_set, version, _previous = _new_version(session, request, path, None)
        version.details = details_json
        rows = described.get("rows_estimate")
        version.entry_count = int(rows) if isinstance(rows, int) else 0
        if _previous is not None:
            session.execute(
                update(HashEntry)
                .where(HashEntry.hash_set_id == hash_set.id, HashEntry.retired_version_id.is_(None))
                .values(retired_version_id=version.id)
            )
        session.flush()
        summary = _summary(session, hash_set, version, unchanged=False)
        return ImportSummary(**{**summary.__dict__, "counts": {}})


def _apply_settings(hash_set: HashSet, request: _Request) -> None:
    if request.pdq_threshold is not None:
        hash_set.pdq_threshold = request.pdq_threshold
    if request.pdq_min_quality is not None:
        hash_set.pdq_min_quality = request.pdq_min_quality
    if request.dihedral is not None:
        hash_set.dihedral = request.dihedral
    if request.vpdq_query_percent is not None:
        hash_set.vpdq_query_percent = request.vpdq_query_percent
    if request.vpdq_compared_percent is not None:
        hash_set.vpdq_compared_percent = request.vpdq_compared_percent


def _check_range(option: str, value: int | None, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        raise UsageError(f"{option} {value} is out of range; use a whole number from {low} to {high}")


def _check_percent(option: str, value: float | None) -> None:
    if value is not None and not 0 <= value <= 100:  # NaN fails too
        raise UsageError(f"{option} {value} is out of range; use a percentage from 0 to 100")


def source_digest(path: Path) -> str:
    """What a version records as its source's SHA256: of the file, or for a folder of vPDQ files, of its
    files' names and SHA256s in name order, so that an unchanged folder re-imports as "unchanged" and a
    renamed, added, removed or edited video makes a new version."""
    if not path.is_dir():
        return _sha256_of(path)
    digest = hashlib.sha256()
    for file in vpdq_files(path):
        digest.update(os.fsencode(file.name) + b"\0" + _sha256_of(file).encode("ascii") + b"\n")
    return digest.hexdigest()


def _size_of(path: Path) -> int:
    if path.is_dir():
        return sum(file.stat().st_size for file in vpdq_files(path))
    return path.stat().st_size


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
