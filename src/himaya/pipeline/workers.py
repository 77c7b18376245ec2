"""Work done inside a worker process: read each file once, feed every analyzer, recurse into archives.

Workers never open the database: they return facts and the writer stores them. They may write to the
encrypted blob store (thumbnails), which is plain files protected by the key handed to them at start.
Each file is read in one pass: the same chunks feed the digests, the type sniffer, the image buffer and,
for archives inside archives, an encrypted spool that the archive reader can seek in.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from himaya.analyzers.digests import MultiHasher
from himaya.analyzers.facts import FileFacts, PdqFacts, PdqMatchFact
from himaya.analyzers.filetype import SNIFF_BYTES, sniff
from himaya.analyzers.image import ImageError, analyze_image, is_image_mime, pdq_full_resolution
from himaya.config import PdqSettings, ScanSettings
from himaya.errors import EvidenceError
from himaya.matching.pdq_sets import ActivePdq, PdqQuery, best_hits, media_queries
from himaya.pipeline.tasks import Task, TaskFile
from himaya.security.spool import EncryptedSpool
from himaya.sources.archive import ExtractionBudget, detect_archive, iter_members
from himaya.sources.interface import FileEntry
from himaya.store.blobs import BlobStore

CHUNK = 1024 * 1024


@dataclass
class WorkerContext:
    settings: ScanSettings
    pdq_sets: list[ActivePdq]
    blobs: BlobStore | None
    # Hash MD5 in a helper thread only when cores are left over; with a worker per core it only contends.
    parallel_digests: bool = False


_context: WorkerContext | None = None
# The worker's line back to the parent while a task runs (None in-process). It carries progress
# reports, so files/s and MB/s move during a long task, and the facts of a large archive in chunks,
# so that neither the worker nor the parent holds 200,000 members' facts at once and they are
# committed as the scan goes.
_channel: Channel | None = None
PROGRESS_EVERY_S = 0.5
CHUNK_FACTS = 2000


class Channel(Protocol):
    def put(self, item: ChannelMessage, /) -> None: ...
    def put_nowait(self, item: ChannelMessage, /) -> None: ...


# ("progress", files, bytes) or ("facts", task token, evidence id, facts).
ChannelMessage = tuple[str, int, int] | tuple[str, int, int, list[FileFacts]]


@dataclass
class TaskOutcome:
    """What a task returns when it ends; `chunks_sent` facts chunks went ahead of it on the channel."""

    results: list[tuple[int, list[FileFacts]]]
    chunks_sent: int = 0


def init_worker(context: WorkerContext, in_process: bool = False, channel: Channel | None = None) -> None:
    """Runs once in each spawned worker. Ctrl-C is left to the parent, which shuts the pool down cleanly."""
    global _context, _channel
    _channel = channel
    if not in_process:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        os.environ["OMP_NUM_THREADS"] = "1"
        try:
            import faiss

            faiss.omp_set_num_threads(1)
        except (ImportError, AttributeError):  # pragma: no cover - faiss is a hard dependency
            pass
    _context = context


def run_task(task: Task) -> TaskOutcome:
    """Analyse every file of a task: (evidence_id, facts of the file and all it contains) for each.

    With a channel, the facts of a file with very many members (a large archive) go ahead in chunks,
    members first as always, so the container's own facts come last, in the returned outcome.
    """
    assert _context is not None, "init_worker was not called"
    outcome = TaskOutcome(results=[])
    files = read = 0
    last_report = time.monotonic()
    for task_file in task.files:
        facts_list: list[FileFacts] = []
        for facts in _analyse_disk_file(task_file, _context):
            facts_list.append(facts)
            files += 1
            read += (facts.size or 0) if facts.md5 else 0
            if _channel is None:
                continue
            if len(facts_list) >= CHUNK_FACTS:
                # Blocking put: facts are never dropped (progress reports may be).
                _channel.put(("facts", task.token, task_file.evidence_id, facts_list))
                outcome.chunks_sent += 1
                facts_list = []
            if time.monotonic() - last_report >= PROGRESS_EVERY_S:
                _report(files, read)
                files = read = 0
                last_report = time.monotonic()
        outcome.results.append((task_file.evidence_id, facts_list))
    if _channel is not None and files:
        _report(files, read)
    return outcome


def _report(files: int, read: int) -> None:
    assert _channel is not None
    with contextlib.suppress(Exception):  # progress is best effort; never fail a task for it
        _channel.put_nowait(("progress", files, read))


def _analyse_disk_file(task_file: TaskFile, ctx: WorkerContext) -> Iterator[FileFacts]:
    disk_path = task_file.disk_path

    def opener() -> BinaryIO:
        assert disk_path is not None
        return open(disk_path, "rb")  # closed by the caller

    entry = FileEntry(
        locator=task_file.locator,
        path=task_file.path,
        size=task_file.size,
        mtime=task_file.mtime,
        depth=0,
        open=opener if disk_path is not None else None,
        error=task_file.error,
        disk_path=disk_path,
    )
    budget = ExtractionBudget(ctx.settings.archive)
    yield from analyse_entry(entry, ctx, budget, container_locator=None)


def analyse_entry(
    entry: FileEntry, ctx: WorkerContext, budget: ExtractionBudget, container_locator: str | None
) -> Iterator[FileFacts]:
    """Facts for `entry`, then (if it is an archive within the depth limit) for everything inside it.

    The container's own facts come last, so that a writer committing in order never records a
    container as done before its members.
    """
    facts = FileFacts(
        locator=entry.locator,
        path=entry.path,
        depth=entry.depth,
        size=entry.size,
        mtime=entry.mtime,
        container_locator=container_locator,
    )
    if entry.error:
        _add_error(facts, entry.error)
    if entry.open is None:
        if not entry.error:
            _add_error(facts, "cannot be read")
        yield facts
        return

    settings = ctx.settings
    hasher = MultiHasher(parallel=ctx.parallel_digests)
    image_buffer: bytearray | None = None
    spool: EncryptedSpool | None = None
    archive_format: str | None = None
    size = 0
    try:
        with entry.open() as stream:
            first = stream.read(CHUNK)
            head = first[:SNIFF_BYTES]
            type_facts = sniff(head, entry.path.rsplit("/", 1)[-1])
            facts.mime, facts.extension_mismatch = type_facts.mime, type_facts.extension_mismatch
            if is_image_mime(facts.mime) and (entry.size or 0) <= settings.image.max_image_bytes:
                image_buffer = bytearray()
            if entry.depth < settings.archive.max_depth:
                archive_format = detect_archive(head, entry.path)
            if archive_format and entry.disk_path is None:
                spool = EncryptedSpool(settings.archive.spool_memory_limit)
            chunk = first
            while chunk:
                size += len(chunk)
                hasher.update(chunk)
                if image_buffer is not None:
                    if len(image_buffer) + len(chunk) > settings.image.max_image_bytes:
                        image_buffer = None  # too big to decode; digests still cover it
                    else:
                        image_buffer += chunk
                if spool is not None:
                    spool.write(chunk)
                chunk = stream.read(CHUNK)
    except (OSError, EvidenceError) as exc:
        if spool is not None:
            spool.close()
        _add_error(facts, _describe(exc))
        yield facts
        return

    facts.size = size
    facts.md5, facts.sha1, facts.sha256 = hasher.hexdigests()

    if image_buffer is not None:
        _analyse_picture(bytes(image_buffer), facts, ctx)

    if archive_format:
        try:
            yield from _analyse_members(entry, archive_format, spool, facts, ctx, budget)
        finally:
            if spool is not None:
                spool.close()
    yield facts


def _analyse_members(
    entry: FileEntry,
    archive_format: str,
    spool: EncryptedSpool | None,
    facts: FileFacts,
    ctx: WorkerContext,
    budget: ExtractionBudget,
) -> Iterator[FileFacts]:
    fileobj: BinaryIO
    if spool is not None:
        spool.seek(0)
        fileobj = spool
    else:
        assert entry.disk_path is not None
        fileobj = open(entry.disk_path, "rb")  # noqa: SIM115
    try:
        members = iter_members(
            entry,
            fileobj,
            archive_format,
            limits=ctx.settings.archive,
            passwords=ctx.settings.archive_passwords,
            budget=budget,
        )
        for member in members:
            yield from analyse_entry(member, ctx, budget, container_locator=entry.locator)
    except (OSError, EvidenceError, EOFError, ValueError) as exc:
        _add_error(facts, f"archive could not be read to the end: {_describe(exc)}")
    finally:
        if spool is None:
            fileobj.close()


def _analyse_picture(data: bytes, facts: FileFacts, ctx: WorkerContext) -> None:
    settings = ctx.settings
    try:
        media = analyze_image(
            data,
            limits=settings.image,
            pdq=settings.pdq,
            thumbnails=ctx.blobs if settings.thumbnails else None,
        )
    except ImageError as exc:
        _add_error(facts, str(exc))
        return
    facts.media = media
    if media.pdq is None or not ctx.pdq_sets:
        return
    pdq = media.pdq
    reduced = pdq.pipeline.startswith(REDUCED_PREFIX)
    searches = _search(pdq, ctx.pdq_sets, settings.pdq if reduced else None)
    if reduced and _near_threshold(searches, settings.pdq):
        # The reduced-scale decode drifts a few bits from the full-resolution hash. Near a threshold
        # that drift could create or lose a match, so the decision is taken on the reference hash.
        try:
            pdq = pdq_full_resolution(data, settings.image)
        except ImageError as exc:  # pragma: no cover - it decoded once already
            _add_error(facts, str(exc))
            return
        media.pdq = pdq
        searches = _search(pdq, ctx.pdq_sets, None)
    hits = [hit for active, queries, found in searches for hit in best_hits(active, queries, found)]
    hits.sort(key=lambda hit: (hit.distance, hit.hash_set_name, hit.entry_id))
    facts.pdq_matches = [PdqMatchFact(h.entry_id, h.version_id, h.kind, h.distance, h.method) for h in hits]


# Pipelines whose hash came from a reduced-scale decode (see himaya.analyzers.image).
REDUCED_PREFIX = "pdq-draft"
PDQ_BITS = 256

Search = tuple[ActivePdq, list[PdqQuery], list[list[tuple[int, int]]]]


def _search(pdq: PdqFacts, pdq_sets: list[ActivePdq], margins: PdqSettings | None) -> list[Search]:
    """One pass over each set's index for every hash the set compares (own, dihedral, trimmed).

    With `margins`, the radius and the quality floor are widened by the re-hash margins, so that the
    same answer tells whether a re-hash is needed and, if not, what matched: on a list of ten million
    that saves a second pass per picture.
    """
    searches: list[Search] = []
    for active in pdq_sets:
        radius, floor = active.threshold, active.min_quality
        if margins is not None:
            radius = min(active.threshold + margins.rehash_margin, PDQ_BITS)
            floor = active.min_quality - margins.quality_margin
        queries = [query for query in media_queries(pdq, active.dihedral) if query.quality >= floor]
        if queries:
            found = active.index.search_many([query.hash_hex for query in queries], radius)
            searches.append((active, queries, found))
    return searches


def _near_threshold(searches: list[Search], settings: PdqSettings) -> bool:
    """Could the reduced decode's drift change a decision? Then decide on the full-resolution hash.

    Drift moves the distance by a few bits and the quality by a few points, so both the distance
    threshold and the quality floor have a margin around them. Every hash the set compares counts: the
    picture's own, its rotated / mirrored variants if the set uses them, and the trimmed content's.
    """
    for active, queries, found in searches:
        low = active.threshold - settings.rehash_margin
        for query, hits in zip(queries, found, strict=True):
            quality_borderline = query.quality < active.min_quality + settings.quality_margin
            if any(distance > low or quality_borderline for _entry_id, distance in hits):
                return True
    return False


def _add_error(facts: FileFacts, reason: str) -> None:
    """Mark the file as an error, keeping every reason: a hostile name and a corrupt body are two facts."""
    facts.status = "error"
    facts.error = reason if not facts.error else f"{facts.error}; {reason}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied; run the scan as a user who can read this file, then re-run it"
    if isinstance(exc, FileNotFoundError):
        return "file vanished during the scan (deleted or unmounted); re-run the scan if it is back"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if isinstance(exc, OSError):
        return f"read error: {exc.strerror or exc}"
    return str(exc)
