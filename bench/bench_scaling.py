"""Scan throughput with 1 and 2 worker processes on a set of 12-megapixel photos.

    .venv/bin/python bench/bench_scaling.py [--count 192] [--repeats 3]

Builds COUNT benign synthetic 12 MP photo-like JPEGs (the generator of bench_images.py, >= 3 MB each)
once into bench/out/photos-COUNT (kept between runs; delete it to rebuild), plus a TEST hash set with the
PDQ and MD5 of a tenth of them. Then times whole `run_scan` calls, alternating --workers 1 and 2 (and
0, in-process, for reference), each into a fresh home: files/s includes worker start-up, planning and
the writer, as an examiner would see it. Thumbnails are on, as in a default scan.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Only the standard library at module level: spawned workers re-import this script as __mp_main__, and
# whatever it imports here would be start-up cost charged to the workers, not to Himaya.

OUT = Path(__file__).parent / "out"


def photo_set(count: int) -> Path:
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    from bench_images import make_photo  # same folder: run as `python bench/bench_scaling.py`

    folder = OUT / f"photos-{count}" / "DCIM"
    done = folder.parent / ".complete"
    if done.exists():
        return folder.parent
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    paths = [folder / f"IMG_{seed:04d}.jpg" for seed in range(count)]
    workers = os.cpu_count() or 1
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for n, _ in enumerate(pool.map(make_photo, range(count), paths), start=1):
            print(f"\rbuilding photo set: {n}/{count}", end="", file=sys.stderr)
    print(f" ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    done.touch()
    return folder.parent


def hash_list(photos: Path, out: Path) -> Path:
    from himaya.analyzers.image import pdq_full_resolution
    from himaya.config import ImageLimits

    rows = ["md5,pdq,category,series"]
    for path in sorted((photos / "DCIM").glob("*.jpg"))[::10]:
        data = path.read_bytes()
        rows.append(
            f"{hashlib.md5(data).hexdigest()},{pdq_full_resolution(data, ImageLimits()).hash_hex},"
            "TEST-A,TEST-bench"
        )
    out.write_text("\n".join(rows) + "\n")
    return out


def one_scan(photos: Path, hashes: Path, workers: int) -> tuple[float, int]:
    from rich.console import Console

    from himaya.cases import create_case
    from himaya.config import ScanSettings
    from himaya.hashsets.importer import import_hash_set
    from himaya.pipeline.scan import run_scan
    from himaya.security.crypto import generate_key
    from himaya.store.blobs import BlobStore
    from himaya.store.db import open_store

    with tempfile.TemporaryDirectory(prefix="himaya-bench-") as tmp:
        home = Path(tmp) / "home"
        store = open_store(home)
        create_case(store, "BENCH", "TEST benchmark")
        import_hash_set(store, hashes, name="TEST-bench")
        blobs = BlobStore(home / "blobs", generate_key(), durable=False)
        summary = run_scan(
            store,
            "BENCH",
            [photos],
            settings=ScanSettings(workers=workers),
            blobs=blobs,
            console=Console(stderr=True, quiet=True),
            quiet=True,
        )
        store.close()
        return summary.files_written / summary.seconds, summary.matched_files


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=192)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    photos = photo_set(args.count)
    sizes = [p.stat().st_size for p in (photos / "DCIM").glob("*.jpg")]
    with tempfile.TemporaryDirectory() as tmp:
        hashes = hash_list(photos, Path(tmp) / "TEST-bench.csv")
        rates: dict[int, list[float]] = {0: [], 1: [], 2: []}
        for repeat in range(args.repeats):
            for workers in (1, 2, 0):
                rate, matched = one_scan(photos, hashes, workers)
                rates[workers].append(rate)
                print(
                    f"repeat {repeat + 1} workers={workers}: {rate:.2f} files/s ({matched} matched)",
                    file=sys.stderr,
                )
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(
        f"\n{args.count} photos, 4000x3000, mean {statistics.mean(sizes) / 1e6:.2f} MB; "
        f"medians of {args.repeats}\n"
    )
    print("| workers | files/s (median) | runs | vs 1 worker |")
    print("| --- | ---: | --- | ---: |")
    for workers, label in ((0, "0 (in-process)"), (1, "1"), (2, "2")):
        runs = ", ".join(f"{r:.2f}" for r in rates[workers])
        median = statistics.median(rates[workers])
        print(f"| {label} | {median:.2f} | {runs} | {median / one:.2f}x |")
    print(f"\nscaling 1 -> 2 workers: {two / one:.2f}x (target >= 1.7x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
