"""A triage scan: evidence → tasks → workers → writer, resumable by locator.

Re-running the same scan after a crash or `kill -9` skips every top-level file already committed and
redoes the rest; members an earlier run committed are recognised by the writer, so nothing is written
twice and nothing is missed.
"""

from __future__ import annotations

import itertools
import json
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from queue import Empty
from typing import Any, cast

from rich.console import Console
from sqlalchemy import select, update

from himaya import __version__
from himaya.analyzers.facts import FileFacts
from himaya.config import ScanSettings
from himaya.errors import CaseNotFoundError, UsageError
from himaya.matching.active import ActiveHashSets, load_active
from himaya.pipeline.custody import EwfVerifier, record_phone_layouts
from himaya.pipeline.progress import ScanProgress, VideoUnderway
from himaya.pipeline.tasks import Task, TaskFile, batch
from himaya.pipeline.workers import ChannelMessage, TaskOutcome, WorkerContext, init_worker, run_task
from himaya.pipeline.writer import WriteCounts, existing_locators, unread_top_level, write_results
from himaya.sources.disk.credentials import VolumeKeys
from himaya.sources.disk.layers import AskCredential, DiskLayout, inspect, layout_json
from himaya.sources.disk.source import disk_entries, unallocated_spaces
from himaya.sources.folder import walk
from himaya.sources.interface import FileEntry
from himaya.store.blobs import BlobStore
from himaya.store.db import Store
from himaya.store.models import Case, EvidenceItem, ScanRun, utcnow

log = logging.getLogger(__name__)

# Commit at least this often so that a crash loses little and readers see progress.
COMMIT_EVERY_S = 1.0
# How often the parent looks at the workers: finished tasks, progress reports.
POLL_S = 0.5
COMMIT_EVERY_FILES = 2000


@dataclass
class ScanSummary:
    scan_run_id: int
    status: str
    files_total: int
    files_skipped: int
    files_written: int
    files_error: int
    matched_files: int
    bytes_read: int
    seconds: float


def _evidence_items(
    store: Store,
    case_number: str,
    evidence: Sequence[Path],
    settings: ScanSettings,
    ask: AskCredential | None,
) -> tuple[int, list[EvidenceItem], dict[int, DiskLayout]]:
    for path in evidence:
        if not path.exists() and not path.is_symlink():
            raise UsageError(f"evidence {str(path)!r} does not exist; check the path (is the drive mounted?)")
    with store.transaction() as session:
        case = session.scalar(select(Case).where(Case.number == case_number))
        if case is None:
            raise CaseNotFoundError(case_number)
        case_id = case.id
    # Disk images are opened (and encrypted volumes unlocked) before anything is written, outside any
    # transaction: a terminal prompt for a password must not hold the database.
    layouts: dict[Path, DiskLayout] = {}
    for path in evidence:
        if not path.is_dir():
            layout = inspect(
                path,
                path.resolve().name or str(path),
                settings.volume_credentials,
                shadow_copies=settings.shadow_copies,
                ask=ask,
            )
            if layout.is_disk_image:
                layouts[path] = layout
    by_item: dict[int, DiskLayout] = {}
    with store.transaction() as session:
        items: list[EvidenceItem] = []
        for path in evidence:
            source = str(path.resolve())
            found = layouts.get(path)
            item = session.scalar(
                select(EvidenceItem).where(
                    EvidenceItem.case_id == case_id, EvidenceItem.source_path == source
                )
            )
            if item is None:
                item = EvidenceItem(
                    case_id=case_id,
                    name=path.resolve().name or source,
                    source_path=source,
                    kind="folder" if path.is_dir() else "file",
                )
                session.add(item)
            if found is not None:
                item.kind = "disk-image"
                item.details = layout_json(found)
            session.flush()
            items.append(item)
            if found is not None:
                by_item[item.id] = found
        # A run still marked "running" belongs to a scan that was killed: say so in the record.
        session.execute(
            update(ScanRun)
            .where(ScanRun.case_id == case_id, ScanRun.status == "running")
            .values(status="interrupted", finished_at=utcnow())
        )
        return case_id, items, by_item


def _settings_record(settings: ScanSettings) -> str:
    record = asdict(settings)
    record["archive_passwords"] = len(settings.archive_passwords)  # how many, never what
    record["volume_credentials"] = settings.volume_credentials.count
    return json.dumps(record, sort_keys=True)


