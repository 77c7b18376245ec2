"""Work done inside a worker process: read each file once, feed every analyzer, recurse into archives.

Workers never open the database: they return facts and the writer stores them. They may write to the
encrypted blob store (thumbnails), which is plain files protected by the key handed to them at start.
Each file is read in one pass: the same chunks feed the digests, the type sniffer, the image buffer and,
for archives inside archives, an encrypted spool that the archive reader can seek in.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from himaya.analyzers.artifacts.capture import encrypted_backup_finding, examine, worth_holding
from himaya.analyzers.digests import MultiHasher
from himaya.analyzers.facts import FileFacts, PdqFacts, PdqMatchFact
from himaya.analyzers.filetype import SNIFF_BYTES, sniff
from himaya.analyzers.image import ImageError, analyze_image, is_image_mime, pdq_full_resolution
from himaya.analyzers.video import VideoError, analyze_video, is_video
from himaya.config import PdqSettings, ScanSettings
from himaya.errors import EvidenceError, HimayaError
from himaya.matching.pdq_sets import ActivePdq, PdqQuery, best_hits, media_queries
from himaya.matching.video import ActiveVideo, match_video
from himaya.pipeline.tasks import Task, TaskFile
from himaya.security.spool import EncryptedSpool
from himaya.sources.archive import ExtractionBudget, detect_archive, iter_members
from himaya.sources.disk.carve_source import UNALLOCATED_MIME, carved_entries
from himaya.sources.disk.credentials import VolumeKeys
from himaya.sources.disk.pathspec import install_keys, open_spec
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
    # What opened each encrypted volume of the disk images being scanned (memory only, never stored).
    volume_keys: VolumeKeys = field(default_factory=VolumeKeys)
    video_sets: list[ActiveVideo] = field(default_factory=list)


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


# ("progress", files, bytes), ("facts", task token, evidence id, facts), or ("video", worker pid,
# milliseconds decoded, milliseconds declared or -1) while a long video decodes, with -1 decoded when
# it has ended.
ChannelMessage = tuple[str, int, int] | tuple[str, int, int, list[FileFacts]] | tuple[str, int, int, int]


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
    install_keys(context.volume_keys)


def run_task(task: Task) -> TaskOutcome:
    """Analyse every file of a task: (evidence_id, facts of the file and all it contains) for each.

    With a channel, the facts of a file with very many members (a large archive) go ahead in chunks,
    members first as always, so the container's own facts come last, in the returned outcome.
    """
    assert _context is not None, "init_worker was not called"
    global _task_flushes, _pending, _pending_bytes
    _pending, _pending_bytes = [], 0  # nothing left over from a task that failed half-way
    _task_flushes = True
    try:
        return _run_task(task, _context)
    finally:
        _task_flushes = False


def _run_task(task: Task, ctx: WorkerContext) -> TaskOutcome:
    outcome = TaskOutcome(results=[])
    files = read = 0
    last_report = time.monotonic()
    for task_file in task.files:
        facts_list: list[FileFacts] = []
        for facts in _analyse_disk_file(task_file, ctx):
            facts_list.append(facts)
            files += 1
            read += (facts.size or 0) if facts.md5 else 0
            if _channel is None:
                continue
            if len(facts_list) >= CHUNK_FACTS:
                flush_matches(ctx)  # the chunk's pictures must be matched before they leave
                # Blocking put: facts are never dropped (progress reports may be).
                _channel.put(("facts", task.token, task_file.evidence_id, facts_list))
                outcome.chunks_sent += 1
                facts_list = []
            if time.monotonic() - last_report >= PROGRESS_EVERY_S:
                _report(files, read)
                files = read = 0
                last_report = time.monotonic()
        outcome.results.append((task_file.evidence_id, facts_list))
    flush_matches(ctx)  # before the outcome is returned (and pickled to the parent)
    if _channel is not None and files:
        _report(files, read)
    return outcome


def _report(files: int, read: int) -> None:
    assert _channel is not None
    with contextlib.suppress(Exception):  # progress is best effort; never fail a task for it
        _channel.put_nowait(("progress", files, read))


def _report_video(done: float, declared: float | None) -> None:
    """How far this worker's video has decoded: the scan's progress line shows it, so a 4-hour film
    does not look like a scan that hangs."""
    global _video_reported
    if _channel is None:
        return
    total = round(declared * 1000) if declared is not None and declared > 0 else -1
    with contextlib.suppress(Exception):
        _channel.put_nowait(("video", os.getpid(), round(done * 1000), total))
        _video_reported = True


_video_reported = False  # whether the video decoding now has been reported (and its end must be)


def _analyse_disk_file(task_file: TaskFile, ctx: WorkerContext) -> Iterator[FileFacts]:
    if task_file.kind == "unallocated":
        yield from _analyse_unallocated(task_file, ctx)
        return
    disk_path = task_file.disk_path
    spec = task_file.path_spec
    opener: Callable[[], BinaryIO] | None = None
    if spec is not None and task_file.readable:

        def opener() -> BinaryIO:
            assert spec is not None
            return open_spec(spec)  # seekable, and may be opened again (no spooling)

    elif disk_path is not None:

        def opener() -> BinaryIO:
            assert disk_path is not None
            return open(disk_path, "rb")  # closed by the caller

    elif task_file.kind == "warc" and task_file.readable:
        blob_id, store = task_file.blob_id, ctx.blobs
        limit = task_file.max_bytes

        def opener() -> BinaryIO:
            from himaya.online.warc import response_payload

            if blob_id is None or store is None:
                raise EvidenceError("this capture's WARC record is not in the blob store; capture it again")
            # Decrypted into memory only: a captured medium is never a plain file on disk.
            try:
                return io.BytesIO(response_payload(store.get(blob_id), limit if limit is not None else 2**31))
            except HimayaError as error:
                raise EvidenceError(str(error)) from None

    entry = FileEntry(
        locator=task_file.locator,
        path=task_file.path,
        size=task_file.size,
        mtime=task_file.mtime,
        depth=0,
        open=opener,
        error=task_file.error,
        disk_path=disk_path,
        path_spec=spec,
        deleted=task_file.deleted,
        times=task_file.times,
    )
    budget = ExtractionBudget(ctx.settings.archive)
    yield from analyse_entry(entry, ctx, budget, container_locator=None)


def _analyse_unallocated(task_file: TaskFile, ctx: WorkerContext) -> Iterator[FileFacts]:
    """Pictures carved from a file system's unallocated space, then a record of the space itself."""
    assert task_file.path_spec is not None and task_file.carve_fs is not None
    space = FileFacts(
        locator=task_file.locator,
        path=task_file.path,
        depth=0,
        size=task_file.size,
        mime=UNALLOCATED_MIME,
        path_spec=task_file.path_spec,
    )
    budget = ExtractionBudget(ctx.settings.archive)
    try:
        for carved in carved_entries(
            task_file.path_spec, task_file.carve_fs, task_file.locator, task_file.path
        ):
            yield from analyse_entry(carved, ctx, budget, container_locator=task_file.locator)
    except (OSError, EvidenceError) as exc:
        _add_error(space, f"carving stopped early: {_describe(exc)}")
    yield space


