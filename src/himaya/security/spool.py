"""A seekable scratch file for archive members that never holds picture bytes in the clear on disk.

Archives inside archives must be seekable to be read (a zip's directory sits at its end), so their bytes
are spooled. Small ones stay in memory. Past the memory limit everything moves into a temporary file
encrypted with AES-GCM under a key that exists only in this process's memory: once the process ends,
by exit or by crash, what is left on disk cannot be read by anyone.

The file is cut into fixed-size chunks, each sealed with its own nonce and tag, so a reader can seek
anywhere and decrypt only the chunk it needs. The last, partial chunk stays in memory until it fills.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from himaya.errors import HimayaError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

CHUNK_SIZE = 64 * 1024
_NONCE_SIZE = 12
_TAG_SIZE = 16
_RECORD_SIZE = _NONCE_SIZE + CHUNK_SIZE + _TAG_SIZE

_process_key: bytes | None = None


def _key() -> bytes:
    # One key per process, made on first use and never written anywhere.
    global _process_key
    if _process_key is None:
        _process_key = AESGCM.generate_key(bit_length=256)
    return _process_key


class SpoolIntegrityError(HimayaError):
    """A chunk of the encrypted temporary file did not decrypt: the file was changed underneath us."""


class EncryptedSpool(io.RawIOBase, BinaryIO):
    """Write everything first, then `seek(0)` and use it as a read-only, seekable binary file.

    Writes are append-only (an archive reader never writes); reads and seeks work anywhere, before or
    after the spool moved to disk. `directory` picks where the encrypted temporary file goes.
    """

    def __init__(self, memory_limit: int, *, directory: str | Path | None = None) -> None:
        super().__init__()
        self._disk: IO[bytes] | None = None
        self._memory: bytearray | None = bytearray()
        self._memory_limit = memory_limit
        self._directory = directory
        self._aead = AESGCM(_key())
        # Bound into every chunk's tag, so chunks cannot be swapped between spools or positions.
        self._spool_id = os.urandom(8)
        self._sealed_chunks = 0
        self._tail = bytearray()  # plaintext after the last sealed chunk; held in memory only
        self._size = 0
        self._position = 0
        self._cached: tuple[int, bytes] | None = None

    # -- state ---------------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self._size

    @property
    def on_disk(self) -> bool:
        """True once the spool outgrew its memory limit and moved to the encrypted temporary file."""
        return self._disk is not None

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        if self._disk is not None:
            self._disk.close()  # the temporary file has no name; closing it frees the blocks
            self._disk = None
        self._memory = None
        self._tail = bytearray()
        self._cached = None
        super().close()

    # -- writing -------------------------------------------------------------------------------------

    def write(self, data: ReadableBuffer) -> int:
        self._check_open()
        if self._position != self._size:
            raise io.UnsupportedOperation(
                "EncryptedSpool is append-only: write everything, then seek and read"
            )
        view = memoryview(data).cast("B")
        count = len(view)
        if self._memory is not None:
            if len(self._memory) + count <= self._memory_limit:
                self._memory += view
                self._size += count
                self._position = self._size
                return count
            self._move_to_disk()
        self._tail += view
        self._seal_full_chunks()
        self._size += count
        self._position = self._size
        return count

    def _move_to_disk(self) -> None:
        assert self._memory is not None
        # TemporaryFile has no name on Linux (O_TMPFILE) and is unlinked at once elsewhere, so the
        # operating system removes it when the process dies, whatever way it dies.
        self._disk = tempfile.TemporaryFile(dir=self._directory)  # noqa: SIM115 - closed in close()
        self._tail = self._memory
        self._memory = None

    def _seal_full_chunks(self) -> None:
        assert self._disk is not None
        while len(self._tail) >= CHUNK_SIZE:
            plain = bytes(self._tail[:CHUNK_SIZE])
            del self._tail[:CHUNK_SIZE]
            nonce = os.urandom(_NONCE_SIZE)
            sealed = self._aead.encrypt(nonce, plain, self._aad(self._sealed_chunks))
            self._disk.seek(self._sealed_chunks * _RECORD_SIZE)
            self._disk.write(nonce + sealed)
            self._sealed_chunks += 1

    def _aad(self, index: int) -> bytes:
        return self._spool_id + index.to_bytes(8, "big")

    # -- reading -------------------------------------------------------------------------------------

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._position + offset
        elif whence == io.SEEK_END:
            target = self._size + offset
        else:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        self._position = target
        return target

    def tell(self) -> int:
        self._check_open()
        return self._position

    def readinto(self, buffer: WriteableBuffer) -> int:
        # Fills the whole buffer unless the end comes first: zipfile and tarfile treat a short read of a
        # header as a truncated archive, so a raw-style partial read would break them.
        self._check_open()
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and self._position < self._size:
            piece = self._read_at(self._position, len(view) - filled)
            view[filled : filled + len(piece)] = piece
            filled += len(piece)
            self._position += len(piece)
        return filled

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        if size is None or size < 0:
            size = max(0, self._size - self._position)
        buffer = bytearray(min(size, max(0, self._size - self._position)))
        count = self.readinto(buffer)
        return bytes(buffer[:count])

    def readall(self) -> bytes:
        return self.read(-1)

    def _read_at(self, position: int, limit: int) -> bytes:
        """Up to `limit` bytes from `position`, never crossing a chunk boundary."""
        if self._memory is not None:
            return bytes(self._memory[position : position + limit])
        index, offset = divmod(position, CHUNK_SIZE)
        chunk = self._chunk(index)
        return chunk[offset : offset + limit]

    def _chunk(self, index: int) -> bytes:
        if index >= self._sealed_chunks:
            return bytes(self._tail)
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        assert self._disk is not None
        self._disk.seek(index * _RECORD_SIZE)
        record = self._disk.read(_RECORD_SIZE)
        try:
            plain = self._aead.decrypt(record[:_NONCE_SIZE], record[_NONCE_SIZE:], self._aad(index))
        except InvalidTag:
            raise SpoolIntegrityError(
                f"encrypted spool chunk {index} failed its integrity check: the temporary file was changed "
                "or damaged on disk; check the temporary folder's disk and re-run the scan"
            ) from None
        self._cached = (index, plain)
        return plain

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on a closed EncryptedSpool")


def spool_stream(
    source: IO[bytes], memory_limit: int, *, directory: str | Path | None = None
) -> EncryptedSpool:
    """Copy `source` to the end into a new spool and rewind it, ready for an archive reader."""
    spool = EncryptedSpool(memory_limit, directory=directory)
    try:
        shutil.copyfileobj(source, spool, CHUNK_SIZE)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool
