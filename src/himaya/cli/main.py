"""`himaya` — the command line (contract in DESIGN.md: commands and options only ever grow)."""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, BinaryIO, TextIO, TypeVar

import typer
from rich.logging import RichHandler
from rich.table import Table

from himaya import __version__
from himaya.cli.audit import audit_app
from himaya.cli.context import AppContext
from himaya.cli.messages import messages_app
from himaya.cli.online import online_app
from himaya.cli.tips import tips_app
from himaya.cli.web import serve, user_app
from himaya.config import (
    ArchiveLimits,
    ArtifactSettings,
    ImageLimits,
    ScanSettings,
    VideoSettings,
    default_home,
    default_key_file,
)
from himaya.errors import HimayaError, UsageError
from himaya.sources.disk.credentials import VolumeCredentials

app = typer.Typer(
    name="himaya",
    help="Himaya: find known abuse material in seized data, fast and offline; keep the case court-worthy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
case_app = typer.Typer(help="Create and list cases.", no_args_is_help=True)
hashset_app = typer.Typer(
    help="Import and list hash sets (known material to flag, or known-good to ignore).", no_args_is_help=True
)
app.add_typer(case_app, name="case")
app.add_typer(hashset_app, name="hashset")
evidence_app = typer.Typer(help="Look at evidence before scanning it.", no_args_is_help=True)
app.add_typer(evidence_app, name="evidence")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(online_app, name="online")
app.add_typer(tips_app, name="tips")
app.add_typer(messages_app, name="messages")
app.command("serve")(serve)


def _ctx(ctx: typer.Context) -> AppContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, AppContext)
    return obj


def _version(value: bool) -> None:
    if value:
        typer.echo(f"himaya {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="Data folder (case store, encrypted blobs). Default: $HIMAYA_HOME, "
            "else the user data folder. Must be on a local disk.",
        ),
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            help="Blob-store key, kept outside --home. Default: $HIMAYA_KEY_FILE, "
            "else the user config folder. $HIMAYA_BLOB_KEY (base64) overrides it.",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more detail.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(show_path=False, console=AppContext(Path(), Path()).console)],
    )
    ctx.obj = AppContext(home=home or default_home(), key_file=key_file or default_key_file())
    ctx.call_on_close(ctx.obj.close)


# ---------------------------------------------------------------- cases
@case_app.command("create")
def case_create(
    ctx: typer.Context,
    case_number: Annotated[
        str, typer.Argument(metavar="CASE_NUMBER", help="The unit's case number, e.g. CYB-2026-0042.")
    ],
    title: Annotated[str | None, typer.Option("--title", help="A short description.")] = None,
) -> None:
    """Create a case to scan evidence into."""
    from himaya.cases import create_case

    app_ctx = _ctx(ctx)
    create_case(app_ctx.store(), case_number, title)
    app_ctx.console.print(f"case {case_number} created in {app_ctx.home}")


