"""vPDQ matching semantics on frame lists built here: shares, quality floor, borders, ranges, pictures."""

from __future__ import annotations

import itertools
import pickle
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from himaya.analyzers.facts import VideoFrame
from himaya.matching.pdq_index import PdqIndex
from himaya.matching.pdq_sets import ActivePdq
from himaya.matching.video import (
    METHOD_FRAME,
    METHOD_VPDQ,
    ActiveVideo,
    VideoIndex,
    format_ranges,
    match_video,
    time_ranges,
)

KNOWN_ID = 501  # entry ids far from row numbers, so a row mistaken for an entry finds nothing
OTHER_ID = 777


def random_hash(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def near(value: str, bits: int, rng: random.Random) -> str:
    number = int(value, 16)
    for bit in rng.sample(range(256), bits):
        number ^= 1 << bit
    return f"{number:064x}"


def frames_of(hashes: list[str], start: float = 0.0, quality: int = 100) -> list[VideoFrame]:
    return [
        VideoFrame(frame_number=int((start + n) * 30), timestamp=start + n, pdq=value, quality=quality)
        for n, value in enumerate(hashes)
    ]


def video_set(
    known: dict[int, list[VideoFrame]], *, query_percent: float = 80.0, compared_percent: float = 0.0
) -> ActiveVideo:
    index = VideoIndex.build(
        [(entry_id, [(f.pdq, f.quality, f.timestamp) for f in frames]) for entry_id, frames in known.items()]
    )
    return ActiveVideo(
        version_id=9,
        hash_set_name="TEST-VIDEOS",
        kind="alert",
        threshold=31,
        min_quality=50,
        frames=index,
        query_percent=query_percent,
        compared_percent=compared_percent,
    )


@pytest.fixture
def source() -> list[str]:
    rng = random.Random(8)
    return [random_hash(rng) for _ in range(120)]


def test_a_clip_of_a_known_video_matches_with_its_ranges(source: list[str]) -> None:
    rng = random.Random(1)
    known = video_set({KNOWN_ID: frames_of(source)})
    clip = frames_of([near(value, 10, rng) for value in source[40:60]])  # re-encoded: a few bits off

    [hit] = match_video(clip, [known])

    assert (hit.entry_id, hit.method, hit.kind, hit.version_id) == (KNOWN_ID, METHOD_VPDQ, "alert", 9)
    assert hit.distance == 10
    assert hit.details["query_percent"] == 100.0
    assert hit.details["compared_percent"] == pytest.approx(100 * 20 / 120, abs=0.1)
    assert hit.details["ranges"] == [[0.0, 19.0]]
    assert hit.details["known_ranges"] == [[40.0, 59.0]]
    assert hit.details["frames_usable"] == 20


def test_the_query_share_threshold_is_inclusive_and_configurable(source: list[str]) -> None:
    rng = random.Random(2)
    known = video_set({KNOWN_ID: frames_of(source)})
    eight_of_ten = frames_of(source[:8] + [random_hash(rng) for _ in range(2)])
    seven_of_ten = frames_of(source[:7] + [random_hash(rng) for _ in range(3)])

    assert [h.details["query_percent"] for h in match_video(eight_of_ten, [known])] == [80.0]
    assert match_video(seven_of_ten, [known]) == []
    assert len(match_video(seven_of_ten, [video_set({KNOWN_ID: frames_of(source)}, query_percent=70)])) == 1


def test_the_known_share_can_be_required(source: list[str]) -> None:
    clip = frames_of(source[:20])
    assert match_video(clip, [video_set({KNOWN_ID: frames_of(source)}, compared_percent=50)]) == []
    half = video_set({KNOWN_ID: frames_of(source)}, compared_percent=50)
    assert [hit.details["compared_percent"] for hit in match_video(frames_of(source[:60]), [half])] == [50.0]


def test_unrelated_and_distant_frames_do_not_match(source: list[str]) -> None:
    rng = random.Random(3)
    known = video_set({KNOWN_ID: frames_of(source)})
    assert match_video(frames_of([random_hash(rng) for _ in range(30)]), [known]) == []
    far = frames_of([near(value, 32, rng) for value in source[:30]])  # one bit past the threshold
    assert match_video(far, [known]) == []
    within = frames_of([near(value, 31, rng) for value in source[:30]])
    assert [hit.distance for hit in match_video(within, [known])] == [31]


def test_low_quality_frames_are_kept_out_of_both_sides(source: list[str]) -> None:
    rng = random.Random(4)
    # 10 good frames of the source, then 30 black frames (quality 0) that match nothing: still 100 %.
    black = [VideoFrame(frame_number=0, timestamp=10.0 + n, pdq="0" * 64, quality=0) for n in range(30)]
    query = frames_of(source[:10]) + black
    [hit] = match_video(query, [video_set({KNOWN_ID: frames_of(source)})])
    assert (hit.details["frames_usable"], hit.details["query_percent"]) == (10, 100.0)
    # A known video whose frames are all below the floor is never matched, even by the same hashes.
    dull = video_set({KNOWN_ID: frames_of(source[:10], quality=40)})
    assert match_video(frames_of(source[:10]), [dull]) == []
    # ...nor does a query with no usable frame.
    blank = frames_of([random_hash(rng)], quality=10)
    assert match_video(blank, [video_set({KNOWN_ID: frames_of(source)})]) == []


def test_the_border_trimmed_hash_of_a_frame_counts(source: list[str]) -> None:
    rng = random.Random(5)
    letterboxed = [
        VideoFrame(
            frame_number=n * 30,
            timestamp=float(n),
            pdq=random_hash(rng),  # the whole frame with bars: far from the source
            quality=90,
            trimmed=near(value, 6, rng),
            trimmed_quality=95,
        )
        for n, value in enumerate(source[:30])
    ]
    [hit] = match_video(letterboxed, [video_set({KNOWN_ID: frames_of(source)})])
    assert (hit.details["query_percent"], hit.distance) == (100.0, 6)


def test_each_known_video_is_decided_on_its_own(source: list[str]) -> None:
    rng = random.Random(6)
    other = [random_hash(rng) for _ in range(20)]
    known = video_set({KNOWN_ID: frames_of(source), OTHER_ID: frames_of(other)})
    # Half from each: neither reaches 80 %.
    assert match_video(frames_of(source[:10] + other[:10]), [known]) == []
    assert [hit.entry_id for hit in match_video(frames_of(other), [known])] == [OTHER_ID]


def test_a_known_picture_in_a_frame_is_a_pdq_frame_match(source: list[str]) -> None:
    rng = random.Random(7)
    picture = near(source[33], 4, rng)
    pictures = ActivePdq(
        version_id=3,
        hash_set_name="TEST-PICTURES",
        kind="alert",
        threshold=31,
        min_quality=50,
        index=PdqIndex.from_hex([KNOWN_ID], [picture]),
    )
    [hit] = match_video(frames_of(source), [], [pictures])
    assert (hit.method, hit.entry_id, hit.distance, hit.version_id) == (METHOD_FRAME, KNOWN_ID, 4, 3)
    assert (hit.details["frame"], hit.details["time"], hit.details["ranges"]) == (990, 33.0, [[33.0, 33.0]])


def test_ranges_merge_frames_one_hash_apart() -> None:
    assert time_ranges([0.0, 1.0, 2.0, 5.0, 6.0, 9.0], 1.0) == [[0.0, 2.0], [5.0, 6.0], [9.0, 9.0]]
    assert time_ranges([], 1.0) == []
    assert format_ranges([[40.0, 59.0], [90.0, 90.0], [3725.0, 3730.0]]) == "0:40-0:59, 1:30, 1:02:05-1:02:10"


@given(st.lists(st.floats(min_value=0, max_value=10_000, allow_nan=False), max_size=50))
def test_ranges_cover_every_time_once(times: list[float]) -> None:
    ordered = sorted(times)
    ranges = time_ranges(ordered, 1.0)
    assert all(start <= end for start, end in ranges)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))
    for moment in ordered:
        assert any(start - 1e-3 <= moment <= end + 1e-3 for start, end in ranges)


def test_the_video_index_saves_loads_and_pickles_as_its_folder(source: list[str], tmp_path: Path) -> None:
    index = video_set({KNOWN_ID: frames_of(source)}).frames
    folder = tmp_path / "vpdq-index"
    index.save(folder)
    loaded = VideoIndex.load(folder)
    assert len(loaded) == 120 and loaded.usable_counts(50) == {KNOWN_ID: 120}
    state = pickle.dumps(loaded)
    assert len(state) < 1000  # the folder's path, not the frames
    again = pickle.loads(state)
    clip = frames_of(source[10:30])
    assert [h.entry_id for h in match_video(clip, [video_set({KNOWN_ID: frames_of(source)})])] == [KNOWN_ID]
    assert again.index.search(source[12], 0) == [(12, 0)]
    # In memory (no folder) it pickles whole and still searches.
    assert pickle.loads(pickle.dumps(index)).index.search(source[5], 0) == [(5, 0)]
