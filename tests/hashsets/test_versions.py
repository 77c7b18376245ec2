"""Hash-set history: what each version added, removed and changed, which rows it kept, and what it held.

A version keeps the rows of the entries it keeps unchanged, retires withdrawn and re-labelled ones, and
adds new and re-labelled ones; `entries_alive_at` must read any version back exactly. Imports are
all-or-nothing on SQLite and PostgreSQL, and a store written by the 0001-era importer (a full copy of
the entries per version) converts to this shape.

Every hash is a digest of harmless generated text, and every set's name says TEST.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from himaya.errors import HashSetFormatError
from himaya.hashsets import importer
from himaya.hashsets.importer import ImportSummary, entries_alive_at, import_hash_set
from himaya.matching.active import load_active
from himaya.matching.rematch import rematch
from himaya.store.db import MIGRATIONS, Store, database_url, make_engine, open_store
from himaya.store.models import HashEntry, HashSet, HashSetVersion, Match

Row = tuple[str, str, str | None]  # (hash type, value, category)


def md5_of(n: int) -> str:
    return hashlib.md5(f"TEST benign {n}".encode()).hexdigest()


def sha1_of(n: int) -> str:
    return hashlib.sha1(f"TEST benign {n}".encode()).hexdigest()


def write_csv(
    path: Path, rows: list[tuple[str, str | None]] | list[tuple[str, str | None, str | None]]
) -> Path:
    """A `hash,category,series` list; the hash column's name is "hash", so the length gives the type."""
    lines = ["hash,category,series"]
    for row in rows:
        value, category, series = (*row, None)[:3]
        lines.append(f"{value},{category or ''},{series or ''}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Iterator[Store]:
    store = open_store(himaya_env["home"])
    yield store
    store.close()


def alive(session: Session, version_id: int) -> list[Row]:
    version = session.get(HashSetVersion, version_id)
    assert version is not None
    rows = session.execute(
        select(HashEntry.hash_type, HashEntry.value, HashEntry.category)
        .where(*entries_alive_at(version))
        .order_by(HashEntry.hash_type, HashEntry.value)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def entry_ids(session: Session, set_name: str) -> dict[tuple[str, str | None], list[int]]:
    """(value, category) -> ids of the set's rows, oldest first."""
    rows = session.execute(
        select(HashEntry.value, HashEntry.category, HashEntry.id)
        .join(HashSet, HashSet.id == HashEntry.hash_set_id)
        .where(HashSet.name == set_name)
        .order_by(HashEntry.id)
    )
    found: dict[tuple[str, str | None], list[int]] = {}
    for value, category, entry_id in rows:
        found.setdefault((value, category), []).append(entry_id)
    return found


def diff_counts(summary: ImportSummary) -> tuple[int, int, int, int]:
    return (summary.added, summary.removed, summary.changed, summary.duplicates)


# ---------------------------------------------------------------- counts, rows, history

# Each version of one list, and what its import must report: (added, removed, changed, duplicates).
SEQUENCE: list[tuple[list[tuple[str, str | None]], tuple[int, int, int, int]]] = [
    # v1: three new entries; md5(1) repeated with another label (the first line wins) counts as a duplicate
    ([(md5_of(1), "1"), (md5_of(2), "1"), (md5_of(3), "2"), (md5_of(1), "5")], (3, 0, 0, 1)),
    # v2: md5(1) kept, md5(2) re-labelled, md5(3) withdrawn, md5(4) new and listed twice more, once in
    #     upper case (still the same hash)
    (
        [(md5_of(1), "1"), (md5_of(2), "2"), (md5_of(4), "1"), (md5_of(4), "1"), (md5_of(4).upper(), "3")],
        (1, 1, 1, 2),
    ),
    # v3: the same entries in another order plus a SHA1: only the SHA1 is new
    ([(sha1_of(5), "4"), (md5_of(4), "1"), (md5_of(2), "2"), (md5_of(1), "1")], (1, 0, 0, 0)),
    # v4: md5(3) listed again (a new row: its old one stays retired), all but md5(1) withdrawn
    ([(md5_of(1), "1"), (md5_of(3), "2")], (1, 3, 0, 0)),
]


def expected_content(rows: list[tuple[str, str | None]]) -> list[Row]:
    first: dict[str, str | None] = {}
    for value, category in rows:
        first.setdefault(value.lower(), category)
    return sorted(("md5" if len(v) == 32 else "sha1", v, c) for v, c in first.items())


def import_sequence(store: Store, tmp_path: Path) -> list[ImportSummary]:
    path = tmp_path / "TEST-list.csv"
    return [import_hash_set(store, write_csv(path, rows), name="TEST-set") for rows, _ in SEQUENCE]


def test_each_version_records_what_it_added_removed_and_changed(store: Store, tmp_path: Path) -> None:
    summaries = import_sequence(store, tmp_path)

    assert [diff_counts(s) for s in summaries] == [counts for _, counts in SEQUENCE]
    assert [s.version for s in summaries] == [1, 2, 3, 4]
    assert [s.entry_count for s in summaries] == [3, 3, 4, 2]
    with store.session() as session:
        versions = session.scalars(select(HashSetVersion).order_by(HashSetVersion.version)).all()
        recorded = [(v.added_count, v.removed_count, v.changed_count, v.entry_count) for v in versions]
    assert recorded == [(3, 0, 0, 3), (1, 1, 1, 3), (1, 0, 0, 4), (1, 3, 0, 2)]


def test_entries_alive_at_gives_each_historical_version_exactly(store: Store, tmp_path: Path) -> None:
    summaries = import_sequence(store, tmp_path)

    with store.session() as session:
        for summary, (rows, _) in zip(summaries, SEQUENCE, strict=True):
            assert alive(session, summary.version_id) == expected_content(rows), f"version {summary.version}"


def test_unchanged_entries_keep_their_row_and_changed_ones_are_retired_and_added(
    store: Store, tmp_path: Path
) -> None:
    v1, v2, v3, v4 = import_sequence(store, tmp_path)

    with store.session() as session:
        ids = entry_ids(session, "TEST-set")
        rows = {row.id: row for row in session.scalars(select(HashEntry))}
    # md5(1) was listed unchanged by every version: one row, added by v1, never retired.
    (kept,) = ids[(md5_of(1), "1")]
    assert (rows[kept].version_id, rows[kept].retired_version_id) == (v1.version_id, None)
    # md5(2) re-labelled by v2: the "1" row is retired by v2, the "2" row added by v2 and retired by v4.
    (old,) = ids[(md5_of(2), "1")]
    (new,) = ids[(md5_of(2), "2")]
    assert (rows[old].version_id, rows[old].retired_version_id) == (v1.version_id, v2.version_id)
    assert (rows[new].version_id, rows[new].retired_version_id) == (v2.version_id, v4.version_id)
    # md5(3): withdrawn by v2, listed again by v4 as a new row; the old one stays retired by v2.
    first, again = ids[(md5_of(3), "2")]
    assert (rows[first].version_id, rows[first].retired_version_id) == (v1.version_id, v2.version_id)
    assert (rows[again].version_id, rows[again].retired_version_id) == (v4.version_id, None)
    # md5(4) was listed three times by v2: one row. The reordered v3 wrote only the SHA1's row.
    assert len(ids[(md5_of(4), "1")]) == 1
    assert [row.version_id for row in rows.values()].count(v3.version_id) == 1
    assert len(rows) == 7  # md5(1), md5(2) x2, md5(3) x2, md5(4), sha1(5)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (("2", None), ("1", None)),
        ((None, None), ("1", None)),
        (("1", None), (None, None)),
        (("1", "TEST-series-a"), ("1", "TEST-series-b")),
        (("1", None), ("1", "TEST-series-a")),
    ],
    ids=["category-2-to-1", "label-added", "label-dropped", "series-renamed", "series-added"],
)
def test_a_relabelled_entry_is_retired_and_added_again(
    store: Store, tmp_path: Path, before: tuple[str | None, str | None], after: tuple[str | None, str | None]
) -> None:
    path = tmp_path / "TEST-list.csv"
    v1 = import_hash_set(store, write_csv(path, [(md5_of(1), *before), (md5_of(2), "1")]), name="TEST-set")
    v2 = import_hash_set(store, write_csv(path, [(md5_of(1), *after), (md5_of(2), "1")]), name="TEST-set")

    assert diff_counts(v2) == (0, 0, 1, 0)
    assert v2.entry_count == 2
    with store.session() as session:
        rows = session.scalars(
            select(HashEntry).where(HashEntry.value == md5_of(1)).order_by(HashEntry.id)
        ).all()
        assert [(r.category, r.series) for r in rows] == [before, after]
        assert [(r.version_id, r.retired_version_id) for r in rows] == [
            (v1.version_id, v2.version_id),
            (v2.version_id, None),
        ]
        assert alive(session, v1.version_id) == [("md5", md5_of(1), before[0]), ("md5", md5_of(2), "1")]
        assert alive(session, v2.version_id) == [("md5", md5_of(1), after[0]), ("md5", md5_of(2), "1")]


