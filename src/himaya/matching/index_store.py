"""Each hash-set version's PDQ index, kept on disk beside the store so a list of millions is read once.

The files are caches of what the store holds (entry ids and their hashes), written in numpy's format
without pickle, so a tampered file cannot run code. An index whose size disagrees with the store is
rebuilt. A new version's index is derived from the previous version's: entries it retired are dropped
and entries it added are appended, because entries a version keeps unchanged keep their ids.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from himaya.matching.pdq_index import PDQ_BYTES, PdqIndex, pdq_codes
from himaya.matching.video import VideoIndex
from himaya.store.models import HashEntry, HashSetVersion

log = logging.getLogger(__name__)

READ_CHUNK = 100_000  # rows per fetch while reading a list's PDQ entries from the store


def _index_path(index_dir: Path, hash_set_id: int, version: HashSetVersion) -> Path:
    # The import time is part of the name: a store rebuilt under the same URL reuses version ids, and
    # its entries (the index's ids) are not the old ones.
    stamp = version.imported_at.strftime("%Y%m%dT%H%M%S%f") if version.imported_at else "0"
    return index_dir / f"pdq-set{hash_set_id}-version{version.id}-{stamp}"


def _active_pdq(hash_set_id: int) -> tuple[ColumnElement[bool], ...]:
    return (
        HashEntry.hash_set_id == hash_set_id,
        HashEntry.hash_type == "pdq",
        HashEntry.retired_version_id.is_(None),
    )


def pdq_index_for(
    session: Session, hash_set_id: int, version_id: int, index_dir: Path | None
) -> PdqIndex | None:
    """The PDQ index of a set's latest version (`version_id`); None when it holds no PDQ entries."""
    version = session.get(HashSetVersion, version_id)
    if version is None:
        return None
    expected = _pdq_count(session, version)
    if expected == 0:
        return None
    if index_dir is None:
        return _build(session, hash_set_id, expected)
    path = _index_path(index_dir, hash_set_id, version)
    index = _load(path)
    if index is not None and len(index) == expected:
        return index
    index = _derive(session, hash_set_id, version, index_dir)
    if index is None or len(index) != expected:
        index = _build(session, hash_set_id, expected)
    _save(index, path)
    _drop_older(index_dir, hash_set_id, keep=path)
    # Served from the file from now on: memory-mapped, and sent to scan workers as its path.
    return _load(path) or index


def _pdq_count(session: Session, version: HashSetVersion) -> int:
    return _count(session, version, "pdq")


def _load(path: Path) -> PdqIndex | None:
    if not path.exists():
        return None
    try:
        return PdqIndex.load(path, mmap=True)
    except (OSError, ValueError) as error:
        log.warning("PDQ index %s is unreadable (%s); rebuilding it from the store", path, error)
        return None


def _save(index: PdqIndex, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial) if partial.is_dir() else partial.unlink()
    index.save(partial)
    if path.exists():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    partial.rename(path)  # readers see the old index or the new one, never half of one


def _drop_older(index_dir: Path, hash_set_id: int, keep: Path, prefix: str = "pdq") -> None:
    """Remove the set's indexes but `keep` and the one before it: a scan that started before this
    version may still be mapping (or restarting workers on) the previous one."""

    def version_of(folder: Path) -> int:
        return int(folder.name.split("version", 1)[1].split("-", 1)[0])

    older = sorted(
        (old for old in index_dir.glob(f"{prefix}-set{hash_set_id}-version*") if old.name[-1].isdigit()),
        key=version_of,
    )
    for old in older[:-2] if keep in older else older:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)


def _derive(session: Session, hash_set_id: int, version: HashSetVersion, index_dir: Path) -> PdqIndex | None:
    """The new version's index from the previous version's file, when there is one."""
    version_id = version.id
    if version.version <= 1:
        return None
    before = session.scalars(
        select(HashSetVersion).where(
            HashSetVersion.hash_set_id == hash_set_id, HashSetVersion.version == version.version - 1
        )
    ).first()
    if before is None:
        return None
    previous = _load(_index_path(index_dir, hash_set_id, before))
    if previous is None:
        return None
    removed = session.scalars(
        select(HashEntry.id).where(
            HashEntry.hash_set_id == hash_set_id,
            HashEntry.hash_type == "pdq",
            HashEntry.retired_version_id == version_id,
        )
    ).all()
    added = session.execute(
        select(HashEntry.id, HashEntry.value)
        .where(*_active_pdq(hash_set_id), HashEntry.version_id == version_id)
        .order_by(HashEntry.id)
    ).all()
    ids = np.asarray([entry_id for entry_id, _ in added], dtype=np.int64)
    codes = pdq_codes([value for _, value in added]) if added else np.zeros((0, PDQ_BYTES), np.uint8)
    return previous.updated(np.asarray(removed, dtype=np.int64), ids, codes)


