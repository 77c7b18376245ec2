"""The review gallery at a million pictures: refresh, then the server time of a page of 200 (p95 <= 150 ms).

    .venv/bin/python bench/bench_gallery.py [--database sqlite|postgresql|both] [--files 1000000]
        [--repeats 100] [--deep-page 2000] [--stack-pictures 100000] [--rebuild]

Builds a TEST case of FILES synthetic files directly with bulk SQL (executemany on SQLite, COPY on
PostgreSQL): files + media facts (95% decoded pictures) with realistic origins (camera roll, chat apps,
downloads, thumbnail and browser caches), ~50 camera serials, EXIF dates over five years, GPS on some,
one content in ten repeated, 3% matched by an alert set (VICS labels), 2% by an ignore set, and 1% of the
contents reviewed. Nothing is a picture: every hash is random bytes. Then:

- `refresh` of the whole case (first: inserts every row; again: recomputes tiers and categories only), and
  `refresh(only_new=True)` on the refreshed case (what a gallery page view costs while nothing is new);
- the server time of a gallery page of 200, each in one transaction with one audit event written through
  `himaya.security.audit.AuditTrail.record` (the head row updated first, then the event, then the commit
  and the checkpoint line), like the web app: (a) the first page, unfiltered; (b) filtered by category +
  camera serial + date range (a different serial and year each time); (c) page DEEP (default 2,000, i.e.
  400,000 pictures in) reached by walking the cursors first, then fetched REPEATS times;
- `counts` (the case page's figures), 20 times;
- `build_stacks` on a separate case of STACK_PICTURES pictures (families of near-duplicates).

The SQLite database is built once and kept under bench/out/ (delete it or pass --rebuild); PostgreSQL
(`$HIMAYA_BENCH_POSTGRES`, default the local test server) gets a throw-away schema, dropped afterwards.
Prints p50 / p95 / max per query and the query plans, and writes bench/out/gallery-<db>-<files>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import secrets
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import func, select, update  # noqa: E402

from himaya.review.gallery import counts, refresh  # noqa: E402
from himaya.review.pages import Cursor, GalleryFilter, page, page_statements  # noqa: E402
from himaya.review.stacks import build_stacks  # noqa: E402
from himaya.security.audit import GALLERY_VIEWED, AuditTrail  # noqa: E402
from himaya.store.db import Store, make_engine, migrate  # noqa: E402
from himaya.store.models import (  # noqa: E402
    Case,
    EvidenceItem,
    File,
    GalleryItem,
    HashEntry,
    HashSet,
    HashSetVersion,
)

OUT = ROOT / "bench" / "out"
POSTGRES = os.environ.get("HIMAYA_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
CHUNK = 50_000
SERIALS = [f"SN-TEST-{n:04d}" for n in range(50)]
CAMERAS = [("TESTCAM", "Model T1"), ("TESTCAM", "Model T2"), ("OTHERCAM", "X 100"), ("PHONECAM", "P 9")]
# origin: (share of files, folder, mime, (short side, long side) choices, size range)
ORIGINS: dict[str | None, tuple[float, str, str, list[tuple[int, int]], tuple[int, int]]] = {
    "camera": (
        0.30,
        "DCIM/Camera",
        "image/jpeg",
        [(3024, 4032), (2160, 3840), (1080, 1920)],
        (800_000, 6_000_000),
    ),
    "whatsapp": (
        0.15,
        "WhatsApp/Media/WhatsApp Images",
        "image/jpeg",
        [(960, 1280), (720, 1280)],
        (60_000, 400_000),
    ),
    "telegram": (0.05, "Telegram/Telegram Images", "image/jpeg", [(960, 1280)], (60_000, 400_000)),
    "downloads": (0.08, "Download", "image/jpeg", [(480, 640), (1080, 1920)], (20_000, 2_000_000)),
    "screenshots": (0.04, "Pictures/Screenshots", "image/png", [(1080, 2340)], (200_000, 2_000_000)),
    "app-data": (
        0.08,
        "data/data/com.example.app/files",
        "image/png",
        [(128, 128), (512, 512)],
        (2_000, 90_000),
    ),
    "thumbnails-cache": (0.12, "DCIM/.thumbnails", "image/jpeg", [(96, 96), (256, 320)], (2_000, 30_000)),
    "browser-cache": (
        0.10,
        "data/data/com.android.chrome/cache",
        "image/x-icon",
        [(16, 16), (64, 64)],
        (300, 9_000),
    ),
    None: (0.08, "Users/x/Pictures", "image/jpeg", [(600, 800), (3000, 4000)], (50_000, 3_000_000)),
}
ALERT_SHARE, IGNORE_SHARE, REVIEW_SHARE = 0.03, 0.02, 0.01
VICS_LABELS = ["1", "1", "2", "3", "4", "5", "0"]
START = datetime(2019, 1, 1, tzinfo=UTC)


# -- building the case ---------------------------------------------------------------------------------------


def bulk(store: Store, table: str, columns: Sequence[str], rows: Iterator[tuple[Any, ...]]) -> int:
    """Write rows the fastest way each database has: COPY on PostgreSQL, executemany on SQLite."""
    written = 0
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if store.engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
                    written += 1
        else:
            marks = ", ".join("?" for _ in columns)
            statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= CHUNK:
                    cursor.executemany(statement, batch)
                    written += len(batch)
                    batch = []
            if batch:
                cursor.executemany(statement, batch)
                written += len(batch)
        raw.commit()
    finally:
        raw.close()
    return written


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4):0{digits}x}"


def build_case(store: Store, number: str, files: int, seed: int) -> int:
    """The TEST case of `files` files; returns its id."""
    rng = random.Random(seed)
    sqlite = store.engine.dialect.name == "sqlite"
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now
    with store.transaction() as session:
        case = Case(number=number, title="TEST gallery benchmark")
        session.add(case)
        session.flush()
        items = [
            EvidenceItem(case_id=case.id, name=f"TEST-ev{n}", source_path=f"/TEST/ev{n}", kind="folder")
            for n in range(3)
        ]
        session.add_all(items)
        versions = {}
        for name, kind, scheme in (
            ("TEST-bench-alert", "alert", "vics"),
            ("TEST-bench-ignore", "ignore", None),
        ):
            hash_set = session.scalar(select(HashSet).where(HashSet.name == name))
            if hash_set is None:
                hash_set = HashSet(
                    name=name, kind=kind, category_scheme=scheme, pdq_threshold=31, pdq_min_quality=50
                )
                session.add(hash_set)
                session.flush()
                version = HashSetVersion(
                    hash_set_id=hash_set.id, version=1, format="plain", category_scheme=scheme
                )
                session.add(version)
                session.flush()
            else:
                version = session.scalars(
                    select(HashSetVersion).where(HashSetVersion.hash_set_id == hash_set.id)
                ).one()
            versions[kind] = (hash_set.id, version.id)
        session.flush()
        case_id, evidence_ids = case.id, [item.id for item in items]
        first_file = (session.scalar(select(func.max(File.id))) or 0) + 1
        first_entry = (session.scalar(select(func.max(HashEntry.id))) or 0) + 1

    origins = list(ORIGINS)
    weights = [ORIGINS[o][0] for o in origins]
    contents: list[str] = []
    planned: list[tuple[int, str | None]] = []  # (file id, origin)

    def file_rows() -> Iterator[tuple[Any, ...]]:
        for n in range(files):
            file_id = first_file + n
            origin = rng.choices(origins, weights)[0]
            _share, folder, mime, _dims, (low, high) = ORIGINS[origin]
            sha256 = rng.choice(contents) if contents and rng.random() < 0.1 else _hex(rng, 64)
            contents.append(sha256)
            planned.append((file_id, origin))
            path = f"TEST-ev/{folder}/IMG_{file_id:08d}.{'png' if mime == 'image/png' else 'jpg'}"
            yield (
                file_id, rng.choice(evidence_ids), path, path, 0, rng.randint(low, high),
                sha256[:32], sha256[:40], sha256, mime, False, False, False, origin, "ok", stamp,
            )  # fmt: skip

    started = time.perf_counter()
    bulk(
        store,
        "files",
        (
            "id", "evidence_id", "locator", "path", "depth", "size", "md5", "sha1", "sha256", "mime",
            "extension_mismatch", "deleted", "carved", "origin", "status", "added_at",
        ),
        file_rows(),
    )  # fmt: skip

    def media_rows() -> Iterator[tuple[Any, ...]]:
        for file_id, origin in planned:
            if rng.random() < 0.05:
                continue  # not decoded: no media facts
            dims = rng.choice(ORIGINS[origin][3])
            width, height = dims if rng.random() < 0.3 else (dims[1], dims[0])
            make = model = serial = when = None
            lat = lon = None
            if origin == "camera" or (origin is None and rng.random() < 0.5):
                make, model = rng.choice(CAMERAS)
                serial = rng.choice(SERIALS)
                moment = START + timedelta(seconds=rng.randrange(5 * 365 * 86400))
                when = moment.strftime("%Y:%m:%d %H:%M:%S")
                if rng.random() < 0.4:
                    lat, lon = 36 + rng.random(), 37 + rng.random()
            elif origin in ("whatsapp", "telegram") and rng.random() < 0.1:
                when = "0000:00:00 00:00:00"  # stripped or unset
            yield (file_id, width, height, _hex(rng, 64), rng.randint(40, 100), "pdq-draft512/1",
                   make, model, serial, when, lat, lon)  # fmt: skip

    bulk(
        store,
        "media_facts",
        ("file_id", "width", "height", "pdq", "pdq_quality", "pdq_pipeline", "exif_make", "exif_model",
         "exif_serial", "exif_datetime", "gps_lat", "gps_lon"),
        media_rows(),
    )  # fmt: skip
    matched: list[tuple[int, int, str]] = []  # (file id, entry id, kind)
    entries: list[tuple[Any, ...]] = []
    for file_id, _origin in planned:
        roll = rng.random()
        kind = "alert" if roll < ALERT_SHARE else "ignore" if roll < ALERT_SHARE + IGNORE_SHARE else None
        if kind is None:
            continue
        entry_id = first_entry + len(entries)
        set_id, version_id = versions[kind]
        label = rng.choice(VICS_LABELS) if kind == "alert" else None
        entries.append((entry_id, version_id, set_id, "md5", _hex(rng, 32), label))
        matched.append((file_id, entry_id, kind))
    bulk(
        store,
        "hash_entries",
        ("id", "version_id", "hash_set_id", "hash_type", "value", "category"),
        iter(entries),
    )
    bulk(
        store,
        "matches",
        ("file_id", "entry_id", "hash_set_version_id", "method", "distance", "matched_at"),
        ((f, e, versions[k][1], "md5", 0, stamp) for f, e, k in matched),
    )
    distinct = sorted(set(contents))
    reviewed = rng.sample(distinct, int(len(distinct) * REVIEW_SHARE))
    bulk(
        store,
        "reviews",
        ("case_id", "sha256", "category", "label", "reviewer", "at", "via"),
        ((case_id, sha, "illegal", "1", "TEST-reviewer", stamp, "single") for sha in reviewed),
    )
    if not sqlite:
        # The sequences behind the ids given explicitly, moved past them.
        with store.engine.begin() as connection:
            for table in ("files", "hash_entries"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
    print(f"  built {files:,} files in {time.perf_counter() - started:.1f} s", flush=True)
    return case_id


def planted_families(pictures: int, seed: int) -> tuple[list[str], int]:
    """PDQ-shaped hashes in near-duplicate families (a seed hash and 0-5 variants 1-24 bits from it), and
    how many families have two or more members: the stacks build_stacks must find."""
    rng = random.Random(seed)
    hashes: list[str] = []
    family_of: list[int] = []
    while len(hashes) < pictures:
        root = rng.getrandbits(256)
        family = len(hashes)
        hashes.append(f"{root:064x}")
        family_of.append(family)
        for _ in range(rng.choice((0, 0, 0, 1, 2, 5))):
            flipped = root
            for bit in rng.sample(range(256), rng.randint(1, 24)):
                flipped ^= 1 << bit
            hashes.append(f"{flipped:064x}")
            family_of.append(family)
    family_of = family_of[:pictures]
    return hashes[:pictures], sum(1 for count in Counter(family_of).values() if count > 1)


def stack_case(store: Store, pictures: int, seed: int) -> tuple[int, int]:
    """The case of `pictures` pictures for build_stacks (built once; its stacks cleared when reused), and
    the number of planted families."""
    hashes, families = planted_families(pictures, seed)
    number = f"TEST-stacks-{pictures}"
    with store.transaction() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        if case_id is not None:
            session.execute(update(GalleryItem).where(GalleryItem.case_id == case_id).values(stack_id=None))
            return case_id, families
        case = Case(number=number, title="TEST stacks benchmark")
        session.add(case)
        session.flush()
        item = EvidenceItem(case_id=case.id, name="TEST-ev", source_path="/TEST/stacks", kind="folder")
        session.add(item)
        session.flush()
        case_id, evidence_id = case.id, item.id
        first_file = (session.scalar(select(func.max(File.id))) or 0) + 1
    rng = random.Random(seed + 1)
    sqlite = store.engine.dialect.name == "sqlite"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else datetime.now(UTC)
    ids = range(first_file, first_file + pictures)
    bulk(
        store,
        "files",
        ("id", "evidence_id", "locator", "path", "depth", "sha256", "extension_mismatch", "deleted", "carved",
         "status", "added_at"),
        ((i, evidence_id, f"s/{i}.jpg", f"s/{i}.jpg", 0, _hex(rng, 64), False, False, False, "ok", stamp)
         for i in ids),
    )  # fmt: skip
    bulk(
        store,
        "media_facts",
        ("file_id", "pdq", "pdq_quality"),
        ((i, h, 90) for i, h in zip(ids, hashes, strict=True)),
    )
    if not sqlite:
        with store.engine.begin() as connection:
            connection.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('files', 'id'), (SELECT max(id) FROM files))"
            )
    with store.transaction() as session:
        refresh(session, case_id)
    return case_id, families


# -- measuring ---------------------------------------------------------------------------------------------


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] * 1000,  # nearest rank
        "max_ms": ordered[-1] * 1000,
    }


def timed_pages(
    store: Store,
    trail: AuditTrail,
    case_id: int,
    requests: Callable[[int], tuple[GalleryFilter, Cursor | None]],
    repeats: int,
) -> tuple[list[float], list[int]]:
    """REPEATS page requests, each one transaction: the page, its audit event, the commit."""
    samples, sizes = [], []
    for n in range(repeats):
        filters, after = requests(n)
        started = time.perf_counter()
        with store.transaction() as session:
            result = page(session, case_id, filters, after=after, limit=200)
            trail.record(
                session,
                actor="TEST-bench",
                action=GALLERY_VIEWED,
                case_id=case_id,
                detail={"items": len(result.items), "after": after.encode() if after else None},
            )
        samples.append(time.perf_counter() - started)
        sizes.append(len(result.items))
    return samples, sizes


def plans(
    store: Store, case_id: int, requests: dict[str, tuple[GalleryFilter, Cursor | None]]
) -> dict[str, str]:
    out = {}
    with store.session() as session:
        dialect = session.get_bind().dialect
        for name, (filters, after) in requests.items():
            lines = []
            for statement in page_statements(case_id, filters, after):
                sql = str(
                    statement.limit(201).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
                )
                if dialect.name == "sqlite":
                    rows = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql)
                    lines.append(" | ".join(str(row[-1]) for row in rows))
                else:
                    rows = session.connection().exec_driver_sql("EXPLAIN " + sql)
                    lines.append(" | ".join(str(row[0]).strip() for row in rows))
            out[name] = "\n    ".join(lines)
    return out


@contextmanager
def opened(database: str, files: int, rebuild: bool) -> Iterator[tuple[Store, bool]]:
    """(store, whether it must be built). SQLite: cached under bench/out/; PostgreSQL: a throw-away schema."""
    if database == "sqlite":
        OUT.mkdir(parents=True, exist_ok=True)
        path = OUT / f"gallery-{files}.db"
        if rebuild:
            for leftover in OUT.glob(f"gallery-{files}.db*"):
                leftover.unlink()
        fresh = not path.exists()
        store = Store(make_engine(f"sqlite:///{path}"))
        migrate(store.engine)
        try:
            yield store, fresh
        finally:
            store.close()
        return
    import psycopg

    admin = psycopg.connect(POSTGRES, autocommit=True)
    schema = f"himaya_bench_{secrets.token_hex(4)}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        store = Store(make_engine(f"{POSTGRES}?options=-csearch_path%3D{schema}"))
        migrate(store.engine)
        try:
            yield store, True
        finally:
            store.close()
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


def run(database: str, args: argparse.Namespace) -> dict[str, Any]:
    print(f"== {database}: {args.files:,} files", flush=True)
    result: dict[str, Any] = {"database": database, "files": args.files}
    with opened(database, args.files, args.rebuild) as (store, fresh):
        if fresh:
            case_id = build_case(store, "TEST-gallery", args.files, seed=1)
            started = time.perf_counter()
            with store.transaction() as session:
                inserted = refresh(session, case_id)
            result["refresh_first_s"] = time.perf_counter() - started
            print(f"  refresh (first): {inserted:,} rows in {result['refresh_first_s']:.1f} s", flush=True)
            if database == "postgresql":
                with store.engine.connect() as connection:
                    connection.exec_driver_sql("ANALYZE")  # what autovacuum does after a bulk load
                    connection.commit()
        else:
            with store.session() as session:
                case_id = session.scalars(select(Case.id).where(Case.number == "TEST-gallery")).one()
        for label, kwargs in (("refresh_again_s", {}), ("refresh_only_new_s", {"only_new": True})):
            started = time.perf_counter()
            with store.transaction() as session:
                refresh(session, case_id, **kwargs)
            result[label] = time.perf_counter() - started
            print(f"  {label}: {result[label]:.2f} s", flush=True)
        with store.session() as session:
            result["pictures"] = session.scalar(select(func.count()).where(GalleryItem.case_id == case_id))
        samples = []
        for _ in range(20):
            started = time.perf_counter()
            with store.session() as session:
                figures = counts(session, case_id)
            samples.append(time.perf_counter() - started)
        result["counts"] = {**stats(samples), "figures": figures}
        print(
            f"  counts: p50 {result['counts']['p50_ms']:.1f} ms, max {result['counts']['max_ms']:.1f} ms",
            flush=True,
        )
        trail = AuditTrail(secrets.token_bytes(32), OUT / f"bench-gallery-{database}.checkpoint")

        # (c) first: walk to the deep page.
        started = time.perf_counter()
        after: Cursor | None = None
        for _ in range(args.deep_page - 1):
            with store.session() as session:
                walked = page(session, case_id, GalleryFilter(), after=after, limit=200)
            if walked.next_cursor is None:
                break
            after = walked.next_cursor
        result["walk_s"] = time.perf_counter() - started
        deep = after
        print(f"  walked to page {args.deep_page} ({deep}) in {result['walk_s']:.1f} s", flush=True)

        years = [(date(y, 1, 1), date(y, 12, 31)) for y in range(2019, 2024)]

        def filtered(n: int) -> tuple[GalleryFilter, Cursor | None]:
            start, end = years[n % len(years)]
            return GalleryFilter(
                category="illegal", serial=SERIALS[n % len(SERIALS)], date_from=start, date_to=end
            ), None

        requests: dict[str, Callable[[int], tuple[GalleryFilter, Cursor | None]]] = {
            "a_first_page": lambda n: (GalleryFilter(), None),
            "b_category_serial_dates": filtered,
            "c_deep_page": lambda n: (GalleryFilter(), deep),
        }
        result["queries"] = {}
        for name, request in requests.items():
            timed_pages(store, trail, case_id, request, 5)  # warm the cache as a running server has it
            samples, sizes = timed_pages(store, trail, case_id, request, args.repeats)
            summary = {**stats(samples), "repeats": len(samples), "items_mean": statistics.mean(sizes)}
            result["queries"][name] = summary
            print(
                f"  {name}: p50 {summary['p50_ms']:.1f} ms, p95 {summary['p95_ms']:.1f} ms, "
                f"max {summary['max_ms']:.1f} ms ({summary['items_mean']:.0f} items a page)",
                flush=True,
            )
        result["plans"] = plans(store, case_id, {name: request(0) for name, request in requests.items()})
        for name, plan in result["plans"].items():
            print(f"  plan {name}:\n    {plan}")
        if args.stack_pictures:
            stacked_case, families = stack_case(store, args.stack_pictures, seed=2)
            started = time.perf_counter()
            with store.transaction() as session:
                stacks = build_stacks(session, stacked_case)
            result["stacks"] = {
                "pictures": args.stack_pictures,
                "families_planted": families,
                "stacks": stacks,
                "seconds": time.perf_counter() - started,
            }
            print(f"  build_stacks: {result['stacks']}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--deep-page", type=int, default=2000)
    parser.add_argument("--stack-pictures", type=int, default=100_000)
    parser.add_argument("--rebuild", action="store_true", help="build the SQLite database again")
    args = parser.parse_args()
    databases = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    for database in databases:
        result = run(database, args)
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / f"gallery-{database}-{args.files}.json").write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