class _Listing:
    """What the examiner sees while a large disk image is listed: files found so far, per evidence item."""

    EVERY = 2000

    def __init__(self, console: Console, quiet: bool) -> None:
        self.console = console
        self.quiet = quiet
        self._status: Any = None

    def __enter__(self) -> _Listing:
        if not self.quiet:
            self._status = self.console.status("listing the evidence...")
            self._status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)

    def seen(self, name: str, count: int) -> None:
        if self._status is not None and count % self.EVERY == 0:
            self._status.update(f"listing {name}: {count:,} files so far...")


def _counted(entries: Iterator[FileEntry], name: str, seen: Callable[[str, int], None]) -> list[FileEntry]:
    listed: list[FileEntry] = []
    for entry in entries:
        listed.append(entry)
        seen(name, len(listed))
    return listed


def _plan(
    store: Store,
    items: list[EvidenceItem],
    layouts: dict[int, DiskLayout],
    settings: ScanSettings,
    seen: Callable[[str, int], None] = lambda name, count: None,
) -> tuple[list[TaskFile], int, int]:
    """Every top-level file still to do, likely-media folders first; and how many were done before.

    A file recorded before without content (permission denied, vanished) is done again if it can be
    opened now; files never opened by design (links, special files) are not. A disk image's files are
    listed through its file systems, and each file system's unallocated space is one more task (carving).
    """
    todo: list[TaskFile] = []
    skipped = 0
    with store.session() as session:
        for item in items:
            layout = layouts.get(item.id)
            if layout is not None:
                entries = _counted(disk_entries(layout), item.name, seen)
                spaces = unallocated_spaces(layout) if settings.carve else []
                extra = [TaskFile.unallocated(item.id, space) for space in spaces]
            else:
                entries, extra = _counted(walk(Path(item.source_path), item.name), item.name, seen), []
            done = existing_locators(
                session, item.id, [e.locator for e in entries] + [t.locator for t in extra]
            )
            openable = [e.locator for e in entries if e.locator in done and e.open is not None]
            done -= set(unread_top_level(session, item.id, openable))
            for entry in entries:
                if entry.locator in done:
                    skipped += 1
                else:
                    todo.append(TaskFile.from_entry(item.id, entry))
            for task_file in extra:
                if task_file.locator in done:
                    skipped += 1
                else:
                    todo.append(task_file)
    return todo, skipped, sum(f.size or 0 for f in todo)


def run_scan(
    store: Store,
    case_number: str,
    evidence: Sequence[Path],
    *,
    settings: ScanSettings,
    blobs: BlobStore | None,
    console: Console | None = None,
    quiet: bool = False,
    ask: AskCredential | None = None,
) -> ScanSummary:
    console = console or Console(stderr=True)
    case_id, items, layouts = _evidence_items(store, case_number, evidence, settings, ask)
    for layout in layouts.values():
        for problem in layout.problems:
            console.print(f"[yellow]{layout.name}: {problem}")
        for note in layout.notes:
            console.print(f"{layout.name}: note: {note}")
    verification = EwfVerifier.start(store, items, layouts if settings.verify else {})
    volume_keys = VolumeKeys(tuple(key for layout in layouts.values() for key in layout.keys.keys))

    def plan(seen: Callable[[str, int], None]) -> tuple[list[TaskFile], int, int]:
        return _plan(store, items, layouts, settings, seen)

    def finished() -> None:
        verification.finish(console)
        record_phone_layouts(store, [item.id for item in items])

    return execute_scan(
        store,
        case_id,
        plan,
        settings=settings,
        blobs=blobs,
        console=console,
        quiet=quiet,
        volume_keys=volume_keys,
        finished=finished,
        stopped=verification.cancel,
    )


PlanFn = Callable[[Callable[[str, int], None]], tuple[list[TaskFile], int, int]]


