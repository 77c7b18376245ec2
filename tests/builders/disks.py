"""Real disk-image fixtures, built on the fly from plain files with userland tools: nothing is mounted, no
loop device, no device-mapper, no root-only kernel feature. Every builder writes into the path it is given
(a test's tmp_path) and returns the path of what it made.

| builder | how | notes |
| --- | --- | --- |
| `ext4_image` | `mke2fs -t ext4 -d` (+ `debugfs -w -R rm` for `deleted`) | extents stay in the freed inode |
| `fat_image` | `mkfs.fat --invariant` + mtools `mcopy -s -m`, `mmd`, `mdel` | FAT12 / FAT16 / FAT32 |
| `ntfs_image` | `mkntfs -F -Q` + libntfs-3g through ctypes | folders, any name, `deleted` |
| `exfat_image` | `mkfs.exfat` + a small exFAT writer in this module | contiguous (NoFatChain) files |
| `xfs_image` | `mkfs.xfs -p protofile` on a sparse 300 MiB file | no blanks in names |
| `iso_image` | `xorriso -as mkisofs -R -J` | Rock Ridge + Joliet |
| `partitioned` | `sfdisk` on a plain file, then the images copied in | MBR (logicals past 4) or GPT |
| `split_raw`, `truncated`, `garbage_partition_table`, `zero_bytes`, `noise` | pure Python | |
| `e01` | `ewfacquire -u` | EnCase 6, MD5 + SHA-1 stored |
| `qemu_image` | `qemu-img convert` | vmdk, qcow2, vhdx, vpc |
| `luks1_image` | `cryptsetup luksFormat --type luks1` + AES-XTS in Python | PBKDF2, 1000 iterations |
| `luks2_image` | `cryptsetup reencrypt --encrypt --type luks2` (offline, no dm) | PBKDF2, 1000 iterations |
| `lvm_image` | pure Python: LVM2 label, PV header, metadata area + text | one PV, linear LVs |
| `bitlocker_lookalike` | pure Python: BitLocker (Windows 7+) header + FVE metadata | libbde: locked |

LVM cannot be built with the lvm2 tools here: they only accept block devices (their device cache drops
anything that is not one, whatever --devices or --config say), so a PV needs a loop device; `lvm_image`
writes the LVM2 on-disk format itself instead.

Contents are given as {path: bytes} ('/'-separated, no leading '/'); folders are made for the paths that
need them (so there is no empty folder). A builder whose tool is not installed raises `MissingTool` (its
`tool` says which); tests skip on it. Names, contents, labels (HIMAYA) and most identifiers are fixed and
file times are FIXED_MTIME where the tool allows, so builds repeat; what a tool makes random or takes from
the clock: LUKS salts and keys, the NTFS and exFAT serial numbers, NTFS and XFS file times, the XFS UUID,
the E01 acquisition date.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import functools
import json
import math
import os
import re
import shutil
import struct
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tests.builders.images import camera_exif, encode, photo_jpeg, photo_like

MiB = 1024 * 1024
SECTOR = 512
# 2024-03-15 10:20:30 UTC (an even second, so FAT's 2-second clock keeps it exactly).
FIXED_MTIME = 1710498030
VOLUME_LABEL = "HIMAYA"


class MissingTool(RuntimeError):
    """A system tool a builder needs is not installed."""

    def __init__(self, tool: str) -> None:
        super().__init__(f"{tool} is not installed")
        self.tool = tool


@dataclass
class FsContent:
    """What was put into a file system: paths are '/'-separated, relative to its root (no leading '/')."""

    files: dict[str, bytes]
    deleted: dict[str, bytes] = field(default_factory=dict)


# Content ------------------------------------------------------------------------------------------------

ARABIC_FOLDER = "صور"  # "pictures"
ARABIC_NAME = "عائلة.jpg"  # "family.jpg"


@functools.cache
def _sample_items() -> tuple[tuple[str, bytes], ...]:
    big = np.random.default_rng(4242).integers(0, 256, size=1536 * 1024, dtype=np.uint8).tobytes()
    return (
        ("Users/x/Pictures/holiday.jpg", photo_jpeg(9101, 320, 240)),
        ("Users/x/Pictures/beach.png", encode(photo_like(9102, 160, 120), "PNG")),
        ("DCIM/100TEST/IMG_0001.JPG", photo_jpeg(9103, 320, 240, exif=camera_exif())),
        (f"{ARABIC_FOLDER}/{ARABIC_NAME}", photo_jpeg(9104, 240, 180)),
        ("Documents/notes.txt", b"Shopping list\n- bread\n- milk\n\nCall Sam on Tuesday.\n"),
        ("Documents/empty.txt", b""),
        ("Downloads/big.bin", big),
    )


def sample_tree() -> dict[str, bytes]:
    """A small benign tree: three distinct pictures (two JPEG, one PNG; one JPEG with camera EXIF), a
    picture in a folder with an Arabic name, a text note, an empty file and a 1.5 MiB binary, in nested
    folders (`Users/x/Pictures/holiday.jpg` is three levels down). About 1.6 MiB in all.
    """
    return dict(_sample_items())


def sample_deleted() -> dict[str, bytes]:
    """Files to write and then delete next to `sample_tree()`: a JPEG and a short text, in folders that
    `sample_tree()` also has (so the folder survives the deletion)."""
    return {
        "Users/x/Pictures/deleted.jpg": photo_jpeg(9105, 200, 150),
        "Documents/gone.txt": b"This note was deleted.\n" * 40,
    }


def sample_content() -> FsContent:
    """`sample_tree()` with `sample_deleted()` as its deleted files."""
    return FsContent(files=sample_tree(), deleted=sample_deleted())


# Helpers ------------------------------------------------------------------------------------------------


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if path is None:
        raise MissingTool(name)
    return path


def _run(cmd: list[str], *, env: Mapping[str, str] | None = None, stdin: bytes | None = None) -> str:
    """Runs a tool; returns its stdout, raises RuntimeError with its stderr when it fails."""
    cmd = [_tool(cmd[0]), *cmd[1:]]
    full_env = {**os.environ, "LC_ALL": "C.UTF-8", **(env or {})}
    done = subprocess.run(cmd, input=stdin, capture_output=True, env=full_env, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.decode(errors='replace').strip()}"
        )
    return done.stdout.decode(errors="replace")


def _check_path(path: str) -> list[str]:
    parts = path.split("/")
    if not path or path.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"bad path inside a file system: {path!r}")
    return parts


def _folders(paths: list[str]) -> list[str]:
    """Every folder the paths need, parents before children."""
    folders = {"/".join(_check_path(p)[:i]) for p in paths for i in range(1, len(p.split("/")))}
    return sorted(folders, key=lambda f: (f.count("/"), f))


def _stage(files: Mapping[str, bytes], root: Path) -> Path:
    """Writes `files` under `root` with FIXED_MTIME on every file and folder."""
    root.mkdir(parents=True, exist_ok=True)
    for path, data in files.items():
        target = root.joinpath(*_check_path(path))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.utime(target, (FIXED_MTIME, FIXED_MTIME))
    for folder in sorted(root.rglob("*"), key=lambda p: -len(p.parts)):
        if folder.is_dir():
            os.utime(folder, (FIXED_MTIME, FIXED_MTIME))
    os.utime(root, (FIXED_MTIME, FIXED_MTIME))
    return root


@contextlib.contextmanager
def _scratch(dest: Path) -> Iterator[Path]:
    """A temporary folder next to `dest` (so inside the test's tmp_path), removed afterwards."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".build-") as scratch:
        yield Path(scratch).resolve()


def _blank(dest: Path, size: int) -> Path:
    """A sparse file of `size` bytes, replacing whatever was at `dest`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    with dest.open("wb") as out:
        out.truncate(size)
    return dest


def _copy_into(source: Path, out, offset: int, chunk: int = MiB) -> None:
    """Copies `source` into the open file `out` at `offset`. Holes in the source (SEEK_DATA/SEEK_HOLE) and
    all-zero blocks are skipped, so a sparse source leaves holes in `out` too (which must be zeros there)."""
    zero = bytes(chunk)
    size = source.stat().st_size
    with source.open("rb") as src:
        fd = src.fileno()
        position = 0
        while position < size:
            try:
                start = os.lseek(fd, position, os.SEEK_DATA)
                end = os.lseek(fd, start, os.SEEK_HOLE)
            except OSError as error:
                if error.errno == errno.ENXIO:  # only a hole past `position`
                    break
                start, end = position, size  # no SEEK_DATA here: read it all
            src.seek(start)
            while start < end:
                block = src.read(min(chunk, end - start))
                if not block:
                    break
                if block != zero[: len(block)]:
                    out.seek(offset + start)
                    out.write(block)
                start += len(block)
            position = end


# File systems -------------------------------------------------------------------------------------------


def ext4_image(
    dest: Path, files: Mapping[str, bytes], size_mb: int = 16, *, deleted: Mapping[str, bytes] | None = None
) -> Path:
    """An ext4 file system holding `files` (mke2fs -d), 4 KiB blocks, label HIMAYA, fixed UUID.

    `deleted` files are written too, then removed with `debugfs -w -R "rm PATH"`: their inodes keep their
    extents and their blocks keep their bytes, so `icat` (and TSK) can still read them.
    """
    deleted = dict(deleted or {})
    with _scratch(dest) as scratch:
        root = _stage({**files, **deleted}, scratch / "root")
        _blank(dest, size_mb * MiB)
        _run(
            [
                "mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-L", VOLUME_LABEL,
                "-U", "6d1f2b4e-0000-4000-8000-00000000e474", "-E", "root_owner=0:0",
                "-d", str(root), str(dest),
            ],
            env={"E2FSPROGS_FAKE_TIME": str(FIXED_MTIME)},
        )  # fmt: skip
    for path in deleted:
        _run(["debugfs", "-w", "-R", f'rm "/{path}"', str(dest)])
    return dest


def fat_image(
    dest: Path,
    files: Mapping[str, bytes],
    *,
    fat_bits: int = 32,
    deleted: Mapping[str, bytes] | None = None,
    size_mb: int | None = None,
) -> Path:
    """A FAT12/16/32 file system (mkfs.fat --invariant, label HIMAYA, volume id 1234ABCD) filled with
    mtools: `mcopy -s -m` (long names, UTF-8 taken from a C.UTF-8 locale, mtimes kept).

    Default sizes give a real FATn (mkfs.fat picks the FAT type from the cluster count): 8 MiB for FAT12
    (2 KiB clusters, about 4080 of them: the sample tree fits), 16 MiB for FAT16, 36 MiB for FAT32.
    `deleted` files are copied after the others (so nothing reuses their clusters) then `mdel`-ed: their
    directory entries get the 0xE5 mark (TSK shows the first letter as '_') and their data stays intact.
    """
    if fat_bits not in (12, 16, 32):
        raise ValueError("fat_bits must be 12, 16 or 32")
    deleted = dict(deleted or {})
    size_mb = size_mb or {12: 8, 16: 16, 32: 36}[fat_bits]
    _blank(dest, size_mb * MiB)
    _run(["mkfs.fat", "-F", str(fat_bits), "-n", VOLUME_LABEL, "-i", "1234ABCD", "--invariant", str(dest)])
    env = {"MTOOLS_SKIP_CHECK": "1", "MTOOLSRC": "/dev/null"}
    with _scratch(dest) as scratch:
        root = _stage(files, scratch / "root")
        top = sorted(str(p) for p in root.iterdir())
        if top:
            _run(["mcopy", "-s", "-m", "-Q", "-i", str(dest), *top, "::/"], env=env)
        made = set(_folders(list(files)))
        for folder in _folders(list(deleted)):
            if folder not in made:
                _run(["mmd", "-i", str(dest), f"::/{folder}"], env=env)
        staged = _stage(deleted, scratch / "deleted")
        for path in deleted:
            _run(["mcopy", "-m", "-Q", "-i", str(dest), str(staged / path), f"::/{path}"], env=env)
    if deleted:
        _run(["mdel", "-i", str(dest), *(f"::/{path}" for path in deleted)], env=env)
    return dest


class _LibNtfs:
    """The few libntfs-3g calls needed to write into an unmounted NTFS image (ntfs-3g's own library)."""

    AT_DATA = 0x80
    S_IFDIR = 0o040000
    S_IFREG = 0o100000

    def __init__(self) -> None:
        try:
            lib = ctypes.CDLL("libntfs-3g.so.89", use_errno=True)
        except OSError:
            name = ctypes.util.find_library("ntfs-3g")
            if name is None:
                raise MissingTool("libntfs-3g") from None
            lib = ctypes.CDLL(name, use_errno=True)
        vp, c = ctypes.c_void_p, ctypes
        lib.ntfs_mount.restype, lib.ntfs_mount.argtypes = vp, [c.c_char_p, c.c_ulong]
        lib.ntfs_umount.restype, lib.ntfs_umount.argtypes = c.c_int, [vp, c.c_int]
        lib.ntfs_pathname_to_inode.restype = vp
        lib.ntfs_pathname_to_inode.argtypes = [vp, vp, c.c_char_p]
        lib.ntfs_create.restype = vp
        lib.ntfs_create.argtypes = [vp, c.c_uint32, c.c_char_p, c.c_uint8, c.c_uint32]
        lib.ntfs_attr_open.restype, lib.ntfs_attr_open.argtypes = vp, [vp, c.c_uint32, vp, c.c_uint32]
        lib.ntfs_attr_pwrite.restype = c.c_int64
        lib.ntfs_attr_pwrite.argtypes = [vp, c.c_int64, c.c_int64, c.c_char_p]
        lib.ntfs_attr_close.restype, lib.ntfs_attr_close.argtypes = None, [vp]
        lib.ntfs_inode_close.restype, lib.ntfs_inode_close.argtypes = c.c_int, [vp]
        lib.ntfs_delete.restype = c.c_int
        lib.ntfs_delete.argtypes = [vp, c.c_char_p, vp, vp, c.c_char_p, c.c_uint8]
        self.lib = lib
        self.unnamed = ctypes.addressof(ctypes.c_uint16.in_dll(lib, "AT_UNNAMED"))

    @staticmethod
    def _fail(what: str) -> RuntimeError:
        return RuntimeError(f"libntfs-3g: {what}: {os.strerror(ctypes.get_errno())}")

    def write(self, image: Path, files: Mapping[str, bytes], deleted: Mapping[str, bytes]) -> None:
        lib = self.lib
        volume = lib.ntfs_mount(str(image).encode(), 0)
        if not volume:
            raise self._fail(f"cannot open {image}")
        try:
            folders: dict[str, int] = {"": lib.ntfs_pathname_to_inode(volume, None, b"/")}
            try:
                for folder in _folders([*files, *deleted]):
                    parent, _, name = folder.rpartition("/")
                    folders[folder] = self._create(folders[parent], name, self.S_IFDIR)
                for path, data in [*files.items(), *deleted.items()]:
                    parent, _, name = path.rpartition("/")
                    inode = self._create(folders[parent], name, self.S_IFREG)
                    try:
                        if data:
                            attr = lib.ntfs_attr_open(inode, self.AT_DATA, self.unnamed, 0)
                            if not attr:
                                raise self._fail(f"no $DATA on {path}")
                            written = lib.ntfs_attr_pwrite(attr, 0, len(data), data)
                            lib.ntfs_attr_close(attr)
                            if written != len(data):
                                raise self._fail(f"short write to {path}")
                    finally:
                        lib.ntfs_inode_close(inode)
            finally:
                for folder in sorted(folders, key=lambda f: -f.count("/") - (f != "")):
                    lib.ntfs_inode_close(folders[folder])
            for path in deleted:
                parent, _, name = path.rpartition("/")
                inode = lib.ntfs_pathname_to_inode(volume, None, f"/{path}".encode())
                folder = lib.ntfs_pathname_to_inode(volume, None, f"/{parent}".encode())
                if not inode or not folder:
                    for opened in (inode, folder):
                        if opened:
                            lib.ntfs_inode_close(opened)
                    raise self._fail(f"cannot find {path} again to delete it")
                encoded = name.encode("utf-16-le")
                # ntfs_delete closes both inodes, whatever it returns.
                if lib.ntfs_delete(volume, f"/{path}".encode(), inode, folder, encoded, len(encoded) // 2):
                    raise self._fail(f"cannot delete {path}")
        finally:
            if lib.ntfs_umount(volume, 0):
                raise self._fail(f"cannot close {image}")

    def _create(self, parent: int, name: str, mode: int) -> int:
        encoded = name.encode("utf-16-le")
        if len(encoded) // 2 > 255:
            raise ValueError(f"NTFS names are at most 255 UTF-16 units: {name!r}")
        inode = self.lib.ntfs_create(parent, 0, encoded, len(encoded) // 2, mode)
        if not inode:
            raise self._fail(f"cannot create {name!r}")
        return inode


def ntfs_image(
    dest: Path, files: Mapping[str, bytes], size_mb: int = 16, *, deleted: Mapping[str, bytes] | None = None
) -> Path:
    """An NTFS file system (`mkntfs -F -Q`, 4 KiB clusters, label HIMAYA) filled through libntfs-3g (the
    library under ntfs-3g, loaded with ctypes: no FUSE, no mount). Unlike `ntfscp` this makes folders and
    any Unicode name. Names are written in the POSIX name space (no 8.3 DOS names), as ntfs-3g does.

    `deleted` files are written then removed with `ntfs_delete`: the MFT record is marked free but keeps
    its data runs, and the clusters keep their bytes (small files stay resident in the record).
    """
    deleted = dict(deleted or {})
    _blank(dest, size_mb * MiB)
    _run(
        ["mkntfs", "-F", "-Q", "-q", "-L", VOLUME_LABEL, "-c", "4096", "-s", "512", "-p", "0",
         "-H", "255", "-S", "63", str(dest)],
    )  # fmt: skip
    if files or deleted:
        _LibNtfs().write(dest, files, deleted)
    return dest


# exFAT: mkfs.exfat makes an empty file system; there is no userland tool that adds files to one, so the
# writer below does, following Microsoft's public exFAT specification: it reads the boot sector, the
# allocation bitmap and the up-case table that mkfs.exfat wrote, allocates contiguous clusters in the
# bitmap, and writes File / Stream Extension / File Name directory entry sets (with their SetChecksum and
# NameHash). Files and sub-folders are contiguous ("NoFatChain"); the root folder, which lives on a FAT
# chain, is extended through the FAT when its entries do not fit.


def _rotate_add(value: int, byte: int) -> int:
    return ((((value & 1) << 15) | (value >> 1)) + byte) & 0xFFFF


def _dos_time(epoch: int) -> int:
    import time

    t = time.gmtime(epoch)
    return (
        ((t.tm_year - 1980) << 25)
        | (t.tm_mon << 21)
        | (t.tm_mday << 16)
        | (t.tm_hour << 11)
        | (t.tm_min << 5)
        | (t.tm_sec // 2)
    )


class _Exfat:
    def __init__(self, image: Path) -> None:
        self.path = image
        self.img = bytearray(image.read_bytes())
        boot = self.img
        if boot[3:11] != b"EXFAT   ":
            raise ValueError(f"{image} is not exFAT")
        sector = 1 << boot[108]
        self.cluster = sector << boot[109]
        self.fat = struct.unpack_from("<I", boot, 80)[0] * sector
        self.heap = struct.unpack_from("<I", boot, 88)[0] * sector
        self.count = struct.unpack_from("<I", boot, 92)[0]
        self.root = self._chain(struct.unpack_from("<I", boot, 96)[0])
        self.bitmap = self.upcase_at = -1
        upcase_size = 0
        for offset in self._slots(self.root):
            kind = self.img[offset]
            if kind == 0x81:
                self.bitmap = self._at(struct.unpack_from("<I", self.img, offset + 20)[0])
            elif kind == 0x82:
                self.upcase_at = self._at(struct.unpack_from("<I", self.img, offset + 20)[0])
                upcase_size = struct.unpack_from("<Q", self.img, offset + 24)[0]
        if self.bitmap < 0 or self.upcase_at < 0:
            raise ValueError("no allocation bitmap or up-case table in the root folder")
        self.upcase = self._read_upcase(bytes(self.img[self.upcase_at : self.upcase_at + upcase_size]))
        self.to_free: list[tuple[int, int]] = []
        self.hint = 2  # nothing is freed before the end, so first fit can start where the last one ended
        self.stamp = _dos_time(FIXED_MTIME)

    @staticmethod
    def _read_upcase(table: bytes) -> dict[int, int]:
        values = struct.unpack(f"<{len(table) // 2}H", table)
        mapping: dict[int, int] = {}
        char = index = 0
        while index < len(values):
            if values[index] == 0xFFFF and index + 1 < len(values):  # a run of identity mappings
                char += values[index + 1]
                index += 2
                continue
            mapping[char] = values[index]
            char += 1
            index += 1
        return mapping

    def _at(self, cluster: int) -> int:
        return self.heap + (cluster - 2) * self.cluster

    def _chain(self, cluster: int) -> list[int]:
        chain = []
        while 2 <= cluster < 0xFFFFFFF7 and len(chain) <= self.count:
            chain.append(cluster)
            cluster = struct.unpack_from("<I", self.img, self.fat + 4 * cluster)[0]
        return chain

    def _slots(self, chain: list[int]) -> Iterator[int]:
        for cluster in chain:
            start = self._at(cluster)
            yield from range(start, start + self.cluster, 32)

    def _used(self, cluster: int) -> bool:
        bit = cluster - 2
        return bool(self.img[self.bitmap + bit // 8] >> (bit % 8) & 1)

    def _mark(self, first: int, count: int, used: bool) -> None:
        for cluster in range(first, first + count):
            bit = cluster - 2
            if used:
                self.img[self.bitmap + bit // 8] |= 1 << (bit % 8)
            else:
                self.img[self.bitmap + bit // 8] &= ~(1 << (bit % 8)) & 0xFF

    def _allocate(self, count: int) -> int:
        for start in (self.hint, 2):
            run = 0
            for cluster in range(start, self.count + 2):
                run = 0 if self._used(cluster) else run + 1
                if run == count:
                    first = cluster - count + 1
                    self._mark(first, count, True)
                    self.hint = first + count
                    return first
        raise ValueError("exFAT image is full: give a bigger size_mb")

    def _store(self, data: bytes) -> tuple[int, int]:
        """Writes data into fresh contiguous clusters; returns (first cluster, number of clusters)."""
        if not data:
            return 0, 0
        count = math.ceil(len(data) / self.cluster)
        first = self._allocate(count)
        start = self._at(first)
        self.img[start : start + count * self.cluster] = data.ljust(count * self.cluster, b"\0")
        return first, count

    def _entry_set(self, name: str, folder: bool, first: int, length: int, in_use: bool = True) -> bytes:
        units = struct.unpack(f"<{len(name.encode('utf-16-le')) // 2}H", name.encode("utf-16-le"))
        if not 1 <= len(units) <= 255:
            raise ValueError(f"exFAT names are 1 to 255 UTF-16 units: {name!r}")
        name_entries = math.ceil(len(units) / 15)
        file = bytearray(32)
        file[0] = 0x85
        file[1] = 1 + name_entries
        struct.pack_into("<H", file, 4, 0x10 if folder else 0x20)
        struct.pack_into("<III", file, 8, self.stamp, self.stamp, self.stamp)
        file[22:25] = b"\x80\x80\x80"  # UTC offsets valid, +00:00
        name_hash = 0
        for unit in units:
            upper = self.upcase.get(unit, unit)
            name_hash = _rotate_add(_rotate_add(name_hash, upper & 0xFF), upper >> 8)
        stream = bytearray(32)
        stream[0] = 0xC0
        stream[1] = 0x03 if first else 0x01  # AllocationPossible, NoFatChain when there are clusters
        stream[3] = len(units)
        struct.pack_into("<HxxQ", stream, 4, name_hash, length)
        struct.pack_into("<IQ", stream, 20, first, length)
        names = bytearray()
        for index in range(name_entries):
            entry = bytearray(32)
            entry[0] = 0xC1
            chunk = units[index * 15 : index * 15 + 15]
            struct.pack_into(f"<{len(chunk)}H", entry, 2, *chunk)
            names += entry
        entries = file + stream + names
        checksum = 0
        for index, byte in enumerate(entries):
            if index not in (2, 3):
                checksum = _rotate_add(checksum, byte)
        struct.pack_into("<H", entries, 2, checksum)
        if not in_use:
            for index in range(0, len(entries), 32):
                entries[index] &= 0x7F
        return bytes(entries)

    def _folder_entries(self, tree: dict) -> bytes:
        entries = bytearray()
        for name, node in sorted(tree.items()):
            if isinstance(node, dict):
                content = self._folder_entries(node)
                count = max(1, math.ceil(len(content) / self.cluster))
                first = self._allocate(count)
                start = self._at(first)
                self.img[start : start + count * self.cluster] = content.ljust(count * self.cluster, b"\0")
                entries += self._entry_set(name, True, first, count * self.cluster)
            else:
                data, in_use = node
                first, count = self._store(data)
                if not in_use and count:
                    self.to_free.append((first, count))
                entries += self._entry_set(name, False, first, len(data), in_use)
        return bytes(entries)

    def _append_to_root(self, entries: bytes) -> None:
        slots = list(self._slots(self.root))
        end = next((i for i, offset in enumerate(slots) if self.img[offset] == 0x00), len(slots))
        while (len(slots) - end) * 32 < len(entries):  # grow the root folder's FAT chain
            cluster = self._allocate(1)
            struct.pack_into("<I", self.img, self.fat + 4 * self.root[-1], cluster)
            struct.pack_into("<I", self.img, self.fat + 4 * cluster, 0xFFFFFFFF)
            self.img[self._at(cluster) : self._at(cluster) + self.cluster] = bytes(self.cluster)
            self.root.append(cluster)
            slots = list(self._slots(self.root))
        for index in range(len(entries) // 32):
            self.img[slots[end + index] : slots[end + index] + 32] = entries[index * 32 : index * 32 + 32]

    def write(self, files: Mapping[str, bytes], deleted: Mapping[str, bytes]) -> None:
        tree: dict = {}
        for path, data, in_use in [(p, d, True) for p, d in files.items()] + [
            (p, d, False) for p, d in deleted.items()
        ]:
            *folders, name = _check_path(path)
            node = tree
            for folder in folders:
                node = node.setdefault(folder, {})
                if not isinstance(node, dict):
                    raise ValueError(f"{path}: {folder} is a file")
            node[name] = (data, in_use)
        self._append_to_root(self._folder_entries(tree))
        for first, count in self.to_free:
            self._mark(first, count, False)
        self.path.write_bytes(self.img)


def exfat_image(
    dest: Path, files: Mapping[str, bytes], size_mb: int = 16, *, deleted: Mapping[str, bytes] | None = None
) -> Path:
    """An exFAT file system: `mkfs.exfat -L HIMAYA` (4 KiB clusters at 16 MiB), then filled by this
    module's own exFAT writer (no userland tool adds files to exFAT). Every file and sub-folder is one
    contiguous run of clusters (NoFatChain flag set); empty files have no cluster. `deleted` files are
    written, then their entry sets get the in-use bit cleared and their clusters are freed in the bitmap
    (bytes left intact). The volume serial number comes from mkfs.exfat (random). `fsck.exfat -n` passes.
    """
    _blank(dest, size_mb * MiB)
    _run(["mkfs.exfat", "-L", VOLUME_LABEL, str(dest)])
    _Exfat(dest).write(files, dict(deleted or {}))
    return dest


def xfs_image(dest: Path, files: Mapping[str, bytes], size_mb: int = 300) -> Path:
    """An XFS file system (`mkfs.xfs -p protofile`, label HIMAYA) on a sparse file: mkfs.xfs refuses less
    than 300 MiB, of which about 65 MiB (mostly the zeroed log) is really written to disk.

    The protofile format splits on blanks, so names with spaces or tabs are refused (ValueError).
    The Sleuth Kit 4.11 (Debian 12) cannot read XFS: cross-check with xfs_db or pytsk3 >= 4.12.
    """
    paths = list(files)
    for path in paths:
        if re.search(r"\s", path):
            raise ValueError(f"mkfs.xfs protofiles cannot hold names with blanks: {path!r}")
    with _scratch(dest) as scratch:
        root = _stage(files, scratch / "root")
        lines = ["himaya", "0 0", "d--755 0 0"]

        def folder(relative: str, depth: int) -> None:
            here = root / relative if relative else root
            for child in sorted(here.iterdir()):
                name = child.name
                indent = " " * depth
                if child.is_dir():
                    lines.append(f"{indent}{name} d--755 0 0")
                    folder(f"{relative}/{name}".lstrip("/"), depth + 1)
                else:
                    lines.append(f"{indent}{name} ---644 0 0 {child}")
            lines.append(" " * (depth - 1) + "$")

        folder("", 1)
        proto = scratch / "proto"
        proto.write_text("\n".join(lines) + "\n", encoding="utf-8")
        _blank(dest, size_mb * MiB)
        _run(["mkfs.xfs", "-q", "-f", "-L", VOLUME_LABEL, "-p", str(proto), str(dest)])
    return dest


def iso_image(dest: Path, files: Mapping[str, bytes], *, volume_id: str = VOLUME_LABEL) -> Path:
    """An ISO 9660 image with Rock Ridge and Joliet (`xorriso -as mkisofs -R -J -joliet-long`), time
    stamps from SOURCE_DATE_EPOCH=FIXED_MTIME. `deleted` makes no sense on a read-only medium: none."""
    with _scratch(dest) as scratch:
        root = _stage(files, scratch / "root")
        dest.unlink(missing_ok=True)
        _run(
            ["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-joliet-long", "-V", volume_id,
             "-o", str(dest), str(root)],
            env={"SOURCE_DATE_EPOCH": str(FIXED_MTIME)},
        )  # fmt: skip
    return dest


# Volume systems -----------------------------------------------------------------------------------------

_MBR_TYPES = {
    "ext": "83", "fat12": "01", "fat16": "0e", "fat32": "0c", "ntfs": "07", "exfat": "07", "bitlocker": "07",
    "lvm": "8e",
}  # fmt: skip
GPT_LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
GPT_BASIC_DATA = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
GPT_LVM = "E6D6D379-F507-44C2-A23C-238F2A3DF928"


def sniff(image: Path) -> str:
    """What a partition image holds, from its first bytes: 'ext', 'fat12', 'fat16', 'fat32', 'ntfs',
    'exfat', 'xfs', 'iso9660', 'luks', 'lvm', 'bitlocker' or 'unknown'."""
    with image.open("rb") as f:
        head = f.read(64 * 1024 + 8)
    if head[1080:1082] == b"\x53\xef":
        return "ext"
    if head[3:11] == b"NTFS    ":
        return "ntfs"
    if head[3:11] == b"EXFAT   ":
        return "exfat"
    if head[3:11] == b"-FVE-FS-":
        return "bitlocker"
    if head[:4] == b"XFSB":
        return "xfs"
    if head[:6] == b"LUKS\xba\xbe":
        return "luks"
    if head[512:520] == b"LABELONE":
        return "lvm"
    if head[0x8001:0x8006] == b"CD001":
        return "iso9660"
    if head[82:87] == b"FAT32":
        return "fat32"
    if head[54:59] in (b"FAT12", b"FAT16"):
        return head[54:59].decode().lower()
    return "unknown"


def partitioned(
    dest: Path,
    partitions: list[Path],
    table: str = "mbr",
    *,
    gap_mb: int = 1,
) -> Path:
    """A disk image holding the given images as partitions, in order: the table is written by `sfdisk` on
    the plain file (`--no-reread --no-tell-kernel`, 1 MiB alignment), then each image is copied to where
    sfdisk put its partition (zero blocks skipped, so sparse images stay sparse).

    table='mbr': with more than 4 images, partitions 1-3 are primary and the rest are logical partitions
    (5, 6, ...) inside an extended partition 4. Types (from `sniff`): 0c FAT32, 0e FAT16, 01 FAT12,
    07 NTFS/exFAT/BitLocker, 8e LVM, 83 anything else. Disk identifier 0x48494d41 ("HIMA").
    table='gpt': Microsoft basic data (FAT, exFAT, NTFS, BitLocker), Linux LVM, or Linux file system
    (anything else) type GUIDs; fixed disk GUID.
    `gap_mb` of free space is left before the first partition and at the end of the disk.
    Partition sizes are the image sizes rounded up to whole sectors.
    """
    if table not in ("mbr", "gpt"):
        raise ValueError("table is 'mbr' or 'gpt'")
    sectors = [math.ceil(p.stat().st_size / SECTOR) for p in partitions]
    kinds = [sniff(p) for p in partitions]
    lines = ["unit: sectors"]
    if table == "gpt":
        lines += ["label: gpt", "label-id: 48494D41-5941-4000-8000-000000000001"]
        for count, kind in zip(sectors, kinds, strict=True):
            kind_id = {"lvm": GPT_LVM}.get(kind, GPT_LINUX)
            if kind in ("fat12", "fat16", "fat32", "ntfs", "exfat", "bitlocker"):
                kind_id = GPT_BASIC_DATA
            lines.append(f"size={count}, type={kind_id}")
    else:
        lines += ["label: dos", "label-id: 0x48494d41"]
        types = [_MBR_TYPES.get(kind, "83") for kind in kinds]
        primary = sectors if len(sectors) <= 4 else sectors[:3]
        for count, kind_id in zip(primary, types, strict=False):
            lines.append(f"size={count}, type={kind_id}")
        if len(sectors) > 4:
            lines.append("type=05")  # extended partition: the rest of the disk
            for count, kind_id in zip(sectors[3:], types[3:], strict=True):
                lines.append(f"size={count}, type={kind_id}")
    # Each logical partition is preceded by its EBR, aligned on 1 MiB: room for that, and gap_mb at the end.
    total = (gap_mb + 1) * MiB + sum(math.ceil(s * SECTOR / MiB) * MiB + MiB for s in sectors) + gap_mb * MiB
    _blank(dest, total)
    script = "\n".join(lines).replace("unit: sectors", f"unit: sectors\nfirst-lba: {gap_mb * 2048}", 1)
    _run(
        ["sfdisk", "-q", "--no-reread", "--no-tell-kernel", "--wipe", "never", str(dest)],
        stdin=script.encode(),
    )
    layout = json.loads(_run(["sfdisk", "--json", str(dest)]))["partitiontable"]["partitions"]
    placed = [p for p in layout if p["type"] not in ("5", "f", "85")]
    if len(placed) != len(partitions):
        raise RuntimeError(f"sfdisk made {len(placed)} partitions for {len(partitions)} images")
    with dest.open("r+b") as out:
        for image, part in zip(partitions, placed, strict=True):
            _copy_into(image, out, part["start"] * SECTOR)
    return dest


def partition_offsets(disk: Path) -> list[int]:
    """Byte offsets of the partitions sfdisk sees on `disk` (extended containers left out), in order."""
    layout = json.loads(_run(["sfdisk", "--json", str(disk)]))["partitiontable"]["partitions"]
    return [p["start"] * SECTOR for p in layout if p["type"] not in ("5", "f", "85")]


# LVM: the lvm2 tools only accept block devices (their device cache skips anything that is not one,
# whatever --devices or --config say), so a PV in a plain file needs a loop device. The writer below lays
# out LVM2's on-disk text format itself, as lvm2 writes it (lib/format_text/layout.h): the label in sector
# 1 ("LABELONE", CRC over the rest of the sector), the PV header (UUID, size, data and metadata areas),
# the metadata area header at 4 KiB (" LVM2 x[5A%r0N*>" magic, CRC) and the VG's text metadata after it.

_LVM_INITIAL_CRC = 0xF597A6CF
_LVM_MAGIC = b" LVM2 x[5A%r0N*>"
_LVM_UUID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _lvm_crc(data: bytes) -> int:
    """lvm2's calc_crc: CRC-32 (reflected, polynomial 0xEDB88320) from 0xf597a6cf, no final inversion."""
    import zlib

    return zlib.crc32(data, _LVM_INITIAL_CRC ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


def _lvm_uuid(seed: str) -> str:
    """32 characters of lvm2's UUID alphabet, derived from `seed` (so builds repeat)."""
    import hashlib

    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_LVM_UUID_ALPHABET[b % 62] for b in digest)


def _lvm_dashed(raw: str) -> str:
    parts, start = [], 0
    for width in (6, 4, 4, 4, 4, 4, 6):
        parts.append(raw[start : start + width])
        start += width
    return "-".join(parts)


def lvm_image(
    dest: Path, volumes: Mapping[str, Path], *, vg_name: str = "himaya_vg", extent_mb: int = 1
) -> Path:
    """One LVM2 physical volume holding volume group `vg_name` with one linear logical volume per entry
    of `volumes` (name -> image to put in it, in order), written in Python (see above: the lvm2 tools
    need a block device). Extents are `extent_mb` MiB, data starts at 1 MiB, one metadata area of
    1020 KiB at 4 KiB. Each LV is its image rounded up to whole extents.
    """
    extent = extent_mb * MiB
    pe_start = MiB
    names = list(volumes)
    counts = [max(1, math.ceil(p.stat().st_size / extent)) for p in volumes.values()]
    pe_count = sum(counts)
    size = pe_start + pe_count * extent
    pv_uuid = _lvm_uuid(f"pv:{vg_name}")
    stamp = FIXED_MTIME

    lvs, first = [], 0
    for name, count in zip(names, counts, strict=True):
        lvs.append(
            f'{name} {{\nid = "{_lvm_dashed(_lvm_uuid(f"lv:{vg_name}:{name}"))}"\n'
            f'status = ["READ", "WRITE", "VISIBLE"]\nflags = []\n'
            f'creation_time = {stamp}\ncreation_host = "himaya"\nsegment_count = 1\n\n'
            f'segment1 {{\nstart_extent = 0\nextent_count = {count}\n\ntype = "striped"\n'
            f'stripe_count = 1\n\nstripes = [\n"pv0", {first}\n]\n}}\n}}\n'
        )
        first += count
    text = (
        f'{vg_name} {{\nid = "{_lvm_dashed(_lvm_uuid(f"vg:{vg_name}"))}"\nseqno = 1\n'
        f'format = "lvm2"\nstatus = ["RESIZEABLE", "READ", "WRITE"]\nflags = []\n'
        f"extent_size = {extent // SECTOR}\nmax_lv = 0\nmax_pv = 0\nmetadata_copies = 0\n\n"
        f'physical_volumes {{\n\npv0 {{\nid = "{_lvm_dashed(pv_uuid)}"\ndevice = "/dev/sdz"\n\n'
        f'status = ["ALLOCATABLE"]\nflags = []\ndev_size = {size // SECTOR}\n'
        f"pe_start = {pe_start // SECTOR}\npe_count = {pe_count}\n}}\n}}\n\n"
        f"logical_volumes {{\n\n{chr(10).join(lvs)}}}\n\n}}\n"
        f'# Generated by tests/builders/disks.py\n\ncontents = "Text Format Volume Group"\nversion = 1\n\n'
        f'description = ""\n\ncreation_host = "himaya"\ncreation_time = {stamp}\n\n'
    ).encode() + b"\0"

    mda_start, mda_size = 4096, pe_start - 4096
    label = bytearray(SECTOR)
    label[0:8] = b"LABELONE"
    struct.pack_into("<QII8s", label, 8, 1, 0, 32, b"LVM2 001")
    pv_header = pv_uuid.encode() + struct.pack("<Q", size)
    pv_header += struct.pack("<QQQQ", pe_start, 0, 0, 0)  # data areas: one from pe_start to the end
    pv_header += struct.pack("<QQQQ", mda_start, mda_size, 0, 0)  # metadata areas
    pv_header += struct.pack("<II", 2, 1) + struct.pack("<QQ", 0, 0)  # extension v2, PV in use, no BAs
    label[32 : 32 + len(pv_header)] = pv_header
    struct.pack_into("<I", label, 16, _lvm_crc(bytes(label[20:])))

    mda_header = bytearray(SECTOR)
    mda_header[4:20] = _LVM_MAGIC
    struct.pack_into("<IQQ", mda_header, 20, 1, mda_start, mda_size)
    struct.pack_into("<QQII", mda_header, 40, SECTOR, len(text), _lvm_crc(text), 0)
    struct.pack_into("<I", mda_header, 0, _lvm_crc(bytes(mda_header[4:])))

    _blank(dest, size)
    with dest.open("r+b") as out:
        out.seek(SECTOR)
        out.write(label)
        out.seek(mda_start)
        out.write(mda_header)
        out.write(text)
        position = pe_start
        for image, count in zip(volumes.values(), counts, strict=True):
            _copy_into(image, out, position)
            position += count * extent
    return dest


# Containers ---------------------------------------------------------------------------------------------


def split_raw(image: Path, dest_dir: Path, scheme: str = "001", parts: int = 3) -> Path:
    """Splits a raw image into `parts` segments named as dfVFS's raw glob expects; returns the first.

    scheme '001': NAME.001, NAME.002, ... (dd/FTK style); '000': NAME.000, NAME.001, ...; 'aa': NAME.aa,
    NAME.ab, ... (split -a 2 style, with a dot); '1of': NAME.1of3, NAME.2of3, ... NAME is the image's stem.
    Segments are whole sectors (the last one takes the rest).
    """
    size = image.stat().st_size
    step = math.ceil(math.ceil(size / parts) / SECTOR) * SECTOR
    if step * (parts - 1) >= size:
        raise ValueError(f"{image} is too small for {parts} segments")

    def name(index: int) -> str:
        if scheme == "001":
            return f"{index + 1:03d}"
        if scheme == "000":
            return f"{index:03d}"
        if scheme == "aa":
            return "a" + chr(ord("a") + index)
        if scheme == "1of":
            return f"{index + 1}of{parts}"
        raise ValueError("scheme is '001', '000', 'aa' or '1of'")

    dest_dir.mkdir(parents=True, exist_ok=True)
    segments = []
    with image.open("rb") as src:
        for index in range(parts):
            segment = dest_dir / f"{image.stem}.{name(index)}"
            segment.write_bytes(src.read(step if index < parts - 1 else size))
            segments.append(segment)
    return segments[0]


def e01(
    image: Path,
    dest_dir: Path,
    *,
    segment_mb: int | None = None,
    case_number: str = "TEST-CASE-1",
    examiner: str = "TEST examiner",
    notes: str = "TEST notes",
    description: str = "TEST disk image",
    evidence_number: str = "TEST-EV-1",
    compression: str = "fast",
    name: str | None = None,
) -> Path:
    """An EnCase 6 image of `image` made by `ewfacquire -u` (unattended); returns the .E01.

    Stored: case number, examiner, notes, description, evidence number (ASCII), MD5 and SHA-1 of the
    media. compression: 'none', 'empty-block', 'fast' or 'best' (deflate). With segment_mb, segments are
    at most that many MiB (ewfacquire's minimum is 1): NAME.E01, NAME.E02, ... where NAME defaults to the
    image's stem. The number of segments follows the *compressed* size: use compression='none' (or an
    image that does not compress well) to be sure of getting more than one.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / (name or image.stem)
    for old in dest_dir.glob(f"{target.name}.E[0-9][0-9]"):
        old.unlink()
    command = [
        "ewfacquire", "-u", "-q", "-t", str(target), "-f", "encase6", "-c", f"deflate:{compression}",
        "-d", "sha1", "-C", case_number, "-e", examiner, "-N", notes, "-D", description,
        "-E", evidence_number, "-m", "fixed", "-M", "physical",
    ]  # fmt: skip
    if segment_mb is not None:
        command += ["-S", f"{segment_mb}MiB"]
    _run([*command, str(image)])
    first = target.with_name(target.name + ".E01")
    if not first.exists():
        raise RuntimeError(f"ewfacquire made no {first}")
    return first


_QEMU_FORMATS = {"vmdk": "vmdk", "qcow2": "qcow2", "vhdx": "vhdx", "vpc": "vpc", "vhd": "vpc"}


def qemu_image(image: Path, dest: Path, fmt: str = "vmdk", *, options: str | None = None) -> Path:
    """`image` (raw) converted by `qemu-img convert` to fmt: 'vmdk' (monolithic sparse), 'qcow2', 'vhdx'
    (dynamic) or 'vpc'/'vhd' (VHD, dynamic). `options` goes to -o, e.g. 'subformat=fixed' or
    'subformat=streamOptimized'. Note VHD (vpc) rounds the virtual size up to its CHS geometry.
    """
    if fmt not in _QEMU_FORMATS:
        raise ValueError(f"fmt is one of {sorted(_QEMU_FORMATS)}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    command = ["qemu-img", "convert", "-q", "-f", "raw", "-O", _QEMU_FORMATS[fmt]]
    if options:
        command += ["-o", options]
    _run([*command, str(image), str(dest)])
    return dest


# Encrypted volumes --------------------------------------------------------------------------------------

LUKS_ITERATIONS = 1000  # cryptsetup's minimum: opening takes milliseconds


def _xts_crypt(key: bytes, data: bytes, first_sector: int, encrypt: bool) -> bytes:
    """AES-XTS over 512-byte sectors with the plain64 IV (the sector number, little-endian), as dm-crypt's
    aes-xts-plain64 does; the first half of `key` encrypts the data, the second half the tweaks.

    Vectorised: all tweaks come from one AES-ECB pass over the sector numbers and are multiplied by alpha
    in GF(2^128) with numpy, then the data goes through one AES-ECB pass (about 40 ms for 16 MiB).
    """
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    if len(data) % SECTOR:
        raise ValueError("XTS data must be whole 512-byte sectors")
    count = len(data) // SECTOR
    numbers = np.zeros((count, 2), dtype="<u8")
    numbers[:, 0] = np.arange(first_sector, first_sector + count, dtype="<u8")
    tweak_cipher = Cipher(algorithms.AES(key[len(key) // 2 :]), modes.ECB()).encryptor()
    tweak = np.frombuffer(tweak_cipher.update(numbers.tobytes()) + tweak_cipher.finalize(), dtype="<u8")
    tweak = tweak.reshape(count, 2).copy()
    tweaks = np.empty((count, SECTOR // 16, 2), dtype="<u8")
    for block in range(SECTOR // 16):
        tweaks[:, block] = tweak
        carry = tweak[:, 1] >> np.uint64(63)
        tweak[:, 1] = (tweak[:, 1] << np.uint64(1)) | (tweak[:, 0] >> np.uint64(63))
        tweak[:, 0] = (tweak[:, 0] << np.uint64(1)) ^ (carry * np.uint64(0x87))
    flat = tweaks.reshape(-1)
    data_cipher = Cipher(algorithms.AES(key[: len(key) // 2]), modes.ECB())
    worker = data_cipher.encryptor() if encrypt else data_cipher.decryptor()
    middle = (np.frombuffer(data, dtype="<u8") ^ flat).tobytes()
    return (np.frombuffer(worker.update(middle) + worker.finalize(), dtype="<u8") ^ flat).tobytes()


def luks_volume_key(image: Path, password: str) -> bytes:
    """The volume key of a LUKS1/LUKS2 image, from `cryptsetup luksDump --dump-volume-key`."""
    with tempfile.NamedTemporaryFile("wb", suffix=".key") as key_file:
        key_file.write(password.encode())
        key_file.flush()
        text = _run(["cryptsetup", "luksDump", "-q", "--dump-volume-key", "--key-file", key_file.name,
                     str(image)])  # fmt: skip
    found = re.search(r"(?:MK dump|Volume key):\s*((?:[0-9a-fA-F]{2}\s+)+)", text + "\n")
    if not found:
        raise RuntimeError(f"no volume key in luksDump output of {image}")
    return bytes.fromhex("".join(found.group(1).split()))


def luks_payload_offset(image: Path) -> int:
    """Byte offset of the encrypted data of a LUKS1/LUKS2 image (from `cryptsetup luksDump`)."""
    text = _run(["cryptsetup", "luksDump", str(image)])
    if found := re.search(r"Payload offset:\s*(\d+)", text):  # LUKS1, in sectors
        return int(found.group(1)) * SECTOR
    if found := re.search(r"Data segments:\s*\n\s*0: crypt\s*\n\s*offset: (\d+) \[bytes\]", text):
        return int(found.group(1))
    raise RuntimeError(f"no payload offset in luksDump output of {image}")


def luks_decrypt(image: Path, password: str) -> bytes:
    """The decrypted payload of an aes-xts-plain64, 512-byte-sector LUKS image (as this module makes)."""
    offset = luks_payload_offset(image)
    with image.open("rb") as f:
        f.seek(offset)
        data = f.read()
    return _xts_crypt(luks_volume_key(image, password), data, 0, encrypt=False)


def _luks_format(dest: Path, payload: Path, password: str, kind: str) -> Path:
    """luksFormat on a plain file, then the payload encrypted here (AES-XTS-plain64, 512-byte sectors)
    with a volume key this module chose, written at the payload offset."""
    payload_size = math.ceil(payload.stat().st_size / SECTOR) * SECTOR
    _blank(dest, payload_size + 2 * MiB)
    volume_key = os.urandom(64)
    with _scratch(dest) as scratch:
        (scratch / "pass").write_bytes(password.encode())
        (scratch / "vk").write_bytes(volume_key)
        command = [
            "cryptsetup", "luksFormat", "-q", "--batch-mode", "--disable-locks", "--type", kind,
            "--cipher", "aes-xts-plain64", "--key-size", "512", "--hash", "sha256",
            "--pbkdf-force-iterations", str(LUKS_ITERATIONS), "--volume-key-file", str(scratch / "vk"),
            "--key-file", str(scratch / "pass"),
        ]  # fmt: skip
        if kind == "luks2":
            command += ["--pbkdf", "pbkdf2", "--sector-size", "512", "--offset", str(2 * MiB // SECTOR)]
        else:
            command += ["--align-payload", str(2 * MiB // SECTOR)]
        _run([*command, str(dest)])
    offset = luks_payload_offset(dest)
    data = payload.read_bytes().ljust(payload_size, b"\0")
    with dest.open("r+b") as out:
        out.truncate(offset + payload_size)
        out.seek(offset)
        out.write(_xts_crypt(volume_key, data, 0, encrypt=True))
    return dest


def luks1_image(dest: Path, payload: Path, password: str) -> Path:
    """A LUKS1 volume holding `payload` (e.g. an ext4 image): `cryptsetup luksFormat --type luks1`
    (aes-xts-plain64, 512-bit key, sha256, PBKDF2 with 1000 iterations, payload at 2 MiB) on a plain
    file, then the payload encrypted here with the volume key given to luksFormat (--volume-key-file).
    cryptsetup's own offline encryption (`reencrypt --encrypt`) needs device-mapper for LUKS1.
    """
    return _luks_format(dest, payload, password, "luks1")


def luks2_image(dest: Path, payload: Path, password: str, *, method: str = "reencrypt") -> Path:
    """A LUKS2 volume holding `payload`, with PBKDF2 (1000 iterations, sha256) so unlocking is instant,
    aes-xts-plain64 with a 512-bit key and 512-byte sectors, data at 2 MiB.

    method='reencrypt' (default): the payload plus 4 MiB of room is encrypted in place by cryptsetup
    itself, offline (`cryptsetup reencrypt --encrypt --type luks2 --reduce-device-size 4M`, no
    device-mapper needed); the decrypted data is the payload followed by 2 MiB of zeros.
    method='format': `luksFormat --type luks2` and the payload encrypted here, as `luks1_image` does.
    """
    if method == "format":
        return _luks_format(dest, payload, password, "luks2")
    if method != "reencrypt":
        raise ValueError("method is 'reencrypt' or 'format'")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    shutil.copyfile(payload, dest)
    with dest.open("r+b") as out:
        out.truncate(math.ceil(payload.stat().st_size / SECTOR) * SECTOR + 4 * MiB)
    with _scratch(dest) as scratch:
        (scratch / "pass").write_bytes(password.encode())
        _run(
            ["cryptsetup", "reencrypt", "-q", "--batch-mode", "--disable-locks", "--encrypt",
             "--type", "luks2", "--reduce-device-size", "4M", "--cipher", "aes-xts-plain64",
             "--key-size", "512", "--sector-size", "512", "--hash", "sha256", "--pbkdf", "pbkdf2",
             "--pbkdf-force-iterations", str(LUKS_ITERATIONS), "--key-file", str(scratch / "pass"),
             str(dest)],
        )  # fmt: skip
    return dest


# BitLocker: no tool makes one off Windows. The look-alike has a real Windows 7+ BitLocker volume header
# (boot entry point EB 58 90, "-FVE-FS-", the BitLocker identifier GUID at 160 and the three FVE metadata
# offsets at 176) and three copies of a version 2 FVE metadata block holding one volume master key
# protected by a recovery password and one encrypted full volume encryption key, so that libbde opens
# it and reports it locked. The protected keys are filler: no password unlocks it.

BDE_IDENTIFIER = bytes.fromhex("3bd66749292ed84a8399f6a339e3d001")
BDE_RECOVERY_PASSWORD_PROTECTOR = 0x0800
BDE_AES_128_DIFFUSER = 0x8000


def _bde_entry(entry_type: int, value_type: int, payload: bytes) -> bytes:
    return struct.pack("<HHHH", 8 + len(payload), entry_type, value_type, 1) + payload


def bitlocker_lookalike(dest: Path, size_mb: int = 8) -> Path:
    """A partition-sized blob that BitLocker readers take for a locked BitLocker (Windows 7+) volume:
    valid volume header and FVE metadata (libbde opens it: is_locked() is True, one recovery-password
    key protector, encryption method AES-CBC 128 with diffuser), every other byte pseudo-random like
    ciphertext. Nothing can unlock it. Its header also says "FAT32   " at offset 82, as real BitLocker
    volumes do (so a FAT sniffer may match it too).
    """
    size = size_mb * MiB
    metadata_offsets = (1 * MiB, 2 * MiB, 3 * MiB)
    filetime = 133_550_000_000_000_000  # 2024-03-15
    volume_id = uuid.UUID("48494d41-5941-4bde-8000-000000000001").bytes_le
    # The blob "looks encrypted": seeded noise, fixed from one build to the next.
    blob = bytearray(np.random.default_rng(7301).integers(0, 256, size=size, dtype=np.uint8).tobytes())

    header = bytearray(512)
    header[0:3] = b"\xeb\x58\x90"
    header[3:11] = b"-FVE-FS-"
    struct.pack_into("<HB", header, 11, SECTOR, 8)
    header[21] = 0xF8
    struct.pack_into("<HHI", header, 24, 63, 255, 0)
    struct.pack_into("<I", header, 32, size // SECTOR)
    struct.pack_into("<I", header, 67, 0x48494D41)
    header[71:82] = b"NO NAME    "
    header[82:90] = b"FAT32   "
    header[160:176] = BDE_IDENTIFIER
    struct.pack_into("<QQQ", header, 176, *metadata_offsets)
    header[510:512] = b"\x55\xaa"
    blob[0:512] = header

    stretch_key = _bde_entry(0, 3, struct.pack("<I", 0x1000) + bytes(range(16)) + _bde_entry(
        0, 5, struct.pack("<QI", filetime, 1) + b"\xa5" * 44))  # fmt: skip
    encrypted_vmk = _bde_entry(0, 5, struct.pack("<QI", filetime, 2) + b"\x5a" * 60)
    vmk = _bde_entry(
        2,
        8,
        uuid.UUID("48494d41-5941-4bde-8000-000000000002").bytes_le
        + struct.pack("<QHH", filetime, 0, BDE_RECOVERY_PASSWORD_PROTECTOR)
        + stretch_key
        + encrypted_vmk,
    )
    fvek = _bde_entry(3, 5, struct.pack("<QI", filetime, 3) + b"\x3c" * 60)
    entries = vmk + fvek
    metadata_size = 48 + len(entries)
    metadata_header = struct.pack("<IIII", metadata_size, 1, 48, metadata_size) + volume_id
    metadata_header += struct.pack("<IHHQ", 4, BDE_AES_128_DIFFUSER, BDE_AES_128_DIFFUSER, filetime)
    block_header = bytearray(64)
    block_header[0:8] = b"-FVE-FS-"
    struct.pack_into("<HHHH", block_header, 8, 64, 2, 4, 1)
    struct.pack_into("<QII", block_header, 16, size, 0, 16)
    struct.pack_into("<QQQQ", block_header, 32, *metadata_offsets, 4 * MiB)
    block = bytes(block_header) + metadata_header + entries
    for offset in metadata_offsets:
        blob[offset : offset + len(block)] = block

    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(blob)
    return dest


# Broken input -------------------------------------------------------------------------------------------


def truncated(image: Path, dest: Path, keep_fraction: float = 0.5) -> Path:
    """The first int(size * keep_fraction) bytes of `image` (not rounded to sectors)."""
    if not 0 <= keep_fraction <= 1:
        raise ValueError("keep_fraction is between 0 and 1")
    keep = int(image.stat().st_size * keep_fraction)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with image.open("rb") as src, dest.open("wb") as out:
        out.write(src.read(keep))
    return dest


def garbage_partition_table(dest: Path, size_mb: int = 1) -> Path:
    """A `size_mb` disk whose MBR has the 55AA signature and four nonsense entries: one starting past
    the end of the disk, one running past it, one overlapping it with a bad status byte, one with a
    zero size. The rest of the disk is zeros."""
    sectors = size_mb * MiB // SECTOR
    mbr = bytearray(512)
    struct.pack_into("<I", mbr, 440, 0xDEADBEEF)
    entries = [
        (0x80, 0x83, sectors * 10, 2048),  # starts past the end
        (0x00, 0x07, 2048, sectors * 100),  # runs past the end
        (0x7F, 0x0C, 1024, 4096),  # invalid status byte, overlaps the previous one
        (0x00, 0xEE, 4096, 0),  # empty
    ]
    for index, (status, kind, start, count) in enumerate(entries):
        entry = 446 + 16 * index
        mbr[entry] = status
        mbr[entry + 1 : entry + 4] = b"\xfe\xff\xff"
        mbr[entry + 4] = kind
        mbr[entry + 5 : entry + 8] = b"\xfe\xff\xff"
        struct.pack_into("<II", mbr, entry + 8, start, count)
    mbr[510:512] = b"\x55\xaa"
    _blank(dest, size_mb * MiB)
    with dest.open("r+b") as out:
        out.write(mbr)
    return dest


def zero_bytes(dest: Path) -> Path:
    """An empty file."""
    return _blank(dest, 0)


def noise(dest: Path, size_kb: int = 1024, seed: int = 1) -> Path:
    """Pseudo-random bytes with no structure: an image of nothing any scanner knows."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(
        np.random.default_rng(seed).integers(0, 256, size=size_kb * 1024, dtype=np.uint8).tobytes()
    )
    return dest
