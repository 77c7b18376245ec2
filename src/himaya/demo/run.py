"""`himaya demo` / `make demo`: a real scan of benign demo evidence, end to end, with its checks shown.

Everything here is synthetic: generated pictures and a TEST hash set made from some of them. The demo
proves the pipeline on the embedded default (SQLite) and prints where the report is.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from himaya.cases import create_case
from himaya.cli.context import AppContext
from himaya.config import ScanSettings
from himaya.demo.builder import build_demo
from himaya.demo.disk import DemoDisk, build_demo_disk, missing_tools
from himaya.errors import HimayaError
from himaya.hashsets.importer import import_hash_set
from himaya.pipeline.custody import VERIFIED
from himaya.pipeline.scan import run_scan
from himaya.reports.export import export_case
from himaya.reports.html import write_report
from himaya.store.db import Store
from himaya.store.models import Case, CustodyEvent

DEMO_CASE = "DEMO-0001"


def run_demo(app_ctx: AppContext, out: Path, workers: int) -> None:
    console = app_ctx.console
    started = time.monotonic()
    layout = build_demo(out / "data")
    console.print(f"demo evidence built in {layout.evidence_dir} (benign, synthetic pictures)")
    camera = layout.evidence_dir / "DCIM" / "Camera"
    disk = build_demo_disk(
        layout.root / "disk",
        {p.name: p.read_bytes() for p in sorted(camera.glob("IMG_*.jpg"))},
        layout.listed_originals,
    )
    if disk is None:
        console.print(
            f"[yellow]disk-image part skipped: {', '.join(missing_tools())} missing "
            "(make setup installs them)"
        )
    else:
        console.print(f"demo disk image built: {disk.image} (E01, GPT, ext4, one listed picture deleted)")

    store = app_ctx.store()
    with store.session() as session:
        exists = session.scalar(select(Case).where(Case.number == DEMO_CASE)) is not None
    if not exists:
        create_case(store, DEMO_CASE, "Himaya demo — benign synthetic evidence")
    # Two hash sets, as partners often send them: one list of MD5s, one of PDQ hashes.
    for hash_file, hash_type in ((layout.md5_hashset, "md5"), (layout.pdq_hashset, "pdq")):
        name = hash_file.stem
        imported = import_hash_set(store, hash_file, name=name, kind="alert", hash_type=hash_type)
        state = "unchanged" if imported.unchanged else "imported"
        console.print(f"hash set {name} v{imported.version}: {hash_file.name} ({state})")
    if layout.vpdq_hashset is not None:  # the known video's frame hashes (Meta's vPDQ files)
        imported = import_hash_set(store, layout.vpdq_hashset, name=layout.vpdq_hashset.name, fmt="vpdq")
        state = "unchanged" if imported.unchanged else "imported"
        console.print(f"hash set {layout.vpdq_hashset.name} v{imported.version}: vPDQ folder ({state})")

    scan_started = time.monotonic()
    summary = run_scan(
        store,
        DEMO_CASE,
        [layout.evidence_dir] + ([disk.image] if disk else []),
        settings=ScanSettings(workers=workers),
        blobs=app_ctx.blobs(),
        console=console,
    )
    scan_seconds = time.monotonic() - scan_started
    report_path = out / "report.html"
    export_path = out / "export.jsonl"
    write_report(store, DEMO_CASE, report_path)
    with export_path.open("w", encoding="utf-8") as handle:
        export_case(store, DEMO_CASE, "jsonl", handle)

    matched: dict[str, list[str]] = {}
    records: list[dict[str, Any]] = []
    for line in export_path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        records.append(record)
        alerts = [m["method"] for m in record["matches"] if m["kind"] == "alert"]
        matched[record["path"]] = alerts

    table = Table("expected", "path", "matched by", "ok")
    failures = 0
    # Export paths start with the evidence item's name (the folder's name), the layout's do not.
    prefix = layout.evidence_dir.resolve().name + "/"
    for expected, paths in (("match", layout.expected_matches), ("no match", layout.expected_non_matches)):
        for rel in paths:
            methods = matched.get(prefix + rel)
            ok = bool(methods) if expected == "match" else methods is not None and not methods
            failures += not ok
            table.add_row(expected, rel, ", ".join(sorted(set(methods or []))), "✔" if ok else "✘")
    if disk is not None:
        failures += _disk_rows(table, disk, records, store)
    console.print(table)
    _print_messages(console, store)
    console.print(
        f"scan {summary.status} in {scan_seconds:.1f} s: {summary.files_written} files analysed, "
        f"{summary.files_skipped} already done, {summary.files_error} with errors (expected: the corrupt "
        f"JPEG, the zip bomb and the other bad input), {summary.matched_files} matching the TEST hash sets"
    )
    console.print(f"report: {report_path.resolve()}")
    console.print(f"export: {export_path.resolve()}")
    console.print(f"demo finished in {time.monotonic() - started:.1f} s")
    console.print(
        "to review it in the browser, with the same HIMAYA_HOME and HIMAYA_KEY_FILE: himaya user add NAME "
        f"--role reviewer; himaya user assign NAME {DEMO_CASE}; himaya serve (docs/web.md)",
        highlight=False,
    )
    if failures:
        raise HimayaError(f"{failures} demo expectations failed (see the table above); please report this")


def _disk_rows(table: Table, disk: DemoDisk, records: list[dict[str, Any]], store: Store) -> int:
    """The disk image's expectations: a listed picture live, the same deleted and carved, one not listed."""
    name = disk.image.name
    prefix = f"{name}/p1/"

    def alerts(record: dict[str, Any]) -> list[str]:
        return sorted({m["method"] for m in record["matches"] if m["kind"] == "alert"})

    by_path = {r["path"]: r for r in records}
    live = by_path.get(prefix + disk.live_listed)
    deleted = [r for r in records if r["path"] == prefix + disk.deleted_listed and r["deleted"]]
    carved = [
        r for r in records if r["path"].startswith(prefix + "$Unallocated!/") and r["carved"] and alerts(r)
    ]
    distinct = by_path.get(prefix + disk.distinct)
    with store.session() as session:
        events = [e.event for e in session.scalars(select(CustodyEvent))]
    checks: tuple[tuple[str, str, bool, list[str]], ...] = (
        ("match", disk.live_listed, live is not None and bool(alerts(live)), alerts(live) if live else []),
        (
            "match, deleted",
            disk.deleted_listed,
            bool(deleted) and bool(alerts(deleted[0])),
            alerts(deleted[0]) if deleted else [],
        ),
        ("match, carved", "p1/$Unallocated", bool(carved), alerts(carved[0]) if carved else []),
        ("no match", disk.distinct, distinct is not None and not alerts(distinct), []),
        ("E01 verified", name, VERIFIED in events, []),
    )
    failures = 0
    for expected, path, ok, methods in checks:
        failures += not ok
        table.add_row(expected, f"{name}: {path}", ", ".join(methods), "✔" if ok else "✘")
    return failures


def _print_messages(console: Console, store: Store) -> None:
    """The phone's messages that carried a matched picture: who sent it to whom, when, and how it was
    linked (by its path, or by the SHA-256 WhatsApp recorded when the file is gone)."""
    from himaya.chats.records import iso_utc, message_records
    from himaya.reports.records import find_case

    with store.session() as session:
        records = list(message_records(session, find_case(session, DEMO_CASE)))
    carried = [r for r in records if any(m.kind == "alert" for m in r.matches)]
    console.print(f"messages read from the phone's chat database: {len(records)}; carrying matched pictures:")
    for r in carried:
        who = (
            f"from {r.sender_name or r.sender}" if r.direction == "received" else "sent by the phone's owner"
        )
        if r.link_method == "path":
            where = r.file_path_in_case or ""
        elif r.link_method == "sha256":
            where = (
                f"{r.media_path} (this copy is gone; the SHA-256 WhatsApp kept is {r.file_path_in_case}'s)"
            )
        else:
            where = f"{r.media_path} (gone)"
        console.print(f"  {iso_utc(r.time_utc)} {r.app} {who}: {where}", highlight=False, markup=False)
