"""`himaya tips import` and `himaya tips summary`: reports, referrals and logs → who did what, from where.

See docs/formats.md ("Tips and IP events") for the formats read and the summary's JSON contract.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from himaya.cli.context import AppContext
from himaya.errors import UsageError

tips_app = typer.Typer(
    help="Import tips, referrals and logs (IP events) into a case; summarise them per IP, account and "
    "person, with the ISP found offline.",
    no_args_is_help=True,
)

FORMATS = ("auto", "cybertip-xml", "cybertip-json", "upload-csv", "upload-json", "access-log")


def _ctx(ctx: typer.Context) -> AppContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, AppContext):
        raise UsageError("run this as 'himaya tips ...' so that --home is known")
    return obj


@tips_app.command("import")
def tips_import(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="CASE_NUMBER")],
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Reports and logs to import.")],
    fmt: Annotated[
        str,
        typer.Option("--format", help=f"One of {', '.join(FORMATS)}; auto tells them apart by content."),
    ] = "auto",
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            help="For logs whose times carry no zone: the zone they were written in, as an IANA name "
            "(e.g. Asia/Amman); daylight-saving changes are applied. Never guessed.",
        ),
    ] = None,
    service: Annotated[
        str | None, typer.Option("--service", help="Access logs: the site or service they belong to.")
    ] = None,
) -> None:
    """Import CyberTipline-style reports (XML or JSON), referral and upload logs (CSV or JSON) and web
    access logs (combined log format) into a case. All or nothing: one malformed line refuses the whole
    import, naming the file and line, and exits 1. A file imported before into the case is skipped."""
    from himaya.attribution.importer import import_tips
    from himaya.online.service import operator

    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    app_ctx = _ctx(ctx)
    result = import_tips(
        app_ctx.store(),
        case_number,
        files,
        actor=operator(),
        fmt=fmt,
        default_zone=timezone,
        service=service,
    )
    if result.files:
        from himaya.reports.records import find_case
        from himaya.security import audit

        with app_ctx.store().transaction() as session:
            app_ctx.audit().record(
                session,
                actor=operator(),
                action=audit.TIPS_IMPORTED,
                case_id=find_case(session, case_number).id,
                detail={
                    "files": [path.name for path in files],
                    "reports": result.reports,
                    "events": result.events,
                },
            )
    app_ctx.console.print(
        f"imported {result.files} files ({result.files_skipped} imported before): {result.reports} reports, "
        f"{result.persons} persons, {result.events:,} IP events "
        f"(`himaya tips summary {case_number}`)",
        highlight=False,
    )


@tips_app.command("summary")
def tips_summary(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="CASE_NUMBER")],
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Who did what from where. json: {"reports": N, "persons": [{"identifiers", "accounts"}], "ips":
    [{"ip", "events", "uploads", "matched", "first_utc", "last_utc", "ports", "asn", "org", "country",
    "flags"}], "events": [{"ip", "port", "time_utc", "event", "account", "source"}]} — IPs in canonical
    form, times in UTC ISO-8601. The ISP comes from the .mmdb files of the setting online.mmdb."""
    from himaya.attribution.summary import activity_lines, summary
    from himaya.online.hosting import IpDatabase
    from himaya.online.service import load_settings
    from himaya.reports.records import find_case

    if fmt not in ("text", "json"):
        raise UsageError("--format must be text or json")
    app_ctx = _ctx(ctx)
    store = app_ctx.store()
    settings = load_settings(store)
    with ExitStack() as stack, store.session() as session:
        ipdb = stack.enter_context(IpDatabase(settings.mmdb_paths)) if settings.mmdb_paths else None
        record = summary(session, find_case(session, case_number).id, ipdb, settings.unit_country)
    if fmt == "json":
        typer.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    typer.echo(
        f"{record['reports']} reports, {len(record['persons'])} persons, {len(record['events'])} events"
    )
    for line in activity_lines(record):
        typer.echo(line)
    if ipdb is None:
        typer.echo("(no IP database: set online.mmdb to see who holds each address)")
