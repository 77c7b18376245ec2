"""Attribution (issue 7): import and link 1,000,000 IP events from logs, <= 60 s on this machine.

    .venv/bin/python bench/bench_tips.py [--events 100000,1000000] [--database sqlite|postgresql|both]
        [--repeats 3] [--repeats-1m 1] [--profile-events 100000] [--no-profile] [--regenerate]

Data (benign, TEST, generated once per size and cached under bench/out/tips-data-<events>/): EVENTS log
lines in two files, 60 % an access log (combined format, +0300 / +0200 offsets, 10 % POST uploads, CGNAT
clients with %{remote}p, IPv6 clients as [addr]:port) and 40 % an upload CSV (ISO times with offsets,
account, file name, md5, sha256); 5 % of the CSV rows record an access-log upload again (same address,
port, instant and account), so the summary has events to merge. ~20,000 distinct addresses from the
documentation ranges, 100.64.0.0/10 (CGNAT) and 2001:db8::/32; 2,000 accounts; 50,000 distinct files of
which 10,000 md5s are in a TEST alert hash set (a plain list imported with `import_hash_set`); a TEST .mmdb
(tests/builders/mmdb.py) covers every range.

Phases, each a median of the repeats (--repeats below 1,000,000 events, --repeats-1m from there):
  read     `read_tips` of both files (parse only, nothing stored);
  import   `import_tips` into a fresh home (parse + store) -- the case and hash set are made beforehand;
  summary  `summary(session, case_id, ipdb, "JO")` (the link: merge, hash matching, persons, ISP per
           address) and its JSON as the CLI writes it (`summary.to_json`: one line per item); the
           json.dumps(indent=2) the CLI wrote before is timed beside it as the baseline;
  total    import + summary, the issue's figure.
Every size runs in its own spawned process, so its peak RSS (ru_maxrss after each phase) is its own.
Then one PROFILE_EVENTS run under cProfile: the import and the summary (with JSON), top 20 cumulative.

SQLite in a fresh temporary home (HIMAYA_HOME, HIMAYA_KEY_FILE); --database postgresql uses
postgresql://postgres@127.0.0.1:5432/test ($HIMAYA_BENCH_POSTGRES) with a throw-away schema per repeat,
reached through $HIMAYA_DATABASE_URL. Writes bench/out/tips-<database>-<events>-<date>.json (after every
size, so a long run leaves what it measured) with every figure and the command.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import multiprocessing
import os
import platform
import pstats
import random
import resource
import secrets
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))  # tests.builders, for the TEST .mmdb

from himaya.attribution.detect import read_tips  # noqa: E402
from himaya.attribution.importer import import_tips  # noqa: E402
from himaya.attribution.summary import summary, to_json  # noqa: E402
from himaya.cases import create_case  # noqa: E402
from himaya.hashsets.importer import import_hash_set  # noqa: E402
from himaya.online.hosting import IpDatabase  # noqa: E402
from himaya.store.db import Store, open_store  # noqa: E402

OUT = ROOT / "bench" / "out"
POSTGRES = os.environ.get("HIMAYA_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
TARGET_S = 60.0
CASE = "TEST-tips-bench"
ACTOR = "bench"
UNIT_COUNTRY = "JO"
GENERATOR = "3"  # bump when the data changes, so cached files are made again
ACCESS_SHARE = 0.6
DUPLICATE_SHARE = 0.05
DISTINCT_IPS = 20_000
ACCOUNTS = 2_000
FILES = 50_000
KNOWN_FILES = 10_000
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
AGENT = '"https://www.example.org/start" "Mozilla/5.0 (TEST benign agent)"'
MMDB_RECORDS: tuple[tuple[str, dict[str, Any]], ...] = tuple(
    (
        network,
        {"autonomous_system_number": asn, "autonomous_system_organization": org, "country": {"iso_code": cc}},
    )
    for network, asn, org, cc in (
        ("192.0.2.0/24", 64513, "TEST Offshore Hosting", "NL"),
        ("198.51.100.0/24", 64520, "TEST Home Broadband", "JO"),
        ("203.0.113.0/24", 64521, "TEST Fibre Subscribers", "JO"),
        ("100.64.0.0/10", 64522, "TEST Mobile (carrier-grade NAT)", "JO"),
        ("2001:db8::/32", 64514, "TEST IPv6 Broadband", "DE"),
    )
)


# ------------------------------------------------------------------------------------------ data


def _md5(k: int) -> str:
    return hashlib.md5(f"TEST benign bench file {k}".encode()).hexdigest()


def _sha256(k: int) -> str:
    return hashlib.sha256(f"TEST benign bench file {k}".encode()).hexdigest()


def _addresses(rng: random.Random) -> list[tuple[str, str]]:
    """(address, kind) with kind "doc", "cgnat" or "v6": every documentation address, 1,232 IPv6, the
    rest CGNAT, spread over the /10."""
    doc = [(f"{net}.{x}", "doc") for net in ("192.0.2", "198.51.100", "203.0.113") for x in range(256)]
    v6 = [(f"2001:db8::{i + 1:x}", "v6") for i in range(1_232)]
    cgnat_count = DISTINCT_IPS - len(doc) - len(v6)
    picked = rng.sample(range(64 * 256 * 254), cgnat_count)
    cgnat = [(f"100.{64 + n // (256 * 254)}.{n // 254 % 256}.{n % 254 + 1}", "cgnat") for n in picked]
    return doc + v6 + cgnat


def _access_when(moment: datetime, offset_hours: int) -> str:
    local = moment + timedelta(hours=offset_hours)
    return (
        f"{local.day:02d}/{MONTHS[local.month - 1]}/{local.year}:"
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d} +0{offset_hours}00"
    )


def generate(events: int, folder: Path) -> dict[str, Any]:
    """Write the access log, upload CSV, hash list and .mmdb for `events` lines; returns what to expect."""
    from tests.builders.mmdb import build_test_mmdb

    rng = random.Random(events)
    addresses = _addresses(rng)
    accounts = [f"test-user-{n}" for n in range(ACCOUNTS)]
    access_count = int(events * ACCESS_SHARE)
    csv_count = events - access_count
    duplicates = int(csv_count * DUPLICATE_SHARE)
    known = set(range(KNOWN_FILES))

    # Access log: one line a second from 2026-03-01 (so no two lines share a merge key), offset +0300
    # except the first day (+0200), as a server crossing daylight saving writes.
    start = datetime(2026, 3, 1, tzinfo=UTC)
    lines: list[str] = []
    posts: list[tuple[str, int | None, datetime, str]] = []
    for i in range(access_count):
        ip, kind = addresses[rng.randrange(len(addresses))]
        moment = start + timedelta(seconds=i)
        when = _access_when(moment, 2 if i < 86_400 else 3)
        port: int | None = rng.randrange(1024, 65536)
        tail = ""
        if kind == "v6":
            client = f"[{ip}]:{port}"
        elif rng.random() < (0.99 if kind == "cgnat" else 0.5):  # a few CGNAT lines lack the port
            client, tail = ip, f" {port}"
        else:
            client, port = ip, None
        if rng.random() < 0.1:
            account = accounts[rng.randrange(ACCOUNTS)]
            lines.append(
                f'{client} - {account} [{when}] "POST /upload/TEST-{i}.jpg HTTP/1.1" 201 512 {AGENT}{tail}'
            )
            posts.append((ip, port, moment, account))
        else:
            user = accounts[rng.randrange(ACCOUNTS)] if rng.random() < 0.2 else "-"
            page = rng.randrange(5_000)
            lines.append(f'{client} - {user} [{when}] "GET /p/{page} HTTP/1.1" 200 2326 {AGENT}{tail}')
    (folder / "access.log").write_bytes(("\n".join(lines) + "\n").encode())
    del lines

    # Upload CSV: its own uploads from 2026-03-10 (after the access log ends), plus re-recorded ones.
    plus3 = timezone(timedelta(hours=3))
    rows = ["ip,port,timestamp,account,filename,md5,sha256,event,service"]
    matched = 0
    later = datetime(2026, 3, 10, tzinfo=UTC)
    again = rng.sample(posts, min(duplicates, len(posts)))
    for j in range(csv_count):
        if j < len(again):
            ip, port, moment, account = again[j]
        else:
            ip, kind = addresses[rng.randrange(len(addresses))]
            port = None if kind == "doc" and rng.random() < 0.5 else rng.randrange(1024, 65536)
            moment = later + timedelta(seconds=j)
            account = accounts[rng.randrange(ACCOUNTS)]
        k = rng.randrange(FILES)
        matched += k in known
        when = moment.astimezone(plus3).isoformat()
        port_text = "" if port is None else str(port)
        rows.append(
            f"{ip},{port_text},{when},{account},TEST-{k}.jpg,{_md5(k)},{_sha256(k)},Upload,TEST Photo Share"
        )
    (folder / "uploads.csv").write_bytes(("\n".join(rows) + "\n").encode())
    (folder / "TEST-bench-tips-md5.txt").write_text("".join(f"{_md5(k)}\n" for k in sorted(known)))
    build_test_mmdb(folder / "TEST-bench-tips.mmdb", MMDB_RECORDS, built_utc=datetime(2026, 1, 1, tzinfo=UTC))
    expected = {
        "events": events,
        "access_lines": access_count,
        "csv_rows": csv_count,
        "re_recorded": len(again),
        "merged_events": events - len(again),
        "matched_events": matched,
        "generator": GENERATOR,
    }
    (folder / "expected.json").write_text(json.dumps(expected, indent=2))
    return expected


def data_for(events: int, regenerate: bool) -> tuple[Path, dict[str, Any]]:
    folder = OUT / f"tips-data-{events}"
    marker = folder / "expected.json"
    if not regenerate and marker.exists():
        expected = json.loads(marker.read_text())
        if expected.get("generator") == GENERATOR:
            return folder, expected
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    expected = generate(events, folder)
    print(
        f"   generated {events:,} lines in {time.perf_counter() - started:.1f} s under {folder}", flush=True
    )
    return folder, expected


# ------------------------------------------------------------------------------------------ helpers


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@contextmanager
def fresh_home(database: str) -> Iterator[Store]:
    """A new store: SQLite in a temporary home, or a throw-away PostgreSQL schema (dropped afterwards)."""
    with tempfile.TemporaryDirectory(prefix="himaya-bench-tips-") as scratch:
        home = Path(scratch) / "home"
        os.environ["HIMAYA_HOME"] = str(home)
        os.environ["HIMAYA_KEY_FILE"] = str(Path(scratch) / "config" / "blob.key")
        if database == "sqlite":
            os.environ.pop("HIMAYA_DATABASE_URL", None)  # never a server's database by accident
            store = open_store(home)
            try:
                yield store
            finally:
                store.close()
            return
        import psycopg

        admin = psycopg.connect(POSTGRES, autocommit=True)
        schema = f"himaya_bench_{secrets.token_hex(4)}"
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            os.environ["HIMAYA_DATABASE_URL"] = f"{POSTGRES}?options=-csearch_path%3D{schema}"
            store = open_store(home)
            try:
                yield store
            finally:
                store.close()
        finally:
            os.environ.pop("HIMAYA_DATABASE_URL", None)
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            admin.close()


def prepare(store: Store, folder: Path) -> int:
    """The case and the TEST alert hash set; returns the case id."""
    case_id = create_case(store, CASE, "TEST attribution bench").id
    import_hash_set(
        store, folder / "TEST-bench-tips-md5.txt", name="TEST-bench-tips", kind="alert", fmt="plain"
    )
    return case_id


def paths(folder: Path) -> list[Path]:
    return [folder / "access.log", folder / "uploads.csv"]


def link(store: Store, case_id: int, mmdb: Path) -> tuple[dict[str, Any], float, str, float]:
    """(summary record, link seconds, its JSON as the CLI writes it, JSON seconds)."""
    with store.session() as session, IpDatabase([mmdb]) as ipdb:
        started = time.perf_counter()
        record = summary(session, case_id, ipdb, UNIT_COUNTRY)
        linked = time.perf_counter()
        text = to_json(record)
        return record, linked - started, text, time.perf_counter() - linked


def check(record: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """What the summary found against what the data holds; a mismatch stops the bench."""
    found = {
        "merged_events": len(record["events"]),
        "matched_events": sum(1 for e in record["events"] if e["matched"]),
        "ips": len(record["ips"]),
        "uploads": sum(ip["uploads"] for ip in record["ips"]),
        "with_asn": sum(1 for ip in record["ips"] if ip["asn"] is not None),
        "flagged_abroad": sum(1 for ip in record["ips"] if "abroad" in ip["flags"]),
        "flagged_shared_no_port": sum(1 for ip in record["ips"] if "shared-address-no-port" in ip["flags"]),
    }
    for name in ("merged_events", "matched_events"):
        if found[name] != expected[name]:
            raise SystemExit(f"summary found {found[name]:,} {name}, the data holds {expected[name]:,}")
    if found["with_asn"] != found["ips"]:
        raise SystemExit(f"only {found['with_asn']:,} of {found['ips']:,} addresses found in the TEST .mmdb")
    return found


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ------------------------------------------------------------------------------------------ measuring


def measure(
    events: int, database: str, repeats: int, folder_text: str, expected: dict[str, Any]
) -> dict[str, Any]:
    """One size, in its own process: read, import, summary (+ JSON), each `repeats` times."""
    folder = Path(folder_text)
    mmdb = folder / "TEST-bench-tips.mmdb"
    result: dict[str, Any] = {
        "events": events,
        "database": database,
        "repeats": repeats,
        "expected": expected,
    }
    sizes = {path.name: path.stat().st_size for path in paths(folder)}
    result["file_bytes"] = sizes

    read_s: list[float] = []
    for _ in range(repeats):
        started = time.perf_counter()
        parsed = [read_tips(path.read_bytes(), path.name) for path in paths(folder)]
        read_s.append(time.perf_counter() - started)
        count = sum(len(report.events) for reports in parsed for report in reports)
        del parsed
        if count != events:
            raise SystemExit(f"read {count:,} events, the data holds {events:,}")
    result["read_s"] = read_s
    result["peak_rss_after_read_mib"] = peak_rss_mib()

    import_s: list[float] = []
    link_s: list[float] = []
    json_s: list[float] = []
    compact_s: list[float] = []
    prepare_s: list[float] = []
    for repeat in range(repeats):
        with fresh_home(database) as store:
            started = time.perf_counter()
            case_id = prepare(store, folder)
            prepare_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            outcome = import_tips(store, CASE, paths(folder), actor=ACTOR)
            import_s.append(time.perf_counter() - started)
            if outcome.events != events:
                raise SystemExit(f"import stored {outcome.events:,} events, the data holds {events:,}")
            if repeat == 0:
                result["peak_rss_after_import_mib"] = peak_rss_mib()
            record, linked, text, serialised = link(store, case_id, mmdb)
            link_s.append(linked)
            json_s.append(serialised)
            started = time.perf_counter()
            json.dumps(record, indent=2, ensure_ascii=False)  # the baseline: what the CLI wrote before
            compact_s.append(time.perf_counter() - started)
            if repeat == 0:
                result["found"] = check(record, expected)
                result["json_bytes"] = len(text.encode())
                result["peak_rss_after_summary_mib"] = peak_rss_mib()
            del record, text
    result.update(prepare_s=prepare_s, import_s=import_s, link_s=link_s, json_cli_s=json_s)
    result["json_indent2_baseline_s"] = compact_s
    summary_s = [a + b for a, b in zip(link_s, json_s, strict=True)]
    result["summary_s"] = summary_s
    result["total_s"] = [a + b for a, b in zip(import_s, summary_s, strict=True)]
    result["medians"] = {
        name: median(result[name])
        for name in (
            "read_s",
            "import_s",
            "link_s",
            "json_cli_s",
            "json_indent2_baseline_s",
            "summary_s",
            "total_s",
        )
    }
    result["meets_target"] = result["medians"]["total_s"] <= TARGET_S
    return result


def _top(profile: cProfile.Profile, count: int) -> str:
    out = io.StringIO()
    pstats.Stats(profile, stream=out).strip_dirs().sort_stats("cumulative").print_stats(count)
    return out.getvalue()


def profiled(events: int, database: str, folder_text: str) -> dict[str, str]:
    """The import and the summary (with its JSON) of one size under cProfile: top 20 cumulative each."""
    folder = Path(folder_text)
    with fresh_home(database) as store:
        case_id = prepare(store, folder)
        profile = cProfile.Profile()
        profile.enable()
        import_tips(store, CASE, paths(folder), actor=ACTOR)
        profile.disable()
        imported = _top(profile, 20)
        profile = cProfile.Profile()
        with store.session() as session, IpDatabase([folder / "TEST-bench-tips.mmdb"]) as ipdb:
            profile.enable()
            record = summary(session, case_id, ipdb, UNIT_COUNTRY)
            to_json(record)
            profile.disable()
        return {"import": imported, "summary": _top(profile, 20)}


def in_child(function: Any, *args: Any) -> Any:
    """Run in a fresh spawned process: its peak RSS is its own, and memory goes back when it ends."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def show(result: dict[str, Any]) -> None:
    m = result["medians"]
    found = result["found"]
    print(
        f"   read {m['read_s']:.2f} s | import {m['import_s']:.2f} s | link {m['link_s']:.2f} s | "
        f"JSON as the CLI writes it {m['json_cli_s']:.2f} s (indent=2 baseline "
        f"{m['json_indent2_baseline_s']:.2f} s) | "
        f"summary {m['summary_s']:.2f} s | TOTAL {m['total_s']:.2f} s "
        f"({'meets' if result['meets_target'] else 'MISSES'} <= {TARGET_S:.0f} s)\n"
        f"   peak RSS: after read {result['peak_rss_after_read_mib']:.0f} MiB, after import "
        f"{result['peak_rss_after_import_mib']:.0f} MiB, after summary "
        f"{result['peak_rss_after_summary_mib']:.0f} MiB"
        f" | JSON {result['json_bytes'] / 2**20:.0f} MiB\n"
        f"   {found['merged_events']:,} merged events, {found['matched_events']:,} matched, {found['ips']:,} "
        f"addresses ({found['flagged_abroad']:,} abroad, {found['flagged_shared_no_port']:,} shared without "
        f"port); case + hash set {median(result['prepare_s']):.2f} s (not in the total)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", default="100000,1000000", help="comma-separated sizes, in order")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--repeats", type=int, default=3, help="repeats below 1,000,000 events")
    parser.add_argument("--repeats-1m", type=int, default=1, help="repeats from 1,000,000 events")
    parser.add_argument("--profile-events", type=int, default=100_000)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--regenerate", action="store_true", help="make the cached data files again")
    args = parser.parse_args()
    sizes = [int(size.replace("_", "")) for size in args.events.split(",") if size.strip()]
    databases = ("sqlite", "postgresql") if args.database == "both" else (args.database,)

    load = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    if load > 0.5 * cpus:
        print(f"warning: load average {load:.1f} on {cpus} CPUs before the start; figures will be slow")
    OUT.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "command": shlex.join([".venv/bin/python", "bench/bench_tips.py", *sys.argv[1:]]),
        "started_utc": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": cpus, "load_before": load},
        "target_s": TARGET_S,
        "runs": [],
    }
    target = OUT / f"tips-{args.database}-{'_'.join(map(str, sizes))}-{date.today().isoformat()}.json"

    def save() -> None:
        target.write_text(json.dumps(report, indent=2))

    profile_pending = not args.no_profile
    for events in sizes:
        folder, expected = data_for(events, args.regenerate)
        for database in databases:
            repeats = args.repeats_1m if events >= 1_000_000 else args.repeats
            print(f"== {database}: {events:,} events, {repeats} repeat(s)", flush=True)
            result = in_child(measure, events, database, repeats, str(folder), expected)
            report["runs"].append(result)
            show(result)
            save()
        if profile_pending and events == args.profile_events:
            profile_pending = False
            print(f"== cProfile, {databases[0]}, {events:,} events", flush=True)
            tops = in_child(profiled, events, databases[0], str(folder))
            report["profile"] = {"events": events, "database": databases[0], **tops}
            print("-- import, top 20 cumulative\n" + tops["import"])
            print("-- summary + JSON, top 20 cumulative\n" + tops["summary"], flush=True)
            save()
    if profile_pending:
        print(f"(no cProfile: --profile-events {args.profile_events:,} is not one of --events)")
    save()
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
