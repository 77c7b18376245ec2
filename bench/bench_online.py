"""Online takedown: capture throughput with matching, and a 10,000-URL re-check (must take <= 60 s).

    .venv/bin/python bench/bench_online.py [--only capture|recheck|both] [--pages 200] [--per-page 10]
        [--known-every 10] [--capture-repeats 3] [--urls 10000] [--repeats 3] [--profile-urls 1000]

Everything is local and benign: a lean HTTP/1.1 keep-alive site (bench/online_server.py) runs in its own
process (multiprocessing spawn, so it never takes the GIL from the client being timed; on a 2-core machine
it has one core and Himaya the other) on 127.0.0.1 .. 127.0.0.4, one listener per address. Each
sub-benchmark gets a fresh home (HIMAYA_HOME, HIMAYA_KEY_FILE) in a temporary folder; SQLite only.

capture: PAGES pages of PER_PAGE photo-like 640x480 JPEGs each (~74 kB, generated from seeds with
  Pillow, cached under bench/out/online-media-*), every KNOWN_EVERY-th medium in a TEST md5 hash set.
  Times `capture_and_track` (default online settings: concurrency 8, per_host 2, all on one host;
  ScanSettings(workers=2)) end to end, split into fetch+store, scan and the rest (by timing capture.py's
  `_fetch_all` and `_scan`), and checks that exactly the known media matched and became tracked locations.
  Baselines in the same run: the same URLs fetched by a bare httpx client (8 threads, nothing stored),
  and `run_scan` of the same JPEGs from a folder with the same workers.
recheck: URLS tracked locations ("notified", ETag as the site answers, due) inserted in bulk, re-checked
  with `recheck(..., follow_up=False)`: all answers are 304 Not Modified. Runs: one host with the
  defaults (concurrency 8, per_host 2), one host with per_host 8, four hosts with the defaults; REPEATS
  each, medians. Baselines: a bare httpx client sending the same conditional GETs (8 and 2 threads), and
  the tests' TestSite (http.server) answering the bare client, to show which side is the limit. Then
  one PROFILE_URLS-URL re-check under cProfile (every thread: the pool's and the main one's, timed in
  each thread's CPU time, so threads waiting for a host slot or for the GIL count nothing), top 15
  cumulative and top 15 own-time entries printed.

Prints a summary table and writes bench/out/online-<date>.json with every figure and the command. A full
run takes about 3.5 minutes on 2 cores (the first also makes the JPEGs: ~25 s more). It warns when the
CPUs were busy before it started: another job on a 2-core machine halves the capture figures.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import multiprocessing
import os
import platform
import pstats
import shlex
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))  # tests.builders, for the TestSite comparison

import httpx  # noqa: E402
from online_server import SiteSpec, serve, serve_test_site  # noqa: E402
from sqlalchemy import insert, update  # noqa: E402

from himaya.cases import create_case  # noqa: E402
from himaya.config import ScanSettings  # noqa: E402
from himaya.hashsets.importer import import_hash_set  # noqa: E402
from himaya.online import capture as capture_module  # noqa: E402
from himaya.online import settings as online_settings  # noqa: E402
from himaya.online.capture import make_fetcher  # noqa: E402
from himaya.online.recheck import recheck  # noqa: E402
from himaya.online.service import capture_and_track, load_settings  # noqa: E402
from himaya.online.settings import OnlineSettings  # noqa: E402
from himaya.pipeline.scan import run_scan  # noqa: E402
from himaya.security.crypto import load_or_create_key  # noqa: E402
from himaya.store.blobs import BlobStore  # noqa: E402
from himaya.store.db import Store, open_store  # noqa: E402
from himaya.store.models import OnlineLocation  # noqa: E402

OUT = ROOT / "bench" / "out"
WIDTH, HEIGHT = 640, 480
SEED_BASE = 60_000
ADDRESSES = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")
TARGET_S = 60.0
ACTOR = "bench"


# ------------------------------------------------------------------------------------------ helpers


class LocalSite:
    """The bench site in a spawned process: `ports[address]`, `stats()` (and reset), `close()`."""

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self._control, child = context.Pipe()
        self._process = context.Process(target=target, args=(*args, child), daemon=True)
        self._process.start()
        if not self._control.poll(300):
            self._process.kill()
            raise SystemExit("the bench site did not start within 300 s")
        self.ready: dict[str, Any] = self._control.recv()
        self.ports: dict[str, int] = {k: v for k, v in self.ready.items() if isinstance(v, int)}

    def url(self, address: str, path: str) -> str:
        return f"http://{address}:{self.ports[address]}{path}"

    def stats(self) -> dict[str, Any]:
        self._control.send("stats")
        answer: dict[str, Any] = self._control.recv()
        return answer

    def close(self) -> dict[str, Any]:
        self._control.send("stop")
        last: dict[str, Any] = self._control.recv()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
        return last

    def __enter__(self) -> LocalSite:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process.is_alive():
            self.close()


@contextmanager
def fresh_home(name: str) -> Iterator[tuple[Store, BlobStore, Path]]:
    with tempfile.TemporaryDirectory(prefix=f"himaya-bench-{name}-") as scratch:
        home = Path(scratch) / "home"
        os.environ["HIMAYA_HOME"] = str(home)
        os.environ["HIMAYA_KEY_FILE"] = str(Path(scratch) / "config" / "blob.key")
        store = open_store(home)
        key = load_or_create_key(Path(os.environ["HIMAYA_KEY_FILE"]), home).key
        try:
            yield store, BlobStore(home / "blobs", key), Path(scratch)
        finally:
            store.close()


def store_settings(store: Store, values: dict[str, str]) -> OnlineSettings:
    with store.transaction() as session:
        for key, value in values.items():
            online_settings.store(session, key, value, ACTOR)
    return load_settings(store)


def _write_medium(job: tuple[int, str]) -> str:
    from himaya.demo.pictures import photo_jpeg

    index, folder = job
    path = Path(folder) / f"m{index}.jpg"
    if not path.exists():
        data = photo_jpeg(SEED_BASE + index, WIDTH, HEIGHT)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(path)
    return hashlib.md5(path.read_bytes()).hexdigest()


def make_media(count: int) -> tuple[Path, list[str]]:
    """COUNT benign JPEGs m0.jpg .. (cached: generated once per count), and their md5s in order."""
    folder = OUT / f"online-media-{count}-{WIDTH}x{HEIGHT}"
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        md5s = list(pool.map(_write_medium, [(i, str(folder)) for i in range(count)], chunksize=32))
    print(f"  media: {count} JPEGs in {folder} ({time.perf_counter() - started:.1f} s)", flush=True)
    return folder, md5s


def bare_fetch(urls: Sequence[str], threads: int, headers: Callable[[int], dict[str, str]]) -> dict[str, Any]:
    """The same requests from a plain httpx client (no guard, no recording, nothing stored): the floor."""
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    sizes = [0]
    with httpx.Client(limits=limits, trust_env=False, timeout=30) as client:

        def one(index: int) -> None:
            response = client.get(urls[index], headers=headers(index))
            with lock:
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                sizes[0] += len(response.content)

        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(len(urls))))
        seconds = time.perf_counter() - started
    return {
        "threads": threads,
        "requests": len(urls),
        "seconds": seconds,
        "per_s": len(urls) / seconds,
        "mb_per_s": sizes[0] / 1e6 / seconds,
        "statuses": statuses,
    }


# ------------------------------------------------------------------------------------------ capture


@contextmanager
def phase_timer(timings: dict[str, float]) -> Iterator[None]:
    """Times capture.py's fetch and scan phases (module functions, looked up at call time)."""

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - started

        return wrapper

    with (
        patch.object(capture_module, "_fetch_all", timed("fetch", capture_module._fetch_all)),
        patch.object(capture_module, "_scan", timed("scan", capture_module._scan)),
    ):
        yield


