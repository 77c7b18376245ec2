"""Progress counts every file the workers analyse, archive members included, as the scan goes."""

from __future__ import annotations

from pathlib import Path

import pytest

from himaya.cases import create_case
from himaya.config import ScanSettings
from himaya.pipeline.progress import ScanProgress, format_eta
from himaya.pipeline.scan import run_scan
from himaya.store.db import open_store
from tests.builders.evidence import seized_folder


@pytest.mark.parametrize("workers", [0, 2])
def test_progress_sees_every_file_and_byte_read(
    workers: int, himaya_env: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysed: list[tuple[int, int]] = []
    real = ScanProgress.analysed

    def record(self: ScanProgress, files: int, bytes_read: int) -> None:
        analysed.append((files, bytes_read))
        real(self, files, bytes_read)

    monkeypatch.setattr(ScanProgress, "analysed", record)
    store = open_store(himaya_env["home"])
    create_case(store, "C-1")
    folder = seized_folder(tmp_path)

    summary = run_scan(
        store,
        "C-1",
        [folder.root],
        settings=ScanSettings(workers=workers, thumbnails=False),
        blobs=None,
        quiet=True,
    )

    assert sum(files for files, _ in analysed) == summary.files_written
    assert sum(read for _, read in analysed) == summary.bytes_read


def test_eta_formats() -> None:
    assert format_eta(None) == "--:--"
    assert format_eta(65) == "01:05"
    assert format_eta(3725) == "1:02:05"