def test_a_relabelling_duplicate_after_the_first_line_changes_nothing(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "TEST-list.csv"
    import_hash_set(store, write_csv(path, [(md5_of(1), "1")]), name="TEST-set")
    v2 = import_hash_set(store, write_csv(path, [(md5_of(1), "1"), (md5_of(1), "4")]), name="TEST-set")
    assert diff_counts(v2) == (0, 0, 0, 1)
    assert (v2.version, v2.unchanged) == (2, False)


_LABELS = st.sampled_from([None, "1", "2", "TEST-x"])
_LISTS = st.lists(
    st.lists(st.tuples(st.integers(0, 7), st.booleans(), _LABELS), min_size=1, max_size=10),
    min_size=1,
    max_size=5,
)
_examples = itertools.count()


# The store fixture is made once for all examples (hence the health check): each example gets a new set.
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(versions=_LISTS)
def test_any_sequence_of_versions_reads_back_and_counts_right(
    store: Store, tmp_path: Path, versions: list[list[tuple[int, bool, str | None]]]
) -> None:
    """Random lists over a small pool of hashes and labels: every version reads back as its list (first
    line wins), and its added / removed / changed / duplicate counts are those of the two lists."""
    name = f"TEST-set-{next(_examples)}"
    path = tmp_path / f"{name}.csv"
    previous: dict[str, str | None] = {}
    written: list[str] = []
    for n, lines in enumerate(versions):
        rows = [((md5_of(k) if md5 else sha1_of(k)), label) for k, md5, label in lines]
        write_csv(path, rows)
        content = path.read_text()
        summary = import_hash_set(store, path, name=name)
        current: dict[str, str | None] = {}
        for value, label in rows:
            current.setdefault(value, label)
        if written and content == written[-1]:
            assert summary.unchanged, f"version {n + 1} is byte-identical to the one before"
            continue
        written.append(content)
        assert not summary.unchanged
        assert summary.version == len(written)
        both = previous.keys() & current.keys()
        changed = sum(previous[v] != current[v] for v in both)
        assert diff_counts(summary) == (
            len(current.keys() - previous.keys()),
            len(previous.keys() - current.keys()),
            changed,
            len(rows) - len(current),
        )
        with store.session() as session:
            assert alive(session, summary.version_id) == expected_content(rows)
        previous = current


# ---------------------------------------------------------------- all-or-nothing, on both databases


DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=DATABASES)
def any_home(
    request: pytest.FixtureRequest, himaya_env: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A home whose store is embedded SQLite, or a fresh PostgreSQL schema (server mode)."""
    if request.param == "postgresql":
        monkeypatch.setenv("HIMAYA_DATABASE_URL", request.getfixturevalue("postgres_url"))
    home = himaya_env["home"]
    home.mkdir(parents=True)
    return home


@pytest.fixture
def any_store(any_home: Path) -> Iterator[Store]:
    store = open_store(any_home)
    yield store
    store.close()


def snapshot(session: Session) -> tuple[list[tuple[object, ...]], ...]:
    """Every hash-set row, column by column."""
    tables = (HashSet, HashSetVersion, HashEntry)
    return tuple(
        [
            tuple(getattr(row, column.key) for column in inspect(model).columns)
            for row in session.scalars(select(model).order_by(model.id))  # type: ignore[attr-defined]
        ]
        for model in tables
    )


def test_a_bad_line_in_version_2_leaves_version_1_active_and_intact(
    any_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = any_store
    monkeypatch.setattr(importer, "INSERT_CHUNK", 7)  # the bad line comes after several staged chunks
    path = tmp_path / "TEST-list.csv"
    v1 = import_hash_set(
        store, write_csv(path, [(md5_of(1), "1"), (md5_of(2), "2"), (sha1_of(3), "1")]), name="TEST-set"
    )
    with store.session() as session:
        before = snapshot(session)
    # Version 2 would re-label md5(1), withdraw md5(2) and sha1(3), and add 40 hashes, but line 32 is bad.
    rows: list[tuple[str, str | None]] = [(md5_of(1), "4"), *((md5_of(n), "1") for n in range(10, 50))]
    rows.insert(30, ("TEST-not-a-hash", "1"))
    write_csv(path, rows)

    with pytest.raises(HashSetFormatError, match="line 32: "):
        import_hash_set(store, path, name="TEST-set", pdq_threshold=10, dihedral=False)

    with store.session() as session:
        assert snapshot(session) == before  # no version, no retirement, no setting changed
        assert alive(session, v1.version_id) == sorted(
            [("md5", md5_of(1), "1"), ("md5", md5_of(2), "2"), ("sha1", sha1_of(3), "1")]
        )
        active = load_active(session)
        assert [v.version for v in active.versions.values()] == [1]
        hits = active.exact_lookup(session, md5s=[md5_of(1), md5_of(2), md5_of(10)], sha1s=[sha1_of(3)])
    assert set(hits) == {("md5", md5_of(1)), ("md5", md5_of(2)), ("sha1", sha1_of(3))}
    # The staging table went with the failed transaction: the corrected list imports as version 2.
    del rows[30]
    v2 = import_hash_set(store, write_csv(path, rows), name="TEST-set")
    assert (v2.version, diff_counts(v2)) == (2, (40, 2, 1, 0))


# ---------------------------------------------------------------- a store from the 0001 era


def _at_revision_0001(url: str) -> None:
    engine = make_engine(url)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "0001")
    finally:
        engine.dispose()


def _old_importer_rows(url: str) -> None:
    """What the 0001 importer wrote for two versions of one list (each version a full copy of its
    entries), and a case whose picture was matched against version 2's copy of md5(1)."""
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    engine = make_engine(url)
    try:
        with engine.begin() as db:
            db.execute(
                text(
                    "INSERT INTO hash_sets (id, name, kind, pdq_threshold, pdq_min_quality, created_at) "
                    "VALUES (1, 'TEST-old-set', 'alert', 31, 50, :now)"
                ),
                {"now": now},
            )
            for version in (1, 2):
                db.execute(
                    text(
                        "INSERT INTO hash_set_versions (id, hash_set_id, version, imported_at, "
                        "source_file, source_sha256, format, entry_count) "
                        "VALUES (:v, 1, :v, :now, 'TEST.csv', :sha, 'plain', 2)"
                    ),
                    {"v": version, "now": now, "sha": f"{version:064x}"},
                )
            copies = [
                (1, 1, md5_of(1), "1"),
                (2, 1, md5_of(2), "2"),
                (3, 2, md5_of(1), "1"),  # version 2 kept md5(1), dropped md5(2), added md5(3)
                (4, 2, md5_of(3), "1"),
            ]
            for entry_id, version, value, category in copies:
                db.execute(
                    text(
                        "INSERT INTO hash_entries (id, version_id, hash_type, value, category, line) "
                        "VALUES (:id, :v, 'md5', :value, :category, :id)"
                    ),
                    {"id": entry_id, "v": version, "value": value, "category": category},
                )
            db.execute(
                text("INSERT INTO cases (id, number, created_at) VALUES (1, 'C-OLD', :now)"), {"now": now}
            )
            db.execute(
                text(
                    "INSERT INTO evidence_items (id, case_id, name, source_path, kind, added_at) "
                    "VALUES (1, 1, 'ev', '/TEST/ev', 'folder', :now)"
                ),
                {"now": now},
            )
            db.execute(
                text(
                    "INSERT INTO files (id, evidence_id, locator, path, depth, size, md5, "
                    "extension_mismatch, deleted, status, added_at) "
                    "VALUES (1, 1, 'ev/a.jpg', 'ev/a.jpg', 0, 10, :md5, false, false, 'ok', :now)"
                ),
                {"md5": md5_of(1), "now": now},
            )
            db.execute(
                text(
                    "INSERT INTO matches (id, file_id, entry_id, hash_set_version_id, method, distance, "
                    "matched_at) VALUES (1, 1, 3, 2, 'md5', 0, :now)"
                ),
                {"now": now},
            )
            if db.dialect.name == "postgresql":  # ids were given: move the sequences past them
                for table in ("hash_sets", "hash_set_versions", "hash_entries", "cases", "evidence_items",
                              "files", "matches"):  # fmt: skip
                    db.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100)"))
    finally:
        engine.dispose()


