"""Reading a file of an ext, FAT, ISO9660 or NTFS file system straight from its volume, run by run.

The Sleuth Kit reads a file in a disk image through dfVFS's Python image adapter, a call back into Python
for every small read it makes: about 5 times slower than the bytes can come (measured in
docs/performance.md). Where TSK's data runs are the whole truth about a file's bytes, the runs are taken
from TSK once and the volume is read in large pieces instead; sparse runs (and ext4's unwritten extents,
which TSK reports as sparse) read as zeros, as TSK reads them.

NTFS keeps an initialised size ("valid data length") below which the bytes are real and past which TSK
returns zeros; pytsk3 does not expose it, so it is read from the file's own MFT record here, and a file
is read this way only when all its bytes are initialised and its $DATA lives in that one record.

Not read this way, so TSK reads them: exFAT (its valid data length is likewise hidden), resident data
(small files kept in the metadata), compressed or encrypted attributes, NTFS files whose attributes spill
into other records, and anything whose runs do not cover the file exactly.
"""

from __future__ import annotations

import bisect
import io
import struct
from dataclasses import dataclass
from typing import Any

import pytsk3

# File systems whose runs map every byte of a file (no initialised-size cut-off, no compression).
_DIRECT = frozenset(
    int(getattr(pytsk3, name))
    for name in (
        "TSK_FS_TYPE_EXT2", "TSK_FS_TYPE_EXT3", "TSK_FS_TYPE_EXT4", "TSK_FS_TYPE_FAT12", "TSK_FS_TYPE_FAT16",
        "TSK_FS_TYPE_FAT32", "TSK_FS_TYPE_ISO9660",
    )
)  # fmt: skip
_NTFS = int(pytsk3.TSK_FS_TYPE_NTFS)
_DATA_TYPES = (int(pytsk3.TSK_FS_ATTR_TYPE_DEFAULT), int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA))
_NOT_PLAIN = int(pytsk3.TSK_FS_ATTR_COMP) | int(pytsk3.TSK_FS_ATTR_ENC) | int(pytsk3.TSK_FS_ATTR_RES)
_ZEROS = int(pytsk3.TSK_FS_ATTR_RUN_FLAG_SPARSE) | int(pytsk3.TSK_FS_ATTR_RUN_FLAG_FILLER)
_ENCRYPTED_RUN = int(pytsk3.TSK_FS_ATTR_RUN_FLAG_ENCRYPTED)


@dataclass(frozen=True)
class Run:
    start: int  # byte offset in the file
    length: int
    volume_offset: int | None  # None: reads as zeros


def direct_runs(fs_info: Any, inode: int) -> tuple[int, list[Run]] | None:
    """(file size, runs) when the file can be read straight from the volume, else None."""
    ftype = int(fs_info.info.ftype)
    if ftype not in _DIRECT and ftype != _NTFS:
        return None
    block = int(fs_info.info.block_size)
    tsk_file = fs_info.open_meta(inode=inode)
    size = int(tsk_file.info.meta.size)
    # NTFS: the unnamed $DATA only (named ones are alternate data streams).
    attributes = [a for a in tsk_file if int(a.info.type) in _DATA_TYPES and not a.info.name]
    if len(attributes) != 1:
        return None
    if ftype == _NTFS:
        initialised = ntfs_initialised_size(fs_info, inode)
        if initialised is None or initialised < size:
            return None
    attribute = attributes[0]
    if int(attribute.info.flags) & _NOT_PLAIN or not int(attribute.info.flags) & int(
        pytsk3.TSK_FS_ATTR_NONRES
    ):
        return None
    runs: list[Run] = []
    position = 0
    for run in attribute:
        flags = int(run.flags)
        if flags & _ENCRYPTED_RUN:
            return None
        start, length = int(run.offset) * block, int(run.len) * block
        if start != position:
            return None  # a gap TSK would fill in its own way
        volume_offset = None if flags & _ZEROS else int(run.addr) * block
        runs.append(Run(start, length, volume_offset))
        position += length
    if position < size:
        return None
    return size, runs


