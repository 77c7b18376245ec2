"""After a scan: the case's kept chat / SMS / contact databases parsed into messages, then media linked.

Each database kept by the workers (`artifact_sources`, bytes in the encrypted blob store) is paired with
its `-wal` / `-journal` file (same container, same name plus the suffix), decrypted into a private
temporary folder, recovered and read there (`analyzers.artifacts.database`), and written in one
transaction with its status: a killed parse leaves nothing half-written and the next scan of the case
(even one with nothing left to read) parses it again. A database that cannot be read becomes a finding on
its file and its source row, never a stopped scan. Then every media message of the case is linked.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from himaya.analyzers.artifacts.database import (
    DatabaseFiles,
    DatabaseUnreadableError,
    open_private_copy,
    read_schema,
)
from himaya.analyzers.artifacts.manager import count_messages, iter_records, recognise
from himaya.chats.linking import LinkCounts, link_media
from himaya.chats.writer import clear_source, write_records
from himaya.errors import HimayaError
from himaya.store.blobs import BlobStore
from himaya.store.db import Store
from himaya.store.models import ArtifactSource, EvidenceItem, File, utcnow

__all__ = ["ArtifactSummary", "parse_case_artifacts"]


@dataclass
class ArtifactSummary:
    parsed: int = 0
    failed: int = 0
    unrecognised: int = 0
    messages: int = 0
    identities: int = 0
    seconds: float = 0.0
    logs_released: int = 0  # -wal / -journal files whose database no parser reads: their copies deleted
    links: LinkCounts = field(default_factory=LinkCounts)


@dataclass(frozen=True)
class _Kept:
    source_id: int
    file_id: int
    evidence_id: int
    role: str
    blob_id: str | None
    path: str
    container: str | None


def _kept(session: Session, case_id: int) -> tuple[list[_Kept], dict[tuple[int, str | None, str], _Kept]]:
    rows = session.execute(
        select(
            ArtifactSource.id,
            ArtifactSource.file_id,
            ArtifactSource.evidence_id,
            ArtifactSource.role,
            ArtifactSource.blob_id,
            ArtifactSource.status,
            File.path,
            File.container_locator,
        )
        .join(File, File.id == ArtifactSource.file_id)
        .join(EvidenceItem, EvidenceItem.id == ArtifactSource.evidence_id)
        .where(EvidenceItem.case_id == case_id)
        .order_by(ArtifactSource.id)
    ).all()
    pending: list[_Kept] = []
    sides: dict[tuple[int, str | None, str], _Kept] = {}
    for source_id, file_id, evidence_id, role, blob_id, status, path, container in rows:
        kept = _Kept(source_id, file_id, evidence_id, role, blob_id, path, container)
        if role == "database":
            if status == "pending":
                pending.append(kept)
        else:
            sides[(evidence_id, container, path)] = kept
    return pending, sides


def _release_unused_logs(
    session: Session, blobs: BlobStore | None, sides: dict[tuple[int, str | None, str], _Kept]
) -> int:
    """Delete the kept copy of every log whose database is in the store but was not kept (no parser reads
    it): workers keep every log, since in an archive its database may come later. A log whose database is
    not in the store yet (a scan of its evidence still unfinished) is left for a later run."""
    released = 0
    for kept in sides.values():
        source = session.get(ArtifactSource, kept.source_id)
        if source is None or source.status != "pending" or source.blob_id is None:
            continue
        database_path = kept.path.removesuffix(f"-{kept.role}")
        container = (
            File.container_locator.is_(None)
            if kept.container is None
            else File.container_locator == kept.container
        )
        database = session.scalar(
            select(File.id).where(File.evidence_id == kept.evidence_id, container, File.path == database_path)
        )
        if database is None:
            continue
        if session.scalar(select(ArtifactSource.id).where(ArtifactSource.file_id == database)) is not None:
            continue
        if blobs is not None:
            blobs.delete(source.blob_id)
        source.blob_id, source.status = None, "unused"
        source.finding = "its database is not one Himaya reads; the kept copy was deleted"
        released += 1
    return released


def _record_finding(session: Session, kept: _Kept, status: str, finding: str) -> None:
    source = session.get(ArtifactSource, kept.source_id)
    assert source is not None
    source.status, source.finding, source.parsed_at = status, finding, utcnow()
    file = session.get(File, kept.file_id)
    if file is not None and status == "failed":
        file.status = "error"
        file.error = f"{file.error}; {finding}" if file.error else finding


def parse_case_artifacts(
    store: Store,
    case_id: int,
    blobs: BlobStore | None,
    console: Console | None = None,
    *,
    quiet: bool = False,
    temp_dir: str | Path | None = None,
) -> ArtifactSummary:
    """Parse the case's pending databases, then link every media message of the case."""
    console = console or Console(stderr=True)
    summary = ArtifactSummary()
    started = time.monotonic()
    with store.session() as session:
        pending, sides = _kept(session, case_id)
    for kept in pending:
        wal = sides.get((kept.evidence_id, kept.container, f"{kept.path}-wal"))
        journal = sides.get((kept.evidence_id, kept.container, f"{kept.path}-journal"))
        _parse_one(store, case_id, blobs, kept, wal, journal, summary, console, quiet, temp_dir)
    with store.transaction() as session:
        summary.links = link_media(session, case_id)
        summary.logs_released = _release_unused_logs(session, blobs, sides)
    summary.seconds = time.monotonic() - started
    if not quiet and (pending or summary.links.changed):
        links = summary.links
        console.print(
            f"messages: {summary.messages} read from {summary.parsed} databases"
            + (f" ({summary.failed} unreadable)" if summary.failed else "")
            + f"; media of {links.media_messages} messages: {links.by_path} found by path, "
            f"{links.by_sha256} by content hash, {links.missing} gone"
        )
    return summary


