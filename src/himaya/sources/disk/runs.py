"""Reading a file of an ext or FAT file system straight from its volume, run by run.

The Sleuth Kit reads a file in a disk image through dfVFS's Python image adapter, a call back into Python
for every small read it makes: about 5 times slower than the bytes can come (measured in
docs/performance.md). Where TSK's data runs are the whole truth about a file's bytes, the runs are taken
from TSK once and the volume is read in large pieces instead; sparse runs (and ext4's unwritten extents,
which TSK reports as sparse) read as zeros, as TSK reads them.

Not read this way, so TSK reads them: NTFS and exFAT (a run may extend past the file's initialised size,
whose bytes TSK returns as zeros and pytsk3 does not expose), resident data (small files kept in the
metadata), compressed or encrypted attributes, and anything whose runs do not cover the file exactly.
"""

from __future__ import annotations

import bisect
import io
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
_DATA_TYPES = (int(pytsk3.TSK_FS_ATTR_TYPE_DEFAULT),)
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
    if int(fs_info.info.ftype) not in _DIRECT:
        return None
    block = int(fs_info.info.block_size)
    tsk_file = fs_info.open_meta(inode=inode)
    size = int(tsk_file.info.meta.size)
    attributes = [a for a in tsk_file if int(a.info.type) in _DATA_TYPES]
    if len(attributes) != 1:
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
