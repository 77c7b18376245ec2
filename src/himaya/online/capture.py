"""`himaya online capture`: fetch reported pages and their media, keep every exchange as WARC, then scan.

Each page is an evidence item of kind `web-capture` (its name is the page URL); every fetched resource
that answered with content (the page, each medium) becomes a file of it whose `path` is its URL, analysed
by the same workers and matcher as seized evidence. The bytes exist at rest only as WARC records inside
the encrypted blob store; the worker decrypts a record into memory to read it.

Resumable: a capture killed while fetching is discarded and fetched again; one killed during its scan is
scanned again, which skips what was committed; a page captured in full is not fetched again unless asked.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urldefrag, urlsplit

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from himaya import __version__
from himaya.config import ScanSettings
from himaya.errors import UsageError
from himaya.online.fetch import Exchange, Fetcher, FetchLimits
from himaya.online.guard import AddressPolicy, Resolver
from himaya.online.media import MediaLink, find_media, find_page_links, is_html_type
from himaya.online.settings import OnlineSettings
from himaya.online.warc import exchange_records, resource_record, warcinfo_record
from himaya.pipeline.scan import ScanSummary, execute_scan
from himaya.pipeline.tasks import TaskFile
from himaya.pipeline.writer import existing_locators
from himaya.reports.records import find_case
from himaya.store.blobs import BlobStore
from himaya.store.db import Store
from himaya.store.models import CaptureExchange, EvidenceItem, OnlineCapture, utcnow

KIND = "web-capture"
_DATA_TYPE = re.compile(r"data:([\w.+-]+/[\w.+-]+)", re.IGNORECASE)
MAX_LINKED_PAGES = 50  # per page at depth 2 and more: a link farm must not turn one URL into a crawl


@dataclass
class CaptureSummary:
    pages: int = 0  # captured now
    pages_skipped: int = 0  # captured in full before (use --again for a new capture)
    media: int = 0
    exchanges: int = 0
    fetch_errors: int = 0
    bytes: int = 0
    seconds: float = 0.0
    scan: ScanSummary | None = None
    locations_new: int = 0
    capture_ids: list[int] = field(default_factory=list)


@dataclass
class _Fetched:
    """One exchange ready to store: its WARC bytes are already in the blob store."""

    exchange: Exchange
    role: str
    found_in: str | None
    blob_id: str
    content_type: str | None
    makes_file: bool
    # The body's size and SHA-256: a medium's body is dropped once it is in the blob store, so pages
    # waiting to be stored hold no picture bytes.
    size: int
    sha256: str


def make_fetcher(
    settings: OnlineSettings, allow_networks: Sequence[str] = (), resolver: Resolver | None = None
) -> Fetcher:
    limits = FetchLimits(
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
        total_timeout_s=settings.total_timeout_s,
        max_redirects=settings.max_redirects,
        max_bytes=settings.max_media_bytes,
        user_agent=settings.user_agent,
        proxy=settings.proxy or None,
        verify_tls=settings.verify_tls,
        max_connections=max(settings.concurrency * 2, 4),
    )
    policy = AddressPolicy.from_cidrs([*settings.allowed_cidrs, *allow_networks])
    return Fetcher(limits, policy, resolver)


def normalise_url(text: str) -> str:
    url = urldefrag(text.strip())[0]
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{text!r} is not an http(s) URL; give each page as http://... or https://...")
    return url


def read_url_file(text: str, source: str) -> list[str]:
    """URLs one per line; blank lines and # comments skipped; a bad line refuses the whole file."""
    urls: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            urls.append(normalise_url(stripped))
        except UsageError as error:
            raise UsageError(f"{source}: line {number}: {error}") from None
    return urls


class _HostSlots:
    """At most `per_host` fetches at once to any one host: a capture must not hammer a small server."""

    def __init__(self, per_host: int) -> None:
        self.per_host = max(per_host, 1)
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}

    @contextmanager
    def hold(self, url: str) -> Iterator[None]:
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            slot = self._slots.setdefault(host, threading.Semaphore(self.per_host))
        with slot:
            yield


