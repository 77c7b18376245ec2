"""An exact PDQ index: every entry within the distance is found, never an approximation.

A missed match is a missed victim, so the index compares each query with every entry (no clustering,
no hashing into buckets, nothing that can miss). What makes that fast is the order of the work: the C
kernel `_pdqscan` reads the entries in blocks that fit in the core's cache and compares the whole batch
of queries with a block while it is there, so a batch costs one pass over memory instead of one pass
per query as faiss's `IndexBinaryFlat.range_search` does. It rejects a pair as soon as the distance over
the first 128 bits exceeds the threshold (a partial distance never exceeds the full one). On the
development machine (2 cores, AVX-512) that is 12-14x faiss at 10 million entries (about 2x without
AVX-512); see "PDQ index at 10 million hashes" in docs/performance.md.

When the extension is not built (a checkout whose virtualenv predates it), the index falls back to faiss's
`IndexBinaryFlat`, which is slower but as exact.

An index is saved as a folder of numpy files (no pickle, so a tampered file cannot run code) and loaded
memory-mapped, so a list of ten million hashes is searchable at once without being read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import faiss
import numpy as np
import numpy.typing as npt

try:
    from himaya.matching import _pdqscan

    HAVE_NATIVE = True
except ImportError:  # pragma: no cover - only where the extension was not built
    HAVE_NATIVE = False

PDQ_BITS = 256
PDQ_BYTES = PDQ_BITS // 8
PDQ_HEX = PDQ_BYTES * 2
_PDQ_HEX = re.compile(r"[0-9a-fA-F]{64}")

FORMAT_NAME = "himaya-pdq-index"
FORMAT_VERSION = 1
_META, _IDS, _CODES = "index.json", "ids.npy", "codes.npy"

_BLOCK = 2048  # rows the C kernel scans per block; thread slices are cut on multiples of it
_MIN_PAIRS_PER_THREAD = 1 << 22  # below this much work a second thread costs more than it saves
_MIN_QUERIES_AVX512 = 4  # below this the AVX-512 kernel's per-block transposition is not paid back


def pdq_codes(hashes: Sequence[str]) -> npt.NDArray[np.uint8]:
    """Hex PDQ hashes as binary codes: one row of 32 packed bytes per hash.

    The index and its queries need only pack bits the same way: Hamming distance does not depend on the
    bit order inside a byte.
    """
    # Fast path for millions of hashes: every value 64 characters long, and the whole joined string
    # decoding to 32 bytes a value (bytes.fromhex skips whitespace, so a space would show as short output).
    if all(len(value) == PDQ_HEX for value in hashes):
        try:
            packed = bytes.fromhex("".join(hashes))
        except ValueError:
            packed = b""
        if len(packed) == PDQ_BYTES * len(hashes):
            return np.frombuffer(packed, dtype=np.uint8).reshape(len(hashes), PDQ_BYTES)
    for value in hashes:
        if not _PDQ_HEX.fullmatch(value):
            raise ValueError(f"{value[:80]!r} is not a PDQ hash (64 hex digits)")
    raise ValueError("malformed PDQ hashes")  # pragma: no cover - the loop above names the bad one


def hamming(a_hex: str, b_hex: str) -> int:
    """Bits that differ between two PDQ hashes (0 = identical, 256 = complementary)."""
    for value in (a_hex, b_hex):
        if not _PDQ_HEX.fullmatch(value):
            raise ValueError(f"{value[:80]!r} is not a PDQ hash (64 hex digits)")
    return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()


def available_kernels() -> list[str]:
    """Search kernels this machine can run, fastest first; "faiss" (the fallback) is always last."""
    return [*_pdqscan.kernels(), "faiss"] if HAVE_NATIVE else ["faiss"]


def default_threads() -> int:
    """Threads a search uses: faiss's OpenMP setting, so OMP_NUM_THREADS=1 in scan workers holds here too."""
    return max(1, int(faiss.omp_get_max_threads()))


class Matches(NamedTuple):
    """Every (query, entry) pair within the distance, as parallel arrays sorted by query, distance, id."""

    query: npt.NDArray[np.int64]  # row of the query in the batch
    entry_id: npt.NDArray[np.int64]
    distance: npt.NDArray[np.int64]


