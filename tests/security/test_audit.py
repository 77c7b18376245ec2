"""The audit trail: a keyed hash chain in the store plus a checkpoint file beside the blob key.

Each tampering test changes the database (or the checkpoint) the way someone with write access would, with
plain SQL, and asserts that `verify` names the event. The core tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from himaya.security import audit
from himaya.security.audit import AuditTrail, NewAuditEvent, checkpoint_path_for, verify
from himaya.security.crypto import generate_key
from himaya.store.db import Store, make_engine, migrate
from himaya.store.models import AuditEvent, AuditHead
from tests.conftest import postgres_schema

KEY = bytes(range(32))  # TEST key
OTHER_KEY = bytes(range(1, 33))


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite store, copied for each test: migrating takes longer than the tests themselves."""
    path = tmp_path_factory.mktemp("template") / "himaya.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


def _sqlite_store(template: Path, folder: Path) -> Store:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, folder / "himaya.db")
    return Store(make_engine(f"sqlite:///{folder / 'himaya.db'}"))


@pytest.fixture(scope="module")
def postgres_store() -> Iterator[Store]:
    """One migrated PostgreSQL schema for the module (as `postgres_url` makes them); each test empties the
    trail first. Migrating a schema per test would take most of this module's time."""
    with postgres_schema() as url:
        engine = make_engine(url)
        try:
            migrate(engine)
            yield Store(engine)
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        opened = _sqlite_store(sqlite_template, tmp_path / "home")
        yield opened
        opened.close()
        return
    shared: Store = request.getfixturevalue("postgres_store")
    with shared.transaction() as session:
        session.execute(delete(AuditEvent))
        session.execute(update(AuditHead).values(seq=0, hash=audit.GENESIS))
    yield shared


@pytest.fixture
def sqlite_store(sqlite_template: Path, tmp_path: Path) -> Iterator[Store]:
    opened = _sqlite_store(sqlite_template, tmp_path / "home")
    yield opened
    opened.close()


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "blob.key.audit-chain"


def _fill(store: Store, trail: AuditTrail, count: int, *, actor: str = "TEST-reviewer") -> None:
    for number in range(count):
        with store.transaction() as session:
            trail.record(
                session,
                actor=actor,
                action=audit.PICTURE_SHOWN if number % 2 else audit.CATEGORY_SET,
                case_id=1 + number % 3,
                file_id=100 + number,
                detail={"variant": "blurred", "n": number, "note": "TEST ليس"},
                ip="127.0.0.1",
            )


def _verify(store: Store, checkpoint: Path, key: bytes = KEY, **options: object) -> audit.AuditVerification:
    with store.session() as session:
        return verify(session, key, checkpoint, **options)  # type: ignore[arg-type]


def _tamper(store: Store, statement: object) -> None:
    with store.transaction() as session:
        session.execute(statement)  # type: ignore[call-overload]


def _problems(result: audit.AuditVerification) -> str:
    return "\n".join(result.problems)


# --- an intact trail --------------------------------------------------------------------------------------


def test_intact_chain_verifies_and_checkpoints_every_commit(store: Store, checkpoint: Path) -> None:
    trail = AuditTrail(KEY, checkpoint)
    _fill(store, trail, 12)

    result = _verify(store, checkpoint)

    assert result.ok, result.problems
    assert (result.events, result.head_seq, result.checkpoint_lines, result.last_checkpoint_seq) == (
        12,
        12,
        12,
        12,
    )
    assert result.warnings == []
    with store.session() as session:
        seqs = session.scalars(select(AuditEvent.seq).order_by(AuditEvent.id)).all()
        assert audit.head(session) == (12, result.head_hash)
    assert seqs == list(range(1, 13))
    lines = checkpoint.read_text().splitlines()
    assert [line.split()[2] for line in lines] == [str(n) for n in range(1, 13)]
    assert lines[-1].split()[3] == result.head_hash
    if os.name == "posix":
        assert stat.S_IMODE(checkpoint.stat().st_mode) == 0o600
    last = audit.last_checkpoint(checkpoint)
    assert last is not None and (last.seq, last.hash) == (12, result.head_hash)