def execute_scan(
    store: Store,
    case_id: int,
    plan: PlanFn,
    *,
    settings: ScanSettings,
    blobs: BlobStore | None,
    console: Console,
    quiet: bool = False,
    volume_keys: VolumeKeys | None = None,
    finished: Callable[[], None] | None = None,
    stopped: Callable[[], None] | None = None,
) -> ScanSummary:
    """Run planned work through the workers and the writer: the part every kind of evidence shares.

    `plan(seen)` lists what is still to do (task files), how many files were done before and how many
    bytes are to read; `finished` runs when the scan ended normally, `stopped` otherwise.
    """
    with store.transaction() as session:
        run = ScanRun(case_id=case_id, tool_version=__version__, settings_json=_settings_record(settings))
        session.add(run)
        session.flush()
        run_id = run.id
        active = load_active(session, store.index_dir)

    context = WorkerContext(
        settings=settings,
        pdq_sets=list(active.pdq),
        video_sets=list(active.video),
        # Workers write thumbnails without an fsync each; the parent flushes them all before committing
        # the rows that point at them (`_commit`).
        blobs=blobs.deferred() if blobs is not None and blobs.durable else blobs,
        parallel_digests=max(settings.workers, 1) < (os.cpu_count() or 1),
        volume_keys=volume_keys or VolumeKeys(()),
    )
    totals = WriteCounts()
    status = "finished"
    started = time.monotonic()
    pool: _Pool | None = None
    try:
        if settings.workers > 0:
            pool = _Pool(context, settings.workers)
            pool.warm_up()  # workers start (imports, hash-set indexes) while the evidence is listed
        # Listing a large disk takes minutes: Ctrl-C there is an interruption like any other.
        with _Listing(console, quiet) as listing:
            todo, totals.skipped, bytes_total = plan(listing.seen)
        with ScanProgress(console, bytes_total, quiet=quiet) as progress:
            for written in _results(batch(todo), context, pool, progress.analysed, progress.videos):
                # A Ctrl-C between the commit and the tally would leave committed files uncounted in
                # the run's record, so it is held until both are done.
                with _ctrl_c_deferred():
                    if blobs is not None and blobs.durable:
                        blobs.sync()  # the thumbnails of these files are on disk before their rows
                    counts = _commit(store, run_id, active, written)
                    totals.written += counts.written
                    totals.skipped += counts.skipped
                    totals.errors += counts.errors
                    totals.matched_files += counts.matched_files
                    totals.bytes += counts.bytes
                    _record(store, run_id, totals, status="running")
                done_bytes = sum(task.bytes for task, _ in written if task is not None)
                progress.committed(done_bytes, counts.matched_files, counts.errors)
    except KeyboardInterrupt:
        status = "interrupted"
        console.print(
            "[yellow]scan interrupted; what was finished is saved. Run the same command to finish it."
        )
    except BaseException as exc:
        _record(store, run_id, totals, status="failed", error=repr(exc))
        raise
    finally:
        if pool is not None:
            pool.shutdown()
        active.close()
        if status != "finished" and stopped is not None:
            stopped()
    if status == "finished" and finished is not None:
        finished()
    if status == "finished" and settings.artifacts.enabled:
        # Chat databases and their logs can sit anywhere in the evidence: they are parsed once all is read.
        from himaya.pipeline.artifacts import parse_case_artifacts

        try:
            parse_case_artifacts(store, case_id, blobs, console, quiet=quiet)
        except KeyboardInterrupt:
            status = "interrupted"
            console.print(
                "[yellow]reading messages interrupted; the files are saved. Run the same command to finish."
            )
    _record(store, run_id, totals, status=status)
    if status in ("finished", "interrupted"):
        prepare_review(store, case_id)
    return ScanSummary(
        scan_run_id=run_id,
        status=status,
        files_total=totals.written + totals.skipped,
        files_skipped=totals.skipped,
        files_written=totals.written,
        files_error=totals.errors,
        matched_files=totals.matched_files,
        bytes_read=totals.bytes,
        seconds=time.monotonic() - started,
    )


Result = list[tuple[int, list[FileFacts]]]


