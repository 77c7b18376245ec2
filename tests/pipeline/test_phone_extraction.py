"""Phone extractions scanned as they arrive (zip, tar, folder): the platform is recorded on the evidence
item, every file is tagged with its app origin, and thumbnail caches give up their pictures."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from himaya.cases import create_case
from himaya.config import ScanSettings
from himaya.pipeline.scan import run_scan
from himaya.reports.export import export_case
from himaya.store.db import Store, open_store
from himaya.store.models import EvidenceItem
from tests.builders.phones import ORIGINS_ANDROID, ORIGINS_IOS, android_dump, ios_dump, tar_tree, zip_tree


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Store:
    store = open_store(himaya_env["home"])
    create_case(store, "C-1", "TEST case")
    return store


def _records(store: Store) -> dict[str, dict[str, Any]]:
    out = io.StringIO()
    export_case(store, "C-1", "jsonl", out)
    return {r["path"]: r for r in map(json.loads, out.getvalue().splitlines())}


def test_android_zip_and_ios_tar_and_folder(store: Store, tmp_path: Path) -> None:
    android, ios = tmp_path / "android", tmp_path / "ios"
    android_files = android_dump(android)
    ios_files = ios_dump(ios)
    dump_zip = zip_tree(android, tmp_path / "SM-G991B.zip", top="Extraction/")
    dump_tar = tar_tree(ios, tmp_path / "iPhone.tar")
    office = tmp_path / "office"
    (office / "Users" / "x").mkdir(parents=True)
    (office / "Users" / "x" / "notes.txt").write_text("TEST")
    run_scan(
        store,
        "C-1",
        [dump_zip, dump_tar, office],
        settings=ScanSettings(workers=0, thumbnails=False),
        blobs=None,
        quiet=True,
    )
    records = _records(store)
    for relative, origin in ORIGINS_ANDROID.items():
        record = records[f"SM-G991B.zip!/Extraction/{relative}"]
        assert record["origin"] == origin, relative
        assert record["sha256"] == hashlib.sha256(android_files[relative]).hexdigest()
    for relative, origin in ORIGINS_IOS.items():
        assert records[f"iPhone.tar!/{relative}"]["origin"] == origin, relative
    assert len(ios_files) == len(ORIGINS_IOS)
    # The Android thumbnail cache is opened: its pictures are files, tagged as the cache is.
    thumbs = [p for p in records if ".thumbdata3--1967290299!/thumb-" in p]
    assert thumbs and all(records[p]["mime"] == "image/jpeg" for p in thumbs)
    assert all(records[p]["origin"] == "thumbnails-cache" for p in thumbs)
    with store.session() as session:
        platforms = {item.name: item.phone_platform for item in session.scalars(select(EvidenceItem))}
    assert platforms == {"SM-G991B.zip": "android", "iPhone.tar": "ios", "office": None}
