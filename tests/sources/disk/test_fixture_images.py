"""The disk-image builders (tests/builders/disks.py) make what they claim, checked with tools that are not
the code under test: The Sleuth Kit's command line (fls, tsk_recover, mmls, fsstat), xfs_db, fsck.exfat,
ewfinfo and ewfverify, qemu-img, cryptsetup, sfdisk and blkid. Each image is built in tmp_path; a missing tool
skips its test (with the tool's name). One last test records how dfVFS's source scanner sees each kind.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from tests.builders import disks


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run([tool(command[0]), *command[1:]], capture_output=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.decode()}")
    return done


def out(*command: str) -> str:
    return run(*command).stdout.decode()


def build(builder, *args, **kwargs) -> Path:
    try:
        return builder(*args, **kwargs)
    except disks.MissingTool as missing:
        pytest.skip(f"{missing.tool} is not installed")


def folders_of(paths) -> set[str]:
    return {"/".join(p.split("/")[:i]) for p in paths for i in range(1, p.count("/") + 1)}


FIXED_TIME = "2024-03-15 10:20:30 (UTC)"  # disks.FIXED_MTIME as fls -l prints it


@dataclass
class Entry:
    kind: str  # TSK's meta type: 'r' file, 'd' folder, ...
    inode: str
    deleted: bool
    size: int
    mtime: str


def fls(image: Path, *, offset: int = 0, images: list[Path] | None = None) -> dict[str, Entry]:
    """Every name `fls -r -p -l` lists (live and deleted), by path."""
    command = ["fls", "-r", "-p", "-l"] + (["-o", str(offset // 512)] if offset else [])
    command += ["-i", "raw", *map(str, images)] if images else [str(image)]
    listing = {}
    for line in out(*command).splitlines():
        head, path, mtime, _atime, _ctime, _crtime, size, *_ = line.split("\t")
        match = re.fullmatch(r"(\S)/(\S) (\* )?([0-9-]+)(?:\(realloc\))?:", head)
        if match:
            name_kind, meta_kind, star, inode = match.groups()
            kind = meta_kind if meta_kind != "-" else name_kind
            listing[path] = Entry(kind, inode, bool(star), int(size), mtime)
    return listing


def tsk_recover(image: Path, dest: Path, *, offset: int = 0, images: list[Path] | None = None) -> Path:
    """All files, live and deleted, copied out by `tsk_recover -e` (it skips empty files)."""
    command = ["tsk_recover", "-e"] + (["-o", str(offset // 512)] if offset else [])
    command += ["-i", "raw", *map(str, images)] if images else [str(image)]
    run(*command, str(dest))
    return dest


def assert_tsk_sees(
    image: Path,
    files: dict[str, bytes],
    scratch: Path,
    *,
    deleted: dict[str, bytes] | None = None,
    fat_names: bool = False,
    offset: int = 0,
    images: list[Path] | None = None,
) -> dict[str, Entry]:
    """TSK lists every folder and file live, with its size, and reads back the same bytes; it lists each
    deleted file as deleted (on FAT with its first letter shown as '_') and recovers its bytes."""
    listing = fls(image, offset=offset, images=images)
    recovered = tsk_recover(image, scratch / f"recovered-{offset}", offset=offset, images=images)
    for folder in folders_of(files):
        assert folder in listing and listing[folder].kind == "d", f"{folder} missing from {image.name}"
    for path, data in files.items():
        assert path in listing, f"{path} missing from {image.name}: {sorted(listing)}"
        entry = listing[path]
        assert (entry.kind, entry.deleted, entry.size) == ("r", False, len(data)), (path, entry)
        if data:
            assert sha(recovered.joinpath(path).read_bytes()) == sha(data), path
    for path, data in (deleted or {}).items():
        folder, _, name = path.rpartition("/")
        shown = f"{folder}/_{name[1:]}" if fat_names else path
        assert shown in listing, f"{shown} not listed in {image.name}: {sorted(listing)}"
        entry = listing[shown]
        assert (entry.kind, entry.deleted, entry.size) == ("r", True, len(data)), (shown, entry)
        assert sha(recovered.joinpath(shown).read_bytes()) == sha(data), shown
    return listing


@pytest.fixture(scope="module")
def sample() -> disks.FsContent:
    return disks.sample_content()


@pytest.fixture
def small() -> dict[str, bytes]:
    """A tiny tree for images that only carry another image."""
    return {"a/b.txt": b"inside\n", "c.jpg": disks.sample_tree()["Users/x/Pictures/holiday.jpg"]}


# Content ------------------------------------------------------------------------------------------------


def test_sample_tree_is_varied_and_benign(sample):
    files = sample.files
    assert len({sha(data) for data in files.values()}) == len(files)
    pictures = {p: d for p, d in files.items() if p.lower().endswith((".jpg", ".png"))}
    assert len(pictures) >= 3
    for data in pictures.values():
        with Image.open(io.BytesIO(data)) as picture:
            picture.verify()
    assert any(d.startswith(b"\x89PNG") for d in pictures.values())
    assert any(p.count("/") >= 3 for p in files)
    assert any(not d for d in files.values())
    assert any(len(d) > 1024 * 1024 for d in files.values())
    assert any(re.search("[\u0600-\u06ff]", p) for p in files)
    assert not set(sample.deleted) & set(files)
    assert folders_of(sample.deleted) <= folders_of(files)


# File systems -------------------------------------------------------------------------------------------


def test_ext4(tmp_path, sample):
    image = build(disks.ext4_image, tmp_path / "ext4.img", sample.files, deleted=sample.deleted)
    stat = out("fsstat", str(image))
    assert "File System Type: Ext4" in stat
    assert "Volume Name: HIMAYA" in stat
    listing = assert_tsk_sees(image, sample.files, tmp_path, deleted=sample.deleted)
    assert listing["Documents/notes.txt"].mtime == FIXED_TIME


@pytest.mark.parametrize("bits", [12, 16, 32])
def test_fat(tmp_path, sample, bits):
    image = build(disks.fat_image, tmp_path / f"fat{bits}.img", sample.files, fat_bits=bits,
                  deleted=sample.deleted)  # fmt: skip
    stat = out("fsstat", str(image))
    assert f"File System Type: FAT{bits}" in stat
    assert "Volume ID: 0x1234abcd" in stat
    listing = assert_tsk_sees(image, sample.files, tmp_path, deleted=sample.deleted, fat_names=True)
    assert listing["Documents/notes.txt"].mtime == FIXED_TIME


def test_ntfs(tmp_path, sample):
    image = build(disks.ntfs_image, tmp_path / "ntfs.img", sample.files, deleted=sample.deleted)
    stat = out("fsstat", str(image))
    assert "File System Type: NTFS" in stat
    assert "Volume Name: HIMAYA" in stat
    assert_tsk_sees(image, sample.files, tmp_path, deleted=sample.deleted)


def test_exfat(tmp_path, sample):
    image = build(disks.exfat_image, tmp_path / "exfat.img", sample.files, deleted=sample.deleted)
    assert "File System Type: exFAT" in out("fsstat", str(image))
    assert "clean" in out("fsck.exfat", "-n", str(image))  # checksums, bitmap and chains agree
    listing = assert_tsk_sees(image, sample.files, tmp_path, deleted=sample.deleted)
    assert listing["Documents/notes.txt"].mtime == FIXED_TIME


def test_exfat_root_folder_grows_past_one_cluster(tmp_path):
    # 30 entry sets of 5 entries (a 40-letter name takes 3 name entries) overflow a 4 KiB root cluster.
    files = {f"file number {n:03d} with a long-ish name.txt": f"{n}\n".encode() for n in range(30)}
    image = build(disks.exfat_image, tmp_path / "exfat.img", files, size_mb=4)
    assert "clean" in out("fsck.exfat", "-n", str(image))
    assert_tsk_sees(image, files, tmp_path)


def test_xfs(tmp_path, sample):
    image = build(disks.xfs_image, tmp_path / "xfs.img", sample.files)
    assert image.stat().st_blocks * 512 < 100 * disks.MiB  # sparse
    assert 'TYPE="xfs"' in out("blkid", "-p", str(image))
    run("xfs_repair", "-n", str(image))
    # The Sleuth Kit 4.11 has no XFS: get each file's size and extents from xfs_db (one run for all),
    # then read its bytes straight from the image.
    paths = list(sample.files)
    commands = ["-c", "sb 0", "-c", "p agblocks blocksize"]
    for path in paths:
        commands += ["-c", f"path /{path}", "-c", "p core.size", "-c", "bmap"]
    report = out("xfs_db", "-r", *commands, str(image))
    agblocks = int(re.search(r"agblocks = (\d+)", report).group(1))
    blocksize = int(re.search(r"blocksize = (\d+)", report).group(1))
    per_file = re.split(r"^core\.size = ", report, flags=re.MULTILINE)[1:]
    assert len(per_file) == len(paths)
    with image.open("rb") as raw:
        for path, found in zip(paths, per_file, strict=True):
            data = sample.files[path]
            assert int(found.split()[0]) == len(data), path
            read = b""
            for offset, ag, agblock, count in re.findall(
                r"data offset (\d+) startblock \d+ \((\d+)/(\d+)\) count (\d+)", found
            ):
                assert int(offset) * blocksize == len(read)
                raw.seek((int(ag) * agblocks + int(agblock)) * blocksize)
                read += raw.read(int(count) * blocksize)
            assert sha(read[: len(data)]) == sha(data), path
    listing = out("xfs_db", "-r", "-c", f"path /{disks.ARABIC_FOLDER}", "-c", "ls", str(image))
    assert disks.ARABIC_NAME in listing


def test_xfs_refuses_names_with_blanks(tmp_path):
    with pytest.raises(ValueError, match="blanks"):
        disks.xfs_image(tmp_path / "xfs.img", {"my file.txt": b"x"})


def test_iso(tmp_path, sample):
    image = build(disks.iso_image, tmp_path / "x.iso", sample.files)
    assert "File System Type: ISO9660" in out("fsstat", str(image))
    assert 'LABEL="HIMAYA"' in out("blkid", "-p", str(image))
    assert_tsk_sees(image, sample.files, tmp_path)


# Volume systems -----------------------------------------------------------------------------------------


def test_mbr_primary_partitions(tmp_path, small):
    fat = build(disks.fat_image, tmp_path / "fat.img", small, fat_bits=16)
    ext = build(disks.ext4_image, tmp_path / "ext.img", small, size_mb=8)
    ntfs = build(disks.ntfs_image, tmp_path / "ntfs.img", small, size_mb=8)
    disk = build(disks.partitioned, tmp_path / "disk.img", [fat, ext, ntfs], "mbr")
    table = out("mmls", str(disk))
    assert "DOS Partition Table" in table
    for kind in ("Win95 FAT16 (0x0e)", "Linux (0x83)", "NTFS / exFAT (0x07)"):
        assert kind in table
    offsets = disks.partition_offsets(disk)
    assert len(offsets) == 3
    assert offsets[0] == disks.MiB
    for part, offset in zip((fat, ext, ntfs), offsets, strict=True):
        with disk.open("rb") as f:
            f.seek(offset)
            assert sha(f.read(part.stat().st_size)) == sha(part.read_bytes())
        assert_tsk_sees(disk, small, tmp_path, offset=offset)


def test_mbr_logical_partitions(tmp_path, small):
    images = [build(disks.fat_image, tmp_path / f"fat{n}.img", {f"p{n}.txt": f"partition {n}\n".encode()},
                    fat_bits=12, size_mb=2) for n in range(5)]  # fmt: skip
    disk = build(disks.partitioned, tmp_path / "disk.img", images, "mbr")
    table = out("mmls", str(disk))
    assert table.count("DOS Extended (0x05)") >= 1
    assert table.count("DOS FAT12 (0x01)") == 5
    dump = out("sfdisk", "-d", str(disk))
    assert re.search(r"disk\.img6 : start=", dump)  # logical partitions 5 and 6
    for n, offset in enumerate(disks.partition_offsets(disk)):
        assert_tsk_sees(disk, {f"p{n}.txt": f"partition {n}\n".encode()}, tmp_path, offset=offset)


def test_gpt(tmp_path, small):
    ext = build(disks.ext4_image, tmp_path / "ext.img", small, size_mb=8)
    fat = build(disks.fat_image, tmp_path / "fat.img", small, fat_bits=32)
    disk = build(disks.partitioned, tmp_path / "disk.img", [ext, fat], "gpt")
    assert "GUID Partition Table (EFI)" in out("mmls", str(disk))
    dump = out("sfdisk", "-d", str(disk))
    assert "label: gpt" in dump
    assert disks.GPT_LINUX in dump and disks.GPT_BASIC_DATA in dump
    for offset in disks.partition_offsets(disk):
        assert_tsk_sees(disk, small, tmp_path, offset=offset)


def test_sparse_partition_stays_sparse(tmp_path, small):
    xfs = build(disks.xfs_image, tmp_path / "xfs.img", small)
    disk = build(disks.partitioned, tmp_path / "disk.img", [xfs], "gpt")
    assert disk.stat().st_size > 300 * disks.MiB
    assert disk.stat().st_blocks * 512 < 100 * disks.MiB
    (offset,) = disks.partition_offsets(disk)
    assert 'TYPE="xfs"' in out("blkid", "-p", "-O", str(offset), str(disk))


def test_lvm(tmp_path, small):
    ext = build(disks.ext4_image, tmp_path / "ext.img", small, size_mb=4)
    fat = build(disks.fat_image, tmp_path / "fat.img", small, fat_bits=12, size_mb=2)
    image = disks.lvm_image(tmp_path / "lvm.img", {"root": ext, "data": fat}, vg_name="evidence_vg")
    probe = out("blkid", "-p", str(image))  # libblkid checks the label's CRC
    assert 'TYPE="LVM2_member"' in probe and 'VERSION="LVM2 001"' in probe
    # The lvm2 tools cannot read a plain file; libvslvm (not this module's writer) parses the metadata.
    pyvslvm = pytest.importorskip("pyvslvm")
    handle = pyvslvm.handle()
    handle.open(str(image))
    with image.open("rb") as pv:
        handle.open_physical_volume_files_as_file_objects([pv])
        group = handle.get_volume_group()
        assert (group.name, group.number_of_physical_volumes) == ("evidence_vg", 1)
        volumes = {lv.name: lv for lv in group.logical_volumes}
        assert list(volumes) == ["root", "data"]
        for name, source in (("root", ext), ("data", fat)):
            data = source.read_bytes()
            assert volumes[name].size == len(data)  # both are whole 1 MiB extents
            assert sha(volumes[name].read_buffer_at_offset(len(data), 0)) == sha(data)
        handle.close()
    # And where libvslvm reads them, TSK finds the file systems (data from 1 MiB, 1 MiB extents).
    assert_tsk_sees(image, small, tmp_path, offset=disks.MiB)
    assert_tsk_sees(image, small, tmp_path, offset=disks.MiB + ext.stat().st_size)


# Containers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "names"),
    [
        ("001", ["ext.001", "ext.002", "ext.003"]),
        ("000", ["ext.000", "ext.001", "ext.002"]),
        ("aa", ["ext.aa", "ext.ab", "ext.ac"]),
        ("1of", ["ext.1of3", "ext.2of3", "ext.3of3"]),
    ],
)
def test_split_raw(tmp_path, small, scheme, names):
    image = build(disks.ext4_image, tmp_path / "ext.img", small, size_mb=8)
    first = disks.split_raw(image, tmp_path / "split", scheme)
    segments = sorted((tmp_path / "split").iterdir())
    assert first.name == names[0]
    assert [s.name for s in segments] == names
    assert all(s.stat().st_size % 512 == 0 for s in segments)
    assert b"".join(s.read_bytes() for s in segments) == image.read_bytes()
    assert_tsk_sees(first, small, tmp_path, images=segments)


def test_e01(tmp_path, small):
    image = build(disks.ext4_image, tmp_path / "ext.img", small, size_mb=4)
    first = build(disks.e01, image, tmp_path / "ewf", segment_mb=1, compression="none",
                  case_number="CASE-42", examiner="Examiner Q", notes="Seized 2024", evidence_number="EV-7",
                  description="USB stick")  # fmt: skip
    assert first.name == "ext.E01"
    segments = sorted(p.name for p in (tmp_path / "ewf").iterdir())
    assert segments[:2] == ["ext.E01", "ext.E02"] and len(segments) >= 4
    info = out("ewfinfo", str(first))
    for label, value in [
        ("Case number", "CASE-42"),
        ("Examiner name", "Examiner Q"),
        ("Notes", "Seized 2024"),
        ("Evidence number", "EV-7"),
        ("Description", "USB stick"),
        ("MD5", hashlib.md5(image.read_bytes()).hexdigest()),
        ("SHA1", hashlib.sha1(image.read_bytes()).hexdigest()),
        ("Media size", f"({image.stat().st_size} bytes)"),
    ]:
        assert re.search(rf"{label}:\s+.*{re.escape(value)}", info), (label, info)
    assert "ewfverify: SUCCESS" in out("ewfverify", "-q", str(first))
    assert_tsk_sees(first, small, tmp_path)


def test_e01_defaults(tmp_path, small):
    image = build(disks.ext4_image, tmp_path / "ext.img", small, size_mb=4)
    info = out("ewfinfo", str(build(disks.e01, image, tmp_path / "ewf")))
    for value in ("TEST-CASE-1", "TEST examiner", "TEST notes", "TEST disk image", "TEST-EV-1"):
        assert value in info
    assert [p.name for p in (tmp_path / "ewf").iterdir()] == ["ext.E01"]


@pytest.mark.parametrize(
    ("fmt", "shown"), [("vmdk", "vmdk"), ("qcow2", "qcow2"), ("vhdx", "vhdx"), ("vpc", "vpc")]
)
def test_qemu_image(tmp_path, small, fmt, shown):
    image = build(disks.ext4_image, tmp_path / "ext.img", small, size_mb=8)
    converted = build(disks.qemu_image, image, tmp_path / f"ext.{fmt}", fmt)
    assert f'"format": "{shown}"' in out("qemu-img", "info", "--output", "json", str(converted))
    compared = run("qemu-img", "compare", "-f", "raw", "-F", shown, str(image), str(converted), check=False)
    assert compared.returncode == 0, compared.stdout + compared.stderr
    if fmt in ("vmdk", "vpc"):  # the image formats The Sleuth Kit reads itself
        assert_tsk_sees(converted, small, tmp_path)


# Encrypted volumes --------------------------------------------------------------------------------------


def luks_checks(image: Path, payload: Path, version: int, tmp_path: Path) -> bytes:
    dump = out("cryptsetup", "luksDump", str(image))
    assert re.search(rf"Version:\s+{version}", dump)
    assert "aes" in dump and "xts-plain64" in dump
    assert re.search(r"Iterations:\s+1000\b", dump) or re.search(r"MK iterations:\s+1000\b", dump)
    assert 'TYPE="crypto_LUKS"' in out("blkid", "-p", str(image))
    right, wrong = tmp_path / "right", tmp_path / "wrong"
    right.write_text("correct horse")
    wrong.write_text("battery staple")
    run("cryptsetup", "open", "--test-passphrase", "--key-file", str(right), str(image))
    assert run("cryptsetup", "open", "--test-passphrase", "--key-file", str(wrong), str(image),
               check=False).returncode != 0  # fmt: skip
    plain = disks.luks_decrypt(image, "correct horse")  # with the volume key cryptsetup dumps
    assert plain[: payload.stat().st_size] == payload.read_bytes()
    return plain


def test_luks1(tmp_path, small):
    payload = build(disks.ext4_image, tmp_path / "ext.img", small, size_mb=4)
    image = build(disks.luks1_image, tmp_path / "luks1.img", payload, "correct horse")
    assert disks.luks_payload_offset(image) == 2 * disks.MiB
    assert re.search(r"Hash spec:\s+sha256", out("cryptsetup", "luksDump", str(image)))
    plain = luks_checks(image, payload, 1, tmp_path)
    (tmp_path / "plain.img").write_bytes(plain)
    assert_tsk_sees(tmp_path / "plain.img", small, tmp_path)
    # This module both encrypted and decrypted that payload; libluksde decrypts it on its own too.
    pyluksde = pytest.importorskip("pyluksde")
    volume = pyluksde.volume()
    volume.set_password("correct horse")
    volume.open(str(image))
    assert not volume.is_locked()
    assert sha(volume.read_buffer_at_offset(payload.stat().st_size, 0)) == sha(payload.read_bytes())
    volume.close()


@pytest.mark.parametrize("method", ["reencrypt", "format"])
def test_luks2(tmp_path, small, method):
    payload = build(disks.ext4_image, tmp_path / "ext.img", small, size_mb=4)
    image = build(disks.luks2_image, tmp_path / "luks2.img", payload, "correct horse", method=method)
    dump = out("cryptsetup", "luksDump", str(image))
    assert re.search(r"PBKDF:\s+pbkdf2", dump) and re.search(r"sector:\s+512 \[bytes\]", dump)
    assert disks.luks_payload_offset(image) == 2 * disks.MiB
    plain = luks_checks(image, payload, 2, tmp_path)
    (tmp_path / "plain.img").write_bytes(plain)
    assert_tsk_sees(tmp_path / "plain.img", small, tmp_path)


def test_bitlocker_lookalike(tmp_path):
    image = disks.bitlocker_lookalike(tmp_path / "bde.img")
    assert image.stat().st_size == 8 * disks.MiB
    head = image.read_bytes()[:512]
    assert head[3:11] == b"-FVE-FS-" and head[510:] == b"\x55\xaa"
    probe = out("blkid", "-p", str(image))
    assert 'TYPE="BitLocker"' in probe and 'USAGE="crypto"' in probe
    assert disks.bitlocker_lookalike(tmp_path / "again.img").read_bytes() == image.read_bytes()
    pybde = pytest.importorskip("pybde")
    volume = pybde.volume()
    volume.open(str(image))  # libbde parses the header and FVE metadata...
    assert volume.is_locked()  # ...and finds it locked
    assert volume.number_of_key_protectors == 1
    assert volume.get_key_protector(0).get_type() == 0x0800  # recovery password
    assert not volume.unlock()
    volume.close()


# Broken input -------------------------------------------------------------------------------------------


def test_broken_inputs(tmp_path, small):
    image = build(disks.ext4_image, tmp_path / "ext.img", small, size_mb=4)
    cut = disks.truncated(image, tmp_path / "cut.img", 0.25)
    assert cut.stat().st_size == 1 * disks.MiB
    assert image.read_bytes().startswith(cut.read_bytes())

    garbage = disks.garbage_partition_table(tmp_path / "garbage.img")
    assert garbage.read_bytes()[510:512] == b"\x55\xaa"
    dump = out("sfdisk", "-d", str(garbage))
    assert dump.count("garbage.img") >= 4
    refused = run("mmls", "-t", "dos", str(garbage), check=False)
    assert refused.returncode != 0 and b"too large for image" in refused.stderr

    assert disks.zero_bytes(tmp_path / "zero.img").stat().st_size == 0
    assert len(set(disks.noise(tmp_path / "noise.img", 64).read_bytes())) == 256


# How dfVFS's source scanner sees each kind (documents its surprises for the disk source) ----------------


def scan(path: Path) -> list[str]:
    """Type indicators of the scan tree, depth first, as 'PARENT>CHILD' chains; 'LOCKED' marks locked."""
    from dfvfs.helpers import source_scanner

    scanner, context = source_scanner.SourceScanner(), source_scanner.SourceScannerContext()
    context.OpenSourcePath(str(path))
    scanner.Scan(context)
    chains: list[str] = []

    def walk(node, prefix: str) -> None:
        name = prefix + node.type_indicator + ("(LOCKED)" if context.IsLockedScanNode(node.path_spec) else "")
        if node.type_indicator in ("TSK_PARTITION", "GPT") and getattr(node.path_spec, "location", None):
            name += node.path_spec.location
        chains.append(name)
        for sub in node.sub_nodes:
            walk(sub, name + ">")

    walk(context.GetRootScanNode(), "")
    return chains


def test_dfvfs_scanner_view(tmp_path, small):
    pytest.importorskip("dfvfs")
    from dfvfs.lib import errors

    ext = build(disks.ext4_image, tmp_path / "ext.img", small, size_mb=4)
    assert scan(ext) == ["OS", "OS>RAW", "OS>RAW>EXT"]
    fat = build(disks.fat_image, tmp_path / "fat.img", small, fat_bits=12, size_mb=2)
    assert "OS>RAW>FAT" in scan(fat)
    exfat = build(disks.exfat_image, tmp_path / "exfat.img", small, size_mb=4)
    assert "OS>RAW>FAT" in scan(exfat)  # libfsfat reads exFAT too
    ntfs = build(disks.ntfs_image, tmp_path / "ntfs.img", small, size_mb=4)
    assert "OS>RAW>NTFS" in scan(ntfs)
    xfs = build(disks.xfs_image, tmp_path / "xfs.img", small)
    assert "OS>RAW>XFS" in scan(xfs)
    iso = build(disks.iso_image, tmp_path / "x.iso", small)
    assert scan(iso) == ["OS", "OS>TSK"]  # no RAW layer for a .iso, and TSK reads ISO 9660
    gpt = build(disks.partitioned, tmp_path / "gpt.img", [ext, ntfs], "gpt")
    assert scan(gpt) == ["OS", "OS>RAW", "OS>RAW>GPT/", "OS>RAW>GPT/>GPT/p1", "OS>RAW>GPT/>GPT/p1>EXT",
                         "OS>RAW>GPT/>GPT/p2", "OS>RAW>GPT/>GPT/p2>NTFS"]  # fmt: skip
    # MBR goes through TSK: unnamed nodes for the table, gaps and extended boxes sit beside the
    # partitions, and logical partitions 5 and 6 are called /p5 and /p9.
    mbr = build(disks.partitioned, tmp_path / "mbr.img", [fat, fat, fat, ext, ntfs], "mbr")
    partitions = [c.removeprefix("OS>RAW>TSK_PARTITION/>TSK_PARTITION") for c in scan(mbr) if ">p" not in c]
    assert [c for c in partitions if re.fullmatch(r"/p\d+>\w+", c)] == [
        "/p1>FAT", "/p2>FAT", "/p3>FAT", "/p5>EXT", "/p9>NTFS"
    ]  # fmt: skip
    assert scan(build(disks.e01, ext, tmp_path / "ewf")) == ["OS", "OS>EWF", "OS>EWF>EXT"]
    assert scan(disks.split_raw(ext, tmp_path / "split")) == ["OS", "OS>RAW", "OS>RAW>EXT"]
    for fmt, kind in [("vmdk", "VMDK"), ("qcow2", "QCOW"), ("vhdx", "VHDI"), ("vpc", "VHDI")]:
        converted = build(disks.qemu_image, ext, tmp_path / f"ext.{fmt}", fmt)
        assert scan(converted) == ["OS", f"OS>{kind}", f"OS>{kind}>EXT"]
    luks1 = build(disks.luks1_image, tmp_path / "l1.img", ext, "pw")
    assert scan(luks1) == ["OS", "OS>RAW", "OS>RAW>LUKSDE(LOCKED)"]
    # libluksde reads LUKS1 only: a LUKS2 volume makes the whole scan raise, not a locked node.
    with pytest.raises(errors.BackEndError, match="master key size"):
        scan(build(disks.luks2_image, tmp_path / "l2.img", ext, "pw"))
    # BitLocker: a locked BDE node, plus an (empty) FAT node beside it from the header's "FAT32" mark,
    # which dfVFS adds for BitLocker To Go.
    assert scan(disks.bitlocker_lookalike(tmp_path / "bde.img")) == ["OS", "OS>RAW", "OS>RAW>BDE(LOCKED)",
                                                                     "OS>RAW>FAT"]  # fmt: skip
    lvm = disks.lvm_image(tmp_path / "lvm.img", {"root": ext, "swap": fat})
    assert scan(lvm) == ["OS", "OS>RAW", "OS>RAW>LVM", "OS>RAW>LVM>LVM", "OS>RAW>LVM>LVM>EXT",
                         "OS>RAW>LVM>LVM", "OS>RAW>LVM>LVM>FAT"]  # fmt: skip
    assert scan(disks.garbage_partition_table(tmp_path / "garbage.img")) == ["OS"]
    assert scan(disks.zero_bytes(tmp_path / "zero.img")) == ["OS"]
    assert scan(disks.noise(tmp_path / "noise.img", 256)) == ["OS"]
