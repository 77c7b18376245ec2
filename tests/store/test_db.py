"""Opening the case store: SQLite in WAL mode with a busy timeout, migrations that match the models,
a warning on network shares, and PostgreSQL server mode giving the same case as the embedded store.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text

from himaya import config
from himaya.cases import create_case
from himaya.config import ScanSettings
from himaya.hashsets.importer import import_hash_set
from himaya.pipeline.scan import run_scan
from himaya.reports.export import export_case
from himaya.store import db
from himaya.store.db import SQLITE_BUSY_TIMEOUT_MS, Store, database_url, open_store
from himaya.store.models import Base, Case, File, Match
from tests.builders.evidence import SeizedFolder, pdq_list, seized_folder


def head_revision() -> str:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def assert_migrated_like_the_models(store: Store) -> None:
    with store.engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        assert set(Base.metadata.tables) | {"alembic_version"} == tables
        # Columns, types, indexes, constraints: what autogenerate would add is what a migration forgot.
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        assert versions == [head_revision()]


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Iterator[Store]:
    store = open_store(himaya_env["home"])
    yield store
    store.close()


# --- SQLite (embedded default) -----------------------------------------------------------------------


def test_the_default_store_is_sqlite_in_home(
    himaya_env: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = himaya_env["home"]
    assert database_url(home) == f"sqlite:///{home / 'himaya.db'}"
    monkeypatch.setenv("HIMAYA_DATABASE_URL", "postgresql://TEST@127.0.0.1/TEST")
    assert database_url(home) == "postgresql://TEST@127.0.0.1/TEST"


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(store: Store, himaya_env: dict[str, Path]) -> None:
    assert store.engine.dialect.name == "sqlite"
    assert (himaya_env["home"] / "himaya.db").is_file()
    # Every connection of the pool gets the settings, not just the first one.
    with store.engine.connect() as first, store.engine.connect() as second:
        for connection in (first, second):
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL: safe in WAL mode


def test_a_reader_is_not_blocked_by_a_writer(store: Store) -> None:
    create_case(store, "C-1", "TEST before")
    with store.engine.connect() as writer:
        writer.exec_driver_sql("BEGIN IMMEDIATE")  # holds the write lock, as a scan's commit does
        writer.exec_driver_sql("UPDATE cases SET title = 'TEST during'")
        with store.session() as reader:  # the review app reading mid-scan: sees the last commit
            assert reader.scalars(select(Case.title)).all() == ["TEST before"]
        writer.exec_driver_sql("COMMIT")
    with store.session() as reader:
        assert reader.scalars(select(Case.title)).all() == ["TEST during"]


def test_migrations_create_every_table_of_the_models(store: Store) -> None:
    assert_migrated_like_the_models(store)


def test_reopening_is_idempotent_and_keeps_the_data(himaya_env: dict[str, Path]) -> None:
    home = himaya_env["home"]
    first = open_store(home)
    create_case(first, "C-1", "TEST case")
    first.close()
    for _ in range(2):
        again = open_store(home)
        try:
            assert_migrated_like_the_models(again)
            with again.session() as session:
                assert session.scalars(select(Case.number)).all() == ["C-1"]
        finally:
            again.close()


def fake_filesystems(monkeypatch: pytest.MonkeyPatch, network: Path | None) -> None:
    """Make every path under `network` look like an NFS mount, and everything else a local disk."""

    def filesystem_type(path: Path) -> str:
        inside = network is not None and path.resolve().is_relative_to(network.resolve())
        return "nfs4" if inside else "ext4"

    monkeypatch.setattr(config, "filesystem_type", filesystem_type)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == db.__name__ and r.levelno == logging.WARNING]


def test_a_home_on_a_network_share_is_warned_about(
    himaya_env: dict[str, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    home = himaya_env["home"]
    fake_filesystems(monkeypatch, network=home)
    with caplog.at_level(logging.WARNING, logger=db.__name__):
        open_store(home).close()
    [message] = warnings_of(caplog)
    assert str(home) in message
    assert "WAL" in message
    assert "local disk" in message
    assert "HIMAYA_DATABASE_URL" in message  # the way out for shared work: server mode


def test_a_home_on_a_local_disk_is_not_warned_about(
    himaya_env: dict[str, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake_filesystems(monkeypatch, network=None)
    with caplog.at_level(logging.WARNING, logger=db.__name__):
        open_store(himaya_env["home"]).close()
    assert warnings_of(caplog) == []


def test_the_warning_follows_the_database_file_not_home(
    himaya_env: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    share = tmp_path / "share"
    share.mkdir()
    monkeypatch.setenv("HIMAYA_DATABASE_URL", f"sqlite:///{share / 'TEST.db'}")
    fake_filesystems(monkeypatch, network=share)
    with caplog.at_level(logging.WARNING, logger=db.__name__):
        open_store(himaya_env["home"]).close()  # home is local, the database is not
    [message] = warnings_of(caplog)
    assert str(share) in message and "WAL" in message

    caplog.clear()
    fake_filesystems(monkeypatch, network=himaya_env["home"])
    with caplog.at_level(logging.WARNING, logger=db.__name__):
        open_store(himaya_env["home"]).close()  # home is on the share, the database is not
    assert warnings_of(caplog) == []


# --- PostgreSQL (server mode) ------------------------------------------------------------------------


def scan_seized(store: Store, folder: SeizedFolder) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Scan the seized folder twice into a new case C-1; its export by path, and in export order."""
    assert folder.hash_list is not None
    base = folder.root.parent
    create_case(store, "C-1", "TEST case")
    import_hash_set(store, folder.hash_list, name="TEST-md5", kind="alert")
    import_hash_set(store, pdq_list(base / "TEST-pdq.csv", list(folder.listed.values())), name="TEST-pdq")
    settings = ScanSettings(workers=0, thumbnails=False)
    first = run_scan(store, "C-1", [folder.root], settings=settings, blobs=None, quiet=True)
    again = run_scan(store, "C-1", [folder.root], settings=settings, blobs=None, quiet=True)
    assert (first.status, again.status) == ("finished", "finished")
    assert first.files_written > 10
    assert (again.files_written, again.files_skipped) == (0, 9)
    with store.session() as session:
        files = session.scalar(select(func.count(File.id)))
        locators = session.scalar(select(func.count(func.distinct(File.locator))))
        matches = session.scalar(select(func.count(Match.id)))
        pairs = session.scalar(
            select(func.count()).select_from(select(Match.file_id, Match.entry_id).distinct().subquery())
        )
        assert files == locators == first.files_written
        assert matches == pairs
    out = io.StringIO()
    export_case(store, "C-1", "jsonl", out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    flagged = {r["path"] for r in records if any(m["kind"] == "alert" for m in r["matches"])}
    assert flagged == folder.expected_matches
    return {r["path"]: r for r in records}, [r["path"] for r in records]


@pytest.mark.postgres
def test_postgresql_store_is_migrated_idempotently_and_never_warned_about(
    himaya_env: dict[str, Path],
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("HIMAYA_DATABASE_URL", postgres_url)
    fake_filesystems(monkeypatch, network=himaya_env["home"])  # irrelevant: nothing of the store is there
    with caplog.at_level(logging.WARNING, logger=db.__name__):
        for _ in range(2):
            store = open_store(himaya_env["home"])
            try:
                assert store.engine.dialect.name == "postgresql"
                assert_migrated_like_the_models(store)
            finally:
                store.close()
    assert warnings_of(caplog) == []
    assert not (himaya_env["home"] / "himaya.db").exists()


@pytest.mark.postgres
def test_a_scan_on_postgresql_gives_the_same_case_as_on_sqlite(
    himaya_env: dict[str, Path], postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = seized_folder(tmp_path)  # built once: its archives carry the time they were built
    sqlite = open_store(himaya_env["home"])
    try:
        on_sqlite, sqlite_order = scan_seized(sqlite, folder)
    finally:
        sqlite.close()
    monkeypatch.setenv("HIMAYA_DATABASE_URL", postgres_url)
    postgres = open_store(tmp_path / "pg-home")
    try:
        assert postgres.engine.dialect.name == "postgresql"
        on_postgres, postgres_order = scan_seized(postgres, folder)
    finally:
        postgres.close()
    assert on_postgres == on_sqlite  # every field of every record, matches included
    assert postgres_order == sqlite_order == sorted(sqlite_order)


LINGUISTIC = "und-x-icu"  # ICU's root collation: sorts "a_b" before "a.b", as en_US.UTF-8 does


@pytest.mark.postgres
def test_export_order_does_not_depend_on_the_servers_collation(
    himaya_env: dict[str, Path], postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HIMAYA_DATABASE_URL", postgres_url)
    store = open_store(himaya_env["home"])
    try:
        with store.session() as session:
            if (
                session.scalar(
                    text("SELECT count(*) FROM pg_collation WHERE collname = :c"), {"c": LINGUISTIC}
                )
                == 0
            ):
                pytest.skip(f"this PostgreSQL has no {LINGUISTIC} collation (built without ICU)")
        _records, order = scan_seized(store, seized_folder(tmp_path))
        # As on a server whose default collation is linguistic (most en_US installations).
        with store.transaction() as session:
            for table, column in (("evidence_items", "name"), ("files", "path"), ("files", "locator")):
                session.execute(
                    text(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE text COLLATE "{LINGUISTIC}"')
                )
            linguistic = session.scalars(text("SELECT path FROM files ORDER BY path")).all()
        assert linguistic != sorted(linguistic)  # the server would reorder this folder...
        out = io.StringIO()
        export_case(store, "C-1", "jsonl", out)
    finally:
        store.close()
    assert [json.loads(line)["path"] for line in out.getvalue().splitlines()] == order == sorted(order)
