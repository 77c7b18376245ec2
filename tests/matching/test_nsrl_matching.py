"""An NSRL RDS v3 database attached as an ignore set: scans and re-matches look digests up in place.

The database is built by a fixture with NIST's layout and benign rows; every name says TEST.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from himaya.cases import create_case
from himaya.config import ScanSettings
from himaya.errors import UsageError
from himaya.hashsets.importer import import_hash_set
from himaya.matching.rematch import rematch
from himaya.pipeline.scan import run_scan
from himaya.reports.export import export_case
from himaya.store.db import Store, open_store
from himaya.store.models import HashEntry
from tests.builders.hashlists import nsrl_seed, rds_v3_db


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Iterator[Store]:
    store = open_store(himaya_env["home"])
    yield store
    store.close()


def known_software(n: int) -> bytes:
    """The bytes whose digests row `n` of the fixture database lists."""
    return f"TEST benign {nsrl_seed(n)}".encode()


def records(store: Store, case: str) -> dict[str, dict[str, object]]:
    out = io.StringIO()
    export_case(store, case, "jsonl", out)
    return {record["path"]: record for record in map(json.loads, out.getvalue().splitlines())}


def test_nsrl_is_attached_and_matched_in_place_without_copying(store: Store, tmp_path: Path) -> None:
    database = rds_v3_db(tmp_path / "TEST-RDS_minimal.db", rows=2000, extra_indexes=False)
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    summary = import_hash_set(store, database, name="TEST-NSRL")
    assert (summary.format, summary.kind, summary.counts) == ("nsrl", "ignore", {})
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(HashEntry)) == 0  # nothing copied

    evidence = tmp_path / "ev"
    evidence.mkdir()
    (evidence / "system32-TEST.dll").write_bytes(known_software(17))
    (evidence / "holiday-notes.txt").write_bytes(b"TEST not in any list\n")
    create_case(store, "TEST-C1")
    run_scan(
        store,
        "TEST-C1",
        [evidence],
        settings=ScanSettings(workers=0, thumbnails=False),
        blobs=None,
        quiet=True,
    )

    found = records(store, "TEST-C1")
    [match] = found["ev/system32-TEST.dll"]["matches"]  # type: ignore[misc]
    assert (match["hashset"], match["kind"], match["method"]) == ("TEST-NSRL", "ignore", "sha256")
    assert found["ev/holiday-notes.txt"]["matches"] == []
    with store.session() as session:
        # Only the digest the case holds became an entry row: a match must point at one.
        assert session.scalar(select(func.count()).select_from(HashEntry)) == 1
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before

    # A re-match asks the database again and keeps the match; the same file attached again is no new version.
    [result] = rematch(store, ["TEST-C1"])
    assert (len(result.new), len(result.lost), result.kept) == (0, 0, 1)
    assert import_hash_set(store, database, name="TEST-NSRL").unchanged


def test_nsrl_cannot_be_an_alert_set(store: Store, tmp_path: Path) -> None:
    database = rds_v3_db(tmp_path / "TEST-RDS.db", rows=10)
    with pytest.raises(UsageError, match="can only be an ignore set"):
        import_hash_set(store, database, name="TEST-NSRL", kind="alert")