def test_event_time_round_trips_identically(store: Store, checkpoint: Path) -> None:
    """SQLite hands `at` back without tzinfo, PostgreSQL in the session's zone: both hash the same."""
    trail = AuditTrail(KEY, checkpoint)
    with store.transaction() as session:
        written = trail.record(session, actor="TEST", action=audit.LOGIN)
        written_at = audit.utc_iso(written.at)
    with store.session() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(select(1))
            session.connection().exec_driver_sql("SET TIME ZONE 'Asia/Amman'")
        stored = session.scalars(select(AuditEvent)).one()
        assert audit.utc_iso(stored.at) == written_at
        assert written_at.endswith("Z") and len(written_at) == len("2026-01-01T00:00:00.000000Z")
        assert verify(session, KEY, checkpoint).ok


def test_record_many_writes_a_batch_with_one_checkpoint_line(store: Store, checkpoint: Path) -> None:
    trail = AuditTrail(KEY, checkpoint)
    _fill(store, trail, 2)
    with store.transaction() as session:
        rows = trail.record_many(
            session, [NewAuditEvent(audit.PICTURE_SHOWN, "TEST", case_id=1, file_id=n) for n in range(5)]
        )
    assert [row.seq for row in rows] == [3, 4, 5, 6, 7]
    assert [row.prev_hash for row in rows[1:]] == [row.hash for row in rows[:-1]]
    assert len(checkpoint.read_text().splitlines()) == 3
    assert _verify(store, checkpoint).ok


# --- tampering with the database --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"detail": json.dumps({"variant": "clear"})},
        {"actor": "TEST-someone-else"},
        {"case_id": 99},
        {"at": datetime(2026, 1, 1, 12, 0, 0, 1, tzinfo=UTC)},
    ],
    ids=["detail", "actor", "case_id", "at"],
)
def test_edited_event_is_named_by_its_seq(store: Store, checkpoint: Path, change: dict[str, object]) -> None:
    _fill(store, AuditTrail(KEY, checkpoint), 10)
    _tamper(store, update(AuditEvent).where(AuditEvent.seq == 7).values(**change))

    result = _verify(store, checkpoint)

    assert not result.ok
    assert len(result.problems) == 1, result.problems
    assert result.problems[0].startswith("event 7: its content does not match its hash")


def test_event_time_shifted_by_one_microsecond_is_caught(store: Store, checkpoint: Path) -> None:
    _fill(store, AuditTrail(KEY, checkpoint), 3)
    with store.session() as session:
        at = session.scalars(select(AuditEvent.at).where(AuditEvent.seq == 2)).one()
    _tamper(store, update(AuditEvent).where(AuditEvent.seq == 2).values(at=at + timedelta(microseconds=1)))

    assert _problems(_verify(store, checkpoint)).startswith("event 2: its content does not match")


def test_removed_event_is_a_gap(store: Store, checkpoint: Path) -> None:
    _fill(store, AuditTrail(KEY, checkpoint), 10)
    _tamper(store, delete(AuditEvent).where(AuditEvent.seq.in_([4, 5])))

    result = _verify(store, checkpoint)

    assert not result.ok
    assert "events 4-5 are missing before event 6" in _problems(result)


def test_swapped_events_break_the_chain(store: Store, checkpoint: Path) -> None:
    _fill(store, AuditTrail(KEY, checkpoint), 10)
    _tamper(store, update(AuditEvent).where(AuditEvent.seq == 4).values(seq=-4))
    _tamper(store, update(AuditEvent).where(AuditEvent.seq == 5).values(seq=4))
    _tamper(store, update(AuditEvent).where(AuditEvent.seq == -4).values(seq=5))

    problems = _problems(_verify(store, checkpoint))

    assert "event 4: its link to event 3 is broken" in problems
    assert "event 5: its link to event 4 is broken" in problems


def test_cut_tail_with_rewound_head_is_caught_by_the_checkpoint(store: Store, checkpoint: Path) -> None:
    _fill(store, AuditTrail(KEY, checkpoint), 10)
    with store.session() as session:
        hash_7 = session.scalars(select(AuditEvent.hash).where(AuditEvent.seq == 7)).one()
    # Consistent in the database alone: events 8-10 gone, the head at event 7.
    _tamper(store, delete(AuditEvent).where(AuditEvent.seq > 7))
    _tamper(store, update(AuditHead).where(AuditHead.id == 1).values(seq=7, hash=hash_7))

    result = _verify(store, checkpoint)

    assert not result.ok
    assert result.head_seq == 7
    assert "records events up to 10" in _problems(result)
    assert "the trail ends at event 7" in _problems(result)