def capture_once(
    site: LocalSite, folder: Path, md5s: list[str], known: list[int], args: argparse.Namespace
) -> dict[str, Any]:
    with fresh_home("capture") as (store, blobs, scratch):
        hash_list = scratch / "TEST-bench-known.txt"
        hash_list.write_text("".join(f"{md5s[i]}\n" for i in known))
        import_hash_set(store, hash_list, name="TEST-bench-known", kind="alert")
        create_case(store, "TEST-BENCH-CAPTURE")
        settings = store_settings(store, {"online.allow_networks": "127.0.0.1/32"})
        urls = [site.url("127.0.0.1", f"/p/{page}.html") for page in range(args.pages)]
        site.stats()
        timings: dict[str, float] = {}
        started = time.perf_counter()
        with phase_timer(timings):
            summary = capture_and_track(
                store,
                blobs,
                "TEST-BENCH-CAPTURE",
                urls,
                settings=settings,
                scan_settings=ScanSettings(workers=args.workers),
                actor=ACTOR,
                quiet=True,
            )
        seconds = time.perf_counter() - started
        served = site.stats()
        scan = summary.scan
        assert scan is not None and scan.status == "finished", scan
        media = args.pages * args.per_page
        problems = []
        if summary.media != media or summary.fetch_errors:
            problems.append(f"fetched {summary.media} media of {media}, {summary.fetch_errors} errors")
        if scan.matched_files != len(known) or summary.locations_new != len(known):
            problems.append(
                f"matched {scan.matched_files} and tracked {summary.locations_new}, expected {len(known)}"
            )
        if problems:
            raise SystemExit("capture went wrong: " + "; ".join(problems))
        blob_bytes = sum(p.stat().st_size for p in (blobs.root).rglob("*") if p.is_file())

        # Baseline: the same pictures scanned from a folder by the same workers, in a second case.
        create_case(store, "TEST-BENCH-FOLDER")
        folder_started = time.perf_counter()
        folder_scan = run_scan(
            store,
            "TEST-BENCH-FOLDER",
            [folder],
            settings=ScanSettings(workers=args.workers),
            blobs=blobs,
            quiet=True,
        )
        folder_seconds = time.perf_counter() - folder_started
        assert folder_scan.matched_files == len(known), folder_scan
    fetch_s = timings.get("fetch", 0.0)
    scan_s = timings.get("scan", 0.0)
    return {
        "seconds": seconds,
        "pages": summary.pages,
        "media": summary.media,
        "exchanges": summary.exchanges,
        "bytes": summary.bytes,
        "pages_per_s": summary.pages / seconds,
        "media_per_s": summary.media / seconds,
        "mb_per_s": summary.bytes / 1e6 / seconds,
        "matched": scan.matched_files,
        "locations_new": summary.locations_new,
        "files_written": scan.files_written,
        "fetch_store_s": fetch_s,
        "scan_s": scan_s,
        "scan_summary_s": scan.seconds,
        "rest_s": seconds - fetch_s - scan_s,
        "fetch_media_per_s": summary.media / fetch_s if fetch_s else None,
        "scan_files_per_s": scan.files_written / scan_s if scan_s else None,
        "blob_store_mb": blob_bytes / 1e6,
        "server": served,
        "folder_scan": {
            "seconds": folder_seconds,
            "files": folder_scan.files_written,
            "files_per_s": folder_scan.files_written / folder_seconds,
            "matched": folder_scan.matched_files,
        },
    }