@case_app.command("list")
def case_list(ctx: typer.Context) -> None:
    """List the cases in this store with their file and match counts."""
    from himaya.cases import list_cases

    app_ctx = _ctx(ctx)
    table = Table("case", "title", "evidence", "files", "matched files", "created")
    for row in list_cases(app_ctx.store()):
        table.add_row(
            row.number,
            row.title or "",
            str(row.evidence),
            str(row.files),
            str(row.matched_files),
            row.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    app_ctx.console.print(table)


# ---------------------------------------------------------------- hash sets
@hashset_app.command("import")
def hashset_import(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="The hash list to import, or a folder of vPDQ hash files (one per video).",
            exists=True,
        ),
    ],
    name: Annotated[str, typer.Option("--name", help="Hash-set name; importing again adds a version.")],
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="alert (flag matches; the default) or ignore (known-good, e.g. NSRL)."),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="auto (detect), vics (Project VIC / CAID JSON), icse (Interpol CSV), ncmec (hash + "
            "A1/A2/B1/B2 or CAID A/B/C per line), nsrl (RDS v3 SQLite, attached read-only), vpdq (Meta's "
            "video hash files: a file, or a folder of them, one known video each) or plain (one hash per "
            "line, or CSV).",
        ),
    ] = "auto",
    hash_type: Annotated[
        str | None,
        typer.Option(
            "--type",
            help="md5, sha1, sha256 or pdq, when the length alone cannot tell (64 hex digits); NCMEC-style "
            "lists read 64 digits as PDQ unless --type sha256. Not for vpdq files.",
        ),
    ] = None,
    pdq_threshold: Annotated[
        int | None,
        typer.Option(
            "--pdq-threshold",
            help="Largest PDQ distance that matches, for pictures and for the frames of vPDQ videos "
            "(new sets: 31; re-imports keep the set's value unless given).",
        ),
    ] = None,
    pdq_min_quality: Annotated[
        int | None,
        typer.Option(
            "--pdq-min-quality",
            help="Pictures and video frames whose PDQ quality is lower are not PDQ-matched (new sets: 50).",
        ),
    ] = None,
    vpdq_query_percent: Annotated[
        float | None,
        typer.Option(
            "--vpdq-query-percent",
            help="vPDQ: a video matches a known one when at least this percentage of its usable frames "
            "match frames of it (0-100; new sets: 80).",
        ),
    ] = None,
    vpdq_compared_percent: Annotated[
        float | None,
        typer.Option(
            "--vpdq-compared-percent",
            help="vPDQ: ... and at least this percentage of the known video's usable frames are matched "
            "(0-100; new sets: 0, so a clip of a known video matches).",
        ),
    ] = None,
    dihedral: Annotated[
        bool | None,
        typer.Option(
            "--dihedral/--no-dihedral",
            help="Also match rotated and mirrored copies (method pdq-dihedral). New alert sets: on.",
        ),
    ] = None,
    rematch_cases: Annotated[
        bool,
        typer.Option(
            "--rematch", help="Then re-match every case against the new version (no evidence read)."
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Import a hash list (or a folder of vPDQ video hash files) as a new version of a hash set.

    A malformed list, or one malformed file of a folder, is refused whole.

    The new version records what it added, changed and removed; `himaya rematch` (or --rematch) then
    checks stored cases against it.
    """
    from himaya.hashsets.categories import CategoryMap
    from himaya.hashsets.importer import import_hash_set
    from himaya.pipeline.progress import ImportProgress

    app_ctx = _ctx(ctx)
    with ImportProgress(app_ctx.console, name, quiet=quiet) as progress:
        summary = import_hash_set(
            app_ctx.store(),
            file,
            name=name,
            kind=kind,
            fmt=fmt,
            hash_type=hash_type,
            pdq_threshold=pdq_threshold,
            pdq_min_quality=pdq_min_quality,
            dihedral=dihedral,
            vpdq_query_percent=vpdq_query_percent,
            vpdq_compared_percent=vpdq_compared_percent,
            categories=CategoryMap.load(app_ctx.home),
            on_progress=progress,
        )
    if summary.unchanged:
        app_ctx.console.print(
            f"hash set {name}: {file} is identical to version {summary.version}; nothing imported"
        )
    elif summary.format == "nsrl":
        rows = summary.details.get("rows_estimate")
        app_ctx.console.print(
            f"hash set {name} version {summary.version}: NSRL database {file} attached read-only as an "
            f"ignore set ({rows if rows is not None else 'unknown number of'} rows; nothing copied)"
        )
    else:
        counts = ", ".join(f"{n} {t}" for t, n in sorted(summary.counts.items()))
        scheme = f", categories: {summary.category_scheme}" if summary.category_scheme else ""
        app_ctx.console.print(
            f"hash set {name} version {summary.version} ({summary.format}{scheme}): {counts}; "
            f"{summary.added} added, {summary.changed} changed, {summary.removed} removed"
            + (f", {summary.duplicates} duplicate lines skipped" if summary.duplicates else "")
        )
    if rematch_cases:
        _print_rematch(app_ctx, ())


def _print_rematch(app_ctx: AppContext, case_numbers: Sequence[str], details: int = 20) -> None:
    from himaya.matching.rematch import rematch

    results = rematch(app_ctx.store(), case_numbers)
    if not results:
        app_ctx.console.print("no cases to re-match")
    for result in results:
        app_ctx.console.print(
            f"case {result.case}: {result.files_checked} files re-matched; "
            f"{len(result.new)} new, {len(result.lost)} lost, {result.kept} kept matches",
            highlight=False,
        )
        for sign, changes in (("+", result.new), ("-", result.lost)):
            for change in changes[:details]:
                label = f" category {change.category}" if change.category else ""
                app_ctx.console.print(
                    f"  {sign} {change.path}: {change.hashset} v{change.hashset_version} "
                    f"{change.method} d={change.distance}{label}",
                    highlight=False,
                    markup=False,
                )
            if len(changes) > details:
                app_ctx.console.print(f"  {sign} ... and {len(changes) - details} more (see the export)")
    from himaya.online.service import track_rematched

    tracked = track_rematched(app_ctx.store(), [result.case for result in results if result.new])
    if tracked:
        app_ctx.console.print(
            f"{tracked} captured URLs match now and are tracked (`himaya online status CASE`)",
            highlight=False,
        )


@app.command("rematch")
def rematch_command(
    ctx: typer.Context,
    case_numbers: Annotated[
        list[str] | None, typer.Argument(metavar="[CASE]...", help="Cases to re-match (default: all).")
    ] = None,
    details: Annotated[int, typer.Option("--details", help="Changed matches listed per case.")] = 20,
) -> None:
    """Re-match stored cases against the latest hash-set versions; no evidence is read.

    Uses the digests, PDQ hashes, dihedral variants and trimmed hashes already in the store. Matches
    the new versions no longer support are retired (kept on record, left out of exports).
    """
    _print_rematch(_ctx(ctx), case_numbers or (), details)


@hashset_app.command("export")
def hashset_export(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The hash set to export.")],
    out: Annotated[
        Path, typer.Option("--out", help="The file to write; for --format vpdq, the folder to write into.")
    ],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="vics (VICS 2.0 JSON), icse (Interpol CSV), plain (CSV) or vpdq (the known videos, one "
            "vPDQ hash file each).",
        ),
    ] = "vics",
    version: Annotated[int | None, typer.Option("--version", help="Which version (default: latest).")] = None,
) -> None:
    """Export a hash set's version to share with partners: labels, series, flags and details go with it."""
    from himaya.hashsets.export import export_hash_set, export_vpdq

    app_ctx = _ctx(ctx)
    if fmt == "vpdq":
        summary = export_vpdq(app_ctx.store(), name, out, version)
    else:
        summary = _write_whole(
            out, fmt == "vics", lambda handle: export_hash_set(app_ctx.store(), name, fmt, handle, version)
        )
    noun = {"plain": "entries", "vpdq": "vPDQ video files"}.get(fmt, "media items")
    hashes_left_out = summary.left_out - summary.videos_left_out
    app_ctx.console.print(
        f"hash set {summary.hash_set} version {summary.version}: {summary.written} {noun} written to {out}"
        + (
            f"; {summary.left_out} picture and file entries left out (vPDQ files hold videos only)"
            if fmt == "vpdq" and summary.left_out
            else ""
        )
        + (
            f"; {hashes_left_out} SHA256/PDQ entries left out (ICSE has no column for them)"
            if fmt != "vpdq" and hashes_left_out
            else ""
        )
        + (
            f"; {summary.videos_left_out} vPDQ videos left out (export them with --format vpdq)"
            if summary.videos_left_out
            else ""
        ),
        highlight=False,
    )


def _changes(added: int | None, changed: int | None, removed: int | None) -> str:
    """A version's "+ / ~ / −" cell; blank for versions imported before changes were recorded."""
    return "" if added is None else f"{added} / {changed} / {removed}"


@hashset_app.command("show")
def hashset_show(
    ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="The hash set.")]
) -> None:
    """Every version of a hash set: when it was imported, from which file (SHA256), what it changed."""
    from himaya.hashsets.listing import version_history

    app_ctx = _ctx(ctx)
    table = Table("version", "imported", "format", "entries", "+ / ~ / −", "file", "file SHA256")
    for row in version_history(app_ctx.store(), name):
        changes = _changes(row.added, row.changed, row.removed)
        table.add_row(
            str(row.version),
            row.imported_at.strftime("%Y-%m-%d %H:%M"),
            row.format + (f" ({row.category_scheme})" if row.category_scheme else ""),
            str(row.entries),
            changes,
            row.source_file or "",
            row.source_sha256 or "",
        )
    app_ctx.console.print(table)


