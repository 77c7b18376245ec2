"""Importing a hash list as a new version of a named hash set, all-or-nothing.

Each import of changed content is a new `HashSetVersion`; earlier versions and their entries stay, because
every match records the version it was made against and a court may ask to re-run that comparison.
Matching uses only the latest version of each set.
"""

from __future__ import annotations

import codecs
import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from himaya.errors import HashSetFormatError, UsageError
from himaya.hashsets.plain import ParsedEntry, check_hash_type, read_plain
from himaya.store.db import Store
from himaya.store.models import HashEntry, HashSet, HashSetVersion

KINDS = ("alert", "ignore")
FORMATS = ("auto", "plain")
NOT_YET_SUPPORTED = ("vics", "icse")  # in the CLI contract; their readers land in a later issue
DEFAULT_PDQ_THRESHOLD = 31
DEFAULT_PDQ_MIN_QUALITY = 50
INSERT_CHUNK = 10_000  # rows per bulk INSERT: large enough to be fast, small enough to bound memory

_CONVERT_HINT = (
    "convert to a plain list (one hash per line, or CSV with columns md5, sha1, sha256, pdq, category, "
    "series) and import it with --format plain"
)


@dataclass(frozen=True)
class ImportSummary:
    hash_set: str
    kind: str
    version: int  # 1, 2, ... within the hash set
    version_id: int  # HashSetVersion.id: what matches record and what a re-match of old cases starts from
    counts: dict[str, int]  # entries per hash type ("md5", "sha1", "sha256", "pdq"), duplicates removed
    unchanged: bool  # the file was byte-identical to the latest version: no new version was made
    source_sha256: str

    @property
    def entry_count(self) -> int:
        return sum(self.counts.values())


def import_hash_set(
    store: Store,
    path: Path,
    *,
    name: str,
    kind: str = "alert",
    fmt: str = "auto",
    hash_type: str | None = None,
    pdq_threshold: int | None = None,
    pdq_min_quality: int | None = None,
) -> ImportSummary:
    """Store `path` as the next version of hash set `name` (created if new).

    The file is parsed and validated completely before the single write transaction starts, so a bad
    line leaves the store exactly as it was. `pdq_threshold` / `pdq_min_quality` of None keep the set's
    current values (31 / 50 for a new set); a number replaces them.
    """
    name = name.strip()
    if not name:
        raise UsageError("--name must not be empty; name the hash set, e.g. --name 'NCMEC-2024-06'")
    if kind not in KINDS:
        raise UsageError(f"--kind {kind!r} is not a hash-set kind; use --kind alert or --kind ignore")
    _check_format(fmt)
    check_hash_type(hash_type)
    _check_range("--pdq-threshold", pdq_threshold, 0, 256)
    _check_range("--pdq-min-quality", pdq_min_quality, 0, 100)
    if not path.is_file():
        raise UsageError(f"hash list {path} does not exist or is not a file; check the path")

    source_sha256 = _sha256_of(path)
    request = _Request(name, kind, source_sha256, pdq_threshold, pdq_min_quality)
    # Cheap checks first, so that a kind conflict or an unchanged re-import of a large list costs no parse.
    with store.transaction() as session:
        summary = _existing_outcome(session, request)
        if summary is not None:
            return summary

    # Parsed outside any transaction: reading a large list must not hold SQLite's write lock.
    entries = _parse(path, fmt, hash_type)
    # The version records the file's SHA256 as provenance, so it must be the hash of the bytes just read.
    if _sha256_of(path) != source_sha256:
        raise HashSetFormatError(
            str(path),
            None,
            "the file changed while it was being imported",
            "wait until it is complete, then retry",
        )

    with store.transaction() as session:
        summary = _existing_outcome(session, request)  # another process may have imported meanwhile
        if summary is not None:
            return summary
        hash_set = session.scalars(select(HashSet).where(HashSet.name == name)).one_or_none()
        if hash_set is None:
            hash_set = HashSet(
                name=name,
                kind=kind,
                pdq_threshold=DEFAULT_PDQ_THRESHOLD,
                pdq_min_quality=DEFAULT_PDQ_MIN_QUALITY,
            )
            session.add(hash_set)
        _apply_thresholds(hash_set, request)
        session.flush()
        previous = session.scalar(
            select(func.max(HashSetVersion.version)).where(HashSetVersion.hash_set_id == hash_set.id)
        )
        version = HashSetVersion(
            hash_set_id=hash_set.id,
            version=(previous or 0) + 1,
            source_file=str(path.resolve()),
            source_sha256=source_sha256,
            format="plain",
            entry_count=len(entries),
        )
        session.add(version)
        session.flush()
        _insert_entries(session, version.id, entries)
        counts = Counter(entry.hash_type for entry in entries)
        return ImportSummary(
            hash_set=name,
            kind=kind,
            version=version.version,
            version_id=version.id,
            counts={hash_type: counts[hash_type] for hash_type in sorted(counts)},
            unchanged=False,
            source_sha256=source_sha256,
        )


