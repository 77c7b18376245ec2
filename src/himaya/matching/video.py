"""Video matching with vPDQ's semantics, over the same exact PDQ index as pictures. No database here.

A video matches a known video when at least `query_percent` (80) of its own usable frames match some
frame of the known video within the set's PDQ threshold (31), and at least `compared_percent` (0) of the
known video's usable frames are matched by some frame of it: Meta's defaults, so that a clip matches its
source (its every frame is in the source) while the source needs nothing of the clip. "Usable" means a
PDQ quality at or above the set's floor (50): black, blank and fading frames hash to near-anything and
are kept on record but never counted. A frame counts as matched when its own hash or the hash of the
frame inside its borders (letterbox bars) is within the threshold. The match records the matched time
ranges of both videos, the shares and, as its distance, the median distance of the matched frames.

Every frame is also compared with the set's picture entries (method "pdq-frame"): a known picture that
is a still of a video, or a picture shown in one. The known videos' frames are one `PdqIndex` per
version (the C kernel of pictures, exact, never approximate), whose rows carry the entry and time.
"""

from __future__ import annotations

import itertools
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from himaya.analyzers.facts import VideoFrame, VideoMatchFact
from himaya.matching.pdq_index import PdqIndex
from himaya.matching.pdq_sets import ActivePdq

METHOD_VPDQ = "vpdq"
METHOD_FRAME = "pdq-frame"
DEFAULT_QUERY_PERCENT = 80.0
DEFAULT_COMPARED_PERCENT = 0.0

_ENTRIES, _QUALITIES, _TIMES, _META = "entries.npy", "qualities.npy", "times.npy", "frames.json"