class _Capturer:
    def __init__(
        self,
        fetcher: Fetcher,
        blobs: BlobStore,
        settings: OnlineSettings,
        progress: Callable[[int, int], None],
    ) -> None:
        self.fetcher = fetcher
        self.blobs = blobs
        self.settings = settings
        self.slots = _HostSlots(settings.per_host)
        self.progress = progress
        # Media are fetched on their own pool: a page worker waiting for its media must never hold a
        # thread the media need.
        self.media_pool = ThreadPoolExecutor(max(settings.concurrency, 1), thread_name_prefix="media")

    def close(self) -> None:
        self.media_pool.shutdown(wait=True, cancel_futures=True)

    def _fetch(self, url: str, max_bytes: int) -> list[Exchange]:
        with self.slots.hold(url):
            return self.fetcher.fetch(url, max_bytes=max_bytes)

    def _keep(self, chain: list[Exchange], role: str, found_in: str | None) -> list[_Fetched]:
        kept: list[_Fetched] = []
        for hop, exchange in enumerate(chain):
            last = hop == len(chain) - 1
            this_role = role if last else "redirect"
            content_type = exchange.header("content-type")
            # Every final answer is a file: content to analyse, or an error (404, refused...) on record.
            makes_file = last
            # With online.keep_media = none the medium is still analysed from this full record, which is
            # replaced by a headers-only one once the scan is done (`drop_media_payloads`).
            blob_id = self.blobs.put(exchange_records(exchange, keep_payload=True))
            kept.append(
                _Fetched(
                    exchange=exchange,
                    role=this_role,
                    found_in=found_in,
                    blob_id=blob_id,
                    content_type=content_type,
                    makes_file=makes_file,
                    size=len(exchange.body),
                    sha256=exchange.payload_sha256,
                )
            )
            self.progress(0, len(exchange.body))
            if this_role == "media":
                exchange.body = b""
        return kept

    def page(self, url: str) -> list[_Fetched]:
        """The page (with its redirects), then its media, then at depth ≥ 2 linked pages of the same host."""
        fetched = self._page(url, role="page", depth=self.settings.depth, seen={url})
        return fetched

    def _page(self, url: str, role: str, depth: int, seen: set[str]) -> list[_Fetched]:
        chain = self._fetch(url, self.settings.max_media_bytes)
        fetched = self._keep(chain, role, None)
        final = chain[-1]
        if final.status != 200 or not is_html_type(final.header("content-type")):
            return fetched
        try:
            html = final.decoded_body(self.settings.max_page_bytes)
        except Exception:  # a broken encoding: the page is kept as fetched, its media cannot be listed
            return fetched
        found = find_media(html, final.url, content_type=final.header("content-type"))
        links = [link for link in found if link.inline is None and link.url not in seen]
        links = links[: self.settings.max_media_per_page]
        seen.update(link.url for link in links)
        inline = [link for link in found if link.inline is not None][: self.settings.max_media_per_page]
        for number, link in enumerate(inline, start=1):
            fetched.append(self._inline(final, number, link))
        futures: list[Future[list[_Fetched]]] = [
            self.media_pool.submit(self._medium, link.url, link.found_in) for link in links
        ]
        for future in futures:
            fetched.extend(future.result())
        if depth > 1:
            host = urlsplit(final.url).hostname
            pages = [
                page
                for page in find_page_links(html, final.url, content_type=final.header("content-type"))
                if urlsplit(page).hostname == host and page not in seen
            ][:MAX_LINKED_PAGES]
            seen.update(pages)
            for page in pages:
                fetched.extend(self._page(page, role="linked-page", depth=depth - 1, seen=seen))
        return fetched

    def _inline(self, page: Exchange, number: int, link: MediaLink) -> _Fetched:
        """A picture the page holds as a data: URI: analysed like a fetched one, named after the page."""
        assert link.inline is not None
        content_type = _DATA_TYPE.match(link.url)
        mime = content_type.group(1).lower() if content_type else "application/octet-stream"
        uri = f"{page.url}#inline-{number}"
        found_at = datetime.now(UTC)
        blob_id = self.blobs.put(resource_record(uri, link.inline, mime, found_at, page.url))
        exchange = Exchange(
            url=uri,
            requested_at=found_at,
            request_headers=[],
            status=200,
            reason="inline data: URI",
            http_version="",
            response_headers=[("Content-Type", mime)],
            body=link.inline,
            truncated=None,
            server_ip=page.server_ip,  # served inside the page: same server
            server_port=page.server_port,
            tls_subject=page.tls_subject,
            tls_issuer=page.tls_issuer,
            tls_certificate_sha256=page.tls_certificate_sha256,
            error=None,
        )
        self.progress(1, 0)
        size, sha256 = len(exchange.body), exchange.payload_sha256
        exchange.body = b""
        return _Fetched(exchange, "media", link.found_in, blob_id, mime, True, size, sha256)

    def _medium(self, url: str, found_in: str) -> list[_Fetched]:
        kept = self._keep(self._fetch(url, self.settings.max_media_bytes), "media", found_in)
        self.progress(1, 0)
        return kept


