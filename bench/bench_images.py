"""Images per second: HMA's hasher loop against Himaya's picture path, on one core.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_images.py [--count 20] [--repeats 3]

Makes COUNT benign synthetic 12-megapixel photo-like JPEGs (camera quality 92, with sensor noise and fine
texture so that they weigh what a phone photo weighs, >= 3 MB), in a temporary folder that is removed
afterwards, then times alternately, REPEATS times:

  (a) HMA's hasher loop: Image.open(path).convert("RGB") (full decode) + pdqhash.compute + hashlib
      md5/sha1/sha256 of the file's bytes;
  (b) Himaya: MultiHasher over the bytes + analyze_image (reduced-scale decode + PDQ + EXIF), with
      thumbnails off and on (into an in-memory sink).

The process is pinned to one CPU (so Himaya's digest helper threads cannot borrow a second core) and
OpenMP to one thread, as a scan worker runs. It also reports how far the reduced-scale PDQ drifts from
the full-resolution one, and how often the pipeline's near-threshold re-hash would fire.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/pdqhash load their thread pools

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pdqhash
import PIL
from PIL import Image, features

from himaya.analyzers.digests import MultiHasher
from himaya.analyzers.image import analyze_image, pdq_full_resolution
from himaya.analyzers.pdq import bits_to_hex
from himaya.config import ImageLimits, PdqSettings
from himaya.demo.pictures import camera_exif, photo_like
from himaya.matching.pdq_index import hamming

WIDTH, HEIGHT = 4000, 3000
LIMITS = ImageLimits()
PDQ = PdqSettings()
THRESHOLD = 31


class DiscardingSink:
    def __init__(self) -> None:
        self.count = 0

    def put(self, data: bytes) -> str:
        self.count += 1
        return f"blob-{self.count}"


def make_photo(seed: int, path: Path) -> int:
    """A 12 MP photo-like JPEG with the weight of a real one: noise plus fine luminance texture."""
    photo_image(seed).save(path, format="JPEG", quality=92, exif=camera_exif(serial=f"SN-BENCH-{seed:04d}"))
    return path.stat().st_size


def photo_image(seed: int) -> Image.Image:
    """The pixels of `make_photo` (also the disk benchmark's camera photos)."""
    rng = np.random.default_rng(10_000 + seed)
    picture = photo_like(seed, WIDTH, HEIGHT, noise=6.0)
    texture = Image.fromarray(rng.integers(0, 256, (HEIGHT // 4, WIDTH // 4), dtype=np.uint8), "L")
    texture = texture.resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    grain = (np.asarray(texture, dtype=np.int16) - 128) // 8
    pixels = np.asarray(picture, dtype=np.int16) + grain[..., None]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def hma_loop(paths: list[Path]) -> list[str]:
    hashes = []
    for path in paths:
        data = path.read_bytes()
        for name in ("md5", "sha1", "sha256"):
            hashlib.new(name, data).hexdigest()
        bits, _quality = pdqhash.compute(np.asarray(Image.open(path).convert("RGB")))
        hashes.append(bits_to_hex(bits))
    return hashes


def himaya_loop(paths: list[Path], thumbnails: bool) -> list[str]:
    hashes = []
    sink = DiscardingSink() if thumbnails else None
    for path in paths:
        data = path.read_bytes()
        hasher = MultiHasher()
        hasher.update(data)
        hasher.hexdigests()
        facts = analyze_image(data, limits=LIMITS, pdq=PDQ, thumbnails=sink)
        assert facts.pdq is not None
        hashes.append(facts.pdq.hash_hex)
    return hashes


def percentile(values: list[int], fraction: float) -> float:
    return float(np.percentile(np.asarray(values), fraction * 100))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=20, help="number of 12 MP JPEGs (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating repetitions (default 3)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    args = parser.parse_args()
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    with tempfile.TemporaryDirectory(prefix="himaya-bench-images-") as folder:
        paths = [Path(folder) / f"IMG_{seed:04d}.jpg" for seed in range(args.count)]
        started = time.perf_counter()
        sizes = [make_photo(seed, path) for seed, path in enumerate(paths)]
        print(
            f"made {len(paths)} JPEGs of {WIDTH}x{HEIGHT} in {time.perf_counter() - started:.0f} s; "
            f"mean size {statistics.mean(sizes) / 1e6:.2f} MB "
            f"({statistics.mean(sizes) / (WIDTH * HEIGHT):.2f} bytes/pixel), min {min(sizes) / 1e6:.2f} MB",
            file=sys.stderr,
        )
        for path in paths:  # warm the page cache for every contender alike
            path.read_bytes()

        contenders: dict[str, Callable[[], list[str]]] = {
            "HMA loop: full decode + PDQ + md5/sha1/sha256": lambda: hma_loop(paths),
            "Himaya: digests + draft decode + PDQ + EXIF": lambda: himaya_loop(paths, thumbnails=False),
            "Himaya: same + thumbnail + blurred copy": lambda: himaya_loop(paths, thumbnails=True),
        }
        rates: dict[str, list[float]] = {name: [] for name in contenders}
        names = list(contenders)
        for repeat in range(args.repeats):
            order = names[repeat % len(names) :] + names[: repeat % len(names)]  # rotate who goes first
            for name in order:
                started = time.perf_counter()
                contenders[name]()
                rates[name].append(len(paths) / (time.perf_counter() - started))

        reference = hma_loop(paths)
        full = [pdq_full_resolution(path.read_bytes(), LIMITS).hash_hex for path in paths]
        reduced = himaya_loop(paths, thumbnails=False)

    baseline = statistics.median(rates[names[0]])
    print(
        f"\n{len(paths)} images of {WIDTH}x{HEIGHT}, mean {statistics.mean(sizes) / 1e6:.2f} MB; one CPU, "
        f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}; Pillow {PIL.__version__} "
        f"(libjpeg-turbo {features.version('libjpeg_turbo')}), pdqhash {pdqhash.__version__}\n"
    )
    print("| path | images/s (median) | runs | vs HMA |")
    print("| --- | ---: | --- | ---: |")
    for name in names:
        median = statistics.median(rates[name])
        runs = ", ".join(f"{rate:.2f}" for rate in rates[name])
        print(f"| {name} | {median:.2f} | {runs} | {median / baseline:.1f}x |")

    drift = [hamming(a, b) for a, b in zip(reduced, full, strict=True)]
    same_as_hma = sum(a == b for a, b in zip(full, reference, strict=True))
    low, high = THRESHOLD - PDQ.rehash_margin, THRESHOLD + PDQ.rehash_margin
    fires = sum(any(low < hamming(r, entry) <= high for entry in full) for r in reduced)
    lost = sum(d > THRESHOLD for d in drift)
    print(
        f"\nDrift, reduced (pdq-draft{PDQ.min_short_side}/1) vs full-resolution PDQ, Hamming bits, "
        f"{len(drift)} images:\n"
    )
    print(
        "| median | p90 | max | full-res == HMA hash | re-hash fires, d in "
        f"({low}, {high}] | matches lost at d > {THRESHOLD} without re-hash |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {statistics.median(drift):g} | {percentile(drift, 0.9):g} | {max(drift)} | "
        f"{same_as_hma}/{len(full)} | {fires}/{len(reduced)} | {lost}/{len(reduced)} |"
    )
    print(f"\ndrift per image: {sorted(drift)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