def bench_capture(args: argparse.Namespace) -> dict[str, Any]:
    media = args.pages * args.per_page
    print(f"== capture: {args.pages} pages x {args.per_page} media, workers={args.workers}", flush=True)
    folder, md5s = make_media(media)
    known = list(range(0, media, args.known_every))
    spec = SiteSpec(
        addresses=("127.0.0.1",), media_folder=str(folder), pages=args.pages, per_page=args.per_page
    )
    runs = []
    with LocalSite(serve, spec) as site:
        urls = [site.url("127.0.0.1", f"/p/{page}.html") for page in range(args.pages)]
        urls += [
            site.url("127.0.0.1", f"/m/{i // args.per_page}-{i % args.per_page}.jpg") for i in range(media)
        ]
        bare = bare_fetch(urls, 8, lambda _i: {})
        print(
            f"  bare httpx, 8 threads: {bare['per_s']:.0f} requests/s, {bare['mb_per_s']:.0f} MB/s",
            flush=True,
        )
        for repeat in range(args.capture_repeats):
            run = capture_once(site, folder, md5s, known, args)
            runs.append(run)
            print(
                f"  run {repeat + 1}: {run['seconds']:.1f} s = fetch+store {run['fetch_store_s']:.1f} s"
                f" + scan {run['scan_s']:.1f} s + rest {run['rest_s']:.1f} s; "
                f"{run['pages_per_s']:.2f} pages/s, "
                f"{run['media_per_s']:.1f} media/s, {run['mb_per_s']:.1f} MB/s; matched {run['matched']}"
                f"/{len(known)}; folder scan of the same JPEGs {run['folder_scan']['seconds']:.1f} s "
                f"({run['folder_scan']['files_per_s']:.1f} files/s)",
                flush=True,
            )
    keys = [k for k, v in runs[0].items() if isinstance(v, float)]
    return {
        "pages": args.pages,
        "per_page": args.per_page,
        "media": media,
        "known": len(known),
        "workers": args.workers,
        "settings": {"concurrency": OnlineSettings().concurrency, "per_host": OnlineSettings().per_host},
        "bare_fetch": bare,
        "median": {k: statistics.median(r[k] for r in runs) for k in keys},
        "folder_scan_median_s": statistics.median(r["folder_scan"]["seconds"] for r in runs),
        "runs": runs,
    }


