"""NSRL RDS v3: digests looked up in place in a read-only SQLite database of NIST's layout.

The databases are built here with NIST's "minimal" schema and a few thousand benign generated rows.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from himaya.errors import HashSetFormatError
from himaya.hashsets import nsrl
from himaya.hashsets.nsrl import NsrlDatabase
from tests.builders.hashlists import (
    NSRL_TEST_VERSION,
    md5_of,
    nsrl_seed,
    rds_v3_db,
    sha1_of,
    sha256_of,
)

ROWS = 3000


@pytest.fixture(scope="module")
def rds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared read-only by the tests that only look things up (building it is the slow part)."""
    return rds_v3_db(tmp_path_factory.mktemp("nsrl") / "RDS_TEST_modern_minimal.db", ROWS)


def refused(path: Path) -> HashSetFormatError:
    with pytest.raises(HashSetFormatError) as caught:
        NsrlDatabase.open(path).close()
    return caught.value


def test_nsrl_lookup_in_place(rds: Path) -> None:
    known = [nsrl_seed(i) for i in (0, 1, 1234, ROWS - 1)]
    unknown = ["not in nsrl 1", "not in nsrl 2"]
    with NsrlDatabase.open(rds) as database:
        found = database.lookup(
            md5s=[md5_of(s) for s in (known[0], unknown[0])],
            sha1s=[sha1_of(s) for s in (known[1], unknown[1])],
            sha256s=[sha256_of(s) for s in known[2:]],
        )
    assert found == {
        ("md5", md5_of(known[0])),
        ("sha1", sha1_of(known[1])),
        ("sha256", sha256_of(known[2])),
        ("sha256", sha256_of(known[3])),
    }


def test_nsrl_lookup_is_case_insensitive(rds: Path) -> None:
    seed = nsrl_seed(7)
    with NsrlDatabase.open(rds) as database:
        found = database.lookup(md5s=[md5_of(seed).upper()], sha256s=[" " + sha256_of(seed).title() + " "])
    assert found == {("md5", md5_of(seed)), ("sha256", sha256_of(seed))}


def test_nsrl_lookup_matches_lower_case_copies(tmp_path: Path) -> None:
    path = rds_v3_db(tmp_path / "TEST-lower.db", 50, upper_case=False)
    with NsrlDatabase.open(path) as database:
        assert database.lookup(sha1s=[sha1_of(nsrl_seed(3)).upper()]) == {("sha1", sha1_of(nsrl_seed(3)))}


