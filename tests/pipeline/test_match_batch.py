"""Pictures of one task are matched together (one pass over each hash set) with the same result as alone.

The batch holds pictures whose reduced-scale hash is near a set's threshold (they are hashed again at full
resolution) beside pictures far from every entry, pictures in an archive, and a file that is no picture.
All pictures are generated and benign; every set's name says TEST.
"""

from __future__ import annotations

import functools
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from himaya.analyzers.facts import FileFacts
from himaya.analyzers.image import pdq_full_resolution
from himaya.config import ImageLimits, ScanSettings
from himaya.matching.pdq_index import PdqIndex
from himaya.matching.pdq_sets import ActivePdq
from himaya.pipeline import workers
from himaya.pipeline.tasks import Task, TaskFile
from himaya.sources.archive import ExtractionBudget
from himaya.sources.interface import FileEntry
from tests.builders.images import encode, photo_like


def flip(hash_hex: str, count: int, seed: int) -> str:
    """`hash_hex` with `count` bits flipped at seeded positions."""
    value = int(hash_hex, 16)
    for bit in np.random.default_rng(seed).choice(256, size=count, replace=False):
        value ^= 1 << int(bit)
    return f"{value:064x}"


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ActivePdq]]:
    folder = tmp_path_factory.mktemp("batch")
    references = []
    for n in range(6):
        # 1600 x 1200: large enough for the reduced-scale decode, so the re-hash path is exercised.
        data = encode(photo_like(900 + n, 1600, 1200), "JPEG", quality=85)
        (folder / f"IMG_{n}.jpg").write_bytes(data)
        references.append(pdq_full_resolution(data, ImageLimits()).hash_hex)
    members = io.BytesIO()
    with zipfile.ZipFile(members, "w") as archive:
        for n in range(3):
            archive.writestr(f"chat/IMG_{n}.jpg", encode(photo_like(900 + n, 800, 600), "JPEG", quality=70))
    (folder / "chat.zip").write_bytes(members.getvalue())
    (folder / "notes.txt").write_bytes(b"TEST meeting on tuesday\n")
    # Entries at the threshold's edge (30, 31, 32 bits from a reference) and far from any picture.
    hashes = [
        flip(references[0], 30, 1),
        flip(references[1], 31, 2),
        flip(references[2], 32, 3),
        references[3],
    ]
    hashes += [flip(references[4], 120, 4), flip(references[5], 5, 5)]
    index = PdqIndex.from_hex(list(range(1, len(hashes) + 1)), hashes)
    return folder, [ActivePdq(7, "TEST-set", "alert", 31, 50, index, dihedral=True)]


def task_of(folder: Path) -> Task:
    files = []
    for path in sorted(folder.iterdir()):
        size = path.stat().st_size
        files.append(TaskFile(1, path.name, path.name, size, None, str(path), None))
    return Task(files=files)


def matches_of(results: Sequence[tuple[int, list[FileFacts]]]) -> dict[str, list[tuple[int, int, str, str]]]:
    found = {}
    for _evidence, facts_list in results:
        for facts in facts_list:
            pipeline = facts.media.pdq.pipeline if facts.media and facts.media.pdq else ""
            found[facts.locator] = [(m.entry_id, m.distance, m.method, pipeline) for m in facts.pdq_matches]
    return found


def test_a_task_is_matched_in_one_pass_per_set_with_the_same_result_as_file_by_file(
    evidence: tuple[Path, list[ActivePdq]], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, pdq_sets = evidence
    settings = ScanSettings(workers=0, thumbnails=False)
    context = workers.WorkerContext(settings=settings, pdq_sets=pdq_sets, blobs=None)

    # File by file, as analyse_entry does on its own: each top-level file is matched when it ends.
    alone: dict[str, list[tuple[int, int, str, str]]] = {}
    for task_file in task_of(folder).files:
        assert task_file.disk_path is not None
        opener = functools.partial(Path(task_file.disk_path).open, "rb")
        entry = FileEntry(task_file.locator, task_file.path, task_file.size, None, 0, opener)
        facts = list(workers.analyse_entry(entry, context, ExtractionBudget(settings.archive), None))
        alone |= matches_of([(1, facts)])

    searches: list[int] = []
    search_many = PdqIndex.search_many

    def counting(index: PdqIndex, queries: Sequence[str], *args: Any, **kwargs: Any) -> Any:
        searches.append(len(queries))
        return search_many(index, queries, *args, **kwargs)

    monkeypatch.setattr(PdqIndex, "search_many", counting)
    workers.init_worker(context, in_process=True)
    together = matches_of(workers.run_task(task_of(folder)).results)

    assert together == alone
    # The nine pictures went in one search of all their hashes (8 each, more for trimmed ones), and the
    # ones near the threshold in one more, at full resolution.
    assert len(searches) == 2 and searches[0] >= 9 * 8
    assert together["IMG_0.jpg"] == [(1, 30, "pdq", "pdq-full/1")]
    assert together["IMG_1.jpg"] == [(2, 31, "pdq", "pdq-full/1")]
    assert together["IMG_2.jpg"] == []  # 32 bits: beyond the threshold, decided on the reference hash
    assert together["IMG_3.jpg"] == [(4, 0, "pdq", together["IMG_3.jpg"][0][3])]
    assert together["IMG_4.jpg"] == []
    assert together["notes.txt"] == []