# ------------------------------------------------------------------------------------------ re-check


def insert_locations(
    store: Store, case_number: str, site: LocalSite, hosts: Sequence[str], count: int
) -> int:
    case = create_case(store, case_number)
    past = datetime.now(UTC) - timedelta(hours=1)
    rows = []
    for n in range(count):
        host = hosts[n % len(hosts)]
        url = site.url(host, f"/r/{n}")
        rows.append(
            {
                "case_id": case.id,
                "url": url,
                "page_url": site.url(host, f"/p/{n // 10}.html"),
                "host": host,
                "sha256": hashlib.sha256(b"TEST benign /r/%d" % n).hexdigest(),
                "status": "notified",
                "server_ip": host,
                "first_seen_at": past,
                "notified_at": past,
                "next_check_at": past,
                "etag": f'"r-{n}"',
                "content_length": len(b"TEST benign /r/%d" % n),
                "checks": 0,
            }
        )
    with store.transaction() as session:
        for start in range(0, len(rows), 5000):
            session.execute(insert(OnlineLocation), rows[start : start + 5000])
    return case.id


def make_due(store: Store, case_id: int) -> None:
    """Back to "notified" and due, as before the first run (a run sets them online, due in 24 h)."""
    with store.transaction() as session:
        session.execute(
            update(OnlineLocation)
            .where(OnlineLocation.case_id == case_id)
            .values(status="notified", next_check_at=datetime.now(UTC) - timedelta(hours=1))
        )


def recheck_once(
    store: Store,
    site: LocalSite,
    settings: OnlineSettings,
    case_number: str,
    limit: int | None = None,
) -> dict[str, Any]:
    site.stats()
    started = time.perf_counter()
    with make_fetcher(settings) as fetcher:
        summary = recheck(
            store,
            fetcher,
            settings,
            actor=ACTOR,
            case_numbers=[case_number],
            every=False,
            limit=limit,
            quiet=True,
            follow_up=False,
        )
    seconds = time.perf_counter() - started
    served = site.stats()
    return {
        "seconds": seconds,
        "recheck_s": summary.seconds,
        "checked": summary.checked,
        "urls_per_s": summary.checked / seconds,
        "outcomes": summary.outcomes,
        "server_requests": served["requests"],
        "server_304": served["not_modified"],
        "server_connections": served["connections"],
    }


