"""An archive with more members than one chunk: its facts stream back and are committed as they come."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

from sqlalchemy import func, select

from himaya.cases import create_case
from himaya.config import ScanSettings
from himaya.pipeline.scan import run_scan
from himaya.pipeline.workers import CHUNK_FACTS
from himaya.store.db import open_store
from himaya.store.models import File

MEMBERS = CHUNK_FACTS * 2 + 345  # two full chunks and a remainder


def big_zip(path: Path) -> dict[str, str]:
    """A zip of small benign notes; returns member name -> md5."""
    expected: dict[str, str] = {}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for n in range(MEMBERS):
            data = f"TEST note {n}\n".encode()
            name = f"notes/{n // 1000:02d}/note{n:05d}.txt"
            zf.writestr(name, data)
            expected[name] = hashlib.md5(data).hexdigest()
    path.write_bytes(buffer.getvalue())
    return expected


def test_members_beyond_a_chunk_all_arrive_once_and_before_their_container(
    himaya_env: dict[str, Path], tmp_path: Path
) -> None:
    evidence = tmp_path / "ev"
    evidence.mkdir()
    expected = big_zip(evidence / "dump.zip")
    (evidence / "other.txt").write_text("benign\n")
    store = open_store(himaya_env["home"])
    create_case(store, "C-1")

    summary = run_scan(
        store, "C-1", [evidence], settings=ScanSettings(workers=2, thumbnails=False), blobs=None, quiet=True
    )

    assert summary.files_written == MEMBERS + 2
    with store.session() as session:
        members = session.execute(
            select(File.path, File.md5, File.id).where(File.container_locator == "ev/dump.zip")
        ).all()
        container_id = session.scalar(select(File.id).where(File.path == "ev/dump.zip"))
        total = session.scalar(select(func.count(File.id)))
    assert {path.removeprefix("ev/dump.zip!/"): md5 for path, md5, _ in members} == expected
    assert total == MEMBERS + 2
    assert container_id is not None
    # The container is written after every member: a store with the container holds all its members.
    assert max(file_id for _, _, file_id in members) < container_id