def capture_urls(
    store: Store,
    blobs: BlobStore,
    case_number: str,
    urls: Sequence[str],
    *,
    settings: OnlineSettings,
    fetcher: Fetcher,
    scan_settings: ScanSettings,
    actor: str,
    again: bool = False,
    console: Console | None = None,
    quiet: bool = False,
    after_scan: Callable[[Session, list[int]], int] | None = None,
) -> CaptureSummary:
    """Capture every URL into the case, scan what was fetched, and (through `after_scan`) track matches."""
    console = console or Console(stderr=True)
    pages = list(dict.fromkeys(normalise_url(url) for url in urls))
    summary = CaptureSummary()
    started = time.monotonic()
    todo, case_id = _prepare(store, case_number, pages, actor, again, summary)
    if todo:
        _fetch_all(store, blobs, todo, settings, fetcher, console, quiet, summary)
    # Every capture of the case that was fetched but not yet scanned: this run's, and any an earlier,
    # interrupted run left.
    with store.session() as session:
        pending = list(
            session.scalars(
                select(OnlineCapture.id).where(
                    OnlineCapture.case_id == case_id, OnlineCapture.status == "fetched"
                )
            )
        )
    if pending:
        summary.scan = _scan(store, blobs, case_id, pending, scan_settings, console, quiet)
        if summary.scan.status == "finished":
            if settings.keep_media == "none":
                drop_media_payloads(store, blobs, pending)
            with store.transaction() as session:
                if after_scan is not None:
                    summary.locations_new = after_scan(session, pending)
                for capture in session.scalars(select(OnlineCapture).where(OnlineCapture.id.in_(pending))):
                    capture.status = "finished"
                    capture.finished_at = utcnow()
    summary.capture_ids = pending
    summary.seconds = time.monotonic() - started
    return summary


def _prepare(
    store: Store, case_number: str, pages: list[str], actor: str, again: bool, summary: CaptureSummary
) -> tuple[list[tuple[int, str]], int]:
    """(capture id, page URL) for every page to fetch now; captures killed while fetching are discarded."""
    todo: list[tuple[int, str]] = []
    with store.transaction() as session:
        case = find_case(session, case_number)
        for url in pages:
            captures = list(
                session.scalars(
                    select(OnlineCapture).where(
                        OnlineCapture.case_id == case.id, OnlineCapture.page_url == url
                    )
                )
            )
            for stale in (c for c in captures if c.status == "fetching"):
                _discard(session, stale)
            if not again and any(c.status in ("fetched", "finished") for c in captures):
                summary.pages_skipped += 1
                continue
            item = session.scalar(
                select(EvidenceItem).where(EvidenceItem.case_id == case.id, EvidenceItem.source_path == url)
            )
            if item is None:
                item = EvidenceItem(case_id=case.id, name=url, source_path=url, kind=KIND)
                session.add(item)
                session.flush()
            capture = OnlineCapture(
                case_id=case.id,
                evidence_id=item.id,
                page_url=url,
                requested_by=actor,
                status="fetching",
                media_found=0,
                bytes_fetched=0,
            )
            session.add(capture)
            session.flush()
            todo.append((capture.id, url))
        return todo, case.id