def test_cut_tail_without_rewinding_the_head(store: Store, checkpoint: Path) -> None:
    _fill(store, AuditTrail(KEY, checkpoint), 5)
    _tamper(store, delete(AuditEvent).where(AuditEvent.seq == 5))

    assert "the audit head says event 5" in _problems(_verify(store, checkpoint))


def test_head_rewound_below_existing_events(store: Store, checkpoint: Path) -> None:
    _fill(store, AuditTrail(KEY, checkpoint), 5)
    with store.session() as session:
        hash_3 = session.scalars(select(AuditEvent.hash).where(AuditEvent.seq == 3)).one()
    _tamper(store, update(AuditHead).where(AuditHead.id == 1).values(seq=3, hash=hash_3))

    assert "events up to 5 exist beyond the audit head (event 3)" in _problems(_verify(store, checkpoint))


def test_chain_rewritten_under_another_key_is_caught(store: Store, checkpoint: Path) -> None:
    _fill(store, AuditTrail(KEY, checkpoint), 6)
    # Someone with database access only: throws the trail away and writes a clean-looking one of their own.
    _tamper(store, delete(AuditEvent))
    _tamper(store, update(AuditHead).where(AuditHead.id == 1).values(seq=0, hash=audit.GENESIS))
    _fill(store, AuditTrail(OTHER_KEY, checkpoint.with_name("elsewhere")), 6, actor="TEST-forger")

    result = _verify(store, checkpoint)

    assert not result.ok
    assert result.problems[0].startswith("none of the 6 events matches its hash under this key")
    assert "event 1: its content does not match its hash" in _problems(result)
    assert "has no line for this trail" in _problems(result)
    assert _verify(store, checkpoint.with_name("elsewhere"), OTHER_KEY).ok  # the forgery itself is consistent


def test_chain_rewritten_with_the_key_but_not_the_checkpoint(store: Store, checkpoint: Path) -> None:
    _fill(store, AuditTrail(KEY, checkpoint), 6)
    _tamper(store, delete(AuditEvent))
    _tamper(store, update(AuditHead).where(AuditHead.id == 1).values(seq=0, hash=audit.GENESIS))
    _fill(store, AuditTrail(KEY, checkpoint.with_name("elsewhere")), 6, actor="TEST-forger")

    problems = _problems(_verify(store, checkpoint))

    assert "has no line for this trail" in problems


def test_emptied_trail_is_caught(store: Store, checkpoint: Path) -> None:
    _fill(store, AuditTrail(KEY, checkpoint), 4)
    _tamper(store, delete(AuditEvent))
    _tamper(store, update(AuditHead).where(AuditHead.id == 1).values(seq=0, hash=audit.GENESIS))

    result = _verify(store, checkpoint)

    assert not result.ok and result.events == 0
    assert "this store has none: the trail was emptied" in _problems(result)


def test_noted_head_catches_a_trail_cut_together_with_its_checkpoint(store: Store, checkpoint: Path) -> None:
    _fill(store, AuditTrail(KEY, checkpoint), 6)
    noted = _verify(store, checkpoint)
    lines = checkpoint.read_text().splitlines(keepends=True)
    with store.session() as session:
        hash_4 = session.scalars(select(AuditEvent.hash).where(AuditEvent.seq == 4)).one()
    _tamper(store, delete(AuditEvent).where(AuditEvent.seq > 4))
    _tamper(store, update(AuditHead).where(AuditHead.id == 1).values(seq=4, hash=hash_4))
    checkpoint.write_text("".join(lines[:4]))

    assert _verify(store, checkpoint).ok  # both cut: nothing left to compare with
    result = _verify(store, checkpoint, expected_head=(noted.head_seq, noted.head_hash[:8]))
    assert not result.ok
    assert "the head noted earlier (event 6" in _problems(result)
    assert _verify(store, checkpoint, expected_head=(4, hash_4[:10])).ok


# --- tampering with the checkpoint ------------------------------------------------------------------------


def test_missing_checkpoint_file_fails(store: Store, checkpoint: Path) -> None:
    _fill(store, AuditTrail(KEY, checkpoint), 3)
    checkpoint.unlink()

    result = _verify(store, checkpoint)

    assert not result.ok
    assert f"the checkpoint file {checkpoint} is missing while the trail has 3 events" in _problems(result)


def test_no_events_and_no_checkpoint_is_intact(store: Store, checkpoint: Path) -> None:
    result = _verify(store, checkpoint)

    assert result.ok and result.events == 0 and result.head_hash == audit.GENESIS


