"""Encrypted 7z archives, which libarchive cannot decrypt, read with py7zr.

Password-protected 7z is a common way to pass material around, so it is worth the extra machinery:
py7zr pushes decompressed bytes into writer objects, while the pipeline pulls with `read()`. A thread
runs py7zr's extraction and hands each member's bytes across a small bounded queue, so members stream in
archive order with a few blocks in memory and nothing on disk.

py7zr is driven through its extraction worker (`SevenZipFile.worker`) rather than `extract()`, because
`extract()` refuses hostile member names outright and renames duplicates, which would lose members that
Himaya must still list and read.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any, BinaryIO

import py7zr
from py7zr.io import MemIO, Py7zIO, WriterFactory

from himaya.config import ArchiveLimits
from himaya.errors import HimayaError
from himaya.sources.archives.guard import (
    ArchiveReadError,
    Cursor,
    ExtractionBudget,
    RatioScope,
    metered,
    reading,
    refusal,
    stop_if_tripped,
)
from himaya.sources.archives.members import member_entry, stream_length
from himaya.sources.interface import FileEntry

# Items in flight between the extraction thread and the reader: enough to keep both busy.
_QUEUE_DEPTH = 8
_POLL_S = 0.1


def needs_password(fileobj: BinaryIO) -> bool:
    """True for a 7z whose content (or whose very listing) is encrypted. Leaves `fileobj` rewound."""
    fileobj.seek(0)
    try:
        with py7zr.SevenZipFile(fileobj) as archive:
            return bool(archive.needs_password())
    except py7zr.PasswordRequired:
        return True
    except Exception:  # damaged: libarchive will say what is wrong with it
        return False
    finally:
        fileobj.seek(0)


def iter_encrypted_7z(
    container: FileEntry,
    fileobj: BinaryIO,
    *,
    limits: ArchiveLimits,
    passwords: Sequence[str],
    budget: ExtractionBudget,
) -> Iterator[FileEntry]:
    archive = _open_with_password(fileobj, passwords)
    if archive is None:
        listing = _listing_without_password(fileobj)
        if listing is None:
            raise ArchiveReadError(f"7z archive with encrypted file names; {_password_hint(passwords)}")
        for index, info in listing.items():
            budget.take_member()
            yield _entry(container, index, info, None, [f"encrypted 7z member; {_password_hint(passwords)}"])
        return
    with archive:
        yield from _stream_members(container, archive, fileobj, limits, budget)


def _catalogue(archive: py7zr.SevenZipFile) -> dict[int, py7zr.FileInfo]:
    """Member index → listing, directories left out. `list()` is in the same order as the worker's ids."""
    return {
        f.id: info for f, info in zip(archive.files, archive.list(), strict=True) if not info.is_directory
    }


def _password_hint(passwords: Sequence[str]) -> str:
    if not passwords:
        tried = "no password was given"
    elif len(passwords) == 1:
        tried = "the given password did not open it"
    else:
        tried = f"none of {len(passwords)} given passwords opened it"
    return f"supply the password with --password-file or --password ({tried})"


def _open_with_password(fileobj: BinaryIO, passwords: Sequence[str]) -> py7zr.SevenZipFile | None:
    for password in passwords:
        fileobj.seek(0)
        archive = _try_open(fileobj, password)
        if archive is not None and _password_opens(archive):
            return archive
        if archive is not None:
            archive.close()
    return None


def _try_open(fileobj: BinaryIO, password: str) -> py7zr.SevenZipFile | None:
    try:
        return py7zr.SevenZipFile(fileobj, password=password)
    except Exception:  # a wrong key garbles an encrypted listing into any kind of parse error
        return None


def _password_opens(archive: py7zr.SevenZipFile) -> bool:
    """Decrypt and decompress the first block of the first non-empty member: garbage fails at once."""
    first = next((f for f in archive.files if not f.is_directory and f.uncompressed), None)
    if first is None:
        return True
    archive.reset()
    archive.worker.register_filelike(first.id, MemIO(str(first.id), _ProbeFactory()))
    try:
        archive.worker.extract(archive.fp, None, parallel=False)
    except _Enough:
        return True
    except Exception:
        return False
    return True


def _listing_without_password(fileobj: BinaryIO) -> dict[int, py7zr.FileInfo] | None:
    fileobj.seek(0)
    try:
        with py7zr.SevenZipFile(fileobj) as archive:
            return _catalogue(archive)
    except Exception:  # the listing itself is encrypted (or damaged)
        return None


def _entry(
    container: FileEntry, index: int, info: Any, opener: Any, problems: Sequence[str] = ()
) -> FileEntry:
    return member_entry(
        container,
        index,
        info.filename,
        size=info.uncompressed,
        compressed_size=None,
        mtime=info.creationtime,  # py7zr's name for the 7z "last write time", in UTC
        opener=opener,
        problems=problems,
    )