@hashset_app.command("list")
def hashset_list(ctx: typer.Context) -> None:
    """List hash sets with their latest version and entry counts."""
    from himaya.hashsets.listing import list_hash_sets

    app_ctx = _ctx(ctx)
    table = Table(
        "name",
        "kind",
        "format",
        "version",
        "entries",
        "+ / ~ / −",
        "imported",
        "PDQ ≤",
        "quality ≥",
        "dihedral",
    )
    for row in list_hash_sets(app_ctx.store()):
        changes = _changes(row.added, row.changed, row.removed)
        table.add_row(
            row.name,
            row.kind,
            row.format + (f" ({row.category_scheme})" if row.category_scheme else ""),
            str(row.version),
            str(row.entries),
            changes,
            row.imported_at.strftime("%Y-%m-%d %H:%M"),
            str(row.pdq_threshold),
            str(row.pdq_min_quality),
            "on" if row.dihedral else "off",
        )
    app_ctx.console.print(table)


# ---------------------------------------------------------------- scan
# Credentials for encrypted archives and volumes: the same options on `scan` and `evidence info`.
PasswordFileOption = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        help="Passwords for encrypted archives and volumes (BitLocker, LUKS, FileVault, APFS), one per "
        "line; also $HIMAYA_PASSWORDS.",
    ),
]
PasswordOption = Annotated[
    list[str] | None,
    typer.Option(
        "--password",
        help="A password for encrypted archives and volumes (visible to others; prefer --password-file).",
    ),
]
RecoveryKeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--recovery-key-file",
        help="BitLocker recovery passwords (48 digits) and FileVault recovery keys, one per line; also "
        "$HIMAYA_RECOVERY_KEYS.",
    ),
]
StartupKeyFileOption = Annotated[
    list[Path] | None,
    typer.Option("--startup-key-file", help="A BitLocker startup key (.BEK file); may be repeated."),
]


