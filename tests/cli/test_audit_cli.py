"""`himaya audit verify` and `himaya audit list`, run through the real `himaya` entry point."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from himaya.cases import create_case
from himaya.security import audit
from himaya.security.audit import AuditTrail
from himaya.security.crypto import load_or_create_key
from himaya.store.db import Store, open_store
from himaya.store.models import AuditEvent
from tests.cli.test_cli import Cli


@pytest.fixture
def trail_home(himaya_env: dict[str, Path]) -> Iterator[tuple[Store, AuditTrail]]:
    """A home with two cases and five audit events, written as the review app writes them."""
    key = load_or_create_key(himaya_env["key_file"], himaya_env["home"]).key
    store = open_store(himaya_env["home"])
    create_case(store, "TEST-CASE-1", None)
    create_case(store, "TEST-CASE-2", None)
    trail = AuditTrail.for_key_file(key, himaya_env["key_file"])
    events = [
        ("TEST-admin", audit.LOGIN, None),
        ("TEST-reviewer", audit.PICTURE_SHOWN, 1),
        ("TEST-reviewer", audit.CATEGORY_SET, 1),
        ("TEST-reviewer", audit.PICTURE_SHOWN, 2),
        ("TEST-admin", audit.SETTING_CHANGED, None),
    ]
    for actor, action, case_id in events:
        with store.transaction() as session:
            trail.record(
                session, actor=actor, action=action, case_id=case_id, detail={"n": 1}, ip="127.0.0.1"
            )
    yield store, trail
    store.close()


def test_verify_an_intact_trail(himaya: Cli, trail_home: tuple[Store, AuditTrail]) -> None:
    result = himaya("audit", "verify")

    assert result.code == 0, result.err
    assert "events checked: 5" in result.out
    assert "head: event 5, hash " in result.out
    assert "(5 lines of this trail checked)" in result.out
    assert result.out.rstrip().endswith("audit trail intact")


def test_verify_names_an_edited_event_and_fails(himaya: Cli, trail_home: tuple[Store, AuditTrail]) -> None:
    store, _ = trail_home
    with store.transaction() as session:
        session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(actor="TEST-someone-else"))

    result = himaya("audit", "verify")

    assert result.code == 1
    assert "PROBLEM: event 3: its content does not match its hash" in result.out
    assert "audit trail NOT intact: 1 problem(s)" in result.out


def test_verify_checks_a_noted_head(himaya: Cli, trail_home: tuple[Store, AuditTrail]) -> None:
    store, _ = trail_home
    with store.session() as session:
        seq, head_hash = audit.head(session)

    assert himaya("audit", "verify", "--expect", f"{seq}:{head_hash[:8]}").code == 0
    wrong = himaya("audit", "verify", "--expect", f"{seq}:{'0' * 8}")
    assert wrong.code == 1 and "the head noted earlier (event 5" in wrong.out
    bad = himaya("audit", "verify", "--expect", "five")
    assert bad.code == 2 and "is not SEQ:HASH" in bad.err


def test_verify_without_the_key_fails_and_creates_none(
    himaya: Cli, trail_home: tuple[Store, AuditTrail], himaya_env: dict[str, Path]
) -> None:
    key_file = himaya_env["key_file"]
    key_file.rename(key_file.with_name("moved.key"))

    result = himaya("audit", "verify")

    assert result.code == 1
    # Rich wraps long paths at the terminal width: compare without white space.
    assert f"blobkeyfile{key_file}doesnotexist" in "".join(result.err.split())
    assert not key_file.exists()


def test_verify_with_a_deleted_checkpoint_fails(
    himaya: Cli, trail_home: tuple[Store, AuditTrail], himaya_env: dict[str, Path]
) -> None:
    _, trail = trail_home
    assert trail.checkpoint == himaya_env["key_file"].with_name("blob.key.audit-chain")
    trail.checkpoint.unlink()

    result = himaya("audit", "verify")

    assert result.code == 1
    assert "is missing while the trail has 5 events" in " ".join(result.out.split())


def test_list_filters_and_writes_json_lines(himaya: Cli, trail_home: tuple[Store, AuditTrail]) -> None:
    result = himaya("audit", "list", "--case", "TEST-CASE-1", "--format", "jsonl")

    assert result.code == 0, result.err
    records = [json.loads(line) for line in result.out.splitlines()]
    assert [(r["seq"], r["action"], r["case"]) for r in records] == [
        (3, audit.CATEGORY_SET, "TEST-CASE-1"),
        (2, audit.PICTURE_SHOWN, "TEST-CASE-1"),
    ]
    assert records[0]["detail"] == {"n": 1} and records[0]["at"].endswith("Z")

    shown = himaya("audit", "list", "--action", audit.PICTURE_SHOWN, "--limit", "1", "--format", "jsonl")
    assert [json.loads(line)["seq"] for line in shown.out.splitlines()] == [4]
    admin = himaya("audit", "list", "--actor", "TEST-admin", "--format", "jsonl")
    assert [json.loads(line)["seq"] for line in admin.out.splitlines()] == [5, 1]


def test_list_as_a_table(himaya: Cli, trail_home: tuple[Store, AuditTrail]) -> None:
    result = himaya("audit", "list")

    assert result.code == 0, result.err
    assert "setting_changed" in result.out and "TEST-CASE-2" in result.out
    assert result.out.index("setting_changed") < result.out.index("login")  # newest first


def test_list_of_an_unknown_case_is_a_usage_error(himaya: Cli, trail_home: tuple[Store, AuditTrail]) -> None:
    result = himaya("audit", "list", "--case", "TEST-NO-SUCH")

    assert result.code == 2
    assert "case 'TEST-NO-SUCH' does not exist" in result.err