def test_a_0001_store_converts_to_entries_with_a_lifetime(any_home: Path) -> None:
    home = any_home
    url = database_url(home)
    _at_revision_0001(url)
    _old_importer_rows(url)

    store = open_store(home)  # upgrades to head, as the first run of the new version does
    try:
        with store.session() as session:
            rows = {row.id: row for row in session.scalars(select(HashEntry))}
            assert {i: (r.hash_set_id, r.version_id, r.retired_version_id) for i, r in rows.items()} == {
                1: (1, 1, 2),  # version 1's copies are retired by version 2
                2: (1, 1, 2),
                3: (1, 2, None),  # the latest version's entries are the active ones
                4: (1, 2, None),
            }
            assert alive(session, 1) == sorted([("md5", md5_of(1), "1"), ("md5", md5_of(2), "2")])
            assert alive(session, 2) == sorted([("md5", md5_of(1), "1"), ("md5", md5_of(3), "1")])
            active = load_active(session)
            hits = active.exact_lookup(session, md5s=[md5_of(1), md5_of(2), md5_of(3)])
            assert {value: [h.entry_id for h in found] for (_, value), found in hits.items()} == {
                md5_of(1): [3],
                md5_of(3): [4],
            }
        # The case matched against version 2 is still matched, and re-matching it finds nothing new.
        (result,) = rematch(store, ["C-OLD"])
        assert (len(result.new), len(result.lost), result.kept) == (0, 0, 1)
        with store.session() as session:
            match = session.get(Match, 1)
            assert match is not None
            assert (match.entry_id, match.retired_at) == (3, None)
        # A new version diffs against the converted entries: md5(3) kept (same row), md5(1) withdrawn.
        new_list = write_csv(home.parent / "TEST-v3.csv", [(md5_of(3), "1"), (md5_of(4), "2")])
        v3 = import_hash_set(store, new_list, name="TEST-old-set")
        assert (v3.version, diff_counts(v3)) == (3, (1, 1, 0, 0))
        with store.session() as session:
            assert session.get(HashEntry, 4).retired_version_id is None  # type: ignore[union-attr]
            assert session.get(HashEntry, 3).retired_version_id == v3.version_id  # type: ignore[union-attr]
    finally:
        store.close()
