"""Near-duplicate stacks: a picture, its resized re-encode and its exact copies stack; unrelated pictures do
not. The pictures are generated and scanned for real, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from himaya.cases import create_case
from himaya.config import ScanSettings
from himaya.pipeline.scan import run_scan
from himaya.review.gallery import refresh
from himaya.review.stacks import build_stacks, components
from himaya.store.db import Store
from himaya.store.models import GalleryItem, MediaFacts
from tests.builders.images import encode, photo_jpeg, photo_like
from tests.review import *  # noqa: F403 (the store fixtures)
from tests.review import build_synthetic_case


def scan_pictures(store: Store, root: Path, pictures: dict[str, bytes]) -> dict[str, GalleryItem]:
    """Scan a folder of the given pictures into case C-1; its gallery rows by path inside the folder."""
    for name, data in pictures.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    create_case(store, "C-1", "TEST case")
    run_scan(store, "C-1", [root], settings=ScanSettings(workers=0, thumbnails=False), blobs=None, quiet=True)
    return gallery_by_path(store, root.name)


def gallery_by_path(store: Store, prefix: str) -> dict[str, GalleryItem]:
    with store.session() as session:
        return {row.path.removeprefix(prefix + "/"): row for row in session.scalars(select(GalleryItem))}


def test_a_picture_its_resized_re_encode_and_copies_stack_and_unrelated_pictures_do_not(
    any_store: Store, tmp_path: Path
) -> None:
    original = photo_jpeg(11, 1024, 768)
    other = photo_jpeg(12, 800, 600)
    pictures = {
        "DCIM/Camera/IMG_1.jpg": original,
        "WhatsApp/Media/WhatsApp Images/IMG-1-WA.jpg": encode(
            photo_like(11, 1024, 768).resize((512, 384)), quality=70
        ),
        "Download/copy_of_1.jpg": original,  # the same bytes
        "DCIM/Camera/IMG_2.jpg": other,
        "Pictures/IMG_2_small.jpg": encode(photo_like(12, 800, 600).resize((400, 300)), quality=60),
        **{f"Pictures/unrelated_{seed}.jpg": photo_jpeg(seed) for seed in range(20, 26)},
        "Pictures/unrelated_png.png": encode(photo_like(30, 320, 240), "PNG"),
    }
    rows = scan_pictures(any_store, tmp_path / "TEST-evidence", pictures)
    assert set(rows) == set(pictures)
    # The scan stacked them already (himaya.pipeline.scan.prepare_review); build_stacks again agrees.
    with any_store.transaction() as session:
        assert build_stacks(session, rows["DCIM/Camera/IMG_1.jpg"].case_id) == 2
    rows = gallery_by_path(any_store, "TEST-evidence")
    first = {"DCIM/Camera/IMG_1.jpg", "WhatsApp/Media/WhatsApp Images/IMG-1-WA.jpg", "Download/copy_of_1.jpg"}
    second = {"DCIM/Camera/IMG_2.jpg", "Pictures/IMG_2_small.jpg"}
    for family in (first, second):
        assert {rows[path].stack_id for path in family} == {min(rows[path].file_id for path in family)}
    assert {rows[path].stack_id for path in set(rows) - first - second} == {None}


def test_the_distance_decides_and_exact_copies_always_stack(any_store: Store, tmp_path: Path) -> None:
    original = photo_jpeg(41, 1024, 768)
    pictures = {
        "a/original.jpg": original,
        "b/original_again.jpg": original,
        "c/resized.jpg": encode(photo_like(41, 1024, 768).resize((400, 300)), quality=50),
    }
    rows = scan_pictures(any_store, tmp_path / "TEST-evidence", pictures)
    case_id = rows["a/original.jpg"].case_id
    with any_store.transaction() as session:
        assert build_stacks(session, case_id, threshold=0) == 1
    rows = gallery_by_path(any_store, "TEST-evidence")
    assert (
        rows["a/original.jpg"].stack_id
        == rows["b/original_again.jpg"].stack_id
        == rows["a/original.jpg"].file_id
    )
    assert rows["c/resized.jpg"].stack_id is None  # a few bits away: not at distance 0
    with any_store.transaction() as session:
        assert build_stacks(session, case_id) == 1
    assert (
        gallery_by_path(any_store, "TEST-evidence")["c/resized.jpg"].stack_id
        == rows["a/original.jpg"].file_id
    )


def test_low_quality_hashes_stack_only_by_content(any_store: Store) -> None:
    """Flat, nearly blank pictures have low-quality PDQ hashes close to each other's; they must not chain
    unrelated pictures into one stack."""
    case = build_synthetic_case(any_store, 60, seed=3)
    contents = [p.sha256 for p in case.pictures]
    unique = [p for p in case.decoded() if contents.count(p.sha256) == 1][:4]
    with any_store.transaction() as session:
        for n, picture in enumerate(unique):
            session.execute(
                update(MediaFacts)
                .where(MediaFacts.file_id == picture.file_id)
                .values(pdq="0" * 63 + str(n), pdq_quality=(90, 90, 10, 49)[n])
            )
        refresh(session, case.case_id)
        build_stacks(session, case.case_id)
        stacks = dict(session.execute(select(GalleryItem.file_id, GalleryItem.stack_id)).all())
    assert [stacks[p.file_id] for p in unique] == [unique[0].file_id, unique[0].file_id, None, None]
    # Copies of one content stack whatever their hash's quality.
    for sha256 in {c for c in contents if contents.count(c) > 1}:
        copies = [p.file_id for p in case.decoded() if p.sha256 == sha256]
        if len(copies) > 1:
            assert {stacks[file_id] for file_id in copies} == {min(copies)}


def naive_groups(count: int, pairs: list[tuple[int, int]]) -> list[int]:
    parent = list(range(count))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(x) for x in range(count)]


@given(
    st.integers(1, 60).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))))
    )
)
def test_components_are_the_groups_a_plain_union_find_gives(case: tuple[int, list[tuple[int, int]]]) -> None:
    count, pairs = case
    a = np.asarray([p[0] for p in pairs], dtype=np.int64)
    b = np.asarray([p[1] for p in pairs], dtype=np.int64)
    assert components(count, a, b).tolist() == naive_groups(count, pairs)