def _build(session: Session, hash_set_id: int, expected: int = 0) -> PdqIndex:
    """Read the set's active PDQ entries in chunks straight into the index's arrays.

    Through the database driver's own cursor: SQLAlchemy's row objects cost more than the rest of the
    build for a list of millions. On SQLite, a set that is a large part of the table is read by one scan
    of the table rather than through its index: five times faster for a list of millions (index order
    means a random read of each row), and the order of the entries does not matter to the index.
    """
    id_chunks: list[np.ndarray] = []
    code_chunks: list[np.ndarray] = []
    connection = session.connection()
    source = "hash_entries"
    if connection.dialect.name == "sqlite":
        rows_in_table = connection.exec_driver_sql("SELECT max(id) FROM hash_entries").scalar() or 0
        if expected * 4 >= rows_in_table:
            source = "hash_entries NOT INDEXED"
    # int(): the only value in the statement, so the driver's parameter style does not matter.
    query = (
        f"SELECT id, value FROM {source} WHERE hash_type = 'pdq' AND retired_version_id IS NULL"  # noqa: S608
        f" AND hash_set_id = {int(hash_set_id)}"
    )
    cursor = connection.exec_driver_sql(query)
    while rows := cursor.fetchmany(READ_CHUNK):
        ids, values = zip(*rows, strict=True)
        id_chunks.append(np.asarray(ids, dtype=np.int64))
        code_chunks.append(pdq_codes(values))
    if not id_chunks:
        return PdqIndex(np.zeros(0, np.int64), np.zeros((0, PDQ_BYTES), np.uint8))
    return PdqIndex(np.concatenate(id_chunks), np.concatenate(code_chunks))


def video_index_for(
    session: Session, hash_set_id: int, version_id: int, index_dir: Path | None
) -> VideoIndex | None:
    """The frames of the known videos (vpdq entries) of a set's latest version; None when it has none.

    Kept on disk like the PDQ index (rebuilt when its entry count disagrees with the version's), since
    reading a list of thousands of videos means parsing millions of frame lines.
    """
    version = session.get(HashSetVersion, version_id)
    if version is None:
        return None
    expected = _count(session, version, "vpdq")
    if expected == 0:
        return None
    if index_dir is None:
        return _build_video(session, hash_set_id)[0]
    stamp = version.imported_at.strftime("%Y%m%dT%H%M%S%f") if version.imported_at else "0"
    path = index_dir / f"vpdq-set{hash_set_id}-version{version.id}-{stamp}"
    marker = path / "entries.count"
    if path.exists():
        try:
            if int(marker.read_text()) == expected:
                return VideoIndex.load(path)
        except (OSError, ValueError) as error:
            log.warning("video index %s is unreadable (%s); rebuilding it from the store", path, error)
    index, entries = _build_video(session, hash_set_id)
    partial = path.with_name(path.name + ".partial")
    for stale in (partial, path):
        if stale.exists():
            shutil.rmtree(stale)
    index.save(partial)
    (partial / "entries.count").write_text(str(entries))
    partial.rename(path)
    _drop_older(index_dir, hash_set_id, keep=path, prefix="vpdq")
    return VideoIndex.load(path)


def _count(session: Session, version: HashSetVersion, hash_type: str) -> int:
    """Active entries of a type in the version: recorded at import; counted only for versions from before."""
    try:
        counts = json.loads(version.details or "{}").get("counts")
    except (ValueError, AttributeError):
        counts = None
    if isinstance(counts, dict):
        return int(counts.get(hash_type, 0))
    return (
        session.scalar(
            select(func.count())
            .select_from(HashEntry)
            .where(
                HashEntry.hash_set_id == version.hash_set_id,
                HashEntry.hash_type == hash_type,
                HashEntry.retired_version_id.is_(None),
            )
        )
        or 0
    )


def _build_video(session: Session, hash_set_id: int) -> tuple[VideoIndex, int]:
    from himaya.hashsets.vpdq import frames_of_entry

    rows = session.execute(
        select(HashEntry.id, HashEntry.details)
        .where(
            HashEntry.hash_set_id == hash_set_id,
            HashEntry.hash_type == "vpdq",
            HashEntry.retired_version_id.is_(None),
        )
        .order_by(HashEntry.id)
    ).all()
    videos = [
        (entry_id, [(f.pdq, f.quality, f.timestamp) for f in frames_of_entry(details or "{}")])
        for entry_id, details in rows
    ]
    return VideoIndex.build(videos), len(rows)
