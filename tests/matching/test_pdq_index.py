"""The PDQ index: exact answers against a brute-force oracle, persistence, incremental updates.

The exhaustive recall properties, kernel by kernel, are in test_pdq_recall.py. Hashes are random bit
strings (seeded), not hashes of any picture.
"""

from __future__ import annotations

import json
import mmap
import multiprocessing
import pickle
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from himaya.matching import pdq_index
from himaya.matching.pdq_index import PdqIndex, available_kernels, hamming

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


def test_native_kernel_is_built() -> None:
    """Without the C kernel the index still works (through faiss) but is several times slower."""
    assert pdq_index.HAVE_NATIVE, (
        "himaya.matching._pdqscan is not built: run `rm .venv/.installed && make setup`"
    )
    assert "popcnt" in available_kernels() or "generic" in available_kernels()
    assert available_kernels()[-1] == "faiss"


def test_unknown_kernel_and_bad_query_shape_are_refused() -> None:
    index = PdqIndex.from_hex([1], ["00" * 32])
    with pytest.raises(ValueError, match="kernel 'gpu'"):
        index.search_codes(np.zeros((1, 32), np.uint8), 31, kernel="gpu")
    with pytest.raises(ValueError, match="queries of 32 bytes"):
        index.search_codes(np.zeros((1, 31), np.uint8), 31)


def random_index(seed: int, size: int) -> PdqIndex:
    rng = np.random.default_rng(seed)
    ids = rng.permutation(size * 3)[:size].astype(np.int64) + 1
    return PdqIndex(ids, rng.integers(0, 256, size=(size, 32), dtype=np.uint8))


def file_backed(array: np.ndarray) -> bool:
    """Whether the array's memory is a mapped file (not a copy read into memory)."""
    base = array
    while base is not None:
        if isinstance(base, (mmap.mmap, np.memmap)):
            return True
        base = getattr(base, "base", None)
    return False


@pytest.mark.parametrize("mapped", [True, False])
@pytest.mark.parametrize("size", [0, 1, 2, 5_000])
def test_save_and_load_round_trip(tmp_path: Path, mapped: bool, size: int) -> None:
    index = random_index(size, size)
    index.save(tmp_path / "index")
    assert sorted(p.name for p in (tmp_path / "index").iterdir()) == ["codes.npy", "ids.npy", "index.json"]
    loaded = PdqIndex.load(tmp_path / "index", mmap=mapped)
    assert len(loaded) == size
    assert file_backed(loaded.codes) == file_backed(loaded.ids) == mapped
    assert np.array_equal(loaded.ids, index.ids) and np.array_equal(loaded.codes, index.codes)
    queries = [bytes(code).hex() for code in index.codes[:50]] + ["00" * 32]
    assert loaded.search_many(queries, 40) == index.search_many(queries, 40)
    copy = pickle.loads(pickle.dumps(loaded))  # a memory-mapped index pickles as its data
    assert copy.search_many(queries, 40) == index.search_many(queries, 40)


def test_save_does_not_overwrite(tmp_path: Path) -> None:
    random_index(1, 3).save(tmp_path / "index")
    with pytest.raises(FileExistsError):
        random_index(2, 3).save(tmp_path / "index")


def _corrupt_json(folder: Path) -> None:
    (folder / "index.json").write_text("{not json")


def _wrong_format(folder: Path) -> None:
    (folder / "index.json").write_text(
        json.dumps({"format": "other", "version": 1, "bits": 256, "count": 10})
    )


def _newer_version(folder: Path) -> None:
    (folder / "index.json").write_text(
        json.dumps({"format": "himaya-pdq-index", "version": 2, "bits": 256, "count": 10})
    )


def _wrong_count(folder: Path) -> None:
    (folder / "index.json").write_text(
        json.dumps({"format": "himaya-pdq-index", "version": 1, "bits": 256, "count": 11})
    )


def _truncated_codes(folder: Path) -> None:
    data = (folder / "codes.npy").read_bytes()
    (folder / "codes.npy").write_bytes(data[: len(data) - 40])


def _garbage_ids(folder: Path) -> None:
    (folder / "ids.npy").write_bytes(b"\x93NUMPY garbage" * 10)


def _ids_as_float(folder: Path) -> None:
    np.save(folder / "ids.npy", np.arange(10, dtype=np.float64))


def _codes_wrong_width(folder: Path) -> None:
    np.save(folder / "codes.npy", np.zeros((10, 31), dtype=np.uint8))


