"""Carve JPEG, PNG and GIF pictures out of the unallocated space of a file system.

Two halves, usable apart:

* `unallocated_ranges(volume)`: the byte ranges, relative to the start of the file system's volume,
  that the file system does not allocate. pytsk3 opens the file system (so only what The Sleuth Kit
  recognises is carved) and gives its type; the ranges then come from the file system's own allocation
  structures, read directly, because pytsk3 has no block walk. Supported: FAT12/16/32 (the first FAT),
  ext2/3/4 (the block bitmaps) and NTFS (the $Bitmap file, read through TSK). Anything else gives None:
  the caller skips carving.
* `carve(read_at, ranges)`: header/footer carving in streaming chunks. A candidate is kept only when its
  structure walks from the header to its end (JPEG segments and scans up to EOI, PNG chunks with their
  CRCs up to IEND, GIF blocks up to the trailer) within `max_size` and within its range.

Exactness of the ranges, checked by the tests against `blkls` (The Sleuth Kit) and `dumpe2fs`:

* FAT: a sector is unallocated when it lies in the cluster area and its cluster's FAT entry is 0, or in
  the sectors after the last whole cluster. Boot sector, reserved sectors, FATs and the FAT12/16 root
  directory are never returned. Like TSK, an entry pointing past the last cluster (neither end-of-chain
  nor bad) counts as free. Same sectors as `blkls -A`.
* NTFS: a cluster is unallocated when its bit in $Bitmap (least significant bit first) is 0. Same
  clusters as `blkls -A`.
* ext: a block is unallocated when its bit in its group's block bitmap is 0. A group flagged
  BLOCK_UNINIT (ext4 with group checksums) has no bitmap written on disk; as in the kernel and e2fsprogs
  it is derived instead: in use are the group's superblock backup, group descriptors and reserved GDT
  blocks, and the bitmaps and inode table of each BLOCK_UNINIT group (wherever flex_bg put them). Same
  blocks as `dumpe2fs`. TSK reads whatever the unwritten bitmap block holds, so `blkls` can list those
  reserved blocks as free too; and TSK reads meta_bg descriptors from the wrong place, which this
  module does not (meta_bg is followed as e2fsprogs does). bigalloc is not supported (None).

Ranges are clipped to the volume's size (a truncated image) and never include what lies after the end of
the file system in its volume. An ext file system whose journal still needs replaying (an unclean
shutdown) is read as it is on disk.

Carving limits: a picture is carved only when it is contiguous inside one unallocated range (a fragmented
deleted file, or one whose clusters were partly reused, is not recovered), and only when its structure
is whole: a JPEG with a damaged tail is dropped (its EXIF thumbnail, when still whole, is carved on its
own). Carved pictures never overlap: the search resumes after a carved picture's end.
"""

from __future__ import annotations

import os
import re
import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import pytsk3

__all__ = [
    "Carved",
    "TskImage",
    "Volume",
    "carve",
    "carve_file",
    "carved_name",
    "unallocated_ranges",
    "volume_reader",
]

ReadAt = Callable[[int, int], bytes]
Kind = Literal["jpeg", "png", "gif"]

DEFAULT_MAX_SIZE = 32 * 1024 * 1024
DEFAULT_CHUNK = 4 * 1024 * 1024
_MIN_CHUNK = 16


class Volume(Protocol):
    """What a dfVFS file object offers (`get_size` is optional for `TskImage`: seek to the end instead)."""

    def read(self, size: int, /) -> bytes: ...

    def seek(self, offset: int, whence: int = ..., /) -> object: ...


@dataclass(frozen=True, slots=True)
class Carved:
    """A picture found at `offset` (bytes from the start of the volume), `length` bytes long."""

    offset: int
    length: int
    kind: Kind
    ext: str  # without the dot: "jpg", "png", "gif"


_EXT: dict[str, str] = {"jpeg": "jpg", "png": "png", "gif": "gif"}


def carved_name(c: Carved) -> str:
    """`carved-000012345678.jpg`: the offset zero-padded to 12 digits, so names sort by place."""
    return f"carved-{c.offset:012d}.{c.ext}"


