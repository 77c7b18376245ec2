"""Disk images as evidence, read for real: every file comes out with the bytes put in, deleted files
are found and flagged, and each file's stored path spec opens the same bytes again."""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import random
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himaya.errors import EvidenceError
from himaya.sources.disk.credentials import VolumeCredentials
from himaya.sources.disk.info import describe
from himaya.sources.disk.layers import DiskLayout, inspect
from himaya.sources.disk.pathspec import open_spec
from himaya.sources.disk.walk import iter_files
from himaya.sources.interface import FileEntry
from tests.builders import disks
from tests.builders.disk_fixtures import PASSWORD
from tests.builders.disks import FsContent, MissingTool


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files(layout: DiskLayout) -> list[FileEntry]:
    return [entry for fs in layout.filesystems for entry in iter_files(fs)]


def _read(entry: FileEntry) -> bytes:
    assert entry.open is not None, entry.error
    with entry.open() as stream:
        return stream.read()


def _inside(layout: DiskLayout, prefix: str) -> dict[str, bytes]:
    """Live files under `prefix`, by their path inside the file system."""
    found: dict[str, bytes] = {}
    for entry in _files(layout):
        if entry.deleted or entry.open is None or not entry.path.startswith(prefix + "/"):
            continue
        found[entry.path[len(prefix) + 1 :]] = _read(entry)
    return found


def _same_tree(got: dict[str, bytes], want: dict[str, bytes]) -> None:
    assert {p: _sha(d) for p, d in got.items() if p in want} == {p: _sha(d) for p, d in want.items()}


SINGLE = {
    # builder, file-system type Himaya reports, whether deleted files are put in (and findable)
    "ext4": (lambda d, c: disks.ext4_image(d / "x.img", c.files, deleted=c.deleted), "ext4", True),
    "fat12": (
        lambda d, c: disks.fat_image(d / "x.img", c.files, fat_bits=12, deleted=c.deleted),
        "FAT12",
        True,
    ),
    "fat16": (
        lambda d, c: disks.fat_image(d / "x.img", c.files, fat_bits=16, deleted=c.deleted),
        "FAT16",
        True,
    ),
    "fat32": (
        lambda d, c: disks.fat_image(d / "x.img", c.files, fat_bits=32, deleted=c.deleted),
        "FAT32",
        True,
    ),
    "ntfs": (lambda d, c: disks.ntfs_image(d / "x.img", c.files, deleted=c.deleted), "NTFS", True),
    "exfat": (lambda d, c: disks.exfat_image(d / "x.img", c.files, deleted=c.deleted), "exFAT", True),
    "iso9660": (lambda d, c: disks.iso_image(d / "x.iso", c.files), "ISO9660", False),
    "xfs": (lambda d, c: disks.xfs_image(d / "x.img", c.files), "XFS", False),
}


@pytest.mark.parametrize("kind", sorted(SINGLE))
def test_file_system_images(kind: str, tmp_path: Path, content: FsContent) -> None:
    make, fs_type, with_deleted = SINGLE[kind]
    try:
        image = make(tmp_path, content)
    except MissingTool as exc:
        pytest.skip(f"{exc.tool} is not installed")
    layout = inspect(image, image.name)
    assert layout.is_disk_image and not layout.problems
    assert [(fs.prefix, fs.fs_type) for fs in layout.filesystems] == [(image.name, fs_type)]
    assert f"{image.name}/  ({fs_type})" in describe(image).text  # what `himaya evidence info` prints
    _same_tree(_inside(layout, image.name), content.files)
    deleted = {e.path: e for e in _files(layout) if e.deleted}
    if with_deleted:
        # FAT marks a deleted name by overwriting its first letter: TSK shows it as '_'.
        found = {path.rsplit("/", 1)[-1][1:]: _read(e) for path, e in deleted.items()}
        for path, data in content.deleted.items():
            assert _sha(found[path.rsplit("/", 1)[-1][1:]]) == _sha(data), path
        assert all(e.locator.rsplit("#", 1)[-1].isdigit() for e in deleted.values())
    else:
        assert not deleted


