"""`himaya` — the command line (contract in DESIGN.md: commands and options only ever grow)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.logging import RichHandler
from rich.table import Table

from himaya import __version__
from himaya.cli.context import AppContext
from himaya.config import ArchiveLimits, ImageLimits, ScanSettings, default_home, default_key_file
from himaya.errors import HimayaError, UsageError

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
        Path, typer.Argument(metavar="FILE", help="The hash list to import.", exists=True, dir_okay=False)
    ],
    name: Annotated[str, typer.Option("--name", help="Hash-set name; importing again adds a version.")],
    kind: Annotated[
        str, typer.Option("--kind", help="alert (flag matches) or ignore (known-good).")
    ] = "alert",
    fmt: Annotated[str, typer.Option("--format", help="auto or plain (one hash per line, or CSV).")] = "auto",
    hash_type: Annotated[
        str | None,
        typer.Option(
            "--type", help="md5, sha1, sha256 or pdq, when the length alone cannot tell (64 hex digits)."
        ),
    ] = None,
    pdq_threshold: Annotated[
        int | None,
        typer.Option(
            "--pdq-threshold",
            help="Largest PDQ distance that matches (new sets: 31; re-imports keep "
            "the set's value unless given).",
        ),
    ] = None,
    pdq_min_quality: Annotated[
        int | None,
        typer.Option(
            "--pdq-min-quality",
            help="Pictures whose PDQ quality is lower are not PDQ-matched (new sets: 50).",
        ),
    ] = None,
) -> None:
    """Import a hash list as a new version of a hash set. A malformed list is refused whole."""
    from himaya.hashsets.importer import import_hash_set

    app_ctx = _ctx(ctx)
    summary = import_hash_set(
        app_ctx.store(),
        file,
        name=name,
        kind=kind,
        fmt=fmt,
        hash_type=hash_type,
        pdq_threshold=pdq_threshold,
        pdq_min_quality=pdq_min_quality,
    )
    if summary.unchanged:
        app_ctx.console.print(
            f"hash set {name}: {file} is identical to version {summary.version}; nothing imported"
        )
    else:
        counts = ", ".join(f"{n} {t}" for t, n in sorted(summary.counts.items()))
        app_ctx.console.print(f"hash set {name} version {summary.version}: imported {counts}")


@hashset_app.command("list")
def hashset_list(ctx: typer.Context) -> None:
    """List hash sets with their latest version and entry counts."""
    from himaya.hashsets.listing import list_hash_sets

    app_ctx = _ctx(ctx)
    table = Table("name", "kind", "version", "entries", "imported", "PDQ ≤", "quality ≥")
    for row in list_hash_sets(app_ctx.store()):
        table.add_row(
            row.name,
            row.kind,
            str(row.version),
            str(row.entries),
            row.imported_at.strftime("%Y-%m-%d %H:%M"),
            str(row.pdq_threshold),
            str(row.pdq_min_quality),
        )
    app_ctx.console.print(table)


# ---------------------------------------------------------------- scan
def _read_passwords(password_file: Path | None, passwords: list[str] | None) -> tuple[str, ...]:
    found: list[str] = []
    if password_file is not None:
        try:
            found += [line for line in password_file.read_text(encoding="utf-8").splitlines() if line]
        except OSError as exc:
            raise UsageError(f"cannot read --password-file {password_file}: {exc.strerror}") from exc
    env = os.environ.get("HIMAYA_ARCHIVE_PASSWORDS")
    if env:
        found += [p for p in env.split("\n") if p]
    if passwords:
        logging.getLogger("himaya").warning(
            "--password is visible in the process list and shell history; prefer --password-file or "
            "$HIMAYA_ARCHIVE_PASSWORDS"
        )
        found += passwords
    return tuple(found)


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
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="Passwords for encrypted archives, one per line.")
    ] = None,
    password: Annotated[
        list[str] | None,
        typer.Option(
            "--password",
            help="A password for encrypted archives (visible to others; prefer --password-file).",
        ),
    ] = None,
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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Scan evidence: hash every file, open archives, hash pictures (PDQ), read EXIF, flag known material.

    Run the same command again after an interruption: finished files are skipped, the rest is done.
    """
    from himaya.pipeline.scan import run_scan

    app_ctx = _ctx(ctx)
    settings = ScanSettings(
        workers=workers if workers is not None else (os.cpu_count() or 1),
        archive=ArchiveLimits(
            max_depth=max_depth,
            max_ratio=max_archive_ratio,
            max_total_bytes=max_archive_bytes,
            max_members=max_archive_members,
        ),
        image=ImageLimits(max_pixels=max_pixels),
        thumbnails=not no_thumbnails,
        archive_passwords=_read_passwords(password_file, password),
    )
    store = app_ctx.store()
    blobs = app_ctx.blobs() if settings.thumbnails else None
    summary = run_scan(
        store, case_number, evidence, settings=settings, blobs=blobs, console=app_ctx.console, quiet=quiet
    )
    rate = summary.files_written / summary.seconds if summary.seconds else 0.0
    app_ctx.console.print(
        f"scan {summary.status}: {summary.files_written} files analysed ({rate:.1f} files/s, "
        f"{summary.bytes_read / 1e6:.1f} MB), {summary.files_skipped} already done, "
        f"{summary.files_error} with errors, [bold]{summary.matched_files} matching an alert hash set[/]"
    )
    if summary.status == "interrupted":
        raise typer.Exit(1)


# ---------------------------------------------------------------- outputs
@app.command()
def export(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="CASE_NUMBER", help="The case to export.")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    only_matches: Annotated[bool, typer.Option("--only-matches", help="Only files with a match.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of standard output.")] = None,
) -> None:
    """Export one record per file (path, digests, type, PDQ, status, matches)."""
    from himaya.reports.export import export_case

    app_ctx = _ctx(ctx)
    if out is None:
        export_case(app_ctx.store(), case_number, fmt, sys.stdout, only_matches)
        return
    # Write beside the target and rename at the end: a failed export never leaves a file that looks done.
    partial = out.with_name(out.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            count = export_case(app_ctx.store(), case_number, fmt, handle, only_matches)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    app_ctx.console.print(f"{count} records written to {out}")


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