def _stream_members(
    container: FileEntry,
    archive: py7zr.SevenZipFile,
    fileobj: BinaryIO,
    limits: ArchiveLimits,
    budget: ExtractionBudget,
) -> Iterator[FileEntry]:
    files = _catalogue(archive)
    ratio = RatioScope(stream_length(fileobj))
    bridge = _Bridge()
    cursor = Cursor()
    archive.reset()
    for file_id in files:
        # The worker names each writer by the string given here: the member's id, never its stored name.
        archive.worker.register_filelike(file_id, MemIO(str(file_id), _BridgeFactory(bridge)))
    thread = threading.Thread(target=bridge.run, args=(archive,), name="himaya-7z", daemon=True)
    thread.start()
    try:
        while (index := bridge.next_member()) is not None:
            info = files[index]
            budget.take_member()
            problem = refusal(info.uncompressed, None, budget)
            cursor.position = index
            opener = None if problem else partial(_open, bridge, cursor, index, limits, budget, ratio)
            yield _entry(container, index, info, opener, [problem] if problem else [])
            cursor.position = -1
            # A tripped limit ends the archive here: skipping the rest would decompress it all anyway.
            stop_if_tripped(budget, ratio)
            bridge.skip_rest_of_member()
    finally:
        bridge.stop()
        thread.join()


def _open(
    bridge: _Bridge,
    cursor: Cursor,
    index: int,
    limits: ArchiveLimits,
    budget: ExtractionBudget,
    ratio: RatioScope,
) -> BinaryIO:
    cursor.require(index)
    return metered(_MemberStream(bridge), limits, budget, ratio, is_current=partial(cursor.at, index))


class _Enough(Exception):
    """Raised inside py7zr to stop the password probe once it has real output."""


class _Stopped(Exception):
    """Raised inside py7zr's thread when the reader went away, to end the extraction early."""


@dataclass
class _Bridge:
    """One member at a time, from py7zr's extraction thread to the reading side."""

    items: queue.Queue[tuple[str, Any]] = field(default_factory=lambda: queue.Queue(_QUEUE_DEPTH))
    stopping: threading.Event = field(default_factory=threading.Event)
    member_open: bool = False  # between a "begin" and its "end", as seen by the reading side
    failure: HimayaError | None = None

    # -- extraction thread ---------------------------------------------------------------------------

    def run(self, archive: Any) -> None:
        try:
            archive.worker.extract(archive.fp, None, parallel=False)
            self.put("done", None)
        except _Stopped:
            pass
        except Exception as exc:
            with suppress(_Stopped):
                self.put("error", exc)

    def put(self, kind: str, value: Any) -> None:
        while True:
            if self.stopping.is_set():
                raise _Stopped
            try:
                self.items.put((kind, value), timeout=_POLL_S)
                return
            except queue.Full:
                continue

    # -- reading side --------------------------------------------------------------------------------

    def take(self) -> tuple[str, Any]:
        if self.failure is not None:
            raise self.failure
        kind, value = self.items.get()
        if kind == "error":
            with reading("decrypting and decompressing the 7z archive"):
                raise value
        return kind, value

    def next_member(self) -> int | None:
        kind, value = self.take()
        if kind == "done":
            return None
        assert kind == "begin", kind
        self.member_open = True
        index: int = value
        return index

    def read_member(self) -> bytes:
        """The next block of the current member; b"" at its end."""
        if not self.member_open:
            return b""
        try:
            kind, value = self.take()
        except HimayaError as exc:
            self.failure = exc
            raise
        if kind == "end":
            self.member_open = False
            return b""
        data: bytes = value
        return data

    def skip_rest_of_member(self) -> None:
        while self.read_member():
            pass

    def stop(self) -> None:
        self.stopping.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                self.items.get_nowait()
            except queue.Empty:
                return


class _MemberStream:
    def __init__(self, bridge: _Bridge) -> None:
        self._bridge = bridge
        self._pending = b""

    def read(self, size: int, /) -> bytes:
        if not self._pending:
            self._pending = self._bridge.read_member()
        piece, self._pending = self._pending[:size], self._pending[size:]
        return piece

    def close(self) -> None:
        self._pending = b""


class _BridgeWriter(Py7zIO):
    def __init__(self, bridge: _Bridge) -> None:
        self._bridge = bridge
        self._size = 0

    def write(self, s: bytes | bytearray) -> int:
        if s:  # an empty block would read as the end of the member
            self._bridge.put("data", bytes(s))
            self._size += len(s)
        return len(s)

    def close(self) -> None:
        self._bridge.put("end", None)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        pass

    def size(self) -> int:
        return self._size


class _BridgeFactory(WriterFactory):
    def __init__(self, bridge: _Bridge) -> None:
        self._bridge = bridge

    def create(self, filename: str) -> Py7zIO:
        self._bridge.put("begin", int(filename))
        return _BridgeWriter(self._bridge)


class _ProbeWriter(_BridgeWriter):
    def write(self, s: bytes | bytearray) -> int:
        if s:
            raise _Enough
        return 0

    def close(self) -> None:
        pass


class _ProbeFactory(WriterFactory):
    def create(self, filename: str) -> Py7zIO:
        return _ProbeWriter(_Bridge())