def _lines(path: Path | None, option: str) -> list[str]:
    if path is None:
        return []
    try:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line]
    except OSError as exc:
        raise UsageError(f"cannot read {option} {path}: {exc.strerror}") from exc


def _env_lines(name: str) -> list[str]:
    return [p for p in os.environ.get(name, "").split("\n") if p]


def _read_passwords(password_file: Path | None, passwords: list[str] | None) -> tuple[str, ...]:
    """Passwords for archives and encrypted volumes: file, environment, then (with a warning) arguments."""
    found = _lines(password_file, "--password-file")
    found += _env_lines("HIMAYA_PASSWORDS") + _env_lines("HIMAYA_ARCHIVE_PASSWORDS")
    if passwords:
        logging.getLogger("himaya").warning(
            "--password is visible in the process list and shell history; prefer --password-file or "
            "$HIMAYA_PASSWORDS"
        )
        found += passwords
    return tuple(found)


def _volume_credentials(
    passwords: tuple[str, ...], recovery_key_file: Path | None, startup_key_files: list[Path] | None
) -> VolumeCredentials:
    recovery = _lines(recovery_key_file, "--recovery-key-file") + _env_lines("HIMAYA_RECOVERY_KEYS")
    for key_file in startup_key_files or []:
        if not key_file.is_file():
            raise UsageError(f"--startup-key-file {key_file} is not a readable file (a BitLocker .BEK file)")
    return VolumeCredentials(
        passwords=passwords,
        recovery_passwords=tuple(recovery),
        startup_key_files=tuple(str(p.resolve()) for p in startup_key_files or []),
    )


