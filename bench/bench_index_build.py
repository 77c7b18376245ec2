"""A hash set's PDQ index built from the store, the first time a scan needs it, and loaded after that.

    .venv/bin/python bench/bench_index_build.py [--entries 10000000]

Writes a TEST list of ENTRIES random PDQ hashes (bench/out/index-build-N/), imports it into a fresh
embedded store, then times `load_active` twice: the first call reads the entries from the store, builds
the index and saves it beside the store; the second maps the saved file. Prints seconds and the peak RSS.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import time
from pathlib import Path

from himaya.hashsets.importer import import_hash_set
from himaya.matching.active import load_active
from himaya.store.db import open_store

OUT = Path(__file__).parent / "out"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=10_000_000)
    args = parser.parse_args()
    folder = OUT / f"index-build-{args.entries}"
    folder.mkdir(parents=True, exist_ok=True)
    listing = folder / "TEST-pdq.csv"
    if not listing.exists():
        rng = random.Random(1)
        with listing.open("w", encoding="utf-8") as out:
            out.write("pdq,category\n")
            for _ in range(args.entries):
                out.write(f"{rng.getrandbits(256):064x},1\n")
    home = folder / "home"
    shutil.rmtree(home, ignore_errors=True)
    store = open_store(home)
    started = time.perf_counter()
    import_hash_set(store, listing, name="TEST-pdq")
    print(f"import of {args.entries:,} PDQ hashes: {time.perf_counter() - started:.1f} s")
    for label in ("first load: built from the store and saved", "second load: the saved file, mapped"):
        with store.session() as session:
            started = time.perf_counter()
            active = load_active(session, store.index_dir)
            seconds = time.perf_counter() - started
        print(f"{label}: {seconds:.2f} s ({len(active.pdq[0].index):,} entries)")
    peak = int(re.search(r"VmHWM:\s*(\d+) kB", Path("/proc/self/status").read_text()).group(1))
    print(f"peak RSS of the whole run: {peak / 1024:.0f} MiB")
    store.close()
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