def test_apfs_and_hfs_from_dfvfs_test_images() -> None:
    # Read in place from the workplace's shared folder beside the checkout (never copied into the project).
    places = [Path(__file__).resolve().parents[3].parent / "shared", Path("/work/shared")]
    shared = next((p / "fixtures" / "dfvfs" for p in places if (p / "fixtures" / "dfvfs").is_dir()), None)
    if shared is None:
        pytest.skip("the shared dfVFS test images are not on this machine (../shared/fixtures/dfvfs)")
    apfs = inspect(shared / "apfs.raw", "apfs.raw")
    assert [(fs.prefix, fs.fs_type) for fs in apfs.filesystems] == [("apfs.raw/apfs1", "APFS")]
    hfs = inspect(shared / "hfsplus_zlib.dmg", "hfsplus_zlib.dmg")
    assert hfs.image_format == "MODI"
    assert [(fs.prefix, fs.fs_type) for fs in hfs.filesystems] == [("hfsplus_zlib.dmg/p1", "HFS+")]
    for layout, prefix in ((apfs, "apfs.raw/apfs1"), (hfs, "hfsplus_zlib.dmg/p1")):
        tree = _inside(layout, prefix)
        assert tree["a_directory/another_file"] == b"This is another file.\n"
        assert tree["passwords.txt"].startswith(b"place,user,password")


def test_partitions_and_containers(
    tmp_path: Path, gpt_disk: Path, mbr_disk: Path, e01_disk: Path, content: FsContent
) -> None:
    gpt = inspect(gpt_disk, "gpt.raw")
    assert [(fs.prefix, fs.fs_type) for fs in gpt.filesystems] == [
        ("gpt.raw/p1", "NTFS"),
        ("gpt.raw/p2", "ext4"),
    ]
    e01 = inspect(e01_disk, "seized.E01")
    assert e01.image_format == "EWF"
    assert [fs.prefix for fs in e01.filesystems] == ["seized.E01/p1", "seized.E01/p2"]
    _same_tree(_inside(e01, "seized.E01/p2"), content.files)
    _same_tree(_inside(e01, "seized.E01/p1"), content.files)
    try:
        variants = {
            "split.001": disks.split_raw(mbr_disk, tmp_path / "s1", "001"),
            "split.aa": disks.split_raw(mbr_disk, tmp_path / "s2", "aa"),
            "split.000": disks.split_raw(mbr_disk, tmp_path / "s3", "000"),
            "disk.vmdk": disks.qemu_image(mbr_disk, tmp_path / "disk.vmdk", "vmdk"),
            "disk.qcow2": disks.qemu_image(mbr_disk, tmp_path / "disk.qcow2", "qcow2"),
            "disk.vhdx": disks.qemu_image(mbr_disk, tmp_path / "disk.vhdx", "vhdx"),
            "disk.vhd": disks.qemu_image(mbr_disk, tmp_path / "disk.vhd", "vpc"),
            "split.E01": disks.e01(mbr_disk, tmp_path / "se", segment_mb=8, compression="none", name="split"),
        }
    except MissingTool as exc:
        pytest.skip(f"{exc.tool} is not installed")
    for name, image in variants.items():
        assert "p2  " in describe(image).text, name
        layout = inspect(image, name)
        assert [(fs.prefix.split("/", 1)[1], fs.fs_type) for fs in layout.filesystems] == [
            ("p1", "FAT16"),
            ("p2", "ext4"),
        ], name
        _same_tree(_inside(layout, f"{name}/p2"), content.files)
    assert len(list((tmp_path / "se").glob("split.E0*"))) >= 2


def test_lvm_logical_volumes(tmp_path: Path, ext4_img: Path, fat16_img: Path, content: FsContent) -> None:
    try:
        image = disks.lvm_image(tmp_path / "server.raw", {"home": ext4_img, "data": fat16_img})
    except MissingTool as exc:
        pytest.skip(f"{exc.tool} is not installed")
    layout = inspect(image, "server.raw")
    assert [(fs.prefix, fs.fs_type) for fs in layout.filesystems] == [
        ("server.raw/lvm1", "ext4"),
        ("server.raw/lvm2", "FAT16"),
    ]
    _same_tree(_inside(layout, "server.raw/lvm1"), content.files)
    _same_tree(_inside(layout, "server.raw/lvm2"), content.files)


def test_path_spec_round_trips_to_the_same_bytes(e01_disk: Path) -> None:
    layout = inspect(e01_disk, "seized.E01")
    entries = [e for e in _files(layout) if e.open is not None]
    assert len(entries) > 10
    for entry in entries:
        assert entry.path_spec is not None
        with open_spec(entry.path_spec) as stream:
            assert _sha(stream.read()) == _sha(_read(entry)), entry.path


