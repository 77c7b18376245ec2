"""Scanning seized disks end to end: E01 with partitions, deleted and carved pictures, encrypted volumes,
acquisition verification, resumption, and damaged images that must not stop the scan."""

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
from himaya.pipeline.custody import MISMATCH, VERIFIED
from himaya.pipeline.scan import run_scan
from himaya.reports.export import export_case
from himaya.sources.disk.credentials import VolumeCredentials
from himaya.sources.disk.pathspec import open_spec
from himaya.store.db import Store, open_store
from himaya.store.models import CustodyEvent, EvidenceItem
from tests.builders import disks
from tests.builders.disk_fixtures import PASSWORD
from tests.builders.disks import FsContent, MissingTool


def _records(store: Store, case: str = "C-1") -> dict[str, dict[str, Any]]:
    out = io.StringIO()
    export_case(store, case, "jsonl", out)
    return {r["path"]: r for r in map(json.loads, out.getvalue().splitlines())}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Store:
    store = open_store(himaya_env["home"])
    create_case(store, "C-1", "TEST case")
    return store


def _scan(store: Store, evidence: list[Path], workers: int = 0, **settings: Any) -> Any:
    return run_scan(
        store,
        "C-1",
        evidence,
        settings=ScanSettings(workers=workers, thumbnails=False, **settings),
        blobs=None,
        quiet=True,
    )


def test_e01_scan_finds_every_file_deleted_and_carved(
    store: Store, e01_disk: Path, content: FsContent
) -> None:
    summary = _scan(store, [e01_disk])
    assert summary.status == "finished"
    records = _records(store)
    for part in ("p1", "p2"):  # NTFS, ext4
        for path, data in content.files.items():
            record = records[f"seized.E01/{part}/{path}"]
            assert (record["sha256"], record["size"], record["deleted"]) == (_sha(data), len(data), False)
            assert record["path_spec"] is not None and record["evidence"] == "seized.E01"
    deleted = {r["path"].rsplit("/", 1)[-1]: r for r in records.values() if r["deleted"]}
    for part in ("p1", "p2"):
        for path, data in content.deleted.items():
            found = records[f"seized.E01/{part}/{path}"]
            assert found["deleted"] and found["sha256"] == _sha(data) and found["status"] == "ok"
    assert deleted
    # NTFS and ext4 free a deleted file's clusters: the deleted JPEG is also carved out of the free space.
    carved = [r for r in records.values() if r["carved"]]
    for part in ("p1", "p2"):
        assert any(r["path"].startswith(f"seized.E01/{part}/$Unallocated!/carved-") for r in carved), part
    assert _sha(content.deleted["Users/x/Pictures/deleted.jpg"]) in {r["sha256"] for r in carved}
    assert all(r["mime"] == "image/jpeg" and r["pdq"] for r in carved)
    # Provenance a court can follow: the stored path spec opens the same bytes again.
    for record in records.values():
        if record["path_spec"] and record["sha256"]:
            with open_spec(json.dumps(record["path_spec"])) as stream:
                assert _sha(stream.read()) == record["sha256"], record["path"]
    camera = records["seized.E01/p2/DCIM/100TEST/IMG_0001.JPG"]
    assert camera["origin"] == "camera" and camera["modified"].startswith("2024-03-15T10:20:30")


def test_e01_acquisition_is_verified_and_recorded(store: Store, e01_disk: Path) -> None:
    _scan(store, [e01_disk], carve=False)
    with store.session() as session:
        item = session.scalars(select(EvidenceItem)).one()
        (event,) = session.scalars(select(CustodyEvent).where(CustodyEvent.evidence_id == item.id)).all()
        assert item.kind == "disk-image"
        details = json.loads(item.details or "{}")
        assert details["format"] == "EWF" and [fs["type"] for fs in details["filesystems"]] == [
            "NTFS",
            "ext4",
        ]
        assert event.event == VERIFIED
        record = json.loads(event.detail or "{}")
        assert record["stored"]["md5"] == item.acquisition_md5 == record["computed"]["md5"]
        assert record["header"]["case_number"] == "TEST-CASE-1"
        assert (
            record["header"]["examiner_name"] == "TEST examiner" and record["header"]["notes"] == "TEST notes"
        )
    # A second scan of the same image does not read it all again.
    again = _scan(store, [e01_disk], carve=False)
    assert again.files_written == 0 and again.files_skipped > 10
    with store.session() as session:
        assert len(session.scalars(select(CustodyEvent)).all()) == 1


