"""PDQ range search at 10 million hashes: Himaya's exact index against faiss and HMA's matcher.

    .venv/bin/python bench/bench_pdq_index.py [--size 10000000] [--queries 10000] [--repeats 3]
        [--threads 2] [--datasets uniform,realistic] [--hma-size 1000000]

Two synthetic sets of SIZE PDQ hashes (random bit strings, seeded; no pictures), generated once into
bench/out/pdq-index/ (kept between runs; delete the folder to rebuild):

  uniform    every hash uniformly random;
  realistic  90% in families of near-duplicates (a seed and up to 15 variants 1-40 bits from it), 9%
             unrelated, 1% low-entropy (mostly zero, mostly one, a repeated byte, a repeated 4-byte word,
             half zero and half one), shuffled.

and QUERIES queries: half planted 0-31 bits from a random entry (that entry must be found at exactly that
distance), a tenth planted 32-40 bits away (that entry must not be found), the rest uniformly random.

Each engine runs in its own spawned process, so that its peak RSS (dataset, queries, index, results) is
its own; the searches alternate between engines, REPEATS times, all at threshold 31 with THREADS threads:

  himaya  PdqIndex built from the hex hashes (build s: decoding them, as an import does), saved, loaded
          memory-mapped (as a scan loads it), searched with `search_many` on the hex queries: hex parsing
          and the Python result lists are in the time (--popcnt: also with the scalar kernel);
  faiss   IndexBinaryFlat.add, then range_search on the binary codes (radius 32: faiss's is exclusive).

faiss's answer is the ground truth: Himaya must return exactly the same pairs. Then, at HMA_SIZE hashes,
the same comparison with python-threatexchange's PDQ index (PdqSignal.get_index_cls(): PDQIndex, faiss
multi-index hashing, one query per call, as HMA matches), if it is installed (`make bench-deps`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

OUT = Path(__file__).parent / "out" / "pdq-index"
THRESHOLD = 31
Codes = npt.NDArray[np.uint8]


# -- data --------------------------------------------------------------------------------------------------


def flip_up_to(rng: np.random.Generator, codes: Codes, max_bits: int, min_bits: int = 1) -> Codes:
    """Each row with min_bits..max_bits random bit positions flipped (a position drawn twice flips once)."""
    out = np.empty_like(codes)
    for start in range(0, len(codes), 250_000):
        chunk = codes[start : start + 250_000]
        n = len(chunk)
        counts = rng.integers(min_bits, max_bits + 1, n)
        positions = rng.integers(0, 256, (n, max_bits))
        chosen = np.arange(max_bits)[None, :] < counts[:, None]
        mask = np.zeros((n, 256), dtype=bool)
        mask[np.nonzero(chosen)[0], positions[chosen]] = True
        out[start : start + n] = chunk ^ np.packbits(mask, axis=1)
    return out


def flip_exactly(rng: np.random.Generator, codes: Codes, distances: npt.NDArray[np.int64]) -> Codes:
    """Each row with exactly distances[row] distinct bits flipped."""
    bits = np.unpackbits(codes, axis=1)
    for row, distance in enumerate(distances):
        bits[row, rng.choice(256, size=int(distance), replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def low_entropy(rng: np.random.Generator, n: int) -> Codes:
    kinds = np.array_split(np.arange(n), 5)
    parts = [
        flip_up_to(rng, np.zeros((len(kinds[0]), 32), np.uint8), 16),  # mostly zero
        flip_up_to(rng, np.full((len(kinds[1]), 32), 255, np.uint8), 16),  # mostly one
        np.repeat(rng.integers(0, 256, (len(kinds[2]), 1), dtype=np.uint8), 32, axis=1),  # a repeated byte
        np.tile(rng.integers(0, 256, (len(kinds[3]), 4), dtype=np.uint8), 8),  # a repeated 4-byte word
        flip_up_to(rng, np.repeat(np.array([[0] * 16 + [255] * 16], np.uint8), len(kinds[4]), 0), 8),
    ]
    return np.concatenate(parts)


def realistic(rng: np.random.Generator, size: int) -> Codes:
    n_low, n_random = size // 100, size * 9 // 100
    n_family = size - n_low - n_random
    family_sizes = rng.integers(1, 17, n_family // 8 + 1)
    while family_sizes.sum() < n_family:
        family_sizes = np.concatenate([family_sizes, rng.integers(1, 17, 1000)])
    seeds = rng.integers(0, 256, (len(family_sizes), 32), dtype=np.uint8)
    family = np.repeat(np.arange(len(family_sizes)), family_sizes)[:n_family]
    members = flip_up_to(rng, seeds[family], 40)
    first = np.ones(n_family, dtype=bool)
    first[1:] = family[1:] != family[:-1]
    members[first] = seeds[family[first]]  # each family holds its seed itself
    codes = np.concatenate(
        [members, rng.integers(0, 256, (n_random, 32), dtype=np.uint8), low_entropy(rng, n_low)]
    )
    return codes[rng.permutation(size)]


def make_queries(
    rng: np.random.Generator, codes: Codes, count: int
) -> tuple[Codes, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Queries, the entry each was planted from (-1: random) and its distance from that entry."""
    near, far = count // 2, count // 10
    targets = rng.integers(0, len(codes), near + far)
    distances = np.concatenate([rng.integers(0, THRESHOLD + 1, near), rng.integers(THRESHOLD + 1, 41, far)])
    planted = flip_exactly(rng, codes[targets], distances)
    random_queries = rng.integers(0, 256, (count - near - far, 32), dtype=np.uint8)
    order = rng.permutation(count)
    queries = np.concatenate([planted, random_queries])[order]
    target = np.concatenate([targets, np.full(len(random_queries), -1)])[order]
    distance = np.concatenate([distances, np.full(len(random_queries), -1)])[order]
    return queries, target.astype(np.int64), distance.astype(np.int64)


