"""Parse + link a WhatsApp msgstore.db of a million messages, as a scan's artifact stage does.

    .venv/bin/python bench/make_msgstore.py --out bench/out/msgstore-1m.db          # once (~10 s)
    .venv/bin/python bench/bench_messages.py --db bench/out/msgstore-1m.db [--runs 3] [--present 0.75]

A store (SQLite in a temporary home, or `--database-url`) gets one phone evidence item holding the
database and, as the scan would have left them, file rows for `--present` of the media the messages name
(the rest are "deleted"); the database's bytes go into the encrypted blob store. Each run times
`parse_case_artifacts` — decrypt, private copy, parse, write the messages, link every media message by
path then SHA-256 — after clearing the previous run's rows. Printed beside it, in the same run: the
parser alone (records iterated, nothing written), the baseline the stage adds its writing and linking to.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from rich.console import Console  # noqa: E402
from sqlalchemy import delete, insert, update  # noqa: E402

from himaya.analyzers.artifacts.database import DatabaseFiles, open_private_copy, read_schema  # noqa: E402
from himaya.analyzers.artifacts.manager import iter_records, recognise  # noqa: E402
from himaya.cases import create_case  # noqa: E402
from himaya.pipeline.artifacts import parse_case_artifacts  # noqa: E402
from himaya.reports.messages import export_messages  # noqa: E402
from himaya.store.blobs import BlobStore  # noqa: E402
from himaya.store.db import open_store  # noqa: E402
from himaya.store.models import (  # noqa: E402
    ArtifactIdentity,
    ArtifactSource,
    Chat,
    EvidenceItem,
    File,
    Message,
)

WA_ROOT = "phone/data/media/0/Android/media/com.whatsapp/WhatsApp"


def parse_only(db_path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    count = 0
    with open_private_copy(DatabaseFiles(db_path)) as db:
        schema = read_schema(db)
        for _ in iter_records(db, schema, recognise(schema)):
            count += 1
    return time.perf_counter() - started, count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--present", type=float, default=0.75, help="share of media files present")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--export", action="store_true", help="also time the messages-jsonl export")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="himaya-bench-") as work:
        home = Path(work) / "home"
        if args.database_url:
            os.environ["HIMAYA_DATABASE_URL"] = args.database_url
        store = open_store(home)
        blobs = BlobStore(Path(work) / "blobs", os.urandom(32))
        create_case(store, "BENCH-MSG", "TEST benchmark")
        src = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
        paths = [
            row[0] for row in src.execute("SELECT file_path FROM message_media WHERE file_path IS NOT NULL")
        ]
        src.close()
        rng = random.Random(7)
        present = [p for p in paths if rng.random() < args.present]
        started = time.perf_counter()
        with store.transaction() as session:
            case_id = session.execute(
                insert(EvidenceItem).returning(EvidenceItem.case_id),
                {"case_id": 1, "name": "phone", "source_path": "/seized/phone", "kind": "folder"},
            ).scalar_one()
            rows = [
                {
                    "evidence_id": 1,
                    "locator": f"{WA_ROOT}/{p}",
                    "path": f"{WA_ROOT}/{p}",
                    "md5": "0" * 32,
                    "sha256": hashlib.sha256(p.encode()).hexdigest(),
                    "depth": 0,
                    "status": "ok",
                }
                for p in present
            ]
            for start in range(0, len(rows), 10000):
                session.execute(insert(File), rows[start : start + 10000])
            db_file = session.execute(
                insert(File).returning(File.id),
                {
                    "evidence_id": 1,
                    "locator": "db",
                    "path": "phone/data/data/com.whatsapp/databases/msgstore.db",
                },
            ).scalar_one()
            session.execute(
                insert(ArtifactSource),
                {
                    "file_id": db_file,
                    "evidence_id": 1,
                    "role": "database",
                    "blob_id": blobs.put(args.db.read_bytes()),
                    "status": "pending",
                },
            )
        took = time.perf_counter() - started
        print(f"store ready: {len(present):,} media files present of {len(paths):,} ({took:.1f} s)")

        stage, parse = [], []
        for run in range(args.runs):
            gc.collect()
            seconds, records = parse_only(args.db)
            parse.append(seconds)
            with store.transaction() as session:
                session.execute(delete(Message))
                session.execute(delete(Chat))
                session.execute(delete(ArtifactIdentity))
                session.execute(update(ArtifactSource).values(status="pending"))
            gc.collect()
            started = time.perf_counter()
            summary = parse_case_artifacts(store, case_id, blobs, Console(stderr=True), quiet=True)
            stage.append(time.perf_counter() - started)
            links = summary.links
            print(
                f"run {run + 1}: parse only {seconds:.1f} s ({records:,} records); parse + write + link "
                f"{stage[-1]:.1f} s: {summary.messages:,} messages, {links.media_messages:,} with media "
                f"({links.by_path:,} by path, {links.by_sha256:,} by SHA-256, {links.missing:,} gone)"
            )
        print(
            f"median of {args.runs}: parse only {statistics.median(parse):.1f} s; "
            f"parse + link (the stage) {statistics.median(stage):.1f} s"
        )
        if args.export:
            started = time.perf_counter()
            with open(os.devnull, "w", encoding="utf-8") as sink:
                count = export_messages(store, "BENCH-MSG", sink)
            print(f"messages-jsonl export: {count:,} messages in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
