"""Each hash-set version's PDQ index on disk: built once, derived for the next version, rebuilt if damaged.

Every hash is random (no picture at all) and every set's name says TEST.
"""

from __future__ import annotations

import pickle
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from himaya.hashsets.importer import import_hash_set
from himaya.matching import index_store
from himaya.matching.active import load_active
from himaya.matching.pdq_index import PdqIndex
from himaya.store.db import Store, open_store
from himaya.store.models import HashSetVersion


def random_pdq(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Iterator[Store]:
    store = open_store(himaya_env["home"])
    yield store
    store.close()


def write_pdq_list(path: Path, hashes: list[str]) -> Path:
    path.write_text("pdq,category\n" + "".join(f"{value},1\n" for value in hashes), encoding="utf-8")
    return path


def active_index(store: Store) -> PdqIndex:
    with store.session() as session:
        (pdq_set,) = load_active(session, store.index_dir).pdq
    return pdq_set.index


def folders(store: Store) -> list[str]:
    assert store.index_dir is not None
    return sorted(p.name for p in store.index_dir.iterdir())


def test_first_use_builds_and_saves_later_uses_map_the_file(store: Store, tmp_path: Path) -> None:
    rng = random.Random(1)
    hashes = [random_pdq(rng) for _ in range(500)]
    import_hash_set(store, write_pdq_list(tmp_path / "TEST-pdq.csv", hashes), name="TEST-pdq")
    first = active_index(store)
    assert len(first) == 500
    assert len(folders(store)) == 1
    again = active_index(store)
    assert again.search(hashes[7], 0)[0][1] == 0
    # A mapped index travels to scan workers as its path, not as 500 x 40 bytes of data.
    payload = pickle.dumps(again)
    assert len(payload) < 1000
    copy = pickle.loads(payload)
    assert copy.search(hashes[7], 0) == again.search(hashes[7], 0)


def test_a_new_version_is_derived_from_the_previous_index(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(2)
    hashes = [random_pdq(rng) for _ in range(300)]
    path = tmp_path / "TEST-pdq.csv"
    import_hash_set(store, write_pdq_list(path, hashes), name="TEST-pdq")
    active_index(store)
    added = [random_pdq(rng) for _ in range(5)]
    import_hash_set(store, write_pdq_list(path, hashes[10:] + added), name="TEST-pdq")

    def no_full_rebuild(*_args: object) -> PdqIndex:
        raise AssertionError("the previous version's index should have been reused")

    monkeypatch.setattr(index_store, "_build", no_full_rebuild)
    index = active_index(store)
    assert len(index) == 295
    assert index.search(hashes[3], 0) == []  # withdrawn by the new version
    assert index.search(added[4], 0)[0][1] == 0
    assert index.search(hashes[200], 0)[0][1] == 0
    assert len(folders(store)) == 2  # this version's and the one before, for scans still using it


def test_a_damaged_or_stale_index_is_rebuilt_from_the_store(store: Store, tmp_path: Path) -> None:
    rng = random.Random(3)
    hashes = [random_pdq(rng) for _ in range(50)]
    import_hash_set(store, write_pdq_list(tmp_path / "TEST-pdq.csv", hashes), name="TEST-pdq")
    active_index(store)
    assert store.index_dir is not None
    (folder,) = store.index_dir.iterdir()
    (folder / "codes.npy").write_bytes(b"TEST damaged")
    assert len(active_index(store)) == 50
    # An index that disagrees with the store (a file from another store, say) is not trusted either.
    PdqIndex.from_hex([1], [hashes[0]]).save(tmp_path / "one")
    for name in ("index.json", "ids.npy", "codes.npy"):
        (folder / name).write_bytes((tmp_path / "one" / name).read_bytes())
    index = active_index(store)
    assert len(index) == 50
    assert all(index.search(value, 0) for value in hashes)


def test_only_the_two_newest_versions_are_kept(store: Store, tmp_path: Path) -> None:
    rng = random.Random(4)
    path = tmp_path / "TEST-pdq.csv"
    for _ in range(4):
        import_hash_set(store, write_pdq_list(path, [random_pdq(rng) for _ in range(20)]), name="TEST-pdq")
        active_index(store)
    with store.session() as session:
        rows = session.execute(select(HashSetVersion.hash_set_id, HashSetVersion.id)).all()
    newest = sorted(rows, key=lambda row: row[1])[-2:]
    assert [name.rsplit("-", 1)[0] for name in folders(store)] == sorted(
        f"pdq-set{set_id}-version{version_id}" for set_id, version_id in newest
    )


def test_no_index_folder_builds_in_memory(store: Store, tmp_path: Path) -> None:
    rng = random.Random(5)
    hashes = [random_pdq(rng) for _ in range(10)]
    import_hash_set(store, write_pdq_list(tmp_path / "TEST-pdq.csv", hashes), name="TEST-pdq")
    with store.session() as session:
        (pdq_set,) = load_active(session, None).pdq
    assert len(pdq_set.index) == 10
    assert store.index_dir is not None and not store.index_dir.exists()