@pytest.mark.parametrize("field_index", [2, 3, 4], ids=["seq", "hash", "time"])
def test_edited_checkpoint_line_fails(sqlite_store: Store, checkpoint: Path, field_index: int) -> None:
    _fill(sqlite_store, AuditTrail(KEY, checkpoint), 5)
    lines = checkpoint.read_text().splitlines(keepends=True)
    fields = lines[2].split(" ")
    fields[field_index] = {2: "2", 3: "f" * 64, 4: "2020-01-01T00:00:00.000000Z"}[field_index]
    lines[2] = " ".join(fields)
    checkpoint.write_text("".join(lines))

    result = _verify(sqlite_store, checkpoint)

    assert not result.ok
    assert "checkpoint line 3 (event" in _problems(result)
    assert "was edited, or written with another key" in _problems(result)


def test_garbage_in_checkpoint_fails(sqlite_store: Store, checkpoint: Path) -> None:
    _fill(sqlite_store, AuditTrail(KEY, checkpoint), 2)
    with open(checkpoint, "a") as handle:
        handle.write("TEST not a line\n")

    assert "checkpoint line 3 is not a checkpoint line" in _problems(_verify(sqlite_store, checkpoint))


def test_events_after_the_last_checkpoint_line_are_a_warning(sqlite_store: Store, checkpoint: Path) -> None:
    _fill(sqlite_store, AuditTrail(KEY, checkpoint), 6)
    lines = checkpoint.read_text().splitlines(keepends=True)
    checkpoint.write_text("".join(lines[:4]))  # as after a crash between commit and append

    result = _verify(sqlite_store, checkpoint)
    assert result.ok, result.problems
    assert result.warnings == [
        "events 5-6 were committed after the last checkpoint line (a crash between commit and checkpoint, "
        "or written while verify ran)"
    ]
    # Far more than a crash loses: the file looks put back from an older copy.
    strict = _verify(sqlite_store, checkpoint, tail_tolerance=1)
    assert not strict.ok
    assert "looks put back from an older copy" in _problems(strict)


def test_checkpoint_replaced_late_fails(sqlite_store: Store, checkpoint: Path) -> None:
    _fill(sqlite_store, AuditTrail(KEY, checkpoint), 6)
    lines = checkpoint.read_text().splitlines(keepends=True)
    checkpoint.write_text("".join(lines[4:]))

    assert _verify(sqlite_store, checkpoint).ok
    result = _verify(sqlite_store, checkpoint, tail_tolerance=3)
    assert "has no line before event 5" in _problems(result)


def test_two_homes_may_share_one_checkpoint(sqlite_template: Path, tmp_path: Path, checkpoint: Path) -> None:
    """The default key file serves every home on the machine, and so does its checkpoint."""
    first = _sqlite_store(sqlite_template, tmp_path / "a")
    second = _sqlite_store(sqlite_template, tmp_path / "b")
    trail = AuditTrail(KEY, checkpoint)
    _fill(first, trail, 3)
    _fill(second, trail, 5)
    _fill(first, trail, 2)

    for opened, events in ((first, 5), (second, 5)):
        result = _verify(opened, checkpoint)
        assert result.ok, result.problems
        assert result.checkpoint_lines == events
        opened.close()


