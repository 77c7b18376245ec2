"""The encrypted spool: a seekable file whose bytes never reach the disk in the clear."""

from __future__ import annotations

import io
import os
import random
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import IO, Any

import libarchive
import pytest
from hypothesis import given
from hypothesis import strategies as st

from himaya.security.spool import CHUNK_SIZE, EncryptedSpool, SpoolIntegrityError, spool_stream

MARKER = b"HIMAYA-PLAINTEXT-MARKER-0123456789"


def payload(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.fixture
def temp_files(monkeypatch: pytest.MonkeyPatch) -> list[IO[bytes]]:
    """Every temporary file the spool creates, so a test can read what is on disk."""
    created: list[IO[bytes]] = []
    real = tempfile.TemporaryFile

    def recording(*args: Any, **kwargs: Any) -> IO[bytes]:
        handle = real(*args, **kwargs)
        created.append(handle)
        return handle

    monkeypatch.setattr(tempfile, "TemporaryFile", recording)
    return created


def on_disk(handle: IO[bytes]) -> bytes:
    handle.flush()
    size = os.fstat(handle.fileno()).st_size
    return os.pread(handle.fileno(), size, 0)


def test_small_spool_stays_in_memory(temp_files: list[IO[bytes]]) -> None:
    data = payload(1000)
    with EncryptedSpool(4096) as spool:
        spool.write(data)
        assert not spool.on_disk
        spool.seek(0)
        assert spool.read() == data
    assert temp_files == []


def test_plaintext_never_reaches_the_disk(tmp_path: Path, temp_files: list[IO[bytes]]) -> None:
    data = MARKER * (5 * CHUNK_SIZE // len(MARKER) + 3)  # several sealed chunks and a partial tail
    spool = EncryptedSpool(1024, directory=tmp_path)
    for start in range(0, len(data), 10_000):
        spool.write(data[start : start + 10_000])
    assert spool.on_disk
    assert len(temp_files) == 1
    ciphertext = on_disk(temp_files[0])
    assert len(ciphertext) >= 5 * CHUNK_SIZE
    assert MARKER not in ciphertext
    assert MARKER[:16] not in ciphertext
    # Nothing else was left in the folder, named or not.
    for path in tmp_path.rglob("*"):
        assert MARKER not in path.read_bytes()
    spool.seek(0)
    assert spool.read() == data
    spool.close()
    assert temp_files[0].closed


def test_a_changed_chunk_on_disk_is_detected(temp_files: list[IO[bytes]]) -> None:
    data = payload(3 * CHUNK_SIZE)
    with EncryptedSpool(0) as spool:
        spool.write(data)
        handle = temp_files[0]
        handle.flush()
        where = 12 + CHUNK_SIZE + 16 + 40  # inside chunk 1's ciphertext
        # Flip the byte: writing a constant left it unchanged whenever the ciphertext byte already was that
        # constant (1 run in 256, a flaky test).
        old = os.pread(handle.fileno(), 1, where)
        os.pwrite(handle.fileno(), bytes([old[0] ^ 0xFF]), where)
        spool.seek(10)
        assert spool.read(10) == data[10:20]  # chunk 0 untouched
        spool.seek(CHUNK_SIZE + 5)
        with pytest.raises(SpoolIntegrityError, match="integrity check"):
            spool.read(10)


def test_writes_are_append_only() -> None:
    with EncryptedSpool(100) as spool:
        spool.write(b"abc")
        spool.seek(0)
        with pytest.raises(io.UnsupportedOperation, match="append-only"):
            spool.write(b"x")
        spool.seek(0, io.SEEK_END)
        spool.write(b"def")
        spool.seek(0)
        assert spool.read() == b"abcdef"


def test_seek_and_tell_behave_like_a_file() -> None:
    data = payload(2 * CHUNK_SIZE + 10)
    with EncryptedSpool(10) as spool:
        spool.write(data)
        assert spool.tell() == len(data) == spool.size
        assert spool.seek(-5, io.SEEK_END) == len(data) - 5
        assert spool.read() == data[-5:]
        assert spool.read(10) == b""
        spool.seek(3)
        assert spool.seek(4, io.SEEK_CUR) == 7
        assert spool.read(3) == data[7:10]
        spool.seek(len(data) + 100)
        assert spool.read(10) == b""
        with pytest.raises(ValueError, match="negative"):
            spool.seek(-1)
        assert spool.readable() and spool.seekable() and spool.writable()


def test_closed_spool_refuses_io() -> None:
    spool = EncryptedSpool(10)
    spool.write(b"x" * 100)
    spool.close()
    with pytest.raises(ValueError, match="closed"):
        spool.read()


@given(
    size=st.integers(0, 3 * CHUNK_SIZE + 100),
    memory_limit=st.sampled_from([0, 1, 4096, CHUNK_SIZE, 10 * CHUNK_SIZE]),
    piece=st.integers(1, CHUNK_SIZE + 7),
    reads=st.lists(
        st.tuples(st.integers(0, 3 * CHUNK_SIZE + 200), st.integers(0, 2 * CHUNK_SIZE)), max_size=12
    ),
)
def test_random_access_reads_return_the_exact_bytes(
    size: int, memory_limit: int, piece: int, reads: list[tuple[int, int]]
) -> None:
    data = payload(size, seed=size)
    with EncryptedSpool(memory_limit) as spool:
        for start in range(0, size, piece):
            spool.write(data[start : start + piece])
        assert spool.on_disk == (size > memory_limit)
        for offset, length in reads:
            spool.seek(offset)
            assert spool.read(length) == data[offset : offset + length]
            buffer = bytearray(length)
            spool.seek(offset)
            count = spool.readinto(buffer)
            assert bytes(buffer[:count]) == data[offset : offset + length]


@pytest.mark.parametrize("memory_limit", [0, 1 << 20])
def test_archive_libraries_read_from_a_spool(memory_limit: int) -> None:
    members = {"a/one.bin": payload(100_000, 1), "two.txt": b"two"}
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    zipped.seek(0)
    with spool_stream(zipped, memory_limit) as spool:
        with zipfile.ZipFile(spool) as archive:
            assert {name: archive.read(name) for name in archive.namelist()} == members
        spool.seek(0)
        with libarchive.stream_reader(spool) as archive:
            assert {e.pathname: b"".join(e.get_blocks()) for e in archive} == members

    tarred = io.BytesIO()
    with tarfile.open(fileobj=tarred, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    tarred.seek(0)
    with spool_stream(tarred, memory_limit) as spool, tarfile.open(fileobj=spool) as archive:
        read = {m.name: archive.extractfile(m).read() for m in archive.getmembers()}  # type: ignore[union-attr]
        assert read == members


def test_spool_stream_closes_the_spool_when_the_source_fails() -> None:
    class Failing(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        spool_stream(Failing(), 10)  # type: ignore[arg-type]
