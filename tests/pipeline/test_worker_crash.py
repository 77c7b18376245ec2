"""A file that kills its worker process (a decoder crash, an out-of-memory kill) loses only itself."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

from himaya.cases import create_case
from himaya.config import ScanSettings
from himaya.pipeline.scan import run_scan
from himaya.reports.export import export_case
from himaya.security.crypto import generate_key
from himaya.store.blobs import BlobStore
from himaya.store.db import open_store
from tests.builders.images import photo_jpeg


class CrashingThumbnails(BlobStore):
    """Dies the way a crashing decoder does: the worker process ends at once, no exception, no cleanup.

    Thumbnails are stored while a picture is analysed, so every picture kills its worker; other files
    never reach this. Spawned workers import this module by name, which is why it lives here.
    """

    def put(self, data: bytes) -> str:
        os._exit(70)

    def __reduce__(self) -> tuple[Any, ...]:
        return (CrashingThumbnails, (self.root, generate_key()))


def test_a_file_that_kills_its_worker_is_recorded_and_the_rest_is_scanned(
    himaya_env: dict[str, Path], tmp_path: Path
) -> None:
    evidence = tmp_path / "ev"
    evidence.mkdir()
    (evidence / "killer.jpg").write_bytes(photo_jpeg(seed=70, width=160, height=120))
    for n in range(12):
        (evidence / f"note{n:02d}.txt").write_text(f"benign note {n}\n")
    store = open_store(himaya_env["home"])
    create_case(store, "C-1")
    blobs = CrashingThumbnails(tmp_path / "blobs", generate_key())

    summary = run_scan(store, "C-1", [evidence], settings=ScanSettings(workers=2), blobs=blobs, quiet=True)

    out = io.StringIO()
    export_case(store, "C-1", "jsonl", out)
    records = {r["path"]: r for r in map(json.loads, out.getvalue().splitlines())}
    assert summary.status == "finished"
    assert len(records) == 13
    killer = records["ev/killer.jpg"]
    assert killer["status"] == "error"
    assert "worker process analysing this file died" in killer["error"]
    notes = [r for path, r in records.items() if path != "ev/killer.jpg"]
    assert all(r["status"] == "ok" and r["md5"] for r in notes)
    assert summary.files_error == 1
