"""The streamed digests equal hashlib's for every size and every way of cutting the stream."""

from __future__ import annotations

import array
import hashlib
import io
import itertools
import os
import random
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from himaya.analyzers import digests
from himaya.analyzers.digests import DigestResult, MultiHasher, hash_stream


def expected(data: bytes) -> DigestResult:
    return DigestResult(
        md5=hashlib.md5(data).hexdigest(),
        sha1=hashlib.sha1(data).hexdigest(),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


CHUNK = 64 * 1024
SIZES = [0, 1, 63, 64, 65, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17, 2 * 1024 * 1024 + 5]


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("size", SIZES)
def test_hash_stream_equals_hashlib(size: int, parallel: bool) -> None:
    data = random.Random(size).randbytes(size)
    assert hash_stream(io.BytesIO(data), CHUNK, parallel=parallel) == expected(data)


@pytest.mark.parametrize("size", [0, 5, 1024 * 1024 + 3])
def test_stream_without_readinto(size: int) -> None:
    class ReadOnly:
        def __init__(self, data: bytes) -> None:
            self._inner = io.BytesIO(data)

        def read(self, n: int = -1, /) -> bytes:
            return self._inner.read(n)

    data = random.Random(size).randbytes(size)
    assert hash_stream(ReadOnly(data), 4096) == expected(data)


def test_default_chunk_reads_a_file(tmp_path: Path) -> None:
    data = random.Random(7).randbytes(3 * digests.DEFAULT_CHUNK_SIZE + 11)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    with path.open("rb", buffering=0) as stream:
        assert hash_stream(stream) == expected(data)


def test_hex_is_lower_case_and_hasher_stays_usable() -> None:
    hasher = MultiHasher()
    hasher.update(b"abc")
    first = hasher.hexdigests()
    assert first == (
        hashlib.md5(b"abc").hexdigest(),
        hashlib.sha1(b"abc").hexdigest(),
        hashlib.sha256(b"abc").hexdigest(),
    )
    assert all(h == h.lower() for h in first)
    hasher.update(b"def")
    assert hasher.result() == expected(b"abcdef")
    assert hasher.size == 6


def test_accepts_views_of_any_item_size() -> None:
    words = array.array("I", range(1000))
    hasher = MultiHasher(parallel=False)
    hasher.update(memoryview(words))
    assert hasher.result() == expected(words.tobytes())


def test_bad_chunk_size() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        hash_stream(io.BytesIO(b"x"), 0)


@given(data=st.binary(max_size=5000), cuts=st.lists(st.integers(0, 5000), max_size=12))
def test_any_chunking_gives_the_same_digests(data: bytes, cuts: list[int]) -> None:
    bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    # Send every chunk, however small, through the helper threads too.
    with mock.patch.object(digests, "_PARALLEL_MIN_BYTES", 0):
        for parallel in (False, True):
            hasher = MultiHasher(parallel=parallel)
            for start, end in itertools.pairwise(bounds):
                hasher.update(data[start:end])
            assert hasher.result() == expected(data)


def test_three_way_split_on_many_cpus() -> None:
    data = random.Random(3).randbytes(300_000)
    with mock.patch.object(digests, "_usable_cpus", return_value=8):
        hasher = MultiHasher()
        hasher.update(data)
        hasher.update(data)
    assert hasher.result() == expected(data + data)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_helpers_work_in_a_forked_child() -> None:
    data = random.Random(4).randbytes(512 * 1024)
    MultiHasher(parallel=True).update(data)  # the parent's helper threads now exist
    pid = os.fork()
    if pid == 0:  # child: would hang on the parent's dead helper threads without the fork hook
        hasher = MultiHasher(parallel=True)
        hasher.update(data)
        os._exit(0 if hasher.result() == expected(data) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