def test_lines_appended_while_verify_runs_are_not_held_against_the_trail(
    sqlite_store: Store, checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trail = AuditTrail(KEY, checkpoint)
    _fill(sqlite_store, trail, 3)
    real_head = audit.head

    def head_then_commit(session: object) -> tuple[int, str]:
        found = real_head(session)  # type: ignore[arg-type]
        _fill(sqlite_store, trail, 2)  # another writer commits right after verify read the head
        return found

    monkeypatch.setattr(audit, "head", head_then_commit)
    result = _verify(sqlite_store, checkpoint)

    assert result.ok, result.problems
    assert (result.events, result.head_seq, result.checkpoint_lines) == (3, 3, 3)


def test_verify_reads_in_chunks(
    sqlite_store: Store, checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small chunks, so the chunked reading (not one big read) is what this test checks."""
    monkeypatch.setattr(audit, "_VERIFY_CHUNK", 4)
    monkeypatch.setattr(audit, "_LOOKUP_CHUNK", 3)
    trail = AuditTrail(KEY, checkpoint)
    _fill(sqlite_store, trail, 11)
    assert _verify(sqlite_store, checkpoint).checkpoint_lines == 11

    _tamper(sqlite_store, update(AuditEvent).where(AuditEvent.seq == 9).values(actor="TEST-x"))
    assert _problems(_verify(sqlite_store, checkpoint)).startswith("event 9: its content does not match")


# --- transactions and concurrency -------------------------------------------------------------------------


def test_rolled_back_transaction_leaves_no_line_and_no_gap(store: Store, checkpoint: Path) -> None:
    trail = AuditTrail(KEY, checkpoint)
    _fill(store, trail, 2)
    with pytest.raises(RuntimeError), store.transaction() as session:
        trail.record(session, actor="TEST", action=audit.EXPORT, case_id=1)
        raise RuntimeError("TEST: the export failed")
    assert len(checkpoint.read_text().splitlines()) == 2
    _fill(store, trail, 1)

    result = _verify(store, checkpoint)
    assert result.ok, result.problems
    with store.session() as session:
        assert session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all() == [1, 2, 3]
        assert not session.scalars(select(AuditEvent).where(AuditEvent.action == audit.EXPORT)).all()


def test_rolled_back_savepoint_leaves_its_events_out(store: Store, checkpoint: Path) -> None:
    trail = AuditTrail(KEY, checkpoint)
    with store.transaction() as session:
        trail.record(session, actor="TEST", action=audit.LOGIN)
        nested = session.begin_nested()
        trail.record(session, actor="TEST", action=audit.EXPORT)
        nested.rollback()
        inner = session.begin_nested()
        trail.record(session, actor="TEST", action=audit.CATEGORY_SET)
        inner.commit()
    assert [line.split()[2] for line in checkpoint.read_text().splitlines()] == ["2"]

    result = _verify(store, checkpoint)
    assert result.ok, result.problems
    with store.session() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    assert actions == [audit.LOGIN, audit.CATEGORY_SET]


def test_savepoint_committed_inside_a_rolled_back_transaction_leaves_no_line(
    store: Store, checkpoint: Path
) -> None:
    trail = AuditTrail(KEY, checkpoint)
    with store.session() as session:
        trail.record(session, actor="TEST", action=audit.LOGIN)
        nested = session.begin_nested()
        trail.record(session, actor="TEST", action=audit.EXPORT)
        nested.commit()
        session.rollback()
    assert not checkpoint.exists()
    _fill(store, trail, 1)
    assert [line.split()[2] for line in checkpoint.read_text().splitlines()] == ["1"]
    assert _verify(store, checkpoint).ok


def test_a_session_used_for_several_transactions(store: Store, checkpoint: Path) -> None:
    trail = AuditTrail(KEY, checkpoint)
    with store.session() as session:
        trail.record(session, actor="TEST", action=audit.LOGIN)
        session.commit()
        trail.record(session, actor="TEST", action=audit.LOGOUT)
        session.rollback()
        trail.record(session, actor="TEST", action=audit.LOGOUT)
        session.commit()
    assert [line.split()[2] for line in checkpoint.read_text().splitlines()] == ["1", "2"]
    assert _verify(store, checkpoint).ok


def _write_concurrently(
    store: Store, trail: AuditTrail, events_each: int, writers: int = 4
) -> list[BaseException]:
    """`writers` threads, each recording `events_each` events, one transaction per event; their errors."""
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for number in range(events_each):
                with store.transaction() as session:
                    trail.record(session, actor=name, action=audit.PICTURE_SHOWN, file_id=number)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(f"TEST-{n}",)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_writers_leave_an_intact_chain(sqlite_store: Store, checkpoint: Path) -> None:
    assert _write_concurrently(sqlite_store, AuditTrail(KEY, checkpoint), events_each=50) == []
    result = _verify(sqlite_store, checkpoint)
    assert result.ok, result.problems
    assert (result.events, result.head_seq, result.checkpoint_lines) == (200, 200, 200)
    with sqlite_store.session() as session:
        assert session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all() == list(range(1, 201))
    assert sorted(int(line.split()[2]) for line in checkpoint.read_text().splitlines()) == list(range(1, 201))


@pytest.mark.postgres
def test_concurrent_writers_on_postgresql(postgres_url: str, checkpoint: Path) -> None:
    engine = make_engine(postgres_url)
    migrate(engine)
    store = Store(engine)
    assert _write_concurrently(store, AuditTrail(KEY, checkpoint), events_each=25) == []
    result = _verify(store, checkpoint)
    store.close()
    assert result.ok, result.problems
    assert (result.events, result.checkpoint_lines) == (100, 100)


# --- what goes in, and reading it back --------------------------------------------------------------------


@pytest.mark.parametrize(
    "detail",
    [
        {"password": "TEST"},
        {"new_password": "TEST"},
        {"apiToken": "TEST"},
        {"blob_key": "TEST"},
        {"change": {"totp_secret": "TEST"}},
        {"users": [{"name": "TEST", "passphrase": "TEST"}]},
    ],
)
def test_secret_like_detail_is_refused(
    sqlite_store: Store, checkpoint: Path, detail: dict[str, object]
) -> None:
    trail = AuditTrail(KEY, checkpoint)
    with sqlite_store.transaction() as session, pytest.raises(ValueError, match="named like a secret"):
        trail.record(session, actor="TEST", action=audit.SETTING_CHANGED, detail=detail)
    with sqlite_store.session() as session:
        assert audit.head(session) == (0, audit.GENESIS)


def test_detail_is_canonical_json(sqlite_store: Store, checkpoint: Path) -> None:
    trail = AuditTrail(KEY, checkpoint)
    with sqlite_store.transaction() as session:
        row = trail.record(
            session,
            actor="TEST",
            action=audit.SETTING_CHANGED,
            detail={"to": "ar", "setting": "language", "from": None},
        )
    assert row.detail == '{"from":null,"setting":"language","to":"ar"}'
    with pytest.raises(ValueError, match="not plain JSON"):
        audit.detail_text({"when": datetime.now(UTC)})
    with sqlite_store.transaction() as session, pytest.raises(ValueError, match="action"):
        trail.record(session, actor="TEST", action="")


def test_query_filters_newest_first_and_pages(sqlite_store: Store, checkpoint: Path) -> None:
    trail = AuditTrail(KEY, checkpoint)
    _fill(sqlite_store, trail, 12)  # case_id 1, 2, 3, 1, 2, 3, ...; odd numbers are pictures shown
    with sqlite_store.transaction() as session:
        trail.record(session, actor="TEST-auditor", action=audit.AUDIT_VIEWED)

    with sqlite_store.session() as session:
        everything = audit.query(session)
        assert [row.seq for row in everything] == list(range(13, 0, -1))
        case_1 = audit.query(session, case_ids=[1])
        assert [row.seq for row in case_1] == [10, 7, 4, 1]
        assert audit.query(session, case_ids=[]) == []
        shown = audit.query(session, case_ids={1, 2}, action=audit.PICTURE_SHOWN)
        assert [row.seq for row in shown] == [10, 8, 4, 2]
        assert [
            row.seq for row in audit.query(session, action=[audit.AUDIT_VIEWED, audit.CATEGORY_SET], limit=2)
        ] == [13, 11]
        assert [row.seq for row in audit.query(session, actor="TEST-auditor")] == [13]
        assert [row.seq for row in audit.query(session, file_id=105)] == [6]
        page_2 = audit.query(session, before_seq=10, limit=3)
        assert [row.seq for row in page_2] == [9, 8, 7]
        at_7 = session.scalars(select(AuditEvent.at).where(AuditEvent.seq == 7)).one()
        at_7 = at_7.replace(tzinfo=UTC) if at_7.tzinfo is None else at_7
        # Bounds in another zone are compared as the same instant in UTC.
        amman = at_7.astimezone(timezone(timedelta(hours=3)))
        assert [
            row.seq for row in audit.query(session, since=amman, until=amman + timedelta(microseconds=1))
        ] == [7]
        assert audit.event_dict(page_2[0])["detail"]["n"] == 8


def test_checkpoint_path_beside_the_key_file_unless_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(audit.CHECKPOINT_ENV, raising=False)
    assert checkpoint_path_for(tmp_path / "keys" / "blob.key") == tmp_path / "keys" / "blob.key.audit-chain"
    monkeypatch.setenv(audit.CHECKPOINT_ENV, str(tmp_path / "elsewhere" / "TEST.chain"))
    assert checkpoint_path_for(tmp_path / "keys" / "blob.key") == tmp_path / "elsewhere" / "TEST.chain"


def test_a_trail_keeps_its_keys_out_of_repr(checkpoint: Path) -> None:
    key = generate_key()
    trail = AuditTrail(key, checkpoint)
    assert key.hex() not in repr(trail) and audit.audit_key(key).hex() not in repr(trail)
    assert audit.audit_key(key) != key and len(audit.audit_key(key)) == 32