@dataclass(frozen=True)
class _Request:
    name: str
    kind: str
    source_sha256: str
    pdq_threshold: int | None
    pdq_min_quality: int | None


def _existing_outcome(session: Session, request: _Request) -> ImportSummary | None:
    """Refuse a kind conflict; settle an unchanged re-import. None: a new version is to be written."""
    hash_set = session.scalars(select(HashSet).where(HashSet.name == request.name)).one_or_none()
    if hash_set is None:
        return None
    if hash_set.kind != request.kind:
        raise UsageError(
            f"hash set {request.name!r} is an {hash_set.kind} set, so it cannot take a version of kind "
            f"{request.kind!r} (alert sets flag files, ignore sets clear them); pass --kind {hash_set.kind} "
            f"to add a version, or import the list under another --name"
        )
    latest = session.scalars(
        select(HashSetVersion)
        .where(HashSetVersion.hash_set_id == hash_set.id)
        .order_by(HashSetVersion.version.desc())
        .limit(1)
    ).first()
    if latest is None or latest.source_sha256 != request.source_sha256:
        return None
    _apply_thresholds(hash_set, request)
    rows = session.execute(
        select(HashEntry.hash_type, func.count())
        .where(HashEntry.version_id == latest.id)
        .group_by(HashEntry.hash_type)
        .order_by(HashEntry.hash_type)
    ).all()
    return ImportSummary(
        hash_set=hash_set.name,
        kind=hash_set.kind,
        version=latest.version,
        version_id=latest.id,
        counts={hash_type: count for hash_type, count in rows},
        unchanged=True,
        source_sha256=request.source_sha256,
    )


def _apply_thresholds(hash_set: HashSet, request: _Request) -> None:
    if request.pdq_threshold is not None:
        hash_set.pdq_threshold = request.pdq_threshold
    if request.pdq_min_quality is not None:
        hash_set.pdq_min_quality = request.pdq_min_quality


def _insert_entries(session: Session, version_id: int, entries: Sequence[ParsedEntry]) -> None:
    for start in range(0, len(entries), INSERT_CHUNK):
        _insert_chunk(session, version_id, entries[start : start + INSERT_CHUNK])


def _insert_chunk(session: Session, version_id: int, entries: Iterable[ParsedEntry]) -> None:
    rows = [
        {
            "version_id": version_id,
            "hash_type": entry.hash_type,
            "value": entry.value,
            "category": entry.category,
            "series": entry.series,
            "line": entry.line,
        }
        for entry in entries
    ]
    session.execute(insert(HashEntry), rows)


def _check_format(fmt: str) -> None:
    if fmt in NOT_YET_SUPPORTED:
        raise UsageError(f"--format {fmt} is not supported yet by this version; {_CONVERT_HINT}")
    if fmt not in FORMATS:
        choices = ", ".join((*FORMATS, *NOT_YET_SUPPORTED))
        raise UsageError(f"--format {fmt!r} is not a hash-set format; use one of {choices}")


def _check_range(option: str, value: int | None, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        raise UsageError(f"{option} {value} is out of range; use a whole number from {low} to {high}")


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _parse(path: Path, fmt: str, hash_type: str | None) -> list[ParsedEntry]:
    # Checked for --format plain too: a JSON or XML file would otherwise fail on "line 1: not hex", which
    # hides the real problem.
    first = _first_character(path)
    if first in ("{", "["):
        raise HashSetFormatError(
            str(path), None, "VICS JSON is not supported yet by this version", _CONVERT_HINT
        )
    if first == "<":
        raise HashSetFormatError(
            str(path),
            None,
            "XML hash sets (ICSE, VICS XML) are not supported yet by this version",
            _CONVERT_HINT,
        )
    return read_plain(path, hash_type)


def _first_character(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = head.decode("utf-16", errors="ignore")
    else:
        text = head.removeprefix(codecs.BOM_UTF8).decode("utf-8", errors="ignore")
    stripped = text.lstrip()
    return stripped[:1]
