"""Scanning disk images: Himaya against plaso's log2timeline on an E01, and an ext4 image against a folder.

    make bench-deps      # plaso 20260720 in its own venv, bench/out/.venv-plaso
    .venv/bin/python bench/bench_disk.py [--repeats 3] [--workers 2] [--no-folder]

The corpus (bench/make_disk_corpus.py, built once into bench/out/disk-corpus-PHOTOS-DOCUMENTS/ and reused)
is a benign synthetic ext4 volume holding 1.43 GB: 300 12-MP camera JPEGs with EXIF, 200 messenger JPEGs,
60 PNG screenshots, 1,200 documents (text, CSV, HTML, logs, PDFs, DOCX) in a user's home; disk.raw is the raw
file system (mke2fs -d, no partition table), disk.E01 its `ewfacquire -u -c deflate:fast` image.

(1) E01, REPEATS alternating runs of each, every run a fresh process and a fresh store:
  Himaya:  himaya scan CASE disk.E01 --workers W --quiet   (fresh HIMAYA_HOME; the key file outside it):
           digests, file type, archives opened, PDQ, EXIF, thumbnails: the default scan;
  plaso:   log2timeline --parsers filestat --hashers md5,sha1,sha256 --workers W --partitions all
           --volumes all --vss_stores none --unattended --status_view none --storage_file NEW.plaso disk.E01.
  Both read the same E01 from the page cache (it is read once before the first run). What each did is
  counted from its own output (Himaya's store; plaso's storage file: the data streams it hashed) and the
  SHA-256 values of both are checked against the files' own.

(2) Reading every file of the raw ext4 image, warm cache (the image and the folder are read once first, and
    the baseline runs once untimed; --warm-runs runs every contender once untimed):
  baseline: os.walk over the same files as a folder (the tree the image was made from) + hashlib
            md5/sha1/sha256 in 1 MiB reads, one process (this one: no start-up cost);
  Himaya:   himaya scan CASE disk.raw --workers W --quiet: the whole default scan (Himaya has no
            digests-only setting; --himaya-args adds options to every Himaya run), and the same command
            on the folder, which shows what reading through the image costs (--no-folder leaves it out).

plaso runs twice over: as `pip install plaso` gives it (PyPI's pyewf inflates E01 chunks bit by bit, ~20x
slower) and, in bench/out/.venv-plaso-zlib, with pyewf rebuilt with zlib as Himaya's `make setup` builds it:
the like-for-like row. The header line says which pyewf each venv has. About 12 minutes on the 2-core
development machine, a third of it the stock plaso's runs (the corpus, once: about 15 more).

Himaya's disk-image rows need its disk-image support (`himaya evidence info --help` works). Without it,
--himaya-on folder times Himaya on the folder in place of the E01 (labelled so) to check the script.
Prints markdown rows for docs/performance.md; the raw figures go to bench/out/bench_disk-*.json.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
HIMAYA = ROOT / ".venv" / "bin" / "himaya"
PLASO = OUT / ".venv-plaso" / "bin"  # bench-deps puts it here, git-ignored
# The same plaso with the pyewf that Himaya's `make setup` builds (zlib inflate; PyPI's wheel inflates bit by
# bit, ~20x slower on a compressed E01): the like-for-like comparison. bench-deps builds it too.
PLASO_ZLIB = OUT / ".venv-plaso-zlib" / "bin"
CHUNK = 1024 * 1024


# Contenders -------------------------------------------------------------------------------------------


def himaya_has_images() -> bool:
    return (
        subprocess.run(
            [str(HIMAYA), "evidence", "info", "--help"], capture_output=True, check=False
        ).returncode
        == 0
    )


def himaya_scan(source: Path, workers: int, keys: Path, extra: list[str]) -> tuple[float, dict[str, object]]:
    """One `himaya scan` into a fresh home; wall seconds of the scan command and what the store holds."""
    with tempfile.TemporaryDirectory(prefix="himaya-bench-disk-", dir=OUT) as tmp:
        env = dict(os.environ, HIMAYA_HOME=str(Path(tmp) / "home"), HIMAYA_KEY_FILE=str(keys))
        subprocess.run(
            [str(HIMAYA), "case", "create", "BENCH-DISK", "--title", "TEST benchmark"],
            env=env,
            check=True,
            capture_output=True,
        )
        command = [str(HIMAYA), "scan", "BENCH-DISK", str(source), "--workers", str(workers), "--quiet"]
        command += extra
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        check(command, done)
        with sqlite3.connect(f"file:{Path(tmp) / 'home' / 'himaya.db'}?mode=ro", uri=True) as db:
            top = db.execute("SELECT sha256 FROM files WHERE depth = 0 AND sha256 IS NOT NULL").fetchall()
            facts = {
                "files": db.execute("SELECT count(*) FROM files WHERE depth = 0").fetchone()[0],
                "members": db.execute("SELECT count(*) FROM files WHERE depth > 0").fetchone()[0],
                "hashed": len(top),
                "bytes": db.execute("SELECT coalesce(sum(size), 0) FROM files WHERE depth = 0").fetchone()[0],
                "statuses": dict(db.execute("SELECT status, count(*) FROM files GROUP BY status").fetchall()),
                "pdq": db.execute("SELECT count(*) FROM media_facts WHERE pdq IS NOT NULL").fetchone()[0],
                "exif": db.execute("SELECT count(*) FROM media_facts WHERE exif_make IS NOT NULL").fetchone()[
                    0
                ],
                "thumbnails": db.execute(
                    "SELECT count(*) FROM media_facts WHERE thumbnail_blob IS NOT NULL"
                ).fetchone()[0],
                "sha256": collections.Counter(row[0] for row in top),
                "summary": (done.stdout + done.stderr).strip().replace("\n", " "),
            }
        db.close()
        return seconds, facts


def plaso_command(image: Path, workers: int, tmp: Path, bin_dir: Path = PLASO) -> list[str]:
    return [
        str(bin_dir / "log2timeline"),
        "--quiet", "--status_view", "none", "--unattended", "--no_dependencies_check",
        "--parsers", "filestat", "--hashers", "md5,sha1,sha256", "--hasher_file_size_limit", "0",
        "--partitions", "all", "--volumes", "all", "--vss_stores", "none",
        "--workers", str(workers), "--temporary_directory", str(tmp),
        "--logfile", str(tmp / "log2timeline.log.gz"), "--storage_file", str(tmp / "out.plaso"),
        str(image),
    ]  # fmt: skip


def plaso_scan(image: Path, workers: int, bin_dir: Path = PLASO) -> tuple[float, dict[str, object]]:
    """One log2timeline run into a new storage file; wall seconds and what the storage file holds."""
    with tempfile.TemporaryDirectory(prefix="plaso-bench-disk-", dir=OUT) as name:
        tmp = Path(name)
        command = plaso_command(image, workers, tmp, bin_dir)
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        check(command, done)
        with sqlite3.connect(f"file:{tmp / 'out.plaso'}?mode=ro", uri=True) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            streams = db.execute("SELECT md5_hash, sha1_hash, sha256_hash FROM event_data_stream").fetchall()
            warnings = sum(
                db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("extraction_warning", "recovery_warning", "timelining_warning")
                if table in tables
            )
            facts = {
                "files": len(streams),
                "hashed": sum(all(row) for row in streams),
                "events": db.execute("SELECT count(*) FROM event").fetchone()[0],
                "event_sources": db.execute("SELECT count(*) FROM event_source").fetchone()[0],
                "warnings": warnings,
                "sha256": collections.Counter(row[2] for row in streams if row[2]),
            }
        db.close()
        return seconds, facts


def walk_and_hash(root: Path) -> tuple[float, dict[str, object]]:
    """The baseline: os.walk + hashlib md5/sha1/sha256 of every file, in this process."""
    sha256s: collections.Counter[str] = collections.Counter()
    total = files = 0
    started = time.perf_counter()
    for folder, _dirs, names in os.walk(root):
        for name in names:
            md5, sha1, sha256 = hashlib.md5(), hashlib.sha1(), hashlib.sha256()
            with open(os.path.join(folder, name), "rb", buffering=0) as stream:
                while chunk := stream.read(CHUNK):
                    md5.update(chunk)
                    sha1.update(chunk)
                    sha256.update(chunk)
                    total += len(chunk)
            md5.hexdigest()
            sha1.hexdigest()
            sha256s[sha256.hexdigest()] += 1
            files += 1
    seconds = time.perf_counter() - started
    return seconds, {"files": files, "hashed": files, "bytes": total, "sha256": sha256s}


def himaya_read_and_hash(image: Path) -> tuple[float, dict[str, object]]:
    """Like for like with `walk_and_hash`: Himaya's disk source lists the image's file system, opens every
    file through its stored path spec, and feeds the scan's digest analyzer (md5+sha1+sha256 in one pass,
    on one thread as the baseline), in this process: the reading half of a scan, without the pictures."""
    sys.path.insert(0, str(ROOT / "src"))
    from himaya.analyzers.digests import MultiHasher
    from himaya.sources.disk.layers import inspect
    from himaya.sources.disk.source import disk_entries

    sha256s: collections.Counter[str] = collections.Counter()
    total = files = 0
    started = time.perf_counter()
    for entry in disk_entries(inspect(image, image.name)):
        if entry.open is None:
            continue
        hasher = MultiHasher(parallel=False)
        with entry.open() as stream:
            while chunk := stream.read(CHUNK):
                hasher.update(chunk)
                total += len(chunk)
        sha256s[hasher.hexdigests()[2]] += 1
        files += 1
    seconds = time.perf_counter() - started
    return seconds, {"files": files, "hashed": files, "bytes": total, "sha256": sha256s}


# Running ----------------------------------------------------------------------------------------------


def warm(paths: list[Path]) -> None:
    """Read files once so that every contender finds them in the page cache."""
    for path in paths:
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            with file.open("rb", buffering=0) as stream:
                while stream.read(16 * CHUNK):
                    pass


def alternate(
    contenders: dict[str, Callable[[], tuple[float, dict[str, object]]]],
    repeats: int,
    reference: collections.Counter[str],
    warm_up: list[str],
) -> tuple[dict[str, list[float]], dict[str, dict[str, object]]]:
    """REPEATS rounds, the order rotated each round, after an untimed run of those in WARM_UP; returns
    the seconds and the facts of each contender's first run."""
    names = list(contenders)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    facts: dict[str, dict[str, object]] = {}
    for name in warm_up:
        if name in contenders:
            took, facts[name] = contenders[name]()
            print(f"warm-up {name}: {took:.1f} s", file=sys.stderr)
    for repeat in range(repeats):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]
        for name in order:
            took, found = contenders[name]()
            seconds[name].append(took)
            facts.setdefault(name, found)
            print(f"repeat {repeat + 1} {name}: {took:.1f} s {describe(found)}", file=sys.stderr)
    for name, found in facts.items():
        same = found["sha256"] == reference
        found["sha256_agree"] = same
        if not same:
            missing = sum((reference - found["sha256"]).values())  # type: ignore[operator]
            extra = sum((found["sha256"] - reference).values())  # type: ignore[operator]
            print(f"!! {name}: SHA-256 values differ: {missing} missing, {extra} extra", file=sys.stderr)
    return seconds, facts


