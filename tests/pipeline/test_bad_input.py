"""Broken and hostile evidence, end to end through the scan pipeline.

The promise tested here: a file that cannot be read, decoded or trusted is recorded *on that file*, with
status "error" and a reason the examiner can act on (in the `export --format jsonl` record), the scan goes
on with everything else, and the summary (`ScanSummary.files_error`, `ScanRun.files_error`) counts it.
Whatever content could still be read is analysed: a hostile member name does not hide its digests.

All evidence is generated: small synthetic pictures, zeros, and archives built in the test.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from himaya.cases import create_case
from himaya.config import ArchiveLimits, ImageLimits, ScanSettings
from himaya.pipeline import scan as scan_module
from himaya.pipeline.scan import ScanSummary, run_scan
from himaya.reports.export import export_case
from himaya.sources.interface import FileEntry
from himaya.store.db import Store, open_store
from himaya.store.models import File, ScanRun
from tests.builders.bombs import png_header_only
from tests.builders.evidence import tar_gz_bytes, zip_bytes
from tests.builders.images import encode, photo_jpeg
from tests.pipeline.conftest import Denier

Record = dict[str, Any]

FAST = ScanSettings(workers=0, thumbnails=False)
GIB = 1024 * 1024 * 1024
# md5 / sha256 of 1 GiB of zero bytes (computed once with hashlib over 1024 x 1 MiB of zeros).
MD5_OF_1_GIB_ZEROS = "cd573cfaace07e7949bc0c46028904ff"
SHA256_OF_1_GIB_ZEROS = "49bc20df15e412a64472421e13fe86ff1c5165e18b2afccf160d4dc19fe68a14"


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Store:
    store = open_store(himaya_env["home"])
    create_case(store, "C-1", "TEST case")
    return store


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def picture(seed: int) -> bytes:
    return photo_jpeg(seed=seed, width=96, height=72)


def scan(store: Store, root: Path, settings: ScanSettings = FAST) -> tuple[ScanSummary, list[Record]]:
    """One scan of `root` into C-1 (a fresh case), its export, and the checks every bad-input test shares."""
    summary = run_scan(store, "C-1", [root], settings=settings, blobs=None, quiet=True)
    out = io.StringIO()
    export_case(store, "C-1", "jsonl", out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert summary.status == "finished"
    errors = [r for r in records if r["status"] == "error"]
    for record in records:
        assert record["status"] in ("ok", "error")
        # An error always says why; an ok record never carries a stale reason.
        assert bool(record["error"]) == (record["status"] == "error"), record
    assert summary.files_error == len(errors)
    assert summary.files_written == len(records)
    with store.session() as session:
        run = session.get(ScanRun, summary.scan_run_id)
        assert run is not None
        assert run.status == "finished"
        assert run.files_error == len(errors)
        assert run.files_ok == len(records) - len(errors)
    return summary, records


def by_path(records: list[Record]) -> dict[str, Record]:
    found: dict[str, Record] = {}
    for record in records:
        assert record["path"] not in found, f"two records for {record['path']}"
        found[record["path"]] = record
    return found


def assert_analysed_picture(record: Record, data: bytes) -> None:
    assert record["status"] == "ok", record
    assert record["md5"] == md5(data)
    assert record["mime"] == "image/jpeg"
    assert record["pdq"] is not None and len(record["pdq"]) == 64


def assert_error(record: Record, *reason_parts: str) -> None:
    assert record["status"] == "error", record
    for part in reason_parts:
        assert part in record["error"], record["error"]


# ---------------------------------------------------------------- files and folders that cannot be read
def test_unreadable_file_is_recorded_and_the_scan_goes_on(store: Store, tmp_path: Path, deny: Denier) -> None:
    """Permission denied on one file.

    As an ordinary user this is a real `chmod 000`; as root (modes do not stop root's reads) the kernel's
    PermissionError is injected at `open()` of that one path. See `Denier`.
    """
    root = tmp_path / "ev"
    (root / "DCIM").mkdir(parents=True)
    before, after = picture(1), picture(2)
    (root / "DCIM" / "a_before.jpg").write_bytes(before)
    (root / "DCIM" / "b_locked.jpg").write_bytes(picture(3))
    (root / "DCIM" / "c_after.jpg").write_bytes(after)
    deny(root / "DCIM" / "b_locked.jpg")

    summary, records = scan(store, root)

    found = by_path(records)
    assert_error(found["ev/DCIM/b_locked.jpg"], "permission denied", "re-run")
    assert found["ev/DCIM/b_locked.jpg"]["md5"] is None  # nothing was read, so nothing is claimed
    assert_analysed_picture(found["ev/DCIM/a_before.jpg"], before)
    assert_analysed_picture(found["ev/DCIM/c_after.jpg"], after)
    assert summary.files_error == 1


def test_unreadable_folder_is_recorded_and_the_scan_goes_on(
    store: Store, tmp_path: Path, deny: Denier
) -> None:
    """Permission denied listing one folder.

    As an ordinary user this is a real `chmod 000`; as root the kernel's PermissionError is injected at
    `os.scandir()` of that one folder. See `Denier`.
    """
    root = tmp_path / "ev"
    (root / "Pictures" / "private").mkdir(parents=True)
    (root / "Pictures" / "private" / "hidden.jpg").write_bytes(picture(4))
    visible = picture(5)
    (root / "Pictures" / "visible.jpg").write_bytes(visible)
    deny(root / "Pictures" / "private")

    summary, records = scan(store, root)

    found = by_path(records)
    assert_error(found["ev/Pictures/private"], "permission denied listing this folder")
    assert not [path for path in found if path.startswith("ev/Pictures/private/")]
    assert_analysed_picture(found["ev/Pictures/visible.jpg"], visible)
    assert summary.files_error == 1


# ---------------------------------------------------------------- pictures that cannot be decoded
def test_truncated_and_corrupt_jpegs_are_errors_with_their_digests(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    good = picture(6)
    truncated = good[: len(good) // 2]
    corrupt = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4  # a JPEG signature, then noise
    (root / "good.jpg").write_bytes(good)
    (root / "truncated.jpg").write_bytes(truncated)
    (root / "corrupt.jpg").write_bytes(corrupt)

    summary, records = scan(store, root)

    found = by_path(records)
    for name, data in (("truncated.jpg", truncated), ("corrupt.jpg", corrupt)):
        record = found[f"ev/{name}"]
        assert_error(record, "truncated or corrupt")
        assert record["md5"] == md5(data)  # hash-set matching still works on a broken picture
        assert record["sha256"] == hashlib.sha256(data).hexdigest()
        assert record["pdq"] is None  # a half-grey picture would hash to a meaningless PDQ
    assert_analysed_picture(found["ev/good.jpg"], good)
    assert summary.files_error == 2


def test_decompression_bombs_are_refused_before_decoding(store: Store, tmp_path: Path) -> None:
    """A 2.5-gigapixel PNG header under the default limit, and a real 2 MP PNG under a lowered 1 MP limit.

    The first takes Pillow's hard error path (more than twice the limit), the second its warning path
    (between one and two times), which the analyzer must also turn into a refusal.
    """
    root = tmp_path / "ev"
    root.mkdir()
    huge = png_header_only(50_000, 50_000)
    real = encode(Image.new("L", (2000, 1000), 128), "PNG")
    good = picture(7)
    (root / "huge.png").write_bytes(huge)
    (root / "real.png").write_bytes(real)
    (root / "good.jpg").write_bytes(good)
    assert len(huge) < 1024 and len(real) < 64 * 1024  # small on disk

    settings = ScanSettings(workers=0, thumbnails=False, image=ImageLimits(max_pixels=1_000_000))
    summary, records = scan(store, root, settings)

    found = by_path(records)
    assert_error(found["ev/huge.png"], "2,500,000,000 pixels", "--max-pixels")
    assert_error(found["ev/real.png"], "2,000,000 pixels", "over the 1 MP limit", "--max-pixels")
    for name, data in (("huge.png", huge), ("real.png", real)):
        assert found[f"ev/{name}"]["md5"] == md5(data)
        assert found[f"ev/{name}"]["mime"] == "image/png"
        assert found[f"ev/{name}"]["pdq"] is None
    assert_analysed_picture(found["ev/good.jpg"], good)
    assert summary.files_error == 2


# ---------------------------------------------------------------- hostile archives
def test_zip_bomb_by_ratio_is_refused_and_the_rest_is_read(store: Store, tmp_path: Path) -> None:
    """A zip member that declares 4 MiB from ~4 KiB, and a tar.gz whose stream expands past the ratio.

    The zip is refused on its declared sizes before a byte is inflated; the tar.gz (one solid stream)
    is stopped while reading. Limits are lowered so that the bombs stay a few MiB.
    """
    root = tmp_path / "ev"
    root.mkdir()
    ok_in_zip, ok_in_tar, good = picture(8), picture(9), picture(10)
    (root / "bomb.zip").write_bytes(zip_bytes([("zeros.bin", bytes(4 << 20)), ("ok.jpg", ok_in_zip)]))
    (root / "bomb.tar.gz").write_bytes(tar_gz_bytes([("ok.jpg", ok_in_tar), ("zeros.bin", bytes(4 << 20))]))
    (root / "good.jpg").write_bytes(good)

    limits = ArchiveLimits(max_ratio=50, ratio_min_size=1 << 20)
    summary, records = scan(store, root, ScanSettings(workers=0, thumbnails=False, archive=limits))

    found = by_path(records)
    zip_member = found["ev/bomb.zip!/zeros.bin"]
    assert_error(zip_member, "zip bomb", "4,194,304 bytes")
    assert zip_member["md5"] is None  # refused: nothing was inflated
    assert_analysed_picture(found["ev/bomb.zip!/ok.jpg"], ok_in_zip)
    assert found["ev/bomb.zip"]["md5"] == md5((root / "bomb.zip").read_bytes())

    assert_error(found["ev/bomb.tar.gz!/zeros.bin"], "zip bomb")
    assert_error(found["ev/bomb.tar.gz"], "could not be read to the end", "zip bomb")
    assert found["ev/bomb.tar.gz"]["md5"] == md5((root / "bomb.tar.gz").read_bytes())
    assert_analysed_picture(found["ev/bomb.tar.gz!/ok.jpg"], ok_in_tar)

    assert_analysed_picture(found["ev/good.jpg"], good)
    assert summary.files_error == 3


def test_zip_bomb_by_total_size_stops_at_the_budget_across_nested_layers(
    store: Store, tmp_path: Path
) -> None:
    """Five zips inside a zip, each inflating 400 kB: no one layer is large, all together exceed 1 MB."""
    root = tmp_path / "ev"
    root.mkdir()
    inner = zip_bytes([("zeros.bin", bytes(400_000))])
    (root / "nested.zip").write_bytes(zip_bytes([(f"part{i}.zip", inner) for i in range(5)]))
    good = picture(11)
    (root / "good.jpg").write_bytes(good)

    limits = ArchiveLimits(max_total_bytes=1_000_000)
    summary, records = scan(store, root, ScanSettings(workers=0, thumbnails=False, archive=limits))

    found = by_path(records)
    members = [found[f"ev/nested.zip!/part{i}.zip!/zeros.bin"] for i in range(5)]
    read = [m for m in members if m["status"] == "ok"]
    refused = [m for m in members if m["status"] == "error"]
    assert read and refused  # some fit in the budget, the rest did not
    assert sum(m["size"] for m in read) <= limits.max_total_bytes
    for member in read:
        assert member["md5"] == md5(bytes(400_000))
    for member in refused:
        assert_error(member, "extraction budget")
        assert member["md5"] is None
    assert_analysed_picture(found["ev/good.jpg"], good)
    assert summary.files_error == len(refused)


def test_member_names_that_escape_the_archive_are_flagged_but_analysed(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    up, absolute, tar_up, plain = picture(12), picture(13), picture(14), picture(15)
    (root / "names.zip").write_bytes(
        zip_bytes([("../../evil.jpg", up), ("/abs/path.jpg", absolute), ("plain.jpg", plain)])
    )
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as archive:
        info = tarfile.TarInfo("../up.jpg")
        info.size = len(tar_up)
        archive.addfile(info, io.BytesIO(tar_up))
    (root / "names.tar").write_bytes(tar.getvalue())

    summary, records = scan(store, root)

    found = by_path(records)
    for path, data, reason in (
        ("ev/names.zip!/../../evil.jpg", up, "escapes the archive"),
        ("ev/names.zip!/abs/path.jpg", absolute, "is absolute ('/abs/path.jpg')"),
        ("ev/names.tar!/../up.jpg", tar_up, "escapes the archive"),
    ):
        record = found[path]
        assert_error(record, reason, "content analysed")
        # Content still analysed: digests, type and PDQ are all there for matching.
        assert record["md5"] == md5(data)
        assert record["sha1"] == hashlib.sha1(data).hexdigest()
        assert record["mime"] == "image/jpeg"
        assert record["pdq"] is not None
    assert_analysed_picture(found["ev/names.zip!/plain.jpg"], plain)
    assert summary.files_error == 3


def test_a_hostile_name_and_a_corrupt_body_are_both_reported(store: Store, tmp_path: Path) -> None:
    """One reason must not overwrite another: the examiner needs to see both."""
    root = tmp_path / "ev"
    root.mkdir()
    broken = picture(16)[:300]
    (root / "both.zip").write_bytes(zip_bytes([("../broken.jpg", broken)]))

    _, records = scan(store, root)

    record = by_path(records)["ev/both.zip!/../broken.jpg"]
    assert_error(record, "escapes the archive", "truncated or corrupt")
    assert record["md5"] == md5(broken)


def test_duplicate_member_names_are_two_files(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    first, second = picture(17), picture(18)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns "Duplicate name", which is the point
        (root / "dup.zip").write_bytes(zip_bytes([("DCIM/dup.jpg", first), ("DCIM/dup.jpg", second)]))

    summary, records = scan(store, root)

    twins = [r for r in records if r["path"] == "ev/dup.zip!/DCIM/dup.jpg"]
    assert len(twins) == 2
    assert {r["md5"] for r in twins} == {md5(first), md5(second)}
    for record in twins:
        assert_analysed_picture(record, first if record["md5"] == md5(first) else second)
    with store.session() as session:
        locators = session.scalars(select(File.locator).where(File.path == "ev/dup.zip!/DCIM/dup.jpg")).all()
    assert len(set(locators)) == 2  # the member index keeps them apart
    assert summary.files_error == 0


# ---------------------------------------------------------------- names that are not UTF-8
def test_non_utf8_names_on_disk_and_in_a_tar_are_escaped_and_analysed(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    loose, in_folder, in_tar = picture(19), picture(20), picture(21)
    raw_root = os.fsencode(root)
    with open(os.path.join(raw_root, b"caf\xe9.jpg"), "wb") as handle:  # Latin-1 on disk
        handle.write(loose)
    os.mkdir(os.path.join(raw_root, b"dir\xff"))
    with open(os.path.join(raw_root, b"dir\xff", b"ok.jpg"), "wb") as handle:
        handle.write(in_folder)
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w", encoding="utf-8", errors="surrogateescape") as archive:
        info = tarfile.TarInfo(os.fsdecode(b"bad\xfe.jpg"))
        info.size = len(in_tar)
        archive.addfile(info, io.BytesIO(in_tar))
    (root / "names.tar").write_bytes(tar.getvalue())

    summary, records = scan(store, root)

    found = by_path(records)
    for path, data, noun in (
        ("ev/caf\\xe9.jpg", loose, "file name"),
        ("ev/dir\\xff/ok.jpg", in_folder, "file name"),
        ("ev/names.tar!/bad\\xfe.jpg", in_tar, "member name"),
    ):
        record = found[path]
        assert_error(record, f"{noun} is not valid UTF-8")
        assert record["md5"] == md5(data)
        assert record["pdq"] is not None
    assert summary.files_error == 3


def zip_with_raw_name(raw: bytes, data: bytes, *, utf8_flag: bool) -> bytes:
    """A zip whose first member's stored name is `raw` (bytes zipfile would never write), then 'other.jpg'."""
    placeholder = b"N" * len(raw)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(placeholder.decode(), data)
        archive.writestr("other.jpg", picture(22))
    out = bytearray(buffer.getvalue().replace(placeholder, raw))
    if utf8_flag:
        for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            at = out.find(signature) + flag_offset
            flags = int.from_bytes(out[at : at + 2], "little") | 0x800
            out[at : at + 2] = flags.to_bytes(2, "little")
    return bytes(out)


def test_zip_member_name_without_the_utf8_flag_is_read_as_cp437(store: Store, tmp_path: Path) -> None:
    """Bytes that are not UTF-8, without the flag: by the zip spec they are CP437, so nothing is invalid.

    The member is found and analysed under its CP437 reading; whether that reading is flagged is left to
    the archive source (it is a valid name by the format's own rules).
    """
    root = tmp_path / "ev"
    root.mkdir()
    data = picture(23)
    (root / "cp437.zip").write_bytes(zip_with_raw_name(b"caf\x82\xff.jpg", data, utf8_flag=False))

    _, records = scan(store, root)

    found = by_path(records)
    record = found["ev/cp437.zip!/" + b"caf\x82\xff.jpg".decode("cp437")]
    assert record["md5"] == md5(data)
    assert record["pdq"] is not None
    assert found["ev/cp437.zip!/other.jpg"]["status"] == "ok"


def test_zip_member_name_that_lies_about_utf8_loses_only_itself(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    data = picture(24)
    (root / "liar.zip").write_bytes(zip_with_raw_name(b"bad\xff.jpg", data, utf8_flag=True))

    _, records = scan(store, root)

    found = by_path(records)
    assert found["ev/liar.zip!/other.jpg"]["status"] == "ok"
    assert_error(found["ev/liar.zip!/bad\\xff.jpg"], "not valid UTF-8")


def test_escaped_name_that_equals_another_files_name_loses_neither(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    with open(os.path.join(os.fsencode(root), b"a\xff.txt"), "wb") as handle:
        handle.write(b"raw byte name\n")
    (root / "a\\xff.txt").write_bytes(b"literal backslash name\n")

    _, records = scan(store, root)

    assert {r["md5"] for r in records} == {md5(b"raw byte name\n"), md5(b"literal backslash name\n")}


# ---------------------------------------------------------------- links and files that move
def test_symlinks_are_listed_never_followed(store: Store, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = b"outside the evidence; must never be read\n"
    (outside / "secret.txt").write_bytes(secret)
    root = tmp_path / "ev"
    root.mkdir()
    (root / "loop_a").symlink_to("loop_b")
    (root / "loop_b").symlink_to("loop_a")
    (root / "to_file").symlink_to(outside / "secret.txt")
    (root / "to_folder").symlink_to(outside, target_is_directory=True)
    (root / "dangling").symlink_to(tmp_path / "nowhere")
    good = picture(25)
    (root / "good.jpg").write_bytes(good)

    summary, records = scan(store, root)

    found = by_path(records)
    assert_error(found["ev/loop_a"], "symbolic link loop")
    assert_error(found["ev/loop_b"], "symbolic link loop")
    assert_error(found["ev/to_file"], "symbolic link", "not followed")
    assert_error(found["ev/to_folder"], "symbolic link", "not followed")
    assert_error(found["ev/dangling"], "does not exist", "not followed")
    for name in ("loop_a", "loop_b", "to_file", "to_folder", "dangling"):
        assert found[f"ev/{name}"]["md5"] is None
    assert md5(secret) not in {r["md5"] for r in records}
    assert not [path for path in found if path.startswith("ev/to_folder/")]
    assert_analysed_picture(found["ev/good.jpg"], good)
    assert summary.files_error == 5


def test_named_pipe_is_listed_never_opened(store: Store, tmp_path: Path) -> None:
    """Opening a fifo blocks until someone writes to it: a scan that opened one would hang forever."""
    root = tmp_path / "ev"
    root.mkdir()
    os.mkfifo(root / "pipe")
    good = picture(28)
    (root / "good.jpg").write_bytes(good)

    summary, records = scan(store, root)

    found = by_path(records)
    assert_error(found["ev/pipe"], "named pipe", "never opened")
    assert_analysed_picture(found["ev/good.jpg"], good)
    assert summary.files_error == 1


def test_file_that_vanishes_mid_scan_is_recorded_and_the_scan_goes_on(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is listed, then deleted before a worker opens it (workers=0: the worker runs in-process)."""
    root = tmp_path / "ev"
    (root / "DCIM").mkdir(parents=True)
    kept = picture(26)
    (root / "DCIM" / "gone.jpg").write_bytes(picture(27))
    (root / "DCIM" / "kept.jpg").write_bytes(kept)
    real_walk = scan_module.walk

    def walk_then_delete(top: Path, evidence_name: str) -> Iterator[FileEntry]:
        entries = list(real_walk(top, evidence_name))
        (root / "DCIM" / "gone.jpg").unlink()
        yield from entries

    monkeypatch.setattr(scan_module, "walk", walk_then_delete)

    summary, records = scan(store, root)

    found = by_path(records)
    assert_error(found["ev/DCIM/gone.jpg"], "vanished")
    assert found["ev/DCIM/gone.jpg"]["md5"] is None
    assert_analysed_picture(found["ev/DCIM/kept.jpg"], kept)
    assert summary.files_error == 1


# ---------------------------------------------------------------- all at once, through the worker pool
def test_hostile_folder_through_the_worker_pool(store: Store, tmp_path: Path) -> None:
    """The same kinds of bad input in one folder, scanned by two spawned workers as the CLI does."""
    root = tmp_path / "ev"
    (root / "DCIM").mkdir(parents=True)
    goods = {f"ev/DCIM/good{i}.jpg": picture(30 + i) for i in range(4)}
    for path, data in goods.items():
        (tmp_path / path).write_bytes(data)
    (root / "DCIM" / "truncated.jpg").write_bytes(picture(40)[:200])
    (root / "huge.png").write_bytes(png_header_only(50_000, 50_000))
    (root / "bomb.zip").write_bytes(zip_bytes([("zeros.bin", bytes(4 << 20)), ("ok.jpg", picture(41))]))
    (root / "names.zip").write_bytes(zip_bytes([("../evil.jpg", picture(42))]))
    with open(os.path.join(os.fsencode(root), b"x\xff.jpg"), "wb") as handle:
        handle.write(picture(43))
    (root / "loop").symlink_to("loop")
    expected_errors = {
        "ev/DCIM/truncated.jpg",
        "ev/huge.png",
        "ev/bomb.zip!/zeros.bin",
        "ev/names.zip!/../evil.jpg",
        "ev/x\\xff.jpg",
        "ev/loop",
    }

    limits = ArchiveLimits(max_ratio=50, ratio_min_size=1 << 20)
    summary, records = scan(store, root, ScanSettings(workers=2, thumbnails=False, archive=limits))

    found = by_path(records)
    assert {path for path, r in found.items() if r["status"] == "error"} == expected_errors
    for path, data in goods.items():
        assert_analysed_picture(found[path], data)
    assert found["ev/bomb.zip!/ok.jpg"]["status"] == "ok"
    assert summary.files_error == len(expected_errors)
    with store.session() as session:
        assert session.scalar(select(func.count(File.id))) == len(records)


# ---------------------------------------------------------------- big files
_SPARSE_SCAN = """
import json, re, sys
from pathlib import Path
from himaya.cases import create_case
from himaya.config import ScanSettings
from himaya.pipeline.scan import run_scan
from himaya.store.db import open_store
from himaya.store.models import File
store = open_store(Path(sys.argv[1]))
create_case(store, "C-1")
summary = run_scan(store, "C-1", [Path(sys.argv[2])], settings=ScanSettings(workers=0, thumbnails=False),
                   blobs=None, quiet=True)
with store.session() as session:
    row = session.query(File).one()
    facts = {"size": row.size, "md5": row.md5, "sha256": row.sha256, "status": row.status}
facts["scan"] = summary.status
# VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across exec, so a child forked from a big
# pytest worker would report the worker's size; the high-water mark in /proc restarts at exec.
status = Path("/proc/self/status").read_text()
facts["peak_rss_kib"] = int(re.search(r"VmHWM:\\s*(\\d+) kB", status).group(1))
print(json.dumps(facts))
"""


@pytest.mark.slow
def test_one_gib_sparse_file_is_streamed_in_flat_memory(tmp_path: Path, himaya_env: dict[str, Path]) -> None:
    """1 GiB of zeros (sparse, so it costs no disk) is hashed in a fresh process whose peak RSS stays low.

    A fresh process, so the peak measures this scan alone: the interpreter with himaya's imports sits near
    120 MiB, and reading the file whole (or buffering it as a picture) would push it past 1 GiB.
    """
    evidence = tmp_path / "ev"
    evidence.mkdir()
    with open(evidence / "unallocated.bin", "wb") as handle:
        handle.truncate(GIB)
    result = subprocess.run(
        [sys.executable, "-c", _SPARSE_SCAN, str(himaya_env["home"]), str(evidence)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    facts = json.loads(result.stdout.splitlines()[-1])
    assert facts["scan"] == "finished"
    assert facts["status"] == "ok"
    assert facts["size"] == GIB
    assert facts["md5"] == MD5_OF_1_GIB_ZEROS
    assert facts["sha256"] == SHA256_OF_1_GIB_ZEROS
    assert facts["peak_rss_kib"] < 400 * 1024, f"peak RSS {facts['peak_rss_kib'] / 1024:.0f} MiB"
