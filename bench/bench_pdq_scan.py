"""What matching against a large PDQ list costs a scan, per picture, in one worker (one thread).

    .venv/bin/python bench/bench_pdq_scan.py [--photos 24] [--entries 10000000] [--repeats 3]

Analyses COUNT generated 12-MP JPEGs (bench/out/photos-COUNT, shared with bench_scaling.py) the way a
scan worker does: decode, PDQ with dihedral variants and border check, then matching against one alert
set of ENTRIES random PDQ hashes (dihedral on). Compared, alternately, in the same process:

  no set        the picture work alone;
  two passes    the earlier worker: a search at threshold + margin to decide on a re-hash, then
                `match_media`, a second search at the threshold;
  one pass      `_search` + `best_hits` per picture: one search answers both;
  per task      `_search_many` for the pictures of a task together (up to 32), as workers now do.

Prints milliseconds per picture (median of the repeats) and checks that both ways find the same hits.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # a scan worker's setting

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_scaling import photo_set

from himaya.analyzers.image import analyze_image
from himaya.config import ImageLimits, PdqSettings
from himaya.matching.pdq_index import PdqIndex
from himaya.matching.pdq_sets import ActivePdq, best_hits, match_media
from himaya.pipeline.workers import MATCH_BATCH_PICTURES, _near_threshold, _search, _search_many


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    pictures = [path.read_bytes() for path in sorted((photo_set(args.photos) / "DCIM").glob("*.jpg"))]
    settings = PdqSettings()
    media = [analyze_image(data, limits=ImageLimits(), pdq=settings, thumbnails=None) for data in pictures]
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 256, size=(args.entries, 32), dtype=np.uint8)
    # Plant every picture's own hash, so each has a real match to find.
    for n, facts in enumerate(media):
        assert facts.pdq is not None
        codes[n * 1000] = np.frombuffer(bytes.fromhex(facts.pdq.hash_hex), dtype=np.uint8)
    index = PdqIndex(np.arange(args.entries, dtype=np.int64), codes)
    sets = [ActivePdq(1, "TEST-bench", "alert", 31, 50, index, dihedral=True)]

    def analyse_only() -> None:
        for data in pictures:
            analyze_image(data, limits=ImageLimits(), pdq=settings, thumbnails=None)

    def two_passes() -> list[list[int]]:
        found = []
        for facts in media:
            assert facts.pdq is not None
            _near_threshold(_search(facts.pdq, sets, settings), settings)
            found.append(sorted(hit.entry_id for hit in match_media(sets, facts.pdq)))
        return found

    def one_pass() -> list[list[int]]:
        found = []
        for facts in media:
            assert facts.pdq is not None
            searches = _search(facts.pdq, sets, settings)
            _near_threshold(searches, settings)
            found.append(sorted(h.entry_id for a, q, f in searches for h in best_hits(a, q, f)))
        return found

    def per_task() -> list[list[int]]:
        found = []
        hashes = [facts.pdq for facts in media if facts.pdq is not None]
        for start in range(0, len(hashes), MATCH_BATCH_PICTURES):
            for searches in _search_many(hashes[start : start + MATCH_BATCH_PICTURES], sets, settings):
                _near_threshold(searches, settings)
                found.append(sorted(h.entry_id for a, q, f in searches for h in best_hits(a, q, f)))
        return found

    timings: dict[str, list[float]] = {
        "picture work (no set)": [],
        "two passes": [],
        "one pass": [],
        "per task": [],
    }
    answers = {}
    for _ in range(args.repeats):
        for name, work in (
            ("picture work (no set)", analyse_only),
            ("two passes", two_passes),
            ("one pass", one_pass),
            ("per task", per_task),
        ):
            started = time.perf_counter()
            answers[name] = work()
            timings[name].append((time.perf_counter() - started) / len(pictures) * 1000)
    assert answers["two passes"] == answers["one pass"] == answers["per task"], "different matches"
    assert all(n * 1000 in hits for n, hits in enumerate(answers["one pass"]))
    print(
        f"{len(pictures)} photos of 12 MP, one alert set of {args.entries:,} PDQ hashes, dihedral on,"
        " 1 thread"
    )
    print("| step | ms per picture (median) | runs |")
    print("| --- | ---: | --- |")
    for name, runs in timings.items():
        print(f"| {name} | {statistics.median(runs):.1f} | {', '.join(f'{r:.1f}' for r in runs)} |")


if __name__ == "__main__":
    main()