@contextmanager
def every_thread_profiled() -> Iterator[list[cProfile.Profile]]:
    """cProfile only sees the thread that enabled it: each new thread gets its own profile too.

    Timed in thread CPU time: with wall time, the pool threads' waits for a host slot fill the top of
    the list and hide the work.
    """
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    def start(_frame: Any, _event: str, _arg: Any) -> None:
        profile = cProfile.Profile(time.thread_time)
        with lock:
            profiles.append(profile)
        sys.setprofile(None)
        profile.enable()

    main = cProfile.Profile(time.thread_time)
    profiles.append(main)
    threading.setprofile(start)
    main.enable()
    try:
        yield profiles
    finally:
        main.disable()
        threading.setprofile(None)


def profile_text(profiles: list[cProfile.Profile], sort: str, top: int) -> str:
    buffer = io.StringIO()
    stats = pstats.Stats(profiles[0], stream=buffer)
    for profile in profiles[1:]:
        stats.add(profile)
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    return buffer.getvalue()


# (label, file, function): cumulative CPU seconds read off the merged profile.
BREAKDOWN = (
    ("main thread: select the due locations", "recheck.py", "due_locations"),
    ("main thread: write results (one transaction a 500)", "recheck.py", "apply_results"),
    ("pool: Checker.check, all in", "recheck.py", "check"),
    ("pool:   Fetcher.fetch (a new httpx.Client each)", "fetch.py", "fetch"),
    ("pool:     httpx.Client() made", "_client.py", "__init__"),
    ("pool:     Fetcher._hop (request, send, record, body)", "fetch.py", "_hop"),
    ("pool:       httpx send (httpcore, h11, socket)", "fetch.py", "_send"),
    ("pool:       the guard's connect (new connections only)", "guard.py", "connect_tcp"),
    ("pool:   host slot (its wait excluded: CPU time)", "capture.py", "hold"),
)


def cpu_breakdown(profiles: list[cProfile.Profile]) -> dict[str, float]:
    stats = pstats.Stats(profiles[0])
    for profile in profiles[1:]:
        stats.add(profile)
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    found: dict[str, float] = {
        "main thread CPU, total": pstats.Stats(profiles[0]).total_tt,  # type: ignore[attr-defined]
        "pool threads CPU, total": sum(pstats.Stats(p).total_tt for p in profiles[1:]),  # type: ignore[attr-defined]
    }
    for label, filename, function in BREAKDOWN:
        # The largest entry of that name: Client.__init__ holds BaseClient.__init__, the method its helpers.
        found[label] = max(
            (
                entry[3]
                for (name, _line, func), entry in table.items()
                if name.endswith(filename) and func == function
            ),
            default=0.0,
        )
    return found


