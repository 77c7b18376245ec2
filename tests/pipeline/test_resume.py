"""Kill-and-rerun: a scan stopped at any moment is finished by running the same command again.

The promise: after `kill -9` or Ctrl-C, re-running `himaya scan` with the same arguments skips what was
committed, does the rest, and leaves every file (archive members included) in the store exactly once. The
killed run is recorded as "interrupted", never left "running" or counted as finished.

The end-to-end tests run the real command line in a subprocess with two spawned workers, watch the
database through a read-only SQLite connection until some files (but not all) are committed, and signal
the whole process group, as a terminal's Ctrl-C or an out-of-memory kill would. There are no sleeps to
tune: the scan commits about once a second and the test polls every 20 ms, so it signals between two
commits. Should a fast machine finish the scan before any midway point is seen, the evidence is
regenerated three times larger and the test tries once more, then fails loudly.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from himaya.cases import create_case
from himaya.config import ScanSettings
from himaya.pipeline import scan as scan_module
from himaya.pipeline.scan import run_scan
from himaya.reports.export import export_case
from himaya.sources.interface import FileEntry
from himaya.store.db import Store, open_store
from himaya.store.models import ScanRun
from tests.builders.evidence import zip_bytes
from tests.builders.images import photo_jpeg
from tests.pipeline.conftest import Denier

PICTURES = 300
SIGNAL_DEADLINE_S = 60.0


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass
class Evidence:
    root: Path
    expected: set[tuple[str, str]]  # (export path, md5) of every file, archive members and containers too


def build_evidence(base: Path, pictures: int) -> Evidence:
    """`pictures` small photos in DCIM, a zip among them and another in a folder scanned last."""
    root = base / f"seized-{pictures}"
    expected: set[tuple[str, str]] = set()

    def put(relative: str, data: bytes) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        expected.add((f"{root.name}/{relative}", md5(data)))

    def put_zip(relative: str, seed: int) -> None:
        members = [
            (f"album/p{j:02d}.jpg", photo_jpeg(seed=seed + j, width=160, height=120)) for j in range(12)
        ]
        put(relative, zip_bytes(members))
        expected.update((f"{root.name}/{relative}!/{name}", md5(data)) for name, data in members)

    for i in range(pictures):
        put(f"DCIM/IMG_{i:04d}.jpg", photo_jpeg(seed=i, width=160, height=120))
    put_zip("DCIM/album.zip", seed=100_000)
    put_zip("Documents/backup.zip", seed=200_000)
    return Evidence(root, expected)


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    return build_evidence(tmp_path_factory.mktemp("resume"), PICTURES)


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Iterator[Store]:
    store = open_store(himaya_env["home"])
    create_case(store, "C-1", "TEST case")
    yield store
    store.close()


def committed(db: Path) -> int:
    """Files committed so far, read as the review app would: read-only, beside the writer."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as connection:
        count: int = connection.execute("SELECT count(*) FROM files").fetchone()[0]
    return count


def scan_runs(store: Store) -> list[ScanRun]:
    with store.session() as session:
        return list(session.scalars(select(ScanRun).order_by(ScanRun.id)))


@dataclass
class CliScan:
    """`himaya scan C-1 EVIDENCE --workers 2` in its own process group, with its own home and key."""

    evidence: Evidence
    home: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    signalled_at: float = 0.0

    @classmethod
    def prepare(cls, base: Path, evidence: Evidence) -> CliScan:
        base.mkdir()
        with closing(open_store(base / "home")) as store:
            create_case(store, "C-1", "TEST case")
        return cls(evidence, base / "home", base / "scan.log")

    @property
    def db(self) -> Path:
        return self.home / "himaya.db"

    @property
    def total(self) -> int:
        return len(self.evidence.expected)

    def command(self) -> list[str]:
        root = str(self.evidence.root)
        return [sys.executable, "-m", "himaya.cli.main", "scan", "C-1", root, "--workers", "2"]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("HIMAYA_DATABASE_URL", "HIMAYA_BLOB_KEY")}
        return {**env, "HIMAYA_HOME": str(self.home), "HIMAYA_KEY_FILE": str(self.home.parent / "blob.key")}

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, env=self.env(), start_new_session=True
            )
        return self.process

    def output(self) -> str:
        return " ".join(self.log.read_text().split())  # the console wraps long lines

    def signal_midway(self, signum: int) -> bool:
        """Once some files but not all are committed, send `signum` to the process group.

        False when the scan finished before a midway point was seen.
        """
        process = self.start()
        deadline = time.monotonic() + SIGNAL_DEADLINE_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                assert process.returncode == 0, f"scan failed ({process.returncode}): {self.output()}"
                return False
            if 0 < committed(self.db) < self.total:
                os.killpg(process.pid, signum)
                self.signalled_at = time.monotonic()
                return True
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        pytest.fail(f"no file was committed within {SIGNAL_DEADLINE_S:.0f} s: {self.output()}")

    def rerun(self) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(self.command(), capture_output=True, text=True, env=self.env(), timeout=180)
        assert result.returncode == 0, result.stderr
        return result


