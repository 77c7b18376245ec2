"""`himaya hashset export`: a hash set's version as VICS, ICSE, a plain list or vPDQ files, to share.

A national list goes to Interpol as ICSE, to Project VIC partners as VICS; what the unit imported comes
back out with the labels, series, flags and details (PhotoDNA, comments, file names) its source gave.
Entries of one media item (VICS MediaID, ICSE Image ID) go out together. Each export imports again as
the same entries; ICSE has no column for SHA256 or PDQ, so those entries are counted as left out.
Known videos (vPDQ entries) fit none of these lists: they go out as a folder of vPDQ hash files, one
per video (`export_vpdq`), and the other formats count them as left out.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from himaya import __version__
from himaya.errors import UsageError
from himaya.hashsets.icse import IcseRow, write_icse
from himaya.hashsets.importer import entries_alive_at
from himaya.hashsets.plain import LIST_HASH_TYPES
from himaya.hashsets.vics import VicsCase, VicsMedia, write_vics_cases
from himaya.hashsets.vpdq import VpdqFrame, file_names, frames_of_entry, write_vpdq_folder
from himaya.store.db import Store
from himaya.store.models import HashEntry, HashSet, HashSetVersion

FORMATS = ("vics", "icse", "plain", "vpdq")
READ_CHUNK = 10_000


@dataclass(frozen=True)
class ExportSummary:
    hash_set: str
    version: int
    written: int  # media items (VICS, ICSE), entries (plain) or videos (vPDQ)
    left_out: int = 0  # entries the format has no place for, videos_left_out included
    videos_left_out: int = 0  # vPDQ entries: exported with --format vpdq only


@dataclass
class _Item:
    media_id: str
    category: str | None
    series: str | None
    victim_identified: bool | None
    offender_identified: bool | None
    details: dict[str, Any]
    hashes: dict[str, str] = field(default_factory=dict)


def export_hash_set(
    store: Store, name: str, fmt: str, out: BinaryIO | TextIO, version: int | None = None
) -> ExportSummary:
    """Write version `version` (default: the latest) of hash set `name` to `out` (binary for VICS).

    vPDQ entries are counted as left out; `export_vpdq` writes them.
    """
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} cannot be exported; use one of {', '.join(FORMATS)}")
    if fmt == "vpdq":
        raise UsageError("--format vpdq writes a folder of vPDQ hash files; give --out a folder")
    with store.session() as session:
        hash_set, chosen = _chosen(session, name, version)
        videos = _count_videos(session, chosen)
        if fmt == "plain":
            summary = _plain(session, hash_set, chosen, cast(TextIO, out))
            return ExportSummary(summary.hash_set, summary.version, summary.written, videos, videos)
        items = _items(session, chosen)
        if fmt == "vics":
            written = write_vics_cases(
                cast(BinaryIO, out),
                VicsCase(
                    case_number=f"{hash_set.name} v{chosen.version}",
                    contact_name=None,
                    contact_email=None,
                    agency=None,
                    source_application=f"Himaya {__version__}",
                    media=(_vics_media(item) for item in items),
                ),
            )
            return ExportSummary(hash_set.name, chosen.version, written, videos, videos)
        left_out = videos

        def icse_rows() -> Iterator[IcseRow]:
            nonlocal left_out
            for item in items:
                left_out += sum(1 for hash_type in ("sha256", "pdq") if hash_type in item.hashes)
                if "md5" in item.hashes or "sha1" in item.hashes:
                    yield _icse_row(item)

        written = write_icse(cast(TextIO, out), icse_rows())
        return ExportSummary(hash_set.name, chosen.version, written, left_out, videos)


def export_vpdq(store: Store, name: str, folder: Path, version: int | None = None) -> ExportSummary:
    """Write each known video of version `version` (default: the latest) of hash set `name` into `folder`
    as a vPDQ hash file named after its media id (see `himaya.hashsets.vpdq.file_names`).

    The folder is created if missing; a file already there is never overwritten: the export is refused
    before anything is written. Entries of other hash types are counted as left out.
    """
    with store.session() as session:
        hash_set, chosen = _chosen(session, name, version)
        alive = (*entries_alive_at(chosen), HashEntry.hash_type == "vpdq")
        planned = session.execute(
            select(HashEntry.id, HashEntry.media_id, HashEntry.value).where(*alive).order_by(HashEntry.id)
        ).all()
        names = dict(
            zip(
                (row.id for row in planned),
                file_names((row.media_id, row.value) for row in planned),
                strict=True,
            )
        )
        if folder.exists() and not folder.is_dir():
            raise UsageError(
                f"{folder} is a file; --format vpdq writes into a folder, so give --out a folder"
            )
        there = [file for file in names.values() if (folder / file).exists()]
        if there:
            raise UsageError(
                f"{folder} holds {there[0]} already ({len(there)} of the {len(names)} files to write are "
                "there); export into an empty folder, or move those files away"
            )
        total = session.scalar(select(func.count()).select_from(HashEntry).where(*entries_alive_at(chosen)))
        query = select(HashEntry.id, HashEntry.details).where(*alive).order_by(HashEntry.id)

        def videos() -> Iterator[tuple[str, list[VpdqFrame]]]:
            for row in session.execute(query.execution_options(yield_per=READ_CHUNK)):
                yield names[row.id], frames_of_entry(row.details)

        written = write_vpdq_folder(folder, videos())
        return ExportSummary(hash_set.name, chosen.version, written, (total or 0) - written)


def _chosen(session: Session, name: str, number: int | None) -> tuple[HashSet, HashSetVersion]:
    hash_set = session.scalar(select(HashSet).where(HashSet.name == name))
    if hash_set is None:
        raise UsageError(f"no hash set named {name!r}; `himaya hashset list` shows them")
    chosen = _version(session, hash_set, number)
    if chosen.format == "nsrl":
        raise UsageError(f"{name!r} is an attached NSRL database; share the RDS file itself")
    return hash_set, chosen


def _count_videos(session: Session, version: HashSetVersion) -> int:
    alive = (*entries_alive_at(version), HashEntry.hash_type == "vpdq")
    return session.scalar(select(func.count()).select_from(HashEntry).where(*alive)) or 0


def _version(session: Session, hash_set: HashSet, number: int | None) -> HashSetVersion:
    query = select(HashSetVersion).where(HashSetVersion.hash_set_id == hash_set.id)
    if number is None:
        found = session.scalars(query.order_by(HashSetVersion.version.desc()).limit(1)).first()
    else:
        found = session.scalar(query.where(HashSetVersion.version == number))
    if found is None:
        raise UsageError(
            f"hash set {hash_set.name!r} has no version {number}; `himaya hashset list` shows it"
        )
    return found


def _entries(session: Session, version: HashSetVersion) -> Iterator[HashEntry]:
    """The version's entries that lists can hold: all but the vPDQ videos."""
    query = (
        select(HashEntry)
        .where(*entries_alive_at(version), HashEntry.hash_type.in_(LIST_HASH_TYPES))
        .order_by(HashEntry.media_id, HashEntry.id)
        .execution_options(yield_per=READ_CHUNK)
    )
    yield from session.scalars(query)