def test_nsrl_lookup_batches_many_digests(rds: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen_sizes: list[int] = []
    real = NsrlDatabase._lookup_batch

    def spy(self: NsrlDatabase, hash_type: nsrl.NsrlHashType, values: list[str]) -> set[tuple[str, str]]:
        seen_sizes.append(len(values) * 2)  # each digest is asked for in upper and lower case
        return real(self, hash_type, values)

    monkeypatch.setattr(NsrlDatabase, "_lookup_batch", spy)
    digests = [sha256_of(nsrl_seed(i)) for i in range(ROWS)] + [sha256_of(f"absent {i}") for i in range(500)]
    with NsrlDatabase.open(rds) as database:
        found = database.lookup(sha256s=digests)
    assert found == {("sha256", sha256_of(nsrl_seed(i))) for i in range(ROWS)}
    assert max(seen_sizes) <= nsrl.LOOKUP_BATCH
    assert len(seen_sizes) == -(-3500 // (nsrl.LOOKUP_BATCH // 2))


def test_nsrl_lookup_skips_malformed_digests(rds: Path) -> None:
    with NsrlDatabase.open(rds) as database:
        assert database.lookup(md5s=["", "xyz", md5_of(nsrl_seed(1))[:-1], "' OR 1=1 --"]) == set()


def test_nsrl_describe_without_counting(rds: Path) -> None:
    with NsrlDatabase.open(rds) as database:
        described = database.describe()
    assert described["version"] == NSRL_TEST_VERSION
    assert described["version_details"]["build_set"] == "modern TEST"
    assert described["rows_estimate"] == ROWS  # max(rowid): rows are only ever appended here
    assert described["hash_types"] == ["sha256", "sha1", "md5"]
    assert described["not_indexed"] == []


def test_nsrl_describe_uses_sqlite_stat1_when_analyzed(tmp_path: Path) -> None:
    path = rds_v3_db(tmp_path / "TEST-analyzed.db", 120, analyze=True)
    with NsrlDatabase.open(path) as database:
        assert database.describe()["rows_estimate"] == 120


def test_nsrl_minimal_layout_searches_only_sha256(tmp_path: Path) -> None:
    # NIST's minimal database has one index: the primary key (sha256, sha1, md5, ...). It can find a
    # SHA256 but not a SHA1 or MD5 without reading every row, so those are not looked up.
    path = rds_v3_db(tmp_path / "TEST-minimal.db", 100, extra_indexes=False)
    seed = nsrl_seed(5)
    with NsrlDatabase.open(path) as database:
        assert database.hash_types == ("sha256",)
        assert database.describe()["not_indexed"] == ["sha1", "md5"]
        found = database.lookup(md5s=[md5_of(seed)], sha1s=[sha1_of(seed)], sha256s=[sha256_of(seed)])
    assert found == {("sha256", sha256_of(seed))}


def test_nsrl_without_any_hash_index_is_refused_with_create_index_hint(tmp_path: Path) -> None:
    schema = (
        "CREATE TABLE FILE (sha256 VARCHAR, sha1 VARCHAR, md5 VARCHAR, crc32 VARCHAR, file_name VARCHAR, "
        "file_size INTEGER, package_id INTEGER);"
        "CREATE TABLE VERSION (version VARCHAR, build_set VARCHAR, build_date TIMESTAMP, "
        "release_date TIMESTAMP, description VARCHAR);"
        "CREATE INDEX idx_file_name ON FILE(file_name);"
        "CREATE INDEX idx_file_sha1_partial ON FILE(sha1) WHERE file_size > 1000000;"
    )
    path = rds_v3_db(tmp_path / "TEST-noindex.db", 20, extra_indexes=False, schema=schema)
    error = refused(path)
    assert "no index on sha256, sha1 or md5" in str(error)
    assert "CREATE INDEX idx_file_sha256 ON FILE(sha256)" in str(error)


def test_nsrl_database_is_never_written(tmp_path: Path) -> None:
    path = rds_v3_db(tmp_path / "TEST-readonly.db", 200)
    os.utime(path, (1_600_000_000, 1_600_000_000))
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    with NsrlDatabase.open(path) as database:
        database.lookup(md5s=[md5_of(nsrl_seed(1))], sha256s=[sha256_of(nsrl_seed(2))])
        database.describe()
        with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only|query_only"):
            database._connection.execute("DELETE FROM FILE")
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["TEST-readonly.db"]  # no journal, no WAL


def test_nsrl_opens_on_read_only_media(tmp_path: Path) -> None:
    # immutable=1: no lock file or journal is needed, so a copy on a write-blocked disk or DVD opens.
    folder = tmp_path / "TEST media #1 ?ro"
    folder.mkdir()
    path = rds_v3_db(folder / "RDS TEST.db", 30)
    path.chmod(0o444)
    folder.chmod(0o555)
    try:
        with NsrlDatabase.open(path) as database:
            assert database.lookup(sha1s=[sha1_of(nsrl_seed(4))]) == {("sha1", sha1_of(nsrl_seed(4)))}
    finally:
        folder.chmod(0o755)


def test_nsrl_full_publication_view_is_refused_when_it_cannot_search(tmp_path: Path) -> None:
    # The full RDS publishes FILE as a view that upper-cases METADATA's columns: no index can serve it.
    path = tmp_path / "TEST-full.db"
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE METADATA (object_id INTEGER, file_name VARCHAR, bytes INTEGER, sha256 VARCHAR, "
        "sha1 VARCHAR, md5 VARCHAR);"
        "CREATE INDEX idx_md_sha1 ON METADATA(sha1);"
        "CREATE VIEW FILE AS SELECT UPPER(sha256) AS sha256, UPPER(sha1) AS sha1, UPPER(md5) AS md5, "
        "file_name, bytes AS file_size, object_id AS package_id FROM METADATA;"
    )
    connection.close()
    assert "no index on sha256, sha1 or md5" in str(refused(path))


def test_nsrl_view_over_indexed_table_is_searched(tmp_path: Path) -> None:
    path = tmp_path / "TEST-view.db"
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE METADATA (sha256 VARCHAR, sha1 VARCHAR, md5 VARCHAR, file_name VARCHAR, "
        "file_size INTEGER, package_id INTEGER);"
        "CREATE INDEX idx_md_md5 ON METADATA(md5);"
        "CREATE VIEW FILE AS SELECT * FROM METADATA;"
    )
    connection.execute(
        "INSERT INTO METADATA VALUES (?, ?, ?, 'TEST.dll', 1, 1)",
        (sha256_of("v").upper(), sha1_of("v").upper(), md5_of("v").upper()),
    )
    connection.commit()
    connection.close()
    with NsrlDatabase.open(path) as database:
        assert database.hash_types == ("md5",)
        assert database.describe()["rows_estimate"] is None  # a view has no rowid to estimate from
        assert database.lookup(md5s=[md5_of("v")]) == {("md5", md5_of("v"))}


def test_nsrl_refuses_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "NSRLFile.txt"
    path.write_text('"SHA-1","MD5","CRC32","FileName"\n', encoding="utf-8")
    error = refused(path)
    assert "not an SQLite database" in str(error)
    assert "extract the .db" in str(error)


def test_nsrl_refuses_sqlite_without_file_table(tmp_path: Path) -> None:
    path = tmp_path / "TEST-other.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE messages (id INTEGER, body TEXT)")
    connection.close()
    error = refused(path)
    assert "without a FILE table" in str(error)
    assert "messages" in str(error)


def test_nsrl_refuses_file_table_lacking_rds_columns(tmp_path: Path) -> None:
    path = tmp_path / "TEST-lacking.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE FILE (sha1 VARCHAR PRIMARY KEY, name VARCHAR)")
    connection.close()
    error = refused(path)
    assert "file_name, file_size, md5, package_id, sha256" in str(error)


def test_nsrl_refuses_a_truncated_database(tmp_path: Path) -> None:
    source = rds_v3_db(tmp_path / "TEST-whole.db", 500)
    path = tmp_path / "TEST-truncated.db"
    path.write_bytes(source.read_bytes()[:600])
    error = refused(path)
    assert error.line is None
    assert "SQLite" in str(error)