def stopped_midway(base: Path, evidence: Evidence, signum: int) -> tuple[CliScan, subprocess.Popen[bytes]]:
    """A scan signalled midway; on a machine fast enough to finish first, once more with 3x the pictures."""
    for attempt in range(2):
        if attempt:
            evidence = build_evidence(base, PICTURES * 3)
        scan = CliScan.prepare(base / f"attempt{attempt}", evidence)
        if scan.signal_midway(signum):
            assert scan.process is not None
            return scan, scan.process
    pytest.fail(
        f"the scan finished twice before it could be stopped midway (last: {PICTURES * 3} pictures); "
        "make the evidence bigger"
    )


def assert_every_file_once(store: Store, scan: CliScan) -> None:
    out = io.StringIO()
    export_case(store, "C-1", "jsonl", out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    found = [(r["path"], r["md5"]) for r in records]
    assert len(found) == len(set(found)), "a file was written twice"
    assert set(found) == scan.evidence.expected
    assert {r["status"] for r in records} == {"ok"}
    with closing(sqlite3.connect(f"file:{scan.db}?mode=ro", uri=True)) as connection:
        repeated = connection.execute(
            "SELECT evidence_id, locator FROM files GROUP BY evidence_id, locator HAVING count(*) > 1"
        ).fetchall()
    assert repeated == []


# ---------------------------------------------------------------- through the command line
def test_kill_9_midway_then_rerun_finishes_without_duplicates(evidence: Evidence, tmp_path: Path) -> None:
    scan, process = stopped_midway(tmp_path, evidence, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    before = committed(scan.db)
    assert 0 < before < scan.total
    with closing(open_store(scan.home)) as store:
        assert [run.status for run in scan_runs(store)] == ["running"]  # nobody could record the kill

        second = scan.rerun()

        assert_every_file_once(store, scan)
        first_run, last_run = scan_runs(store)
    assert first_run.status == "interrupted"
    assert first_run.finished_at is not None
    assert last_run.status == "finished"
    assert last_run.files_skipped > 0  # resumed, not redone
    # Every row the killed run did not commit, and only those, was written by the re-run.
    assert last_run.files_ok + last_run.files_error == scan.total - before
    assert "already done" in " ".join(second.stderr.split())


def test_ctrl_c_midway_stops_promptly_then_rerun_finishes_without_duplicates(
    evidence: Evidence, tmp_path: Path
) -> None:
    scan, process = stopped_midway(tmp_path, evidence, signal.SIGINT)
    process.wait(timeout=30)
    assert time.monotonic() - scan.signalled_at < 30
    output = scan.output()
    assert process.returncode == 1, output
    assert "Run the same command to finish it" in output
    assert "Traceback" not in output
    with closing(open_store(scan.home)) as store:
        [interrupted] = scan_runs(store)
        assert interrupted.status == "interrupted"  # recorded by the interrupted scan itself
        assert interrupted.finished_at is not None
        # The run counts what it committed; "<=" because a Ctrl-C landing between a commit and the
        # tally leaves that last group uncounted (the files themselves are in the store either way).
        assert 0 < interrupted.files_ok + interrupted.files_error <= committed(scan.db)

        scan.rerun()

        assert_every_file_once(store, scan)
        assert [run.status for run in scan_runs(store)] == ["interrupted", "finished"]


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_ctrl_c_while_workers_start_is_clean(evidence: Evidence, tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group, workers still importing included: no traceback from them."""
    if not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists():
        pytest.skip("needs Linux's /proc/PID/task/PID/children to see the workers start")
    scan = CliScan.prepare(tmp_path / "scan", evidence)
    process = scan.start()
    deadline = time.monotonic() + SIGNAL_DEADLINE_S
    # Two workers and multiprocessing's resource tracker: the workers have just been started...
    while len(children(process.pid)) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.3)  # ...and are importing (earlier, a default SIGINT would end them without a word)
    assert committed(scan.db) == 0  # still starting, nothing analysed yet
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=30)

    output = scan.output()
    assert process.returncode == 1, output
    assert "Traceback" not in output
    assert "KeyboardInterrupt" not in output
    assert "Run the same command to finish it" in output
    with closing(open_store(scan.home)) as store:
        assert [run.status for run in scan_runs(store)] == ["interrupted"]


# ---------------------------------------------------------------- in process
def test_ctrl_c_in_a_deferred_block_is_raised_after_it_even_when_another_thread_receives_it() -> None:
    """The commit and its tally hold Ctrl-C between them. The kernel gives a process's SIGINT to any
    thread that does not block it (a numpy or faiss thread): the deferral must hold all the same."""
    waiting = threading.Event()
    bystander = threading.Thread(target=waiting.wait, daemon=True)  # a thread whose mask lets SIGINT in
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    reached: list[str] = []
    try:
        bystander.start()
        with pytest.raises(KeyboardInterrupt), scan_module._ctrl_c_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(50):  # Python runs its handler at the next checks, in the main thread
                time.sleep(0.002)
            reached.append("end of the block")
        assert reached == ["end of the block"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        waiting.set()
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_while_listing_the_evidence_is_an_interrupted_scan(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listing a large disk takes minutes; Ctrl-C then must be recorded like Ctrl-C during analysis."""
    root = tmp_path / "ev"
    root.mkdir()
    (root / "a.txt").write_text("benign\n")

    def interrupted_walk(top: Path, evidence_name: str) -> Iterator[FileEntry]:
        raise KeyboardInterrupt
        yield  # a generator, like the real walk

    real_walk = scan_module.walk
    monkeypatch.setattr(scan_module, "walk", interrupted_walk)
    settings = ScanSettings(workers=0, thumbnails=False)
    summary = run_scan(store, "C-1", [root], settings=settings, blobs=None, quiet=True)

    assert summary.status == "interrupted"
    assert [run.status for run in scan_runs(store)] == ["interrupted"]
    monkeypatch.setattr(scan_module, "walk", real_walk)
    assert run_scan(store, "C-1", [root], settings=settings, blobs=None, quiet=True).files_written == 1


def test_rerun_reads_a_file_that_could_not_be_read_before(store: Store, tmp_path: Path, deny: Denier) -> None:
    """The error tells the examiner to fix the permission and re-run; the re-run must then read the file.

    Files never opened by design (symbolic links) are not retried: their record stands.
    """
    root = tmp_path / "ev"
    root.mkdir()
    locked, other = b"locked at first\n", b"always readable\n"
    (root / "locked.txt").write_bytes(locked)
    (root / "other.txt").write_bytes(other)
    (root / "link").symlink_to("other.txt")
    deny(root / "locked.txt")
    settings = ScanSettings(workers=0, thumbnails=False)
    first = run_scan(store, "C-1", [root], settings=settings, blobs=None, quiet=True)
    assert first.files_error == 2  # the locked file and the link

    deny.restore()
    second = run_scan(store, "C-1", [root], settings=settings, blobs=None, quiet=True)

    out = io.StringIO()
    export_case(store, "C-1", "jsonl", out)
    records = {r["path"]: r for r in map(json.loads, out.getvalue().splitlines())}
    assert len(records) == 3
    assert records["ev/locked.txt"]["status"] == "ok"
    assert records["ev/locked.txt"]["error"] is None
    assert records["ev/locked.txt"]["md5"] == md5(locked)
    assert records["ev/link"]["status"] == "error"
    assert (second.files_written, second.files_skipped, second.files_error) == (1, 2, 0)


def test_rerun_reads_a_file_that_vanished_and_came_back(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'File vanished ... re-run the scan if it is back' must hold: e.g. a flaky USB disk re-plugged."""
    root = tmp_path / "ev"
    root.mkdir()
    data = b"on a flaky disk\n"
    (root / "flaky.txt").write_bytes(data)
    real_walk = scan_module.walk

    def walk_then_unplug(top: Path, evidence_name: str) -> Iterator[FileEntry]:
        entries = list(real_walk(top, evidence_name))
        (root / "flaky.txt").unlink()
        yield from entries

    monkeypatch.setattr(scan_module, "walk", walk_then_unplug)
    settings = ScanSettings(workers=0, thumbnails=False)
    assert run_scan(store, "C-1", [root], settings=settings, blobs=None, quiet=True).files_error == 1
    monkeypatch.setattr(scan_module, "walk", real_walk)
    (root / "flaky.txt").write_bytes(data)

    second = run_scan(store, "C-1", [root], settings=settings, blobs=None, quiet=True)

    out = io.StringIO()
    export_case(store, "C-1", "jsonl", out)
    [record] = map(json.loads, out.getvalue().splitlines())
    assert (record["status"], record["md5"]) == ("ok", md5(data))
    assert (second.files_written, second.files_error) == (1, 0)
