"""The gallery page through the whole web app at a million pictures: p95 server time <= 150 ms.

    .venv/bin/python bench/bench_gallery_app.py [--database sqlite|postgresql|both] [--files 1000000]
        [--repeats 100] [--deep-page 2000]

bench_gallery.py times the page query and its audit write in one transaction; this times what a reviewer's
browser waits for: an HTTP request answered by the FastAPI app (in process, through Starlette's test
client, so no network in the figure), with the session looked up, need-to-know checked, the catch-up
`refresh(only_new=True)` of a first page, the page query, its audit event, the commit and 200 tiles
rendered. The case is bench_gallery.py's (the SQLite database it caches under bench/out/ is reused;
PostgreSQL gets a throw-away schema and a fresh build). Writes bench/out/gallery-app-<db>-<files>.json.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_gallery import OUT, SERIALS, build_case, opened, stats  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import select  # noqa: E402

from himaya.review.gallery import refresh  # noqa: E402
from himaya.review.pages import Cursor, GalleryFilter, page  # noqa: E402
from himaya.security import auth  # noqa: E402
from himaya.security.audit import AuditTrail  # noqa: E402
from himaya.store.blobs import BlobStore  # noqa: E402
from himaya.store.models import Case, User  # noqa: E402
from himaya.web.app import create_app  # noqa: E402
from himaya.web.state import WebState  # noqa: E402

CASE = "TEST-gallery"
REVIEWER = "TEST-bench-reviewer"
PASSWORD = "TEST bench password"


def _reviewer(store: Any, key: bytes, case_id: int) -> None:
    with store.transaction() as session:
        user = session.scalar(select(User).where(User.username == REVIEWER))
        if user is None:
            user = auth.create_user(session, key, REVIEWER, PASSWORD, "reviewer").user
        auth.assign(session, user, case_id, "bench")


def _timed(client: TestClient, url: str, repeats: int) -> tuple[list[float], int]:
    for _ in range(5):  # warm caches, as a running server has them
        client.get(url)
    samples = []
    size = 0
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
        size = response.text.count('class="tile ')
    return samples, size


def run(database: str, args: argparse.Namespace) -> dict[str, Any]:
    print(f"== {database}: {args.files:,} files, through the app", flush=True)
    result: dict[str, Any] = {"database": database, "files": args.files}
    with opened(database, args.files, False) as (store, fresh), tempfile.TemporaryDirectory() as scratch:
        if fresh:
            case_id = build_case(store, CASE, args.files, seed=1)
            with store.transaction() as session:
                refresh(session, case_id)
            if database == "postgresql":
                with store.engine.connect() as connection:
                    connection.exec_driver_sql("ANALYZE")
                    connection.commit()
        else:
            with store.session() as session:
                case_id = session.scalars(select(Case.id).where(Case.number == CASE)).one()
        key = secrets.token_bytes(32)
        _reviewer(store, key, case_id)
        trail = AuditTrail(key, Path(scratch) / "audit-chain")
        state = WebState(
            store=store,
            blobs=BlobStore(Path(scratch) / "blobs", key),
            blob_key=key,
            audit=trail,
            home=Path(scratch),
        )
        client = TestClient(create_app(state), base_url="http://testserver", follow_redirects=False)
        login = client.get("/login").text
        token = login.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        answer = client.post("/login", data={"username": REVIEWER, "password": PASSWORD, "csrf_token": token})
        assert answer.status_code == 303, answer.text[:300]

        after: Cursor | None = None
        for _ in range(args.deep_page - 1):
            with store.session() as session:
                walked = page(session, case_id, GalleryFilter(), after=after, limit=200)
            if walked.next_cursor is None:
                break
            after = walked.next_cursor
        assert after is not None
        base = f"/cases/{CASE}/gallery"
        years = [(date(y, 1, 1), date(y, 12, 31)) for y in range(2019, 2024)]
        filtered = [
            f"{base}?category=illegal&serial={SERIALS[n % len(SERIALS)]}&date_from={years[n % 5][0]}"
            f"&date_to={years[n % 5][1]}"
            for n in range(len(SERIALS))
        ]
        result["pages"] = {}
        for name, urls in (
            ("a_first_page", [base]),
            ("b_category_serial_dates", filtered),
            ("c_deep_page", [f"{base}?after={after.encode()}"]),
        ):
            samples: list[float] = []
            sizes = []
            per_url = max(1, args.repeats // len(urls))
            for url in urls[: args.repeats]:
                got, size = _timed(client, url, per_url)
                samples += got
                sizes.append(size)
            summary = {**stats(samples), "repeats": len(samples), "items_mean": statistics.mean(sizes)}
            result["pages"][name] = summary
            print(
                f"  {name}: p50 {summary['p50_ms']:.1f} ms, p95 {summary['p95_ms']:.1f} ms, "
                f"max {summary['max_ms']:.1f} ms ({summary['items_mean']:.0f} tiles a page)",
                flush=True,
            )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--deep-page", type=int, default=2000)
    args = parser.parse_args()
    for database in ("sqlite", "postgresql") if args.database == "both" else (args.database,):
        result = run(database, args)
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / f"gallery-app-{database}-{args.files}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