def test_no_verify_leaves_the_acquisition_unverified(store: Store, e01_disk: Path) -> None:
    summary = _scan(store, [e01_disk], carve=False, verify=False)
    assert summary.status == "finished" and summary.files_written > 10
    with store.session() as session:
        assert session.scalars(select(CustodyEvent)).all() == []


def test_a_damaged_e01_fails_verification_loudly(store: Store, tmp_path: Path, mbr_disk: Path) -> None:
    try:
        image = disks.e01(mbr_disk, tmp_path / "bad", compression="none", name="tampered")
    except MissingTool as exc:
        pytest.skip(f"{exc.tool} is not installed")
    # Uncompressed, the sample note's text lies in the image as it is: change it, as a tamperer would.
    data = bytearray(image.read_bytes())
    at = data.index(b"Shopping list")
    data[at : at + 8] = b"Tampered"
    image.write_bytes(bytes(data))
    summary = _scan(store, [image], carve=False)
    assert summary.status == "finished"
    with store.session() as session:
        (event,) = session.scalars(select(CustodyEvent)).all()
    assert event.event == MISMATCH
    record = json.loads(event.detail or "{}")
    assert record["error"] or record["mismatches"]


def test_encrypted_volume_without_password_is_explained_and_the_rest_scanned(
    store: Store,
    tmp_path: Path,
    luks_payload: Path,
    ext4_img: Path,
    content: FsContent,
    himaya_env: dict[str, Path],
) -> None:
    try:
        luks = disks.luks2_image(tmp_path / "luks.img", luks_payload, PASSWORD)
        disk = disks.partitioned(tmp_path / "laptop.raw", [luks, ext4_img], "gpt")
    except MissingTool as exc:
        pytest.skip(f"{exc.tool} is not installed")
    summary = _scan(store, [disk], carve=False, volume_credentials=VolumeCredentials(passwords=("wrong",)))
    assert summary.status == "finished"
    records = _records(store)
    assert f"laptop.raw/p2/{next(iter(content.files))}" in records
    assert not any(path.startswith("laptop.raw/p1/") for path in records)
    with store.session() as session:
        item = session.scalars(select(EvidenceItem)).one()
        (problem,) = json.loads(item.details or "{}")["problems"]
    assert "LUKS2 volume laptop.raw/p1 is encrypted, not opened" in problem and "--password-file" in problem

    # With the password, the same command adds what was locked and redoes nothing else.
    again = _scan(
        store, [disk], carve=False, volume_credentials=VolumeCredentials(passwords=("wrong", PASSWORD))
    )
    records = _records(store)
    for path, data in content.files.items():
        assert records[f"laptop.raw/p1/{path}"]["sha256"] == _sha(data)
    assert again.files_skipped == len([p for p in records if p.startswith("laptop.raw/p2/")])
    # The password is in no record: not in the database file, not in the export.
    for db_file in himaya_env["home"].rglob("*.db*"):
        assert PASSWORD.encode() not in db_file.read_bytes()
    assert PASSWORD not in json.dumps(records)


def test_workers_open_encrypted_volumes_and_e01_in_their_own_processes(
    store: Store, tmp_path: Path, luks_payload: Path, e01_disk: Path, content: FsContent
) -> None:
    try:
        luks = disks.luks1_image(tmp_path / "luks1.img", luks_payload, PASSWORD)
    except MissingTool as exc:
        pytest.skip(f"{exc.tool} is not installed")
    summary = _scan(
        store, [luks, e01_disk], workers=2, volume_credentials=VolumeCredentials(passwords=(PASSWORD,))
    )
    assert summary.status == "finished" and summary.files_error == 0
    records = _records(store)
    for path, data in content.files.items():
        assert records[f"luks1.img/{path}"]["sha256"] == _sha(data)
        assert records[f"seized.E01/p1/{path}"]["sha256"] == _sha(data)