def describe(found: dict[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in found.items() if k not in ("sha256", "summary"))


def pyewf_zlib(python: Path) -> bool:
    """Whether this venv's pyewf inflates E01 chunks with zlib (PyPI's wheels do it bit by bit)."""
    code = "import pyewf, sys; sys.exit(0 if b'libz.so' in open(pyewf.__file__, 'rb').read() else 1)"
    return python.exists() and subprocess.run([str(python), "-c", code], check=False).returncode == 0


def version(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return (done.stdout + done.stderr).strip().splitlines()[-1] if done.returncode == 0 else "?"


def row(name: str, runs: list[float], reference: float, what: str, extra: str = "") -> str:
    median = statistics.median(runs)
    text = ", ".join(f"{run:.1f}" for run in runs)
    cells = [name, f"{median:.1f}", text, *([extra] if extra else []), what, f"{reference / median:.2f}x"]
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="Himaya's and plaso's worker processes")
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--documents", type=int, default=1200)
    parser.add_argument(
        "--himaya-on",
        choices=("image", "folder"),
        default="image",
        help="'folder' times Himaya on the extracted folder where the E01/raw would be (script check)",
    )
    parser.add_argument("--himaya-args", default="", help="extra options for every `himaya scan`")
    parser.add_argument(
        "--skip", choices=("e01", "raw"), action="append", default=[], help="leave a part out"
    )
    parser.add_argument(
        "--no-folder", action="store_true", help="(2): do not time Himaya on the folder (a reference)"
    )
    parser.add_argument(
        "--warm-runs",
        action="store_true",
        help="(2): run every contender once untimed first (default: only os.walk; the image and the "
        "folder are read once, which is what warms the page cache for Himaya's fresh processes)",
    )
    args = parser.parse_args()

    sys.path.insert(0, str(HERE))
    from make_disk_corpus import build

    if not (PLASO / "log2timeline").exists() and "e01" not in args.skip:
        print("plaso is missing: run `make bench-deps` (or --skip e01)", file=sys.stderr)
        return 2
    landed = himaya_has_images()
    if args.himaya_on == "image" and not landed:
        print(
            "this Himaya cannot read disk images yet (`himaya evidence info --help` fails): "
            "use --himaya-on folder to check the script on the folder form",
            file=sys.stderr,
        )
        return 2

    started = time.monotonic()
    corpus = build(args.photos, args.documents)
    raw, e01 = Path(str(corpus["raw"])), Path(str(corpus["e01"]))
    folder = raw.parent / "files"
    segments = [e01.parent / name for name in corpus["e01_segments"]]  # type: ignore[union-attr]
    print(f"corpus ready ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    himaya_args = args.himaya_args.split()
    himaya_version = version([str(HIMAYA), "--version"])
    plaso_version = version([str(PLASO / "log2timeline"), "--version"]) if "e01" not in args.skip else "-"
    zlib = {
        name: pyewf_zlib(python)
        for name, python in (
            ("Himaya", HIMAYA.parent / "python"),
            ("plaso", PLASO / "python"),
            ("plaso-zlib", PLASO_ZLIB / "python"),
        )
    }
    if not (zlib["Himaya"] and zlib["plaso-zlib"]):
        print(f"!! a pyewf that should have zlib has not: {zlib}; `make setup bench-deps`", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="himaya-bench-keys-") as keys_dir:
        keys = Path(keys_dir) / "blob.key"  # outside every home, as the Makefile's demo keeps it
        _, reference_facts = walk_and_hash(folder)  # the files' own digests, and a first warming read
        reference: collections.Counter[str] = reference_facts["sha256"]  # type: ignore[assignment]
        results: dict[str, object] = {
            "corpus": {k: v for k, v in corpus.items() if k != "by_extension"},
            "himaya": himaya_version,
            "plaso": plaso_version,
            "workers": args.workers,
            "himaya_args": himaya_args,
            "pyewf_zlib": zlib,
        }
        image_label = "E01" if args.himaya_on == "image" else "folder (E01 support not there)"

        if "e01" not in args.skip:
            warm(segments)
            e01_source = e01 if args.himaya_on == "image" else folder
            e01_contenders: dict[str, Callable[[], tuple[float, dict[str, object]]]] = {
                "plaso": lambda: plaso_scan(e01, args.workers),
                "himaya": lambda: himaya_scan(e01_source, args.workers, keys, himaya_args),
            }
            if (PLASO_ZLIB / "log2timeline").exists():
                e01_contenders["plaso-zlib"] = lambda: plaso_scan(e01, args.workers, PLASO_ZLIB)
            # Without the E01's verification (a second full read and decompression of the image, which
            # plaso does not do): the scan's own work per file, like for like with plaso.
            e01_contenders["himaya-no-verify"] = lambda: himaya_scan(
                e01_source, args.workers, keys, [*himaya_args, "--no-verify"]
            )
            e01_seconds, e01_facts = alternate(e01_contenders, args.repeats, reference, warm_up=[])
            results["e01"] = {"seconds": e01_seconds, "facts": strip(e01_facts)}

        if "raw" not in args.skip:
            warm([raw, folder])
            raw_source = raw if args.himaya_on == "image" else folder
            raw_contenders: dict[str, Callable[[], tuple[float, dict[str, object]]]] = {
                "walk": lambda: walk_and_hash(folder),
                "himaya-read": lambda: himaya_read_and_hash(raw),
                "himaya-raw": lambda: himaya_scan(raw_source, args.workers, keys, himaya_args),
                "himaya-folder": lambda: himaya_scan(folder, args.workers, keys, himaya_args),
            }
            if args.no_folder:
                del raw_contenders["himaya-folder"]
            warm_up = list(raw_contenders) if args.warm_runs else ["walk"]
            raw_seconds, raw_facts = alternate(raw_contenders, args.repeats, reference, warm_up=warm_up)
            results["raw"] = {"seconds": raw_seconds, "facts": strip(raw_facts)}

    stamp = time.strftime("%Y%m%dT%H%M%S")
    (OUT / f"bench_disk-{stamp}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")

    files, size = int(corpus["files"]), int(corpus["bytes"])  # type: ignore[call-overload]
    raw_gb, e01_gb = int(corpus["raw_bytes"]) / 1e9, int(corpus["e01_bytes"]) / 1e9  # type: ignore[call-overload]
    print(
        f"\nCorpus: {files:,} files, {size / 1e9:.2f} GB in an ext4 volume of {raw_gb:.2f} GB (disk.raw); "
        f"E01 {e01_gb:.2f} GB in {len(segments)} segment(s), deflate fast. "
        f"{args.workers} workers each, medians of {args.repeats} alternating runs. {himaya_version}; "
        f"{plaso_version}. Himaya options: {' '.join(himaya_args) or '(defaults)'}. pyewf with zlib: "
        + ", ".join(f"{name} {yes(value)}" for name, value in zlib.items())
        + ".\n"
    )
    if "e01" not in args.skip:
        plaso_facts, himaya_facts = e01_facts["plaso"], e01_facts["himaya"]
        plaso_median = statistics.median(e01_seconds["plaso"])
        print("| contender | wall s (median) | runs | what it did | vs plaso |")
        print("| --- | ---: | --- | --- | ---: |")
        print(
            row(
                f"plaso {plaso_version.split()[-1]} `log2timeline --parsers filestat "
                f"--hashers md5,sha1,sha256 --workers {args.workers}`",
                e01_seconds["plaso"],
                plaso_median,
                f"{plaso_facts['hashed']:,} files hashed (md5+sha1+sha256), {plaso_facts['events']:,} "
                f"timestamp events, {plaso_facts['warnings']} warnings; SHA-256 agree: "
                f"{yes(plaso_facts['sha256_agree'])}",
            )
        )
        if "plaso-zlib" in e01_seconds:
            zlib_facts = e01_facts["plaso-zlib"]
            print(
                row(
                    "the same plaso with pyewf rebuilt with zlib (as Himaya's setup builds it)",
                    e01_seconds["plaso-zlib"],
                    plaso_median,
                    f"{zlib_facts['hashed']:,} files hashed; SHA-256 agree: "
                    f"{yes(zlib_facts['sha256_agree'])}",
                )
            )
        print(
            row(
                f"Himaya `scan --workers {args.workers}` on the {image_label}",
                e01_seconds["himaya"],
                plaso_median,
                himaya_what(himaya_facts),
            )
        )
        print(
            row(
                f"Himaya `scan --workers {args.workers} --no-verify` on the {image_label}",
                e01_seconds["himaya-no-verify"],
                plaso_median,
                himaya_what(e01_facts["himaya-no-verify"]) + "; no E01 verification",
            )
        )
        ratio = plaso_median / statistics.median(e01_seconds["himaya"])
        print(f"\nE01: Himaya {ratio:.2f}x plaso's speed (target >= 2x)")
        if "plaso-zlib" in e01_seconds:
            fair = statistics.median(e01_seconds["plaso-zlib"]) / statistics.median(e01_seconds["himaya"])
            print(f"E01: Himaya {fair:.2f}x the speed of plaso with the same zlib pyewf\n")
    if "raw" not in args.skip:
        walk_median = statistics.median(raw_seconds["walk"])
        print("| contender | wall s (median) | runs | MB/s | what it did | vs os.walk |")
        print("| --- | ---: | --- | ---: | --- | ---: |")
        labels = {
            "walk": "os.walk + hashlib md5/sha1/sha256 over the files as a folder, one process",
            "himaya-read": "Himaya's disk source on the raw ext4 image (TSK walk, path specs) + its digest "
            "analyzer, one process, one thread",
            "himaya-raw": f"Himaya `scan --workers {args.workers}` on the raw ext4 image"
            + ("" if args.himaya_on == "image" else " (the folder: image support not there)"),
            "himaya-folder": f"Himaya `scan --workers {args.workers}` on the same files as a folder",
        }
        for name, label in labels.items():
            if name not in raw_facts:
                continue
            found = raw_facts[name]
            what = (
                f"{found['files']:,} files hashed; SHA-256 agree: {yes(found['sha256_agree'])}"
                if name in ("walk", "himaya-read")
                else himaya_what(found)
            )
            rate = f"{size / 1e6 / statistics.median(raw_seconds[name]):.0f}"
            print(row(label, raw_seconds[name], walk_median, what, extra=rate))
        ratio = walk_median / statistics.median(raw_seconds["himaya-read"])
        print(f"\nraw ext4, reading + digests: Himaya {ratio:.2f}x the os.walk baseline (target >= 0.8x)")
    print(f"\ntotal {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0


def check(command: list[str], done: subprocess.CompletedProcess[str]) -> None:
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def himaya_what(found: dict[str, object]) -> str:
    statuses = found["statuses"]
    return (
        f"{found['hashed']:,} files hashed (md5+sha1+sha256) + {found['members']:,} archive members, "
        f"{found['pdq']:,} PDQ, {found['exif']:,} EXIF, {found['thumbnails']:,} thumbnails; statuses "
        f"{statuses}; SHA-256 agree: {yes(found['sha256_agree'])}"
    )


def yes(value: object) -> str:
    return "yes" if value else "**no**"


def strip(facts: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    return {name: {k: v for k, v in found.items() if k != "sha256"} for name, found in facts.items()}


if __name__ == "__main__":
    sys.exit(main())