# Reading ----------------------------------------------------------------------------------------------


def _volume_size(volume: Volume) -> int:
    get_size = getattr(volume, "get_size", None)
    if callable(get_size):
        return int(get_size())
    volume.seek(0, os.SEEK_END)
    return int(volume.tell())  # type: ignore[attr-defined]  # plain Python files: no get_size()


def volume_reader(volume: Volume) -> ReadAt:
    """`read_at(offset, size)` over a seek/read object; safe to share between threads as long as nothing
    else moves the object's position meanwhile."""
    lock = threading.Lock()

    def read_at(offset: int, size: int) -> bytes:
        with lock:
            volume.seek(offset, os.SEEK_SET)
            return bytes(volume.read(size))

    return read_at


class TskImage(pytsk3.Img_Info):  # type: ignore[misc]  # pytsk3 has no type information
    """A pytsk3 image reading through any object with `read(size)`, `seek(offset)` (and `get_size()`)."""

    def __init__(self, volume: Volume, sector_size: int = 512) -> None:
        self._volume: Volume | None = volume
        self._size = _volume_size(volume)
        self._read_at = volume_reader(volume)
        external = getattr(pytsk3, "TSK_IMG_TYPE_EXTERNAL", pytsk3.TSK_IMG_TYPE_RAW)
        super().__init__(url="", type=external, sector_size=sector_size)

    def close(self) -> None:
        self._volume = None

    def read(self, offset: int, size: int) -> bytes:
        if self._volume is None or offset >= self._size or size <= 0:
            return b""
        return self._read_at(offset, min(size, self._size - offset))

    def get_size(self) -> int:
        return self._size


# Unallocated ranges -----------------------------------------------------------------------------------


class _Unsupported(Exception):
    """The file system's layout is one this module does not read (or does not agree with TSK's)."""


_FAT_TYPES = {
    int(pytsk3.TSK_FS_TYPE_FAT12): 12,
    int(pytsk3.TSK_FS_TYPE_FAT16): 16,
    int(pytsk3.TSK_FS_TYPE_FAT32): 32,
}
_EXT_TYPES = {int(pytsk3.TSK_FS_TYPE_EXT2), int(pytsk3.TSK_FS_TYPE_EXT3), int(pytsk3.TSK_FS_TYPE_EXT4)}


def unallocated_ranges(volume: Volume | pytsk3.Img_Info) -> list[tuple[int, int]] | None:
    """Sorted, disjoint, non-adjacent `(offset, length)` byte ranges the file system does not allocate.

    `volume` holds the file system at offset 0: a `pytsk3.Img_Info` (`TskImage` or dfVFS's own adapter),
    or an object `TskImage` can wrap. None when no supported file system is there (see the module doc).
    """
    image = volume if isinstance(volume, pytsk3.Img_Info) else TskImage(volume)
    try:
        fs = pytsk3.FS_Info(image)
    except OSError:
        return None
    info = fs.info
    ftype = int(info.ftype)
    size = int(image.get_size())

    def read_at(offset: int, length: int) -> bytes:
        data = bytes(image.read(offset, length)) if length > 0 else b""
        if len(data) != length:
            raise _Unsupported(f"short read of file system structures at {offset}")
        return data

    try:
        if ftype in _FAT_TYPES:
            runs, unit = _fat_free_runs(
                read_at, _FAT_TYPES[ftype], int(info.block_size), int(info.block_count)
            )
        elif ftype in _EXT_TYPES:
            runs, unit = _ext_free_runs(read_at, int(info.block_size), int(info.block_count))
        elif ftype == _NTFS:
            runs, unit = _ntfs_free_runs(fs, int(info.block_size), int(info.block_count))
        else:
            return None
    except _Unsupported:
        return None
    return _to_byte_ranges(runs, unit, size)


def _to_byte_ranges(runs: Iterable[tuple[int, int]], unit: int, size: int) -> list[tuple[int, int]]:
    """Runs of units (start, count), in order, to merged byte ranges clipped to `size`."""
    out: list[tuple[int, int]] = []
    for start, count in runs:
        begin, end = start * unit, min((start + count) * unit, size)
        if end <= begin:
            continue
        if out and out[-1][0] + out[-1][1] >= begin:
            prev = out[-1][0]
            out[-1] = (prev, max(out[-1][1], end - prev))
        else:
            out.append((begin, end - begin))
    return out


