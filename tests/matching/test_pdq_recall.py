"""Exact recall of the PDQ index: every hash within the threshold is found at its exact distance, none beyond.

Each property runs every search kernel this machine has (AVX-512, POPCNT, plain C, faiss) against a
brute-force reference written with Python integers. Hashes are random or deliberately low-entropy bit
strings (seeded), not hashes of any picture.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himaya.matching import pdq_index
from himaya.matching.pdq_index import PDQ_BYTES, PdqIndex, available_kernels

BITS = 256
KERNELS = available_kernels()
THRESHOLDS = [31, 0, 1, 2, 15, 32, 52, 63, 64, 100, 127, 128, 129, 200, 255, 256]


def to_hex(bits: int) -> str:
    return f"{bits:064x}"


def flip(bits: int, distance: int, rng: random.Random, where: str = "anywhere") -> int:
    """`bits` with exactly `distance` bits flipped, spread over the hash or packed into one half.

    The first half of the hex string (the high 128 bits) is what the kernels test before counting the
    rest, so hashes that differ only there, or only in the second half, probe that early exit.
    """
    if where == "first-half" and distance <= 128:
        positions = rng.sample(range(128, 256), distance)
    elif where == "second-half" and distance <= 128:
        positions = rng.sample(range(128), distance)
    else:
        positions = rng.sample(range(BITS), distance)
    for position in positions:
        bits ^= 1 << position
    return bits


def low_entropy(rng: random.Random) -> int:
    """Hashes of flat or tiny pictures look like this: mostly zeros, a repeated byte, a repeated word."""
    kind = rng.randrange(5)
    if kind == 0:
        return flip(0, rng.randrange(12), rng)
    if kind == 1:
        return int.from_bytes(bytes([rng.randrange(256)]) * 32, "big")
    if kind == 2:
        return int.from_bytes(rng.randbytes(4) * 8, "big")
    if kind == 3:
        return flip((1 << BITS) - 1, rng.randrange(12), rng)
    return int.from_bytes(bytes(16) + b"\xff" * 16, "big") ^ (1 << rng.randrange(BITS))


def reference(queries: list[str], hashes: dict[int, str], max_distance: int) -> list[list[tuple[int, int]]]:
    """Brute force with Python integers: XOR and count the bits."""
    values = [(entry_id, int(value, 16)) for entry_id, value in hashes.items()]
    results = []
    for query in queries:
        q = int(query, 16)
        hits = [(entry_id, (q ^ value).bit_count()) for entry_id, value in values]
        results.append(
            sorted(((i, d) for i, d in hits if d <= max_distance), key=lambda hit: (hit[1], hit[0]))
        )
    return results


def search_with(
    index: PdqIndex, queries: list[str], max_distance: int, kernel: str
) -> list[list[tuple[int, int]]]:
    """`search_many`'s answer, computed by one kernel."""
    found = index.search_codes(pdq_index.pdq_codes(queries), max_distance, kernel=kernel)
    results: list[list[tuple[int, int]]] = [[] for _ in queries]
    for row, entry_id, distance in zip(
        found.query.tolist(), found.entry_id.tolist(), found.distance.tolist(), strict=True
    ):
        results[row].append((entry_id, distance))
    return results


