"""Hash-set import at list scale: a first version, then a monthly update, on the embedded store (SQLite).

    .venv/bin/python bench/bench_import.py [--entries 1000000] [--format plain|vics|both] [--change 0.01]

Writes synthetic TEST lists into bench/out/import-N/ (MD5 values of generated text, never of pictures):
version 1 with ENTRIES hashes, and version 2 in which CHANGE of them are withdrawn, as many new ones are
added and as many re-labelled. Each import runs in a fresh process into a fresh home, so the peak
memory (VmHWM) is the import's own. Prints seconds, entries/s and peak RSS for both versions, and the
added / changed / removed counts the importer recorded (they must equal what was planted).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).parent / "out"

_IMPORT = """
import json, re, sys, time
from pathlib import Path
from himaya.hashsets.importer import import_hash_set
from himaya.store.db import open_store
store = open_store(Path(sys.argv[1]))
results = []
for path in sys.argv[2:]:
    started = time.perf_counter()
    summary = import_hash_set(store, Path(path), name="TEST-bench")
    seconds = time.perf_counter() - started
    results.append({"seconds": seconds, "entries": summary.entry_count, "added": summary.added,
                    "changed": summary.changed, "removed": summary.removed})
peak = int(re.search(r"VmHWM:\\s*(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
print(json.dumps({"versions": results, "peak_mib": peak / 1024}))
"""


def md5(n: int) -> str:
    return hashlib.md5(f"TEST bench entry {n}".encode()).hexdigest()


def versions(entries: int, change: float) -> tuple[list[tuple[int, str]], list[tuple[int, str]], int]:
    """(number, category) rows of version 1 and 2; `changed` rows are withdrawn, added and re-labelled."""
    changed = int(entries * change)
    first = [(n, str(n % 5)) for n in range(entries)]
    kept = first[changed:]
    relabelled = [(n, str((int(c) + 1) % 5)) if i < changed else (n, c) for i, (n, c) in enumerate(kept)]
    second = relabelled + [(entries + n, "1") for n in range(changed)]
    return first, second, changed


def write_plain(path: Path, rows: list[tuple[int, str]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("md5,category\n")
        for n, category in rows:
            out.write(f"{md5(n)},{category}\n")


def write_vics(path: Path, rows: list[tuple[int, str]]) -> None:
    context = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"
    with path.open("w", encoding="utf-8") as out:
        out.write(f'{{"@odata.context": "{context}", "value": [\n')
        for i, (n, category) in enumerate(rows):
            item = {"MediaID": n, "Category": int(category), "MD5": md5(n).upper(), "Series": "TEST series"}
            out.write(("," if i else "") + json.dumps(item) + "\n")
        out.write("]}\n")


def run(fmt: str, entries: int, change: float) -> None:
    folder = OUT / f"import-{entries}"
    folder.mkdir(parents=True, exist_ok=True)
    first, second, changed = versions(entries, change)
    suffix = "json" if fmt == "vics" else "csv"
    paths = [folder / f"TEST-v1.{suffix}", folder / f"TEST-v2.{suffix}"]
    for path, rows in zip(paths, (first, second), strict=True):
        if not path.exists():
            (write_vics if fmt == "vics" else write_plain)(path, rows)
    with tempfile.TemporaryDirectory(dir=OUT) as home:
        result = subprocess.run(
            [sys.executable, "-c", _IMPORT, home, *map(str, paths)],
            check=True,
            capture_output=True,
            text=True,
        )
    report = json.loads(result.stdout.splitlines()[-1])
    print(
        f"\n{fmt}: {entries:,} entries, {changed:,} withdrawn + {changed:,} added + {changed:,} re-labelled"
    )
    print("| version | file MB | seconds | entries/s | added | changed | removed |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for number, (path, row) in enumerate(zip(paths, report["versions"], strict=True), start=1):
        rate = row["entries"] / row["seconds"]
        print(
            f"| {number} | {path.stat().st_size / 1e6:.0f} | {row['seconds']:.1f} | {rate:,.0f} | "
            f"{row['added']:,} | {row['changed']:,} | {row['removed']:,} |"
        )
    print(f"peak RSS (both imports, one process): {report['peak_mib']:.0f} MiB")
    second_row = report["versions"][1]
    assert (second_row["added"], second_row["changed"], second_row["removed"]) == (changed, changed, changed)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("plain", "vics", "both"), default="both")
    parser.add_argument("--change", type=float, default=0.01)
    args = parser.parse_args()
    for fmt in ("plain", "vics") if args.format == "both" else (args.format,):
        run(fmt, args.entries, args.change)


if __name__ == "__main__":
    main()
