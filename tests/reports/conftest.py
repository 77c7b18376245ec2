"""One scanned case that every export and report test reads: matches, an ignore hit, an error, hostile names.

The store is built once per test module (outputs only read it). Everything in it is generated and benign;
every hash set's name says TEST.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from himaya.cases import create_case
from himaya.config import ScanSettings
from himaya.hashsets.importer import import_hash_set
from himaya.pipeline.scan import run_scan
from himaya.store.db import Store, open_store
from tests.builders.evidence import full_pdq
from tests.builders.images import encode, photo_jpeg, photo_like

CASE = "C-2024/017"
TITLE = "قضية اختبار"  # "test case": the title must survive as UTF-8 everywhere
# A file name that is HTML: a report that does not escape it runs it in the reviewer's browser.
HOSTILE_DIR = "<script>alert(1)<"
HOSTILE_PATH = f"phone/{HOSTILE_DIR}/script>.jpg"  # shows as phone/<script>alert(1)</script>.jpg
# A single-file evidence item whose name is a spreadsheet formula.
FORMULA_NAME = "=cmd.jpg"


@dataclass(frozen=True)
class ScannedCase:
    store: Store
    number: str
    listed_md5: str
    paths: dict[str, str]  # role -> export path


@pytest.fixture(scope="module")
def scanned_case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScannedCase]:
    base = tmp_path_factory.mktemp("reports")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("HIMAYA_DATABASE_URL", raising=False)  # always the embedded store here
        store = open_store(base / "home")
    create_case(store, CASE, TITLE)

    listed = photo_jpeg(seed=11, width=640, height=480)
    phone = base / "phone"
    for folder in ("DCIM", "Documents", HOSTILE_DIR, "صور"):
        (phone / folder).mkdir(parents=True)
    (phone / "DCIM/listed.jpg").write_bytes(listed)
    (phone / "DCIM/listed_small.jpg").write_bytes(
        encode(photo_like(11, 640, 480).resize((320, 240)), "JPEG", quality=60)
    )
    (phone / "DCIM/other.jpg").write_bytes(photo_jpeg(seed=12, width=640, height=480))
    (phone / "DCIM/broken.jpg").write_bytes(photo_jpeg(seed=13)[:3000])  # truncated mid-scan
    (phone / HOSTILE_DIR / "script>.jpg").write_bytes(listed)
    (phone / "صور/صورة.jpg").write_bytes(listed)
    notes = b"meeting on tuesday\n"
    (phone / "Documents/notes.txt").write_bytes(notes)
    formula = base / FORMULA_NAME
    formula.write_bytes(listed)

    md5 = hashlib.md5(listed).hexdigest()
    lists = base / "lists"
    lists.mkdir()
    # Version 1 lists something else; version 2 (the one matched against) lists the picture, in upper case.
    md5_list = lists / "TEST-md5.csv"
    md5_list.write_text(f"md5,category,series\n{'ab' * 16},TEST-A,\n")
    import_hash_set(store, md5_list, name="TEST-md5")
    md5_list.write_text(f"md5,category,series\n{md5.upper()},TEST-A,TEST-series\n")
    import_hash_set(store, md5_list, name="TEST-md5")
    pdq_list = lists / "TEST-pdq.csv"
    pdq_list.write_text(f"pdq,category\n{full_pdq(listed)},TEST-B\n")
    import_hash_set(store, pdq_list, name="TEST-pdq")
    ignore_list = lists / "TEST-known-good.txt"
    ignore_list.write_text(hashlib.sha1(notes).hexdigest() + "\n")
    import_hash_set(store, ignore_list, name="TEST-known-good", kind="ignore")

    settings = ScanSettings(workers=0, thumbnails=False)
    run_scan(store, CASE, [phone, formula], settings=settings, blobs=None, quiet=True)
    try:
        yield ScannedCase(
            store=store,
            number=CASE,
            listed_md5=md5,
            paths={
                "listed": "phone/DCIM/listed.jpg",
                "small": "phone/DCIM/listed_small.jpg",
                "other": "phone/DCIM/other.jpg",
                "broken": "phone/DCIM/broken.jpg",
                "hostile": HOSTILE_PATH,
                "arabic": "phone/صور/صورة.jpg",
                "notes": "phone/Documents/notes.txt",
                "formula": FORMULA_NAME,
            },
        )
    finally:
        store.close()