def _parse_one(
    store: Store,
    case_id: int,
    blobs: BlobStore | None,
    kept: _Kept,
    wal: _Kept | None,
    journal: _Kept | None,
    summary: ArtifactSummary,
    console: Console,
    quiet: bool,
    temp_dir: str | Path | None,
) -> None:
    name = kept.path.rsplit("/", 1)[-1]
    try:
        if blobs is None or kept.blob_id is None:
            raise DatabaseUnreadableError(
                "its bytes were not kept (a scan without the blob store); scan the evidence again"
            )
        files = DatabaseFiles(
            main=blobs.get(kept.blob_id),
            wal=blobs.get(wal.blob_id) if wal is not None and wal.blob_id else None,
            journal=blobs.get(journal.blob_id) if journal is not None and journal.blob_id else None,
        )
        started = time.monotonic()
        with open_private_copy(files, temp_dir=temp_dir) as db, store.transaction() as session:
            schema = read_schema(db)
            names = recognise(schema)
            if not names:
                _record_finding(session, kept, "unrecognised", "no parser knows this database's tables")
                summary.unrecognised += 1
                return
            clear_source(session, kept.source_id)
            progress = None if quiet else _progress(console, name, started, count_messages(db, schema, names))
            try:
                counts = write_records(
                    session, case_id, kept.source_id, iter_records(db, schema, names), progress
                )
            except sqlite3.DatabaseError as exc:
                raise DatabaseUnreadableError(
                    f"the database could not be read to the end ({exc}); it may be corrupt — examine a "
                    "copy with a SQLite recovery tool"
                ) from None
            source = session.get(ArtifactSource, kept.source_id)
            assert source is not None
            source.parsers = ",".join(names)
            source.status, source.finding, source.parsed_at = "parsed", None, utcnow()
            source.messages, source.identities = counts.messages, counts.identities
            for side in (wal, journal):
                if side is not None:
                    used = session.get(ArtifactSource, side.source_id)
                    if used is not None:
                        used.used_by, used.status = kept.source_id, "parsed"
        summary.parsed += 1
        summary.messages += counts.messages
        summary.identities += counts.identities
        if not quiet:
            rate = counts.messages / max(time.monotonic() - started, 1e-6)
            speed = f" ({rate:,.0f} messages/s)" if counts.messages else ""
            console.print(
                f"{name} ({', '.join(names)}): {counts.messages} messages, {counts.identities} "
                f"identities{speed}",
                highlight=False,
                markup=False,
            )
    except (DatabaseUnreadableError, HimayaError) as exc:
        summary.failed += 1
        with store.transaction() as session:
            _record_finding(session, kept, "failed", f"{name}: {exc}")
        if not quiet:
            console.print(f"[yellow]{name}: {exc}", highlight=False)


def _progress(console: Console, name: str, started: float, expected: int | None) -> Callable[[int], None]:
    """Every 5 s: messages written, their rate and, when the database's message count is known, what is
    left and about how long it will take."""
    last = [started]

    def report(messages: int) -> None:
        now = time.monotonic()
        if now - last[0] < 5:
            return
        last[0] = now
        rate = messages / max(now - started, 1e-6)
        line = f"{name}: {messages:,} messages ({rate:,.0f}/s)"
        if expected and rate > 0 and messages < expected:
            line = f"{name}: {messages:,} of about {expected:,} messages ({rate:,.0f}/s, about "
            line += f"{(expected - messages) / rate:,.0f} s left)"
        console.print(line, highlight=False, markup=False)

    return report
