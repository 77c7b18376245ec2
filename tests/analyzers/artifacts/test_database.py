"""Seized databases are read from private copies with their logs applied; evidence is never touched."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from himaya.analyzers.artifacts import database
from himaya.analyzers.artifacts.capture import (
    encrypted_backup_finding,
    examine,
    schema_in_memory,
    worth_holding,
)
from himaya.analyzers.artifacts.database import (
    DatabaseFiles,
    DatabaseUnreadableError,
    open_private_copy,
    read_schema,
    side_role,
)
from tests.builders.chats.sqlite_files import write_database

SCHEMA = "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);"


def _notes(tmp_path: Path) -> Path:
    return write_database(
        tmp_path / "evidence" / "notes.db",
        SCHEMA,
        lambda db: db.execute("INSERT INTO notes(id, body) VALUES (1001, 'checkpointed')"),
        newest=lambda db: db.execute("INSERT INTO notes(id, body) VALUES (1002, 'only in the log')"),
    )


def _fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
    }


def test_the_log_is_applied_on_a_private_copy_and_the_evidence_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _notes(tmp_path)
    before = _fingerprint(path.parent)
    assert sorted(before) == ["notes.db", "notes.db-wal"]
    seen: list[Path] = []
    real_mkdtemp = database.tempfile.mkdtemp

    def spy(*args: object, **kwargs: object) -> str:
        folder = real_mkdtemp(*args, **kwargs)  # type: ignore[call-overload]
        seen.append(Path(folder))
        return str(folder)

    monkeypatch.setattr(database.tempfile, "mkdtemp", spy)
    with open_private_copy(DatabaseFiles(path, Path(f"{path}-wal")), temp_dir=tmp_path) as db:
        rows = db.execute("SELECT id, body FROM notes ORDER BY id").fetchall()
        assert stat.S_IMODE(os.stat(seen[0]).st_mode) == 0o700
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            db.execute("INSERT INTO notes(body) VALUES ('x')")
    assert rows == [(1001, "checkpointed"), (1002, "only in the log")]
    assert not seen[0].exists()  # the copy is gone
    assert _fingerprint(path.parent) == before  # evidence: same bytes, same times, no -shm left


def test_without_its_log_only_checkpointed_rows_are_seen(tmp_path: Path) -> None:
    path = _notes(tmp_path)
    with open_private_copy(DatabaseFiles(path.read_bytes())) as db:
        assert db.execute("SELECT id FROM notes").fetchall() == [(1001,)]


def test_a_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    junk = b"SQLite format 3\x00" + bytes(range(256)) * 20
    with pytest.raises(DatabaseUnreadableError, match="corrupt"), open_private_copy(DatabaseFiles(junk)):
        pass


def test_a_truncated_database_cannot_hide_a_crash(tmp_path: Path) -> None:
    path = _notes(tmp_path)
    truncated = path.read_bytes()[:1500]
    try:
        with open_private_copy(DatabaseFiles(truncated)) as db:
            read_schema(db)
            db.execute("SELECT * FROM notes").fetchall()
    except (DatabaseUnreadableError, sqlite3.DatabaseError):
        pass  # either is a recorded finding for the stage; nothing else may escape


def test_roles_by_magic_bytes(tmp_path: Path) -> None:
    path = _notes(tmp_path)
    assert side_role(path.read_bytes()[:16]) == "database"
    assert side_role(Path(f"{path}-wal").read_bytes()[:16]) == "wal"
    assert side_role(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" + bytes(8)) == "journal"
    assert side_role(b"PK\x03\x04" + bytes(12)) is None


def test_schema_in_memory_reads_a_wal_mode_database_and_keeps_its_bytes(tmp_path: Path) -> None:
    path = _notes(tmp_path)
    image = bytearray(path.read_bytes())
    assert image[18:20] == b"\x02\x02"  # WAL mode
    original = bytes(image)
    assert schema_in_memory(image) == {"notes": frozenset({"id", "body"})}
    assert bytes(image) == original


def test_examine_keeps_logs_by_sqlite_naming_only(tmp_path: Path) -> None:
    path = _notes(tmp_path)
    wal = bytearray(Path(f"{path}-wal").read_bytes())
    kept = examine(wal, "notes.db-wal")
    assert kept is not None and kept.role == "wal"
    assert examine(wal, "notes-copy.bin") is None


def test_examine_reports_a_known_chat_database_it_cannot_read(tmp_path: Path) -> None:
    junk = bytearray(b"SQLite format 3\x00" + bytes(range(256)) * 20)
    kept = examine(junk, "msgstore.db")
    assert kept is not None and kept.finding is not None
    assert "WhatsApp (Android) messages" in kept.finding and "recovery tool" in kept.finding
    assert examine(junk, "some-app.db") is None  # any other unreadable database is just a file


def test_examine_leaves_unknown_databases_and_flags_known_names_with_unknown_tables(tmp_path: Path) -> None:
    path = _notes(tmp_path)
    image = bytearray(path.read_bytes())
    assert examine(image, "notes.db") is None
    kept = examine(image, "mmssms.db")
    assert kept is not None and kept.parsers == ()
    assert kept.finding is not None and "no parser knows" in kept.finding


def test_examine_keeps_a_database_whose_tables_are_still_in_its_log(tmp_path: Path) -> None:
    staging = tmp_path / "fresh.db"
    db = sqlite3.connect(staging)
    db.execute("PRAGMA journal_mode = WAL")
    db.close()  # a database in WAL mode with no tables yet
    kept = examine(bytearray(staging.read_bytes()), "fresh.db")
    assert kept is not None and kept.role == "database" and kept.finding is None


def test_encrypted_whatsapp_backups_say_what_to_do() -> None:
    for name in ("msgstore.db.crypt14", "msgstore-2024-05-04.1.db.crypt15", "wa.db.crypt12"):
        finding = encrypted_backup_finding(name)
        assert finding is not None and "64-digit key" in finding and "add the decrypted database" in finding
    for name in ("msgstore.db", "notes.db.crypt15.txt", "crypt15", "msgstore.db.crypt"):
        assert encrypted_backup_finding(name) is None


CHUNK = 1024 * 1024


def _big(path: Path, schema: str, rows: int) -> Path:
    def fill(db: sqlite3.Connection) -> None:
        db.executemany("INSERT INTO blobs(body) VALUES (?)", ((bytes(4000),) for _ in range(rows)))

    return write_database(path, schema, fill)


def test_large_databases_no_parser_reads_are_not_held(tmp_path: Path) -> None:
    photos = _big(tmp_path / "photos.db", "CREATE TABLE blobs(id INTEGER PRIMARY KEY, body BLOB);", 1000)
    data = photos.read_bytes()
    assert len(data) > 3 * CHUNK
    assert not worth_holding(data[:CHUNK], "photos.db", len(data))
    assert worth_holding(data[:CHUNK], "msgstore.db", len(data))  # a chat database's name: held, then checked


def test_a_large_chat_database_is_held_from_its_first_chunk(tmp_path: Path) -> None:
    from tests.builders.chats.whatsapp_android import CURRENT_SCHEMA

    chat = _big(
        tmp_path / "renamed.bin",
        CURRENT_SCHEMA + "CREATE TABLE blobs(id INTEGER PRIMARY KEY, body BLOB);",
        1000,
    )
    data = chat.read_bytes()
    assert len(data) > 3 * CHUNK
    assert worth_holding(data[:CHUNK], "renamed.bin", len(data))  # recognised by its tables, not its name


def test_a_schema_past_the_first_chunk_is_held_to_be_examined_whole(tmp_path: Path) -> None:
    columns = ", ".join(f"column_with_a_long_name_{n} TEXT" for n in range(60))
    schema = "".join(f"CREATE TABLE t{n}({columns});" for n in range(600))
    many = _big(tmp_path / "many.db", schema + "CREATE TABLE blobs(id INTEGER PRIMARY KEY, body BLOB);", 10)
    data = many.read_bytes()
    assert len(data) > CHUNK
    assert worth_holding(data[:CHUNK], "many.db", len(data))
    assert examine(bytearray(data), "many.db") is None  # whole, it is just another app's database


def test_logs_are_held_only_under_sqlites_names(tmp_path: Path) -> None:
    path = _notes(tmp_path)
    wal = Path(f"{path}-wal").read_bytes()
    assert worth_holding(wal, "notes.db-wal", len(wal))
    assert not worth_holding(wal, "notes.bin", len(wal))
    assert not worth_holding(b"PK\x03\x04" + bytes(100), "x.db", 104)
