"""Progress counts every file the workers analyse, archive members included, as the scan goes, and shows
how far a long video has decoded."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from himaya.analyzers import video
from himaya.cases import create_case
from himaya.config import ScanSettings
from himaya.pipeline import workers
from himaya.pipeline.progress import VIDEO_STALE_S, ScanProgress, VideoUnderway, format_eta
from himaya.pipeline.scan import _Pool, run_scan
from himaya.pipeline.tasks import Task, TaskFile
from himaya.pipeline.workers import WorkerContext
from himaya.store.db import open_store
from tests.builders.evidence import seized_folder
from tests.builders.videos import make_video


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


class _Line:
    """A worker's channel to the parent, kept in a list (the in-process worker takes any such object)."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def put(self, item: tuple[Any, ...]) -> None:
        self.sent.append(item)

    def put_nowait(self, item: tuple[Any, ...]) -> None:
        self.sent.append(item)


def test_a_decoding_video_reports_how_far_it_has_come_then_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(video, "PROGRESS_EVERY_S", 0.0)  # every packet, instead of every second
    path = make_video(tmp_path / "film.mp4", seconds=6, size=(160, 120), fps=10, gop=20, seed=3)
    line = _Line()
    settings = ScanSettings(workers=0, thumbnails=False)
    workers.init_worker(
        workers.WorkerContext(settings=settings, pdq_sets=[], blobs=None), in_process=True, channel=line
    )
    try:
        size = path.stat().st_size
        task = Task(files=[TaskFile(1, path.name, path.name, size, None, str(path), None)])
        results = workers.run_task(task).results
    finally:
        workers.init_worker(
            workers.WorkerContext(settings=settings, pdq_sets=[], blobs=None), in_process=True
        )
    [(_, [facts])] = results
    assert facts.video is not None and len(facts.video.frames) == 6

    reports = [message for message in line.sent if message[0] == "video"]
    *underway, end = reports
    assert end == ("video", os.getpid(), -1, -1)
    assert len(underway) >= 20  # one a packet here
    seconds = [done / 1000 for _, _, done, _ in underway]
    assert seconds == sorted(seconds) and seconds[0] < 1.0  # from the start, never backwards
    assert max(seconds) == pytest.approx(5.9, abs=0.2)
    assert {total for *_, total in underway} == {6000}  # the length the container declares


def test_a_short_video_sends_nothing_more_than_its_facts(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.mp4", seconds=2, size=(160, 120), fps=10, seed=4)
    line = _Line()
    settings = ScanSettings(workers=0, thumbnails=False)
    workers.init_worker(
        workers.WorkerContext(settings=settings, pdq_sets=[], blobs=None), in_process=True, channel=line
    )
    try:
        task = Task(files=[TaskFile(1, path.name, path.name, path.stat().st_size, None, str(path), None)])
        workers.run_task(task)
    finally:
        workers.init_worker(
            workers.WorkerContext(settings=settings, pdq_sets=[], blobs=None), in_process=True
        )
    assert [message for message in line.sent if message[0] == "video"] == []


def test_the_progress_line_shows_long_videos_and_forgets_quiet_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    progress = ScanProgress(Console(file=io.StringIO()), bytes_total=10_000_000, quiet=True)
    now = time.monotonic()
    progress.videos(
        [
            VideoUnderway(done=5410.0, total=14400.0, seen_at=now),
            VideoUnderway(done=75.0, total=None, seen_at=now - 1),
            VideoUnderway(done=12.0, total=60.0, seen_at=now - VIDEO_STALE_S - 1),  # its worker died
        ]
    )
    line = progress.stats_line()
    assert line.endswith(" · video at 01:15 · video at 1:30:10 of 4:00:00")
    assert "00:12" not in line
    progress.videos([])
    assert "video" not in progress.stats_line()


def test_the_parent_keeps_each_workers_video_until_its_end(himaya_env: dict[str, Path]) -> None:
    pool = _Pool(
        WorkerContext(settings=ScanSettings(workers=1, thumbnails=False), pdq_sets=[], blobs=None), workers=1
    )
    try:
        pool._channel.put(("video", 41, 90_500, 14_400_000))
        pool._channel.put(("video", 42, 3_000, -1))
        pool._channel.put(("progress", 1, 100))
        assert pool.drain(linger_s=1.0)[:2] == (1, 100)
        assert {pid: (v.done, v.total) for pid, v in pool.videos.items()} == {
            41: (90.5, 14400.0),
            42: (3.0, None),
        }
        pool._channel.put(("video", 41, -1, -1))
        pool.drain(linger_s=0.5)
        assert set(pool.videos) == {42}
    finally:
        pool.shutdown()