def test_luks1_and_luks2_open_with_the_password(
    tmp_path: Path, luks_payload: Path, content: FsContent
) -> None:
    try:
        images = {
            "luks1.img": disks.luks1_image(tmp_path / "luks1.img", luks_payload, PASSWORD),
            "luks2.img": disks.luks2_image(tmp_path / "luks2.img", luks_payload, PASSWORD),
        }
    except MissingTool as exc:
        pytest.skip(f"{exc.tool} is not installed")
    for name, image in images.items():
        locked = inspect(image, name)
        assert not locked.filesystems
        assert locked.problems and "encrypted, not opened" in locked.problems[0]
        assert "--password-file" in locked.problems[0]
        wrong = inspect(image, name, VolumeCredentials(passwords=("not-it",)))
        assert "none of the 1 credentials given opened it" in wrong.problems[0]
        opened = inspect(image, name, VolumeCredentials(passwords=("not-it", PASSWORD)))
        assert not opened.problems, opened.problems
        assert [(fs.prefix, fs.fs_type) for fs in opened.filesystems] == [(name, "ext4")]
        assert len(opened.keys.keys) == 1 and PASSWORD not in repr(opened.keys)
        _same_tree(_inside(opened, name), content.files)
        assert PASSWORD not in str(opened.as_dict())


def test_bitlocker_volume_is_explained_and_the_rest_scanned(tmp_path: Path, ext4_img: Path) -> None:
    try:
        bde = disks.bitlocker_lookalike(tmp_path / "bde.img")
        disk = disks.partitioned(tmp_path / "laptop.raw", [bde, ext4_img], "mbr")
    except MissingTool as exc:
        pytest.skip(f"{exc.tool} is not installed")
    layout = inspect(
        disk, "laptop.raw", VolumeCredentials(passwords=("guess",), recovery_passwords=("1" * 48,))
    )
    assert [fs.prefix for fs in layout.filesystems] == ["laptop.raw/p2"]
    (problem,) = layout.problems
    assert problem.startswith("BitLocker volume laptop.raw/p1 is encrypted, not opened")
    assert "none of the 2 credentials given opened it" in problem and "--recovery-key-file" in problem


@pytest.mark.parametrize("kind", ["zero", "truncated-e01", "garbage-mbr", "noise"])
def test_corrupt_images_give_a_clear_error(kind: str, tmp_path: Path, e01_disk: Path) -> None:
    image = {
        "zero": lambda: disks.zero_bytes(tmp_path / "empty.img"),
        "truncated-e01": lambda: disks.truncated(e01_disk, tmp_path / "cut.E01"),
        "garbage-mbr": lambda: disks.garbage_partition_table(tmp_path / "garbage.dd"),
        "noise": lambda: disks.noise(tmp_path / "noise.raw"),
    }[kind]()
    layout = inspect(image, image.name)
    assert layout.is_disk_image
    assert not layout.filesystems
    (problem,) = layout.problems
    assert {"zero": "empty (0 bytes)", "truncated-e01": "truncated or damaged"}.get(kind, "") in problem
    assert len(problem) > 40  # says what to do, not just that it failed


def test_a_picture_is_not_a_disk_image(tmp_path: Path) -> None:
    picture = tmp_path / "holiday.jpg"
    picture.write_bytes(disks.sample_tree()["Users/x/Pictures/holiday.jpg"])
    layout = inspect(picture, picture.name)
    assert not layout.is_disk_image and not layout.problems


def test_media_folders_are_listed_first_within_each_file_system(e01_disk: Path) -> None:
    from himaya.sources.disk.source import disk_entries

    layout = inspect(e01_disk, "seized.E01")
    paths = [entry.path for entry in disk_entries(layout)]
    for prefix in ("seized.E01/p1/", "seized.E01/p2/"):
        inside = [p[len(prefix) :] for p in paths if p.startswith(prefix)]
        media = [p for p in inside if p.split("/")[0] in ("DCIM", "Downloads") or "/Pictures/" in p]
        assert inside[: len(media)] == media and "Documents/notes.txt" in inside[len(media) :]


