"""MD5, SHA-1 and SHA-256 of a file in one streamed pass.

Hash sets come keyed by MD5, SHA-1 or SHA-256, depending on who made them, so every file gets all three,
and the evidence is read once: never the whole file in memory.

Why threads: hashlib releases the GIL while it hashes a buffer larger than 2 KiB, so the three digests of
one chunk can run on separate cores. Measured on this project's 2-core dev machine (AMD EPYC with SHA-NI;
one core does MD5 ~730 MB/s, SHA-1 ~1.8 GB/s, SHA-256 ~1.7 GB/s), 2 x 150 MB from the page cache,
median of 5 alternating runs:
  sequential, one thread, 1 MiB chunks                        393 MB/s
  MD5 and SHA-1 in two helpers, SHA-256 inline, 256 KiB        464 MB/s
  MD5 and SHA-1 in two helpers, SHA-256 inline, 1 MiB          481 MB/s
  MD5 and SHA-1 in two helpers, SHA-256 inline, 4 MiB          521 MB/s
  MD5 in one helper, SHA-1 + SHA-256 inline, 1 MiB             614 MB/s   <- kept for 2 CPUs
  MD5 in one helper, SHA-1 + SHA-256 inline, 2 / 4 MiB         596 / 627 MB/s (noise)
  hashdeep -c md5,sha1,sha256 -r (two threads, one per file)   ~250 MB/s
(bench/bench_digests.py, 4 x 150 MB, median of 3: 608 MB/s against hashdeep's 264, 2.3x.)
MD5 is the slowest digest and bounds the threaded time; with two CPUs, three busy threads only trade
places on two cores, so MD5 gets one helper and the caller does the rest. With three or more CPUs MD5
and SHA-1 each get a helper, which matters on CPUs without SHA extensions, where SHA-256 drops to a few
hundred MB/s.

The pipeline runs one worker process per core. When every core already has a worker, helper threads
only add contention, so the pipeline should pass `parallel=False` there (see `MultiHasher`).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

Buffer = bytes | bytearray | memoryview

# Big enough that the per-chunk hand-off to the helper threads (tens of microseconds) is noise against
# hashing (~1.4 ms per MiB for MD5), small enough to stay cache- and memory-friendly.
DEFAULT_CHUNK_SIZE = 1024 * 1024

# Below this a chunk is hashed inline: waking two threads costs more than it saves.
_PARALLEL_MIN_BYTES = 128 * 1024

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _helpers() -> ThreadPoolExecutor:
    """Helper threads shared by every hasher in the process, created on first use.

    Tasks submitted here never submit further tasks, so sharing the pool between hashers (or threads)
    cannot deadlock; at worst their chunks queue.
    """
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="himaya-digest")
    return _pool


def _forget_pool_after_fork() -> None:
    # A forked child inherits the pool object but not its threads: submitted chunks would wait forever.
    # The pipeline spawns, but Dask or multiprocessing's default fork on Linux may not.
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class DigestResult:
    md5: str
    sha1: str
    sha256: str
    size: int


class MultiHasher:
    """Feeds each chunk to MD5, SHA-1 and SHA-256; usable incrementally alongside other consumers.

    `parallel=None` decides by the CPUs this process may use. `update` returns only when all three
    digests have consumed the chunk, so the caller may reuse its buffer straight away.
    """

    def __init__(self, *, parallel: bool | None = None) -> None:
        # usedforsecurity=False: these are identification digests, and FIPS-mode OpenSSL refuses MD5
        # and SHA-1 without it.
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self._size = 0
        cpus = _usable_cpus()
        if parallel is None:
            parallel = cpus > 1
        # How many digests go to helper threads: none, MD5 only (2 CPUs), or MD5 and SHA-1 (3+).
        self._offload = 0 if not parallel else (1 if cpus <= 2 else 2)

    @property
    def size(self) -> int:
        """Bytes consumed so far."""
        return self._size

    def update(self, chunk: Buffer) -> None:
        view = memoryview(chunk).cast("B")
        nbytes = view.nbytes
        if self._offload and nbytes >= _PARALLEL_MIN_BYTES:
            pool = _helpers()
            md5_done = pool.submit(self._md5.update, view)
            sha1_done = pool.submit(self._sha1.update, view) if self._offload == 2 else None
            if sha1_done is None:
                self._sha1.update(view)
            self._sha256.update(view)
            md5_done.result()
            if sha1_done is not None:
                sha1_done.result()
        else:
            self._md5.update(view)
            self._sha1.update(view)
            self._sha256.update(view)
        self._size += nbytes

    def hexdigests(self) -> tuple[str, str, str]:
        """(md5, sha1, sha256) in lower-case hex; the hasher stays usable (hashlib copies internally)."""
        return self._md5.hexdigest(), self._sha1.hexdigest(), self._sha256.hexdigest()

    def result(self) -> DigestResult:
        md5, sha1, sha256 = self.hexdigests()
        return DigestResult(md5=md5, sha1=sha1, sha256=sha256, size=self._size)


class ReadableStream(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def hash_stream(
    stream: ReadableStream,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    *,
    parallel: bool | None = None,
) -> DigestResult:
    """Digests of everything left in `stream`, read in `chunk_size` pieces into one reused buffer."""
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, not {chunk_size}")
    hasher = MultiHasher(parallel=parallel)
    readinto: Callable[[memoryview], int | None] | None = getattr(stream, "readinto", None)
    if readinto is None:
        while chunk := stream.read(chunk_size):
            hasher.update(chunk)
        return hasher.result()
    buffer = memoryview(bytearray(chunk_size))
    while True:
        count = readinto(buffer)
        if not count:  # 0 at end of file; None only from a non-blocking stream, which we never get
            break
        hasher.update(buffer[:count])
    return hasher.result()
