"""End-to-end scans of generated seized folders: what is flagged, what is not, and what is recorded."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from himaya.cases import create_case
from himaya.config import ScanSettings
from himaya.hashsets.importer import import_hash_set
from himaya.pipeline.scan import run_scan
from himaya.reports.export import export_case
from himaya.security.crypto import load_or_create_key
from himaya.store.blobs import BlobStore
from himaya.store.db import Store, open_store
from himaya.store.models import File, Match, MediaFacts, ScanRun
from tests.builders.evidence import pdq_list, seized_folder


def export_records(store: Store, case: str = "C-1") -> dict[str, dict[str, Any]]:
    out = io.StringIO()
    export_case(store, case, "jsonl", out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    return {r["path"]: r for r in records}


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Store:
    store = open_store(himaya_env["home"])
    create_case(store, "C-1", "TEST case")
    return store


@pytest.fixture
def blobs(himaya_env: dict[str, Path]) -> BlobStore:
    key = load_or_create_key(himaya_env["key_file"], himaya_env["home"]).key
    return BlobStore(himaya_env["home"] / "blobs", key)


def test_scan_flags_every_copy_of_listed_pictures_and_nothing_else(
    store: Store, blobs: BlobStore, tmp_path: Path
) -> None:
    folder = seized_folder(tmp_path)
    assert folder.hash_list is not None
    import_hash_set(store, folder.hash_list, name="TEST-md5", kind="alert")
    import_hash_set(store, pdq_list(tmp_path / "pdq.csv", list(folder.listed.values())), name="TEST-pdq")

    summary = run_scan(store, "C-1", [folder.root], settings=ScanSettings(workers=0), blobs=blobs, quiet=True)

    records = export_records(store)
    flagged = {path for path, r in records.items() if any(m["kind"] == "alert" for m in r["matches"])}
    assert flagged == folder.expected_matches
    assert folder.expected_clean <= set(records)
    assert summary.status == "finished"
    assert summary.matched_files == len(folder.expected_matches)
    # The listed original matches by MD5 and by PDQ at distance 0; its resized copy only by PDQ.
    orig = records["seized/DCIM/orig1.jpg"]
    assert {(m["method"], m["distance"]) for m in orig["matches"]} == {("md5", 0), ("pdq", 0)}
    small = records["seized/DCIM/orig1_small.jpg"]
    assert [m["method"] for m in small["matches"]] == ["pdq"]
    assert 0 < small["matches"][0]["distance"] <= 31
    assert small["matches"][0]["category"] == "TEST-B"


def test_digests_and_provenance_of_archive_members(store: Store, tmp_path: Path) -> None:
    folder = seized_folder(tmp_path)
    settings = ScanSettings(workers=0, thumbnails=False)
    run_scan(store, "C-1", [folder.root], settings=settings, blobs=None, quiet=True)
    records = export_records(store)
    member = records["seized/Downloads/share.zip!/a/inner.tar.gz!/deep/orig2_again.jpg"]
    data = folder.listed["orig2.jpg"]
    assert member["md5"] == hashlib.md5(data).hexdigest()
    assert member["sha1"] == hashlib.sha1(data).hexdigest()
    assert member["sha256"] == hashlib.sha256(data).hexdigest()
    assert member["size"] == len(data)
    assert member["mime"] == "image/jpeg"
    assert member["status"] == "ok"
    container = records["seized/Downloads/share.zip"]
    assert container["md5"] == hashlib.md5((folder.root / "Downloads/share.zip").read_bytes()).hexdigest()
    with store.session() as session:
        row = session.scalar(select(File).where(File.path == member["path"]))
        assert row is not None
        assert row.depth == 2
        assert "!#" in row.locator  # member indices keep duplicate names apart


def test_media_facts_and_thumbnails_are_stored_encrypted(
    store: Store, blobs: BlobStore, tmp_path: Path
) -> None:
    folder = seized_folder(tmp_path)
    run_scan(store, "C-1", [folder.root], settings=ScanSettings(workers=0), blobs=blobs, quiet=True)
    with store.session() as session:
        media = session.scalars(select(MediaFacts)).all()
        assert len(media) >= 9
        for facts in media:
            assert facts.pdq is not None and len(facts.pdq) == 64
            assert facts.pdq_pipeline is not None and facts.pdq_pipeline.startswith("pdq-")
            assert facts.thumbnail_blob is not None and facts.blurred_blob is not None
            thumbnail = blobs.get(facts.thumbnail_blob)
            assert thumbnail[:2] == b"\xff\xd8"  # a JPEG once decrypted...
            on_disk = blobs.path_for(facts.thumbnail_blob).read_bytes()
            assert b"\xff\xd8\xff" not in on_disk[:64]  # ...but not on disk


def test_rescan_skips_done_files_and_writes_no_duplicates(store: Store, tmp_path: Path) -> None:
    folder = seized_folder(tmp_path)
    settings = ScanSettings(workers=0, thumbnails=False)
    first = run_scan(store, "C-1", [folder.root], settings=settings, blobs=None, quiet=True)
    second = run_scan(store, "C-1", [folder.root], settings=settings, blobs=None, quiet=True)
    assert first.files_written > 10
    assert second.files_written == 0
    assert second.files_skipped == 9  # the top-level files; archives are not reopened
    with store.session() as session:
        total = session.scalar(select(func.count(File.id)))
        distinct = session.scalar(select(func.count(func.distinct(File.locator))))
        assert total == distinct == first.files_written
        runs = session.scalars(select(ScanRun).order_by(ScanRun.id)).all()
        assert [r.status for r in runs] == ["finished", "finished"]


def test_parallel_workers_give_the_same_result_as_in_process(store: Store, tmp_path: Path) -> None:
    folder = seized_folder(tmp_path)
    assert folder.hash_list is not None
    import_hash_set(store, folder.hash_list, name="TEST-md5", kind="alert")
    import_hash_set(store, pdq_list(tmp_path / "pdq.csv", list(folder.listed.values())), name="TEST-pdq")
    settings = ScanSettings(workers=2, thumbnails=False)
    run_scan(store, "C-1", [folder.root], settings=settings, blobs=None, quiet=True)
    records = export_records(store)
    flagged = {path for path, r in records.items() if r["matches"]}
    assert flagged == folder.expected_matches


def test_ignore_sets_are_recorded_but_not_counted_as_alerts(store: Store, tmp_path: Path) -> None:
    folder = seized_folder(tmp_path)
    notes = folder.root / "Documents/notes.txt"
    ignore = tmp_path / "TEST-known-good.txt"
    ignore.write_text(hashlib.sha1(notes.read_bytes()).hexdigest() + "\n")
    import_hash_set(store, ignore, name="TEST-known-good", kind="ignore")
    settings = ScanSettings(workers=0, thumbnails=False)
    summary = run_scan(store, "C-1", [folder.root], settings=settings, blobs=None, quiet=True)
    assert summary.matched_files == 0
    record = export_records(store)["seized/Documents/notes.txt"]
    assert record["matches"] == [
        {
            "hashset": "TEST-known-good",
            "hashset_version": 1,
            "kind": "ignore",
            "method": "sha1",
            "distance": 0,
            "category": None,
            "internal_category": "uncategorized",
            "category_scheme": None,
        }
    ]
    with store.session() as session:
        match = session.scalars(select(Match)).one()
        assert match.hash_set_version.version == 1