class PdqIndex:
    """Entry ids and their PDQ hashes, searchable by Hamming distance.

    Holds only the two arrays (ids int64, codes uint8 N x 32), which may be memory-mapped files. Pickles
    as those arrays so that it can be sent to spawned worker processes.
    """

    def __init__(self, ids: npt.NDArray[np.int64], codes: npt.NDArray[np.uint8]) -> None:
        if codes.ndim != 2 or codes.shape[1] != PDQ_BYTES or len(ids) != len(codes):
            raise ValueError(f"expected {len(ids)} codes of {PDQ_BYTES} bytes, got shape {codes.shape}")
        self._ids: npt.NDArray[np.int64] = np.ascontiguousarray(ids, dtype=np.int64)
        self._codes: npt.NDArray[np.uint8] = np.ascontiguousarray(codes, dtype=np.uint8)
        self._faiss: Any = None  # built on first use by the fallback kernel only
        # The folder this index is memory-mapped from, if any: it then pickles as that path, so worker
        # processes map the same file (shared page cache) instead of each receiving a copy.
        self._source: Path | None = None

    @classmethod
    def from_hex(cls, ids: Sequence[int], hashes: Sequence[str]) -> PdqIndex:
        if len(ids) != len(hashes):
            raise ValueError(f"{len(ids)} ids for {len(hashes)} hashes")
        return cls(np.asarray(ids, dtype=np.int64), pdq_codes(hashes))

    @property
    def ids(self) -> npt.NDArray[np.int64]:
        return self._ids

    @property
    def codes(self) -> npt.NDArray[np.uint8]:
        return self._codes

    def __len__(self) -> int:
        return len(self._ids)

    def __getstate__(self) -> dict[str, Any]:
        if self._source is not None:
            return {"path": str(self._source), "count": len(self)}
        # np.asarray: a memory-mapped array pickles as its data, not as a reference to the file.
        return {"ids": np.asarray(self._ids), "codes": np.asarray(self._codes)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "path" in state:
            loaded = PdqIndex.load(state["path"], mmap=True)
            if len(loaded) != state["count"]:
                raise ValueError(f"PDQ index {state['path']} changed while it was in use")
            self.__init__(loaded.ids, loaded.codes)  # type: ignore[misc]
            self._source = loaded._source
            return
        self.__init__(state["ids"], state["codes"])  # type: ignore[misc]  # the same checks as a new one

    # -- persistence -------------------------------------------------------------------------------

    def save(self, path: Path | str) -> None:
        """Write the index as a new folder `path`: index.json (format, version, size), ids.npy, codes.npy."""
        folder = Path(path)
        folder.mkdir(parents=True)
        np.save(folder / _IDS, np.asarray(self._ids), allow_pickle=False)
        np.save(folder / _CODES, np.asarray(self._codes), allow_pickle=False)
        meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "bits": PDQ_BITS, "count": len(self)}
        (folder / _META).write_text(json.dumps(meta) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path | str, mmap: bool = True) -> PdqIndex:
        """An index written by `save`; memory-mapped read-only unless `mmap` is False.

        Raises ValueError when the folder is not an index of this format or its files disagree.
        """
        folder = Path(path)
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a PDQ index folder")
        try:
            meta = json.loads((folder / _META).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"{folder} is not a PDQ index: {_META} is missing") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{folder / _META} is corrupt: {error}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
            raise ValueError(f"{folder} is not a {FORMAT_NAME} folder")
        if meta.get("version") != FORMAT_VERSION or meta.get("bits") != PDQ_BITS:
            raise ValueError(
                f"{folder} is version {meta.get('version')!r} of {meta.get('bits')!r} bits;"
                f" this program reads version {FORMAT_VERSION} of {PDQ_BITS} bits"
            )
        count = meta.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"{folder / _META} has no valid count")
        ids = _load_array(folder / _IDS, np.dtype(np.int64), (count,), mmap)
        codes = _load_array(folder / _CODES, np.dtype(np.uint8), (count, PDQ_BYTES), mmap)
        index = cls(ids, codes)
        if mmap:
            index._source = folder.resolve()
        return index

    def updated(
        self,
        removed_ids: npt.ArrayLike,
        added_ids: npt.NDArray[np.int64],
        added_codes: npt.NDArray[np.uint8],
    ) -> PdqIndex:
        """A new index: this one without the entries in `removed_ids`, with the added rows appended.

        For a hash set's next version: its index comes from the previous version's rather than from all of
        its entries again. This index is not changed.
        """
        added_ids = np.asarray(added_ids, dtype=np.int64).reshape(-1)
        added_codes = np.asarray(added_codes, dtype=np.uint8)
        if added_codes.ndim != 2 or added_codes.shape != (len(added_ids), PDQ_BYTES):
            raise ValueError(
                f"expected {len(added_ids)} added codes of {PDQ_BYTES} bytes, got shape {added_codes.shape}"
            )
        removed = np.asarray(removed_ids, dtype=np.int64).reshape(-1)
        if len(removed):
            keep = ~np.isin(self._ids, removed)
            ids, codes = self._ids[keep], self._codes[keep]
        else:
            ids, codes = self._ids, self._codes
        return PdqIndex(np.concatenate([ids, added_ids]), np.concatenate([codes, added_codes]))

    # -- search ------------------------------------------------------------------------------------

    def search(self, query_hex: str, max_distance: int) -> list[tuple[int, int]]:
        """(entry_id, distance) for every entry within `max_distance` bits (inclusive), nearest first."""
        return self.search_many([query_hex], max_distance)[0]

    def search_many(
        self, queries: Sequence[str], max_distance: int, *, kernel: str = "auto"
    ) -> list[list[tuple[int, int]]]:
        """`search` for each query; the batch shares one pass over the index, so batch where you can.

        Ties in distance are ordered by entry id, so the output does not depend on the index's row order.
        `kernel` is for tests and benchmarks (see `search_codes`).
        """
        _check_distance(max_distance)
        codes = pdq_codes(queries)
        found = self.search_codes(codes, max_distance, kernel=kernel)
        counts = np.bincount(found.query, minlength=len(queries))
        ids: list[int] = found.entry_id.tolist()
        distances: list[int] = found.distance.tolist()
        results: list[list[tuple[int, int]]] = []
        start = 0
        for count in counts.tolist():
            end = start + count
            results.append(list(zip(ids[start:end], distances[start:end], strict=True)))
            start = end
        return results

    def search_codes(
        self,
        queries: npt.NDArray[np.uint8],
        max_distance: int,
        *,
        kernel: str = "auto",
        threads: int | None = None,
    ) -> Matches:
        """Every pair within `max_distance` (inclusive) of the binary queries (Q x 32), as arrays.

        `kernel` picks the implementation ("auto", or one of `available_kernels()`; all give the same
        answer) and `threads` how many threads share the work (default: `default_threads()`).
        """
        _check_distance(max_distance)
        queries = np.ascontiguousarray(queries, dtype=np.uint8)
        if queries.ndim != 2 or queries.shape[1] != PDQ_BYTES:
            raise ValueError(f"expected queries of {PDQ_BYTES} bytes, got shape {queries.shape}")
        if kernel not in ("auto", *available_kernels()):
            raise ValueError(f"kernel {kernel!r} is not one of {available_kernels()} on this machine")
        if not len(self) or not len(queries):
            empty = np.zeros(0, dtype=np.int64)
            return Matches(empty, empty, empty)
        if kernel == "faiss" or (kernel == "auto" and not HAVE_NATIVE):
            rows, positions, distances = self._scan_faiss(queries, max_distance)
        else:
            if kernel == "auto" and len(queries) < _MIN_QUERIES_AVX512 and "popcnt" in available_kernels():
                kernel = "popcnt"
            rows, positions, distances = self._scan_native(queries, max_distance, kernel, threads)
        entry_ids = self._ids[positions]
        order = np.lexsort((entry_ids, distances, rows))  # by query, then nearest, then id
        return Matches(rows[order], entry_ids[order], distances[order])

    def _scan_native(
        self, queries: npt.NDArray[np.uint8], max_distance: int, kernel: str, threads: int | None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        rows, n_queries = len(self), len(queries)
        threads = max(1, min(threads or default_threads(), (rows * n_queries) // _MIN_PAIRS_PER_THREAD or 1))
        # Cut the work into disjoint slices, of the entries where there are enough of them (each thread
        # then reads its own part of memory once), else of the queries.
        if rows >= threads * _BLOCK:
            step = -(-rows // threads // _BLOCK) * _BLOCK
            slices = [(start, min(start + step, rows), 0, n_queries) for start in range(0, rows, step)]
        else:
            step = -(-n_queries // threads)
            slices = [(0, rows, start, min(start + step, n_queries)) for start in range(0, n_queries, step)]

        def scan(part: tuple[int, int, int, int]) -> tuple[bytes, bytes, bytes]:
            result: tuple[bytes, bytes, bytes] = _pdqscan.range_search(
                self._codes, queries, max_distance, *part, kernel
            )
            return result

        if len(slices) == 1:
            parts = [scan(slices[0])]
        else:
            with ThreadPoolExecutor(len(slices), thread_name_prefix="pdq-scan") as pool:
                parts = list(pool.map(scan, slices))
        return (
            np.concatenate([np.frombuffer(p[0], dtype=np.int32) for p in parts]).astype(np.int64),
            np.concatenate([np.frombuffer(p[1], dtype=np.int64) for p in parts]),
            np.concatenate([np.frombuffer(p[2], dtype=np.uint16) for p in parts]).astype(np.int64),
        )

    def _scan_faiss(
        self, queries: npt.NDArray[np.uint8], max_distance: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        if self._faiss is None:
            index = faiss.IndexBinaryFlat(PDQ_BITS)
            index.add(np.asarray(self._codes))
            self._faiss = index
        # faiss's binary range_search keeps distances strictly below its radius; ours is inclusive.
        limits, distances, positions = self._faiss.range_search(queries, max_distance + 1)
        rows = np.repeat(np.arange(len(queries), dtype=np.int64), np.diff(limits.astype(np.int64)))
        return rows, np.asarray(positions, dtype=np.int64), np.asarray(distances, dtype=np.int64)


def _check_distance(max_distance: int) -> None:
    if not 0 <= max_distance <= PDQ_BITS:
        raise ValueError(f"max_distance {max_distance} is outside 0..{PDQ_BITS}")


def _load_array(path: Path, dtype: np.dtype[Any], shape: tuple[int, ...], mmap: bool) -> npt.NDArray[Any]:
    try:
        array: npt.NDArray[Any] = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"{path.parent} is not a PDQ index: {path.name} is missing") from None
    except (ValueError, EOFError, OSError) as error:
        raise ValueError(f"{path} is corrupt: {error}") from None
    if array.dtype != dtype or array.shape != shape or not array.flags.c_contiguous:
        raise ValueError(
            f"{path} holds {array.dtype} {array.shape}, expected {dtype} {shape} in C order:"
            " the index is corrupt"
        )
    return array