def test_a_slow_pyewf_is_pointed_out(e01_disk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from himaya.sources.disk import ewf

    monkeypatch.setattr(ewf, "fast_decompression", lambda: False)
    (note,) = inspect(e01_disk, "seized.E01").notes
    assert "without zlib" in note and "make setup" in note
    monkeypatch.setattr(ewf, "fast_decompression", lambda: True)
    assert not inspect(e01_disk, "seized.E01").notes


def test_direct_run_reading_gives_what_tsk_gives(tmp_path: Path, content: FsContent) -> None:
    from dfvfs.resolver import resolver

    from himaya.sources.disk.pathspec import _direct, spec_from_json

    files = dict(content.files)
    sparse = tmp_path / "sparse-source"
    images = {
        "ext4": disks.ext4_image(tmp_path / "e.img", files, deleted=content.deleted),
        "fat32": disks.fat_image(tmp_path / "f.img", files, fat_bits=32, deleted=content.deleted),
        "ntfs": disks.ntfs_image(tmp_path / "n.img", files, deleted=content.deleted),
    }
    # A file with holes: mke2fs -d keeps them as unallocated ranges that read as zeros.
    (sparse / "holes").mkdir(parents=True)
    with (sparse / "holes" / "vm.disk").open("wb") as handle:
        handle.seek(3 * 1024 * 1024)
        handle.write(b"TEST-after-a-hole" * 1000)
    holes = tmp_path / "holes.img"
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", str(sparse), str(holes), "16M"], check=True)
    images["ext4-holes"] = holes
    rng = random.Random(7)
    direct: collections.Counter[str] = collections.Counter()
    for name, image in images.items():
        for entry in _files(inspect(image, name)):
            if entry.open is None or entry.path_spec is None:
                continue
            spec = spec_from_json(entry.path_spec)
            reader = _direct(spec)
            tsk = resolver.Resolver.OpenFileObject(spec)
            tsk.seek(0)
            expected = tsk.read(tsk.get_size())
            if reader is None:
                continue
            direct[name] += 1
            assert reader.read() == expected, entry.path
            for _ in range(5):
                start = rng.randrange(0, max(len(expected), 1))
                length = rng.randrange(0, 200_000)
                reader.seek(start)
                assert reader.read(length) == expected[start : start + length], entry.path
    # The sample's non-empty files and the deleted ones went the direct way on each file system (NTFS: the
    # initialised size read from each MFT record), and the sparse one.
    assert min(direct[name] for name in ("ext4", "fat32", "ntfs")) >= 6 and direct["ext4-holes"] == 1


@given(
    data=st.binary(min_size=0, max_size=4096),
    mbr=st.booleans(),
    name=st.sampled_from(["x.img", "x.E01", "x.vmdk"]),
)
@settings(max_examples=40)
def test_arbitrary_bytes_never_crash_the_disk_source(data: bytes, mbr: bool, name: str) -> None:
    import tempfile

    if mbr:  # a plausible MBR signature makes the scanner look for partitions in the noise
        data = (data + bytes(512))[:510] + b"\x55\xaa" + data[512:]
    with tempfile.TemporaryDirectory() as folder:
        image = Path(folder) / name
        image.write_bytes(data)
        layout = inspect(image, name)
        for fs in layout.filesystems:
            for entry in iter_files(fs):
                if entry.open is not None:
                    with contextlib.suppress(EvidenceError, OSError):
                        entry.open().read(1024)
        assert all(isinstance(problem, str) and problem for problem in layout.problems)


def test_ntfs_bytes_past_the_initialised_size_read_as_zeros(tmp_path: Path, content: FsContent) -> None:
    import struct

    from dfvfs.resolver import resolver

    from himaya.sources.disk.pathspec import _direct, spec_from_json

    image = disks.ntfs_image(tmp_path / "n.img", {"Downloads/big.bin": content.files["Downloads/big.bin"]})
    (entry,) = [e for e in _files(inspect(image, "n.img")) if e.path.endswith("big.bin")]
    assert entry.path_spec is not None
    inode = int(json.loads(entry.path_spec)["inode"])
    # Lower the file's initialised size in its MFT record (as a preallocated, half-written file has it).
    data = bytearray(image.read_bytes())
    sector, per_cluster = struct.unpack_from("<HB", data, 0x0B)
    (mft_cluster,) = struct.unpack_from("<Q", data, 0x30)
    (raw,) = struct.unpack_from("<b", data, 0x40)
    record_size = 2 ** (-raw) if raw < 0 else raw * sector * per_cluster
    record = mft_cluster * sector * per_cluster + inode * record_size
    offset = record + struct.unpack_from("<H", data, record + 0x14)[0]
    while struct.unpack_from("<I", data, offset)[0] != 0x80:
        offset += struct.unpack_from("<I", data, offset + 4)[0]
    struct.pack_into("<Q", data, offset + 0x38, 4096)
    image.write_bytes(bytes(data))

    (entry,) = [e for e in _files(inspect(image, "n.img")) if e.path.endswith("big.bin")]
    assert entry.path_spec is not None
    spec = spec_from_json(entry.path_spec)
    assert _direct(spec) is None  # not every byte is initialised: TSK reads it
    tsk = resolver.Resolver.OpenFileObject(spec)
    tsk.seek(0)
    expected = tsk.read(tsk.get_size())
    assert expected[4096:] == bytes(len(expected) - 4096)
    assert _read(entry) == expected