def analyse_entry(
    entry: FileEntry, ctx: WorkerContext, budget: ExtractionBudget, container_locator: str | None
) -> Iterator[FileFacts]:
    """Facts for `entry`, then (if it is an archive within the depth limit) for everything inside it.

    The container's own facts come last, so that a writer committing in order never records a
    container as done before its members.
    """
    times = entry.times
    facts = FileFacts(
        locator=entry.locator,
        path=entry.path,
        depth=entry.depth,
        size=entry.size,
        mtime=entry.mtime,
        container_locator=container_locator,
        path_spec=entry.path_spec,
        deleted=entry.deleted,
        carved=entry.carved,
        accessed=times.accessed if times else None,
        changed=times.changed if times else None,
        created=times.created if times else None,
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
    # A video with no path to reopen (an archive member, a capture) is decoded from an encrypted spool: in
    # memory while small, in an encrypted temporary file past the spool limit (a 4-hour film in a zip).
    video_spool: EncryptedSpool | None = None
    video = False
    spool: EncryptedSpool | None = None
    archive_format: str | None = None
    # A chat database (or its log) is held whole: its schema is read in memory, then it is kept encrypted.
    artifact_buffer: bytearray | None = None
    size = 0
    try:
        with entry.open() as stream:
            first = stream.read(CHUNK)
            head = first[:SNIFF_BYTES]
            type_facts = sniff(head, entry.path.rsplit("/", 1)[-1])
            facts.mime, facts.extension_mismatch = type_facts.mime, type_facts.extension_mismatch
            if is_image_mime(facts.mime) and (entry.size or 0) <= settings.image.max_image_bytes:
                image_buffer = bytearray()
            video = settings.video.enabled and is_video(facts.mime, entry.path)
            in_memory = video and entry.disk_path is None and entry.path_spec is None
            if in_memory and (entry.size or 0) <= settings.video.max_buffer_bytes:
                video_spool = EncryptedSpool(settings.archive.spool_memory_limit)
            if (
                settings.artifacts.enabled
                and (entry.size or 0) <= settings.artifacts.max_database_bytes
                and worth_holding(first, entry.path.rsplit("/", 1)[-1], entry.size)
            ):
                artifact_buffer = bytearray()
            if entry.depth < settings.archive.max_depth:
                archive_format = detect_archive(head, entry.path)
            if archive_format and entry.disk_path is None and entry.path_spec is None:
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
                if video_spool is not None:
                    if video_spool.size + len(chunk) > settings.video.max_buffer_bytes:
                        video_spool.close()
                        video_spool = None
                    else:
                        video_spool.write(chunk)
                if spool is not None:
                    spool.write(chunk)
                if artifact_buffer is not None:
                    if len(artifact_buffer) + len(chunk) > settings.artifacts.max_database_bytes:
                        artifact_buffer = None
                        limit_gib = settings.artifacts.max_database_bytes / 2**30
                        _add_error(
                            facts, f"database over the {limit_gib:g} GiB limit: its messages were not read"
                        )
                    else:
                        artifact_buffer += chunk
                chunk = stream.read(CHUNK)
    except (OSError, EvidenceError) as exc:
        for opened in (spool, video_spool):
            if opened is not None:
                opened.close()
        _add_error(facts, _describe(exc))
        yield facts
        return

    facts.size = size
    facts.md5, facts.sha1, facts.sha256 = hasher.hexdigests()

    if image_buffer is not None:
        _analyse_picture(bytes(image_buffer), facts, ctx)
    elif video:
        _analyse_video(entry, video_spool, facts, ctx)
    elif artifact_buffer is not None:
        _keep_artifact(artifact_buffer, facts, ctx)
    elif settings.artifacts.enabled and (backup := encrypted_backup_finding(entry.path.rsplit("/", 1)[-1])):
        _add_error(facts, backup)

    if archive_format:
        try:
            yield from _analyse_members(entry, archive_format, spool, facts, ctx, budget)
        finally:
            if spool is not None:
                spool.close()
    yield facts
    if entry.depth == 0 and not _task_flushes:
        # The caller has every fact of this file now, and sends none of them before this returns.
        flush_matches(ctx)


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
    elif entry.path_spec is not None:
        assert entry.open is not None
        fileobj = entry.open()  # a file in a disk image: seekable, opened again
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
    # Matched later, with other pictures: one pass over a large list serves the whole batch.
    _pending.append(_PendingPicture(facts, data))
    global _pending_bytes
    _pending_bytes += len(data)
    if len(_pending) >= MATCH_BATCH_PICTURES or _pending_bytes >= MATCH_BATCH_BYTES:
        flush_matches(ctx)


def _analyse_video(
    entry: FileEntry, spool: EncryptedSpool | None, facts: FileFacts, ctx: WorkerContext
) -> None:
    """Frame hashes, container facts and contact sheet; then the video is matched on its own (its frames
    are a batch already)."""
    settings = ctx.settings
    source: str | BinaryIO
    if entry.disk_path is not None:
        source = entry.disk_path
    elif entry.path_spec is not None and entry.open is not None:
        source = entry.open()  # a file in a disk image: seekable, opened again
    elif spool is not None:
        spool.seek(0)
        source = spool
    else:
        limit = settings.video.max_buffer_bytes / 2**30
        _add_error(facts, f"video inside a container is over the {limit:g} GiB spool limit; digests only")
        return
    try:
        video, media = analyze_video(
            source,
            settings=settings.video,
            limits=settings.image,
            thumbnails=ctx.blobs if settings.thumbnails else None,
            on_progress=_report_video if _channel is not None else None,
        )
    except VideoError as exc:
        _add_error(facts, str(exc))
        return
    finally:
        if not isinstance(source, str):
            source.close()
        _video_ended()
    facts.video = video
    facts.media = media
    if video.frames and (ctx.video_sets or ctx.pdq_sets):
        facts.video_matches = match_video(
            video.frames, ctx.video_sets, ctx.pdq_sets, settings.video.seconds_per_hash
        )


def _video_ended() -> None:
    global _video_reported
    if _channel is not None and _video_reported:
        with contextlib.suppress(Exception):
            _channel.put_nowait(("video", os.getpid(), -1, -1))
    _video_reported = False


def _keep_artifact(data: bytearray, facts: FileFacts, ctx: WorkerContext) -> None:
    """A chat / SMS / contact database or a SQLite log: into the blob store, for the parse after the scan."""
    artifact = examine(data, facts.path.rsplit("/", 1)[-1])
    if artifact is None:
        return
    if artifact.finding is not None:
        _add_error(facts, artifact.finding)  # a message database that cannot be read is a finding on it
    if ctx.blobs is None:
        artifact.finding = artifact.finding or "not kept for parsing: the scan ran without a blob store"
    else:
        artifact.blob_id = ctx.blobs.put(bytes(data))
    facts.artifact = artifact


@dataclass
class _PendingPicture:
    facts: FileFacts
    data: bytes  # kept until matched: a picture near a threshold is hashed again at full resolution


# True while `run_task` runs: it flushes once for the whole task (and before each facts chunk), so the
# pictures of all its files share one pass over each hash set.
_task_flushes = False
# Pictures analysed but not yet matched. Their facts have been yielded already, but nothing sends
# them on before `flush_matches` has run: the end of each top-level file and every facts chunk flush.
_pending: list[_PendingPicture] = []
_pending_bytes = 0
MATCH_BATCH_PICTURES = 32  # a task's worth: 32 pictures x 8 hashes make one pass over the list
MATCH_BATCH_BYTES = 64 * 1024 * 1024  # the pictures' bytes are held until matched


def flush_matches(ctx: WorkerContext) -> None:
    """Match every pending picture against the hash sets, in one search per set for the whole batch."""
    global _pending, _pending_bytes
    pending, _pending, _pending_bytes = _pending, [], 0
    if not pending:
        return
    settings = ctx.settings
    pdqs = [picture.facts.media.pdq for picture in pending if picture.facts.media]
    assert len(pdqs) == len(pending) and all(pdq is not None for pdq in pdqs)
    hashes: list[PdqFacts] = [pdq for pdq in pdqs if pdq is not None]
    reduced = [pdq.pipeline.startswith(REDUCED_PREFIX) for pdq in hashes]
    searches = _search_many(hashes, ctx.pdq_sets, settings.pdq if any(reduced) else None)
    again: list[int] = []
    for n, picture in enumerate(pending):
        if not (reduced[n] and _near_threshold(searches[n], settings.pdq)):
            continue
        # The reduced-scale decode drifts a few bits from the full-resolution hash. Near a threshold
        # that drift could create or lose a match, so the decision is taken on the reference hash.
        try:
            hashes[n] = pdq_full_resolution(picture.data, settings.image)
        except ImageError as exc:  # pragma: no cover - it decoded once already
            _add_error(picture.facts, str(exc))
            searches[n] = []
            continue
        assert picture.facts.media is not None
        picture.facts.media.pdq = hashes[n]
        again.append(n)
    if again:
        for n, search in zip(
            again, _search_many([hashes[n] for n in again], ctx.pdq_sets, None), strict=True
        ):
            searches[n] = search
    for picture, picture_searches in zip(pending, searches, strict=True):
        hits = [
            hit for active, queries, found in picture_searches for hit in best_hits(active, queries, found)
        ]
        hits.sort(key=lambda hit: (hit.distance, hit.hash_set_name, hit.entry_id))
        picture.facts.pdq_matches = [
            PdqMatchFact(h.entry_id, h.version_id, h.kind, h.distance, h.method) for h in hits
        ]


# Pipelines whose hash came from a reduced-scale decode (see himaya.analyzers.image).
REDUCED_PREFIX = "pdq-draft"
PDQ_BITS = 256

Search = tuple[ActivePdq, list[PdqQuery], list[list[tuple[int, int]]]]


def _search(pdq: PdqFacts, pdq_sets: list[ActivePdq], margins: PdqSettings | None) -> list[Search]:
    """`_search_many` for one picture."""
    return _search_many([pdq], pdq_sets, margins)[0]


def _search_many(
    pdqs: Sequence[PdqFacts], pdq_sets: list[ActivePdq], margins: PdqSettings | None
) -> list[list[Search]]:
    """Per picture, what each set found for every hash the set compares (own, dihedral, trimmed), from
    one pass over each set's index for all the pictures together.

    With `margins`, the radius and the quality floor are widened by the re-hash margins, so that the
    same answer tells whether a re-hash is needed and, if not, what matched (`best_hits` keeps only
    what the set accepts).
    """
    searches: list[list[Search]] = [[] for _ in pdqs]
    for active in pdq_sets:
        radius, floor = active.threshold, active.min_quality
        if margins is not None:
            radius = min(active.threshold + margins.rehash_margin, PDQ_BITS)
            floor = active.min_quality - margins.quality_margin
        per_picture = [
            [query for query in media_queries(pdq, active.dihedral) if query.quality >= floor] for pdq in pdqs
        ]
        flat = [query.hash_hex for queries in per_picture for query in queries]
        if not flat:
            continue
        found = active.index.search_many(flat, radius)
        start = 0
        for n, queries in enumerate(per_picture):
            if queries:
                searches[n].append((active, queries, found[start : start + len(queries)]))
                start += len(queries)
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