def _items(session: Session, version: HashSetVersion) -> Iterator[_Item]:
    """Entries grouped into media items: by media id where the source gave one, else one per entry."""
    current: _Item | None = None
    for n, entry in enumerate(_entries(session, version), start=1):
        if current is not None and (entry.media_id is None or entry.media_id != current.media_id):
            yield current
            current = None
        if current is None:
            current = _Item(
                media_id=entry.media_id or f"H{n}",
                category=entry.category,
                series=entry.series,
                victim_identified=entry.victim_identified,
                offender_identified=entry.offender_identified,
                details=json.loads(entry.details) if entry.details else {},
            )
        current.hashes.setdefault(entry.hash_type, entry.value)
    if current is not None:
        yield current


def _vics_media(item: _Item) -> VicsMedia:
    files = item.details.get("MediaFiles") or []
    return VicsMedia(
        media_id=item.media_id,
        category=item.category,
        md5=item.hashes.get("md5"),
        sha1=item.hashes.get("sha1"),
        sha256=item.hashes.get("sha256"),
        pdq=item.hashes.get("pdq"),
        series=item.series,
        victim_identified=item.victim_identified,
        offender_identified=item.offender_identified,
        is_distributed=item.details.get("IsDistributed"),
        file_paths=tuple(str(f.get("FilePath") or f.get("FileName")) for f in files if isinstance(f, dict)),
        photodna=item.details.get("PhotoDNA"),
        comments=item.details.get("Comments"),
    )


def _icse_row(item: _Item) -> IcseRow:
    label = (item.category or "").strip().lower()
    return IcseRow(
        md5=item.hashes.get("md5"),
        sha1=item.hashes.get("sha1"),
        photodna=item.details.get("PhotoDNA"),
        image_id=item.media_id,
        is_distributed=item.details.get("IsDistributed"),
        victim_identified=item.victim_identified,
        offender_identified=item.offender_identified,
        series=item.series,
        submissions=item.details.get("NumberOfSubmissions"),
        file_available=item.details.get("FileAvailable"),
        media_type=item.details.get("MediaType"),
        baseline=True if label == "baseline" else (False if label == "non-baseline" else None),
    )


def _plain(session: Session, hash_set: HashSet, version: HashSetVersion, out: TextIO) -> ExportSummary:
    """One row per entry: its hash in its own column (so 64-digit SHA256 and PDQ are never confused)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*LIST_HASH_TYPES, "category", "series"])
    written = 0
    for entry in _entries(session, version):
        cells = [entry.value if hash_type == entry.hash_type else "" for hash_type in LIST_HASH_TYPES]
        writer.writerow([*cells, entry.category or "", _guard(entry.series)])
        written += 1
    return ExportSummary(hash_set.name, version.version, written)


def _guard(text: str | None) -> str:
    # A spreadsheet runs a cell starting with these as a formula; series names come from partners.
    if text and text.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + text
    return text or ""
