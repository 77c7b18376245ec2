"""Scan progress for people: files/s, MB/s, ETA and matches so far, on a terminal or in a log."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


@dataclass
class Rates:
    started: float = field(default_factory=time.monotonic)
    files: int = 0
    bytes_done: int = 0  # bytes of top-level files finished (what the ETA is measured against)
    bytes_read: int = 0  # every byte read, archive members included
    matched_files: int = 0
    errors: int = 0

    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-6)

    def files_per_s(self) -> float:
        return self.files / self.elapsed()

    def mb_per_s(self) -> float:
        return self.bytes_read / self.elapsed() / 1e6

    def eta_s(self, bytes_total: int) -> float | None:
        if self.bytes_done <= 0:
            return None
        rate = self.bytes_done / self.elapsed()
        return max(bytes_total - self.bytes_done, 0) / rate


@dataclass(frozen=True)
class VideoUnderway:
    """A long video a worker is decoding: seconds read, seconds its container declares (None: unknown),
    and when the worker last said so (a worker that dies says nothing more; its line goes stale)."""

    done: float
    total: float | None
    seen_at: float


# A worker reports a decoding video every second; a report older than this is a worker gone quiet.
VIDEO_STALE_S = 5.0


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class _Display:
    """A Rich progress bar on a terminal; a line every few seconds elsewhere (CI logs, redirects)."""

    LOG_EVERY_S = 5.0

    def __init__(self, console: Console, label: str, total: int, quiet: bool, transient: bool) -> None:
        self.console = console
        self.quiet = quiet
        self._label, self._total, self._transient = label, total, transient
        self._last_log = 0.0
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> Self:
        if self.console.is_terminal and not self.quiet:
            self._progress = Progress(
                TextColumn(f"[bold]{self._label}"),
                BarColumn(),
                TextColumn("{task.fields[stats]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=self._transient,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self._label, total=max(self._total, 1), stats="")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)


class ScanProgress(_Display):
    def __init__(self, console: Console, bytes_total: int, quiet: bool = False) -> None:
        super().__init__(console, "scan", bytes_total, quiet, transient=False)
        self.bytes_total = bytes_total
        self.rates = Rates()
        self.underway: list[VideoUnderway] = []

    def stats_line(self) -> str:
        r = self.rates
        line = (
            f"{r.files} files · {r.files_per_s():.1f} files/s · {r.mb_per_s():.1f} MB/s · "
            f"ETA {format_eta(r.eta_s(self.bytes_total))} · {r.matched_files} matched · {r.errors} errors"
        )
        now = time.monotonic()
        for video in self.underway:
            if now - video.seen_at <= VIDEO_STALE_S:
                line += f" · video at {format_eta(video.done)}"
                line += f" of {format_eta(video.total)}" if video.total else ""
        return line

    def videos(self, underway: Iterable[VideoUnderway]) -> None:
        """Long videos the workers are decoding now: a file that takes minutes shows it is moving."""
        self.underway = sorted(underway, key=lambda video: video.seen_at)
        if self.underway:
            self._refresh()

    def analysed(self, files: int, bytes_read: int) -> None:
        """Files analysed by the workers, reported as they go (archive members included)."""
        self.rates.files += files
        self.rates.bytes_read += bytes_read
        self._refresh()

    def committed(self, bytes_done: int, matched: int, errors: int) -> None:
        """Top-level files stored: what the ETA is measured against, and what was found in them."""
        self.rates.bytes_done += bytes_done
        self.rates.matched_files += matched
        self.rates.errors += errors
        self._refresh()

    def _refresh(self) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=self.rates.bytes_done, stats=self.stats_line())
        elif not self.quiet and time.monotonic() - self._last_log >= self.LOG_EVERY_S:
            self._last_log = time.monotonic()
            self.console.print(f"scan: {self.stats_line()}")


class ImportProgress(_Display):
    """A hash-list import: MB/s, entries/s and ETA while the list is read, then the comparison phase.

    Passed to the importer as its `on_progress` callback.
    """

    def __init__(self, console: Console, name: str, quiet: bool = False) -> None:
        super().__init__(console, f"import {name}", 1, quiet, transient=True)
        self.name = name
        self.started = time.monotonic()

    def __call__(self, phase: str, bytes_read: int | None, size: int, entries: int) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        if phase == "comparing":
            stats = f"{entries:,} entries read · comparing with the previous version"
        else:
            done = min(bytes_read or 0, size)
            eta = (size - done) / (done / elapsed) if done else None
            stats = (
                f"{entries:,} entries · {entries / elapsed:,.0f} entries/s · {done / elapsed / 1e6:.1f} MB/s"
                f" · ETA {format_eta(eta)}"
            )
        if self._progress is not None and self._task is not None:
            completed = size if phase == "comparing" else min(bytes_read or 0, size)
            self._progress.update(self._task, total=max(size, 1), completed=completed, stats=stats)
        elif not self.quiet and (
            phase == "comparing" or time.monotonic() - self._last_log >= self.LOG_EVERY_S
        ):
            self._last_log = time.monotonic()
            self.console.print(f"import {self.name}: {stats}", highlight=False)