def bench_recheck(args: argparse.Namespace) -> dict[str, Any]:
    print(f"== re-check: {args.urls:,} tracked URLs answering 304, {args.repeats} repeats", flush=True)
    result: dict[str, Any] = {"urls": args.urls, "target_s": TARGET_S}
    defaults = OnlineSettings()

    # The site itself: the bare client against this bench's server and against the tests' TestSite.
    with LocalSite(serve_test_site, min(args.urls, 2000)) as test_site:
        etags: list[str] = test_site.ready["etags"]
        urls = [test_site.url("127.0.0.1", f"/r/{n}") for n in range(len(etags))]
        testsite = bare_fetch(urls, 8, lambda i: {"If-None-Match": etags[i]})
    print(
        f"  bare httpx vs TestSite (http.server), 8 threads: {testsite['per_s']:.0f} requests/s", flush=True
    )

    with LocalSite(serve, SiteSpec(addresses=ADDRESSES)) as site, fresh_home("recheck") as (store, _, _):
        urls = [site.url("127.0.0.1", f"/r/{n}") for n in range(args.urls)]
        bare = {
            threads: bare_fetch(urls, threads, lambda i: {"If-None-Match": f'"r-{i}"'}) for threads in (8, 2)
        }
        result["bare_fetch"] = {
            "lean_8_threads": bare[8],
            "lean_2_threads": bare[2],
            "testsite_8_threads": testsite,
        }
        print(
            f"  bare httpx vs this bench's site: {bare[8]['per_s']:.0f} requests/s (8 threads), "
            f"{bare[2]['per_s']:.0f} (2 threads); statuses {bare[8]['statuses']}",
            flush=True,
        )
        settings = store_settings(store, {"online.allow_networks": "127.0.0.0/29"})
        started = time.perf_counter()
        one_host = insert_locations(store, "TEST-BENCH-RECHECK-1HOST", site, ADDRESSES[:1], args.urls)
        four_hosts = insert_locations(store, "TEST-BENCH-RECHECK-4HOSTS", site, ADDRESSES, args.urls)
        print(f"  inserted 2 x {args.urls:,} locations in {time.perf_counter() - started:.1f} s", flush=True)

        scenarios: dict[str, tuple[int, str, OnlineSettings]] = {
            "1 host, per_host 2 (defaults)": (one_host, "TEST-BENCH-RECHECK-1HOST", settings),
            "1 host, per_host 8": (one_host, "TEST-BENCH-RECHECK-1HOST", replace(settings, per_host=8)),
            "4 hosts, per_host 2": (four_hosts, "TEST-BENCH-RECHECK-4HOSTS", settings),
        }
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in scenarios}
        names = list(scenarios)
        for repeat in range(args.repeats):
            for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
                case_id, number, chosen = scenarios[name]
                make_due(store, case_id)
                run = recheck_once(store, site, chosen, number)
                if run["outcomes"] != {"not-modified": args.urls} or run["server_304"] != args.urls:
                    raise SystemExit(f"{name}: expected {args.urls} not-modified, got {run}")
                runs[name].append(run)
                print(
                    f"  {name}: {run['seconds']:.1f} s, {run['urls_per_s']:.0f} URLs/s, "
                    f"{run['server_connections']} connections",
                    flush=True,
                )
        result["settings"] = {"concurrency": defaults.concurrency, "per_host": defaults.per_host}
        result["scenarios"] = {
            name: {
                "concurrency": scenarios[name][2].concurrency,
                "per_host": scenarios[name][2].per_host,
                "hosts": 1 if "1 host" in name else len(ADDRESSES),
                "median_s": statistics.median(r["seconds"] for r in runs[name]),
                "median_urls_per_s": statistics.median(r["urls_per_s"] for r in runs[name]),
                "runs": runs[name],
            }
            for name in names
        }

        make_due(store, one_host)
        with every_thread_profiled() as profiles:
            profiled = recheck_once(
                store, site, settings, "TEST-BENCH-RECHECK-1HOST", limit=args.profile_urls
            )
        breakdown = cpu_breakdown(profiles)
        cumulative = profile_text(profiles, "cumulative", 15)
        own = profile_text(profiles, "tottime", 15)
        result["profile"] = {
            "run": profiled,
            "threads": len(profiles),
            "cpu_breakdown_s": breakdown,
            "cumulative": cumulative,
            "tottime": own,
        }
        print(
            f"\n-- cProfile, {args.profile_urls:,} URLs, defaults, one host, {len(profiles)} threads summed "
            f"({profiled['seconds']:.1f} s wall under the profiler), CPU seconds:",
            flush=True,
        )
        for label, seconds in breakdown.items():
            print(f"  {label:<58} {seconds:7.3f}")
        print(f"\n-- top 15 cumulative\n{cumulative}-- top 15 own time\n{own}", flush=True)
    return result