@pytest.fixture(autouse=True)
def _split_even_small_searches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the threaded path (work cut into slices) even for the small indexes of these tests."""
    monkeypatch.setattr(pdq_index, "_MIN_PAIRS_PER_THREAD", 1)


@settings(max_examples=25)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    threshold=st.sampled_from(THRESHOLDS),
    fillers=st.integers(min_value=0, max_value=2_500),
    low_entropy_share=st.sampled_from([0.0, 0.5, 1.0]),
    n_queries=st.integers(min_value=1, max_value=11),
    where=st.sampled_from(["anywhere", "first-half", "second-half"]),
)
def test_every_planted_hash_is_found_at_its_exact_distance(
    seed: int, threshold: int, fillers: int, low_entropy_share: float, n_queries: int, where: str
) -> None:
    rng = random.Random(seed)
    queries = [rng.getrandbits(BITS) if n % 3 else low_entropy(rng) for n in range(n_queries)]
    hashes: dict[int, str] = {}
    planted: dict[int, tuple[int, int]] = {}  # entry id -> (query number, distance)
    next_id = 1
    for number, query in enumerate(queries):
        # One hash at every distance 0..threshold, and a few just beyond it that must not match.
        for distance in [*range(threshold + 1), *range(threshold + 1, min(threshold + 6, BITS + 1))]:
            hashes[next_id] = to_hex(flip(query, distance, rng, where))
            planted[next_id] = (number, distance)
            next_id += 1
    for _ in range(fillers):
        filler = low_entropy(rng) if rng.random() < low_entropy_share else rng.getrandbits(BITS)
        hashes[next_id] = to_hex(filler)
        next_id += 1
    ids = list(hashes)
    rng.shuffle(ids)  # planted hashes land anywhere in the blocks, not in a run
    index = PdqIndex.from_hex(ids, [hashes[i] for i in ids])
    query_hex = [to_hex(query) for query in queries]
    expected = reference(query_hex, hashes, threshold)
    for number, hits in enumerate(expected):
        found = dict(hits)
        for entry_id, (planted_for, distance) in planted.items():
            if planted_for == number and distance <= threshold:
                assert found[entry_id] == distance
    assert index.search_many(query_hex, threshold) == expected
    for kernel in KERNELS:
        assert search_with(index, query_hex, threshold, kernel) == expected, kernel


@settings(max_examples=40)
@given(
    codes=st.lists(st.binary(min_size=PDQ_BYTES, max_size=PDQ_BYTES), max_size=40),
    queries=st.lists(st.binary(min_size=PDQ_BYTES, max_size=PDQ_BYTES), max_size=12),
    max_distance=st.integers(min_value=0, max_value=BITS),
)
def test_agrees_with_brute_force_on_small_random_sets(
    codes: list[bytes], queries: list[bytes], max_distance: int
) -> None:
    hashes = {1_000 + n: code.hex() for n, code in enumerate(codes)}
    index = PdqIndex.from_hex(list(hashes), list(hashes.values()))
    query_hex = [query.hex() for query in queries]
    expected = reference(query_hex, hashes, max_distance)
    assert index.search_many(query_hex, max_distance) == expected
    for kernel in KERNELS:
        assert search_with(index, query_hex, max_distance, kernel) == expected, kernel


def test_many_queries_against_many_blocks() -> None:
    """Several blocks of 2,048 rows, a ragged last block, and more queries than one pass takes."""
    rng = np.random.default_rng(2024)
    codes = rng.integers(0, 256, size=(3 * 2_048 + 5, PDQ_BYTES), dtype=np.uint8)
    ids = rng.permutation(len(codes)).astype(np.int64) + 10
    index = PdqIndex(ids, codes)
    queries = codes[rng.integers(0, len(codes), size=37)].copy()
    queries[::2, :4] ^= 0x0F  # 16 bits away
    query_hex = [bytes(q).hex() for q in queries]
    expected = reference(query_hex, {int(i): bytes(c).hex() for i, c in zip(ids, codes, strict=True)}, 31)
    assert all(hits for hits in expected)
    for kernel in KERNELS:
        assert search_with(index, query_hex, 31, kernel) == expected, kernel
        for threads in (1, 2, 3):
            found = index.search_codes(queries, 31, kernel=kernel, threads=threads)
            assert len(found.query) == sum(map(len, expected))


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("size", [0, 1, 2])
def test_tiny_indexes(kernel: str, size: int) -> None:
    values = ["00" * 32, "ff" * 32][:size]
    entries = dict(zip([5, 6][:size], values, strict=True))
    index = PdqIndex.from_hex(list(entries), values)
    assert len(index) == size
    queries = ["00" * 31 + "01", "ff" * 32, "0f" * 32]
    assert search_with(index, queries, 31, kernel) == reference(queries, entries, 31)
    assert search_with(index, queries, 256, kernel) == reference(queries, entries, 256)
    assert search_with(index, [], 31, kernel) == []
    assert index.search_many([], 31) == []
    assert index.search("00" * 32, 256) == [(5, 0), (6, 256)][:size]


def test_duplicate_hashes_are_all_reported() -> None:
    index = PdqIndex.from_hex([3, 1, 2], ["ab" * 32] * 3)
    for kernel in KERNELS:
        assert search_with(index, ["ab" * 32], 0, kernel) == [[(1, 0), (2, 0), (3, 0)]]