_MFT_ENTRY, _BOOT_ENTRY = 0, 7
_END_OF_ATTRIBUTES = 0xFFFFFFFF
_ATTRIBUTE_LIST, _DATA = 0x20, 0x80


def ntfs_initialised_size(fs_info: Any, inode: int) -> int | None:
    """The initialised size of a file's unnamed $DATA, from its MFT record; None when it cannot be told
    from that one record (resident data, an attribute list, a damaged record)."""
    try:
        boot = bytes(fs_info.open_meta(inode=_BOOT_ENTRY).read_random(0, 512))
        sector, per_cluster = struct.unpack_from("<HB", boot, 0x0B)
        (raw,) = struct.unpack_from("<b", boot, 0x40)
        record_size = 2 ** (-raw) if raw < 0 else raw * sector * per_cluster
        if not 256 <= record_size <= 65536:
            return None
        record = bytearray(fs_info.open_meta(inode=_MFT_ENTRY).read_random(inode * record_size, record_size))
    except (OSError, struct.error):
        return None
    if len(record) != record_size or record[:4] != b"FILE" or not _apply_fixups(record, sector):
        return None
    (offset,) = struct.unpack_from("<H", record, 0x14)
    while offset + 16 <= record_size:
        kind, length = struct.unpack_from("<II", record, offset)
        if kind == _END_OF_ATTRIBUTES or length < 16 or offset + length > record_size:
            return None
        if kind == _ATTRIBUTE_LIST:
            return None  # $DATA may continue in another record
        if kind == _DATA and record[offset + 9] == 0:  # unnamed
            if not record[offset + 8] or length < 0x40:  # resident
                return None
            first_vcn, _last, _runs, _unit = struct.unpack_from("<QQHH", record, offset + 0x10)
            if first_vcn != 0:
                return None
            (initialised,) = struct.unpack_from("<Q", record, offset + 0x38)
            return int(initialised)
        offset += length
    return None


def _apply_fixups(record: bytearray, sector: int) -> bool:
    """Puts back the last two bytes of each sector, which NTFS swaps for an update sequence number."""
    usa_offset, usa_count = struct.unpack_from("<HH", record, 4)
    if usa_count < 1 or usa_offset + 2 * usa_count > len(record):
        return False
    number = record[usa_offset : usa_offset + 2]
    for index in range(1, usa_count):
        end = index * sector - 2
        if end + 2 > len(record) or record[end : end + 2] != number:
            return False
        record[end : end + 2] = record[usa_offset + 2 * index : usa_offset + 2 * index + 2]
    return True


class PositionedReader(io.RawIOBase):
    """A seekable binary stream of `size` bytes that keeps its own position: the files of a disk image
    share cached dfVFS objects, so every read says where it starts. Subclasses give `read`."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self._size = size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence == io.SEEK_END:
            offset += self._size
        if offset < 0:
            raise OSError("negative seek position")
        self._position = offset
        return offset

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)


class RunReader(PositionedReader):
    """The bytes of a file, read from its volume (a dfVFS file object) along its runs."""

    def __init__(self, volume: Any, size: int, runs: list[Run]) -> None:
        super().__init__(size)
        self._volume = volume
        self._runs = runs
        self._starts = [run.start for run in runs]

    def read(self, size: int | None = -1) -> bytes:
        end = self._size if size is None or size < 0 else min(self._size, self._position + size)
        pieces: list[bytes] = []
        while self._position < end:
            index = bisect.bisect_right(self._starts, self._position) - 1
            run = self._runs[index]
            within = self._position - run.start
            count = min(end - self._position, run.length - within)
            if run.volume_offset is None:
                piece = bytes(count)
            else:
                self._volume.seek(run.volume_offset + within)
                piece = self._volume.read(count)
                if not piece:
                    raise OSError(f"the volume ended at byte {run.volume_offset + within} inside this file")
            pieces.append(piece)
            self._position += len(piece)
        return b"".join(pieces)