def _codes_fortran_order(folder: Path) -> None:
    np.save(folder / "codes.npy", np.asfortranarray(np.zeros((10, 32), dtype=np.uint8)))


def _ids_pickled(folder: Path) -> None:
    np.save(folder / "ids.npy", np.array([object()] * 10, dtype=object), allow_pickle=True)


def _missing_codes(folder: Path) -> None:
    (folder / "codes.npy").unlink()


def _missing_meta(folder: Path) -> None:
    (folder / "index.json").unlink()


@pytest.mark.parametrize(
    "damage",
    [
        _corrupt_json,
        _wrong_format,
        _newer_version,
        _wrong_count,
        _truncated_codes,
        _garbage_ids,
        _ids_as_float,
        _codes_wrong_width,
        _codes_fortran_order,
        _ids_pickled,
        _missing_codes,
        _missing_meta,
    ],
)
@pytest.mark.parametrize("mapped", [True, False])
def test_corrupt_index_is_refused(tmp_path: Path, damage: Callable[[Path], None], mapped: bool) -> None:
    random_index(3, 10).save(tmp_path / "index")
    damage(tmp_path / "index")
    with pytest.raises(ValueError, match=r"index|corrupt"):
        PdqIndex.load(tmp_path / "index", mmap=mapped)


def test_a_file_or_missing_folder_is_not_an_index(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    for path in (tmp_path / "file", tmp_path / "missing"):
        with pytest.raises(ValueError, match="not a PDQ index folder"):
            PdqIndex.load(path)


@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    size=st.integers(min_value=0, max_value=300),
    removed_share=st.floats(min_value=0, max_value=1),
    added=st.integers(min_value=0, max_value=50),
)
def test_updated_equals_a_rebuild(seed: int, size: int, removed_share: float, added: int) -> None:
    rng = random.Random(seed)
    entries = {n + 1: to_hex(rng.getrandbits(BITS)) for n in range(size)}
    previous = PdqIndex.from_hex(list(entries), list(entries.values()))
    removed = [entry_id for entry_id in entries if rng.random() < removed_share]
    removed_unknown = [10_000_000]  # an id the index never held is ignored
    new = {size + 1_000 + n: to_hex(rng.getrandbits(BITS)) for n in range(added)}
    # Some added hashes equal or sit near kept and removed ones.
    for entry_id in list(new)[: len(entries)]:
        new[entry_id] = to_hex(
            at_distance(int(rng.choice(list(entries.values())), 16), rng.randrange(40), rng)
        )
    updated = previous.updated(
        np.asarray(removed + removed_unknown, dtype=np.int64),
        np.asarray(list(new), dtype=np.int64),
        pdq_index.pdq_codes(list(new.values())),
    )
    expected = {i: h for i, h in entries.items() if i not in set(removed)} | new
    rebuilt = PdqIndex.from_hex(sorted(expected), [expected[i] for i in sorted(expected)])
    assert len(updated) == len(rebuilt) == len(expected)
    assert len(previous) == size  # unchanged
    order = np.argsort(updated.ids)
    assert np.array_equal(updated.ids[order], rebuilt.ids)
    assert np.array_equal(updated.codes[order], rebuilt.codes)
    queries = [*list(expected.values())[:20], *list(entries.values())[:10], to_hex(rng.getrandbits(BITS))]
    assert updated.search_many(queries, 31) == rebuilt.search_many(queries, 31)


def test_updated_refuses_misshapen_additions() -> None:
    index = PdqIndex.from_hex([1], ["00" * 32])
    with pytest.raises(ValueError, match="2 added codes"):
        index.updated(np.zeros(0, np.int64), np.asarray([2, 3]), np.zeros((1, 32), np.uint8))


def test_updated_from_a_loaded_index(tmp_path: Path) -> None:
    index = random_index(4, 1_000)
    index.save(tmp_path / "v1")
    loaded = PdqIndex.load(tmp_path / "v1")
    removed = loaded.ids[:10].copy()
    updated = loaded.updated(removed, np.asarray([5_000], np.int64), np.full((1, 32), 7, np.uint8))
    updated.save(tmp_path / "v2")
    again = PdqIndex.load(tmp_path / "v2")
    assert len(again) == 991
    assert again.search("07" * 32, 0) == [(5_000, 0)]
    assert not np.isin(removed, again.ids).any()
