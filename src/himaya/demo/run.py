"""`himaya demo` / `make demo`: a real scan of benign demo evidence, end to end, with its checks shown.

Everything here is synthetic: generated pictures and a TEST hash set made from some of them. The demo
proves the pipeline on the embedded default (SQLite) and prints where the report is.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.table import Table
from sqlalchemy import select

from himaya.cases import create_case
from himaya.cli.context import AppContext
from himaya.config import ScanSettings
from himaya.demo.builder import build_demo
from himaya.errors import HimayaError
from himaya.hashsets.importer import import_hash_set
from himaya.pipeline.scan import run_scan
from himaya.reports.export import export_case
from himaya.reports.html import write_report
from himaya.store.models import Case

DEMO_CASE = "DEMO-0001"


def run_demo(app_ctx: AppContext, out: Path, workers: int) -> None:
    console = app_ctx.console
    started = time.monotonic()
    layout = build_demo(out / "data")
    console.print(f"demo evidence built in {layout.evidence_dir} (benign, synthetic pictures)")

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

    scan_started = time.monotonic()
    summary = run_scan(
        store,
        DEMO_CASE,
        [layout.evidence_dir],
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
    for line in export_path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
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
    console.print(table)
    console.print(
        f"scan {summary.status} in {scan_seconds:.1f} s: {summary.files_written} files analysed, "
        f"{summary.files_skipped} already done, {summary.files_error} with errors (expected: the corrupt "
        f"JPEG, the zip bomb and the other bad input), {summary.matched_files} matching the TEST hash sets"
    )
    console.print(f"report: {report_path.resolve()}")
    console.print(f"export: {export_path.resolve()}")
    console.print(f"demo finished in {time.monotonic() - started:.1f} s")
    if failures:
        raise HimayaError(f"{failures} demo expectations failed (see the table above); please report this")