def dataset(name: str, size: int, queries: int) -> Path:
    """The dataset's folder in bench/out: codes.npy, queries.npy, target.npy, distance.npy."""
    folder = OUT / f"{name}-{size}-q{queries}"
    if (folder / ".complete").exists():
        return folder
    started = time.monotonic()
    print(f"generating {folder.name} ...", end="", file=sys.stderr, flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng([size, queries, len(name)])
    codes = rng.integers(0, 256, (size, 32), dtype=np.uint8) if name == "uniform" else realistic(rng, size)
    np.save(folder / "codes.npy", codes)
    for key, value in zip(("queries", "target", "distance"), make_queries(rng, codes, queries), strict=True):
        np.save(folder / f"{key}.npy", value)
    (folder / ".complete").touch()
    print(f" {time.monotonic() - started:.0f} s", file=sys.stderr)
    return folder


# -- engines (each in its own process) -----------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident memory, file-backed mapped pages included.

    VmHWM rather than getrusage's ru_maxrss, which a spawned process inherits from the parent it was
    forked from (the kernel keeps the larger of the two across exec).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class Himaya:
    kernel = "auto"

    def __init__(self, folder: Path, threads: int) -> None:
        import faiss

        from himaya.matching.pdq_index import PdqIndex, available_kernels, pdq_codes

        faiss.omp_set_num_threads(threads)  # PdqIndex uses faiss's OpenMP setting as its thread count
        codes = np.load(folder / "codes.npy", mmap_mode="r")
        # Building from the hex strings of a hash list (as an import does), a million at a time; making
        # the strings is not timed.
        self.build_s = 0.0
        for start in range(0, len(codes), 1_000_000):
            hashes = [bytes(code).hex() for code in codes[start : start + 1_000_000]]
            started = time.perf_counter()
            pdq_codes(hashes)
            self.build_s += time.perf_counter() - started
        del hashes
        started = time.perf_counter()
        index = PdqIndex(np.arange(len(codes), dtype=np.int64), codes)
        self.build_s += time.perf_counter() - started
        saved = folder / f"index-{self.kernel}"
        shutil.rmtree(saved, ignore_errors=True)
        started = time.perf_counter()
        index.save(saved)
        self.save_s = time.perf_counter() - started
        del index, codes
        started = time.perf_counter()
        self.index = PdqIndex.load(saved, mmap=True)
        self.load_s = time.perf_counter() - started
        self.queries = [bytes(query).hex() for query in np.load(folder / "queries.npy")]
        kernel = available_kernels()[0] if self.kernel == "auto" else self.kernel
        self.note = f"kernel {kernel}, {threads} threads"

    def search(self) -> list[list[tuple[int, int]]]:
        return self.index.search_many(self.queries, THRESHOLD, kernel=self.kernel)

    @staticmethod
    def pairs(found: list[list[tuple[int, int]]]) -> npt.NDArray[np.int64]:
        return np.asarray(
            [(q, i, d) for q, hits in enumerate(found) for i, d in hits], dtype=np.int64
        ).reshape(-1, 3)


class Faiss:
    def __init__(self, folder: Path, threads: int) -> None:
        import faiss

        faiss.omp_set_num_threads(threads)
        codes = np.load(folder / "codes.npy", mmap_mode="r")
        started = time.perf_counter()
        self.index = faiss.IndexBinaryFlat(256)
        self.index.add(codes)
        self.build_s = time.perf_counter() - started
        self.save_s = self.load_s = float("nan")
        del codes
        self.queries = np.load(folder / "queries.npy")
        self.note = f"IndexBinaryFlat, faiss {faiss.__version__}, {threads} threads"

    def search(self) -> Any:
        return self.index.range_search(self.queries, THRESHOLD + 1)

    @staticmethod
    def pairs(found: Any) -> npt.NDArray[np.int64]:
        limits, distances, positions = found
        rows = np.repeat(np.arange(len(limits) - 1), np.diff(limits.astype(np.int64)))
        return np.stack([rows, positions, distances]).T.astype(np.int64)


class Hma:
    def __init__(self, folder: Path, threads: int) -> None:
        from threatexchange.signal_type.pdq.signal import PdqSignal

        codes = np.load(folder / "codes.npy", mmap_mode="r")
        hashes = [bytes(code).hex() for code in codes]
        del codes
        index_class = PdqSignal.get_index_cls()
        started = time.perf_counter()
        self.index = index_class.build((value, row) for row, value in enumerate(hashes))
        self.build_s = time.perf_counter() - started
        self.save_s = self.load_s = float("nan")
        del hashes
        self.queries = [bytes(query).hex() for query in np.load(folder / "queries.npy")]
        self.note = f"threatexchange {index_class.__name__}, one query per call"

    def search(self) -> list[list[tuple[int, int]]]:
        return [
            [(int(match.metadata), int(match.similarity_info.distance)) for match in self.index.query(query)]
            for query in self.queries
        ]

    pairs = staticmethod(Himaya.pairs)


class HimayaPopcnt(Himaya):
    """Himaya's scalar POPCNT kernel: what a CPU without AVX-512 VPOPCNTDQ runs."""

    kernel = "popcnt"


ENGINES = {"himaya": Himaya, "himaya-popcnt": HimayaPopcnt, "faiss": Faiss, "hma": Hma}


def engine_process(name: str, folder: Path, threads: int, pipe: Connection) -> None:
    """Build the engine, then search each time the parent asks; send back timings and, once, the answer."""
    try:
        engine = ENGINES[name](folder, threads)
        pipe.send(("ready", engine.build_s, engine.save_s, engine.load_s, engine.note))
        while pipe.recv() == "search":
            started = time.perf_counter()
            found = engine.search()
            seconds = time.perf_counter() - started
            pipe.send((seconds, engine.pairs(found), peak_rss_mb()))
    except Exception as error:  # reported in the parent's table
        pipe.send(("error", f"{type(error).__name__}: {error}"))


class Engine:
    def __init__(self, name: str, folder: Path, threads: int) -> None:
        self.name = name
        self.pipe, child = multiprocessing.get_context("spawn").Pipe()
        self.process = multiprocessing.get_context("spawn").Process(
            target=engine_process, args=(name, folder, threads, child), daemon=True
        )
        self.process.start()
        self.error: str | None = None
        self.seconds: list[float] = []
        self.pairs: npt.NDArray[np.int64] | None = None
        self.peak_mb = 0.0
        self.build_s = self.save_s = self.load_s = float("nan")
        self.note = ""

    def wait_ready(self) -> None:
        reply = self.pipe.recv()
        if reply[0] == "error":
            self.error = reply[1]
        else:
            _, self.build_s, self.save_s, self.load_s, self.note = reply

    def search(self) -> None:
        if self.error:
            return
        self.pipe.send("search")
        reply = self.pipe.recv()
        if reply[0] == "error":
            self.error = reply[1]
            return
        seconds, pairs, self.peak_mb = reply
        self.seconds.append(seconds)
        if self.pairs is None:
            self.pairs = pairs

    def close(self) -> None:
        if self.process.is_alive() and not self.error:
            self.pipe.send("stop")
        self.process.join(timeout=60)


# -- comparison ---------------------------------------------------------------------------------------------


def as_set(pairs: npt.NDArray[np.int64]) -> set[tuple[int, int, int]]:
    return set(map(tuple, pairs.tolist()))


def planted_check(folder: Path, pairs: npt.NDArray[np.int64]) -> str:
    """Every query planted 0-31 bits from an entry finds it at that distance; none planted 32-40 does."""
    target, distance = np.load(folder / "target.npy"), np.load(folder / "distance.npy")
    found = {(q, i): d for q, i, d in pairs.tolist()}
    near = [
        (q, int(target[q]), int(distance[q])) for q in np.nonzero((target >= 0) & (distance <= THRESHOLD))[0]
    ]
    far = [(q, int(target[q])) for q in np.nonzero((target >= 0) & (distance > THRESHOLD))[0]]
    near_ok = sum(found.get((int(q), i)) == d for q, i, d in near)
    far_ok = sum((int(q), i) not in found for q, i in far)
    return (
        f"planted 0-31 found at the exact distance {near_ok}/{len(near)}; "
        f"planted 32-40 not found {far_ok}/{len(far)}"
    )


def compare(name: str, size: int, queries: int, engines: list[str], repeats: int, threads: int) -> None:
    folder = dataset(name, size, queries)
    running = []
    for engine_name in engines:  # one at a time, so that builds do not compete for the cores
        engine = Engine(engine_name, folder, threads)
        engine.wait_ready()
        running.append(engine)
        print(f"  {name} {size:,}: {engine.name} ready ({engine.error or engine.note})", file=sys.stderr)
    for repeat in range(repeats):
        order = running if repeat % 2 == 0 else running[::-1]  # alternate who goes first
        for engine in order:
            engine.search()
            if not engine.error:
                print(
                    f"  repeat {repeat + 1} {engine.name}: {queries / engine.seconds[-1]:,.0f} q/s",
                    file=sys.stderr,
                )
    for engine in running:
        engine.close()

    truth = next(engine for engine in running if engine.name == "faiss").pairs
    assert truth is not None, "faiss did not run"
    expected = as_set(truth)
    baseline = statistics.median(next(e for e in running if e.name == "faiss").seconds)
    print(
        f"\n{name}: {size:,} hashes, {queries:,} queries, threshold {THRESHOLD}, {threads} threads, "
        f"medians of {repeats}; {len(expected):,} pairs in faiss's answer\n"
    )
    print(
        "| engine | queries/s (median) | runs (q/s) | vs faiss | recall | extra | build s | save s | load s "
        "| peak RSS MB |"
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    notes = []
    for engine in running:
        if engine.error or engine.pairs is None:
            print(f"| {engine.name} | failed: {engine.error} | | | | | | | | |")
            continue
        got = as_set(engine.pairs)
        recall = len(got & expected) / len(expected) if expected else 1.0
        median = statistics.median(engine.seconds)
        runs = ", ".join(f"{queries / s:,.0f}" for s in engine.seconds)
        print(
            f"| {engine.name} | {queries / median:,.0f} | {runs} | {baseline / median:.1f}x "
            f"| {recall:.4%} | {len(got - expected)} | {engine.build_s:.2f} | {engine.save_s:.2f} "
            f"| {engine.load_s:.3f} | {engine.peak_mb:,.0f} |"
        )
        notes.append(f"{engine.name}: {engine.note}; {planted_check(folder, engine.pairs)}")
    print("\n" + "\n".join(notes))


def hma_installed() -> bool:
    try:
        import threatexchange.signal_type.pdq.signal  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size", type=int, default=10_000_000, help="hashes in the index (default 10,000,000)"
    )
    parser.add_argument("--queries", type=int, default=10_000, help="queries per search (default 10,000)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating repetitions (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="threads for Himaya and faiss (default 2)")
    parser.add_argument("--datasets", default="uniform,realistic", help="comma-separated: uniform,realistic")
    parser.add_argument(
        "--hma-size", type=int, default=1_000_000, help="hashes for the comparison with HMA's index (0: skip)"
    )
    parser.add_argument(
        "--popcnt", action="store_true", help="also time Himaya's scalar kernel (CPUs without AVX-512)"
    )
    args = parser.parse_args()
    datasets = [name for name in args.datasets.split(",") if name]
    if unknown := set(datasets) - {"uniform", "realistic"}:
        parser.error(f"unknown datasets {sorted(unknown)}")
    engines = ["himaya", "himaya-popcnt", "faiss"] if args.popcnt else ["himaya", "faiss"]
    for name in datasets:
        compare(name, args.size, args.queries, engines, args.repeats, args.threads)
    if args.hma_size:
        if not hma_installed():
            print("\npython-threatexchange is not installed (`make bench-deps`): HMA's index not compared")
        else:
            for name in datasets:
                compare(
                    name, args.hma_size, args.queries, ["himaya", "faiss", "hma"], args.repeats, args.threads
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
