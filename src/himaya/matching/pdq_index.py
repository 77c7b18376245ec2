"""An exact PDQ index: every entry within the distance is found, never an approximation.

A missed match is a missed victim, so the index is faiss's brute-force `IndexBinaryFlat` rather than a
faster approximate one. 256-bit codes compared with popcount cost about 1-2 ms per query per million
entries on one core (measured with faiss 1.15), and `search_many` shares one pass over the index among a
batch of queries.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

PDQ_BITS = 256
PDQ_BYTES = PDQ_BITS // 8
PDQ_HEX = PDQ_BYTES * 2
_PDQ_HEX = re.compile(r"[0-9a-fA-F]{64}")


def pdq_codes(hashes: Sequence[str]) -> npt.NDArray[np.uint8]:
    """Hex PDQ hashes as faiss binary codes: one row of 32 packed bytes per hash.

    faiss needs only that index and queries pack bits the same way: Hamming distance does not depend
    on the bit order inside a byte.
    """
    for value in hashes:
        if not _PDQ_HEX.fullmatch(value):
            raise ValueError(f"{value[:80]!r} is not a PDQ hash (64 hex digits)")
    packed = bytes.fromhex("".join(hashes))
    return np.frombuffer(packed, dtype=np.uint8).reshape(len(hashes), PDQ_BYTES)


def hamming(a_hex: str, b_hex: str) -> int:
    """Bits that differ between two PDQ hashes (0 = identical, 256 = complementary)."""
    for value in (a_hex, b_hex):
        if not _PDQ_HEX.fullmatch(value):
            raise ValueError(f"{value[:80]!r} is not a PDQ hash (64 hex digits)")
    return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()


class PdqIndex:
    """Entry ids and their PDQ hashes, searchable by Hamming distance.

    Pickles as the raw codes and ids (faiss objects do not pickle) so that it can be sent to spawned
    worker processes; the faiss index is rebuilt on arrival, which for a flat index is a memory copy.
    """

    def __init__(self, ids: npt.NDArray[np.int64], codes: npt.NDArray[np.uint8]) -> None:
        if codes.ndim != 2 or codes.shape[1] != PDQ_BYTES or len(ids) != len(codes):
            raise ValueError(f"expected {len(ids)} codes of {PDQ_BYTES} bytes, got shape {codes.shape}")
        self._ids = np.ascontiguousarray(ids, dtype=np.int64)
        self._codes = np.ascontiguousarray(codes, dtype=np.uint8)
        self._index = self._build(self._codes)

    @classmethod
    def from_hex(cls, ids: Sequence[int], hashes: Sequence[str]) -> PdqIndex:
        if len(ids) != len(hashes):
            raise ValueError(f"{len(ids)} ids for {len(hashes)} hashes")
        return cls(np.asarray(ids, dtype=np.int64), pdq_codes(hashes))

    @staticmethod
    def _build(codes: npt.NDArray[np.uint8]) -> Any:
        index = faiss.IndexBinaryFlat(PDQ_BITS)
        if len(codes):
            index.add(codes)
        return index

    def __len__(self) -> int:
        return len(self._ids)

    def __getstate__(self) -> dict[str, Any]:
        return {"ids": self._ids, "codes": self._codes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._ids = state["ids"]
        self._codes = state["codes"]
        self._index = self._build(self._codes)

    def search(self, query_hex: str, max_distance: int) -> list[tuple[int, int]]:
        """(entry_id, distance) for every entry within `max_distance` bits (inclusive), nearest first."""
        return self.search_many([query_hex], max_distance)[0]

    def search_many(self, queries: Sequence[str], max_distance: int) -> list[list[tuple[int, int]]]:
        """`search` for each query, in one faiss call (one pass over the index for the whole batch)."""
        if not 0 <= max_distance <= PDQ_BITS:
            raise ValueError(f"max_distance {max_distance} is outside 0..{PDQ_BITS}")
        codes = pdq_codes(queries)
        if not len(self) or not len(queries):
            return [[] for _ in queries]
        # faiss's binary range_search keeps distances strictly below its radius; our threshold is
        # inclusive (PDQ's "distance <= 31" convention), hence the + 1.
        limits, distances, positions = self._index.range_search(codes, max_distance + 1)
        results: list[list[tuple[int, int]]] = []
        for query in range(len(queries)):
            start, end = int(limits[query]), int(limits[query + 1])
            hits = [
                (int(self._ids[position]), int(distance))
                for position, distance in zip(positions[start:end], distances[start:end], strict=True)
            ]
            hits.sort(key=lambda hit: (hit[1], hit[0]))  # nearest first; ties by id so output is stable
            results.append(hits)
        return results
