"""The PDQ index against a brute-force oracle: exact recall at the threshold, inclusive, nothing beyond it.

Hashes are random bit strings (seeded), not hashes of any picture.
"""

from __future__ import annotations

import multiprocessing
import pickle
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from himaya.matching.pdq_index import PdqIndex, hamming

BITS = 256


def to_hex(bits: int) -> str:
    return f"{bits:064x}"


def at_distance(bits: int, distance: int, rng: random.Random) -> int:
    """`bits` with exactly `distance` of its 256 bits flipped."""
    for position in rng.sample(range(BITS), distance):
        bits ^= 1 << position
    return bits


def oracle(query: str, hashes: dict[int, str], max_distance: int) -> list[tuple[int, int]]:
    hits = [(entry_id, (int(query, 16) ^ int(value, 16)).bit_count()) for entry_id, value in hashes.items()]
    return sorted(((i, d) for i, d in hits if d <= max_distance), key=lambda hit: (hit[1], hit[0]))


def test_threshold_is_inclusive_and_nothing_beyond_matches() -> None:
    rng = random.Random(31)
    query = rng.getrandbits(BITS)
    planted = {100: 0, 131: 31, 132: 32, 140: 40, 160: 60}
    hashes = {entry_id: to_hex(at_distance(query, d, rng)) for entry_id, d in planted.items()}
    index = PdqIndex.from_hex(list(hashes), list(hashes.values()))
    assert index.search(to_hex(query), 31) == [(100, 0), (131, 31)]
    assert index.search(to_hex(query), 0) == [(100, 0)]
    assert index.search(to_hex(query), 32) == [(100, 0), (131, 31), (132, 32)]
    assert index.search(to_hex(query), 256) == [(100, 0), (131, 31), (132, 32), (140, 40), (160, 60)]


@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    others=st.integers(min_value=0, max_value=40),
)
def test_index_agrees_with_brute_force_at_every_threshold(seed: int, others: int) -> None:
    rng = random.Random(seed)
    query = to_hex(rng.getrandbits(BITS))
    # One entry at every distance 0..40 (the interesting band around 31), plus unrelated random hashes.
    hashes = {1_000 + d: to_hex(at_distance(int(query, 16), d, rng)) for d in range(41)}
    hashes.update({5_000 + n: to_hex(rng.getrandbits(BITS)) for n in range(others)})
    ids = list(hashes)
    rng.shuffle(ids)
    index = PdqIndex.from_hex(ids, [hashes[i] for i in ids])
    for threshold in range(41):
        assert index.search(query, threshold) == oracle(query, hashes, threshold)
    batch = index.search_many([query, hashes[ids[0]]], 31)
    assert batch == [oracle(query, hashes, 31), oracle(hashes[ids[0]], hashes, 31)]


def test_pickles_as_codes_and_ids_and_searches_the_same() -> None:
    rng = random.Random(7)
    hashes = [to_hex(rng.getrandbits(BITS)) for _ in range(1_000)]
    index = PdqIndex.from_hex(range(1, 1_001), hashes)
    payload = pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)
    assert len(payload) < 1_000 * (32 + 8) + 1_000  # raw codes and ids, little else
    copy = pickle.loads(payload)
    assert len(copy) == 1_000
    assert copy.search(hashes[10], 31) == index.search(hashes[10], 31) == [(11, 0)]


def _search_in_worker(index: PdqIndex, query: str) -> list[tuple[int, int]]:
    return index.search(query, 31)


def test_usable_in_a_spawned_worker() -> None:
    index = PdqIndex.from_hex([7, 8], ["00" * 32, "ff" * 32])
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.apply(_search_in_worker, (index, "00" * 31 + "01")) == [(7, 1)]


def test_empty_index_and_empty_batch() -> None:
    empty = PdqIndex.from_hex([], [])
    assert len(empty) == 0
    assert empty.search("00" * 32, 31) == []
    assert PdqIndex.from_hex([1], ["00" * 32]).search_many([], 31) == []


@pytest.mark.parametrize("bad", ["00" * 31, "zz" * 32, "00" * 32 + "0", " " + "00" * 31 + "0"])
def test_malformed_hashes_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="is not a PDQ hash"):
        PdqIndex.from_hex([1], [bad])
    with pytest.raises(ValueError, match="is not a PDQ hash"):
        PdqIndex.from_hex([1], ["00" * 32]).search(bad, 31)
    with pytest.raises(ValueError, match="is not a PDQ hash"):
        hamming(bad, "00" * 32)


def test_distance_must_be_within_the_hash() -> None:
    index = PdqIndex.from_hex([1], ["00" * 32])
    for bad in (-1, 257):
        with pytest.raises(ValueError, match=r"outside 0\.\.256"):
            index.search("00" * 32, bad)


def test_ids_and_hashes_must_pair_up() -> None:
    with pytest.raises(ValueError, match="2 ids for 1 hashes"):
        PdqIndex.from_hex([1, 2], ["00" * 32])


def test_hamming() -> None:
    assert hamming("00" * 32, "00" * 32) == 0
    assert hamming("00" * 32, "FF" * 32) == 256
    assert hamming("0f" + "00" * 31, "f0" + "00" * 31) == 8