def _results(
    tasks: list[Task],
    context: WorkerContext,
    pool: _Pool | None,
    on_analysed: Callable[[int, int], None],
    on_videos: Callable[[list[VideoUnderway]], None] | None = None,
) -> Iterator[list[tuple[Task | None, Result]]]:
    """Yields groups of results in commit order, grouped so commits are neither too small nor too rare.

    An item's task is None for a chunk of a large archive's members that came ahead of its task's end;
    the task's own item (its container last) always follows its chunks.
    """
    pending_group: list[tuple[Task | None, Result]] = []
    last_flush = time.monotonic()

    def ready() -> bool:
        files = sum(len(facts) for _, result in pending_group for _, facts in result)
        return files >= COMMIT_EVERY_FILES or time.monotonic() - last_flush >= COMMIT_EVERY_S

    if pool is None:
        # In-process: for tests and for debugging with a plain traceback.
        init_worker(context, in_process=True)
        for task in tasks:
            result = run_task(task).results
            pending_group.append((task, result))
            facts = [f for _, facts_list in result for f in facts_list]
            on_analysed(len(facts), sum(f.size or 0 for f in facts if f.md5))
            if ready():
                yield pending_group
                pending_group, last_flush = [], time.monotonic()
        if pending_group:
            yield pending_group
        return

    waiting: deque[Task] = deque(tasks)
    while waiting or pool.busy:
        pool.fill(waiting)
        crashed = pool.collect()
        files, read, chunks = pool.drain(linger_s=0.0 if pool.in_flight else POLL_S)
        on_analysed(files, read)
        if on_videos is not None:
            on_videos(list(pool.videos.values()))
        pending_group.extend((None, [chunk]) for chunk in chunks)
        pending_group.extend(pool.release())  # after the chunks they wait for
        if len(crashed) == 1 and len(crashed[0].files) == 1:
            # It ran alone: this file kills the worker. Record it and go on.
            pending_group.append((crashed[0], [crashed_file(crashed[0].files[0])]))
        elif crashed:
            # A worker died (a decoder crashed, or the kernel killed it for memory) and took the
            # tasks it shared the pool with down too. Each of their files is tried again alone, so
            # the one that kills a worker is found and recorded, and the scan goes on.
            alone = [Task([f]) for task in crashed for f in task.files]
            waiting.extendleft(reversed(alone))
            pool.alone_next += len(alone)
        if pending_group and (ready() or not (waiting or pool.busy)):
            yield pending_group
            pending_group, last_flush = [], time.monotonic()
    # Stragglers: the last progress reports, and chunks of a task that died after sending them.
    files, read, chunks = pool.drain(linger_s=0.2)
    on_analysed(files, read)
    if chunks:
        yield [(None, [chunk]) for chunk in chunks]


class _Pool:
    """Worker processes, restarted when one dies. Tasks under suspicion run one at a time."""

    def __init__(self, context: WorkerContext, workers: int) -> None:
        self.context = context
        self.workers = workers
        self.in_flight: dict[Future[TaskOutcome], Task] = {}
        self.alone_next = 0  # how many queued tasks must run alone (files from a crashed pool)
        self._tokens = itertools.count(1)
        # Ended tasks whose chunks have not all been read from the channel yet, by token.
        self._ended: dict[int, tuple[Task, TaskOutcome]] = {}
        self._chunks_read: Counter[int] = Counter()
        # Long videos decoding now, by worker process: what the progress line shows besides files.
        self.videos: dict[int, VideoUnderway] = {}
        self._spawn = multiprocessing.get_context("spawn")
        self._channel: multiprocessing.Queue[ChannelMessage] = self._spawn.Queue()
        self._executor = self._start()

    @property
    def busy(self) -> bool:
        return bool(self.in_flight or self._ended)

    def _start(self) -> ProcessPoolExecutor:
        # spawn, never fork: the parent has SQLAlchemy engines and faiss loaded, which do not survive it.
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._spawn,
            initializer=init_worker,
            initargs=(self.context, False, self._channel),
        )

    def _submit(self, task: Task) -> None:
        task.token = next(self._tokens)
        self.in_flight[self._executor.submit(run_task, task)] = task

    def warm_up(self) -> None:
        """Start every worker now, so their start-up overlaps the listing of the evidence."""
        with _sigint_ignored():
            for _ in range(self.workers):
                self._submit(Task())

    def fill(self, waiting: deque[Task]) -> None:
        with _sigint_ignored():  # submissions may start worker processes
            while waiting and len(self.in_flight) < self.workers * 3:
                if self.alone_next:
                    if self.in_flight:
                        return
                    self.alone_next -= 1
                    self._submit(waiting.popleft())
                    return
                self._submit(waiting.popleft())

    def collect(self) -> list[Task]:
        """Notes tasks that ended; returns tasks lost with a dead worker (the pool is restarted)."""
        done, _ = wait(self.in_flight, timeout=POLL_S, return_when=FIRST_COMPLETED)
        crashed: list[Task] = []
        for future in done:
            task = self.in_flight.pop(future)
            try:
                self._ended[task.token] = (task, future.result())
            except BrokenProcessPool:
                crashed.append(task)
        if crashed:
            # Every task still in flight died with the pool, whether or not it caused the crash.
            # Chunks they sent are kept (written like any others); their retries get new tokens.
            crashed.extend(self.in_flight.values())
            self.in_flight.clear()
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = self._start()
        return crashed

    def drain(self, linger_s: float = 0.0) -> tuple[int, int, list[tuple[int, list[FileFacts]]]]:
        """Progress (files, bytes) and facts chunks the workers sent since the last call.

        `linger_s` waits that long for stragglers: a task's chunks and last report can arrive just
        after the task's end.
        """
        files = read = 0
        chunks: list[tuple[int, list[FileFacts]]] = []
        while True:
            try:
                message = self._channel.get(timeout=linger_s) if linger_s else self._channel.get_nowait()
            except Empty:
                return files, read, chunks
            if message[0] == "facts":
                _, token, evidence_id, facts = cast(tuple[str, int, int, list[FileFacts]], message)
                chunks.append((evidence_id, facts))
                self._chunks_read[token] += 1
            elif message[0] == "video":
                _, pid, done_ms, total_ms = cast(tuple[str, int, int, int], message)
                if done_ms < 0:
                    self.videos.pop(pid, None)
                else:
                    total = total_ms / 1000 if total_ms > 0 else None
                    self.videos[pid] = VideoUnderway(done_ms / 1000, total, time.monotonic())
            else:
                files += message[1]
                read += message[2]

    def release(self) -> list[tuple[Task | None, Result]]:
        """Ended tasks whose every chunk has been read: their own results may be written now."""
        ready = [
            token
            for token, (_, outcome) in self._ended.items()
            if self._chunks_read[token] >= outcome.chunks_sent
        ]
        released: list[tuple[Task | None, Result]] = []
        for token in ready:
            task, outcome = self._ended.pop(token)
            self._chunks_read.pop(token, None)
            released.append((task, outcome.results))
        return released

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def crashed_file(task_file: TaskFile) -> tuple[int, list[FileFacts]]:
    facts = FileFacts(
        locator=task_file.locator,
        path=task_file.path,
        depth=0,
        size=task_file.size,
        mtime=task_file.mtime,
        status="error",
        error=(
            "the worker process analysing this file died (a decoder crashed on it, or it ran out of "
            "memory); it may be crafted to crash forensic tools. Examine it by hand; a re-run tries again"
        ),
    )
    return task_file.evidence_id, [facts]


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Processes started in here never see SIGINT; in this process it waits until the block ends.

    A terminal's Ctrl-C goes to every process in the group. A worker still importing (before
    `init_worker` ignores SIGINT) would die of it with a traceback across the examiner's screen; the
    parent alone handles Ctrl-C. SIGINT is *blocked* here, not ignored: a child inherits the blocked mask
    through fork and exec (and ignores SIGINT for good once `init_worker` runs). A Ctrl-C that arrives
    meanwhile is never lost: it waits until the block ends, or another thread of this process takes it
    and the scan ends as interrupted a moment sooner (see `_ctrl_c_deferred` for where that matters).
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # Ctrl-C reaches only the main thread
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


