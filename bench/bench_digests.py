"""MB/s of Himaya's streamed MD5+SHA-1+SHA-256 against hashdeep on the same large files.

    .venv/bin/python bench/bench_digests.py [--files 4] [--size-mb 150] [--repeats 3]

Writes FILES files of random bytes to a temporary folder (removed afterwards), reads each once so that
every contender hashes from the page cache (dropping caches needs root and a quiet machine), then
times alternately, REPEATS times:

  hash_stream (default: helper threads when the process may use more than one CPU),
  hash_stream(parallel=False), the one-thread baseline,
  hashdeep -c md5,sha1,sha256 -r FOLDER (its default: one thread per CPU, one file per thread),
  hashdeep -j1 (one thread), for reference.

Needs hashdeep (Debian: apt-get install hashdeep); without it only Himaya's figures are printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from himaya.analyzers.digests import DEFAULT_CHUNK_SIZE, hash_stream


def write_random(path: Path, size: int) -> None:
    block = 16 * 1024 * 1024
    with path.open("wb") as out:
        for start in range(0, size, block):
            out.write(os.urandom(min(block, size - start)))


def himaya(paths: list[Path], parallel: bool | None, chunk_size: int) -> dict[str, tuple[str, str, str]]:
    found = {}
    for path in paths:
        with path.open("rb", buffering=0) as stream:
            result = hash_stream(stream, chunk_size, parallel=parallel)
        found[path.name] = (result.md5, result.sha1, result.sha256)
    return found


def hashdeep(folder: Path, extra: list[str]) -> dict[str, tuple[str, str, str]]:
    output = subprocess.run(
        ["hashdeep", *extra, "-c", "md5,sha1,sha256", "-r", str(folder)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = {}
    for line in output.splitlines():
        if line.startswith(("%", "#")) or not line.strip():
            continue
        _size, md5, sha1, sha256, name = line.split(",", 4)
        found[Path(name).name] = (md5, sha1, sha256)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--size-mb", type=int, default=150, help="size of each file in MB (10^6 bytes)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)
    args = parser.parse_args()
    have_hashdeep = shutil.which("hashdeep") is not None
    if not have_hashdeep:
        print("hashdeep not found (apt-get install hashdeep): timing Himaya only", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="himaya-bench-digests-") as name:
        folder = Path(name)
        paths = [folder / f"blob{i}.bin" for i in range(args.files)]
        for path in paths:
            write_random(path, args.size_mb * 1_000_000)
        total_mb = sum(path.stat().st_size for path in paths) / 1e6
        for path in paths:  # warm the page cache
            with path.open("rb") as stream:
                while stream.read(16 * 1024 * 1024):
                    pass

        contenders: dict[str, Callable[[], dict[str, tuple[str, str, str]]]] = {
            "Himaya hash_stream (auto threads)": lambda: himaya(paths, None, args.chunk_size),
            "Himaya hash_stream(parallel=False)": lambda: himaya(paths, False, args.chunk_size),
        }
        if have_hashdeep:
            contenders["hashdeep -c md5,sha1,sha256 -r"] = lambda: hashdeep(folder, [])
            contenders["hashdeep -j1 -c md5,sha1,sha256 -r"] = lambda: hashdeep(folder, ["-j1"])

        names = list(contenders)
        results = {name: contenders[name]() for name in names}  # also a check that all agree
        if any(found != results[names[0]] for found in results.values()):
            print("contenders disagree on the digests!", file=sys.stderr)
            return 1

        rates: dict[str, list[float]] = {name: [] for name in names}
        for repeat in range(args.repeats):
            order = names[repeat % len(names) :] + names[: repeat % len(names)]
            for name in order:
                started = time.perf_counter()
                contenders[name]()
                rates[name].append(total_mb / (time.perf_counter() - started))

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"\n{args.files} files x {args.size_mb} MB = {total_mb:.0f} MB from the page cache, {cpus} CPUs, "
        f"chunk {args.chunk_size // 1024} KiB, {args.repeats} alternating repetitions; digests agree\n"
    )
    reference = "hashdeep -c md5,sha1,sha256 -r" if have_hashdeep else names[1]
    baseline = statistics.median(rates[reference])
    print(f"| contender | MB/s (median) | runs | vs {reference} |")
    print("| --- | ---: | --- | ---: |")
    for name in names:
        median = statistics.median(rates[name])
        runs = ", ".join(f"{rate:.0f}" for rate in rates[name])
        print(f"| {name} | {median:.0f} | {runs} | {median / baseline:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