def _discard(session: Session, capture: OnlineCapture) -> None:
    # Its blobs stay unreferenced (encrypted, never read); its rows go, so the page is fetched afresh.
    session.execute(delete(CaptureExchange).where(CaptureExchange.capture_id == capture.id))
    session.delete(capture)
    session.flush()


def _fetch_all(
    store: Store,
    blobs: BlobStore,
    todo: list[tuple[int, str]],
    settings: OnlineSettings,
    fetcher: Fetcher,
    console: Console,
    quiet: bool,
    summary: CaptureSummary,
) -> None:
    info_blob = blobs.put(
        warcinfo_record(
            {
                "software": f"Himaya {__version__}",
                "format": "WARC File Format 1.1",
                "description": "Capture of reported URLs by a law-enforcement unit",
                "robots": "ignore",
            }
        )
    )
    lock = threading.Lock()
    counters = {"media": 0, "bytes": 0}
    with _CaptureProgress(console, len(todo), quiet) as bar:

        def progress(media: int, size: int) -> None:
            with lock:
                counters["media"] += media
                counters["bytes"] += size
                bar.update(counters["media"], counters["bytes"])

        capturer = _Capturer(fetcher, blobs, settings, progress)
        pages = ThreadPoolExecutor(max(settings.concurrency, 1), thread_name_prefix="page")
        try:
            futures = {pages.submit(capturer.page, url): (capture_id, url) for capture_id, url in todo}
            for future, (capture_id, _) in futures.items():
                fetched = future.result()
                _store_capture(store, capture_id, fetched, info_blob, summary)
                bar.page_done()
        finally:
            # On Ctrl-C, pages not started yet are dropped (a re-run fetches them); those under way end
            # within their time limits.
            pages.shutdown(wait=True, cancel_futures=True)
            capturer.close()


def _store_capture(
    store: Store, capture_id: int, fetched: list[_Fetched], info_blob: str, summary: CaptureSummary
) -> None:
    with store.transaction() as session:
        capture = session.get(OnlineCapture, capture_id)
        assert capture is not None
        capture.warcinfo_blob_id = info_blob
        for seq, item in enumerate(fetched):
            exchange = item.exchange
            if item.role == "page" or (item.role == "redirect" and seq == 0 and capture.final_url is None):
                capture.final_url = exchange.url
            if item.role == "page" and exchange.error:
                capture.error = exchange.error
            session.add(
                CaptureExchange(
                    capture_id=capture_id,
                    seq=seq,
                    url=exchange.url,
                    role=item.role,
                    found_in=item.found_in,
                    fetched_at=exchange.requested_at,
                    http_status=exchange.status,
                    content_type=(item.content_type or "")[:200] or None,
                    size=item.size if exchange.status is not None else None,
                    payload_sha256=item.sha256 if exchange.status is not None else None,
                    server_ip=exchange.server_ip,
                    tls_subject=exchange.tls_subject,
                    truncated=exchange.truncated,
                    error=exchange.error,
                    blocked=exchange.blocked,
                    blob_id=item.blob_id,
                    locator=f"c{capture_id}/{seq}" if item.makes_file else None,
                    etag=exchange.header("etag"),
                    last_modified=exchange.header("last-modified"),
                )
            )
            summary.exchanges += 1
            summary.bytes += item.size
            if exchange.error or (exchange.status is not None and exchange.status >= 400):
                summary.fetch_errors += 1
            if item.role == "media":
                summary.media += 1
        capture.media_found = sum(1 for item in fetched if item.role == "media")
        capture.bytes_fetched = sum(item.size for item in fetched)
        capture.status = "fetched"
    summary.pages += 1