# ------------------------------------------------------------------------------------------ main


def busy_share(seconds: float = 1.0) -> float | None:
    """How busy all CPUs were over `seconds` (0..1) by /proc/stat; None where there is none."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]), idle

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    spent = total1 - total0
    return 1 - (idle1 - idle0) / spent if spent else None


def print_summary(result: dict[str, Any]) -> None:
    print("\n| figure | value |")
    print("| --- | ---: |")
    capture = result.get("capture")
    if capture is not None:
        m = capture["median"]
        print(
            f"| capture: {capture['pages']} pages, {capture['media']} media, workers {capture['workers']} "
            f"| {m['seconds']:.1f} s |"
        )
        print(f"| capture: pages/s | {m['pages_per_s']:.2f} |")
        print(f"| capture: media/s (fetch + WARC + scan + match) | {m['media_per_s']:.1f} |")
        print(f"| capture: MB/s | {m['mb_per_s']:.2f} |")
        print(
            f"| capture: fetch+store / scan / rest | {m['fetch_store_s']:.1f} / {m['scan_s']:.1f} / "
            f"{m['rest_s']:.1f} s |"
        )
        print(f"| capture: matched / known | {capture['runs'][0]['matched']} / {capture['known']} |")
        print(f"| baseline: bare httpx fetch of the same URLs | {capture['bare_fetch']['per_s']:.0f} req/s |")
        print(f"| baseline: folder scan of the same JPEGs | {capture['folder_scan_median_s']:.1f} s |")
    rc = result.get("recheck")
    if rc is not None:
        for name, scenario in rc["scenarios"].items():
            verdict = "ok" if scenario["median_s"] <= TARGET_S else "OVER 60 s"
            print(
                f"| re-check {rc['urls']:,} x 304, {name} | {scenario['median_s']:.1f} s, "
                f"{scenario['median_urls_per_s']:.0f} URLs/s ({verdict}) |"
            )
        bare = rc["bare_fetch"]
        print(
            f"| baseline: bare httpx, same 304s, 8 / 2 threads | {bare['lean_8_threads']['per_s']:.0f} / "
            f"{bare['lean_2_threads']['per_s']:.0f} req/s |"
        )
        print(
            "| baseline: bare httpx vs TestSite, 8 threads | "
            f"{bare['testsite_8_threads']['per_s']:.0f} req/s |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", choices=("capture", "recheck", "both"), default="both")
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--per-page", type=int, default=10)
    parser.add_argument("--known-every", type=int, default=10, help="every Nth medium is in the hash set")
    parser.add_argument("--workers", type=int, default=2, help="scan worker processes (default 2)")
    parser.add_argument("--capture-repeats", type=int, default=3, help="capture runs (median)")
    parser.add_argument("--urls", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="re-check runs per scenario (median)")
    parser.add_argument("--profile-urls", type=int, default=1000)
    args = parser.parse_args()
    os.environ.pop("HIMAYA_DATABASE_URL", None)  # SQLite in the scratch home, never a server's database

    command = ".venv/bin/python bench/bench_online.py " + shlex.join(sys.argv[1:])
    result: dict[str, Any] = {
        "command": command.strip(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "httpx": httpx.__version__,
            "cpu_busy_at_start": busy_share(),
        },
    }
    busy = result["machine"]["cpu_busy_at_start"]
    if busy is not None and busy > 0.2:
        print(
            f"warning: the CPUs were {busy:.0%} busy before the start: something else is running, and on a "
            "2-core machine it skews every figure; run again when the machine is idle",
            flush=True,
        )
    started = time.perf_counter()
    if args.only in ("capture", "both"):
        result["capture"] = bench_capture(args)
    if args.only in ("recheck", "both"):
        result["recheck"] = bench_recheck(args)
    result["total_s"] = time.perf_counter() - started
    print_summary(result)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"online-{date.today().isoformat()}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\n{command.strip()}\nwrote {path} ({result['total_s']:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