def _runs_of_true(mask: np.ndarray, first: int) -> list[tuple[int, int]]:
    """(first + index, count) of every run of True in a 1-D boolean array."""
    if not mask.size:
        return []
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return [(first + int(s), int(e - s)) for s, e in zip(starts, ends, strict=True)]


def _merge_runs(runs: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, count in sorted(runs):
        if out and out[-1][0] + out[-1][1] >= start:
            prev = out[-1][0]
            out[-1] = (prev, max(out[-1][1], start + count - prev))
        elif count > 0:
            out.append((start, count))
    return out


def _subtract_runs(runs: list[tuple[int, int]], used: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`runs` minus `used` (both sorted and merged)."""
    out: list[tuple[int, int]] = []
    j = 0
    for start, count in runs:
        pos, end = start, start + count
        while j < len(used) and used[j][0] + used[j][1] <= pos:
            j += 1
        k = j
        while pos < end and k < len(used) and used[k][0] < end:
            u_start, u_end = used[k][0], used[k][0] + used[k][1]
            if u_start > pos:
                out.append((pos, u_start - pos))
            pos = max(pos, u_end)
            k += 1
        if pos < end:
            out.append((pos, end - pos))
    return out


# NTFS: clusters are the unit; the $Bitmap file (MFT entry 6) has one bit per cluster, least significant
# bit first, set when the cluster is in use.

_NTFS = int(pytsk3.TSK_FS_TYPE_NTFS)
_NTFS_BITMAP_ENTRY = 6
_NTFS_PIECE_BYTES = 8 * 1024 * 1024  # a volume of 256 GiB in 4 KiB clusters has this much bitmap


def _ntfs_free_runs(fs: pytsk3.FS_Info, cluster: int, clusters: int) -> tuple[list[tuple[int, int]], int]:
    try:
        bitmap = fs.open_meta(inode=_NTFS_BITMAP_ENTRY)
    except OSError as exc:
        raise _Unsupported(f"NTFS $Bitmap cannot be opened: {exc}") from exc
    size = int(bitmap.info.meta.size)
    if size * 8 < clusters:
        raise _Unsupported("NTFS $Bitmap is shorter than the volume")
    runs: list[tuple[int, int]] = []
    for offset in range(0, (clusters + 7) // 8, _NTFS_PIECE_BYTES):
        want = min(_NTFS_PIECE_BYTES, (clusters + 7) // 8 - offset)
        data = bytes(bitmap.read_random(offset, want))
        if len(data) != want:
            raise _Unsupported("NTFS $Bitmap could not be read whole")
        used = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
        first = offset * 8
        free = ~used[: max(0, min(used.size, clusters - first))].astype(bool)
        runs += _runs_of_true(free, first)
    return _merge_runs(runs), cluster


# FAT12/16/32: sectors are the unit, like TSK's blocks.

_FAT_PIECE_ENTRIES = 1 << 20  # entries decoded at a time: a FAT32 of 256 MiB is never read whole


def _fat_free_runs(
    read_at: ReadAt, bits: int, tsk_sector: int, tsk_sectors: int
) -> tuple[list[tuple[int, int]], int]:
    boot = read_at(0, 512)
    if boot[510:512] == b"\x00\x00":
        boot = read_at(6 * 512, 512)  # TSK falls back on FAT32's backup boot sector
    ssize, csize, reserved, numfat, numroot, sectors16 = struct.unpack_from("<HBHBHH", boot, 11)
    (fat16_size,) = struct.unpack_from("<H", boot, 22)
    sectors32, fat32_size = struct.unpack_from("<II", boot, 32)
    sectors = sectors16 or sectors32
    sect_per_fat = fat16_size or fat32_size
    if (
        ssize != tsk_sector
        or sectors != tsk_sectors
        or (bits == 32) != (fat16_size == 0)  # TSK types FAT by cluster count, the BPB must agree
        or csize == 0
        or csize & (csize - 1)
        or numfat == 0
        or sect_per_fat == 0
        or reserved == 0
    ):
        raise _Unsupported("FAT boot sector does not match TSK's reading")
    first_data = reserved + sect_per_fat * numfat
    first_cluster_sect = first_data + (numroot * 32 + ssize - 1) // ssize
    if first_cluster_sect > sectors:
        raise _Unsupported("FAT data area past the end")
    cluster_count = (sectors - first_cluster_sect) // csize
    last_cluster = 1 + cluster_count
    mask = {12: 0xFFF, 16: 0xFFFF, 32: 0x0FFFFFFF}[bits]
    end_of_valid = 0x0FFFFFF7 & mask  # bad-cluster marker; values from here on are bad or end of chain
    entries_in_fat = sect_per_fat * ssize * 8 // bits
    last_entry = min(last_cluster, entries_in_fat - 1)  # clusters the FAT has no entry for stay "in use"
    fat_offset = reserved * ssize

    runs: list[tuple[int, int]] = []
    first = 2
    while first <= last_entry:
        stop = min(last_entry + 1, first + _FAT_PIECE_ENTRIES)  # entries [first, stop)
        values = _fat_entries(read_at, fat_offset, bits, first, stop) & mask
        # TSK reads an entry pointing past the last cluster (neither bad nor end of chain) as free.
        free = (values == 0) | ((values > last_cluster) & (values < end_of_valid))
        for cluster, count in _runs_of_true(free, first):
            runs.append((first_cluster_sect + (cluster - 2) * csize, count * csize))
        first = stop
    tail = first_cluster_sect + cluster_count * csize
    if tail < sectors:
        runs.append((tail, sectors - tail))  # sectors after the last whole cluster
    return _merge_runs(runs), ssize


def _fat_entries(read_at: ReadAt, fat_offset: int, bits: int, first: int, stop: int) -> np.ndarray:
    """FAT entries [first, stop) as uint32 (first is even for FAT12, so pieces start on a byte)."""
    if bits == 12:
        begin = first * 3 // 2
        count = stop - first
        raw = read_at(fat_offset + begin, (count * 3 + 1) // 2)
        raw += b"\x00" * (-len(raw) % 3)
        triples = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.uint32)
        even = triples[:, 0] | ((triples[:, 1] & 0x0F) << 8)
        odd = (triples[:, 1] >> 4) | (triples[:, 2] << 4)
        values = np.empty(triples.shape[0] * 2, dtype=np.uint32)
        values[0::2], values[1::2] = even, odd
        return values[:count]
    width = bits // 8
    raw = read_at(fat_offset + first * width, (stop - first) * width)
    return np.frombuffer(raw, dtype="<u2" if bits == 16 else "<u4").astype(np.uint32)


# ext2/3/4: blocks are the unit.

_EXT_MAGIC = 0xEF53
_COMPAT_SPARSE_SUPER2 = 0x200
_INCOMPAT_META_BG = 0x10
_INCOMPAT_64BIT = 0x80
_RO_COMPAT_SPARSE_SUPER = 0x1
_RO_COMPAT_GDT_CSUM = 0x10
_RO_COMPAT_BIGALLOC = 0x200
_RO_COMPAT_METADATA_CSUM = 0x400
_BG_BLOCK_UNINIT = 0x2


@dataclass(frozen=True)
class _ExtLayout:
    block_size: int
    blocks: int
    first_data_block: int
    per_group: int
    groups: int
    desc_size: int
    desc_per_block: int
    desc_blocks: int
    reserved_gdt: int
    first_meta_bg: int
    meta_bg: bool
    sparse_super: bool
    sparse_super2: bool
    backup_groups: tuple[int, int]
    wide: bool  # 64-bit descriptors
    uninit_flags: bool  # group checksums make BLOCK_UNINIT meaningful
    inode_table_blocks: int

    def group_first(self, group: int) -> int:
        return self.first_data_block + group * self.per_group

    def group_blocks(self, group: int) -> int:
        return min(self.per_group, self.blocks - self.group_first(group))

    def has_super(self, group: int) -> bool:
        if group == 0:
            return True
        if self.sparse_super2:
            return group in self.backup_groups
        if group <= 1 or not self.sparse_super:
            return True
        if not group & 1:
            return False
        return any(_is_power(group, base) for base in (3, 5, 7))

    def desc_block(self, index: int) -> int:
        """Where descriptor block `index` lives (e2fsprogs' ext2fs_descriptor_block_loc2)."""
        if not self.meta_bg or index < self.first_meta_bg:
            return self.first_data_block + 1 + index
        group = index * self.desc_per_block
        return self.group_first(group) + int(self.has_super(group))

    def reserved_super_and_descriptors(self, group: int) -> list[tuple[int, int]]:
        """Blocks of `group` holding a superblock copy and descriptors (ext2fs_reserve_super_and_bgd)."""
        start = self.group_first(group)
        if start == 0 and self.block_size == 1024:
            start = 1
        used: list[tuple[int, int]] = []
        has_super = self.has_super(group)
        if has_super:
            used.append((start, 1))
        old_desc_blocks = self.first_meta_bg if self.meta_bg else self.desc_blocks + self.reserved_gdt
        meta_group = group // self.desc_per_block
        if not self.meta_bg or meta_group < self.first_meta_bg:
            if has_super:
                count = min(old_desc_blocks, self.blocks - (start + 1))
                used.append((start + 1, count))
        elif group % self.desc_per_block in (0, 1, self.desc_per_block - 1):
            used.append((start + int(has_super), 1))
        return used


def _is_power(value: int, base: int) -> bool:
    power = base
    while power < value:
        power *= base
    return power == value


def _ext_layout(read_at: ReadAt, tsk_block_size: int, tsk_blocks: int) -> _ExtLayout:
    sb = read_at(1024, 1024)

    def u16(offset: int) -> int:
        return int.from_bytes(sb[offset : offset + 2], "little")

    def u32(offset: int) -> int:
        return int.from_bytes(sb[offset : offset + 4], "little")

    if u16(0x38) != _EXT_MAGIC or u32(0x18) > 6:
        raise _Unsupported("not an ext superblock")
    block_size = 1024 << u32(0x18)
    compat, incompat, ro_compat = u32(0x5C), u32(0x60), u32(0x64)
    if ro_compat & _RO_COMPAT_BIGALLOC:
        raise _Unsupported("ext bigalloc (bitmaps count clusters)")
    wide = bool(incompat & _INCOMPAT_64BIT)
    blocks = u32(0x04) | ((u32(0x150) << 32) if wide else 0)
    desc_size = u16(0xFE) if wide else 32
    per_group = u32(0x20)
    first_data_block = u32(0x14)
    inodes_per_group = u32(0x28)
    inode_size = u16(0x58) if u32(0x4C) >= 1 else 128
    if (
        block_size != tsk_block_size
        or blocks != tsk_blocks
        or not 0 < per_group <= block_size * 8
        or desc_size < 32
        or desc_size > block_size
        or desc_size & (desc_size - 1)
        or first_data_block >= blocks
        or inode_size == 0
    ):
        raise _Unsupported("ext superblock does not match TSK's reading")
    groups = (blocks - first_data_block + per_group - 1) // per_group
    desc_per_block = block_size // desc_size
    return _ExtLayout(
        block_size=block_size,
        blocks=blocks,
        first_data_block=first_data_block,
        per_group=per_group,
        groups=groups,
        desc_size=desc_size,
        desc_per_block=desc_per_block,
        desc_blocks=(groups + desc_per_block - 1) // desc_per_block,
        reserved_gdt=u16(0xCE),
        first_meta_bg=u32(0x104),
        meta_bg=bool(incompat & _INCOMPAT_META_BG),
        sparse_super=bool(ro_compat & _RO_COMPAT_SPARSE_SUPER),
        sparse_super2=bool(compat & _COMPAT_SPARSE_SUPER2),
        backup_groups=(u32(0x24C), u32(0x250)),
        wide=wide and desc_size >= 64,
        uninit_flags=bool(ro_compat & (_RO_COMPAT_GDT_CSUM | _RO_COMPAT_METADATA_CSUM)),
        inode_table_blocks=(inodes_per_group * inode_size + block_size - 1) // block_size,
    )


def _ext_free_runs(
    read_at: ReadAt, tsk_block_size: int, tsk_blocks: int
) -> tuple[list[tuple[int, int]], int]:
    lay = _ext_layout(read_at, tsk_block_size, tsk_blocks)
    bs = lay.block_size
    runs: list[tuple[int, int]] = []
    used: list[tuple[int, int]] = []  # in use although a BLOCK_UNINIT group's derived bitmap says free
    for index in range(lay.desc_blocks):
        table = read_at(lay.desc_block(index) * bs, bs)
        for slot in range(min(lay.desc_per_block, lay.groups - index * lay.desc_per_block)):
            group = index * lay.desc_per_block + slot
            desc = table[slot * lay.desc_size : (slot + 1) * lay.desc_size]
            block_bitmap, inode_bitmap, inode_table = struct.unpack_from("<III", desc, 0)
            (flags,) = struct.unpack_from("<H", desc, 0x12)
            if lay.wide:
                hi_block, hi_inode, hi_table = struct.unpack_from("<III", desc, 0x20)
                block_bitmap |= hi_block << 32
                inode_bitmap |= hi_inode << 32
                inode_table |= hi_table << 32
            first, count = lay.group_first(group), lay.group_blocks(group)
            if lay.uninit_flags and flags & _BG_BLOCK_UNINIT:
                group_used = lay.reserved_super_and_descriptors(group)
                runs.extend(_subtract_runs([(first, count)], _merge_runs(group_used)))
                own = [(inode_table, lay.inode_table_blocks), (block_bitmap, 1), (inode_bitmap, 1)]
                used.extend((block, n) for block, n in own if block)  # 0: not placed (as e2fsprogs reads it)
                continue
            if not lay.first_data_block <= block_bitmap < lay.blocks:
                raise _Unsupported(f"ext group {group}: block bitmap outside the file system")
            bits = np.unpackbits(
                np.frombuffer(read_at(block_bitmap * bs, bs), dtype=np.uint8), bitorder="little"
            )
            runs.extend(_runs_of_true(bits[:count] == 0, first))
    free = _merge_runs(runs)
    if used:
        free = _subtract_runs(free, _merge_runs(used))
    return free, bs


# Carving ----------------------------------------------------------------------------------------------


class _Window:
    """A read buffer over [base, base + len(buf)) of the volume, refilled on demand, never past `end`."""

    __slots__ = ("_chunk", "_read_at", "base", "buf", "end")

    def __init__(self, read_at: ReadAt, start: int, end: int, chunk: int) -> None:
        self._read_at = read_at
        self._chunk = chunk
        self.base = start
        self.buf = b""
        self.end = end

    def load(self, pos: int, need: int) -> int:
        """Index of `pos` in `buf`, which then holds [pos, pos + need) or up to `end`."""
        i = pos - self.base
        if 0 <= i <= len(self.buf) and (i + need <= len(self.buf) or self.base + len(self.buf) >= self.end):
            return i
        size = min(max(need, self._chunk), self.end - pos)
        data = self._read_at(pos, size) if size > 0 else b""
        if not isinstance(data, bytes):
            data = bytes(data)
        if len(data) < size:  # the volume ends (or cannot be read) here
            self.end = pos + len(data)
        self.base, self.buf = pos, data
        return 0

    def get(self, pos: int, n: int) -> bytes:
        i = self.load(pos, n)
        return self.buf[i : i + n]

    def search(self, pattern: re.Pattern[bytes], pos: int, limit: int, width: int) -> int:
        """Position of the first match (at most `width` bytes long) lying inside [pos, limit); -1 if none."""
        while pos < limit:
            i = self.load(pos, width)
            stop = min(len(self.buf), limit - self.base)
            if stop <= i:
                return -1
            m = pattern.search(self.buf, i, stop)
            if m:
                return self.base + m.start()
            if self.base + stop >= limit:
                return -1
            pos = max(pos + 1, self.base + stop - (width - 1))
        return -1


_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")  # ends entropy-coded data: not stuffing, RST, fill
_NOT_FF = re.compile(rb"[^\xff]")
# Markers that carry a length and may appear between SOI and EOI: SOFn/DHT/DAC, SOS..EXP, APPn, JPGn, COM.
_SEGMENT = frozenset(range(0xC0, 0xD0)) | frozenset(range(0xDA, 0xFF))
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_SOS = 0xDA
_EOI = 0xD9


def _jpeg_end(win: _Window, p: int, limit: int) -> int:
    q = p + 2
    seen_sof = seen_sos = False
    while q + 2 <= limit:
        head = win.get(q, 10)
        if len(head) < 2 or head[0] != 0xFF:
            return -1
        marker = head[1]
        if marker == 0xFF:  # fill bytes before a marker: skip the run at once (erased flash is all FF)
            nxt = win.search(_NOT_FF, q + 1, limit, 1)
            if nxt == -1:
                return -1
            q = nxt - 1
            continue
        if marker == _EOI:
            return q + 2 if seen_sos else -1
        if marker not in _SEGMENT or len(head) < 4:
            return -1
        length = (head[2] << 8) | head[3]
        if length < 2:
            return -1
        if marker in _SOF:
            if len(head) < 10:
                return -1
            width, components = (head[7] << 8) | head[8], head[9]
            if width == 0 or components == 0 or length != 8 + 3 * components:
                return -1
            seen_sof = True
        elif marker == _SOS and (
            not seen_sof or len(head) < 5 or not 1 <= head[4] <= 4 or length != 6 + 2 * head[4]
        ):
            return -1
        q += 2 + length
        if marker == _SOS:
            seen_sos = True
            q = win.search(_JPEG_MARKER, q, limit, 2)  # the entropy-coded data ends at the next marker
            if q == -1:
                return -1
    return -1


_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PNG_COLOUR_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}


def _png_end(win: _Window, p: int, limit: int, chunk: int) -> int:
    q = p + 8
    first, seen_idat = True, False
    while q + 12 <= limit:
        head = win.get(q, 8)
        if len(head) < 8:
            return -1
        length, ctype = struct.unpack(">I4s", head)
        end = q + 12 + length
        if length > 0x7FFFFFFF or not ctype.isalpha() or end > limit:
            return -1
        if first:
            ihdr = win.get(q + 8, 13)
            if ctype != b"IHDR" or length != 13 or len(ihdr) < 13:
                return -1
            width, height, depth, colour = struct.unpack_from(">IIBB", ihdr)
            if not width or not height or depth not in _PNG_COLOUR_DEPTHS.get(colour, ()):
                return -1
            first = False
        crc = zlib.crc32(ctype)
        pos, remaining = q + 8, length
        while remaining:
            i = win.load(pos, min(remaining, chunk))
            piece = memoryview(win.buf)[i : i + remaining]
            if not piece:
                return -1
            crc = zlib.crc32(piece, crc)
            pos += len(piece)
            remaining -= len(piece)
        stored = win.get(pos, 4)
        if len(stored) < 4 or struct.unpack(">I", stored)[0] != crc:
            return -1
        if ctype == b"IDAT":
            seen_idat = True
        elif ctype == b"IEND":
            return end if length == 0 and seen_idat else -1
        q = end
    return -1


_GIF_EXTENSIONS = frozenset({0x01, 0xF9, 0xFE, 0xFF})  # plain text, graphic control, comment, application


def _gif_sub_blocks_end(win: _Window, q: int, limit: int) -> int:
    """Position after the terminator of the data sub-blocks starting at q; -1 if not within limit."""
    while q < limit:
        i = win.load(q, 1)
        buf, base = win.buf, win.base
        if i >= len(buf):
            return -1
        stop = min(len(buf), limit - base)
        while i < stop:
            size = buf[i]
            if size == 0:
                return base + i + 1
            i += size + 1
        q = base + i
    return -1


def _gif_end(win: _Window, p: int, limit: int) -> int:
    head = win.get(p, 13)
    if len(head) < 13 or head[4:6] not in (b"7a", b"9a"):
        return -1
    width, height, packed = struct.unpack_from("<HHB", head, 6)
    if not width or not height:
        return -1
    q = p + 13 + ((3 << ((packed & 7) + 1)) if packed & 0x80 else 0)
    images = 0
    while q < limit:
        block = win.get(q, 11)
        if not block:
            return -1
        if block[0] == 0x3B:
            return q + 1 if images else -1
        if block[0] == 0x2C:
            if len(block) < 11:
                return -1
            w, h, packed = struct.unpack_from("<HHB", block, 5)
            if not w or not h:
                return -1
            q += 10 + ((3 << ((packed & 7) + 1)) if packed & 0x80 else 0)
            code_size = win.get(q, 1)
            if not code_size or not 1 <= code_size[0] <= 11:
                return -1
            q = _gif_sub_blocks_end(win, q + 1, limit)
            images += 1
        elif block[0] == 0x21 and len(block) >= 2 and block[1] in _GIF_EXTENSIONS:
            q = _gif_sub_blocks_end(win, q + 2, limit)
        else:
            return -1
        if q == -1:
            return -1
    return -1


_SIGNATURES: tuple[tuple[bytes, Kind], ...] = (
    (b"\xff\xd8\xff", "jpeg"),
    (_PNG_SIG, "png"),
    (b"GIF8", "gif"),
)
_LONGEST_SIGNATURE = max(len(sig) for sig, _ in _SIGNATURES)
_NO_HIT = 1 << 62


def carve(
    read_at: ReadAt,
    ranges: Iterable[tuple[int, int]],
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    chunk: int = DEFAULT_CHUNK,
) -> Iterator[Carved]:
    """The pictures lying whole inside `ranges` (offset, length), in order of offset, never overlapping.

    `read_at(offset, size)` returns the volume's bytes (fewer at its end). Ranges that overlap or touch
    are merged first, since they are contiguous on the volume. At most about two `chunk`s are held.
    """
    if chunk < _MIN_CHUNK:
        raise ValueError(f"chunk must be at least {_MIN_CHUNK} bytes")
    if max_size < 1:
        raise ValueError("max_size must be positive")
    merged = _merge_runs((int(start), int(length)) for start, length in ranges if length > 0 and start >= 0)
    for start, length in merged:
        yield from _carve_range(read_at, start, start + length, max_size, chunk)


def _carve_range(read_at: ReadAt, start: int, end: int, max_size: int, chunk: int) -> Iterator[Carved]:
    win = _Window(read_at, start, end, chunk)
    hits = [-1] * len(_SIGNATURES)  # per signature: next hit in `hits_buf` (index), or _NO_HIT
    hits_buf: bytes | None = None
    pos = start
    while pos < win.end:
        i = win.load(pos, _LONGEST_SIGNATURE)
        buf = win.buf
        if buf is not hits_buf:
            hits, hits_buf = [-1] * len(_SIGNATURES), buf
        best, kind = _NO_HIT, None
        for n, (sig, sig_kind) in enumerate(_SIGNATURES):
            if hits[n] < i:
                found = buf.find(sig, i)
                hits[n] = _NO_HIT if found == -1 else found
            if hits[n] < best:
                best, kind = hits[n], sig_kind
        if kind is None:
            if win.base + len(buf) >= win.end:
                return
            pos = max(pos + 1, win.base + len(buf) - (_LONGEST_SIGNATURE - 1))
            continue
        p = win.base + best
        limit = min(win.end, p + max_size)
        if kind == "jpeg":
            stop = _jpeg_end(win, p, limit)
        elif kind == "png":
            stop = _png_end(win, p, limit, chunk)
        else:
            stop = _gif_end(win, p, limit)
        if stop > p:
            yield Carved(p, stop - p, kind, _EXT[kind])
            pos = stop
        else:
            pos = p + 1


def carve_file(
    fileobj: Volume, *, max_size: int = DEFAULT_MAX_SIZE, chunk: int = DEFAULT_CHUNK
) -> Iterator[Carved]:
    """`carve` over a whole seekable stream (offsets from its start)."""
    size = _volume_size(fileobj)
    yield from carve(volume_reader(fileobj), [(0, size)], max_size=max_size, chunk=chunk)
