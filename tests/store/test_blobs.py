from __future__ import annotations

import multiprocessing
import os
import pickle
import stat
from pathlib import Path

import pytest

from himaya.errors import BlobKeyError, BlobStoreError
from himaya.store.blobs import MAGIC, BlobStore

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
# Recognizable plaintext: if any file under the store's root contains it, something wrote plaintext.
MARKER = b"HIMAYA-PLAINTEXT-MARKER-7f3a9c"


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs", KEY)


def _all_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_round_trip(store: BlobStore) -> None:
    payloads = [b"", b"x", MARKER * 1000, os.urandom(70_000)]
    ids = [store.put(p) for p in payloads]
    assert len(set(ids)) == len(ids)
    for blob_id, payload in zip(ids, payloads, strict=True):
        assert len(blob_id) == 32
        assert all(c in "0123456789abcdef" for c in blob_id)
        assert store.exists(blob_id)
        assert store.get(blob_id) == payload


def test_same_data_twice_gives_unrelated_blobs(store: BlobStore) -> None:
    a, b = store.put(MARKER), store.put(MARKER)
    assert a != b
    assert store.path_for(a).read_bytes() != store.path_for(b).read_bytes()


def test_layout_and_header(store: BlobStore) -> None:
    blob_id = store.put(MARKER)
    path = store.root / blob_id[:2] / blob_id[2:4] / blob_id
    assert store.path_for(blob_id) == path
    raw = path.read_bytes()
    assert raw.startswith(MAGIC)
    assert len(raw) == len(MAGIC) + 12 + len(MARKER) + 16
    assert _all_files(store.root) == [path], "no temp files are left behind"
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_plaintext_never_on_disk(store: BlobStore) -> None:
    ids = [store.put(MARKER + bytes([i]) * 100) for i in range(20)]
    store.delete(ids[0])
    files = _all_files(store.root)
    assert len(files) == 19
    for path in files:
        content = path.read_bytes()
        assert MARKER not in content
        assert MARKER[:12] not in content


def test_flipped_byte_is_detected(store: BlobStore) -> None:
    blob_id = store.put(MARKER)
    path = store.path_for(blob_id)
    for offset in (len(MAGIC), len(MAGIC) + 12, -1):  # nonce, ciphertext, tag
        raw = bytearray(store.path_for(blob_id).read_bytes())
        raw[offset] ^= 0x01
        path.write_bytes(bytes(raw))
        with pytest.raises(
            BlobStoreError, match=f"blob {blob_id} cannot be decrypted: wrong key file or tampered"
        ):
            store.get(blob_id)
        raw[offset] ^= 0x01
        path.write_bytes(bytes(raw))
        assert store.get(blob_id) == MARKER


def test_bad_header_or_truncated(store: BlobStore) -> None:
    blob_id = store.put(MARKER)
    path = store.path_for(blob_id)
    path.write_bytes(b"JUNK" + path.read_bytes()[4:])
    with pytest.raises(BlobStoreError, match="bad header"):
        store.get(blob_id)
    path.write_bytes(MAGIC + b"\0" * 10)
    with pytest.raises(BlobStoreError, match="bad header"):
        store.get(blob_id)


def test_wrong_key(store: BlobStore) -> None:
    blob_id = store.put(MARKER)
    with pytest.raises(BlobStoreError, match="wrong key file or tampered blob store"):
        BlobStore(store.root, OTHER_KEY).get(blob_id)


def test_swapped_blobs_are_detected(store: BlobStore) -> None:
    a, b = store.put(b"picture A"), store.put(b"picture B")
    path_a, path_b = store.path_for(a), store.path_for(b)
    content_a = path_a.read_bytes()
    path_a.write_bytes(path_b.read_bytes())
    path_b.write_bytes(content_a)
    for blob_id in (a, b):
        with pytest.raises(BlobStoreError, match=f"blob {blob_id} cannot be decrypted"):
            store.get(blob_id)


def test_renamed_blob_is_detected(store: BlobStore) -> None:
    a = store.put(b"picture A")
    forged = "f" * 32
    target = store.path_for(forged)
    target.parent.mkdir(parents=True)
    store.path_for(a).rename(target)
    assert not store.exists(a)
    with pytest.raises(BlobStoreError, match="cannot be decrypted"):
        store.get(forged)


def test_missing_blob(store: BlobStore) -> None:
    with pytest.raises(BlobStoreError, match="missing"):
        store.get("0" * 32)
    assert not store.exists("0" * 32)


def test_delete(store: BlobStore) -> None:
    blob_id = store.put(MARKER)
    assert store.delete(blob_id)
    assert not store.exists(blob_id)
    assert not store.delete(blob_id)


@pytest.mark.parametrize(
    "bad_id",
    [
        "../" + "a" * 29,
        "/etc/passwd",
        "A" * 32,
        "a" * 31,
        "a" * 33,
        "g" * 32,
        "",
        "a" * 30 + "/a",
        "a" * 31 + "\n",
    ],
)
def test_invalid_ids_are_refused(store: BlobStore, bad_id: str) -> None:
    for call in (store.get, store.exists, store.delete, store.path_for):
        with pytest.raises(BlobStoreError, match="invalid blob id"):
            call(bad_id)


def test_key_size_is_checked(tmp_path: Path) -> None:
    with pytest.raises(BlobKeyError, match="32 bytes"):
        BlobStore(tmp_path, b"short")


def test_repr_and_pickle_never_show_key_in_repr(store: BlobStore) -> None:
    assert KEY.hex() not in repr(store)
    assert repr(KEY) not in repr(store)
    clone = pickle.loads(pickle.dumps(store))
    blob_id = store.put(MARKER)
    assert clone.get(blob_id) == MARKER
    assert clone.root == store.root


def _put_in_worker(store: BlobStore, data: bytes) -> str:
    return store.put(data)


def test_usable_from_spawned_worker(store: BlobStore) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        blob_id = pool.apply(_put_in_worker, (store, MARKER))
    assert store.get(blob_id) == MARKER


def test_deferred_store_skips_fsync_and_sync_flushes_once(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import himaya.store.blobs as blobs_module

    fsyncs: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: fsyncs.append(fd) or real_fsync(fd))
    store.put(b"TEST durable")
    assert len(fsyncs) == 1  # the default store makes each blob durable before naming it
    deferred = store.deferred()
    ids = [deferred.put(f"TEST deferred {n}".encode()) for n in range(5)]
    assert len(fsyncs) == 1 and not deferred.durable
    calls: list[int] = []
    real_syncfs = blobs_module._syncfs
    monkeypatch.setattr(
        blobs_module, "_syncfs", lambda fd: calls.append(fd) or (real_syncfs(fd) if real_syncfs else 0)
    )
    store.sync()
    assert len(calls) == 1
    assert [store.get(blob_id) for blob_id in ids] == [f"TEST deferred {n}".encode() for n in range(5)]