def _file_error(row: CaptureExchange) -> str | None:
    if row.blocked or (row.error and row.http_status is None):
        return row.error or "not fetched"
    if row.http_status is not None and row.http_status != 200:
        return f"the server answered HTTP {row.http_status} at capture time; nothing to analyse"
    notes = []
    if row.truncated:
        notes.append(
            f"the response was cut short ({row.truncated}) at {row.size or 0:,} bytes: only that part "
            "was analysed (raise online.max_media_bytes or online.total_timeout_s to capture it whole)"
        )
    if row.error:
        notes.append(row.error)
    return "; ".join(notes) or None


def _scan(
    store: Store,
    blobs: BlobStore,
    case_id: int,
    capture_ids: list[int],
    scan_settings: ScanSettings,
    console: Console,
    quiet: bool,
) -> ScanSummary:
    def plan(seen: Callable[[str, int], None]) -> tuple[list[TaskFile], int, int]:
        todo: list[TaskFile] = []
        skipped = 0
        with store.session() as session:
            rows = session.execute(
                select(CaptureExchange, OnlineCapture.evidence_id)
                .join(OnlineCapture, CaptureExchange.capture_id == OnlineCapture.id)
                .where(CaptureExchange.capture_id.in_(capture_ids), CaptureExchange.locator.is_not(None))
                .order_by(CaptureExchange.capture_id, CaptureExchange.seq)
            ).all()
            by_item: dict[int, list[CaptureExchange]] = {}
            for row, evidence_id in rows:
                by_item.setdefault(evidence_id, []).append(row)
            for evidence_id, exchanges in by_item.items():
                done = existing_locators(session, evidence_id, [r.locator for r in exchanges if r.locator])
                for row in exchanges:
                    assert row.locator is not None
                    if row.locator in done:
                        skipped += 1
                        continue
                    error = _file_error(row)
                    readable = row.http_status == 200
                    todo.append(
                        TaskFile.captured(
                            evidence_id,
                            row.locator,
                            row.url,
                            row.blob_id if readable else None,
                            row.size if readable else None,
                            error,
                        )
                    )
                    seen(row.url, len(todo))
        return todo, skipped, sum(f.size or 0 for f in todo)

    return execute_scan(
        store, case_id, plan, settings=scan_settings, blobs=blobs, console=console, quiet=quiet
    )


def drop_media_payloads(store: Store, blobs: BlobStore, capture_ids: list[int]) -> None:
    """online.keep_media = none: once analysed, each medium's record is replaced by one without its bytes.

    The replacement keeps the status line, the headers and the payload's SHA-256, so the capture still
    says what was served; the picture itself is kept nowhere.
    """
    from himaya.online.warc import strip_payload

    with store.transaction() as session:
        rows = session.scalars(
            select(CaptureExchange).where(
                CaptureExchange.capture_id.in_(capture_ids),
                CaptureExchange.role == "media",
                CaptureExchange.blob_id.is_not(None),
            )
        )
        for row in rows:
            assert row.blob_id is not None
            old = row.blob_id
            row.blob_id = blobs.put(strip_payload(blobs.get(old)))
            session.flush()
            blobs.delete(old)


class _CaptureProgress:
    """Pages done of all, media fetched, MB and MB/s, ETA by pages."""

    def __init__(self, console: Console, pages: int, quiet: bool) -> None:
        self.quiet = quiet
        self.started = time.monotonic()
        self._progress = Progress(
            TextColumn("capturing"),
            BarColumn(),
            TextColumn(
                "{task.completed}/{task.total} pages · {task.fields[media]} media · {task.fields[mb]}"
            ),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=quiet,
        )
        self._task = self._progress.add_task("capture", total=pages, media=0, mb="0.0 MB")

    def __enter__(self) -> _CaptureProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)  # type: ignore[arg-type]

    def update(self, media: int, size: int) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = size / 1e6 / elapsed
        self._progress.update(self._task, media=media, mb=f"{size / 1e6:.1f} MB ({rate:.1f} MB/s)")

    def page_done(self) -> None:
        self._progress.advance(self._task)


def fetched_at_utc(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