def _prompt(volume: str) -> str | None:
    """Asks at the terminal for a volume's password; an empty answer skips the volume."""
    answer = getpass.getpass(f"Password for the {volume} (empty to skip it): ")
    return answer or None


@app.command()
def scan(
    ctx: typer.Context,
    case_number: Annotated[
        str, typer.Argument(metavar="CASE_NUMBER", help="The case to add the evidence to.")
    ],
    evidence: Annotated[
        list[Path], typer.Argument(metavar="EVIDENCE...", help="Folders and files of seized data.")
    ],
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Worker processes (default: one per core); 0 runs in this process."),
    ] = None,
    password_file: PasswordFileOption = None,
    password: PasswordOption = None,
    recovery_key_file: RecoveryKeyFileOption = None,
    startup_key_file: StartupKeyFileOption = None,
    prompt: Annotated[
        bool,
        typer.Option(
            "--prompt/--no-prompt",
            help="Ask at the terminal for the password of an encrypted volume nothing else opened "
            "(default: ask when run at a terminal).",
        ),
    ] = True,
    shadow_copies: Annotated[
        bool, typer.Option("--shadow-copies", help="Also scan Volume Shadow Copies of NTFS volumes.")
    ] = False,
    carve: Annotated[
        bool,
        typer.Option("--carve/--no-carve", help="Carve JPEG/PNG/GIF out of disk images' unallocated space."),
    ] = True,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify/--no-verify",
            help="Read each E01 again in full and compare it with the hashes stored at acquisition, "
            "recorded as a custody event (default; --no-verify when it was verified at intake).",
        ),
    ] = True,
    max_depth: Annotated[
        int, typer.Option("--max-depth", help="How deep to open archives inside archives.")
    ] = ArchiveLimits().max_depth,
    max_archive_ratio: Annotated[
        float,
        typer.Option(
            "--max-archive-ratio",
            help="Zip-bomb guard: largest expansion (uncompressed:compressed) allowed past 16 MiB.",
        ),
    ] = ArchiveLimits().max_ratio,
    max_archive_bytes: Annotated[
        int,
        typer.Option(
            "--max-archive-bytes",
            help="Zip-bomb guard: most bytes read out of one archive, all layers together.",
        ),
    ] = ArchiveLimits().max_total_bytes,
    max_archive_members: Annotated[
        int,
        typer.Option(
            "--max-archive-members", help="Most members listed in one archive, all layers together."
        ),
    ] = ArchiveLimits().max_members,
    max_pixels: Annotated[
        int,
        typer.Option("--max-pixels", help="Pictures with more pixels are not decoded (decompression bombs)."),
    ] = ImageLimits().max_pixels,
    no_thumbnails: Annotated[bool, typer.Option("--no-thumbnails", help="Do not keep thumbnails.")] = False,
    video: Annotated[
        bool,
        typer.Option(
            "--video/--no-video",
            help="Decode videos: frame hashes (vPDQ), container facts, key-frame sheet. --no-video "
            "hashes their bytes only (exact matches still work).",
        ),
    ] = True,
    video_seconds: Annotated[
        float, typer.Option("--video-seconds-per-hash", help="Hash one video frame every this many seconds.")
    ] = VideoSettings().seconds_per_hash,
    video_sampling: Annotated[
        str,
        typer.Option(
            "--video-sampling",
            help="exact (vPDQ's frames, the default) or keyframes (triage: a key frame stands for a group of "
            "pictures up to 2 s long, nothing else of it decoded; fewer frames hashed).",
        ),
    ] = VideoSettings().sampling,
    video_short_side: Annotated[
        int,
        typer.Option(
            "--video-short-side",
            help="Scale frames to at least this short side before PDQ (fast); 0 hashes full frames, "
            "bit for bit as Meta's vpdq-hash-video.",
        ),
    ] = VideoSettings().frame_short_side,
    video_prune: Annotated[
        int,
        typer.Option(
            "--video-prune", help="Drop a hashed frame this near (PDQ bits) the one before; 0 keeps all."
        ),
    ] = VideoSettings().prune_distance,
    video_budget: Annotated[
        float,
        typer.Option(
            "--video-budget", help="Most seconds spent decoding one video; past it, what was hashed is kept."
        ),
    ] = VideoSettings().max_seconds,
    artifacts: Annotated[
        bool,
        typer.Option(
            "--artifacts/--no-artifacts",
            help="Read chat, SMS and contact databases (WhatsApp, Telegram, SMS/MMS, iMessage, contacts) "
            "into messages linked to the pictures they carried (default). --no-artifacts hashes them only.",
        ),
    ] = True,
    max_database_mb: Annotated[
        int,
        typer.Option(
            "--max-database-mb",
            help="Largest chat database (or -wal file) read, in MiB; a worker holds one in memory.",
        ),
    ] = ArtifactSettings().max_database_bytes // (1024 * 1024),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Scan evidence: hash every file, open archives, hash pictures (PDQ), read EXIF, flag known material.

    Videos get one PDQ frame hash a second (Meta's vPDQ), container facts (duration, codecs, device,
    GPS) and a blurred key-frame contact sheet, and are matched against known videos (vpdq hash sets)
    and known pictures (a still in a frame).

    Evidence may be folders, files, archives, phone extractions (zip, tar or folder) and disk images (E01,
    raw and split raw, VMDK, VHD/VHDX, QCOW2, DMG, a read-only block device) with their partitions,
    encrypted volumes (given the credential), file systems, deleted files and unallocated space.
    Chat, SMS and contact databases found anywhere in the evidence (WhatsApp, Telegram, SMS/MMS, iMessage,
    address books) are read after the files, from private copies with their -wal / -journal applied: see
    'himaya messages summary' and 'himaya export CASE --format messages-jsonl'.

    Run the same command again after an interruption: finished files are skipped, the rest is done.
    """
    from himaya.pipeline.scan import run_scan

    if video_sampling not in ("exact", "keyframes"):
        raise UsageError(f"--video-sampling {video_sampling!r}: use exact or keyframes")
    if video_seconds <= 0:
        raise UsageError("--video-seconds-per-hash must be above 0, e.g. 1 (vPDQ's default)")
    app_ctx = _ctx(ctx)
    passwords = _read_passwords(password_file, password)
    settings = ScanSettings(
        workers=workers if workers is not None else (os.cpu_count() or 1),
        archive=ArchiveLimits(
            max_depth=max_depth,
            max_ratio=max_archive_ratio,
            max_total_bytes=max_archive_bytes,
            max_members=max_archive_members,
        ),
        image=ImageLimits(max_pixels=max_pixels),
        video=VideoSettings(
            enabled=video,
            seconds_per_hash=video_seconds,
            sampling=video_sampling,
            frame_short_side=video_short_side,
            prune_distance=video_prune,
            max_seconds=video_budget,
        ),
        artifacts=ArtifactSettings(enabled=artifacts, max_database_bytes=max_database_mb * 1024 * 1024),
        thumbnails=not no_thumbnails,
        archive_passwords=passwords,
        volume_credentials=_volume_credentials(passwords, recovery_key_file, startup_key_file),
        shadow_copies=shadow_copies,
        carve=carve,
        verify=verify,
    )
    store = app_ctx.store()
    # Chat databases are kept in the blob store between the scan and their parse, thumbnails or not.
    blobs = app_ctx.blobs() if settings.thumbnails or settings.artifacts.enabled else None
    ask = _prompt if prompt and sys.stdin.isatty() else None
    summary = run_scan(
        store,
        case_number,
        evidence,
        settings=settings,
        blobs=blobs,
        console=app_ctx.console,
        quiet=quiet,
        ask=ask,
    )
    rate = summary.files_written / summary.seconds if summary.seconds else 0.0
    app_ctx.console.print(
        f"scan {summary.status}: {summary.files_written} files analysed ({rate:.1f} files/s, "
        f"{summary.bytes_read / 1e6:.1f} MB), {summary.files_skipped} already done, "
        f"{summary.files_error} with errors, [bold]{summary.matched_files} matching an alert hash set[/]"
    )
    if summary.status == "interrupted":
        raise typer.Exit(1)


@evidence_app.command("info")
def evidence_info(
    ctx: typer.Context,
    evidence: Annotated[Path, typer.Argument(metavar="FILE", help="A disk image, block device or file.")],
    password_file: PasswordFileOption = None,
    password: PasswordOption = None,
    recovery_key_file: RecoveryKeyFileOption = None,
    startup_key_file: StartupKeyFileOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the layers as JSON.")] = False,
) -> None:
    """Describe a disk image without scanning it: container format and acquisition metadata, partitions,
    encryption, file systems and sizes. Reads no file content."""
    from himaya.sources.disk.info import describe

    app_ctx = _ctx(ctx)
    if not evidence.exists():
        raise UsageError(f"{str(evidence)!r} does not exist; check the path (is the drive mounted?)")
    credentials = _volume_credentials(
        _read_passwords(password_file, password), recovery_key_file, startup_key_file
    )
    report = describe(evidence, credentials)
    if as_json:
        typer.echo(json.dumps(report.record, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        app_ctx.console.print(report.text, highlight=False, markup=False)


# ---------------------------------------------------------------- outputs
@app.command()
def export(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="CASE_NUMBER", help="The case to export.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="jsonl or csv (one record per file), vics (VICS 2.0 #Cases JSON) or icse (Interpol ICSE "
            "CSV): the last two give one media item per distinct content, for partners' hash sets; vpdq "
            "(Meta's vPDQ hash files, one per video, into the folder --out); messages-jsonl (one record "
            "per chat, SMS or MMS message of the case's phones: who sent which media to whom, when).",
        ),
    ] = "jsonl",
    only_matches: Annotated[
        bool,
        typer.Option(
            "--only-matches", help="Only files with a match (messages-jsonl: messages whose media matched)."
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write here instead of standard output (vpdq: a folder, required)."),
    ] = None,
    contact_name: Annotated[
        str | None, typer.Option("--contact-name", help="VICS: the case contact.")
    ] = None,
    contact_email: Annotated[
        str | None, typer.Option("--contact-email", help="VICS: contact e-mail.")
    ] = None,
    agency: Annotated[str | None, typer.Option("--agency", help="VICS: the submitting agency.")] = None,
) -> None:
    """Export a case: one record per file (path, digests, type, PDQ, video facts, status, matches, category),
    its media as VICS / ICSE for partners, its videos' frame hashes as vPDQ files, or its phones' messages
    (messages-jsonl). Never pictures or thumbnails.

    Media captured online (`himaya online capture`) are files like any other: `path` is the media URL and
    `evidence` the page URL."""
    from himaya.hashsets.categories import CategoryMap
    from himaya.reports.export import FORMATS, export_case

    known = (*FORMATS, "vics", "icse", "vpdq", "messages-jsonl")
    if fmt not in known:
        raise UsageError(f"unknown export format {fmt!r}; use one of: {', '.join(known)}")
    app_ctx = _ctx(ctx)
    store = app_ctx.store()
    if fmt == "vpdq":
        from himaya.reports.video_hashes import export_case_vpdq

        if out is None:
            raise UsageError("--format vpdq writes one file per video: give the folder with --out DIR")
        videos = export_case_vpdq(store, case_number, out, only_matches=only_matches)
        _audit_output(app_ctx, "export", case_number, {"format": fmt, "records": videos, "out": str(out)})
        app_ctx.console.print(f"{videos} vPDQ hash files written to {out}")
        return
    categories = CategoryMap.load(app_ctx.home)

    def write_text(handle: TextIO) -> int:
        if fmt == "messages-jsonl":
            from himaya.reports.messages import export_messages

            return export_messages(
                store, case_number, handle, only_matches=only_matches, categories=categories
            )
        if fmt == "icse":
            from himaya.reports.known_material import export_case_icse

            return export_case_icse(
                store, case_number, handle, only_matches=only_matches, categories=categories
            )
        return export_case(store, case_number, fmt, handle, only_matches, categories)

    def write_binary(handle: BinaryIO) -> int:
        from himaya.reports.known_material import export_case_vics

        return export_case_vics(
            store,
            case_number,
            handle,
            only_matches=only_matches,
            contact_name=contact_name,
            contact_email=contact_email,
            agency=agency,
            categories=categories,
        )

    if out is None:
        if fmt == "vics":
            written = write_binary(sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            written = write_text(sys.stdout)
        _audit_output(app_ctx, "export", case_number, {"format": fmt, "records": written, "out": "stdout"})
        return
    count = _write_whole(
        out, fmt == "vics", lambda handle: write_binary(handle) if fmt == "vics" else write_text(handle)
    )
    noun = "media items" if fmt in ("vics", "icse") else "messages" if fmt == "messages-jsonl" else "records"
    _audit_output(app_ctx, "export", case_number, {"format": fmt, "records": count, "out": str(out)})
    app_ctx.console.print(f"{count} {noun} written to {out}")


Written = TypeVar("Written")


def _write_whole(out: Path, binary: bool, write: Callable[[Any], Written]) -> Written:
    """Write beside the target and rename at the end: a failed export never leaves a file that looks done."""
    partial = out.with_name(out.name + ".partial")
    try:
        if binary:
            with partial.open("wb") as handle:
                result = write(handle)
        else:
            with partial.open("w", encoding="utf-8", newline="") as handle:
                result = write(handle)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return result


def _audit_output(app_ctx: AppContext, action: str, case_number: str, detail: dict[str, Any]) -> None:
    """An export or report written from the command line is an audit event, as in the app."""
    import getpass as _getpass

    from himaya.reports.records import find_case

    try:
        operator = f"cli:{_getpass.getuser()}"
    except (KeyError, OSError):
        operator = "cli"
    with app_ctx.store().transaction() as session:
        case = find_case(session, case_number)
        app_ctx.audit().record(session, actor=operator, action=action, case_id=case.id, detail=detail)


@app.command()
def report(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="CASE_NUMBER", help="The case to report on.")],
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")],
) -> None:
    """Write a self-contained HTML triage report (no picture content)."""
    from himaya.reports.html import write_report

    app_ctx = _ctx(ctx)
    data = write_report(app_ctx.store(), case_number, out)
    _audit_output(app_ctx, "report_downloaded", case_number, {"format": "html", "out": str(out)})
    app_ctx.console.print(
        f"report written to {out}: {data.files} files, {data.matched_files} matching, "
        f"{data.errors} with errors"
    )


@app.command()
def demo(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Where to build the benign demo evidence.")] = Path(
        "demo-output"
    ),
    workers: Annotated[
        int | None, typer.Option("--workers", help="Worker processes (default: one per core).")
    ] = None,
) -> None:
    """Build benign demo evidence and a TEST hash set, scan it, and write the report."""
    from himaya.demo.run import run_demo

    app_ctx = _ctx(ctx)
    run_demo(app_ctx, out, workers if workers is not None else (os.cpu_count() or 1))


def main() -> None:
    try:
        app()
    except HimayaError as exc:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