class VideoIndex:
    """The frames of a hash-set version's known videos: a PDQ index whose ids are row numbers, and per row
    the entry it belongs to, its quality and its time in seconds."""

    def __init__(
        self,
        index: PdqIndex,
        entries: npt.NDArray[np.int64],
        qualities: npt.NDArray[np.int16],
        times: npt.NDArray[np.float32],
        path: Path | None = None,
    ) -> None:
        if not (len(index) == len(entries) == len(qualities) == len(times)):
            raise ValueError("a video index needs one entry, quality and time per frame")
        self.index = index
        self.entries = entries
        self.qualities = qualities
        self.times = times
        self.path = path
        self._usable: dict[int, dict[int, int]] = {}

    def __len__(self) -> int:
        return len(self.index)

    def usable_counts(self, min_quality: int) -> dict[int, int]:
        """Frames at or above `min_quality` per entry id (what a known video's share is counted on)."""
        counts = self._usable.get(min_quality)
        if counts is None:
            good = np.asarray(self.entries)[np.asarray(self.qualities) >= min_quality]
            ids, numbers = np.unique(good, return_counts=True)
            counts = dict(zip(ids.tolist(), numbers.tolist(), strict=True))
            self._usable[min_quality] = counts
        return counts

    @classmethod
    def build(cls, rows: Sequence[tuple[int, Sequence[tuple[str, int, float]]]]) -> VideoIndex:
        """From (entry id, [(pdq hex, quality, seconds), ...]) per known video."""
        hashes: list[str] = []
        entries: list[int] = []
        qualities: list[int] = []
        times: list[float] = []
        for entry_id, frames in rows:
            for pdq, quality, seconds in frames:
                hashes.append(pdq)
                entries.append(entry_id)
                qualities.append(quality)
                times.append(seconds)
        index = PdqIndex.from_hex(list(range(len(hashes))), hashes)
        return cls(
            index,
            np.asarray(entries, dtype=np.int64),
            np.asarray(qualities, dtype=np.int16),
            np.asarray(times, dtype=np.float32),
        )

    def save(self, folder: Path) -> None:
        self.index.save(folder)
        np.save(folder / _ENTRIES, np.asarray(self.entries), allow_pickle=False)
        np.save(folder / _QUALITIES, np.asarray(self.qualities), allow_pickle=False)
        np.save(folder / _TIMES, np.asarray(self.times), allow_pickle=False)
        (folder / _META).write_text(json.dumps({"frames": len(self)}))

    @classmethod
    def load(cls, folder: Path) -> VideoIndex:
        meta = json.loads((folder / _META).read_text())
        index = PdqIndex.load(folder, mmap=True)
        names = (_ENTRIES, _QUALITIES, _TIMES)
        arrays = [np.load(folder / name, mmap_mode="r", allow_pickle=False) for name in names]
        if any(len(array) != meta["frames"] for array in arrays) or len(index) != meta["frames"]:
            raise ValueError(f"video index {folder} is inconsistent")
        return cls(index, arrays[0], arrays[1], arrays[2], path=folder)

    def __getstate__(self) -> dict[str, Any]:
        # Sent to scan workers as its folder when it has one: they map it rather than receive a copy.
        if self.path is not None:
            return {"path": str(self.path)}
        return {
            "index": self.index,
            "entries": self.entries,
            "qualities": self.qualities,
            "times": self.times,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "path" in state:
            loaded = VideoIndex.load(Path(state["path"]))
            self.__dict__.update(loaded.__dict__)
            return
        self.__init__(state["index"], state["entries"], state["qualities"], state["times"])  # type: ignore[misc]


@dataclass(frozen=True)
class ActiveVideo:
    """One hash-set version's known videos with the set's thresholds. Picklable, for worker processes."""

    version_id: int
    hash_set_name: str
    kind: str
    threshold: int
    min_quality: int
    frames: VideoIndex
    query_percent: float = DEFAULT_QUERY_PERCENT
    compared_percent: float = DEFAULT_COMPARED_PERCENT


@dataclass
class _Found:
    """What one known item matched: per query frame its best distance; the known frames matched."""

    frames: dict[int, int] = field(default_factory=dict)  # query frame index -> best distance
    rows: set[int] = field(default_factory=set)

    def offer(self, frame: int, distance: int) -> None:
        best = self.frames.get(frame)
        if best is None or distance < best:
            self.frames[frame] = distance


def match_video(
    frames: Sequence[VideoFrame],
    video_sets: Sequence[ActiveVideo],
    pdq_sets: Sequence[ActivePdq] = (),
    seconds_per_hash: float | None = None,
) -> list[VideoMatchFact]:
    """Every known video (vpdq) and known picture (pdq-frame) this video's frames match, nearest first.

    `seconds_per_hash` (how far apart hashed frames are, for the time ranges) is read off the frames
    when not given.
    """
    results: list[VideoMatchFact] = []
    if not frames:
        return results
    if seconds_per_hash is None:
        gaps = [b.timestamp - a.timestamp for a, b in itertools.pairwise(frames)]
        seconds_per_hash = statistics.median([gap for gap in gaps if gap > 0] or [1.0])
    for video_set in video_sets:
        results.extend(_match_videos(frames, video_set, seconds_per_hash))
    for pdq_set in pdq_sets:
        results.extend(_match_pictures(frames, pdq_set, seconds_per_hash))
    results.sort(key=lambda hit: (hit.method != METHOD_VPDQ, hit.distance, hit.entry_id))
    return results


def _queries(frames: Sequence[VideoFrame], min_quality: int) -> tuple[list[str], list[int], int]:
    """The hashes to search (own and trimmed, each at or above the floor), the frame each belongs to, and
    how many frames are usable."""
    hashes: list[str] = []
    owners: list[int] = []
    usable = 0
    for n, frame in enumerate(frames):
        good = False
        if frame.quality >= min_quality:
            hashes.append(frame.pdq)
            owners.append(n)
            good = True
        if frame.trimmed is not None and (frame.trimmed_quality or 0) >= min_quality:
            hashes.append(frame.trimmed)
            owners.append(n)
            good = True
        usable += good
    return hashes, owners, usable


def _match_videos(frames: Sequence[VideoFrame], video_set: ActiveVideo, step: float) -> list[VideoMatchFact]:
    hashes, owners, usable = _queries(frames, video_set.min_quality)
    if not hashes or not len(video_set.frames):
        return []
    index = video_set.frames
    found_lists = index.index.search_many(hashes, video_set.threshold)
    qualities = np.asarray(index.qualities)
    entries = np.asarray(index.entries)
    found: dict[int, _Found] = {}
    for owner, hits in zip(owners, found_lists, strict=True):
        for row, distance in hits:
            if qualities[row] < video_set.min_quality:
                continue
            item = found.setdefault(int(entries[row]), _Found())
            item.offer(owner, distance)
            item.rows.add(row)
    known_usable = index.usable_counts(video_set.min_quality)
    times = np.asarray(index.times)
    results = []
    for entry_id, item in found.items():
        query_percent = 100.0 * len(item.frames) / usable
        known_total = known_usable.get(entry_id, 0)
        compared_percent = 100.0 * len(item.rows) / known_total if known_total else 0.0
        if query_percent < video_set.query_percent or compared_percent < video_set.compared_percent:
            continue
        matched_times = sorted(frames[n].timestamp for n in item.frames)
        known_times = sorted(float(times[row]) for row in item.rows)
        details: dict[str, object] = {
            "query_percent": round(query_percent, 1),
            "compared_percent": round(compared_percent, 1),
            "frames_matched": len(item.frames),
            "frames_usable": usable,
            "known_frames_matched": len(item.rows),
            "known_frames_usable": known_total,
            "ranges": time_ranges(matched_times, step),
            "known_ranges": time_ranges(known_times, step),
            "matched_seconds": round(len(item.frames) * step, 3),
        }
        results.append(
            VideoMatchFact(
                entry_id=entry_id,
                version_id=video_set.version_id,
                kind=video_set.kind,
                method=METHOD_VPDQ,
                distance=int(statistics.median_low(item.frames.values())),
                details=details,
            )
        )
    return results


def _match_pictures(frames: Sequence[VideoFrame], pdq_set: ActivePdq, step: float) -> list[VideoMatchFact]:
    hashes, owners, _usable = _queries(frames, pdq_set.min_quality)
    if not hashes:
        return []
    found: dict[int, _Found] = {}
    for owner, hits in zip(owners, pdq_set.index.search_many(hashes, pdq_set.threshold), strict=True):
        for entry_id, distance in hits:
            found.setdefault(entry_id, _Found()).offer(owner, distance)
    results = []
    for entry_id, item in found.items():
        nearest = min(item.frames, key=lambda n: (item.frames[n], n))
        details: dict[str, object] = {
            "frames_matched": len(item.frames),
            "frame": frames[nearest].frame_number,
            "time": frames[nearest].timestamp,
            "ranges": time_ranges(sorted(frames[n].timestamp for n in item.frames), step),
        }
        results.append(
            VideoMatchFact(
                entry_id=entry_id,
                version_id=pdq_set.version_id,
                kind=pdq_set.kind,
                method=METHOD_FRAME,
                distance=item.frames[nearest],
                details=details,
            )
        )
    return results


def time_ranges(times: Sequence[float], step: float) -> list[list[float]]:
    """Sorted frame times merged into [first, last] ranges: frames one hash apart belong together."""
    ranges: list[list[float]] = []
    for moment in times:
        if ranges and moment - ranges[-1][1] <= step * 1.5:
            ranges[-1][1] = round(moment, 3)
        else:
            ranges.append([round(moment, 3), round(moment, 3)])
    return ranges


def format_ranges(ranges: Sequence[Sequence[float]]) -> str:
    """ "0:40-0:59, 1:30" for people: minutes and seconds (hours when needed)."""
    return ", ".join(
        _clock(start) if start == end else f"{_clock(start)}-{_clock(end)}" for start, end in ranges
    )


def _clock(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