sigint_blocked = _sigint_ignored  # for other modules that start processes during a scan


@contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """A Ctrl-C during the block is noted and raised when the block ends; only the main thread can do this.

    The Python-level handler is swapped, not the thread's signal mask: with SIGINT blocked in the main
    thread, the kernel hands it to any other thread of the process (OpenBLAS's, faiss's), Python's C
    handler trips there, and the main thread raised KeyboardInterrupt inside the block all the same (a
    commit's tally was lost that way). Python runs its handlers in the main thread, whichever thread
    received the signal.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            if callable(previous):
                previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt


def _commit(
    store: Store, run_id: int, active: ActiveHashSets, group: list[tuple[Task | None, Result]]
) -> WriteCounts:
    with store.transaction() as session:
        return write_results(session, run_id, active, [item for _, result in group for item in result])


def prepare_review(store: Store, case_id: int) -> None:
    """The case's gallery rows and near-duplicate stacks, brought up to date for the review app (during
    the scan the app catches up with new pictures itself, cheaply, at each page view)."""
    from himaya.review.gallery import refresh
    from himaya.review.stacks import build_stacks

    with store.transaction() as session:
        refresh(session, case_id)
        build_stacks(session, case_id)


def _record(store: Store, run_id: int, totals: WriteCounts, status: str, error: str | None = None) -> None:
    with store.transaction() as session:
        run = session.get(ScanRun, run_id)
        assert run is not None
        run.status = status
        # Files seen by this run: analysed now, or found already analysed (top-level files, by locator).
        run.files_total = totals.written + totals.skipped
        run.files_skipped = totals.skipped
        run.files_ok = totals.written - totals.errors
        run.files_error = totals.errors
        run.matches = totals.matched_files
        run.bytes_read = totals.bytes
        run.error = error
        if status != "running":
            run.finished_at = utcnow()