def test_damaged_images_are_recorded_and_other_evidence_scanned(
    store: Store, tmp_path: Path, e01_disk: Path
) -> None:
    empty = disks.zero_bytes(tmp_path / "empty.img")
    cut = disks.truncated(e01_disk, tmp_path / "cut.E01")
    folder = tmp_path / "usb"
    folder.mkdir()
    (folder / "note.txt").write_text("TEST note")
    summary = _scan(store, [empty, cut, folder])
    assert summary.status == "finished"
    assert "usb/note.txt" in _records(store)
    with store.session() as session:
        items = {item.name: item for item in session.scalars(select(EvidenceItem))}
    for name in ("empty.img", "cut.E01"):
        assert items[name].kind == "disk-image"
        (problem,) = json.loads(items[name].details or "{}")["problems"]
        assert len(problem) > 40


def test_report_shows_file_systems_locked_volumes_and_custody(
    store: Store, tmp_path: Path, e01_disk: Path, luks_payload: Path, ext4_img: Path
) -> None:
    from himaya.reports.html import write_report

    try:
        bde = disks.bitlocker_lookalike(tmp_path / "bde.img")
        laptop = disks.partitioned(tmp_path / "laptop.raw", [bde, ext4_img], "mbr")
    except MissingTool as exc:
        pytest.skip(f"{exc.tool} is not installed")
    _scan(store, [e01_disk, laptop])
    data = write_report(store, "C-1", tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "seized.E01/p1 (NTFS), seized.E01/p2 (ext4)" in html
    assert "BitLocker volume laptop.raw/p1 is encrypted, not opened" in html
    assert "acquisition verified" in html and "case number: TEST-CASE-1" in html
    assert data.deleted >= 4 and data.carved >= 1
    assert "<script" not in html and "<img" not in html


def test_a_password_asked_at_the_terminal_opens_the_volume(
    store: Store, tmp_path: Path, luks_payload: Path, content: FsContent
) -> None:
    try:
        luks = disks.luks1_image(tmp_path / "stick.img", luks_payload, PASSWORD)
    except MissingTool as exc:
        pytest.skip(f"{exc.tool} is not installed")
    asked: list[str] = []

    def ask(volume: str) -> str | None:
        asked.append(volume)
        return ["typo", PASSWORD][len(asked) - 1] if len(asked) <= 2 else None

    run_scan(
        store,
        "C-1",
        [luks],
        settings=ScanSettings(workers=0, thumbnails=False),
        blobs=None,
        quiet=True,
        ask=ask,
    )
    assert asked == ["LUKS volume stick.img", "LUKS volume stick.img"]
    records = _records(store)
    assert records[f"stick.img/{next(iter(content.files))}"]["status"] == "ok"


def test_a_truncated_disk_says_so_and_records_the_folders_it_lost(
    store: Store, tmp_path: Path, gpt_disk: Path, content: FsContent
) -> None:
    cut = disks.truncated(gpt_disk, tmp_path / "cut.raw", keep_fraction=0.47)  # inside p2's metadata
    summary = _scan(store, [cut], carve=False)
    assert summary.status == "finished"
    records = _records(store)
    for path, data in content.files.items():  # p1 (NTFS) lies wholly inside what is left
        assert records[f"cut.raw/p1/{path}"]["sha256"] == _sha(data)
    lost = [r for p, r in records.items() if p.startswith("cut.raw/p2/") and r["status"] == "error"]
    assert lost and all("could not be read from the image" in r["error"] for r in lost)
    with store.session() as session:
        (problem,) = json.loads(session.scalars(select(EvidenceItem)).one().details or "{}")["problems"]
    assert problem.startswith("cut.raw/p2: the image ends before this ext4 file system does")
